"""The geometry stage of ``emostat collect`` (config ``geometry = true``, docs/geometry.md).

After the inference, on the model already loaded: concept vectors per layer from the run's
concept space's stimuli, RSA and PCA against its attribute means and mean dissimilarities,
grouped probes, and (decoders) the steering grid; tables under ``<out>/geometry/`` (schemas
``geometry_*``, with the run's provenance), listed in the manifest like every other file.
``emostat analyse`` copies them into ``results/`` and builds their claims rows.

Resuming: the stage is skipped when every table is there with this stage's fingerprint (the
run's fingerprint and the geometry options).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from emostat import io
from emostat.analysis.geometry.claims import FOLDER, OPTIONAL_TABLES, STEERING_TABLES, TABLES

# what computes the geometry tables (their provenance says it): the model as loaded, torch's own
# fp32 kernels, whatever the inference used (emostat.collect.fastcpu.prepare never changes the
# loaded model), with the run's torch threads
KERNEL_NOTE = "torch (the model as loaded; inference kernels not applied)"


def geometry_options(cfg):
    """The :class:`GeometryOptions` of a run's config."""
    from emostat.collect.geometry_run import GeometryOptions

    return GeometryOptions(n_perm=cfg.geometry_perm, n_perm_probe=cfg.geometry_probe_perm,
                           probe_layers=cfg.geometry_probe_layers,
                           logistic_layers=min(3, cfg.geometry_probe_layers or 3),
                           n_random=cfg.geometry_random, n_isotropic=cfg.geometry_isotropic,
                           n_items=cfg.geometry_items)


def stage_fingerprint(cfg, run_fingerprint: str) -> str:
    """The run's fingerprint and the geometry fields of its config, hashed."""
    from emostat.collect.config import GEOMETRY_FIELDS

    d = {"run": run_fingerprint, **{k: getattr(cfg, k) for k in GEOMETRY_FIELDS}}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def stage_done(folder: Path, fingerprint: str, decoder: bool) -> bool:
    names = TABLES + OPTIONAL_TABLES + (STEERING_TABLES if decoder else ())
    for name in names:
        path = folder / f"{name}.parquet"
        if not path.exists() or io.read_provenance(path).get("geometry_fingerprint") != \
                fingerprint:
            return False
    return True


def geometry_stimuli(space, per_concept: int | None):
    """The space's stimuli as ``id, concept, text`` (+ ``source``), ``per_concept`` of each
    concept at most (the first ones in file order: fixed before any data are seen)."""
    st = space.stimuli.copy()
    if per_concept is not None:
        st = st.groupby("concept", sort=False).head(per_concept).reset_index(drop=True)
    return st


def stage_needed(cfg, out, lm, space, run_fingerprint: str, quiet: bool = False) -> bool:
    """Whether the geometry stage has work to do (said why not, when it is off, impossible or
    done already)."""
    if not cfg.geometry:
        return False
    if space.stimuli is None or not len(space.stimuli):
        print(f"emostat: geometry skipped: space {space.name!r} has no stimuli",
              file=sys.stderr, flush=True)
        return False
    if getattr(lm, "model", None) is None:
        print("emostat: geometry skipped: the loaded model has no torch module to hook",
              file=sys.stderr, flush=True)
        return False
    decoder = getattr(lm, "kind", None) == "causal"
    if stage_done(Path(out) / FOLDER, stage_fingerprint(cfg, run_fingerprint), decoder):
        if not quiet:
            print("geometry: done already", flush=True)
        return False
    return True


def run_geometry_stage(cfg, out, lm, space, run_prov: dict, run_fingerprint: str,
                       quiet: bool = False) -> dict | None:
    """Run the geometry of a collection (``cfg.geometry``) into ``out/geometry``; returns its
    timing (seconds per step) or None when off, already done or not possible (said why)."""
    if not stage_needed(cfg, out, lm, space, run_fingerprint, quiet):
        return None
    from emostat.collect.geometry_run import run_geometry

    folder = Path(out) / FOLDER
    fp = stage_fingerprint(cfg, run_fingerprint)
    decoder = getattr(lm, "kind", None) == "causal"
    t0 = time.perf_counter()
    if not quiet:
        print("geometry: concept vectors, RSA, PCA, probes"
              + (", steering" if decoder else "") + " ...", flush=True)
    sim = space.mean_rdm()
    from threadpoolctl import threadpool_limits

    # numpy / scikit-learn BLAS kept to the run's threads, as torch is (one quick run without
    # this limit, on a loaded 2-core machine, spent 329 s in the probes)
    with threadpool_limits(limits=cfg.threads):
        summary = run_geometry(out, stimuli=geometry_stimuli(space, cfg.geometry_per_concept),
                               means=space.means.loc[list(space.concepts)], similarity=sim,
                               words=dict(space.words), options=geometry_options(cfg),
                               seed=cfg.seed, quiet=True, lm=lm, tables_dir=folder,
                               prov_extra={**run_prov, "stage": "geometry",
                                           "geometry_fingerprint": fp,
                                           "kernel": KERNEL_NOTE, "threads": cfg.threads},
                               record_root=out)
    timing = summary["timing_s"]
    if not quiet:
        print(f"geometry: {time.perf_counter() - t0:.0f} s ("
              + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items() if k != "total") + ")",
              flush=True)
    return timing



def geometry_phase(cfg, out, lm, space, run_prov: dict, run_fingerprint: str,
                   quiet: bool = False, job=None) -> dict[str, float]:
    """:func:`run_geometry_stage` as the collection's phase times (``{"geometry": s}`` or {}).
    ``job``: a function that runs the stage elsewhere (a Slurm job) and returns these times."""
    if job is not None:
        return job() if stage_needed(cfg, out, lm, space, run_fingerprint, quiet) else {}
    timing = run_geometry_stage(cfg, out, lm, space, run_prov, run_fingerprint, quiet)
    return {} if not timing else {"geometry": float(timing["total"])}
