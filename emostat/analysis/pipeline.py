"""End-to-end analyses: ``reproduce`` (the study's release) and ``analyse_run`` (a collected run).

Both write tidy Parquet tables under ``<out>/results/`` (one file per table, names and columns in
:mod:`emostat.schemas`) plus ``<out>/results/provenance.json``. Same inputs and seed give identical
tables. Nothing here imports torch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io
from emostat.analysis.claims import build_claims, make_design
from emostat.analysis.geometry_claims import run_geometry_tables
from emostat.constants import K_HEADLINE, K_VALUES, pair_indices
from emostat.errors import InputError
from emostat.integrity import check_run
from emostat.analysis.runspace import (importance_from_mean, importance_tables,  # noqa: F401
                                       run_space, untested_claims, with_shipped_bootstrap)

RESULTS = "results"


# ---------------------------------------------------------------------------------------------
# shared pieces


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


def _seeds(seed: int, n: int) -> list[int]:
    """``n`` independent child seeds of ``seed`` (stable across runs and platforms)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def _pairs_frame(concepts) -> pd.DataFrame:
    """``pair, emotion_a, emotion_b`` over ``concepts`` (R ``dist()`` order; a = row concept)."""
    c = list(concepts)
    i, j = pair_indices(len(c))
    return pd.DataFrame({"pair": np.arange(len(i)), "emotion_a": [c[x] for x in i],
                         "emotion_b": [c[x] for x in j]})


def human_tables(human) -> dict[str, pd.DataFrame]:
    """Long tables of the human space: means, attribute RDMs, mean human RDM (where the space
    has similarity judgments), loadings. Concepts in the order of ``human.means``' index."""
    out = {}
    means = human.means
    out["human_means"] = (means.rename_axis("emotion").reset_index()
                          .melt(id_vars="emotion", var_name="attribute", value_name="estimate"))
    pairs = _pairs_frame(means.index)
    rdms = human.attribute_rdms.reset_index(drop=True)
    long = pd.concat([pairs.assign(attribute=a, estimate=rdms[a].to_numpy()) for a in rdms.columns],
                     ignore_index=True)
    out["attribute_rdms"] = long
    mean_rdm = _mean_human_rdm(human)
    if mean_rdm is not None:
        out["human_rdm"] = pairs.assign(estimate=np.asarray(mean_rdm, dtype=float))
    pca = getattr(human, "pca", None)
    if pca is not None and getattr(pca, "loadings", None) is not None:
        load = pca.loadings
        tidy = (load.rename_axis("item").reset_index()
                .melt(id_vars="item", var_name="component", value_name="loading"))
        tidy["item"] = tidy["item"].astype("int64")
        out["appraisal_loadings"] = tidy
    return out


def _mean_human_rdm(human) -> np.ndarray:
    if getattr(human, "subject_rdms", None) is not None:
        return np.asarray(human.subject_rdms, dtype=float).mean(axis=0)
    return None if human.mean_rdm is None else np.asarray(human.mean_rdm, dtype=float)


def masking_tables(accuracy: pd.DataFrame, importance: pd.Series, *, seed: int, n_perm: int,
                   ks=None, quiet: bool = True, n_items: int | None = None
                   ) -> dict[str, pd.DataFrame]:
    """All masking statistics of a prompt-level accuracy table (schema ``accuracy``).

    The study's paired tests (role study), the study's and the record mixed models per k, each
    attribute mask against the random-mask population (record) and the design's power.
    """
    from emostat.analysis import masking
    from emostat.analysis.mixed import masking_mixed_model
    from emostat.analysis.power import power_analysis

    ks = sorted(set(accuracy["k"].dropna().astype(int)) if ks is None else ks)
    acc = accuracy[accuracy["k"].isna() | accuracy["k"].isin(ks)]
    both = sorted(set(acc.loc[acc["condition"] == "attribute", "k"].dropna().astype(int))
                  & set(acc.loc[acc["condition"] == "random", "k"].dropna().astype(int)))
    diff = masking.acc_diff(acc)
    s = _seeds(seed, 3)
    out = {
        "masking_by_emotion": masking.paired_tests(diff, by=["k", "emotion"], n_perm=n_perm,
                                                   seed=s[0]),
        "masking_by_attribute": masking.paired_tests(diff, by=["k", "attribute"], n_perm=n_perm,
                                                     seed=s[1]),
        "masking_cells": masking.paired_tests(diff, by=["k", "emotion", "attribute"],
                                              n_perm=n_perm, seed=s[2]),
        "attribute_vs_null": masking.attribute_vs_null(acc),
    }
    _log("  mixed models ...", quiet)
    tidy, glance = masking_mixed_model(acc, ks=both)
    out["masking_mixed_model"] = tidy
    out["masking_mixed_glance"] = glance
    out["power"] = power_analysis(acc, tidy, n_items=n_items, seed=s[0])
    return out


