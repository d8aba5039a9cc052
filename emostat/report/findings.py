"""Sentences and table cells of the run's findings, rendered from its ``claims`` rows.

The claims table (docs/design.md §2) is computed once by the analysis; this module only
renders its rows: the decision, estimate and scale, the interval with its ``conf_method``,
the p with its ``p_method``, and the reason. Nothing here tests a p against alpha or picks a
row of record; the experiment and the comparison report both call these functions, so the
same rows print the same words in both.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.analysis.claims.words import reader_clause, test_name
from emostat.errors import InputError
from emostat.report.view import (CLAIM_COLUMNS, Markdown, ci_text, k_text, listing, missing,
                                 num_text, p_text, text_or)

# what each claim states (the decision says whether this run supports it)
STATEMENTS = {
    "neurons": "some attributes have more attribute-specific neurons than relabelled concepts "
               "give",
    "importance": "the attributes' RDMs match the human dissimilarity space",
    "masking": "masking attribute-specific neurons lowers accuracy more than masking random "
               "neurons",
    "link": "concepts lose more accuracy when the masked neurons track attributes that matter "
            "more to humans",
    "knowledge": "masking attribute-specific neurons lowers accuracy more than masking random "
                 "neurons also when every condition is calibrated on its own items, so that a "
                 "shift of the answer prior cannot count",
    "whole_model": "the model's concept RDM over all neurons matches the human one",
    "above_chance": "the unmanipulated model answers above chance",
    "layer_rsa": "the best layer's concept-vector RDM matches the human one (tested as a "
                 "maximum over layers)",
    "pc_attribute": "the first principal component of the concept vectors tracks an attribute "
                    "(best layer, tested as a maximum over layers)",
    "probe": "a linear probe recovers a single stimulus's concept from its activations (best "
             "layer, tested as a maximum over layers)",
    "steering": "adding a concept's vector raises that concept's log-probability more than the "
                "other concepts' vectors raise it",
}
TITLES = {"neurons": "Attribute-specific neurons", "importance": "Attribute importance",
          "masking": "Masking", "knowledge": "Knowledge beyond answer bias",
          "link": "Drop–importance link", "whole_model": "Whole-model RSA",
          "above_chance": "Above chance", "layer_rsa": "Layer RSA",
          "pc_attribute": "Principal components", "probe": "Probe", "steering": "Steering"}
DECISIONS = {"supported": "Supported", "not supported": "Not supported",
             "too coarse to decide": "Too coarse to decide", "failed": "Failed",
             "not tested": "Not tested"}


def claims_of(run) -> pd.DataFrame | None:
    """The run's ``claims`` table (None when the run has none)."""
    c = run.get("claims") if run is not None else None
    if c is None:
        return None
    lacking = [x for x in ("claim", "role", "decision") if x not in c]
    if lacking:
        raise InputError(f"{run.path('claims')}: claims table lacks {', '.join(lacking)}")
    return c.reindex(columns=list(dict.fromkeys(CLAIM_COLUMNS + list(c.columns))))


def record(claims: pd.DataFrame | None, claim: str, task=None, k=None,
           headline: bool = True) -> pd.Series | None:
    """The ``record`` row of ``claim`` (for ``task``; at ``k``, or at the headline k). At a
    ``k`` that is not the headline k the claim has no record row (docs/inference.md,
    "Families"): the row of that k with the record's test, a ``supporting`` row, is given."""
    if claims is None:
        return None
    d = claims[(claims["claim"] == claim) & (claims["role"] == "record")]
    if task is not None and d["task"].notna().any():
        d = d[d["task"] == task]
    if k is not None and d["k"].notna().any():
        at = d[d["k"] == k]
        if not len(at):
            s = claims[(claims["claim"] == claim) & (claims["k"] == k)
                       & (claims["role"] == "supporting") & claims["test"].isin(d["test"])]
            if task is not None and s["task"].notna().any():
                s = s[s["task"] == task]
            at = s
        d = at
    elif headline and "headline" in d and d["headline"].notna().any():
        d = d[d["headline"].fillna(False).astype(bool)]
    return d.iloc[0] if len(d) else None


