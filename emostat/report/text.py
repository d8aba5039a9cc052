"""Sentences of the reports, built from results tables (every number formatted by
:mod:`emostat.format`, none typed by hand). Each function returns a Markdown string; when its
table is missing it says so instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.report.figures import headline_k
from emostat.report.tables import Markdown, not_available

ALPHA_MASKING = 0.05  # the study's q < .05 for the masking tables
ALPHA_NEURON = 0.01   # the study's q < .01 for the searchlight


def pts(x, digits: int = 1) -> str:
    """A proportion difference as percentage points (``.081`` → ``8.1``)."""
    return fmt.fmt_num(100 * float(x), digits)


def listing(items) -> str:
    """``a, b and c``."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# Which task the single-task sections of the experiment report show, in order of preference:
# 27-way choice is the richer inference test (and the one above chance on small models);
# the study's binary task comes next. Tables without a task column are used as they are.
PRIMARY_TASKS = ("choice", "binary", "generate")


def primary_task(df: pd.DataFrame) -> str:
    """The task the report's single-task sections show (see ``PRIMARY_TASKS``)."""
    present = list(dict.fromkeys(df["task"]))
    return next((t for t in PRIMARY_TASKS if t in present), present[0])


def task_view(df: pd.DataFrame | None, task: str | None = None) -> pd.DataFrame | None:
    """Rows of one task when the table has a ``task`` column (default: :func:`primary_task`)."""
    if df is None or "task" not in df:
        return df
    task = primary_task(df) if task is None else task
    return df[df["task"] == task]


def importance_sentence(imp: pd.DataFrame | None) -> Markdown:
    """Top attributes of the human space and how many have a bootstrap CI above zero."""
    if imp is None:
        return not_available("Attribute importance", "attribute_importance")
    d = imp.sort_values("estimate", ascending=False)
    top = [f"{r.attribute} (τ = {fmt.fmt_stat(r.estimate, 3, bounded=True)}, 95% CI "
           f"{fmt.fmt_ci(r.conf_low, r.conf_high, 3, bounded=True)})" for r in d.head(3).itertuples()]
    sig = d[d["p_value"] < .05]
    nonsig = d[~(d["p_value"] < .05)]["attribute"]
    return Markdown(
        f"The attributes that best match the human dissimilarity space are {listing(top)}. "
        f"Of the {len(d)} attributes, {len(sig)} have a bootstrap p below .05"
        + (f"; not {listing(nonsig)}." if len(nonsig) else "."))


def searchlight_sentence(counts: pd.DataFrame | None, rsa_n: int | None = None) -> Markdown:
    """Significant neurons per attribute (study rule and BH)."""
    if counts is None:
        return not_available("The searchlight summary", "neuron_counts")
    d = counts.sort_values("n_significant", ascending=False)
    most, least = d.iloc[0], d.iloc[-1]
    total = f" of {fmt.fmt_num(rsa_n, 0, big_mark=',')} neurons" if rsa_n else ""
    return Markdown(
        f"At the study's q < .01 (q = p·N/rank(p) over all neuron × attribute tests), "
        f"{most.attribute} has the most significant neurons "
        f"({fmt.fmt_num(most.n_significant, 0, big_mark=',')}{total}) and {least.attribute} "
        f"the fewest ({fmt.fmt_num(least.n_significant, 0, big_mark=',')}). With the "
        f"Benjamini–Hochberg step-up at the same level the counts range from "
        f"{fmt.fmt_num(d['n_significant_bh'].min(), 0, big_mark=',')} to "
        f"{fmt.fmt_num(d['n_significant_bh'].max(), 0, big_mark=',')}.")


def masking_sentence(by_emotion: pd.DataFrame | None, k: int | None = None,
                     n_top: int = 3) -> Markdown:
    """Grand means, number of emotions with a significant drop, the largest drops."""
    if by_emotion is None:
        return not_available("The masking results per emotion", "masking_by_emotion")
    k = headline_k(by_emotion["k"]) if k is None else k
    d = by_emotion[by_emotion["k"] == k].sort_values("estimate")
    sig = d[d["q_value"] < ALPHA_MASKING]
    nonsig = d[~(d["q_value"] < ALPHA_MASKING)]["emotion"]
    means = ""
    if {"acc_none", "acc_random", "acc_attribute"} <= set(d.columns):
        means = (f"Averaged over emotions, accuracy is {fmt.fmt_pct(d['acc_none'].mean(), 2)} "
                 f"without manipulation, {fmt.fmt_pct(d['acc_random'].mean(), 2)} with random "
                 f"masking and {fmt.fmt_pct(d['acc_attribute'].mean(), 2)} with "
                 f"attribute-specific masking (k = {fmt.fmt_num(k, 0, big_mark=',')}). ")
    largest = [f"{r.emotion} {pts(-r.estimate)} points ({fmt.apa_t(r.statistic, r.df, r.p_value)})"
               for r in d.head(n_top).itertuples()]
    return Markdown(
        means + f"Attribute-specific masking lowers accuracy more than random masking for "
        f"{len(sig)} of {len(d)} emotions (one-sided paired t, study's q < .05). The largest "
        f"drops: {listing(largest)}. Not significant: {listing(nonsig)}.")


