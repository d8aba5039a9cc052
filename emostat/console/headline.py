"""The headline block that ``emostat reproduce`` / ``analyse`` print: the claims table rendered.

Renders the rows of :func:`emostat.analysis.claims.table.build_claims` (schema ``claims``) and never
decides: decision, k, scale, interval and reason are the row's. p-values are never rounded
across the run's alpha (:func:`emostat.format.fmt_p_alpha`), interval bounds never across 0.
"""

from __future__ import annotations

import math

import pandas as pd

from emostat.analysis.claims.words import reader_clause, test_name
from emostat.console.text import is_nan, require
from emostat.format import fmt_ci_bounds, fmt_df, fmt_int, fmt_num, fmt_p_floor, fmt_stat

CLAIM_TEXT = {
    "neurons": "Attribute neurons exist",
    "importance": "Human attributes explain the human concept space",
    "masking": "Masking attribute neurons hurts more than masking random neurons",
    "knowledge": "The extra hurt survives a re-fit of the answer prior (knowledge, not bias)",
    "link": "The hurt tracks how much the attribute matters to humans",
    "whole_model": "The model's concept space resembles the human one",
    "above_chance": "The task is answered above chance",
    "layer_rsa": "The best layer's concept geometry resembles the human space",
    "pc_attribute": "A principal component of the concept vectors tracks an attribute",
    "probe": "A linear probe decodes a stimulus's concept",
    "steering": "A concept's vector raises that concept more than other concepts' vectors do",
}
BOUNDED = ("r", "tau", "rho", "proportion")
ROLE_ORDER = {"record": 0, "study": 1, "supporting": 2}
ROLE_LABEL = {"record": "of record", "study": "the study's", "supporting": "supporting"}


def effect_text(row) -> str:
    """The estimate in its scale, with the interval when the row has one (same unit as p)."""
    est, scale = row["estimate"], row["scale"]
    if is_nan(est):
        text = "no estimate"
    elif scale == "points":
        text = f"{fmt_num(est, 1)} points"
    elif scale == "log-odds":
        text = (f"{fmt_num(est, 2)} log-odds (odds ratio attribute / random masks "
                f"{fmt_num(math.exp(-float(est)), 2)})")
    elif scale in BOUNDED:
        text = f"{scale} = {fmt_stat(est, 3, bounded=True)}"
    elif scale == "count":
        text = f"count = {fmt_int(est)}"
    elif scale == "delta_logp":          # a change of log-probability (steering)
        text = f"change of log p = {fmt_num(est, 3)}"
    else:
        text = f"{fmt_num(est, 3)} ({scale})"
    if not (is_nan(row["conf_low"]) or is_nan(row["conf_high"])):
        digits = {"points": 1, "log-odds": 2}.get(scale, 3)
        text += f", 95% CI {fmt_ci_bounds(row['conf_low'], row['conf_high'], digits, scale in BOUNDED)}"
    return text


def p_text(row) -> str:
    """APA statistic (where the p comes from it) and p, never rounded across alpha nor printed
    below its floor; how p was computed is in the results tables and the report's Method."""
    parts = []
    method = row["p_method"] if isinstance(row["p_method"], str) else ""
    if "permutation" not in method.lower() and not is_nan(row["statistic"]):
        if not is_nan(row["df"]):
            parts.append(f"t({fmt_df(row['df'])}) = {fmt_num(row['statistic'], 2)}")
        elif "Wald z" in method:
            parts.append(f"z = {fmt_num(row['statistic'], 2)}")
    floor = None if is_nan(row.get("p_floor")) else float(row["p_floor"])
    parts.append(fmt_p_floor(row["p_value"], floor, row["alpha"]))
    return ", ".join(parts)


def row_text(row) -> str:
    role = ROLE_LABEL.get(row["role"], str(row["role"]))
    test = test_name(row["test"]) or "test of record"
    head = f"{role}, {test}"
    if row["decision"] == "not tested":
        return f"{head}: not tested"
    if is_nan(row["p_value"]):
        return f"{head}: {effect_text(row)}; no p-value"
    coarse = (" [too coarse to decide]" if row["role"] != "record"
              and row["decision"] == "too coarse to decide" else "")
    return f"{head}: {effect_text(row)}, {p_text(row)}{coarse}"


def _where(task, k) -> str:
    bits = ([f"task {task}"] if isinstance(task, str) else []) + (
        [f"k = {int(k)}"] if not is_nan(k) else [])
    return f" ({', '.join(bits)})" if bits else ""


def headline(claims: pd.DataFrame, *, task: str | None = None, all_k: bool = False) -> str:
    """The headline block: for each claim (at the headline k unless ``all_k``; of ``task``
    when given, plus the claims without a task), its row of record, the study's statistic and
    supporting tests, then the decision and its reason, all from the ``claims`` rows."""
    require(claims, ["claim", "task", "k", "role", "test", "estimate", "scale", "p_value",
                     "alpha", "headline", "decision", "reason"], "claims")
    c = claims if all_k else claims[claims["headline"].astype(bool)]
    if task is not None:
        c = c[c["task"].isna() | (c["task"] == task)]
    if c.empty:
        return "Claims: (no claims)"
    alpha = float(c["alpha"].iloc[0])
    ks = sorted({int(k) for k in c["k"].dropna()})
    head = (f"Claims (alpha = {fmt_stat(alpha, 3, bounded=True).rstrip('0')}"
            + (f"; k = {', '.join(map(str, ks))}" if ks else "") + ")")
    lines = [head]
    task_key = [t if isinstance(t, str) else None for t in c["task"]]
    k_key = [None if is_nan(k) else int(k) for k in c["k"]]
    keys = list(dict.fromkeys(zip(c["claim"], task_key, k_key)))
    for n, (claim, t, k) in enumerate(keys, 1):
        sel = c[[(a, b, d) == (claim, t, k) for a, b, d in zip(c["claim"], task_key, k_key)]]
        sel = sel.assign(_o=sel["role"].map(ROLE_ORDER).fillna(3)).sort_values("_o",
                                                                              kind="stable")
        rec = sel[sel["role"] == "record"]
        decision = (rec["decision"].iloc[0] if len(rec) else
                    "supporting (not the headline k)" if k is not None else
                    "no test of record")
        lines.append(f"{n}. {CLAIM_TEXT.get(claim, claim)}{_where(t, k)}: {decision}")
        for _, r in sel.iterrows():
            lines.append(f"   {row_text(r)}")
        why = reader_clause(decision, rec["reason"].iloc[0]) if len(rec) else ""
        if why:
            lines.append(f"   => {why}")
    return "\n".join(lines)
