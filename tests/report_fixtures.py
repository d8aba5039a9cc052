"""Small, plausible results tables (the columns of emostat.schemas) for rendering tests.

``make_run(tmp, kind)`` writes ``<tmp>/results/*.parquet`` and ``provenance.json`` shaped like
the output of ``emostat reproduce`` (kind="reproduction") or ``emostat analyse``
(kind="experiment"). Numbers are random but seeded; they only need the right shape and ranges.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io
from emostat.constants import ANALYSIS_ORDER, ATTRIBUTES, K_VALUES, pair_indices

N_LAYERS, N_UNITS = 12, 48
COMPONENTS = ATTRIBUTES[8:]


def _t_rows(rng, keys: pd.DataFrame, n: int, mean=-0.03, sd=0.03) -> pd.DataFrame:
    """Paired-t style rows (broom columns + q's + accuracies) for each row of ``keys``."""
    m = len(keys)
    est = rng.normal(mean, sd, m)
    se = np.abs(rng.normal(0.012, 0.003, m)) + 0.002
    t = est / se
    from scipy import stats

    p = stats.t.cdf(t, n - 1)
    crit = stats.t.ppf(0.95, n - 1)
    acc_none = rng.uniform(0.6, 0.97, m)
    acc_random = acc_none - np.abs(rng.normal(0.08, 0.04, m))
    out = keys.reset_index(drop=True).assign(
        estimate=est, std_error=se, statistic=t, df=float(n - 1), p_value=p,
        conf_low=-np.inf, conf_high=est + crit * se,
        q_value=np.minimum(1, p * m / stats.rankdata(p)),
        q_value_bh=np.minimum(1, p * m / stats.rankdata(p) * 1.2),
        p_value_perm=np.clip(p * rng.uniform(0.8, 1.2, m), 1e-4, 1),
        acc_none=acc_none, acc_random=acc_random, acc_attribute=acc_random + est, n=n)
    return out


def human_tables(rng) -> dict[str, pd.DataFrame]:
    imp = rng.uniform(-0.01, 0.6, len(ATTRIBUTES))
    se = rng.uniform(0.02, 0.05, len(ATTRIBUTES))
    t = {"attribute_importance": pd.DataFrame({
        "attribute": ATTRIBUTES, "estimate": imp, "std_error": se, "statistic": imp / se,
        "df": np.nan, "p_value": np.where(imp > 0.05, 1e-4, 0.3),
        "conf_low": imp - 1.96 * se, "conf_high": imp + 1.96 * se,
        "p_value_mantel": np.where(imp > 0.05, 2e-4, 0.4)})}
    means = rng.uniform(1, 9, (27, 14))
    t["human_means"] = pd.DataFrame([(e, a, means[i, j]) for i, e in enumerate(ANALYSIS_ORDER)
                                     for j, a in enumerate(ATTRIBUTES)],
                                    columns=["emotion", "attribute", "estimate"])
    i, j = pair_indices(27)
    pairs = pd.DataFrame({"pair": np.arange(len(i)),
                          "emotion_a": [ANALYSIS_ORDER[x] for x in i],
                          "emotion_b": [ANALYSIS_ORDER[x] for x in j]})
    t["attribute_rdms"] = pd.concat(
        [pairs.assign(attribute=a, estimate=np.abs(means[i, c] - means[j, c]))
         for c, a in enumerate(ATTRIBUTES)], ignore_index=True)
    t["human_rdm"] = pairs.assign(estimate=np.clip(
        1 + np.abs(means[i, 1] - means[j, 1]) + rng.normal(0, 0.5, len(i)), 1, 9))
    items = np.arange(1, 39)
    t["appraisal_loadings"] = pd.DataFrame(
        [(it, f"Appraisal item {it}", c, rng.uniform(-0.3, 0.3) + (0.5 if it % 6 == k else 0))
         for it in items for k, c in enumerate(COMPONENTS)],
        columns=["item", "item_text", "component", "loading"])
    t["rating_icc"] = pd.DataFrame({
        "experiment": ["affective"] * 2 + ["physical"] * 6, "attribute": ATTRIBUTES[:8],
        "estimate": rng.uniform(0.85, 0.98, 8), "conf_low": 0.8, "conf_high": 0.99})
    return t


def searchlight_tables(rng, ks) -> dict[str, pd.DataFrame]:
    n = N_LAYERS * N_UNITS
    rows = []
    for a in ATTRIBUTES:
        tau = rng.normal(0.02, 0.08, n)
        p = np.clip(np.exp(-120 * np.maximum(tau, 0)) * 0.5 * rng.uniform(0.5, 1, n), 1e-15, 1)
        from scipy import stats

        rows.append(pd.DataFrame({
            "neuron": np.arange(n), "layer": np.arange(n) // N_UNITS,
            "unit": np.arange(n) % N_UNITS, "attribute": a, "tau": tau, "p_value": p,
            "q_value": np.minimum(1, p * n * 14 / stats.rankdata(p)),
            "q_value_bh": np.minimum(1, p * n * 14 / stats.rankdata(p) * 1.1),
            "rank": stats.rankdata(-tau)}))
    rsa = pd.concat(rows, ignore_index=True)
    counts = (rsa.groupby("attribute", sort=False)
              .agg(n_significant=("q_value", lambda q: int((q < .01).sum())),
                   n_significant_bh=("q_value_bh", lambda q: int((q < .01).sum())))
              .reset_index())
    counts["n_selective"] = (counts["n_significant"] * 0.3).astype("int64")
    layer = [(a, k, lay, int(rng.integers(50, 500))) for a in ATTRIBUTES for k in ks
             for lay in range(N_LAYERS)]
    return {"neuron_rsa": rsa, "neuron_counts": counts,
            "layer_distribution": pd.DataFrame(layer,
                                               columns=["attribute", "k", "layer", "n_neurons"])}


def masking_tables(rng, ks, n_emotion=168, n_attr=324, n_cell=12) -> dict[str, pd.DataFrame]:
    em = pd.DataFrame([(k, e) for k in ks for e in ANALYSIS_ORDER], columns=["k", "emotion"])
    at = pd.DataFrame([(k, a) for k in ks for a in ATTRIBUTES], columns=["k", "attribute"])
    ce = pd.DataFrame([(k, e, a) for k in ks for e in ANALYSIS_ORDER for a in ATTRIBUTES],
                      columns=["k", "emotion", "attribute"])
    t = {"masking_by_emotion": _t_rows(rng, em, n_emotion),
         "masking_by_attribute": _t_rows(rng, at, n_attr),
         "masking_cells": _t_rows(rng, ce, n_cell)}
    r = rng.uniform(0.1, 0.5, len(ks))
    t["importance_link"] = pd.DataFrame({
        "k": ks, "estimate": r, "std_error": 0.03, "statistic": r / 0.03, "df": 26.0,
        "p_value": 10.0 ** -rng.uniform(3, 14, len(ks)), "conf_low": r - 0.06,
        "conf_high": r + 0.06})
    t["importance_link_by_emotion"] = pd.DataFrame(
        [(k, e, rng.uniform(-0.3, 0.8)) for k in ks for e in ANALYSIS_ORDER],
        columns=["k", "emotion", "estimate"])
    t["dip_test"] = pd.DataFrame([(k, a, rng.uniform(0.03, 0.08), rng.uniform(0, 1))
                                  for k in ks for a in ATTRIBUTES],
                                 columns=["k", "attribute", "statistic", "p_value"])
    mm = []
    for k in ks:
        slope = rng.normal(-0.03, 0.01)
        mm += [(k, "fixed", None, "(Intercept)", 0.72, 0.02, 36.0, 1e-20, "Wald z"),
               (k, "fixed", None, "conditionattribute", slope, 0.006, slope / 0.006, 1.6e-6,
                "Wald z"),
               (k, "ran_pars", "emotion", "sd__(Intercept)", 0.11, np.nan, np.nan, np.nan,
                None),
               (k, "ran_pars", "emotion", "sd__conditionattribute", 0.025, np.nan, np.nan,
                np.nan, None),
               (k, "ran_pars", "emotion", "cor__(Intercept).conditionattribute", -0.31,
                np.nan, np.nan, np.nan, None),
               (k, "ran_pars", "Residual", "sd__Observation", 0.09, np.nan, np.nan, np.nan,
                None)]
    t["masking_mixed_model"] = pd.DataFrame(mm, columns=[
        "k", "effect", "group", "term", "estimate", "std_error", "statistic", "p_value",
        "p_method"])
    t["masking_mixed_glance"] = pd.DataFrame({
        "k": ks, "nobs": 9072, "logLik": rng.uniform(5000, 9000, len(ks)), "converged": True,
        "boundary": False, "optimizer": "cg"})
    return t


def experiment_tables(rng, ks) -> dict[str, pd.DataFrame]:
    tasks = ["binary", "multiclass"]
    t = {"baseline_accuracy": pd.DataFrame(
        [(task, e, rng.uniform(0.5, 0.95), 40) for task in tasks for e in ANALYSIS_ORDER],
        columns=["task", "emotion", "estimate", "n"])}
    draws = []
    vs = []
    for task in tasks:
        for a in ATTRIBUTES:
            for k in ks:
                null = rng.normal(-0.02, 0.01, 50)
                draws += [(task, a, k, d, v) for d, v in enumerate(null)]
                est = rng.normal(-0.035, 0.01)
                vs.append((task, a, k, est, null.mean(), null.std(ddof=1),
                           (1 + (null <= est).sum()) / 51))
    t["random_null"] = pd.DataFrame(draws, columns=["task", "attribute", "k", "draw", "estimate"])
    t["attribute_vs_null"] = pd.DataFrame(vs, columns=[
        "task", "attribute", "k", "estimate", "null_mean", "null_sd", "p_value_perm"])
    t["generation_examples"] = pd.DataFrame({
        "emotion": ["joy", "anger", "joy", "anger"],
        "text": ["I finally got the job!", "They cancelled again | without notice."] * 2,
        "generated": ["joy", "anger", "surprise", "sadness"],
        "parsed": ["joy", "anger", "surprise", "sadness"],
        "condition": ["none", "none", "attribute", "attribute"]})
    return t


def make_run(root, kind: str = "reproduction", seed: int = 1, model: str = "fixture-model",
             ks=None, drop=()) -> Path:
    """Write a fixture run folder at ``root``; tables named in ``drop`` are left out."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    ks = list(K_VALUES if ks is None else ks)
    tables = human_tables(rng)
    tables.update(searchlight_tables(rng, ks))
    tables.update(masking_tables(rng, ks))
    w = rng.uniform(0.1, 0.4)
    tables["whole_model_rsa"] = pd.DataFrame({"estimate": [w], "conf_low": [w - 0.07],
                                              "conf_high": [w + 0.06], "p_value": [1e-4]})
    if kind == "experiment":
        tables.update(experiment_tables(rng, ks))
    tables = with_inference_columns(tables)
    prov = io.provenance(kind=kind, seed=seed, n_boot=1000, n_perm=1000, ks=ks, model=model,
                         source="fixture" if kind == "experiment" else "/release",
                         source_files={"accuracy.csv": "ab" * 32},
                         package_versions={"numpy": "2.0", "scipy": "1.14"})
    res = root / "results"
    res.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if name not in drop:
            io.write_table(df, res / f"{name}.parquet", prov=prov)
    (res / "provenance.json").write_text(json.dumps(prov, indent=2))
    if kind == "experiment":
        (root / "manifest.json").write_text(json.dumps({"model": model, "seed": seed}))
    return root


def with_inference_columns(tables: dict) -> dict:
    """The columns of docs/inference.md on the stats-rsa tables (p_method, unit, role, test;
    boot_share_le0; p_asymptotic), added where a fixture above lacks them."""
    t = dict(tables)
    if "attribute_importance" in t:
        d = t["attribute_importance"]
        share = d.pop("p_value_mantel") if "p_value_mantel" in d else d["p_value"]
        t["attribute_importance"] = d.assign(boot_share_le0=share, p_method="Mantel",
                                             unit="emotion label (27)", role="record")
    if "neuron_rsa" in t and "p_value" in t["neuron_rsa"]:
        t["neuron_rsa"] = t["neuron_rsa"].rename(columns={"p_value": "p_asymptotic"})
    if "importance_link" in t and "test" not in t["importance_link"]:
        t["importance_link"] = t["importance_link"].assign(
            test="study_t", role="study", p_method="t", unit="emotion (27)")
    if "importance_link_by_emotion" in t and "p_value" not in t["importance_link_by_emotion"]:
        t["importance_link_by_emotion"] = t["importance_link_by_emotion"].assign(
            p_value=0.05, p_method="t", unit="attribute (14)", role="study")
    for name, unit in (("dip_test", "emotion (27)"), ("whole_model_rsa", "concept label (27)")):
        if name in t and "p_method" not in t[name]:
            t[name] = t[name].assign(p_method="fixture", unit=unit,
                                     role="study" if name == "dip_test" else "record")
    if "rating_icc" in t and "p_value" not in t["rating_icc"]:
        t["rating_icc"] = t["rating_icc"].assign(p_value=1e-6, p_method="F")
    return t