def others(claims: pd.DataFrame | None, row: pd.Series) -> pd.DataFrame:
    """The ``study`` and ``supporting`` rows beside a record row (same claim, task, k)."""
    if claims is None or row is None:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    d = claims[(claims["claim"] == row["claim"]) & (claims["role"] != "record")]
    for col in ("task", "k"):
        d = d[d[col].isna()] if missing_key(row[col]) else d[d[col] == row[col]]
    return d


def missing_key(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x))


# ---------------------------------------------------------------------------------------------
# pieces of a row


def estimate_text(row, short: bool = False) -> str:
    """The estimate in its scale's words: ``2.9 points``, ``0.12 in log-odds (odds ... × 0.89)``,
    ``r = .474``, ``τ = .586``, ``12 neurons``, ``48.1%``; ``short`` (a table cell, whose
    caption says what the scale is): ``0.12 log-odds``, ``-0.178 margin``."""
    est, scale = row.get("estimate"), text_or(row.get("scale"))
    if missing(est):
        return ""
    est = float(est)
    if scale == "points":
        return f"{num_text(est, 1)} points"
    if short and scale in ("log-odds", "margin"):
        return f"{num_text(est, 2 if scale == 'log-odds' else 3)} {scale}"
    if scale == "log-odds":
        # the extra drop in log-odds of a correct answer; exp(-drop) is the odds ratio of a
        # correct answer, attribute / random masks (the console's words: below 1 = hurts more)
        return (f"{num_text(est, 2)} in log-odds (odds ratio attribute / random masks "
                f"{fmt.fmt_num(float(np.exp(-est)), 2)})")
    if scale == "r":
        return f"r = {num_text(est, 3, bounded=True)}"
    if scale == "tau":
        return f"τ = {num_text(est, 3, bounded=True)}"
    if scale == "rho":
        return f"ρ = {num_text(est, 3, bounded=True)}"
    if scale == "delta_logp":   # change of a log-probability (steering), no unit of its own
        return f"Δ log p = {num_text(est, 3)}"
    if scale == "count":
        return f"count {fmt.fmt_num(est, 0, big_mark=',')}"
    if scale == "proportion":
        return fmt.fmt_pct(est, 1)
    return f"{num_text(est, 3)} ({scale})" if scale else num_text(est, 3)


def digits_of(row) -> tuple[int, bool]:
    scale = text_or(row.get("scale"))
    return {"points": (1, False), "log-odds": (2, False), "r": (3, True), "tau": (3, True),
            "rho": (3, True), "proportion": (3, True), "count": (0, False),
            "delta_logp": (3, False)}.get(scale, (3, False))


def same_unit(row) -> bool:
    """Whether the interval is over the unit the p is computed at: its ``conf_method`` names
    the row's ``unit`` (the unit's first word, e.g. ``concept`` or ``attribute``); a row
    without a ``conf_method`` has its interval from the fit that gave the p."""
    unit, how = text_or(row.get("unit")).lower(), text_or(row.get("conf_method")).lower()
    if not how:   # no conf_method: the interval comes from the same fit as the p
        return True
    if not unit:
        return True
    word = unit.replace("-", " ").split()[0]
    return word in how.replace("-", " ")


def ci_part(row) -> str:
    """``95% CI [lo, hi]`` when the interval is over the p's unit, else "" (how it was
    computed is in the claims table's note and the Method)."""
    if missing(row.get("conf_low")) or missing(row.get("conf_high")) or not same_unit(row):
        return ""
    d, bounded = digits_of(row)
    return f"95% CI {ci_text(row['conf_low'], row['conf_high'], d, bounded)}"


def short_method(how: str) -> str:
    """The name of a test: its ``p_method`` up to the first ``;``, `` (`` or ``, ``."""
    return re.split(r";| \(|, ", how, maxsplit=1)[0].strip()


def row_p(row, name: str | None = "p") -> str:
    """The row's p, never rounded across its alpha nor printed below its floor."""
    alpha = None if missing(row.get("alpha")) else float(row["alpha"])
    if missing(row.get("p_value")):
        return p_text(None, alpha, name)
    floor = row.get("p_floor")
    if missing(floor) or float(floor) <= 0:
        return p_text(row["p_value"], alpha, name)
    return fmt.fmt_p_floor(row["p_value"], float(floor), alpha, name)