LINK_MIN_PERM = 10_000   # attribute-label permutations of the link: never fewer


def link_tables(accuracy: pd.DataFrame, importance: pd.Series, *, seed: int, n_perm: int,
                ks=None, pooled_null: bool = False) -> dict[str, pd.DataFrame]:
    """The drop–importance link (:mod:`emostat.analysis.link`) and the dip tests, labelled.

    The link uses at least ``LINK_MIN_PERM`` attribute-label permutations (exact enumeration
    when the orderings are fewer; doubled while the Monte-Carlo interval holds alpha).
    ``pooled_null``: the test of record compares every attribute mask with the pooled random
    masks of its k (the release: its 14 random sets are exchangeable uniform draws); the
    twin-mask rows are then the study's. Collected runs keep each attribute's own draws (they
    may be layer-matched to that attribute).
    """
    from emostat.analysis import link, masking

    ks = sorted(set(accuracy["k"].dropna().astype(int)) if ks is None else ks)
    acc = accuracy[accuracy["k"].isna() | accuracy["k"].isin(ks)]
    diff = masking.acc_diff(acc)
    dip = masking.dip_tests(diff)
    dip = dip.assign(p_method="Hartigan's dip test, p interpolated from the tabulated null "
                              "(R diptest::dip.test)",
                     unit=dip["n"].map(lambda n: f"emotion ({n})"), role="study")
    pooled = link.pooled_drops(acc) if pooled_null else None
    return {"importance_link": link.link_test(diff, importance, pooled=pooled,
                                              n_perm=max(int(n_perm), LINK_MIN_PERM), seed=seed),
            "importance_link_by_emotion": link.link_by_emotion(diff, importance),
            "dip_test": dip}


# Permutation-calibrated searchlight defaults. The count null and the max-T null share the
# same n_perm_count emotion-label permutations, all run as one batched product
# (emostat.analysis.neuronnull; benchmarks/bench_searchlight_perm.py): smallest p 1/200.
# The Mantel p of the best-ranked neurons is an uncorrected extra (selected on the same data).
SEARCHLIGHT_PERM = {"mantel_top": 20, "n_perm_mantel": 9_999, "n_perm_count": 199,
                    "n_jobs": 2}


