"""The report's view of the knowledge-or-bias tables (``bias_summary``, ``bias_study_test``;
:mod:`emostat.analysis.masking.bias`): one table and two sentences, every number read from them.
Each function returns "" when its table is absent or has no row at k."""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt
from emostat.report.tables import pipe_table
from emostat.report.view import Markdown, k_text, pts

KIND = {"attribute": "Attribute masks", "random": "Random masks"}


def _at(df: pd.DataFrame | None, k) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame()
    return df[df["k"] == k] if k is not None else df


def bias_table(summary: pd.DataFrame | None, k=None) -> Markdown:
    """Per kind of mask at k: masks, accuracy drop under the run's decisions, under
    per-condition calibration, their difference, and how far the answers moved."""
    d = _at(summary, k)
    if d.empty:
        return Markdown("")
    tb = pd.DataFrame({
        "Masks": [KIND.get(c, c) for c in d["condition"]],
        "n": [fmt.fmt_int(x) for x in d["n_masks"]],
        "Drop (run's calibration)": [pts(x) for x in d["drop"]],
        "Drop (per-condition calibration)": [pts(x) for x in d["drop_recal"]],
        "Prior shift": [pts(x) for x in d["drop_prior"]],
        "Answers moved (TV)": [fmt.fmt_pct(x, 1) for x in d["tv_from_none"]],
        "Top answer's share": [fmt.fmt_pct(x, 1) for x in d["top_share"]]})
    return Markdown(pipe_table(tb))


def bias_sentence(summary: pd.DataFrame | None, k=None) -> Markdown:
    """How much of each kind of mask's drop survives per-condition calibration."""
    d = _at(summary, k)
    if d.empty:
        return Markdown("")
    bits = [f"{KIND.get(r.condition, r.condition).lower()} lower accuracy by {pts(r.drop)} "
            f"points under the run's decisions and by {pts(r.drop_recal)} with each condition "
            f"calibrated on its own items ({pts(r.drop_prior)} points are a shift of the "
            "answer prior)" for r in d.itertuples()]
    return Markdown(f"At k = {k_text(k if k is not None else d['k'].iloc[0])}, "
                    + "; ".join(bits) + ".")


def study_test_sentence(study: pd.DataFrame | None, k=None, alpha: float = .05) -> Markdown:
    """The study's per-concept t against the shared random pool, on both outcomes: how many
    concepts it puts below alpha, and how many random comparisons stand behind its rows."""
    d = _at(study, k)
    if d.empty:
        return Markdown("")
    d = d[d["test"] == "study_concept_t"]
    names = {"accuracy": "the run's accuracy", "accuracy_recal": "per-condition calibration"}
    bits = []
    for outcome, g in d.groupby("outcome", sort=True):
        bits.append(f"{int((g['p_value'] < alpha).sum())} of {len(g)} concepts at p < "
                    f"{fmt.fmt_num(alpha, 2).lstrip('0')} on {names.get(outcome, outcome)}")
    if not bits:
        return Markdown("")
    r = d.iloc[0]
    return Markdown(
        "The study's per-concept paired t against the random pool (the study's statistic, "
        f"kept for reproduction) finds {'; '.join(bits)}. Its {int(r['n'])} rows per concept "
        f"hold {int(r['n_random_comparisons'])} random comparison"
        f"{'s' if int(r['n_random_comparisons']) != 1 else ''}, repeated for every "
        "attribute, so they are not independent replicates.")
