"""``emostat collect``: concept activations, condition sets, inference under ablation → Parquet.

The concepts, their words, the concept and task templates, the stimuli and the attributes
come from the run's concept space (config ``space``, ``--space``; default the study's 27
emotions x 14 attributes; :func:`emostat.space.load_space`). Stages, each resumable (see
:mod:`emostat.collect.shards`):

a. **activations** — for every concept template, the FFN neuron vector of each of the space's
   concepts → ``<out>/activations/part-t###.parquet`` (schema ``activations``: one row per
   concept × template × layer, float32 values, zstd). With ``representation = "prompt_tuning"``
   the templates are prompt-tuning seeds (``seed<s>``) and the binary task is scored with the
   trained soft prompts: :mod:`emostat.collect.prompt_mode`.
b. **conditions** — searchlight RSA of those activations against the space's attribute RDMs,
   attribute top-k sets and seeded random sets → ``<out>/conditions.parquet``
   (one row per condition, with its neuron list) and ``<out>/neuron_means.parquet`` (the mean of
   each neuron over the concept prompts, used by mean ablation). With the local backend,
   ``analyse``'s searchlight tables then start computing in a low-priority background process,
   joined after the geometry stage (:mod:`emostat.collect.slprecompute`).
c. **inference** — every task item under every condition → ``<out>/inference/part-*.parquet``
   (schema ``inference``: one row per item × condition × task), in three steps:

   1. the unmanipulated condition ("none") first → ``<out>/baseline/part-<task>-i####-none``
      (raw scores; raw decisions only as ``prediction_raw``/``correct_raw``/``margin_raw``);
   2. calibration offsets from those rows only → ``<out>/calibration.parquet``
      (:mod:`emostat.collect.calibration`: per task, emotion and calibration fold, cross-fitted:
      an item's offsets are fitted on the items of the other folds; contextual calibration
      after Zhao et al. 2021);
   3. every other condition, decided with the SAME offsets, and the "none" rows re-decided with
      them (no forward pass: from the baseline files) → ``<out>/inference/``.

   ``logprobs`` keeps the raw scores; ``prediction``/``correct`` are the calibrated decisions
   (raw ones when ``calibrate = false``), ``prediction_raw``/``correct_raw`` the raw ones;
   ``margin``/``margin_raw`` the continuous outcome (right answer's score minus the best other,
   calibrated / raw) and ``cal_fold`` the item's calibration fold.
d. **accuracy** — ``<out>/accuracy.parquet`` (schema ``accuracy``), the prompt-level table the
   masking statistics read. A "prompt" here is (task, fold): the items of each emotion's task are
   cut into ``n_folds`` fixed folds (``template`` = ``"<task>/fold<f>"``); binary-task accuracy
   is over the emotion's balanced yes/no set, choice/generate accuracy is the recall of the
   emotion's own items. Shared random draws (``attribute`` null in the inference table) appear
   once per attribute here, so every attribute row has its paired random rows.
e. **manifest** — ``<out>/manifest.json``: model identity and weight hash, dtype, site, templates,
   seeds, config, the space's provenance (name, digest, sizes, path), package versions, time; the same record is embedded in every Parquet file.
   Its ``files`` entry gives the rows and SHA-256 of every Parquet file of the run; ``analyse``
   checks the folder against it (:mod:`emostat.integrity`).

A run's identity is its fingerprint, kept in ``<out>/plan.json``: the config with the model path
replaced by the SHA-256 of its weights and a given space by its digest
(:func:`emostat.collect.manifest.run_fingerprint`). Nothing is written to ``out`` until the
space, the stimuli and the items have been validated and the model has loaded and passed its
checks. Module layout (a DAG): ``items`` <- ``stages`` <- ``manifest`` <- ``worker`` <-
``backends``/``ray_backend``/``slurm_backend`` <- ``driver``. Rerunning with the same config
and weights resumes (or does nothing when finished); another config in the same folder is an
error. While it writes, the process holds the folder's lock (:mod:`emostat.lock`); a rerun
first checks every file against its record and recomputes those that differ (:func:`distrust`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from emostat import io
from emostat.checks import log
from emostat.collect import shards as sh
from emostat.collect.backends import make_backend
from emostat.collect.config import CollectConfig, load_config, run_space
from emostat.collect.cost import cost_record
from emostat.collect.items import (build_items, concept_prompt_table, run_attributes,
                                   template_names)
from emostat.collect.geometry_stage import geometry_phase
from emostat.collect.precision import auto_dtype, check as check_precision, recorded
from emostat.collect.slprecompute import Background
from emostat.collect.manifest import (calibration_record, check_plan, concept_template_record,
                                      manifest_done, phase_record, run_fingerprint, run_timing,
                                      task_prompt_record, write_manifest)
from emostat.collect.stages import (accuracy_table, calibrate_run, finish_baseline,
                                    make_conditions, plan_baseline, plan_inference,
                                    read_run_prov)
from emostat.collect.worker import PreloadedAPI, check_model_for_tasks, default_api, head_users
from emostat.errors import InputError
from emostat.plan.stages import check_collection, manifest_record, open_plan
from emostat.lock import RunLock


def build_config(config=None, *, model=None, device=None, dtype=None, quick: bool = False,
                 backend=None, seed=None, activations_only: bool = False,
                 space=None, items_per_concept=None) -> CollectConfig:
    """The run's config: command line > file > profile, always. An argument left at None is
    not given; any other value wins over the file, even one equal to a default.
    ``items_per_concept`` is the config field ``items_per_emotion`` (``--items-per-concept``)."""
    over = {"model": model, "device": device, "dtype": dtype, "backend": backend, "seed": seed,
            "space": None if space is None else str(space),
            "tasks": [] if activations_only else None, "items_per_emotion": items_per_concept}
    return load_config(config, quick=quick, **over)


def tasks_for_space(cfg: CollectConfig, space) -> CollectConfig:
    """A space without situations (no stimuli.csv, and the config names no stimuli file and no
    GoEmotions rows) has nothing to infer: its run is activations only (searchlight, RSA),
    said in one line on stderr."""
    if not cfg.tasks or cfg.stimuli != "shipped" or cfg.goemotions or (
            space.stimuli is not None and len(space.stimuli)):
        return cfg
    print(f"emostat: space {space.name!r} has no stimuli.csv: no inference tasks (activations "
          "only); give a situations file with the config field 'stimuli' for the tasks",
          file=sys.stderr, flush=True)
    return replace(cfg, tasks=[])


def load_checked(cfg: CollectConfig, api, quiet: bool):
    """Load the model and run every check before anything is written (raises InputError)."""
    space = run_space(cfg)
    # with Slurm this process runs on a login node: the model is checked on its CPU, the jobs
    # load it on the config's device
    device = "cpu" if cfg.backend == "slurm" else cfg.device
    lm = api.load_model(cfg.model, device=device, dtype=cfg.dtype, threads=cfg.threads,
                        tasks=head_users(cfg), quiet=quiet,
                        words=[space.words[c] for c in space.concepts])
    check_model_for_tasks(cfg, lm)
    if cfg.position == "mask" and getattr(getattr(lm, "tokenizer", None), "mask_token",
                                          "") is None:
        raise InputError("config field 'position': 'mask' needs a model whose tokenizer has a "
                         "mask token (an MLM encoder)")
    return lm


def collect(config=None, out="out", model=None, device=None, dtype=None,
            quick: bool = False, backend=None, address=None, seed=None,
            quiet: bool = False, activations_only: bool = False, *, space=None, api=None,
            sapi=None, human=None, items_per_concept=None, plan=None, deviations=None,
            analysis=None) -> dict[str, Path]:
    """Run (or resume) a collection into ``out``; see the module docstring for the stages.

    Parameters
    ----------
    config : path, optional
        TOML config (:mod:`emostat.collect.config`); the arguments below override it when
        given (not None), even with a value equal to a default.
    out : path
        Run folder. Rerunning into it resumes; a finished run is left untouched.
    model, device, dtype, quick, backend, seed
        As the config fields (``quick`` picks the quick profile).
    address : str, optional
        Ray cluster address (``--backend ray``); none starts a local Ray instance.
    quiet : bool
        No progress bars or messages (third-party ones included).
    activations_only : bool
        Switch the tasks off (config ``tasks = []``): concept activations only, e.g. for an
        encoder checkpoint without a trained MLM head. Said on stderr and in the manifest.
    space : path or str, optional
        The concept space (config field ``space``): a folder or a shipped name.
    items_per_concept : int, optional
        Stimuli per concept (config field ``items_per_emotion``; ``--items-per-concept``).
    api, sapi, human
        Replacements for the model functions, stimuli functions and human space (tests).
    plan, deviations
        A plan file (:mod:`emostat.plan`) and the declared deviations (``"field: reason"``
        strings): a setting that contradicts the plan and is not declared is refused before
        anything is written; the plan and its deviations go into the manifest.
    analysis : dict, optional
        The choices the run's ``analyse`` will be given (``seed``, ``alpha``, ``headline_k``;
        default its defaults): the searchlight tables it needs are computed for them in the
        background once the activations are complete (local backend;
        :mod:`emostat.collect.slprecompute`).

    Returns
    -------
    dict name -> Path
        ``activations``, ``conditions``, ``inference`` (folders/files), ``accuracy``,
        ``manifest``.
    """
    t0 = time.perf_counter()
    out = io.check_writable(out, "run folder")
    cfg = build_config(config, model=model, device=device, dtype=dtype, quick=quick,
                       backend=backend, seed=seed, activations_only=activations_only,
                       space=space, items_per_concept=items_per_concept)
    paths = {"activations": out / "activations", "conditions": out / "conditions.parquet",
             "inference": out / "inference", "accuracy": out / "accuracy.parquet",
             "manifest": out / "manifest.json"}
    # the space, the items and the concept prompts are built (every stimulus validated) and
    # the model is loaded and checked before anything is written to `out`
    plan, deviations = open_plan(plan, deviations)
    cfg = tasks_for_space(cfg, run_space(cfg))
    space = run_space(cfg)
    found = check_collection(plan, deviations, config=cfg.to_dict(), space=space.provenance())
    prompts = concept_prompt_table(cfg, sapi)
    items = build_items(cfg, sapi) if cfg.tasks else {}
    # dtype "auto": the run's identity keeps "auto"; it computes in what auto_dtype tries
    # and the check keeps (plan.json records the choice before the first row)
    why = None
    if cfg.dtype == "auto":
        dtype, why = auto_dtype(cfg, out)
        cfg = replace(cfg, dtype=dtype, dtype_auto=True)
    lm = load_checked(cfg, api or default_api(), quiet)
    model_ident = dict(getattr(lm, "identity", {}) or {})
    found += check_collection(plan, deviations, config={}, model=model_ident)
    planned = {"preregistration": manifest_record(plan, found)}
    fingerprint = run_fingerprint(cfg, model_ident)
    # a reduced-precision run decides like float32 on its own items, or is refused here
    precision = (recorded(out, fingerprint, cfg)
                 or check_precision(cfg, lm, api or default_api(), items, quiet, auto=why))
    if precision.get("chosen", cfg.dtype) != cfg.dtype:     # auto: bfloat16 failed its check
        cfg = replace(cfg, dtype=precision["chosen"])
        lm = load_checked(cfg, api or default_api(), quiet)
    if not cfg.tasks:
        print("emostat: tasks are off (activations only): no inference; `analyse` gives the "
              "searchlight and RSA tables", file=sys.stderr, flush=True)
    with RunLock(out, "emostat collect"), Background(cfg, out, analysis=analysis,
                                                     quiet=quiet) as bg:
        return _collect_locked(cfg, out, paths, prompts, items, lm, space, fingerprint, t0,
                               address=address, api=api, sapi=sapi, human=human, quiet=quiet,
                               planned=planned, precision=precision, bg=bg)


def _collect_locked(cfg, out, paths, prompts, items, lm, space, fingerprint, t0, *, address,
                    api, sapi, human, quiet, planned=None, precision=None,
                    bg=None) -> dict[str, Path]:
    """The stages of :func:`collect`, run while this process holds the folder's lock;
    ``bg`` (:class:`~emostat.collect.slprecompute.Background`) is started once the
    activations and conditions are complete and joined after the geometry stage."""
    bg = bg or Background(cfg, out, quiet=True)
    model_ident = dict(getattr(lm, "identity", {}) or {})
    check_plan(cfg, out, fingerprint, model_ident.get("weight_sha256"))
    sh.clean_stale_tmp(out)
    distrust(out, quiet)
    if manifest_done(fingerprint, out):
        from emostat.integrity import problems

        found = problems(out, json.loads((out / "manifest.json").read_text()))
        if not found:
            log(f"{out}: run already complete; nothing to do", quiet)
            return paths
        log(f"{out}: the run no longer matches its manifest ({'; '.join(found)}); "
            f"redoing what is missing", quiet)
        (out / "manifest.json").unlink()
    if cfg.backend == "local":
        api = PreloadedAPI(api or default_api(), lm)
    engine = None
    phase: dict[str, float] = {}                  # seconds per phase (printed, in the manifest)
    try:
        # a. concept activations
        tuned = cfg.representation == "prompt_tuning"
        if tuned:
            from emostat.collect import prompt_mode
        act = sh.activation_shards(prompt_mode.template_names(cfg) if tuned
                                   else template_names(prompts))
        sh.check_no_strays(act, out, "activations")
        todo = sh.pending(act, out)
        if todo:
            engine = make_backend(cfg, out, address=address, api=api, sapi=sapi, quiet=quiet)
            log(f"activations: {len(todo)} of {len(act)} shards to run", quiet)
            engine.run(todo, desc="activations")
        if not cfg.tasks:
            bg.start()
            return finish_activations_only(cfg, out, paths, prompts, act, t0, quiet,
                                           geometry=(lm, space, fingerprint),
                                           planned=planned, precision=precision, bg=bg)
        # b. searchlight and condition sets
        tc = time.perf_counter()
        conds = make_conditions(cfg, out, human=human)
        phase["conditions"] = time.perf_counter() - tc
        log(f"conditions: {len(conds)} ({conds.mode} ablation), "
            f"{phase['conditions']:.1f} s", quiet)
        bg.start()                  # analyse's searchlight, overlapping the inference
        # c1. the unmanipulated condition first
        base = plan_baseline(cfg, items)
        sh.check_no_strays(base, out, "baseline")
        todo = sh.pending(base, out)
        if todo:
            if engine is None:
                engine = make_backend(cfg, out, address=address, api=api, sapi=sapi,
                                      quiet=quiet)
            log(f"baseline (condition none): {len(todo)} of {len(base)} shards to run", quiet)
            engine.run(todo, desc="baseline")
        # c2. calibration offsets from condition none only
        tc = time.perf_counter()
        cal = calibrate_run(cfg, out)
        # c3. the other conditions, decided with the same offsets; none rows re-decided
        inf = plan_inference(cfg, items, conds)
        none_inf = [sh.Shard("inference", s.id, task=s.task, items=s.items,
                             conditions=s.conditions) for s in base]
        sh.check_no_strays(inf + none_inf, out, "inference")
        finish_baseline(cfg, out, base, cal)
        phase["calibration"] = time.perf_counter() - tc
        todo = sh.pending(inf, out)
        if todo:
            if engine is None:
                engine = make_backend(cfg, out, address=address, api=api, sapi=sapi,
                                      quiet=quiet)
            n_rows = sum(s.n_units for s in todo)
            log(f"inference: {len(todo)} of {len(inf)} shards ({n_rows} item x condition "
                f"rows) to run", quiet)
            engine.run(todo, desc="inference")
    finally:
        if engine is not None:
            phase.update(getattr(engine, "times", {}))
            engine.close()
    # d. accuracy table
    tc = time.perf_counter()
    prov = read_run_prov(out)
    inference = sh.read_dataset(out, "inference").to_pandas()
    acc = accuracy_table(inference, run_attributes(cfg, space))
    from emostat.schemas import validate

    validate(pa.Table.from_pandas(acc, preserve_index=False), "accuracy", where="accuracy table")
    io.write_table(acc, paths["accuracy"], prov=io.provenance(**prov, stage="accuracy"),
                   dataset="accuracy", record_root=out)
    # d2. the layer-wise geometry on the space's stimuli (config geometry; docs/geometry.md)
    if cfg.backend == "slurm":                    # one job, the model loaded on a node
        geo = geometry_phase(cfg, out, lm, space, prov, fingerprint, quiet,
                             job=lambda: make_backend(cfg, out, api=api, sapi=sapi,
                                                      quiet=quiet).geometry(prov, fingerprint))
    else:
        geo = geometry_phase(cfg, out, lm, space, prov, fingerprint, quiet)
    phase.update(geo)
    tc += geo.get("geometry", 0.0)                 # the accuracy phase ends before it
    tw = time.perf_counter()
    if bg.join() is not None:                      # the background searchlight's end
        phase["searchlight_wait"] = time.perf_counter() - tw
        tc += phase["searchlight_wait"]
    # e. manifest
    n_items = {t: len(df) for t, df in items.items()}
    manifest = io.provenance(**prov, complete=True, out=str(out.resolve()),
                             **run_timing(out, planned or {}),
                             templates=(prompt_mode.template_record(cfg) if tuned
                                        else concept_template_record(prompts)),
                             representation=cfg.representation, precision=precision,
                             n_items=n_items, n_conditions=len(conds),
                             n_shards={"activations": len(act), "baseline": len(base),
                                       "inference": len(inf) + len(none_inf)},
                             calibration=calibration_record(cfg),
                             task_prompts=task_prompt_record(cfg),
                             cost=cost_record(cfg, lm, space, items),
                             n_rows={"inference": len(inference), "accuracy": len(acc)},
                             backend=cfg.backend, seconds=round(time.perf_counter() - t0, 1),
                             phase_seconds=phase_record(phase, tc))
    write_manifest(out, manifest)
    log("phase times: " + ", ".join(f"{k} {v:.0f} s" for k, v in manifest["phase_seconds"]
                                    .items()), quiet)
    log(f"collection done in {time.perf_counter() - t0:.0f} s: {out}", quiet)
    return paths


def distrust(out: Path, quiet: bool) -> list[Path]:
    """Remove every file of the run that does not match its record (a byte flipped, a file
    truncated or replaced, a file without a record), each named in one line on stderr: it is
    recomputed like a missing one. Recomputing rather than refusing: a shard is a cache entry
    of a deterministic computation, so recomputing it gives the rows the run planned, and a
    user is not asked to find and delete files by hand. Returns the files removed."""
    from emostat.integrity import untrusted_files

    path = out / "manifest.json"
    try:
        manifest = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        manifest = None
    bad = untrusted_files(out, manifest)
    for i, (p, why) in enumerate(bad):
        if i < 10:
            print(f"emostat: {p}: {why}; removed, it will be recomputed", file=sys.stderr,
                  flush=True)
        elif i == 10:
            print(f"emostat: {out}: {len(bad) - 10} more files without a matching record; "
                  f"removed, they will be recomputed", file=sys.stderr, flush=True)
        p.unlink(missing_ok=True)
        io.record_path(out, p).unlink(missing_ok=True)
    if bad and path.is_file():
        path.unlink()                             # the run is not complete any more
    return [p for p, _ in bad]


def finish_activations_only(cfg, out, paths, prompts, act, t0, quiet,
                            geometry=None, planned=None, precision=None,
                            bg=None) -> dict[str, Path]:
    """Manifest of a run without tasks: concept activations (searchlight and RSA) and, with
    ``geometry = (lm, space, fingerprint)``, the geometry stage (RSA, PCA and probes from the
    stimuli's hidden states; steering only for a decoder)."""
    tuned = cfg.representation == "prompt_tuning"
    if tuned:
        from emostat.collect import prompt_mode
    prov = read_run_prov(out)
    phase = geometry_phase(cfg, out, *geometry[:2], prov, geometry[2], quiet) if geometry \
        else {}
    if bg is not None:
        bg.join()
    manifest = io.provenance(**prov, complete=True, out=str(out.resolve()),
                             **run_timing(out, planned or {}),
                             templates=(prompt_mode.template_record(cfg) if tuned
                                        else concept_template_record(prompts)),
                             representation=cfg.representation, tasks=[],
                             precision=precision,
                             activations_only=True, n_shards={"activations": len(act)},
                             backend=cfg.backend, seconds=round(time.perf_counter() - t0, 1),
                             **({"phase_seconds": {k: round(v, 1) for k, v in phase.items()}}
                                if phase else {}))
    write_manifest(out, manifest)
    log(f"collection (activations only) done in {time.perf_counter() - t0:.0f} s: {out}",
        quiet)
    return {k: paths[k] for k in ("activations", "manifest")}

