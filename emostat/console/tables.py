"""R-style console summaries of results tables (``summarize``).

Views of the data only: every number comes from a results table (schemas in
:mod:`emostat.schemas`) and is formatted by :mod:`emostat.format`. Extra columns are ignored;
a missing required column is an :class:`~emostat.errors.InputError` naming it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.console.headline import headline
from emostat.console.text import (count, fmt_col, fmt_pval_r, is_nan, pick_k,
                                  pts, require, text_table)
from emostat.errors import InputError
from emostat.format import (NA, fmt_ci, fmt_df, fmt_int, fmt_num, fmt_p, fmt_stat,
                            p_method_note)

ALPHA_MASKING = 0.05   # the study's q < .05 for the masking tables
ALPHA_NEURON = 0.01    # the study's q < .01 for the searchlight


# ---- per-table summaries ------------------------------------------------------------------------
def _attribute_importance(t: pd.DataFrame, **_) -> str:
    require(t, ["attribute", "estimate", "conf_low", "conf_high", "p_value"],
             "attribute_importance")
    t = t.sort_values("estimate", ascending=False)
    share = "boot_share_le0" in t.columns
    head = ["attribute", "tau", "95% CI", "SE", "p (Mantel)"] + (
        ["share <= 0 (study)"] if share else [])
    rows = []
    for _, r in t.iterrows():
        row = [r["attribute"], fmt_stat(r["estimate"], 3, True),
               fmt_ci(r["conf_low"], r["conf_high"], 3, True),
               fmt_num(r.get("std_error", np.nan), 3), fmt_p(r["p_value"], None)]
        if share:
            row.append(fmt_p(r["boot_share_le0"], None))
        rows.append(row)
    n_sig = count(t["p_value"] < 0.05)
    out = ["Attribute importance: Kendall tau-b, mean human RDM vs attribute RDM",
           f"Mantel p < .05: {n_sig} of {len(t)} attributes"
           + (f" (study's bootstrap share <= 0 below .05: "
              f"{count(t['boot_share_le0'] < 0.05)} of {len(t)})" if share else ""), "",
           text_table(head, rows), "",
           "p: " + str(_first(t, "p_method", "Mantel concept-label permutation")) + ". CI: "
           + str(_first(t, "conf_method", "participant bootstrap")) + "."
           + (" share <= 0: the study's bootstrap share of taus <= 0 (stability, not a test)."
              if share else "")]
    return "\n".join(out)


def _first(t: pd.DataFrame, col: str, default: str):
    """The first non-null value of ``col`` (e.g. p_method), or ``default``."""
    if col in t.columns and t[col].notna().any():
        return t[col].dropna().iloc[0]
    return default


def _neuron_rsa(t: pd.DataFrame, n_top: int = 3, **_) -> str:
    require(t, ["neuron", "attribute", "tau", "q_value", "q_value_bh", "rank"], "neuron_rsa")
    n_neurons = t["neuron"].nunique()
    attrs = list(pd.unique(t["attribute"]))
    rows = []
    for a in attrs:
        g = t[t["attribute"] == a]
        top = g.sort_values(["rank", "tau"], ascending=[True, False]).head(n_top)
        tops = ", ".join(f"{int(n)} ({fmt_stat(x, 2, True)})"
                         for n, x in zip(top["neuron"], top["tau"]))
        rows.append([a, fmt_int(count(g["q_value"] < ALPHA_NEURON)),
                     fmt_int(count(g["q_value_bh"] < ALPHA_NEURON)), tops])
    out = ["Neuron searchlight RSA: Kendall tau-b of each neuron's RDM with each attribute RDM "
           "(one-sided)",
           f"{n_neurons} neurons x {len(attrs)} attributes = {len(t)} tests", "",
           text_table(["attribute", "q < .01 (study)", "q < .01 (BH)",
                       f"top {n_top} neurons (tau)"], rows),
           "", p_method_note("study FDR"), p_method_note("BH q")]
    return "\n".join(out)


def _masking_grouped(t: pd.DataFrame, key: str, label: str, name: str, k=None,
                     **_) -> str:
    require(t, ["k", key, "estimate", "statistic", "df", "p_value", "conf_low", "conf_high",
                 "q_value", "q_value_bh"], name)
    n_units = t[key].nunique()
    counts = []
    for kk, g in t.groupby("k", sort=True):
        drop = g["estimate"] > 0
        counts.append([fmt_int(kk), f"{count(drop & (g['q_value'] < ALPHA_MASKING))}/{len(g)}",
                       f"{count(drop & (g['q_value_bh'] < ALPHA_MASKING))}/{len(g)}",
                       pts(g["estimate"].mean(), 2)])
    kk = pick_k(t, k)
    g = t[t["k"] == kk].sort_values("estimate", ascending=False)
    perm = "p_value_perm" in g.columns
    rows = []
    for _, r in g.iterrows():
        row = [r[key], pts(r["estimate"]), fmt_ci(100 * r["conf_low"], 100 * r["conf_high"], 1),
               fmt_num(r["statistic"], 2), fmt_df(r["df"]), fmt_p(r["p_value"], None),
               fmt_p(r["q_value"], None), fmt_p(r["q_value_bh"], None)]
        if perm:
            row.append(fmt_p(r["p_value_perm"], None))
        rows.append(row)
    head = [label, "drop (pts)", "95% CI", "t", "df", "p", "q", "q (BH)"] + (
        ["p (perm)"] if perm else [])
    unit = (f"; replicates: {t['unit'].iloc[0].split(' (')[0]} rows"
            if "unit" in t.columns and len(t) else "")
    out = [f"The study's test, by {label}: one-sided paired t of the extra drop (random - "
           f"attribute-mask accuracy, percentage points; positive = the attribute mask hurts "
           f"more; {n_units} {label}s{unit})", "",
           text_table(["k", "drops q < .05 (study)", "drops q < .05 (BH)", "mean drop (pts)"],
                      counts), "",
           f"k = {kk}:", text_table(head, rows), "",
           "p: one-sided t (greater: the study's attribute < random); CI two-sided; the masks "
           "are not units here (see the mixed model of record). " + p_method_note("study FDR")]
    return "\n".join(out)


def _masking_cells(t: pd.DataFrame, max_rows: int = 40, **_) -> str:
    require(t, ["k", "concept", "attribute", "estimate", "statistic", "df", "p_value",
                 "q_value"], "masking_cells")
    sig = t[(t["q_value"] < ALPHA_MASKING).fillna(False) & (t["estimate"] > 0)]
    sig = sig.sort_values(["k", "q_value", "estimate"], ascending=[True, True, False])
    counts = [[fmt_int(kk), f"{count((g['q_value'] < ALPHA_MASKING) & (g['estimate'] > 0))}"
               f"/{len(g)}"] for kk, g in t.groupby("k", sort=True)]
    rows = [[fmt_int(r["k"]), r["concept"], r["attribute"], pts(r["estimate"]),
             fmt_num(r["statistic"], 2), fmt_df(r["df"]), fmt_p(r["p_value"], None),
             fmt_p(r["q_value"], None)] for _, r in sig.head(max_rows).iterrows()]
    out = ["Masking cells (concept x attribute x k), the study's test: one-sided paired t over "
           "templates of the extra drop; significant drops only (study FDR q < .05)", "",
           text_table(["k", "significant cells"], counts), ""]
    if rows:
        out.append(text_table(["k", "concept", "attribute", "drop (pts)", "t", "df", "p", "q"],
                              rows, left=3))
        if len(sig) > max_rows:
            out.append(f" ... and {len(sig) - max_rows} more")
    else:
        out.append(" no significant cells")
    out += ["", p_method_note("study FDR")]
    return "\n".join(out)


def _importance_link(t: pd.DataFrame, **_) -> str:
    require(t, ["k", "test", "role", "estimate", "conf_low", "conf_high", "statistic", "df",
                "p_value"], "importance_link")
    label = {"study_t": "t over concepts", "attribute_permutation": "attribute permutation",
             "attribute_level_r": "attribute-level r"}
    rows = [[fmt_int(r["k"]), label.get(r["test"], r["test"]), str(r["role"]),
             fmt_stat(r["estimate"], 3, True),
             fmt_ci(r["conf_low"], r["conf_high"], 3, True) if not is_nan(r["conf_low"]) else "",
             fmt_num(r["statistic"], 2), fmt_df(r["df"]) if not is_nan(r["df"]) else "",
             fmt_p(r["p_value"], None)]
            for _, r in t.sort_values("k", kind="stable").iterrows()]
    notes = [f"{label.get(x, x)}: {m}" for x, m in
             t.drop_duplicates("test")[["test", "p_method"]].itertuples(index=False)]
    return "\n".join([
        "Accuracy drop vs human attribute importance (r of drop = random - attribute accuracy "
        "with importance)", "",
        text_table(["k", "test", "role", "r", "95% CI", "statistic", "df", "p"], rows, left=3),
        ""]
        + notes)


def _dip_test(t: pd.DataFrame, **_) -> str:
    require(t, ["k", "attribute", "statistic", "p_value"], "dip_test")
    counts, sig_rows = [], []
    for kk, g in t.groupby("k", sort=True):
        s = g[(g["p_value"] < 0.05).fillna(False)]
        counts.append([fmt_int(kk), f"{len(s)}/{len(g)}",
                       ", ".join(s.sort_values("p_value")["attribute"]) or "-"])
        sig_rows += [[fmt_int(kk), r["attribute"], fmt_num(r["statistic"], 4),
                      fmt_p(r["p_value"], None)] for _, r in s.iterrows()]
    out = ["Hartigan's dip test of unimodality of the concepts' mean accuracy differences", "",
           text_table(["k", "p < .05", "attributes"], counts)]
    if sig_rows:
        out += ["", text_table(["k", "attribute", "D", "p"], sig_rows, left=2)]
    return "\n".join(out)


def _whole_model_rsa(t: pd.DataFrame, **_) -> str:
    require(t, ["estimate", "conf_low", "conf_high", "p_value"], "whole_model_rsa")
    lines = ["Whole-model RSA: Kendall tau, human RDM vs model RDM (1 - cosine)"]
    for _, r in t.iterrows():
        label = f" {r['model']}: " if "model" in t.columns else " "
        lines.append(f"{label}tau = {fmt_stat(r['estimate'], 3, True)}, 95% CI "
                     f"{fmt_ci(r['conf_low'], r['conf_high'], 3, True)}, "
                     f"{fmt_p(r['p_value'])}")
    return "\n".join(lines)


def _masking_mixed_model(t: pd.DataFrame, k=None, **_) -> str:
    require(t, ["k", "model", "role", "effect", "group", "term", "estimate", "std_error",
                "statistic", "df", "p_value", "p_method", "status"], "masking_mixed_model")
    keys = [c for c in ("task", "model") if c in t.columns]
    fixed = t[(t["effect"] == "fixed") & (t["term"] != "(Intercept)")]
    fixed = fixed.sort_values(keys + ["k", "term"])
    est = fmt_col(fixed["estimate"], 4, ref=np.median)
    se = fmt_col(fixed["std_error"], 4, ref=np.median)
    rows = [[str(r[c]) for c in keys] + [fmt_int(r["k"]), r["term"], est[i], se[i],
                                         fmt_num(r["statistic"], 2), fmt_df(r["df"]),
                                         fmt_pval_r(r["p_value"]), r["p_method"] or "",
                                         r["status"]]
            for i, (_, r) in enumerate(fixed.iterrows())]
    out = ["Mixed models of masking: estimate of attribute_vs_random = random - attribute-mask "
           "outcome (positive = the attribute mask hurts more)"]
    if "formula" in t.columns:
        for m, g in t.drop_duplicates(keys).iterrows():
            role = f" [{g['role']}]"
            out.append(f"  {g['model']}{role}: {g['formula']}")
    out += ["", text_table(keys + ["k", "term", "Estimate", "Std. Error", "t/z", "df",
                                   "Pr(>|t|)", "p method", "status"], rows)]
    kk = pick_k(t, k)
    for _, m in t[t["k"] == kk].drop_duplicates(keys).iterrows():
        sel = (t["k"] == kk)
        for c in keys:
            sel &= t[c] == m[c]
        g = t[sel]
        rrows = []
        for _, r in g[g["effect"] == "ran_pars"].iterrows():
            name = r["term"].split("__", 1)[-1]
            if r["term"].startswith("sd__"):
                rrows.append([r["group"], "" if name == "Observation" else name,
                              fmt_num(r["estimate"] ** 2, 6), fmt_num(r["estimate"], 5)])
        out += ["", f"k = {kk}, {' '.join(str(m[c]) for c in keys)}: random effects"]
        if rrows:
            out.append(text_table(["Groups", "Name", "Variance", "Std.Dev."], rrows, left=2))
        msgs = [x for x in g.get("message", pd.Series(dtype=str)).dropna().unique() if x]
        out += [f"  note: {x}" for x in msgs]
    methods = [m for m in t["p_method"].dropna().unique() if m]
    out += [""] + [p_method_note(m) for m in methods]
    return "\n".join(out)


def _masking_mixed_glance(t: pd.DataFrame, **_) -> str:
    require(t, ["k", "nobs", "logLik", "converged"], "masking_mixed_glance")
    keys = [c for c in ("task", "model") if c in t.columns]
    sing = "singular" if "singular" in t.columns else "boundary"
    rows = [[str(r[c]) for c in keys]
            + [fmt_int(r["k"]), fmt_int(r["nobs"]), fmt_num(r["logLik"], 2),
               "yes" if r["converged"] else "NO", "yes" if r.get(sing, False) else "no",
               str(r.get("status", "")), str(r.get("message", "") or "")]
            for _, r in t.sort_values(keys + ["k"]).iterrows()]
    return "\n".join(["Mixed-model fits", "",
                      text_table(keys + ["k", "nobs", "logLik", "converged", "singular",
                                         "status", "message"], rows)])


def _attribute_vs_null(t: pd.DataFrame, k=None, **_) -> str:
    require(t, ["k", "attribute", "estimate", "statistic", "df", "p_value", "q_value_bh",
                 "p_value_perm", "p_min_perm"], "attribute_vs_null")
    kk = pick_k(t, k)
    g = t[t["k"] == kk].sort_values("estimate", ascending=False)
    rows = [[r["attribute"], pts(r["estimate"]), fmt_num(r["statistic"], 2), fmt_df(r["df"]),
             fmt_p(r["p_value"], None), fmt_p(r["q_value_bh"], None),
             fmt_p(r["p_value_perm"], None)] for _, r in g.iterrows()]
    counts = [[fmt_int(k2), f"{count(x['q_value_bh'] < 0.05)}/{len(x)}"]
              for k2, x in t.groupby("k", sort=True)]
    n_null = int(g["n_null"].iloc[0]) if "n_null" in g.columns and len(g) else 0
    return "\n".join([
        "Each attribute mask against the random masks: extra drop vs the random masks' mean, "
        f"Crawford & Howell's t on n_null - 1 df ({n_null} random masks)", "",
        text_table(["k", "BH q < .05"], counts), "", f"k = {kk}:",
        text_table(["attribute", "extra drop (pts)", "t", "df", "p", "q (BH)", "p (rank)"],
                   rows), "",
        f"q: BH over attributes x k. p (rank): smallest attainable "
        f"{fmt_p(g['p_min_perm'].min() if len(g) else np.nan, None)}."])


def _task_chance(t: pd.DataFrame, **_) -> str:
    from emostat.analysis.masking.experiment import chance_statement

    require(t, ["task", "n_items", "accuracy", "chance", "p_value", "interpretable"],
             "task_chance")
    return "\n".join(["Tasks against chance (exact one-sided binomial test)"]
                     + [" " + chance_statement(r) for _, r in t.iterrows()])


def _power(t: pd.DataFrame, **_) -> str:
    require(t, ["k", "n_attribute_masks", "n_random_masks", "detectable", "p_min_rank",
                 "p_min_label", "ruled_out"], "power")
    keys = ["task"] if "task" in t.columns else []
    rows = [[str(r[c]) for c in keys]
            + [fmt_int(r["k"]), fmt_int(r["n_attribute_masks"]), fmt_int(r["n_random_masks"]),
               pts(r["detectable"]), fmt_p(r["p_min_rank"], None),
               fmt_p(r["p_min_label"], None), pts(r["ruled_out"])]
            for _, r in t.sort_values(keys + ["k"]).iterrows()]
    return "\n".join([
        "Precision of the masking design: smallest extra drop detectable with 80% power "
        "(alpha .05, simulated at the mask level), smallest attainable permutation p, and the "
        "extra drop ruled out (upper 95% bound of the record estimate)", "",
        text_table(keys + ["k", "attribute masks", "random masks", "detectable (pts)",
                           "min p (rank)", "min p (labels)", "ruled out (pts)"], rows)])


def _design(t: pd.DataFrame, k=None, **_) -> str:
    require(t, ["label", "items_per_concept", "n_attribute_masks", "n_random_masks", "rows",
                "test", "detectable", "p_floor", "alpha_corrected", "feasible"], "design")
    kk = pick_k(t, k)
    g = t[(t["k"] == kk) & (t["label"].fillna("") != "")]
    rows = []
    for _, r in g.iterrows():
        rows.append([r["label"], fmt_int(r["items_per_concept"]),
                     f"{fmt_int(r['n_attribute_masks'])}+{fmt_int(r['n_random_masks'])}",
                     fmt_int(r["rows"]), r["test"], fmt_num(r["detectable"], 3),
                     fmt_p(r["p_floor"], None), fmt_p(r["alpha_corrected"], None),
                     "yes" if r["feasible"] else "no"])
    return "\n".join([
        "The design table (closed form from the record GLMM's variance components; detectable "
        "effects at 80% power: masking and per attribute in log-odds, link as r, chance as "
        "accuracy)", "",
        text_table(["design", "items/concept", "masks", "rows", "test", "detectable",
                    "floor", "judged at", "decides all"], rows)])


def _generic(t: pd.DataFrame, name: str, max_rows: int = 10, **_) -> str:
    rows = []
    for _, r in t.head(max_rows).iterrows():
        row = []
        for c in t.columns:
            v = r[c]
            if isinstance(v, (float, np.floating)):
                row.append(fmt_num(v, 3))
            else:
                row.append(NA if v is None or v is pd.NA else str(v))
        rows.append(row)
    out = [f"{name}: {len(t)} rows x {t.shape[1]} columns", "",
           text_table(list(map(str, t.columns)), rows)]
    if len(t) > max_rows:
        out.append(f" ... and {len(t) - max_rows} more rows")
    return "\n".join(out)


def _neuron_count_null(t: pd.DataFrame, **_) -> str:
    require(t, ["attribute", "count", "statistic", "null_mean", "p_value", "n_perm"],
             "neuron_count_null")
    w = t.pivot(index="attribute", columns="count", values=["statistic", "null_mean", "p_value"])
    attrs = list(dict.fromkeys(t["attribute"]))
    rows = []
    for a in attrs:
        row = [a]
        for c in ("significant", "selective"):
            if ("statistic", c) in w.columns:
                row += [fmt_int(w.loc[a, ("statistic", c)]), fmt_num(w.loc[a, ("null_mean", c)], 0),
                        fmt_p(w.loc[a, ("p_value", c)], None)]
        rows.append(row)
    n = int(t["n_perm"].iloc[0])
    head = ["attribute"] + [f"{c} {x}" for c in ("significant", "selective")
                            if c in set(t["count"]) for x in ("n", "null mean", "p")]
    return "\n".join([
        "Counts of attribute neurons (study q < .01) against a concept-label permutation null",
        "", text_table(head, rows), "",
        f"p: {_first(t, 'p_method', 'permutation')}; {n} permutations, smallest attainable p "
        f"{fmt_p(1 / (n + 1), None)}."])


_SUMMARIES = {
    "claims": lambda t, **kw: headline(t, all_k=True),
    "neuron_count_null": _neuron_count_null,
    "attribute_importance": _attribute_importance,
    "neuron_rsa": _neuron_rsa,
    "masking_by_emotion": lambda t, **kw: _masking_grouped(t, "concept", "concept",
                                                           "masking_by_emotion", **kw),
    "masking_by_attribute": lambda t, **kw: _masking_grouped(t, "attribute", "attribute",
                                                             "masking_by_attribute", **kw),
    "masking_cells": _masking_cells,
    "importance_link": _importance_link,
    "dip_test": _dip_test,
    "whole_model_rsa": _whole_model_rsa,
    "masking_mixed_model": _masking_mixed_model,
    "masking_mixed_glance": _masking_mixed_glance,
    "attribute_vs_null": _attribute_vs_null,
    "task_chance": _task_chance,
    "power": _power,
    "design": _design,
}


def summarize(name: str, table: pd.DataFrame, **options) -> str:
    """An R-style console summary of results table ``name``.

    Parameters
    ----------
    name : str
        A results table name of :mod:`emostat.schemas` (e.g. ``"masking_by_emotion"``); tables
        without a dedicated layout print their first rows.
    table : pandas.DataFrame
    **options
        ``k`` (the k shown in detail; default the largest: pass the run's headline k),
        ``n_top`` (neuron_rsa), ``max_rows`` (masking_cells and the generic layout).

    Returns
    -------
    str
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"summary of {name!r}: expected a DataFrame, got {type(table).__name__}")
    if table.empty:
        return f"{name}: empty table"
    fn = _SUMMARIES.get(name)
    if fn is None:
        return _generic(table, name, **{k: v for k, v in options.items() if k == "max_rows"})
    return fn(table, **options)