def stat_text(row) -> str:
    """APA: ``t(26) = 16.92``, ``z = 0.98``; "" where the p does not come from the statistic
    (a permutation p stands alone) or the row has none."""
    how = text_or(row.get("p_method")).lower()
    if missing(row.get("statistic")) or "permutation" in how:
        return ""
    if not missing(row.get("df")):
        return f"t({fmt.fmt_df(row['df'])}) = {fmt.fmt_num(row['statistic'], 2)}"
    if "z" in how.split():
        return f"z = {fmt.fmt_num(row['statistic'], 2)}"
    return ""


def test_part(row) -> str:
    """APA: ``t(26) = 16.92, p < .001``, ``z = 0.98, p = .329``, ``p = .043``; the statistic
    only where the p comes from it (a permutation p stands alone)."""
    stat = stat_text(row)
    return (f"{stat}, " if stat else "") + row_p(row)


def decision_text(row) -> str:
    return DECISIONS.get(text_or(row.get("decision")), text_or(row.get("decision"), "Undecided"))


def where(row) -> str:
    bits = []
    if not missing_key(row.get("task")):
        bits.append(f"{row['task']} task")
    if not missing_key(row.get("k")):
        bits.append(f"k = {k_text(row['k'])}")
    return ", ".join(bits)


def numbers(row) -> str:
    """The row's numbers in APA order: estimate, 95% CI, statistic and p."""
    return ", ".join(x for x in (estimate_text(row), ci_part(row), test_part(row))
                     if x and not x.endswith("not computed"))


def claim_sentence(row) -> Markdown:
    """One claims row as one APA sentence: the decision, what is claimed, the estimate with its
    interval and p; then only what a reader needs beside them (why undecided, an estimate
    against the claimed direction: :func:`~emostat.analysis.claims.words.reader_clause`)."""
    if row is None:
        return Markdown("")
    claim = str(row["claim"])
    statement = STATEMENTS.get(claim, claim.replace("_", " "))
    loc = where(row)
    nums = numbers(row)
    out = (f"**{decision_text(row)}{f' ({loc})' if loc else ''}:** {statement}"
           + (f" — {nums}" if nums else "") + ".")
    why = reader_clause(row.get("decision"), row.get("reason"))
    return Markdown(out + (f" {why}" if why else ""))


def study_sentence(row) -> Markdown:
    """A ``study`` or ``supporting`` row beside the record one: its test in prose and its
    numbers, no decision except where it is too coarse to decide (said, with why)."""
    what = {"study": "The study's test", "supporting": "Supporting test"}.get(
        str(row["role"]), str(row["role"]).capitalize())
    name = test_name(row.get("test"))
    out = f"{what}{f', {name}' if name else ''}: {numbers(row)}."
    if text_or(row.get("decision")) == "too coarse to decide":
        why = reader_clause(row["decision"], row.get("reason"), own=False)
        out += f" Too coarse to decide: {why[:1].lower() + why[1:]}" if why else ""
    return Markdown(out)


def claim_paragraph(claims: pd.DataFrame | None, claim: str, task=None, k=None) -> Markdown:
    """The record sentence of a claim followed by its study and supporting rows ("" when the
    run's claims table has no such claim); a row whose numbers are the record's (e.g. the
    one-variance model when the random-mask variance is zero) is named, not printed again."""
    r = record(claims, claim, task, k)
    if r is None:
        return Markdown("")
    out, same = [claim_sentence(r)], []
    for _, x in others(claims, r).iterrows():
        if numbers(x) == numbers(r) and text_or(x.get("decision")) != "too coarse to decide":
            same.append(test_name(x.get("test")) or str(x["role"]))
        else:
            out.append(study_sentence(x))
    if same:
        out.append(f"Same numbers as the test of record: {listing(same)}.")
    return Markdown(" ".join(out))


# a row's role in a table of a claim's tests (the console's words)
ROLE_CELLS = {"record": "record", "study": "study's", "supporting": "supporting"}
TEST_COLUMNS = ["Test", "Role", "Estimate", "95% CI", "Interval", "Statistic", "p", "Unit"]
# relative widths in the PDF: names and units wrap; numbers and roles keep their line
TEST_WIDTHS = {"Test": 22, "Role": 11, "Estimate": 17, "95% CI": 16, "Interval": 17,
               "Statistic": 16, "p": 5, "Unit": 13}


