"""``analyse_run``: the analysis of an ``emostat collect`` run, written to ``<out>/results/``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io
from emostat.analysis.claims.table import build_claims, make_design
from emostat.analysis.geometry.refine import decided_geometry_tables
from emostat.analysis.pipelines.rsasteps import rsa_run_tables, space_raters
from emostat.analysis.pipelines.runspace import importance_tables, run_space, untested_claims
from emostat.analysis.neurons.selection import mask_selection
from emostat.analysis.pipelines.choices import (ANALYSIS_SEED, analysis_choices, run_ks,
                                                searchlight_seed)
from emostat.analysis.pipelines.steps import (RESULTS, design_tables, human_tables, link_tables,
                                              masking_tables, write_results)
from emostat.checks import child_seeds, log, package_versions
from emostat.errors import InputError
from emostat.integrity import check_run
from emostat.plan.stages import check_analysis, open_plan, plan_tables
from emostat.plan.text import plan_line


def _by_task(fn, per_task: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Run ``fn(task, accuracy)`` per task and stack the results with a leading task column."""
    parts = []
    for task, acc in per_task.items():
        df = fn(task, acc)
        if df is not None and len(df):
            parts.append(df.drop(columns="task", errors="ignore").assign(task=task))
    if not parts:
        return pd.DataFrame()
    df = pd.concat(parts, ignore_index=True)
    return df[["task"] + [c for c in df.columns if c != "task"]]


def check_out_dir(out: Path, run_dir: Path) -> None:
    """Refuse an ``--out`` folder whose ``results/`` holds the analysis of another run.

    Re-analysing the same run into the same folder replaces its tables (the run is identified
    by the resolved ``run_dir`` recorded in ``results/provenance.json``); a folder with results
    of another run, or results without provenance, is an error naming both.
    """
    res = Path(out) / RESULTS
    if not res.is_dir() or not any(res.iterdir()):
        return
    prov_path = res / "provenance.json"
    try:
        prov = json.loads(prov_path.read_text())
    except (OSError, ValueError):
        raise InputError(f"{res}: holds results without a readable provenance.json; choose an "
                         "empty --out folder") from None
    theirs = prov.get("run_dir") or prov.get("source")
    if theirs != str(Path(run_dir).resolve()):
        raise InputError(f"{res}: holds the results of {theirs!r}, not of {str(run_dir)!r}; "
                         "choose another --out folder (nothing was written)")