def searchlight_tables(A: np.ndarray, layer_sizes, attr_rdms: pd.DataFrame, ks, *,
                       seed: int = 0, mantel_top=None, n_perm_mantel: int | None = None,
                       n_perm_count: int | None = None, n_jobs: int | None = None) -> dict:
    """Neuron searchlight RSA, significance counts, layer distribution of top-k sets, and the
    permutation-calibrated tables ``neuron_max_t`` (the record: Westfall-Young max-T over all
    neurons), ``neuron_count_null`` and ``neuron_mantel`` (extra, uncorrected for selection).

    ``mantel_top``: neurons per attribute given a Mantel p (the best-ranked; an int, or
    ``"k"`` for the top-k set at the headline k); ``n_perm_mantel`` and ``n_perm_count``:
    permutations (0 skips the table(s)); ``n_perm_count`` permutations are shared by the count
    and max-T nulls, and ``neuron_rsa`` gains the family-wise ``p_fwer`` of every neuron
    (joint family of all neuron x attribute tests).
    The neuron claim's record is the joint max-T over all neurons x attributes
    (``neuron_max_t.p_fwer_joint``, floor 1/(B+1) = .005 at 199), so 199 draws decide; Holm
    over the per-attribute max-T p's (floor q/(B+1)) is a supporting column.
    ``n_jobs``: threads of the batched product. Defaults in :data:`SEARCHLIGHT_PERM`.
    """
    from emostat.analysis import neuronnull as nn
    from emostat.analysis import searchlight as sl
    from emostat.constants import K_HEADLINE

    cfg = dict(SEARCHLIGHT_PERM)
    cfg.update({k: v for k, v in (("mantel_top", mantel_top), ("n_perm_mantel", n_perm_mantel),
                                  ("n_perm_count", n_perm_count), ("n_jobs", n_jobs))
                if v is not None})
    R = sl.neuron_rdms(A)
    rsa = sl.searchlight(R, attr_rdms, layer_sizes)
    out = {"neuron_rsa": rsa,
           "neuron_counts": sl.significance_counts(rsa),
           "layer_distribution": sl.layer_distribution(rsa, ks)}
    s = _seeds(seed, 2)
    if int(cfg["n_perm_mantel"]) > 0:
        top = cfg["mantel_top"]
        if top == "k":
            top = K_HEADLINE if K_HEADLINE in list(ks) else max(ks)
        chosen = sl.top_k(rsa, min(int(top), R.shape[1]))
        out["neuron_mantel"] = sl.neuron_mantel(R, attr_rdms, chosen,
                                                n_perm=int(cfg["n_perm_mantel"]), seed=s[0],
                                                layer_sizes=layer_sizes, neuron_rsa=rsa)
    if int(cfg["n_perm_count"]) > 0:
        null = nn.searchlight_null(R, attr_rdms, n_perm=int(cfg["n_perm_count"]), seed=s[1],
                                   n_jobs=int(cfg["n_jobs"]))
        layer, _ = sl.layer_units(layer_sizes, R.shape[1])
        out["neuron_count_null"] = nn.count_table(null)
        out["neuron_max_t"] = nn.max_t_table(null, layer)
        out["neuron_rsa"] = rsa.assign(p_fwer=nn.fwer_p(null).ravel())   # neuron-major rows
    return out


def write_results(tables: dict[str, pd.DataFrame], out: Path, prov: dict) -> dict[str, Path]:
    """Write each table to ``out/results/<name>.parquet`` (atomic) and provenance.json.

    Each known table is validated first and stored with its schema name and version
    (:func:`emostat.io.write_table` with ``dataset``).
    """
    from emostat.schemas import names, validate
    import pyarrow as pa

    res = Path(out) / RESULTS
    res.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in tables.items():
        table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
        known = name in names()
        if known:
            validate(table, name, where=f"results table {name!r}")
        paths[name] = io.write_table(table, res / f"{name}.parquet", prov=prov,
                                     dataset=name if known else None)
    tmp = res / ".provenance.json.tmp"
    tmp.write_text(json.dumps(prov, indent=2, default=str))
    tmp.replace(res / "provenance.json")
    return paths


# ---------------------------------------------------------------------------------------------
# the study's release


