"""R-style console summaries of results tables, and the headline block of ``emostat reproduce``.

Views of the data only: every number comes from a results table (schemas in
:mod:`emostat.schemas`) and is formatted by :mod:`emostat.format`. Extra columns are ignored;
a missing required column is an :class:`~emostat.errors.InputError` naming it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from emostat.constants import K_HEADLINE
from emostat.errors import InputError
from emostat.format import (NA, apa_t, apa_z, fmt_ci, fmt_df, fmt_int, fmt_num, fmt_p,
                            fmt_pct, fmt_stat, p_method_note)

ALPHA_MASKING = 0.05   # the study's q < .05 for the masking tables
ALPHA_NEURON = 0.01    # the study's q < .01 for the searchlight


# ---- small text helpers -------------------------------------------------------------------------
def text_table(header: list[str], rows: list[list[str]], left: int = 1, indent: str = " ") -> str:
    """Columns padded to a common width; the first ``left`` columns left-aligned (labels), the
    rest right-aligned (numbers), as R prints data frames."""
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[c]) for r in cells) for c in range(len(header))]
    lines = []
    for r in cells:
        parts = [r[c].ljust(widths[c]) if c < left else r[c].rjust(widths[c])
                 for c in range(len(header))]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def _require(table: pd.DataFrame, cols, name: str) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise InputError(f"summary of {name!r}: table lacks column(s) {missing} "
                         f"(has {list(table.columns)})")


def _pick_k(table: pd.DataFrame, k=None) -> int:
    ks = sorted(int(x) for x in pd.unique(table["k"].dropna()))
    if not ks:
        raise InputError("summary: the table has no k values")
    if k is not None:
        return int(k)
    return K_HEADLINE if K_HEADLINE in ks else ks[-1]


def _pts(x, digits: int = 1) -> str:
    """A proportion difference in percentage points."""
    return NA if _nan(x) else fmt_num(100 * float(x), digits)


def _nan(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def _count(mask: pd.Series) -> int:
    return int(mask.fillna(False).astype(bool).sum())


# ---- R-style numbers ----------------------------------------------------------------------------
def fmt_pval_r(p) -> str:
    """p as R's ``format.pval(p, digits = 3)``: ``<2e-16`` below machine epsilon, otherwise
    3 significant digits, fixed or scientific whichever is shorter (``0.0234``, ``5.62e-38``)."""
    if _nan(p):
        return NA
    p = float(p)
    if p < 2.220446e-16:
        return "<2e-16"
    sci = f"{p:.2e}"
    mant, exp = sci.split("e")
    sci = f"{mant.rstrip('0').rstrip('.')}e{exp[0]}{exp[1:].lstrip('0').rjust(2, '0')}"
    dec = max(0, 2 - int(math.floor(math.log10(p)))) if p > 0 else 0
    fixed = f"{p:.{dec}f}".rstrip("0").rstrip(".") if "." in f"{p:.{dec}f}" else f"{p:.{dec}f}"
    return fixed if len(fixed) <= len(sci) else sci


def _col_decimals(values, sig: int, cap: int = 8, ref=min) -> int:
    """Decimals so that the ``ref`` (min, or e.g. np.median) non-zero |value| shows ``sig``
    significant digits."""
    v = [abs(float(x)) for x in values if not _nan(x) and float(x) != 0]
    if not v:
        return 2
    return int(min(cap, max(0, sig - 1 - math.floor(math.log10(ref(v))))))


def _fmt_col(values, sig: int = 5, ref=min) -> list[str]:
    """One number format for a whole column, as R prints a column."""
    d = _col_decimals(values, sig, ref=ref)
    return [fmt_num(x, d) for x in values]


# ---- per-table summaries ------------------------------------------------------------------------
def _attribute_importance(t: pd.DataFrame, **_) -> str:
    _require(t, ["attribute", "estimate", "conf_low", "conf_high", "p_value"],
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
    n_sig = _count(t["p_value"] < 0.05)
    out = ["Attribute importance: Kendall tau-b, mean human RDM vs attribute RDM",
           f"Mantel p < .05: {n_sig} of {len(t)} attributes"
           + (f" (study's bootstrap share <= 0 below .05: "
              f"{_count(t['boot_share_le0'] < 0.05)} of {len(t)})" if share else ""), "",
           text_table(head, rows), "",
           "p: " + str(_first(t, "p_method", "Mantel emotion-label permutation")) + ". CI: "
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
    _require(t, ["neuron", "attribute", "tau", "q_value", "q_value_bh", "rank"], "neuron_rsa")
    n_neurons = t["neuron"].nunique()
    attrs = list(pd.unique(t["attribute"]))
    rows = []
    for a in attrs:
        g = t[t["attribute"] == a]
        top = g.sort_values(["rank", "tau"], ascending=[True, False]).head(n_top)
        tops = ", ".join(f"{int(n)} ({fmt_stat(x, 2, True)})"
                         for n, x in zip(top["neuron"], top["tau"]))
        rows.append([a, fmt_int(_count(g["q_value"] < ALPHA_NEURON)),
                     fmt_int(_count(g["q_value_bh"] < ALPHA_NEURON)), tops])
    out = ["Neuron searchlight RSA: Kendall tau-b of each neuron's RDM with each attribute RDM "
           "(one-sided)",
           f"{n_neurons} neurons x {len(attrs)} attributes = {len(t)} tests", "",
           text_table(["attribute", "q < .01 (study)", "q < .01 (BH)",
                       f"top {n_top} neurons (tau)"], rows),
           "", p_method_note("study FDR"), p_method_note("BH q")]
    return "\n".join(out)


def _masking_grouped(t: pd.DataFrame, key: str, label: str, name: str, k=None,
                     **_) -> str:
    _require(t, ["k", key, "estimate", "statistic", "df", "p_value", "conf_low", "conf_high",
                 "q_value", "q_value_bh"], name)
    n_units = t[key].nunique()
    counts = []
    for kk, g in t.groupby("k", sort=True):
        drop = g["estimate"] > 0
        counts.append([fmt_int(kk), f"{_count(drop & (g['q_value'] < ALPHA_MASKING))}/{len(g)}",
                       f"{_count(drop & (g['q_value_bh'] < ALPHA_MASKING))}/{len(g)}",
                       _pts(g["estimate"].mean(), 2)])
    kk = _pick_k(t, k)
    g = t[t["k"] == kk].sort_values("estimate", ascending=False)
    perm = "p_value_perm" in g.columns
    rows = []
    for _, r in g.iterrows():
        row = [r[key], _pts(r["estimate"]), fmt_ci(100 * r["conf_low"], 100 * r["conf_high"], 1),
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
    _require(t, ["k", "emotion", "attribute", "estimate", "statistic", "df", "p_value",
                 "q_value"], "masking_cells")
    sig = t[(t["q_value"] < ALPHA_MASKING).fillna(False) & (t["estimate"] > 0)]
    sig = sig.sort_values(["k", "q_value", "estimate"], ascending=[True, True, False])
    counts = [[fmt_int(kk), f"{_count((g['q_value'] < ALPHA_MASKING) & (g['estimate'] > 0))}"
               f"/{len(g)}"] for kk, g in t.groupby("k", sort=True)]
    rows = [[fmt_int(r["k"]), r["emotion"], r["attribute"], _pts(r["estimate"]),
             fmt_num(r["statistic"], 2), fmt_df(r["df"]), fmt_p(r["p_value"], None),
             fmt_p(r["q_value"], None)] for _, r in sig.head(max_rows).iterrows()]
    out = ["Masking cells (emotion x attribute x k), the study's test: one-sided paired t over "
           "templates of the extra drop; significant drops only (study FDR q < .05)", "",
           text_table(["k", "significant cells"], counts), ""]
    if rows:
        out.append(text_table(["k", "emotion", "attribute", "drop (pts)", "t", "df", "p", "q"],
                              rows, left=3))
        if len(sig) > max_rows:
            out.append(f" ... and {len(sig) - max_rows} more")
    else:
        out.append(" no significant cells")
    out += ["", p_method_note("study FDR")]
    return "\n".join(out)


def _importance_link(t: pd.DataFrame, **_) -> str:
    _require(t, ["k", "estimate", "conf_low", "conf_high", "statistic", "df", "p_value"],
             "importance_link")
    if "test" not in t.columns:
        t = t.assign(test="study_t")
    label = {"study_t": "study: t over emotions", "attribute_permutation":
             "record: attribute permutation", "attribute_level_r": "record: attribute-level r"}
    rows = [[fmt_int(r["k"]), label.get(r["test"], r["test"]), fmt_stat(r["estimate"], 3, True),
             fmt_ci(r["conf_low"], r["conf_high"], 3, True) if not _nan(r["conf_low"]) else "",
             fmt_num(r["statistic"], 2), fmt_df(r["df"]) if not _nan(r["df"]) else "",
             fmt_p(r["p_value"], None)]
            for _, r in t.sort_values("k", kind="stable").iterrows()]
    notes = [f"{label.get(x, x)}: {m}" for x, m in
             t.drop_duplicates("test")[["test", "p_method"]].itertuples(index=False)] \
        if "p_method" in t.columns else []
    return "\n".join([
        "Accuracy drop vs human attribute importance (r of drop = random - attribute accuracy "
        "with importance)", "",
        text_table(["k", "test", "r", "95% CI", "statistic", "df", "p"], rows, left=2), ""]
        + notes)


def _dip_test(t: pd.DataFrame, **_) -> str:
    _require(t, ["k", "attribute", "statistic", "p_value"], "dip_test")
    counts, sig_rows = [], []
    for kk, g in t.groupby("k", sort=True):
        s = g[(g["p_value"] < 0.05).fillna(False)]
        counts.append([fmt_int(kk), f"{len(s)}/{len(g)}",
                       ", ".join(s.sort_values("p_value")["attribute"]) or "-"])
        sig_rows += [[fmt_int(kk), r["attribute"], fmt_num(r["statistic"], 4),
                      fmt_p(r["p_value"], None)] for _, r in s.iterrows()]
    out = ["Hartigan's dip test of unimodality of the emotions' mean accuracy differences", "",
           text_table(["k", "p < .05", "attributes"], counts)]
    if sig_rows:
        out += ["", text_table(["k", "attribute", "D", "p"], sig_rows, left=2)]
    return "\n".join(out)


def _whole_model_rsa(t: pd.DataFrame, **_) -> str:
    _require(t, ["estimate", "conf_low", "conf_high", "p_value"], "whole_model_rsa")
    lines = ["Whole-model RSA: Kendall tau, human RDM vs model RDM (1 - cosine)"]
    for _, r in t.iterrows():
        label = f" {r['model']}: " if "model" in t.columns else " "
        lines.append(f"{label}tau = {fmt_stat(r['estimate'], 3, True)}, 95% CI "
                     f"{fmt_ci(r['conf_low'], r['conf_high'], 3, True)}, "
                     f"{fmt_p(r['p_value'])}")
    return "\n".join(lines)


def _masking_mixed_model(t: pd.DataFrame, k=None, **_) -> str:
    _require(t, ["k", "effect", "group", "term", "estimate", "std_error", "statistic",
                 "p_value"], "masking_mixed_model")
    t = t.copy()
    for c, v in (("model", "model"), ("p_method", "Wald z"), ("status", "ok"), ("df", np.nan)):
        if c not in t.columns:
            t[c] = v
    keys = [c for c in ("task", "model") if c in t.columns]
    fixed = t[(t["effect"] == "fixed") & (t["term"] != "(Intercept)")]
    fixed = fixed.sort_values(keys + ["k", "term"])
    est = _fmt_col(fixed["estimate"], 4, ref=np.median)
    se = _fmt_col(fixed["std_error"], 4, ref=np.median)
    rows = [[str(r[c]) for c in keys] + [fmt_int(r["k"]), r["term"], est[i], se[i],
                                         fmt_num(r["statistic"], 2), fmt_df(r["df"]),
                                         fmt_pval_r(r["p_value"]), r["p_method"] or "",
                                         r["status"]]
            for i, (_, r) in enumerate(fixed.iterrows())]
    out = ["Mixed models of masking: estimate of attribute_vs_random = random - attribute-mask "
           "outcome (positive = the attribute mask hurts more)"]
    if "formula" in t.columns:
        for m, g in t.drop_duplicates(keys).iterrows():
            role = f" [{g['role']}]" if "role" in t.columns else ""
            out.append(f"  {g['model']}{role}: {g['formula']}")
    out += ["", text_table(keys + ["k", "term", "Estimate", "Std. Error", "t/z", "df",
                                   "Pr(>|t|)", "p method", "status"], rows)]
    kk = _pick_k(t, k)
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
    _require(t, ["k", "nobs", "logLik", "converged"], "masking_mixed_glance")
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
    _require(t, ["k", "attribute", "estimate", "statistic", "df", "p_value", "q_value_bh",
                 "p_value_perm", "p_min_perm"], "attribute_vs_null")
    kk = _pick_k(t, k)
    g = t[t["k"] == kk].sort_values("estimate", ascending=False)
    rows = [[r["attribute"], _pts(r["estimate"]), fmt_num(r["statistic"], 2), fmt_df(r["df"]),
             fmt_p(r["p_value"], None), fmt_p(r["q_value_bh"], None),
             fmt_p(r["p_value_perm"], None)] for _, r in g.iterrows()]
    counts = [[fmt_int(k2), f"{_count(x['q_value_bh'] < 0.05)}/{len(x)}"]
              for k2, x in t.groupby("k", sort=True)]
    n_null = int(g["n_null"].iloc[0]) if "n_null" in g.columns and len(g) else 0
    return "\n".join([
        "Each attribute mask against the random masks (record): extra drop vs the random "
        f"masks' mean, prediction-interval t on n_null - 1 df ({n_null} random masks)", "",
        text_table(["k", "BH q < .05"], counts), "", f"k = {kk}:",
        text_table(["attribute", "extra drop (pts)", "t", "df", "p", "q (BH)", "p (rank)"],
                   rows), "",
        f"q: BH over attributes x k. p (rank): smallest attainable "
        f"{fmt_p(g['p_min_perm'].min() if len(g) else np.nan, None)}."])


def _task_chance(t: pd.DataFrame, **_) -> str:
    from emostat.analysis.experiment import chance_statement

    _require(t, ["task", "n_items", "accuracy", "chance", "p_value", "interpretable"],
             "task_chance")
    return "\n".join(["Tasks against chance (exact one-sided binomial test)"]
                     + [" " + chance_statement(r) for _, r in t.iterrows()])


def _power(t: pd.DataFrame, **_) -> str:
    _require(t, ["k", "n_attribute_masks", "n_random_masks", "detectable", "p_min_rank",
                 "p_min_label", "ruled_out"], "power")
    keys = ["task"] if "task" in t.columns else []
    rows = [[str(r[c]) for c in keys]
            + [fmt_int(r["k"]), fmt_int(r["n_attribute_masks"]), fmt_int(r["n_random_masks"]),
               _pts(r["detectable"]), fmt_p(r["p_min_rank"], None),
               fmt_p(r["p_min_label"], None), _pts(r["ruled_out"])]
            for _, r in t.sort_values(keys + ["k"]).iterrows()]
    return "\n".join([
        "Precision of the masking design: smallest extra drop detectable with 80% power "
        "(alpha .05, simulated at the mask level), smallest attainable permutation p, and the "
        "extra drop ruled out (upper 95% bound of the record estimate)", "",
        text_table(keys + ["k", "attribute masks", "random masks", "detectable (pts)",
                           "min p (rank)", "min p (labels)", "ruled out (pts)"], rows)])


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
    _require(t, ["attribute", "count", "statistic", "null_mean", "p_value", "n_perm"],
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
        "Counts of attribute neurons (study q < .01) against an emotion-label permutation null",
        "", text_table(head, rows), "",
        f"p: {_first(t, 'p_method', 'permutation')}; {n} permutations, smallest attainable p "
        f"{fmt_p(1 / (n + 1), None)}."])


_SUMMARIES = {
    "neuron_count_null": _neuron_count_null,
    "attribute_importance": _attribute_importance,
    "neuron_rsa": _neuron_rsa,
    "masking_by_emotion": lambda t, **kw: _masking_grouped(t, "emotion", "emotion",
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
        ``k`` (the k shown in detail; default 4000 or the largest), ``n_top`` (neuron_rsa),
        ``max_rows`` (masking_cells and the generic layout).

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


# ---- headline -----------------------------------------------------------------------------------
ALPHA_CLAIM = 0.05     # the level at which the headline calls a test significant (both kinds)


def headline(results: dict[str, pd.DataFrame], k: int = K_HEADLINE) -> str:
    """The short block of headline results that ``emostat reproduce`` prints.

    First the descriptive lines of whichever tables are present (importance, searchlight,
    masking by emotion/attribute, dip test, whole-model RSA), then, for each of the study's
    three claims, the study's statistic beside the design-correct one (``docs/inference.md``)
    and one sentence, written from those numbers, saying which conclusion survives.
    """
    lines = [f"Headline results (k = {k})"]

    t = results.get("attribute_importance")
    if t is not None and len(t):
        top = t.sort_values("estimate", ascending=False).head(2)
        best = ", ".join(f"{a} tau = {fmt_stat(e, 2, True)}"
                         for a, e in zip(top["attribute"], top["estimate"]))
        parts = []
        if t["p_value"].notna().any():
            parts.append(f"{_count(t['p_value'] < ALPHA_CLAIM)}/{len(t)} attributes with Mantel "
                         "p < .05")
        if "boot_share_le0" in t.columns and t["boot_share_le0"].notna().any():
            parts.append(f"study's bootstrap share <= 0 below .05: "
                         f"{_count(t['boot_share_le0'] < ALPHA_CLAIM)}/{len(t)}")
        lines.append(f"Human attribute importance: {'; '.join(parts) or f'{len(t)} attributes'}"
                     f"; strongest: {best}")

    t = results.get("neuron_rsa")
    if t is not None and len(t):
        lines.append(f"Neuron searchlight: {_count(t['q_value'] < ALPHA_NEURON)} of {len(t)} "
                     f"neuron x attribute tests significant (study FDR q < .01; BH: "
                     f"{_count(t['q_value_bh'] < ALPHA_NEURON)})")

    for name, unit in (("masking_by_emotion", "emotion"), ("masking_by_attribute", "attribute")):
        t = results.get(name)
        if t is None or not len(t):
            continue
        g = t[t["k"] == k]
        if g.empty:
            continue
        # estimate = accuracy(random) - accuracy(attribute): positive = extra drop
        sig = g[(g["q_value"] < ALPHA_MASKING).fillna(False) & (g["estimate"] > 0)]
        line = (f"Attribute-specific vs random masking (k = {k}): {len(sig)}/{len(g)} {unit}s "
                f"drop significantly (study's paired t, FDR q < .05)")
        if len(sig):
            r = sig.sort_values("estimate", ascending=False).iloc[0]
            line += (f"; largest drop: {r[unit]} {_pts(r['estimate'])} points, "
                     f"{apa_t(r['statistic'], r['df'], r['p_value'])}")
        lines.append(line)
        if unit == "emotion" and {"acc_none", "acc_random", "acc_attribute"} <= set(g.columns):
            lines.append(f"Mean accuracy (k = {k}): unmanipulated {fmt_pct(g['acc_none'].mean())}"
                         f", random {fmt_pct(g['acc_random'].mean())}, attribute-specific "
                         f"{fmt_pct(g['acc_attribute'].mean())}")

    t = results.get("dip_test")
    if t is not None and len(t):
        g = t[t["k"] == k]
        if len(g):
            s_ = g[(g["p_value"] < 0.05).fillna(False)]
            names = ", ".join(s_["attribute"]) if len(s_) else "none"
            lines.append(f"Dip test (k = {k}): {len(s_)}/{len(g)} attributes depart from "
                         f"unimodality (p < .05): {names}")

    t = results.get("whole_model_rsa")
    if t is not None and len(t):
        r = t.iloc[0]
        ci = (f"95% CI {fmt_ci(r['conf_low'], r['conf_high'], 3, True)}"
              if not (_nan(r["conf_low"]) or _nan(r["conf_high"]))
              else "no CI (no participants to resample)")
        lines.append(f"Whole-model RSA: tau = {fmt_stat(r['estimate'], 3, True)}, {ci}, "
                     f"{fmt_p(r['p_value'])}"
                     + (" (Mantel)" if str(r.get("p_method", "")).startswith("Mantel") else ""))

    claims = [c for c in (_claim_neurons(results), _claim_masking(results, k),
                          _claim_link(results, k)) if c]
    if claims:
        lines += ["", "The study's claims: the study's test | the design-correct test "
                      "(docs/inference.md)"]
        for c in claims:
            lines += c
    if len(lines) == 1:
        lines.append("(no results tables)")
    return "\n".join(lines)


def _verdict(claim: str, study: bool | None, record: bool | None, detail: str) -> str:
    """One sentence from the two decisions (None = that test is absent)."""
    if record is None:
        how = ("has only the study's test, which supports it" if study
               else "has only the study's test, which does not support it")
    elif study is None:
        how = ("is supported by the design-correct test" if record
               else "is not supported by the design-correct test")
    elif study and record:
        how = "survives: the design-correct test agrees with the study's"
    elif study and not record:
        how = "does not survive: the study's test supports it, the design-correct test does not"
    elif record:
        how = "holds under the design-correct test, although the study's test does not support it"
    else:
        how = "is supported by neither test"
    return f"  => {claim} {how}{detail}."


def _sig(p, alpha: float = ALPHA_CLAIM) -> bool:
    return not _nan(p) and float(p) <= alpha


def _claim_neurons(results) -> list[str] | None:
    rsa = results.get("neuron_rsa")
    null = results.get("neuron_count_null")
    if (rsa is None or not len(rsa)) and (null is None or not len(null)):
        return None
    out = ["1. Attribute neurons exist (neurons whose RDM tracks an attribute's)"]
    study = record = None
    n_attr = None
    if rsa is not None and len(rsa):
        per = rsa.assign(sig=(rsa["q_value"] < ALPHA_NEURON).fillna(False)).groupby(
            "attribute", sort=False)["sig"].sum()
        n_attr = len(per)
        study_n = int((per > 0).sum())
        study = study_n > 0
        out.append(f"   study:  {fmt_int(int(per.sum()))} neuron x attribute tests with q < .01 "
                   f"(Kendall normal approximation, 351 pairs as independent); {study_n} of "
                   f"{n_attr} attributes have such neurons")
    rec_n = None
    if null is not None and len(null):
        for count in ("significant", "selective"):
            g = null[null["count"] == count]
            if g.empty:
                continue
            ok = g[g["p_value"].map(_sig)]
            n_perm = int(g["n_perm"].iloc[0])
            out.append(f"   record: the count of {count} neurons exceeds its emotion-label "
                       f"permutation null for {len(ok)} of {len(g)} attributes (p <= .05; "
                       f"{n_perm} permutations, smallest p {fmt_p(1 / (n_perm + 1), None)})")
            if count == "significant":
                rec_n, n_attr = len(ok), len(g)
        record = rec_n > 0 if rec_n is not None else None
    mant = results.get("neuron_mantel")
    if mant is not None and len(mant):
        out.append(f"   record: Mantel p <= .05 for {_count(mant['p_value'] <= ALPHA_CLAIM)} of "
                   f"{len(mant)} best-ranked neurons tested "
                   f"({mant['neuron'].groupby(mant['attribute']).size().iloc[0]} per attribute)")
    detail = (f" ({rec_n} of {n_attr} attributes have more attribute-tracking neurons than "
              "relabelled emotions give)" if rec_n is not None else "")
    out.append(_verdict("the claim that attribute neurons exist", study, record, detail))
    return out


def _mask_rows(t: pd.DataFrame, k: int):
    """(study row, record row) of the attribute-vs-random effect at k, estimate positive =
    attribute masks lower accuracy more. Old tables (no role column): the study-style model's
    ``conditionattribute`` term, sign flipped."""
    g = t[t["k"] == k]
    if "role" in g.columns and (g["term"] == "attribute_vs_random").any():
        g = g[g["term"] == "attribute_vs_random"]
        pick = lambda role: g[g["role"] == role].iloc[0] if (g["role"] == role).any() else None
        return pick("study"), pick("record")
    g = g[g["term"] == "conditionattribute"]
    if g.empty:
        return None, None
    r = g.iloc[0].copy()
    r["estimate"], r["statistic"] = -r["estimate"], -r["statistic"]
    return r, None


def _effect_size(row) -> str:
    """The attribute-vs-random effect in its model's units: accuracy points for an LMM of
    accuracy, log-odds (and odds ratio) for a binomial GLMM, raw units for the margin."""
    fam, outcome = row.get("family", "gaussian"), row.get("outcome", "accuracy")
    if fam == "binomial":
        return (f"{fmt_num(row['estimate'], 2)} log-odds (odds of a correct answer "
                f"x {fmt_num(np.exp(-float(row['estimate'])), 2)} under attribute masks)")
    if isinstance(outcome, str) and outcome not in ("accuracy", ""):
        return f"{fmt_num(row['estimate'], 3)} ({outcome})"
    return f"{_pts(row['estimate'])} points"


def _claim_masking(results, k) -> list[str] | None:
    mm = results.get("masking_mixed_model")
    avn = results.get("attribute_vs_null")
    if (mm is None or not len(mm)) and (avn is None or not len(avn)):
        return None
    out = ["2. Masking attribute neurons hurts more than masking random neurons"]
    study = record = None
    detail = ""
    if mm is not None and len(mm):
        s_, r_ = _mask_rows(mm, k)
        for role, row in (("study", s_), ("record", r_)):
            if row is None:
                continue
            df = row.get("df", np.nan)
            stat = (apa_t(row["statistic"], df, row["p_value"]) if not _nan(df)
                    else apa_z(row["statistic"], row["p_value"]))
            model = row.get("model", "") if "model" in row.index else ""
            size = _effect_size(row)
            out.append(f"   {role}:{' ' if role == 'record' else '  '}extra drop "
                       f"{size}, {stat}"
                       + (f" ({model})" if isinstance(model, str) and model else "")
                       + (f"; {row['p_method']}" if isinstance(row.get("p_method"), str)
                          and row.get("p_method") else ""))
            ok = _sig(row["p_value"]) and float(row["estimate"]) > 0
            if role == "study":
                study = ok
            else:
                record = ok
                detail = f" (mask-level model: {size}, {fmt_p(row['p_value'])})"
    if avn is not None and len(avn) and "k" in avn.columns:
        g = avn[avn["k"] == k]
        if len(g) and "q_value_bh" in g.columns:
            ok = g[(g["q_value_bh"] <= ALPHA_CLAIM).fillna(False) & (g["estimate"] > 0)]
            out.append(f"   record: {len(ok)} of {len(g)} attribute masks lower accuracy more "
                       f"than the population of random masks (BH q <= .05)")
            if record is None:
                record = len(ok) > 0
            detail += f"; {len(ok)} of {len(g)} single attribute masks beat the random masks"
    out.append(_verdict(f"the claim that masking attribute neurons hurts more (k = {k})",
                        study, record, detail))
    return out


def _claim_link(results, k) -> list[str] | None:
    t = results.get("importance_link")
    if t is None or not len(t):
        return None
    g = t[t["k"] == k]
    if g.empty:
        return None
    if "test" not in g.columns:
        g = g.assign(test="study_t")
    rows = {x: r for x, r in zip(g["test"], (r for _, r in g.iterrows()))}
    out = ["3. The hurt tracks how much the attribute matters to humans"]
    study = record = None
    detail = ""
    if "study_t" in rows:
        r = rows["study_t"]
        out.append(f"   study:  mean r = {fmt_stat(r['estimate'], 2, True)}, "
                   f"{apa_t(r['statistic'], r['df'], r['p_value'])} (emotions as replicates)")
        study = _sig(r["p_value"]) and float(r["estimate"]) > 0
    perm, lvl = rows.get("attribute_permutation"), rows.get("attribute_level_r")
    if perm is not None:
        out.append(f"   record: attribute-label permutation p {_eq_p(perm['p_value'])} "
                   f"({fmt_int(perm['n_perm'])} permutations of the importance vector)")
        record = _sig(perm["p_value"]) and float(perm["estimate"]) > 0
    if lvl is not None:
        out.append(f"   record: attribute-level r = {fmt_stat(lvl['estimate'], 2, True)}, "
                   f"95% CI {fmt_ci(lvl['conf_low'], lvl['conf_high'], 2, True)}, "
                   f"{apa_t(lvl['statistic'], lvl['df'], lvl['p_value'])}")
        if record is None:
            record = _sig(lvl["p_value"]) and float(lvl["estimate"]) > 0
    if perm is not None:
        n_att = int(perm.get("n_attributes", 0)) if "n_attributes" in perm.index else 0
        detail = (f" (with the {n_att or ''} attributes as replicates: permutation p "
                  f"{_eq_p(perm['p_value'])})").replace("the  attributes", "the attributes")
    out.append(_verdict(f"the claim that the hurt tracks human importance (k = {k})", study,
                        record, detail))
    return out


def _eq_p(p) -> str:
    s_ = fmt_p(p, None)
    return s_ if s_[:1] in "<>" else f"= {s_}"