def analyse_run(run_dir, *, out=None, seed: int = ANALYSIS_SEED, n_boot: int = 2_000,
                n_perm: int | None = None, quiet: bool = False,
                searchlight: dict | None = None, alpha: float | None = None,
                headline_k=None, plan=None, deviations=None) -> dict[str, Path]:
    """Analyse an ``emostat collect`` run and write ``<out>/results/*.parquet``.

    ``out`` defaults to ``run_dir`` (tables in ``run_dir/results``, replaced whole). Another
    folder keeps earlier analyses: it is created, and refused when its ``results/`` holds another
    run's analysis (:func:`check_out_dir`). ``searchlight``: options of
    :func:`searchlight_tables`. The results appear whole or not at all (:func:`write_results`).

    ``alpha``, ``headline_k`` (a count, or a fraction of the neurons), ``n_perm`` and
    ``searchlight["n_perm_count"]``: None takes the run's config (its manifest), else the
    defaults (:mod:`emostat.analysis.pipelines.choices`); all are checked before any
    statistic runs. A permutation count above the default is a minimum
    (:func:`~emostat.analysis.pipelines.choices.first_draws`).

    The human side is the run's concept space (default the study's, ``data/spaces/study/``):
    attribute importance has Mantel p-values; the whole-model RSA (``rsa_evaluation``) is
    tested over raters and concepts when the space's ``similarity.csv`` has a ``participant``
    column (two or more complete raters), else over the concept labels of the mean RDM.
    Masking tables gain a ``task`` key (binary, choice, generate). ``n_boot``: resamples of
    the whole-model RSA (at most :data:`~emostat.analysis.pipelines.rsasteps.RSA_BOOT` for
    ``rsa_evaluation``), recorded.

    ``plan`` (a plan file, :mod:`emostat.plan`) and ``deviations`` (``"field: reason"``): the
    analysis' settings, and the run's collection where it was not collected under that plan,
    are checked against the plan before anything is written (an undeclared difference is an
    InputError); the provenance field ``plan`` and the tables ``plan_deviations`` and
    ``plan_claims`` record it. Without a plan the provenance says ``plan: null``.
    """
    from emostat.analysis.masking import experiment as ex
    from emostat.analysis.neurons.activations import load_activation_array
    from emostat.analysis.human.humanspace import load_shipped_human
    from emostat.analysis.neurons.wholemodel import whole_model_rsa

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    plan = open_plan(plan, deviations)
    io.check_writable(run_dir if out is None else out)        # before any work
    manifest = check_run(run_dir)      # every planned file present, unchanged (emostat.integrity)
    out = run_dir if out is None else Path(out)
    given = {"alpha": alpha, "headline_k": headline_k, "n_perm": n_perm,
             "n_perm_count": (searchlight or {}).get("n_perm_count"), "n_boot": n_boot,
             "seed": seed}
    if manifest.get("activations_only"):
        return _analyse_activations_only(run_dir, manifest, out=out, seed=seed, given=given,
                                         quiet=quiet, searchlight=searchlight, plan=plan)
    if not (run_dir / "accuracy.parquet").exists():
        raise InputError(f"{run_dir}: not a finished `emostat collect` run "
                         "(no accuracy.parquet); run or resume `emostat collect` first")
    accuracy = io.read_table(run_dir / "accuracy.parquet", dataset="accuracy")
    ks = sorted(set(accuracy["k"].dropna().astype(int)))
    ch = _choices(run_dir, manifest, given, ks, searchlight)
    planned = _planned(plan, ch, given, manifest, ks, searchlight)
    check_out_dir(out, run_dir)
    space = run_space(manifest)
    human = load_shipped_human(space)
    attr_rdms = human.attribute_rdms
    s = child_seeds(seed, 5)
    a, n_perm = ch["alpha"], ch["draws"]
    tables: dict[str, pd.DataFrame] = {}

    log(f"human space {space.name!r} ({space.n_concepts} concepts x {space.n_attributes} "
        "attributes) ...", quiet)
    tables.update(importance_tables(human, space, n_perm=n_perm, seed=s[0], quiet=quiet))
    tables.update(human_tables(human))

    A, concepts, templates, layer_sizes = load_activation_array(run_dir / "activations",
                                                                concepts=space.concepts)
    sl_cache = _searchlight(tables, run_dir, A, layer_sizes, attr_rdms, ks, seed=seed,
                            options=ch["searchlight"], quiet=quiet)
    if (run_dir / "conditions.parquet").exists():
        sel = mask_selection(io.read_table(run_dir / "conditions.parquet"), tables["neuron_rsa"])
        tables["mask_selection"] = sel
        if not sel["identical"].all():
            log(f"warning: {int((~sel['identical']).sum())} of {len(sel)} collected attribute "
                "masks differ from this analysis's top-k neurons (table mask_selection)", False)

    log("masking statistics ...", quiet)
    inference = io.read_table(run_dir / "inference", dataset="inference")
    tables["baseline_accuracy"] = ex.baseline_accuracy(inference)
    tables["task_chance"] = ex.task_chance(inference, alpha=a)
    answers = set(tables["task_chance"].loc[tables["task_chance"]["interpretable"], "task"])
    for _, row in tables["task_chance"].iterrows():
        if not row["interpretable"]:
            log("  " + ex.chance_statement(row), quiet)
    # tasks at chance are left out of the causal tests (said in task_chance and the summary)
    per_task = {t: a for t, a in ex.split_tasks(accuracy).items() if t in answers}
    importance = (tables["attribute_importance"].set_index("attribute")["estimate"]
                  if "attribute_importance" in tables else None)
    n_items = inference[inference["condition"] == "none"].groupby("task")["item_id"].nunique()
    masked = {t: masking_tables(acc, importance, seed=s[1], n_perm=n_perm, quiet=quiet,
                                n_items=int(n_items.get(t, 0)) or None, alpha=a)
              for t, acc in per_task.items()}
    for name in (next(iter(masked.values())) if masked else []):
        tables[name] = _by_task(lambda t, _a, n=name: masked[t][n], per_task)
    linked = {t: link_tables(acc, importance, seed=s[4], n_perm=n_perm, alpha=a)
              for t, acc in per_task.items()} if importance is not None else {}
    for name in (next(iter(linked.values())) if linked else []):
        tables[name] = _by_task(lambda t, _a, n=name: linked[t][n], per_task)
    if per_task:
        tables["random_null"] = _by_task(lambda t, acc: ex.random_null(acc, t), per_task)
        # knowledge or answer bias: per-condition calibration, answer shares, the study's t
        # against the shared random pool, the knowledge GLMM (emostat.analysis.masking.bias),
        # in a second process while this one fits the item-level models (a large run only)
        from emostat.analysis.masking.bias import bias_tables
        from emostat.analysis.pipelines.beside import Beside, worth_a_process

        beside = Beside(bias_tables, inference, space.concepts, tasks=answers, n_perm=n_perm,
                        seed=child_seeds(seed, 6)[5], parallel=worth_a_process(len(inference)))
        log("  item-level models ...", quiet)
        with beside:
            items = ex.item_models(inference[inference["task"].isin(answers)],
                                   diagnostics=True)
            bias = beside.result()
        for name, part in zip(("masking_mixed_model", "masking_mixed_glance",
                               "mixed_model_qq"), items):
            if len(part):
                tables[name] = pd.concat([tables.get(name), part], ignore_index=True)
        tables["masking_mixed_model"] = _one_record(tables.get("masking_mixed_model"))
        dtab = design_tables(tables, inference, space, manifest, alpha=a, ks=ks,
                             n_perm=n_perm)
        if dtab is not None:
            tables["design"] = dtab
        qq = bias.pop("mixed_model_qq", None)
        tables.update(bias)
        if qq is not None and len(qq):
            tables["mixed_model_qq"] = pd.concat([tables.get("mixed_model_qq"), qq],
                                                 ignore_index=True)
    if (inference["task"] == "generate").any():
        from emostat.space import load_space

        stim = space.stimuli if space.stimuli is not None else load_space("study").stimuli
        tables["generation_examples"] = ex.generation_examples(inference, stim)

    raters = space_raters(space, human.mean_rdm)
    if raters is not None:
        log(f"whole-model RSA ({len(raters)} rater RDM{'s' if len(raters) > 1 else ''}) ...",
            quiet)
        tables["whole_model_rsa"] = whole_model_rsa(A, raters, n_boot=n_boot * (len(raters) > 1),
                                                    n_perm=n_perm, seed=s[2], alpha=a)
        tables.update(rsa_run_tables(A, raters, n_boot=n_boot, n_perm=n_perm, seed=s[2]))

    tables.update(decided_geometry_tables(run_dir, space, a, quiet))   # the geometry stage's
    design = make_design("experiment", ks, headline_k=ch["headline_k"], alpha=a,
                         tasks=list(tables["task_chance"]["task"]),
                         untested=untested_claims(space))
    tables["claims"] = build_claims(tables, design)
    tables.update(plan_tables(planned, plan[0], tables["claims"]))
    prov = io.provenance(kind="experiment", run_dir=str(run_dir.resolve()), seed=seed,
                         n_boot=n_boot, n_perm=ch["n_perm"], n_perm_start=n_perm,
                         n_perm_count=ch["n_perm_count"], ks=ks, claims_design=design,
                         searchlight_cache=sl_cache,
                         plan=planned, space=space.provenance(),
                         model=manifest.get("model", {}), collect_manifest=manifest,
                         package_versions=package_versions())
    paths = write_results(tables, out, prov, quiet=quiet)
    if not quiet:
        from emostat.console import headline

        print(headline(tables["claims"]))
        print(plan_line(planned, (manifest.get("preregistration") or {}).get("sha256")))
        print(f"\nresults: {out / RESULTS}  ({time.perf_counter() - t0:.0f} s)")
    return paths


