"""Reference values of the study beside the reproduced ones, each labelled by its true source.

A reference value is one of: a number printed in the study's release files (``release file``),
read off the README figure of the release (``README figure``), printed in the paper
(``paper``), or recomputed from the release's data files with the study's definitions by the
development notes (``recomputed from the release``; docs/reference-values.md of the
development checkout). Only a ``paper`` value is "published": a difference from a value
recomputed from the same files checks emostat's code, not the paper. :func:`comparison_rows`
looks the same quantities up in a reproduction's tables and adds the run's claims row of
record where the claims table has one.
"""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt
from emostat.analysis.claims.words import test_name
from emostat.report.findings import claims_of, estimate_text, record, test_part
from emostat.report.view import extra_drop, rows

RECOMPUTED = "recomputed from release"
RELEASE_FILE = "release file"
README_FIGURE = "README figure"
PAPER = "paper"

MASKING_FILES = "masking accuracies"
LINK_FILES = "masking accuracies, human ratings"
HUMAN_FILES = "human ratings, dissimilarities"

# (key, quantity, reference value, how it prints, source kind, where)
PUBLISHED = [
    ("acc_none", "Accuracy without manipulation, k = 4,000 (%)", 83.18, "pct", RECOMPUTED,
     MASKING_FILES),
    ("acc_random", "Accuracy with random masking (%)", 72.80, "pct", RECOMPUTED, MASKING_FILES),
    ("acc_attribute", "Accuracy with attribute masking (%)", 69.93, "pct", RECOMPUTED,
     MASKING_FILES),
    ("n_emotions_sig", "Emotions with a significant extra drop", 20, "int", RECOMPUTED,
     MASKING_FILES),
    ("remorse_drop", "Extra drop for remorse (points)", 8.1, "pts", RECOMPUTED, MASKING_FILES),
    ("remorse_t", "t(167) for remorse (study's sign)", -3.56, "t", RECOMPUTED, MASKING_FILES),
    ("link_r", "Drop–importance mean r, k = 4,000", 0.474, "r", RECOMPUTED, LINK_FILES),
    ("link_t", "t(26) of the mean r, k = 4,000", 16.92, "t", RECOMPUTED, LINK_FILES),
    ("imp_valence", "Importance τ-b of valence", 0.5860, "r4", RECOMPUTED, HUMAN_FILES),
    ("imp_happy", "Importance τ-b of happy-face", 0.6052, "r4", RECOMPUTED, HUMAN_FILES),
    ("n_imp_sig", "Important attributes (study's bootstrap rule)", 12, "int", RECOMPUTED,
     HUMAN_FILES),
]
STUDY_K = 4000   # the k at which the study states its numbers (the quantities above)

DIGITS = {"pct": 2, "int": 0, "pts": 1, "t": 2, "r": 3, "r4": 4}


def source_note(kinds) -> str:
    """The caption's sentence on what the reference column is, from the sources used."""
    kinds = list(dict.fromkeys(kinds))
    if kinds == [RECOMPUTED]:
        return ("Reference: the study's quantities recomputed from its released data files "
                "with its own definitions (development notes), not numbers printed in the "
                "paper; a difference checks emostat's code against that recomputation.")
    return ("Reference: each value's source is named in the Source column (paper, release "
            "file, README figure or recomputed from the release).")


def shown(x, how: str) -> str:
    if x is None:
        return "–"
    if how in ("r", "r4"):
        return fmt.fmt_stat(x, DIGITS[how], bounded=True)
    return fmt.fmt_num(x, DIGITS[how])


def reproduced(run) -> dict:
    """``key → (emostat value, claims row text or "")`` from a run's tables at the study's k."""
    out: dict = {}
    claims = claims_of(run)
    be = run.get("masking_by_emotion")
    if be is not None and STUDY_K in set(be["k"]):
        d = be[be["k"] == STUDY_K].assign(drop=lambda x: extra_drop(x))
        for col in ("acc_none", "acc_random", "acc_attribute"):
            if col in d:
                out[col] = (100 * d[col].mean(), "")
        out["n_emotions_sig"] = (int(((d["q_value"] < .05) & (d["drop"] > 0)).sum()),
                                 record_text(claims, "masking"))
        r = d[d["concept"] == "remorse"]
        if len(r):
            out["remorse_drop"] = (100 * float(r["drop"].iloc[0]), "")
            out["remorse_t"] = (-float(r["statistic"].iloc[0]), "")
    link = run.get("importance_link")
    if link is not None and STUDY_K in set(link["k"]):
        at = link[link["k"] == STUDY_K]
        s = rows(at, test="study_t")
        if s is not None and len(s):
            out["link_r"] = (float(s["estimate"].iloc[0]), "")
            out["link_t"] = (float(s["statistic"].iloc[0]), record_text(claims, "link"))
    imp = run.get("attribute_importance")
    if imp is not None:
        i = imp.set_index("attribute")
        for key, a in (("imp_valence", "valence"), ("imp_happy", "happy-face")):
            if a in i.index:
                out[key] = (float(i.loc[a, "estimate"]), "")
        if "boot_share_le0" in imp:
            out["n_imp_sig"] = (int((imp["boot_share_le0"] < .05).sum()),
                                record_text(claims, "importance"))
    return out


def record_text(claims, claim: str) -> str:
    """``supported: 2.9 points, t(13.00) = 1.22, p = .244 (...)`` from the claim's record row
    at k = STUDY_K (or its only row), "" without one."""
    r = record(claims, claim, k=STUDY_K) if claims is not None else None
    if r is None and claims is not None:
        r = record(claims, claim)
    if r is None:
        return ""
    bits = [x for x in (estimate_text(r), test_part(r)) if x]
    name = test_name(r.get("test"))
    return f"{r['decision']}: " + ", ".join(bits) + (f" ({name})" if name else "")


def comparison_rows(run) -> pd.DataFrame:
    """Reference, emostat and difference per quantity, with the reference's source and the
    run's claims row of record; quantities the run lacks are left out."""
    got = reproduced(run)
    out = []
    for key, what, ref, how, kind, where in PUBLISHED:
        if key not in got or got[key][0] is None:
            continue
        val, claim = got[key]
        out.append({"Quantity": what, "Source": f"{kind}: {where}", "Reference": shown(ref, how),
                    "emostat": shown(val, how),
                    "Difference": fmt.fmt_num(val - ref, DIGITS[how] if how != "r" else 3),
                    "Test of record (emostat)": claim or "–"})
    return pd.DataFrame(out)
