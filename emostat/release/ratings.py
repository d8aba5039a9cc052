"""Read the study's human rating experiments (affective, physical, appraisal).

Four experiments of the release (github.com/thunlp/Model_Emotion, commit 614c978):

- affective: arousal and valence of the 27 emotion words, 1-9 (Qualtrics export);
- physical: consistency of each word with six basic-emotion faces, 1-9;
- appraisal: one recalled event per participant, 38 appraisal items, 1-9 or -99 (n/a);
- similarity: pairwise dissimilarity of the emotion words (PsychoPy, one file per person).

Exclusions follow the study's R code (``Code/preprocess1_PCs_of_emotional_features.R``): a
participant is kept when the survey is finished, the language is EN, consent is "I agree" and
the attention checks hold (affective: both item-28 ratings = 9; physical: all six item-28
ratings = 9; appraisal: item 42 = 4, item 43 = -99 and the specific event is not "n/a").
The survey's emotion columns 1..27 are the alphabetical GoEmotions order
(``Data/raw_data/subjective_comparison/emotions.txt``); item 28 is the attention check.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from emostat.checks import require_columns
from emostat.errors import input_error
import emostat.release.common as common
from emostat.release.vocab import (RELEASE_AFFECTIVE, RELEASE_ATTRIBUTES, RELEASE_EMOTIONS,
                                   RELEASE_FACES)

N_ITEMS = 38  # appraisal items kept for analysis (survey items 4..41)

# The study's design as released (commit 614c978): respondents in each raw file and how many
# pass the screening; the long tables then hold included x 27 emotions x attributes (affective
# 2, physical 6) or x 38 items (appraisal) rows. Similarity: 69 PsychoPy files, 61 of them the
# study's participants (x 351 pairs).
EXPECTED = {"affective": (35, 30), "physical": (36, 30), "appraisal": (329, 299),
            "similarity": (69, 61)}

# Survey column stems (the file has e.g. "1_Arousal_1", "1_Anger _1") -> attribute names.
_AFFECTIVE_STEMS = dict(zip(("arousal", "valence"), RELEASE_AFFECTIVE))
_FACE_STEMS = dict(zip(("happy", "anger", "sad", "fear", "surprise", "disgust"), RELEASE_FACES))



def _survey_columns(df: pd.DataFrame, path: Path, stems: dict[str, str]) -> dict:
    """Map (item number, attribute) -> column name for columns like ``12_Anger _1``."""
    found = {}
    for col in df.columns:
        m = re.fullmatch(r"(\d+)_([A-Za-z]+)\s*_1", col)
        if m and m.group(2).lower() in stems:
            found[(int(m.group(1)), stems[m.group(2).lower()])] = col
    for item in range(1, len(RELEASE_EMOTIONS) + 2):
        for attr in stems.values():
            if (item, attr) not in found:
                raise input_error(path, f"survey column for item {item}, attribute {attr!r} "
                                  "missing (expected e.g. '1_Arousal_1')")
    return found


def _screen(df: pd.DataFrame, checks: dict[str, str]) -> list[str | None]:
    """The study's exclusion rule per row: None when kept, else the reasons joined by '; '."""
    reasons = []
    for _, row in df.iterrows():
        why = []
        if row.get("Finished", "").lower() not in ("true", "1"):
            why.append("survey not finished")
        if row.get("UserLanguage", "") != "EN":
            why.append(f"language {row.get('UserLanguage', '')!r}, not EN")
        if row.get("Consent", "") != "I agree":
            why.append("no consent")
        for col, wanted in checks.items():
            got = row[col]
            if got != wanted:
                why.append(f"attention check {col} = {got!r}, expected {wanted!r}")
        reasons.append("; ".join(why) or None)
    return reasons


def _ratings(df, path, cols, ids, keep, experiment, line_offset=2) -> pd.DataFrame:
    """Long ratings of kept rows; a missing or non-numeric rating is an InputError."""
    rows = np.flatnonzero(keep)
    # (item, attribute) in RELEASE_ATTRIBUTES order; item = the emotion's number in
    # RELEASE_EMOTIONS order
    keys = sorted(cols, key=lambda k: (k[0], RELEASE_ATTRIBUTES.index(k[1])))
    raw = df.iloc[rows][[cols[k] for k in keys]]
    values = raw.apply(pd.to_numeric, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < 1) | (values > 9)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise input_error(path, f"rating {raw.iat[r, c]!r} is not a number in 1..9 "
                          f"(participant {ids[rows[r]]})", row=int(rows[r]) + line_offset,
                          field=raw.columns[c])
    n = len(rows)
    return pd.DataFrame({
        "experiment": experiment,
        "participant": np.repeat(np.asarray(ids, dtype=object)[rows], len(keys)),
        "concept": np.tile([RELEASE_EMOTIONS[k[0] - 1] for k in keys], n),
        "attribute": np.tile([k[1] for k in keys], n),
        "rating": values.ravel()})


def _participants(experiment, ids, reasons) -> pd.DataFrame:
    return pd.DataFrame({"experiment": experiment, "participant": list(ids),
                         "included": [r is None for r in reasons],
                         "exclusion_reason": list(reasons)})


