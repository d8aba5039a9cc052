"""``reproduce``: the study's analyses from its release, written to ``<out>/results/``."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from emostat import io
from emostat.analysis.claims.table import build_claims, make_design
from emostat.analysis.pipelines.choices import DEFAULT_N_PERM, first_draws, run_choices
from emostat.analysis.pipelines.rsasteps import rsa_run_tables
from emostat.analysis.pipelines.steps import (RESULTS, human_tables, link_tables, masking_tables,
                                    searchlight_tables, write_results)
from emostat.checks import child_seeds, log, package_versions
from emostat.constants import K_HEADLINE, K_VALUES
from emostat.errors import InputError


def _study_data(release: Path, out: Path, quiet: bool):
    """Load (importing once if needed) the release's human space, activations and accuracies."""
    from emostat.analysis.neurons.activations import load_activation_array
    from emostat.release.human import load_human

    release = Path(release)
    if (release / "Data").is_dir():           # raw release: import once into out/data
        data_dir = Path(out) / "data"
        needed = ["activations.parquet", "accuracy.parquet", "similarity.parquet",
                  "ratings.parquet", "appraisal_responses.parquet", "participants.parquet"]
        if not all((data_dir / n).exists() for n in needed):
            from emostat.release import import_release

            log(f"importing release {release} -> {data_dir}", quiet)
            import_release(release, data_dir, quiet=quiet)
        human = load_human(release)
    elif (release / "activations.parquet").exists():   # an import-release output
        data_dir = release
        human = load_human(release)
    else:
        raise InputError(f"{release}: neither the study's release (no Data/ folder) nor an "
                         "`emostat import-release` output (no activations.parquet)")
    A, concepts, templates, layer_sizes = load_activation_array(data_dir / "activations.parquet")
    accuracy = io.read_table(data_dir / "accuracy.parquet", dataset="accuracy")
    sources = {n: _digest(io.read_provenance(data_dir / n).get("files", {}))
               for n in ("activations.parquet", "accuracy.parquet")}
    return human, A, layer_sizes, accuracy, data_dir, sources


def _digest(files: dict) -> dict:
    """One SHA-256 over a {path: sha256} map (sorted), with the file count: short provenance."""
    import hashlib

    h = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(files.items())).encode())
    return {"n_files": len(files), "sha256_of_file_hashes": h.hexdigest()}


def reproduce(release, out, *, seed: int = 20241201, n_boot: int = 10_000,
              n_perm: int | None = None, quiet: bool = False,
              searchlight: dict | None = None, alpha: float | None = None,
              headline_k=None) -> dict[str, Path]:
    """Reproduce the study's analyses from its release and write ``out/results/*.parquet``
    (whole, :func:`write_results`).

    Prints an R-style summary of the headline results unless ``quiet``. ``searchlight``:
    options of :func:`searchlight_tables` (``mantel_top``, ``n_perm_mantel``,
    ``n_perm_count``, ``n_jobs``). ``alpha`` (default .05), ``headline_k`` (default the
    paper's 4000; one of its ks), ``n_perm`` and the searchlight's ``n_perm_count`` are
    checked before anything runs (:mod:`emostat.analysis.pipelines.choices`); a count above
    the default is a minimum.
    """
    from emostat.analysis.human.humanspace import attribute_importance, rating_icc
    from emostat.analysis.neurons.wholemodel import whole_model_rsa

    t0 = time.perf_counter()
    out = io.check_writable(out)                              # before any work
    given = {"alpha": alpha, "headline_k": headline_k, "n_perm": n_perm,
             "n_perm_count": (searchlight or {}).get("n_perm_count")}
    ch = run_choices(given, {"headline_k": K_HEADLINE}, list(K_VALUES),
                     config_where="reproduce", given_where="emostat reproduce")
    a, n_perm = ch["alpha"], first_draws(ch["n_perm"], DEFAULT_N_PERM)
    searchlight = {**(searchlight or {}), "n_perm_count": ch["n_perm_count"], "alpha": a,
                   "headline_k": ch["headline_k"]}
    human, A, layer_sizes, accuracy, data_dir, sources = _study_data(release, out, quiet)
    s = child_seeds(seed, 5)
    attr_rdms = human.attribute_rdms_for_study
    tables: dict[str, pd.DataFrame] = {}

    log("human emotion space ...", quiet)
    tables["attribute_importance"] = attribute_importance(
        human.subject_rdms, attr_rdms, n_boot=n_boot, n_perm=n_perm, seed=s[0], alpha=a)
    tables.update(human_tables(human))
    if getattr(human, "ratings", None) is not None:
        tables["rating_icc"] = rating_icc(human.ratings)

    log("neuron searchlight RSA ...", quiet)
    tables.update(searchlight_tables(A, layer_sizes, attr_rdms, K_VALUES, seed=s[3],
                                     **searchlight))

    log("masking statistics ...", quiet)
    importance = tables["attribute_importance"].set_index("attribute")["estimate"]
    tables.update(masking_tables(accuracy, importance, seed=s[1], n_perm=n_perm,
                                 ks=list(K_VALUES), quiet=quiet, alpha=a))
    tables.update(link_tables(accuracy, importance, seed=s[4], n_perm=n_perm,
                              ks=list(K_VALUES), pooled_null=True, alpha=a))

    log("whole-model RSA ...", quiet)
    tables["whole_model_rsa"] = whole_model_rsa(A, human.subject_rdms, n_boot=n_boot,
                                                n_perm=n_perm, seed=s[2], alpha=a)
    # the raters x concepts evaluation with the ceiling of each estimand (issue 23)
    tables.update(rsa_run_tables(A, human.subject_rdms, n_boot=n_boot, n_perm=n_perm,
                                 seed=s[2]))

    # the release declares its headline k (the paper reports k = 4000)
    design = make_design("reproduction", K_VALUES, headline_k=ch["headline_k"], alpha=a)
    tables["claims"] = build_claims(tables, design)
    prov = io.provenance(kind="reproduction", source=str(Path(release).resolve()),
                         data_dir=str(data_dir), source_files=sources, seed=seed,
                         n_boot=n_boot, n_perm=ch["n_perm"], n_perm_start=n_perm,
                         n_perm_count=ch["n_perm_count"], ks=list(K_VALUES),
                         claims_design=design,
                         model="roberta-base-prompt-tuned (study release)",
                         package_versions=package_versions())
    # agreement with the release's own rank and unimodality files (raw release only), written
    # with the tables so that the results folder appears whole
    from emostat.release.agreement import write_agreement

    paths = write_results(tables, out, prov, quiet=quiet,
                          extra=lambda folder: write_agreement(release, folder, prov=prov))
    if not quiet:
        from emostat.console import headline

        print(headline(tables["claims"]))
        print(f"\nresults: {out / RESULTS}  ({time.perf_counter() - t0:.0f} s)")
    return paths