def _planned(plan, ch: dict, given: dict, manifest: dict, ks, searchlight) -> dict | None:
    """The analysis checked against ``plan`` (a ``(Plan, deviations)`` pair from
    :func:`emostat.plan.stages.open_plan`): the provenance field ``plan`` (None without)."""
    from emostat.analysis.pipelines.steps import SEARCHLIGHT_PERM

    mantel = {**SEARCHLIGHT_PERM, **{k: v for k, v in (searchlight or {}).items()
                                     if v is not None}}
    choices = {"alpha": ch["alpha"], "headline_k": ch["headline_k"], "n_perm": ch["n_perm"],
               "n_perm_count": ch["n_perm_count"], "n_boot": given["n_boot"],
               "mantel_top": mantel["mantel_top"], "n_perm_mantel": mantel["n_perm_mantel"],
               "analysis_seed": given["seed"]}
    return check_analysis(plan[0], plan[1], choices=choices, manifest=manifest, ks=ks,
                          n_neurons=manifest.get("n_neurons"))


def _one_record(mm: pd.DataFrame | None) -> pd.DataFrame | None:
    """One test of record per task and k: where the item-level GLMM (items and masks crossed)
    was attempted, the prompt-level mask model becomes supplementary (role ``extra``)."""
    if mm is None or not len(mm) or "model" not in mm.columns:
        return mm
    # wherever the item GLMM was attempted it is the record, fitted or failed (a failed
    # record is a failed claim, never another model's verdict)
    ok = mm[mm["model"] == "item_glmm"]
    keys = set(zip(ok["task"], ok["k"]))
    has_items = np.array([(t, k) in keys for t, k in zip(mm["task"], mm["k"])], dtype=bool)
    demote = (mm["role"] == "record") & (mm["model"] != "item_glmm") & has_items
    return mm.assign(role=mm["role"].mask(demote, "extra"))