def _study_data(release: Path, out: Path, quiet: bool):
    """Load (importing once if needed) the release's human space, activations and accuracies."""
    from emostat.analysis.activations import load_activation_array
    from emostat.analysis.human import load_human

    release = Path(release)
    if (release / "Data").is_dir():           # raw release: import once into out/data
        data_dir = Path(out) / "data"
        needed = ["activations.parquet", "accuracy.parquet", "similarity.parquet",
                  "ratings.parquet", "appraisal_responses.parquet", "participants.parquet"]
        if not all((data_dir / n).exists() for n in needed):
            from emostat.release import import_release

            _log(f"importing release {release} -> {data_dir}", quiet)
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
              n_perm: int = 10_000, quiet: bool = False,
              searchlight: dict | None = None) -> dict[str, Path]:
    """Reproduce the study's analyses from its release and write ``out/results/*.parquet``.

    Prints an R-style summary of the headline results unless ``quiet``. ``searchlight``:
    options of :func:`searchlight_tables` (``mantel_top``, ``n_perm_mantel``,
    ``n_perm_count``, ``n_jobs``).
    """
    from emostat.analysis.human import attribute_importance, rating_icc
    from emostat.analysis.wholemodel import whole_model_rsa

    t0 = time.perf_counter()
    out = Path(out)
    human, A, layer_sizes, accuracy, data_dir, sources = _study_data(release, out, quiet)
    s = _seeds(seed, 5)
    attr_rdms = human.attribute_rdms_for_study
    tables: dict[str, pd.DataFrame] = {}

    _log("human emotion space ...", quiet)
    tables["attribute_importance"] = attribute_importance(
        human.subject_rdms, attr_rdms, n_boot=n_boot, n_perm=n_perm, seed=s[0])
    tables.update(human_tables(human))
    if getattr(human, "ratings", None) is not None:
        tables["rating_icc"] = rating_icc(human.ratings)

    _log("neuron searchlight RSA ...", quiet)
    tables.update(searchlight_tables(A, layer_sizes, attr_rdms, K_VALUES, seed=s[3],
                                     **(searchlight or {})))

    _log("masking statistics ...", quiet)
    importance = tables["attribute_importance"].set_index("attribute")["estimate"]
    tables.update(masking_tables(accuracy, importance, seed=s[1], n_perm=n_perm,
                                 ks=list(K_VALUES), quiet=quiet))
    tables.update(link_tables(accuracy, importance, seed=s[4], n_perm=n_perm,
                              ks=list(K_VALUES), pooled_null=True))

    _log("whole-model RSA ...", quiet)
    tables["whole_model_rsa"] = whole_model_rsa(A, human.subject_rdms, n_boot=n_boot,
                                                n_perm=n_perm, seed=s[2])

    # the release declares its headline k (the paper reports k = 4000)
    design = make_design("reproduction", K_VALUES, headline_k=K_HEADLINE)
    tables["claims"] = build_claims(tables, design)
    prov = io.provenance(kind="reproduction", source=str(Path(release).resolve()),
                         data_dir=str(data_dir), source_files=sources, seed=seed,
                         n_boot=n_boot, n_perm=n_perm, ks=list(K_VALUES), claims_design=design,
                         model="roberta-base-prompt-tuned (study release)",
                         package_versions=package_versions())
    paths = write_results(tables, out, prov)
    # agreement with the release's own rank and unimodality files (raw release only)
    from emostat.release.agreement import write_agreement

    for name in write_agreement(release, out / RESULTS, prov=prov):
        paths[name] = out / RESULTS / f"{name}.parquet"
    if not quiet:
        from emostat.console import headline

        print(headline(tables["claims"]))
        print(f"\nresults: {out / RESULTS}  ({time.perf_counter() - t0:.0f} s)")
    return paths