def check_counts(experiment: str, path, participants: pd.DataFrame, n_rows: int,
                 per_participant: int) -> str:
    """Compare a reader's counts with the study's release (:data:`EXPECTED`).

    Returns a one-line report; warns (UserWarning) when the respondents or included
    participants differ from the release, e.g. a truncated file, and raises when the long
    table does not hold ``per_participant`` rows for each included participant.
    """
    import warnings

    n, k = len(participants), int(participants["included"].sum())
    want_n, want_k = EXPECTED[experiment]
    line = (f"{experiment}: {n} respondents, {k} included, {n_rows} rows "
            f"(the study's release: {want_n}, {want_k}, {want_k * per_participant})")
    if n_rows != k * per_participant:
        raise input_error(path, f"{n_rows} rows for {k} included participants; expected "
                                f"{per_participant} per participant")
    if (n, k) != (want_n, want_k):
        how = "the file looks truncated" if n < want_n or k < want_k else "it differs"
        warnings.warn(f"{path}: {line}: {how}", UserWarning, stacklevel=3)
    return line


# ---------------------------------------------------------------------------------------------
# the three rating experiments

def _read_rating_experiment(root, folder, stems, attributes, experiment):
    """Shared reader of the affective and physical surveys: item 28 is the attention check
    (every attribute must be rated 9); items 1..27 are the emotions, alphabetical."""
    path = Path(root) / folder / "rawdata.csv"
    df = common.read_cells(path)
    require_columns(df, ["Finished", "UserLanguage", "Consent", "Prolific ID"], path)
    cols = _survey_columns(df, path, stems)
    reasons = _screen(df, {cols[(28, a)]: "9" for a in attributes})
    ids = df["Prolific ID"].tolist()
    keep = np.array([r is None for r in reasons])
    cols = {k: v for k, v in cols.items() if k[0] <= len(RELEASE_EMOTIONS)}
    part = _participants(experiment, ids, reasons)
    ratings = _ratings(df, path, cols, ids, keep, experiment)
    check_counts(experiment, path, part, len(ratings), len(RELEASE_EMOTIONS) * len(attributes))
    return part, ratings

def read_affective(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants and long ratings (arousal, valence) of the affective experiment.

    Returns
    -------
    participants : DataFrame
        experiment, participant, included, exclusion_reason (None when included).
    ratings : DataFrame
        experiment, participant, concept, attribute, rating (included participants only).
    """
    return _read_rating_experiment(root, common.AFFECTIVE_DIR, _AFFECTIVE_STEMS,
                                   RELEASE_AFFECTIVE, "affective")


def read_physical(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants and long ratings (six ``*-face`` attributes) of the physical experiment.

    Same columns as :func:`read_affective`.
    """
    return _read_rating_experiment(root, common.PHYSICAL_DIR, _FACE_STEMS, RELEASE_FACES,
                                   "physical")


def read_appraisal(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants and long item responses of the appraisal experiment.

    The Qualtrics export has two extra header rows (question text, import ids); the item text
    is taken from the first. Items 1..38 are survey columns ``4_Item_1`` .. ``41_Item_1``;
    ``42_Item_1`` (must be 4) and ``43_Item_1`` (must be -99) are attention checks.

    Returns
    -------
    participants : DataFrame
        experiment ("appraisal"), participant, included, exclusion_reason.
    responses : DataFrame
        participant, concept, item (1..38), response (1..9; NaN where the source has -99 =
        not applicable or is empty), item_text.
    """
    path = Path(root) / common.APPRAISAL_DIR / "rawdata.csv"
    df = common.read_cells(path)
    item_cols = [f"{k}_Item_1" for k in range(4, 4 + N_ITEMS)]
    require_columns(df, ["Finished", "UserLanguage", "Consent", "PROLIFIC_PID", "EMOTION",
                        "Specific Event", "42_Item_1", "43_Item_1", *item_cols], path)
    questions = df.iloc[0]
    df = df.iloc[2:].reset_index(drop=True)  # drop the question-text and import-id rows
    line_offset = 4  # file line of data row 0: header + 2 extra header rows, 1-based
    texts = [_item_text(questions[c]) for c in item_cols]
    reasons = _screen(df, {"42_Item_1": "4", "43_Item_1": "-99"})
    for r, event in enumerate(df["Specific Event"]):
        if event.lower() == "n/a":
            reasons[r] = "; ".join(filter(None, [reasons[r], "specific event 'n/a'"]))
    ids = df["PROLIFIC_PID"].tolist()
    emotions = df["EMOTION"].str.lower().tolist()
    rows = []
    for r, why in enumerate(reasons):
        if why is not None:
            continue
        if emotions[r] not in RELEASE_EMOTIONS:
            raise input_error(path, f"unknown emotion name {df['EMOTION'][r]!r}; expected one "
                              "of the 27 GoEmotions emotions", row=r + line_offset,
                              field="EMOTION")
        for k, col in enumerate(item_cols, start=1):
            raw = df[col][r]
            try:
                value = float(raw) if raw != "" else np.nan
            except ValueError:
                raise input_error(path, f"response {raw!r} is not a number",
                                  row=r + line_offset, field=col) from None
            if value == -99:
                value = np.nan
            elif np.isfinite(value) and not 1 <= value <= 9:
                raise input_error(path, f"response {raw!r} outside 1..9 (or -99)",
                                  row=r + line_offset, field=col)
            rows.append((ids[r], emotions[r], k, value, texts[k - 1]))
    responses = pd.DataFrame(rows, columns=["participant", "concept", "item", "response",
                                            "item_text"])
    part = _participants("appraisal", ids, reasons)
    check_counts("appraisal", path, part, len(responses), N_ITEMS)
    return part, responses


def _item_text(question: str) -> str:
    """'To what extent ... description? - <item> - [Field-1]' -> '<item>'."""
    parts = [p.strip() for p in str(question).split(" - ")]
    return parts[1] if len(parts) >= 3 else str(question).strip()