def interval_method(row) -> str:
    """The interval's method in a few words, from the row's ``conf_method`` (``95% Wald z
    interval, estimate ± quantile × SE (same fit ...)`` -> ``Wald z``); ``same fit as the p``
    where the row has an interval but no conf_method."""
    how = text_or(row.get("conf_method"))
    if not how:
        return "same fit as the p"
    how = re.split(r";|:| \(|, ", how, maxsplit=1)[0].strip()
    return re.sub(r" interval$", "", re.sub(r"^\d+(?:\.\d+)?% ", "", how)) or "–"


def claim_rows(claims: pd.DataFrame | None, claim: str, task=None, k=None) -> pd.DataFrame:
    """The claims rows of one claim (for ``task``, at ``k`` or the headline k): the record row
    first, then its study and supporting rows in the table's order (empty without a record)."""
    r = record(claims, claim, task, k)
    if r is None:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    return pd.concat([r.to_frame().T, others(claims, r)])


def tests_table(claims: pd.DataFrame | None, claim: str, task=None, k=None) -> pd.DataFrame:
    """Every test of a claim as table cells, one row per claims row (record first): the test
    in prose (``test_name``), its role, the estimate in its scale's words, the 95% CI where it
    is over the p's unit, the interval's method, the statistic, the p (at its floor's
    resolution) and the unit the p treats as exchangeable. A value the row lacks is a dash; a
    row with neither estimate nor p is left out. Nothing is computed: the cells are the rows'."""
    rows = claim_rows(claims, claim, task, k)
    out = []
    for _, r in rows.iterrows():
        if missing(r.get("estimate")) and missing(r.get("p_value")):
            continue
        d, bounded = digits_of(r)
        ci = ci_part(r)
        p = "–" if missing(r.get("p_value")) else row_p(r, name=None)
        if text_or(r.get("decision")) == "too coarse to decide":
            p += " (too coarse to decide)"
        out.append({
            "Test": test_name(r.get("test")) or "–",
            "Role": ROLE_CELLS.get(str(r["role"]), str(r["role"])),
            "Estimate": estimate_text(r, short=True) or "–",
            "95% CI": ci_text(r["conf_low"], r["conf_high"], d, bounded) if ci else "–",
            "Interval": interval_method(r) if ci else "–",
            "Statistic": stat_text(r) or "–",
            "p": p,
            "Unit": text_or(r.get("unit"), "–").replace(" x ", " × ")})
    return pd.DataFrame(out, columns=TEST_COLUMNS)


# columns a claim's tests may all lack (a count has no interval, a permutation p no
# statistic): left out of its table rather than shown as a column of dashes
OPTIONAL_COLUMNS = ("95% CI", "Interval", "Statistic")


def shown_tests(claims: pd.DataFrame | None, claim: str, task=None, k=None) -> pd.DataFrame:
    """:func:`tests_table` where the claim has more than one test to show (empty otherwise:
    one test is its sentence), without the optional columns that are a dash in every row."""
    t = tests_table(claims, claim, task, k)
    if len(t) < 2:
        return pd.DataFrame(columns=TEST_COLUMNS).iloc[:0]
    return t[[c for c in t.columns if c not in OPTIONAL_COLUMNS or (t[c] != "–").any()]]


def test_widths(t: pd.DataFrame) -> dict:
    """Relative PDF widths of a tests table's columns (:data:`TEST_WIDTHS`), fitted to its
    cells where they are shorter (a column of counts needs less room than one of log-odds)
    and widened for a p that says it is too coarse to decide (two lines, not five)."""
    out = {}
    for c in t.columns:
        w = TEST_WIDTHS.get(c, 12)
        longest = max([len(str(v)) for v in t[c]] + [len(c)])
        if c in ("Estimate", "95% CI", "Statistic", "Role"):
            w = min(w, longest + 2)
        if c == "p" and longest > w:
            w = min(14, longest)
        out[c] = w
    return out