def package_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour the numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version

    vers = {}
    for pkg in ("emostat", "numpy", "scipy", "pandas", "pyarrow", "statsmodels", "diptest",
                "torch", "transformers"):
        try:
            vers[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return vers


# ---------------------------------------------------------------------------------------------
# a collected run (emostat collect)


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


def analyse_run(run_dir, *, out=None, seed: int = 20241201, n_boot: int = 2_000,
                n_perm: int = 10_000, quiet: bool = False,
                searchlight: dict | None = None) -> dict[str, Path]:
    """Analyse an ``emostat collect`` run and write ``<out>/results/*.parquet``.

    ``out`` defaults to ``run_dir`` (tables in ``run_dir/results``, replaced). Another folder
    keeps earlier analyses: it is created, and refused when its ``results/`` holds another run's
    analysis (:func:`check_out_dir`). ``searchlight``: options of :func:`searchlight_tables`.

    The human side is the run's concept space (default the study's, ``data/spaces/study/``), so
    attribute importance and the whole-model RSA have Mantel p-values but no participant
    bootstrap. Masking tables gain a ``task`` key (binary, choice, generate). ``n_boot`` is
    accepted for symmetry with :func:`reproduce` and recorded.
    """
    from emostat.analysis import experiment as ex
    from emostat.analysis.activations import load_activation_array
    from emostat.analysis.human import load_shipped_human
    from emostat.analysis.wholemodel import whole_model_rsa

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    manifest = check_run(run_dir)      # every planned file present, unchanged (emostat.integrity)
    out = run_dir if out is None else Path(out)
    check_out_dir(out, run_dir)
    if manifest.get("activations_only"):
        return _analyse_activations_only(run_dir, manifest, out=out, seed=seed, n_perm=n_perm,
                                         quiet=quiet, searchlight=searchlight)
    if not (run_dir / "accuracy.parquet").exists():
        raise InputError(f"{run_dir}: not a finished `emostat collect` run "
                         "(no accuracy.parquet); run or resume `emostat collect` first")
    space = run_space(manifest)
    human = load_shipped_human(space)
    attr_rdms = human.attribute_rdms
    s = _seeds(seed, 5)
    tables: dict[str, pd.DataFrame] = {}

    _log(f"human space {space.name!r} ({space.n_concepts} concepts x {space.n_attributes} "
         "attributes) ...", quiet)
    tables.update(importance_tables(human, space, n_perm=n_perm, seed=s[0], quiet=quiet))
    tables.update(human_tables(human))

    _log("neuron searchlight RSA ...", quiet)
    A, concepts, templates, layer_sizes = load_activation_array(run_dir / "activations",
                                                                concepts=space.concepts)
    accuracy = io.read_table(run_dir / "accuracy.parquet", dataset="accuracy")
    ks = sorted(set(accuracy["k"].dropna().astype(int)))
    tables.update(searchlight_tables(A, layer_sizes, attr_rdms, ks, seed=s[3],
                                     **(searchlight or {})))

    _log("masking statistics ...", quiet)
    inference = io.read_table(run_dir / "inference", dataset="inference")
    tables["baseline_accuracy"] = ex.baseline_accuracy(inference)
    tables["task_chance"] = ex.task_chance(inference)
    answers = set(tables["task_chance"].loc[tables["task_chance"]["interpretable"], "task"])
    for _, row in tables["task_chance"].iterrows():
        if not row["interpretable"]:
            _log("  " + ex.chance_statement(row), quiet)
    # tasks at chance are left out of the causal tests (said in task_chance and the summary)
    per_task = {t: a for t, a in ex.split_tasks(accuracy).items() if t in answers}
    importance = (tables["attribute_importance"].set_index("attribute")["estimate"]
                  if "attribute_importance" in tables else None)
    n_items = inference[inference["condition"] == "none"].groupby("task")["item_id"].nunique()
    masked = {t: masking_tables(a, importance, seed=s[1], n_perm=n_perm, quiet=quiet,
                                n_items=int(n_items.get(t, 0)) or None)
              for t, a in per_task.items()}
    for name in (next(iter(masked.values())) if masked else []):
        tables[name] = _by_task(lambda t, _a, n=name: masked[t][n], per_task)
    linked = {t: link_tables(a, importance, seed=s[4], n_perm=n_perm)
              for t, a in per_task.items()} if importance is not None else {}
    for name in (next(iter(linked.values())) if linked else []):
        tables[name] = _by_task(lambda t, _a, n=name: linked[t][n], per_task)
    if per_task:
        tables["random_null"] = _by_task(lambda t, a: ex.random_null(a, t), per_task)
        _log("  item-level models ...", quiet)
        items, items_glance = ex.item_models(inference[inference["task"].isin(answers)])
        for name, part in (("masking_mixed_model", items), ("masking_mixed_glance",
                                                            items_glance)):
            if len(part):
                tables[name] = pd.concat([tables.get(name), part], ignore_index=True)
        tables["masking_mixed_model"] = _one_record(tables.get("masking_mixed_model"))
    if (inference["task"] == "generate").any():
        from emostat.collect.stimuli import read_stimuli  # pure pandas reader, no torch

        stim = (space.stimuli.rename(columns={"concept": "emotion"})
                if space.stimuli is not None else read_stimuli())
        tables["generation_examples"] = ex.generation_examples(inference, stim)

    if human.mean_rdm is not None:
        _log("whole-model RSA ...", quiet)
        tables["whole_model_rsa"] = whole_model_rsa(A, np.asarray(human.mean_rdm)[None, :],
                                                    n_boot=0, n_perm=n_perm, seed=s[2])

    tables.update(run_geometry_tables(run_dir))     # the collection's geometry stage, if run
    config = manifest.get("config") or {}
    design = make_design("experiment", ks, headline_k=config.get("headline_k"),
                         alpha=config.get("alpha"), tasks=list(tables["task_chance"]["task"]),
                         untested=untested_claims(space))
    tables["claims"] = build_claims(tables, design)
    prov = io.provenance(kind="experiment", run_dir=str(run_dir.resolve()), seed=seed,
                         n_boot=n_boot, n_perm=n_perm, ks=ks, claims_design=design,
                         space=space.provenance(),
                         model=manifest.get("model", {}), collect_manifest=manifest,
                         package_versions=package_versions())
    paths = write_results(tables, out, prov)
    if not quiet:
        from emostat.console import headline

        print(headline(tables["claims"]))
        print(f"\nresults: {out / RESULTS}  ({time.perf_counter() - t0:.0f} s)")
    return paths


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


def _analyse_activations_only(run_dir: Path, manifest: dict, *, out: Path, seed: int,
                              n_perm: int, quiet: bool,
                              searchlight: dict | None = None) -> dict[str, Path]:
    """:func:`analyse_run` for a run collected without tasks (``--activations-only``): the human
    tables, the neuron searchlight and the whole-model RSA; no masking, no inference tables."""
    from emostat.analysis.activations import load_activation_array
    from emostat.analysis.human import load_shipped_human
    from emostat.analysis.wholemodel import whole_model_rsa

    t0 = time.perf_counter()
    _log("tasks were off in this run (activations only): searchlight and RSA, no masking", quiet)
    space = run_space(manifest)
    human = load_shipped_human(space)
    s = _seeds(seed, 4)
    tables: dict[str, pd.DataFrame] = {}
    tables.update(importance_tables(human, space, n_perm=n_perm, seed=s[0], quiet=quiet))
    tables.update(human_tables(human))
    A, concepts, templates, layer_sizes = load_activation_array(run_dir / "activations",
                                                                concepts=space.concepts)
    n = int(sum(layer_sizes))
    ks = sorted({int(round(k * n)) if isinstance(k, float) else int(k)
                 for k in (manifest.get("config") or {}).get("ks") or []} - {0}) or [
        k for k in K_VALUES if k <= n]
    tables.update(searchlight_tables(A, layer_sizes, human.attribute_rdms, ks, seed=s[3],
                                     **(searchlight or {})))
    if human.mean_rdm is not None:
        tables["whole_model_rsa"] = whole_model_rsa(A, np.asarray(human.mean_rdm)[None, :],
                                                    n_boot=0, n_perm=n_perm, seed=s[2])
    tables.update(run_geometry_tables(run_dir))     # the collection's geometry stage, if run
    config = manifest.get("config") or {}
    design = make_design("experiment", ks, alpha=config.get("alpha"), tasks=[],
                         untested=untested_claims(space))
    tables["claims"] = build_claims(tables, design)
    prov = io.provenance(kind="experiment", run_dir=str(run_dir.resolve()), seed=seed,
                         n_boot=0, n_perm=n_perm, ks=ks, activations_only=True,
                         claims_design=design, space=space.provenance(),
                         model=manifest.get("model", {}), collect_manifest=manifest,
                         package_versions=package_versions())
    paths = write_results(tables, out, prov)
    if not quiet:
        from emostat.console import headline

        print(headline(tables["claims"]))
    _log(f"results: {out / RESULTS}  ({time.perf_counter() - t0:.0f} s)", quiet)
    return paths
