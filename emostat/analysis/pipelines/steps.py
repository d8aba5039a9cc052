"""The analysis steps :func:`~emostat.analysis.pipelines.reproduce.reproduce` and
:func:`~emostat.analysis.pipelines.analyse.analyse_run` share: the human, masking, link and
searchlight tables, and writing the results folder. Nothing here imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io
from emostat.checks import child_seeds, log
from emostat.constants import pair_indices

RESULTS = "results"


def _pairs_frame(concepts) -> pd.DataFrame:
    """``pair, concept_a, concept_b`` over ``concepts`` (R ``dist()`` order; a = row concept)."""
    c = list(concepts)
    i, j = pair_indices(len(c))
    return pd.DataFrame({"pair": np.arange(len(i)), "concept_a": [c[x] for x in i],
                         "concept_b": [c[x] for x in j]})


def human_tables(human) -> dict[str, pd.DataFrame]:
    """Long tables of the human space: means, attribute RDMs, mean human RDM (where the space
    has similarity judgments), loadings. Concepts in the order of ``human.means``' index."""
    out = {}
    means = human.means
    out["human_means"] = (means.rename_axis("concept").reset_index()
                          .melt(id_vars="concept", var_name="attribute", value_name="estimate"))
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
                   ks=None, quiet: bool = True, n_items: int | None = None,
                   alpha: float = 0.05) -> dict[str, pd.DataFrame]:
    """All masking statistics of a prompt-level accuracy table (schema ``accuracy``).

    The study's paired tests (role study), the study's and the record mixed models per k, each
    attribute mask against the random-mask population (record) and the design's power.
    """
    from emostat.analysis.masking import drops as masking
    from emostat.analysis.masking.models import masking_mixed_model
    from emostat.analysis.masking.power import power_analysis

    ks = sorted(set(accuracy["k"].dropna().astype(int)) if ks is None else ks)
    acc = accuracy[accuracy["k"].isna() | accuracy["k"].isin(ks)]
    both = sorted(set(acc.loc[acc["condition"] == "attribute", "k"].dropna().astype(int))
                  & set(acc.loc[acc["condition"] == "random", "k"].dropna().astype(int)))
    diff = masking.acc_diff(acc)
    s = child_seeds(seed, 3)
    out = {
        "masking_by_emotion": masking.paired_tests(diff, by=["k", "concept"], n_perm=n_perm,
                                                   seed=s[0]),
        "masking_by_attribute": masking.paired_tests(diff, by=["k", "attribute"], n_perm=n_perm,
                                                     seed=s[1]),
        "masking_cells": masking.paired_tests(diff, by=["k", "concept", "attribute"],
                                              n_perm=n_perm, seed=s[2]),
        "attribute_vs_null": masking.attribute_vs_null(acc),
    }
    log("  mixed models ...", quiet)
    tidy, glance, qq = masking_mixed_model(acc, ks=both, diagnostics=True)
    out["masking_mixed_model"] = tidy
    out["masking_mixed_glance"] = glance
    out["mixed_model_qq"] = qq
    out["power"] = power_analysis(acc, tidy, n_items=n_items, seed=s[0], alpha=alpha)
    return out


LINK_MIN_PERM = 10_000   # attribute-label permutations of the link: never fewer


def link_tables(accuracy: pd.DataFrame, importance: pd.Series, *, seed: int, n_perm: int,
                ks=None, pooled_null: bool = False, alpha: float = 0.05
                ) -> dict[str, pd.DataFrame]:
    """The drop–importance link (:mod:`emostat.analysis.masking.link`) and the dip tests, labelled.

    The link uses at least ``LINK_MIN_PERM`` attribute-label permutations (exact enumeration
    when the orderings are fewer; doubled while the Monte-Carlo interval holds ``alpha``).
    ``pooled_null``: the test of record compares every attribute mask with the pooled random
    masks of its k (the release: its 14 random sets are exchangeable uniform draws); the
    twin-mask rows are then the study's. Collected runs keep each attribute's own draws (they
    may be layer-matched to that attribute).
    """
    from emostat.analysis.masking import link
    from emostat.analysis.masking import drops as masking

    ks = sorted(set(accuracy["k"].dropna().astype(int)) if ks is None else ks)
    acc = accuracy[accuracy["k"].isna() | accuracy["k"].isin(ks)]
    diff = masking.acc_diff(acc)
    dip = masking.dip_tests(diff)
    dip = dip.assign(p_method="Hartigan's dip test, p interpolated from the tabulated null "
                              "(R diptest::dip.test)",
                     unit=dip["n"].map(lambda n: f"concept ({n})"), role="study")
    pooled = link.pooled_drops(acc) if pooled_null else None
    return {"importance_link": link.link_test(diff, importance, pooled=pooled, alpha=alpha,
                                              n_perm=max(int(n_perm), LINK_MIN_PERM), seed=seed),
            "importance_link_by_emotion": link.link_by_concept(diff, importance),
            "dip_test": dip}


