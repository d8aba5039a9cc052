"""The report's view of the knowledge-or-bias tables (``bias_summary``, ``bias_study_test``;
:mod:`emostat.analysis.masking.bias`): one table and two sentences, every number read from them.
Each function returns "" when its table is absent or has no row at k."""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt
from emostat.report.tables import pipe_table
from emostat.report.view import Markdown, k_text, pts

KIND = {"attribute": "Attribute masks", "random": "Random masks"}
# benchmarks/sim_asymmetric_loss.py (30 replications; benchmarks/results/asymmetric_loss.json):
# the share of a purely knowledge drop that per-condition calibration counts as prior when a
# mask removes the evidence for one answer only. Yes/no task, 27 concepts x (40 + 40) items:
# all of the "yes" evidence removed ("full") or half ("mild"), at baseline accuracy .81 and
# .95 ("strong"). Choice task (27 or 6 concepts, one candidate's evidence removed): negative,
# the re-fit adds to the drop (-1% to -10%). A method constant, not a number of the run.
ASYMMETRIC_LOSS = {"full": 0.12, "mild": 0.08, "strong_full": 0.39, "strong_mild": 0.32,
                   "baseline": 0.81, "strong_baseline": 0.95}


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
    """Each kind of mask's drop under the run's decisions and under per-condition calibration,
    read as bounds (with the asymmetric-loss caveat), never as a decomposition."""
    d = _at(summary, k)
    if d.empty:
        return Markdown("")
    loss = ASYMMETRIC_LOSS

    def pct(x):
        return f"{fmt.fmt_num(100 * x, 0)}%"

    bits = [f"{KIND.get(r.condition, r.condition).lower()} lower accuracy by {pts(r.drop)} "
            f"points under the run's decisions and by {pts(r.drop_recal)} with each condition "
            "calibrated on its own items" for r in d.itertuples()]
    a = d[d["condition"] == "attribute"]
    bound = (f": for attribute masks at most {pts(a['drop_prior'].iloc[0])} of the "
             f"{pts(a['drop'].iloc[0])} points are a shift of the answer prior"
             if len(a) and a["drop_prior"].iloc[0] > 0 else "")
    return Markdown(
        f"At k = {k_text(k if k is not None else d['k'].iloc[0])}, " + "; ".join(bits) + ". "
        "These are bounds, not a decomposition. A shift of the answer prior cannot move the "
        f"accuracy under per-condition calibration{bound}. But when a mask removes the "
        "evidence for one answer only, re-fitting that answer's offset also hides part of a "
        "genuine knowledge loss, which is then counted as prior. In a simulation of the yes/no "
        f"task (benchmarks/sim_asymmetric_loss.py) that share was {pct(loss['full'])} when a mask "
        f"removed all of the evidence for \"yes\" and {pct(loss['mild'])} when it removed half, at "
        f"a baseline accuracy of {pct(loss['baseline'])}; {pct(loss['strong_full'])} and "
        f"{pct(loss['strong_mild'])} at {pct(loss['strong_baseline'])}. In the choice task the "
        "re-fit went the other way: it added to the drop.")


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
