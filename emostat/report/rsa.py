"""RSA at the rater x concept unit in the reports (issue 23): the whole model's rows with the
ceiling of each estimand, the layer profile's ceiling band, and the comparison of models.
Reads tables only (``rsa_evaluation``, ``rsa_ceiling``, ``rsa_comparison``,
``rsa_comparison_differences``); every sentence is made from their numbers."""

from __future__ import annotations

import pandas as pd

from emostat.report.view import ci_text, missing, num_text, p_text

COMPARATOR = {"tau_b": "τ-b", "tau_a": "τ-a", "rho_a": "ρ-a", "spearman": "Spearman ρ",
              "pearson": "Pearson r", "cosine": "cosine", "whitened_cosine": "whitened cosine"}
ESTIMAND = {"per_rater": "mean over raters of compare(model, rater RDM)",
            "mean_rdm": "compare(model, mean RDM)"}
ROLE = {"record": "record", "study": "study's statistic", "extra": "extra"}


def evaluation_table(t: pd.DataFrame | None) -> pd.DataFrame:
    """One row per comparator x estimand: role, estimate, the ceiling of that estimand, the
    interval and p at the unit the row names."""
    if t is None or not len(t):
        return pd.DataFrame()
    out = []
    for _, r in t.iterrows():
        out.append({"Role": ROLE.get(r["role"], r["role"]),
                    "Comparator": COMPARATOR.get(r["comparator"], r["comparator"]),
                    "Estimand": ESTIMAND.get(r["estimand"], r["estimand"]),
                    "Estimate": num_text(r["estimate"], 3, True),
                    "Ceiling": ci_text(r["ceiling_low"], r["ceiling_high"], 3, True) or "–",
                    "95% CI": ci_text(r["conf_low"], r["conf_high"], 3, True) or "–",
                    "p": p_text(r["p_value"], .05, None), "Unit": r["unit"]})
    return pd.DataFrame(out)


def evaluation_sentence(t: pd.DataFrame | None) -> str:
    """The record row and the study's row in words, each beside its own ceiling."""
    if t is None or not len(t):
        return ""
    shown = t[t["role"].isin(("record", "study"))]
    if len(shown) and shown["ceiling_low"].isna().all():
        # the numbers are in the tests table; without a ceiling the sentence would repeat them
        return ("No noise ceiling is given: the space has one mean RDM and no raters' RDMs to "
                "split.")
    bits = []
    for role in ("record", "study"):
        rows = t[t["role"] == role]
        if not len(rows):
            continue
        r = rows.iloc[0]
        ceil = (f", against a noise ceiling of {ci_text(r['ceiling_low'], r['ceiling_high'], 3, True)} "
                "on the same estimand" if not missing(r["ceiling_low"]) else
                " (no ceiling: one RDM, no raters to split)")
        ci = ci_text(r["conf_low"], r["conf_high"], 3, True)
        bits.append(f"{'The row of record' if role == 'record' else 'The study' + chr(39) + 's statistic'} "
                    f"({COMPARATOR.get(r['comparator'], r['comparator'])}, "
                    f"{ESTIMAND.get(r['estimand'], r['estimand'])}) is "
                    f"{num_text(r['estimate'], 3, True)}"
                    + (f", 95% CI {ci}" if ci else "") + ceil
                    + f"; {p_text(r['p_value'])} over {r['unit']}.")
    return " ".join(bits)


def ceiling_of(rsa_ceiling: pd.DataFrame | None, comparator: str = "spearman"):
    """(low, high) of the similarity RDM's ceiling for ``comparator``, or None."""
    if rsa_ceiling is None or not len(rsa_ceiling):
        return None
    c = rsa_ceiling[(rsa_ceiling["comparator"] == comparator)
                    & (rsa_ceiling["human_rdm"] == "similarity")]
    return None if not len(c) else (float(c["ceiling_low"].iloc[0]),
                                    float(c["ceiling_high"].iloc[0]))


def draw_ceiling(ax, band, label: str = "noise ceiling (similarity, mean RDM)") -> None:
    """A grey band between the ceiling's bounds on a profile's axis."""
    if band is not None:
        ax.axhspan(band[0], band[1], color="grey", alpha=.2, lw=0, label=label)


def comparison_of(runs):
    """(models, differences) of the paired whole-model comparison: from the first run that
    carries them (every compared run holds the same tables); (None, None) otherwise."""
    for r in runs:
        m = r.get("rsa_comparison")
        if m is not None and len(m):
            return m, r.get("rsa_comparison_differences")
    return None, None


def comparison_tables(runs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Display tables of the paired comparison: models with their ceiling, and differences."""
    m, d = comparison_of(runs)
    if m is None:
        return pd.DataFrame(), pd.DataFrame()
    models = pd.DataFrame({
        "Model": m["model"], "Estimate": [num_text(x, 3, True) for x in m["estimate"]],
        "Ceiling": [ci_text(a, b, 3, True) or "–" for a, b in zip(m["ceiling_low"],
                                                                  m["ceiling_high"])],
        "95% CI": [ci_text(a, b, 3, True) or "–" for a, b in zip(m["conf_low"], m["conf_high"])],
        "p": [p_text(x, .05, None) for x in m["p_value"]]})
    if d is None or not len(d):
        return models, pd.DataFrame()
    diffs = pd.DataFrame({
        "Difference": [f"{a} − {b}" for a, b in zip(d["model_a"], d["model_b"])],
        "Estimate": [num_text(x, 3) for x in d["estimate"]],
        "95% CI": [ci_text(a, b, 3) or "–" for a, b in zip(d["conf_low"], d["conf_high"])],
        "p": [p_text(x, .05, None) for x in d["p_value"]],
        "p (Holm)": [p_text(x, .05, None) for x in d["p_adjusted"]]})
    return models, diffs


def comparison_sentence(runs, alpha: float = .05) -> str:
    """Which pairs of models differ (adjusted p at or below alpha), from the table."""
    m, d = comparison_of(runs)
    if m is None:
        return ""
    r = m.iloc[0]
    head = (f"The models' whole-model RDMs were compared with the same {r['n_raters']} rater "
            f"RDM{'s' if r['n_raters'] > 1 else ''} ({COMPARATOR.get(r['comparator'])}, "
            f"{ESTIMAND.get(r['estimand'])}), every pair on the same resamples over "
            f"{r['unit']}.")
    if d is None or not len(d):
        return head
    sig = d[d["p_adjusted"] <= alpha]
    if not len(sig):
        return head + (f" No pair differs at alpha = {alpha:g} after Holm's adjustment over the "
                       f"{len(d)} pairs.")
    parts = [f"{x.model_a} − {x.model_b} = {num_text(x.estimate, 3)} "
             f"({p_text(x.p_adjusted, alpha)}, Holm)" for x in sig.itertuples()]
    return head + f" Pairs that differ at alpha = {alpha:g}: " + "; ".join(parts) + "."