# Permutation-calibrated searchlight defaults. The count null and the max-T null share the
# same n_perm_count concept-label permutations, all run as one batched product
# (emostat.analysis.neurons.neuronnull; benchmarks/bench_searchlight_perm.py): smallest p 1/200.
# The Mantel p of the best-ranked neurons is an uncorrected extra (selected on the same data):
# off by default (n_perm_mantel = 0; it was a third of the analysis of the default run, 60 s),
# on with e.g. `--n-perm-mantel 9999`.
SEARCHLIGHT_PERM = {"mantel_top": 20, "n_perm_mantel": 0, "n_perm_count": 199,
                    "n_jobs": 2}


def searchlight_tables(A: np.ndarray, layer_sizes, attr_rdms: pd.DataFrame, ks, *,
                       seed: int = 0, mantel_top=None, n_perm_mantel: int | None = None,
                       n_perm_count: int | None = None, n_jobs: int | None = None,
                       alpha: float = 0.05, headline_k: int | None = None) -> dict:
    """Neuron searchlight RSA, significance counts, layer distribution of top-k sets, and the
    permutation-calibrated tables ``neuron_max_t`` (the record: Westfall-Young max-T over all
    neurons), ``neuron_count_null`` and ``neuron_mantel`` (extra, uncorrected for selection).

    ``mantel_top``: neurons per attribute given a Mantel p (the best-ranked; an int, or
    ``"k"`` for the top-k set at the run's ``headline_k``, else the largest k);
    ``n_perm_mantel`` and ``n_perm_count``: permutations (0 skips the table(s));
    ``n_perm_count`` permutations are shared by the count and max-T nulls, and ``neuron_rsa``
    gains the family-wise ``p_fwer`` of every neuron.
    The neuron claim's record is the joint max-T over all neurons x attributes
    (``neuron_max_t.p_fwer_joint``, floor 1/(B+1) = .005 at 199), so 199 draws decide; Holm
    over the per-attribute max-T p's (floor q/(B+1)) is a supporting column. The draws are
    doubled (up to 8x) while an attribute's record p has a Monte-Carlo interval holding the
    run's ``alpha`` (:func:`emostat.analysis.neurons.neuronnull.decided_null`). A count above
    the default 199 is a minimum: the draws still double from 199 (the default's draws come
    first) and stop at the first doubling that reaches it and decides; ``n_perm`` of the
    tables says how many ran.
    ``n_jobs``: threads of the batched product. Defaults in :data:`SEARCHLIGHT_PERM`.
    """
    from emostat.analysis.neurons import neuronnull as nn
    from emostat.analysis.neurons import searchlight as sl

    cfg = dict(SEARCHLIGHT_PERM)
    cfg.update({k: v for k, v in (("mantel_top", mantel_top), ("n_perm_mantel", n_perm_mantel),
                                  ("n_perm_count", n_perm_count), ("n_jobs", n_jobs))
                if v is not None})
    R = sl.neuron_rdms(A)
    rsa = sl.searchlight(R, attr_rdms, layer_sizes)
    out = {"neuron_rsa": rsa,
           "neuron_counts": sl.significance_counts(rsa),
           "layer_distribution": sl.layer_distribution(rsa, ks)}
    s = child_seeds(seed, 2)
    if int(cfg["n_perm_mantel"]) > 0:
        top = cfg["mantel_top"]
        if top == "k":
            top = headline_k if headline_k in list(ks) else max(ks)
        chosen = sl.top_k(rsa, min(int(top), R.shape[1]))
        out["neuron_mantel"] = sl.neuron_mantel(R, attr_rdms, chosen,
                                                n_perm=int(cfg["n_perm_mantel"]), seed=s[0],
                                                layer_sizes=layer_sizes, neuron_rsa=rsa)
    asked = int(cfg["n_perm_count"])
    if asked > 0:
        base = min(asked, int(SEARCHLIGHT_PERM["n_perm_count"]))
        null = nn.decided_null(R, attr_rdms, n_perm=base, minimum=asked, seed=s[1],
                               alpha=alpha, n_jobs=int(cfg["n_jobs"]))
        layer, _ = sl.layer_units(layer_sizes, R.shape[1])
        out["neuron_count_null"] = nn.count_table(null, alpha)
        out["neuron_max_t"] = nn.max_t_table(null, layer, alpha)
        out["neuron_rsa"] = rsa.assign(p_fwer=nn.fwer_p(null).ravel())   # neuron-major rows
    return out