def claim_lead(claims: pd.DataFrame | None, claim: str, task=None, k=None,
               label: str | None = None) -> Markdown:
    """A claim's finding (:func:`claim_finding`) and, where it has a table of its tests
    (:func:`shown_tests`), the reference to it: ``Every test of the claim: @label.``"""
    s = claim_finding(claims, claim, task, k)
    if s and label and len(shown_tests(claims, claim, task, k)):
        s = Markdown(f"{s} Every test of the claim: @{label}.")
    return s


def claim_finding(claims: pd.DataFrame | None, claim: str, task=None, k=None) -> Markdown:
    """The record sentence of a claim and, for each other row too coarse to decide, why (its
    numbers are in :func:`tests_table`)."""
    r = record(claims, claim, task, k)
    if r is None:
        return Markdown("")
    out = [claim_sentence(r)]
    coarse: dict[str, list[str]] = {}       # why -> the tests too coarse for that reason
    for _, x in others(claims, r).iterrows():
        if text_or(x.get("decision")) == "too coarse to decide":
            why = reader_clause(x["decision"], x.get("reason"), own=False)
            coarse.setdefault(why, []).append(test_name(x.get("test")) or str(x["role"]))
    for why, names in coarse.items():       # names hold commas: listed with semicolons
        if not why:
            out.append(f"Too coarse to decide: {'; '.join(names)}.")
        elif why.lower() in out[0].lower():     # the record's own reason, said already
            out.append(f"Too coarse to decide for the same reason: {'; '.join(names)}.")
        elif len(names) == 1:
            out.append(f"Too coarse to decide, {names[0]}: {why[:1].lower() + why[1:]}")
        else:
            out.append(f"Too coarse to decide ({'; '.join(names)}): "
                       f"{why[:1].lower() + why[1:]}")
    return Markdown(" ".join(out))


def summary_sentences(claims: pd.DataFrame | None, task=None, skip=()) -> list[Markdown]:
    """The record sentence of every claim in the run's claims table (at the headline k; of
    ``task`` where a claim has tasks), in the table's order, except the claims in ``skip``:
    the summary states every claim of record."""
    if claims is None:
        return []
    names = dict.fromkeys(claims.loc[claims["role"] == "record", "claim"])
    rows = [record(claims, c, task) for c in names if c not in skip]
    return [claim_sentence(r) for r in rows if r is not None]


def claims_table(claims: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    """The headline record rows as table cells (Claim, Task, k, Decision, Estimate, 95% CI,
    p); ``label`` adds a first Model column (the comparison report)."""
    d = claims[claims["role"] == "record"]
    if "headline" in d and d["headline"].notna().any():
        d = d[d["headline"].fillna(False).astype(bool) | d["k"].isna()]
    out = []
    for _, r in d.iterrows():
        d_, bounded = digits_of(r)
        cell = {"Claim": TITLES.get(str(r["claim"]), str(r["claim"])),
                "Task": "–" if missing_key(r["task"]) else str(r["task"]),
                "k": "–" if missing_key(r["k"]) else k_text(r["k"]),
                "Decision": decision_text(r),
                "Estimate": estimate_text(r) or "–",
                "95% CI": (ci_text(r["conf_low"], r["conf_high"], d_, bounded)
                           if same_unit(r) and not missing(r["conf_low"]) else "–"),
                "p": row_p(r, name=None)}
        out.append(({"Model": label} if label else {}) | cell)
    return pd.DataFrame(out)


def claims_note(claims: pd.DataFrame) -> str:
    """The note under a claims table: alpha, and each p_method / conf_method used once."""
    d = claims[claims["role"] == "record"]
    alpha = d["alpha"].dropna()
    bits = [f"α = {fmt.fmt_num(alpha.iloc[0], 2).lstrip('0')}" if len(alpha) else ""]
    for col, what in (("p_method", "p"), ("conf_method", "95% CI")):
        for claim, m in d[["claim", col]].dropna().drop_duplicates().itertuples(index=False):
            bits.append(f"{TITLES.get(claim, claim)} {what}: {literal(m)}")
    return "; ".join(b for b in bits if b)


def literal(text: str) -> str:
    """Text from a table shown as itself in Markdown: ``*``, ``_``, ``|``, `````` ` `````` and
    ``\\`` escaped, so ``(1 + #{|T*| >= |T|})`` keeps its stars instead of turning into italics."""
    return re.sub(r"([\\`*_|])", r"\\\1", str(text))