def link_sentence(link: pd.DataFrame | None, k: int | None = None) -> Markdown:
    """Drop–importance correlation at the headline k and its range over k."""
    if link is None:
        return not_available("The drop–importance link", "importance_link")
    if "test" in link.columns:      # rows per k: study_t and the attribute-level tests
        link = link[link["test"] == "study_t"]
    k = headline_k(link["k"]) if k is None else k
    r = link[link["k"] == k].iloc[0]
    pos = link[(link["estimate"] > 0) & (link["p_value"] < .05)]
    return Markdown(
        f"Emotions lose most accuracy when the masked neurons track attributes that matter "
        f"most to humans: at k = {fmt.fmt_num(k, 0, big_mark=',')} the mean correlation "
        f"between drop and importance is r = {fmt.fmt_stat(r.estimate, 3, bounded=True)}, "
        f"95% CI {fmt.fmt_ci(r.conf_low, r.conf_high, 3, bounded=True)}, "
        f"{fmt.apa_t(r.statistic, r.df, r.p_value)}; it is positive with p < .05 at "
        f"{len(pos)} of {len(link)} values of k.")


def whole_model_sentence(w: pd.DataFrame | None) -> Markdown:
    if w is None:
        return not_available("The whole-model RSA", "whole_model_rsa")
    r = w.iloc[0]
    return Markdown(
        f"Over all neurons at once, the model's emotion RDM correlates with the human one at "
        f"τ = {fmt.fmt_stat(r.estimate, 3, bounded=True)}, 95% CI "
        f"{fmt.fmt_ci(r.conf_low, r.conf_high, 3, bounded=True)}, {fmt.fmt_p(r.p_value)}.")


def fdr_sentence(table: pd.DataFrame | None, key: str, k: int | None = None) -> Markdown:
    """How many rows are significant under the study's rule, BH and the permutation p."""
    if table is None:
        return not_available("This comparison", f"masking_by_{key}")
    k = headline_k(table["k"]) if k is None else k
    d = table[table["k"] == k]
    n_study = int((d["q_value"] < ALPHA_MASKING).sum())
    n_bh = int((d["q_value_bh"] < ALPHA_MASKING).sum())
    n_t = int((d["p_value"] < ALPHA_MASKING).sum())
    perm = ""
    if "p_value_perm" in d and d["p_value_perm"].notna().any():
        perm = (f", and {int((d['p_value_perm'] < ALPHA_MASKING).sum())} by the sign-flip "
                f"permutation p alone")
    unit = "emotions" if key == "emotion" else "attributes"
    return Markdown(
        f"At k = {fmt.fmt_num(k, 0, big_mark=',')}, {n_study} of {len(d)} {unit} are "
        f"significant with the study's rule, {n_bh} with the Benjamini–Hochberg step-up "
        f"(both q < .05 over the whole table, all k together), {n_t} by the uncorrected "
        f"t-test p{perm}.")


def null_sentence(vs: pd.DataFrame | None, k: int | None = None) -> Markdown:
    """Attribute masks beyond their random-draw null (experiment runs)."""
    if vs is None:
        return not_available("The random-draw null", "attribute_vs_null")
    vs = task_view(vs)
    k = headline_k(vs["k"]) if k is None else k
    d = vs[vs["k"] == k]
    sig = d[d["p_value_perm"] < .05].sort_values("p_value_perm")["attribute"]
    return Markdown(
        f"At k = {fmt.fmt_num(k, 0, big_mark=',')}, {len(sig)} of {len(d)} attribute masks "
        f"lower accuracy more than the random draws of the same size (permutation p < .05)"
        + (f": {listing(sig)}." if len(sig) else "."))


def baseline_sentence(base: pd.DataFrame | None) -> Markdown:
    if base is None:
        return not_available("Baseline accuracy", "baseline_accuracy")
    parts = []
    for task, d in base.groupby("task", sort=False):
        best, worst = d.loc[d["estimate"].idxmax()], d.loc[d["estimate"].idxmin()]
        parts.append(f"{task}: mean {fmt.fmt_pct(d['estimate'].mean(), 1)} (best "
                     f"{best.emotion} {fmt.fmt_pct(best.estimate, 1)}, worst {worst.emotion} "
                     f"{fmt.fmt_pct(worst.estimate, 1)})")
    return Markdown("Unmanipulated accuracy by task — " + "; ".join(parts) + ".")


def provenance_rows(prov: dict, max_files: int = 12) -> pd.DataFrame:
    """Provenance record → a two-column (Item, Value) frame, nested dicts flattened.

    A dict of more than ``max_files`` path → hash entries is summarised as its count and one
    SHA-256 over the sorted ``path  hash`` lines (as ``sha256sum`` would list them).
    """
    rows = []

    def walk(prefix, v):
        if isinstance(v, dict) and len(v) > max_files and all(
                isinstance(x, str) for x in v.values()):
            # many files -> their count and one digest over "path  sha256" lines (sorted)
            import hashlib

            lines = "".join(f"{k2}  {v2}\n" for k2, v2 in sorted(v.items()))
            digest = hashlib.sha256(lines.encode()).hexdigest()
            rows.append((prefix, f"{len(v)} files; SHA-256 over their sorted hashes: {digest}"))
        elif isinstance(v, dict):
            for k2, v2 in v.items():
                # spaces, not dots, between levels: a long key can wrap in a PDF table cell
                name = str(k2) if prefix or "/" in str(k2) else str(k2).replace("_", " ")
                walk(f"{prefix}: {name}" if prefix else name, v2)
        elif isinstance(v, (list, tuple)):
            rows.append((prefix, ", ".join(str(x) for x in v)))
        else:
            rows.append((prefix, "" if v is None else str(v)))

    walk("", prov)
    return pd.DataFrame(rows, columns=["Item", "Value"])


def nan_to_na(x) -> str:
    return fmt.NA if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)