def write_results(tables: dict[str, pd.DataFrame], out: Path, prov: dict, *, extra=None,
                  quiet: bool = True) -> dict[str, Path]:
    """Write ``out/results/``: each table as ``<name>.parquet`` and ``provenance.json``, whole.

    Each known table is validated first and stored with its schema name and version
    (:func:`emostat.io.write_table` with ``dataset``). Everything is written into a new
    temporary folder beside ``results/`` (``extra(folder)`` may add tables there and returns
    their names), then renamed into place: an interrupted analysis leaves the earlier results
    (or none), never a mixture (:func:`emostat.resultsdir.replace_results`).
    """
    from emostat.resultsdir import replace_results, staging
    from emostat.schemas import names, validate
    import pyarrow as pa

    out = Path(out)
    res = out / RESULTS
    written = []
    with staging(out) as tmp:
        for name, df in tables.items():
            table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
            known = name in names()
            if known:
                validate(table, name, where=f"results table {name!r}")
            io.write_table(table, tmp / f"{name}.parquet", prov=prov,
                           dataset=name if known else None)
            written.append(name)
        written += list(extra(tmp) if extra is not None else [])
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
        replace_results(tmp, res, quiet=quiet)
    return {name: res / f"{name}.parquet" for name in written}


def design_tables(tables: dict, inference: pd.DataFrame, space, manifest: dict, *,
                  alpha: float, ks, n_perm: int) -> pd.DataFrame | None:
    """The design table (:func:`emostat.analysis.masking.design.design_table`) of each task of
    record at each k, from the record GLMM's components in ``tables``; None without a fit."""
    from emostat.analysis.masking import design as dz

    tidy, glance = tables.get("masking_mixed_model"), tables.get("masking_mixed_glance")
    chance = tables.get("task_chance")
    if tidy is None or glance is None or chance is None:
        return None
    cfg = manifest.get("config") or {}
    cost = manifest.get("cost") or {}
    stim = getattr(space, "stimuli", None)
    if stim is not None and len(stim) and "concept" in stim:
        counts = stim.groupby("concept").size()
    else:
        none = inference[inference["condition"] == "none"]
        col = "concept" if "concept" in none else "emotion"       # version 1: emotion
        counts = none.drop_duplicates("stimulus_id").groupby(col).size()
    counts = counts.reindex(list(space.concepts)).fillna(0).astype(int)
    available = int(counts.max())
    ipc = cfg.get("items_per_emotion") or available
    quick_a = (len(dz.QUICK_DESIGN["attributes"]) if space.name == "study"
               else len(space.attributes))
    quick = (dz.quick_items_per_concept(len(counts), available, alpha), quick_a,
             dz.QUICK_DESIGN["n_random"])
    masks = inference[inference["condition"].isin(["attribute", "random"])]
    parts = []
    for task, g in masks.groupby("task", sort=True):
        row = chance[chance["task"] == task]
        for k in ks:
            c = dz.components(tidy, glance, task, k)
            gk = g[g["k"] == k]
            if c is None or not len(gk) or not len(row):
                continue
            n_att = int(gk.loc[gk["condition"] == "attribute", "condition_id"].nunique())
            n_rnd = int(gk.loc[gk["condition"] == "random", "condition_id"].nunique())
            n_items = int(gk["item_id"].nunique())
            per_unit = n_items / max(1, int(np.minimum(counts, ipc).sum()))
            s = dz.Setting(alpha=alpha, n_tasks=int(chance["task"].nunique()), n_k=len(ks),
                           n_perm_link=max(n_perm, LINK_MIN_PERM),
                           chance=float(row["chance"].iloc[0]), items_per_unit=per_unit,
                           counts=tuple(int(x) for x in counts),
                           gflop_per_row=float((cost.get(task) or {}).get("gflop_per_row",
                                                                          np.nan)))
            parts.append(dz.design_table(c, s, run=(int(ipc), n_att, n_rnd),
                                         available=available, quick=quick, task=task,
                                         k=int(k)))
    return pd.concat(parts, ignore_index=True) if parts else None