def _choices(run_dir: Path, manifest: dict, given: dict, ks, searchlight=None) -> dict:
    """The run's checked analysis choices (:func:`choices.analysis_choices`: arguments over
    the recorded config over the defaults), the permutation draws to start from (``draws``)
    and the searchlight options with the run's count, alpha and headline k."""
    return analysis_choices(given, manifest.get("config") or {}, ks,
                            config_where=f"{run_dir / 'manifest.json'}",
                            given_where="emostat analyse", n_neurons=manifest.get("n_neurons"),
                            searchlight=searchlight)


def _searchlight(tables: dict, run_dir: Path, A, layer_sizes, attr_rdms, ks, *, seed: int,
                 options: dict, quiet: bool) -> dict:
    """The searchlight tables added to ``tables``, through the run's cache
    (:mod:`emostat.analysis.pipelines.slcache`); returns the provenance record of the cache."""
    from emostat.analysis.pipelines.slcache import cached_searchlight

    log("neuron searchlight RSA ...", quiet)
    found, rec = cached_searchlight(run_dir, A, layer_sizes, attr_rdms, ks,
                                    seed=searchlight_seed(seed), options=options)
    if rec["hit"]:
        when = "during the collection" if rec["by"] == "collect" else "by an earlier analysis"
        log(f"  from the cache computed {when} (cache/searchlight/{rec['key'][:12]})", quiet)
    tables.update(found)
    return rec


def _analyse_activations_only(run_dir: Path, manifest: dict, *, out: Path, seed: int,
                              given: dict, quiet: bool, searchlight: dict | None = None,
                              plan=(None, {})) -> dict[str, Path]:
    """:func:`analyse_run` for a run collected without tasks (``--activations-only``): the human
    tables, the neuron searchlight and the whole-model RSA; no masking, no inference tables."""
    from emostat.analysis.neurons.activations import load_activation_array
    from emostat.analysis.human.humanspace import load_shipped_human
    from emostat.analysis.neurons.wholemodel import whole_model_rsa

    t0 = time.perf_counter()
    space = run_space(manifest)
    A, concepts, templates, layer_sizes = load_activation_array(run_dir / "activations",
                                                                concepts=space.concepts)
    n = int(sum(layer_sizes))
    ks = run_ks(manifest.get("config") or {}, n)
    ch = _choices(run_dir, {"n_neurons": n, **manifest}, given, ks, searchlight)
    planned = _planned(plan, ch, given, {"n_neurons": n, **manifest}, ks, searchlight)
    check_out_dir(out, run_dir)
    log("tasks were off in this run (activations only): searchlight and RSA, no masking", quiet)
    human = load_shipped_human(space)
    s = child_seeds(seed, 4)
    n_perm = ch["draws"]
    tables: dict[str, pd.DataFrame] = {}
    tables.update(importance_tables(human, space, n_perm=n_perm, seed=s[0], quiet=quiet))
    tables.update(human_tables(human))
    sl_cache = _searchlight(tables, run_dir, A, layer_sizes, human.attribute_rdms, ks,
                            seed=seed, options=ch["searchlight"], quiet=quiet)
    raters = space_raters(space, human.mean_rdm)
    if raters is not None:
        nb = given["n_boot"]                 # as analyse_run's (the plan compares it)
        tables["whole_model_rsa"] = whole_model_rsa(A, raters, n_boot=nb * (len(raters) > 1),
                                                    n_perm=n_perm, seed=s[2], alpha=ch["alpha"])
        tables.update(rsa_run_tables(A, raters, n_boot=nb, n_perm=n_perm, seed=s[2]))
    tables.update(decided_geometry_tables(run_dir, space, ch["alpha"], quiet))
    design = make_design("experiment", ks, headline_k=ch["headline_k"], alpha=ch["alpha"],
                         tasks=[], untested=untested_claims(space))
    tables["claims"] = build_claims(tables, design)
    tables.update(plan_tables(planned, plan[0], tables["claims"]))
    prov = io.provenance(kind="experiment", run_dir=str(run_dir.resolve()), seed=seed,
                         n_boot=given["n_boot"], n_perm=ch["n_perm"], n_perm_start=n_perm,
                         n_perm_count=ch["n_perm_count"], ks=ks, activations_only=True,
                         searchlight_cache=sl_cache,
                         claims_design=design, plan=planned, space=space.provenance(),
                         model=manifest.get("model", {}), collect_manifest=manifest,
                         package_versions=package_versions())
    paths = write_results(tables, out, prov, quiet=quiet)
    if not quiet:
        from emostat.console import headline

        print(headline(tables["claims"]))
        print(plan_line(planned, (manifest.get("preregistration") or {}).get("sha256")))
    log(f"results: {out / RESULTS}  ({time.perf_counter() - t0:.0f} s)", quiet)
    return paths
