"""The paper's published numbers, each with its source, beside the reproduced ones.

Values are those of Li et al. (iScience 2024) as restated in ``docs/reference-values.md`` of
the development checkout (``../shared/docs/reference-values.md``), which recomputed them from
the released data with the study's own definitions. :func:`comparison_rows` looks the same
quantities up in a reproduction's results tables and adds, where emostat's test of record
differs from the study's, the design-correct statistic.
"""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt

SOURCE_MASKING = "§ Manipulation"
SOURCE_LINK = "§ Drop vs human importance"
SOURCE_HUMAN = "§ Human attribute importance"

# (key, quantity, published value, how it prints, source)
PUBLISHED = [
    ("acc_none", "Accuracy without manipulation, k = 4,000 (%)", 83.18, "pct", SOURCE_MASKING),
    ("acc_random", "Accuracy with random masking (%)", 72.80, "pct", SOURCE_MASKING),
    ("acc_attribute", "Accuracy with attribute masking (%)", 69.93, "pct", SOURCE_MASKING),
    ("n_emotions_sig", "Emotions with a significant extra drop (of 27)", 20, "int",
     SOURCE_MASKING),
    ("remorse_drop", "Extra drop for remorse (points)", 8.1, "pts", SOURCE_MASKING),
    ("remorse_t", "t(167) for remorse (study's sign)", -3.56, "t", SOURCE_MASKING),
    ("link_r", "Drop–importance mean r, k = 4,000", 0.474, "r", SOURCE_LINK),
    ("link_t", "t(26) of the mean r, k = 4,000", 16.92, "t", SOURCE_LINK),
    ("imp_valence", "Importance τ-b of valence", 0.5860, "r4", SOURCE_HUMAN),
    ("imp_happy", "Importance τ-b of happy-face", 0.6052, "r4", SOURCE_HUMAN),
    ("n_imp_sig", "Important attributes (of 14)", 12, "int", SOURCE_HUMAN),
]

_DIGITS = {"pct": 2, "int": 0, "pts": 1, "t": 2, "r": 3, "r4": 4}


def _show(x, how: str) -> str:
    if x is None:
        return "–"
    if how in ("r", "r4"):
        return fmt.fmt_stat(x, _DIGITS[how], bounded=True)
    return fmt.fmt_num(x, _DIGITS[how])


def reproduced(run) -> dict:
    """``key → (emostat value, design-correct statistic text or "")`` from a run's tables."""
    from emostat.report.text import extra_drop, rows

    out: dict = {}
    be = run.get("masking_by_emotion")
    if be is not None and 4000 in set(be["k"]):
        d = be[be["k"] == 4000].assign(drop=lambda x: extra_drop(x))
        for col in ("acc_none", "acc_random", "acc_attribute"):
            if col in d:
                out[col] = (100 * d[col].mean(), "")
        mm = run.get("masking_mixed_model")
        rec = ""
        if mm is not None:
            from emostat.report.text import mixed_sentence

            rec = mixed_sentence(mm, 4000).split(": ", 1)[-1].rstrip(".")
        out["n_emotions_sig"] = (int(((d["q_value"] < .05) & (d["drop"] > 0)).sum()),
                                 f"mixed model of record: {rec}" if rec else "")
        r = d[d["emotion"] == "remorse"]
        if len(r):
            out["remorse_drop"] = (100 * float(r["drop"].iloc[0]), "")
            t = float(r["statistic"].iloc[0])
            out["remorse_t"] = (t if "p_method" not in d else -t, "")
    link = run.get("importance_link")
    if link is not None and 4000 in set(link["k"]):
        at = link[link["k"] == 4000]
        s = rows(at, test="study_t") if "test" in at else at
        if s is not None and len(s):
            out["link_r"] = (float(s["estimate"].iloc[0]), "")
            out["link_t"] = (float(s["statistic"].iloc[0]), "")
        perm = rows(at, test="attribute_permutation") if "test" in at else None
        if perm is not None and len(perm):
            out["link_t"] = (out.get("link_t", (None,))[0],
                             f"attribute-label permutation {fmt.fmt_p(perm['p_value'].iloc[0])}")
    imp = run.get("attribute_importance")
    if imp is not None:
        i = imp.set_index("attribute")
        for key, a in (("imp_valence", "valence"), ("imp_happy", "happy-face")):
            if a in i.index:
                out[key] = (float(i.loc[a, "estimate"]), "")
        if "boot_share_le0" in imp:
            study = int((imp["boot_share_le0"] < .05).sum())
            mantel = int((imp["p_value"] < .05).sum())
        else:
            study = int((imp["p_value"] < .05).sum())
            mantel = int((imp["p_value_mantel"] < .05).sum()) if "p_value_mantel" in imp else None
        out["n_imp_sig"] = (study, f"{mantel} by the Mantel test" if mantel is not None else "")
    return out


def comparison_rows(run) -> pd.DataFrame:
    """Published, emostat and difference per quantity, with the source and the
    design-correct statistic; quantities the run lacks are left out."""
    got = reproduced(run)
    rows_ = []
    for key, what, pub, how, src in PUBLISHED:
        if key not in got or got[key][0] is None:
            continue
        val, design = got[key]
        rows_.append({"Quantity": what, "Source": src, "Published": _show(pub, how),
                      "emostat": _show(val, how),
                      "Difference": fmt.fmt_num(val - pub, _DIGITS[how] if how != "r" else 3),
                      "Design-correct (emostat)": design or "–"})
    return pd.DataFrame(rows_)
