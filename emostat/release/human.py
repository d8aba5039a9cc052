"""Read the study's human rating data and write emostat's human datasets.

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

from emostat.constants import (AFFECTIVE, ANALYSIS_ORDER, ATTRIBUTES, EMOTIONS, FACES, N_PAIRS,
                               pair_indices)
from emostat.checks import require_columns
from emostat.errors import InputError, input_error
from emostat.io import file_sha256, provenance, write_table
from emostat.release import common
from emostat.schemas import schema

N_ITEMS = 38  # appraisal items kept for analysis (survey items 4..41)
N_TRIALS = 378  # PsychoPy trials: all pairs of 28 words (27 emotions + "neutral")

# The study's design as released (commit 614c978): respondents in each raw file and how many
# pass the screening; the long tables then hold included x 27 emotions x attributes (affective
# 2, physical 6) or x 38 items (appraisal) rows. Similarity: 69 PsychoPy files, 61 of them the
# study's participants (x 351 pairs).
EXPECTED = {"affective": (35, 30), "physical": (36, 30), "appraisal": (329, 299),
            "similarity": (69, 61)}

# Survey column stems (the file has e.g. "1_Arousal_1", "1_Anger _1") -> attribute names.
_AFFECTIVE_STEMS = dict(zip(("arousal", "valence"), AFFECTIVE))
_FACE_STEMS = dict(zip(("happy", "anger", "sad", "fear", "surprise", "disgust"), FACES))


# ---------------------------------------------------------------------------------------------
# small helpers

def _read_csv(path: Path) -> pd.DataFrame:
    """All cells as stripped strings ('' for empty); column names stripped."""
    if not path.exists():
        raise input_error(path, "required release file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise input_error(path, f"not a readable CSV file ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    return df.apply(lambda s: s.str.strip())


def _survey_columns(df: pd.DataFrame, path: Path, stems: dict[str, str]) -> dict:
    """Map (item number, attribute) -> column name for columns like ``12_Anger _1``."""
    found = {}
    for col in df.columns:
        m = re.fullmatch(r"(\d+)_([A-Za-z]+)\s*_1", col)
        if m and m.group(2).lower() in stems:
            found[(int(m.group(1)), stems[m.group(2).lower()])] = col
    for item in range(1, len(EMOTIONS) + 2):
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
    # (item, attribute) in ATTRIBUTES order; item = the emotion number in EMOTIONS order
    keys = sorted(cols, key=lambda k: (k[0], ATTRIBUTES.index(k[1])))
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
        "participant_id": np.repeat(np.asarray(ids, dtype=object)[rows], len(keys)),
        "emotion": np.tile([EMOTIONS[k[0] - 1] for k in keys], n),
        "attribute": np.tile([k[1] for k in keys], n),
        "rating": values.ravel()})


def _participants(experiment, ids, reasons) -> pd.DataFrame:
    return pd.DataFrame({"experiment": experiment, "participant_id": list(ids),
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
    df = _read_csv(path)
    require_columns(df, ["Finished", "UserLanguage", "Consent", "Prolific ID"], path)
    cols = _survey_columns(df, path, stems)
    reasons = _screen(df, {cols[(28, a)]: "9" for a in attributes})
    ids = df["Prolific ID"].tolist()
    keep = np.array([r is None for r in reasons])
    cols = {k: v for k, v in cols.items() if k[0] <= len(EMOTIONS)}
    part = _participants(experiment, ids, reasons)
    ratings = _ratings(df, path, cols, ids, keep, experiment)
    check_counts(experiment, path, part, len(ratings), len(EMOTIONS) * len(attributes))
    return part, ratings

def read_affective(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants and long ratings (arousal, valence) of the affective experiment.

    Returns
    -------
    participants : DataFrame
        experiment, participant_id, included, exclusion_reason (None when included).
    ratings : DataFrame
        experiment, participant_id, emotion, attribute, rating (included participants only).
    """
    return _read_rating_experiment(root, common.AFFECTIVE_DIR, _AFFECTIVE_STEMS, AFFECTIVE,
                                   "affective")


def read_physical(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants and long ratings (six ``*-face`` attributes) of the physical experiment.

    Same columns as :func:`read_affective`.
    """
    return _read_rating_experiment(root, common.PHYSICAL_DIR, _FACE_STEMS, FACES, "physical")


def read_appraisal(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants and long item responses of the appraisal experiment.

    The Qualtrics export has two extra header rows (question text, import ids); the item text
    is taken from the first. Items 1..38 are survey columns ``4_Item_1`` .. ``41_Item_1``;
    ``42_Item_1`` (must be 4) and ``43_Item_1`` (must be -99) are attention checks.

    Returns
    -------
    participants : DataFrame
        experiment ("appraisal"), participant_id, included, exclusion_reason.
    responses : DataFrame
        participant_id, emotion, item (1..38), response (1..9; NaN where the source has -99 =
        not applicable or is empty), item_text.
    """
    path = Path(root) / common.APPRAISAL_DIR / "rawdata.csv"
    df = _read_csv(path)
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
        if emotions[r] not in EMOTIONS:
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
    responses = pd.DataFrame(rows, columns=["participant_id", "emotion", "item", "response",
                                            "item_text"])
    part = _participants("appraisal", ids, reasons)
    check_counts("appraisal", path, part, len(responses), N_ITEMS)
    return part, responses


def _item_text(question: str) -> str:
    """'To what extent ... description? - <item> - [Field-1]' -> '<item>'."""
    parts = [p.strip() for p in str(question).split(" - ")]
    return parts[1] if len(parts) >= 3 else str(question).strip()


# ---------------------------------------------------------------------------------------------
# similarity (PsychoPy)

def read_psychopy_file(path, n_trials: int = N_TRIALS) -> pd.DataFrame:
    """One participant's PsychoPy pair-rating file, trials sorted by condition index.

    The raw response is a 1-9 *similarity* rating; the study's dissimilarity is 10 - response
    (``merge.m``). Condition index t (``trials.thisIndex``) is pair t of MATLAB's
    ``nchoosek`` over the 28 words of ``emotions.txt`` (27 emotions + "neutral").

    Returns
    -------
    DataFrame
        trial (condition index 0..n_trials-1), response (NaN when the participant gave
        none), rt (seconds), participant.

    Raises
    ------
    InputError
        The file is missing, empty, has no response columns, or holds fewer than
        ``n_trials`` distinct trials (the release has 4 such files).
    """
    path = Path(path)
    if not path.exists():
        raise input_error(path, "PsychoPy file not found")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise input_error(path, "empty PsychoPy file (no header, no trials)")
    try:
        df = pd.read_csv(path, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise input_error(path, f"not a readable PsychoPy CSV ({exc})") from exc
    for col in ("Rating.response", "trials.thisIndex"):
        if col not in df.columns:
            raise input_error(path, "PsychoPy column missing", field=col)
    df = df[df["trials.thisIndex"].notna()]
    trial = df["trials.thisIndex"].astype(int).to_numpy()
    if len(np.unique(trial)) < n_trials or len(trial) != n_trials:
        raise input_error(path, f"truncated PsychoPy file: {len(np.unique(trial))} of "
                          f"{n_trials} trials", field="trials.thisIndex")
    if set(trial) != set(range(n_trials)):
        raise input_error(path, f"trial indices are not 0..{n_trials - 1}",
                          field="trials.thisIndex")
    response = pd.to_numeric(df["Rating.response"], errors="coerce").to_numpy(float)
    bad = np.isfinite(response) & ((response < 1) | (response > 9))
    if bad.any():
        raise input_error(path, f"response {response[bad][0]} outside 1..9",
                          row=int(np.flatnonzero(bad)[0]) + 2, field="Rating.response")
    out = pd.DataFrame({"trial": trial, "response": response,
                        "rt": pd.to_numeric(df.get("Rating.rt"), errors="coerce"),
                        "participant": df.get("participant", pd.Series([None] * len(df)))})
    return out.sort_values("trial", kind="stable").reset_index(drop=True)


def read_word_list(path) -> list[str]:
    """The 28 words of ``emotions.txt``: the 27 emotions in alphabetical order, then neutral."""
    path = Path(path)
    if not path.exists():
        raise input_error(path, "word list not found")
    words = [w.strip() for w in path.read_text(encoding="utf-8-sig").splitlines() if w.strip()]
    if len(words) < len(EMOTIONS) + 1:
        raise input_error(path, f"{len(words)} words, expected 28 (27 emotions + neutral)")
    for r, w in enumerate(words[:len(EMOTIONS)], start=1):
        if w not in EMOTIONS:
            raise input_error(path, f"unknown emotion name {w!r}", row=r)
    if tuple(words[:len(EMOTIONS)]) != EMOTIONS:
        raise input_error(path, "the 27 emotions are not in alphabetical GoEmotions order")
    return words


def _nchoosek_to_analysis(words: list[str]) -> np.ndarray:
    """Index into the 378 nchoosek pairs for each of the 351 analysis-order pairs."""
    where = {}
    t = 0
    for a in range(len(words)):
        for b in range(a + 1, len(words)):
            where[frozenset((words[a], words[b]))] = t
            t += 1
    i, j = pair_indices()
    return np.array([where[frozenset((ANALYSIS_ORDER[a], ANALYSIS_ORDER[b]))]
                     for a, b in zip(i, j)])


def psychopy_dissimilarity(trials: pd.DataFrame, words: list[str]) -> np.ndarray:
    """351 dissimilarities (10 - response) in analysis pair order; NaN where unanswered."""
    resp = trials.set_index("trial")["response"].reindex(range(N_TRIALS)).to_numpy(float)
    return 10.0 - resp[_nchoosek_to_analysis(words)]


def read_similarity(root) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The study's 61 per-participant dissimilarity vectors, with participant ids.

    Values come from ``Data/preprocessed/subjective_comparison/ind_dist_subjective_comparison
    .csv`` (the study's own table: pairs the participant skipped hold the pair's mean over
    participants). Each row is matched to the raw PsychoPy file whose answered pairs equal it
    exactly; that gives its participant id and marks the imputed cells. Rows without a match
    (or without the raw folder) get ids ``S01``.. and ``imputed`` null.

    Returns
    -------
    participants : DataFrame
        experiment ("similarity"), participant_id, included, exclusion_reason: one row per
        PsychoPy file plus unmatched study rows.
    similarity : DataFrame
        participant_id, pair (0..350), emotion_a, emotion_b, dissimilarity, imputed.
    check : dict
        Cross-check of raw vs preprocessed: n_files, n_matched, max_abs_diff (raw vectors,
        skipped pairs filled with the pair mean over the matched participants, vs the study's
        table), unreadable (file -> reason).
    """
    root = Path(root)
    path = common.find(root, common.SUBJECT_DIST)
    df = _read_csv(path)
    if df.shape[1] != N_PAIRS:
        raise input_error(path, f"{df.shape[1]} columns, expected {N_PAIRS} pairs")
    values = np.empty(df.shape)
    for c, col in enumerate(df.columns):
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        if not np.isfinite(v).all():
            raise input_error(path, "missing or non-numeric dissimilarity",
                              row=int(np.flatnonzero(~np.isfinite(v))[0]) + 2, field=col)
        values[:, c] = v
    n = len(values)
    ids = [f"S{r + 1:02d}" for r in range(n)]
    imputed: list = [None] * n
    raw_dir = root / common.SIMILARITY_RAW_DIR
    files = sorted(raw_dir.glob("*_PRaM_*.csv")) if raw_dir.is_dir() else []
    part_rows, unreadable, raw_vectors = [], {}, {}
    if files:
        words = read_word_list(raw_dir / "emotions.txt")
        for f in files:
            pid = f.name.split("_")[0]
            try:
                v = psychopy_dissimilarity(read_psychopy_file(f), words)
            except InputError as exc:
                unreadable[f.name] = str(exc).split(": ", 1)[-1]
                part_rows.append(("similarity", pid, False, unreadable[f.name]))
                continue
            if np.isnan(v).all():
                part_rows.append(("similarity", pid, False, "no responses in the file"))
                continue
            ok = np.isfinite(v)
            hit = np.flatnonzero((values[:, ok] == v[ok]).all(axis=1))
            if len(hit) == 1 and imputed[hit[0]] is None:
                r = hit[0]
                ids[r], imputed[r], raw_vectors[r] = pid, ~ok, v
                part_rows.append(("similarity", pid, True, None))
            else:
                part_rows.append(("similarity", pid, False,
                                  "not among the study's subjects (no matching row of "
                                  "ind_dist_subjective_comparison.csv)"))
    for r in range(n):
        if imputed[r] is None:
            part_rows.append(("similarity", ids[r], True, None))
    participants = pd.DataFrame(part_rows, columns=["experiment", "participant_id", "included",
                                                    "exclusion_reason"])
    i, j = pair_indices()
    sim = pd.DataFrame({
        "participant_id": np.repeat(ids, N_PAIRS),
        "pair": np.tile(np.arange(N_PAIRS), n),
        "emotion_a": np.tile(np.asarray(ANALYSIS_ORDER)[i], n),
        "emotion_b": np.tile(np.asarray(ANALYSIS_ORDER)[j], n),
        "dissimilarity": values.ravel(),
        "imputed": pd.array(np.concatenate([m if m is not None else [None] * N_PAIRS
                                            for m in imputed]), dtype="boolean"),
    })
    check_counts("similarity", root / common.SUBJECT_DIST, participants, len(sim), N_PAIRS)
    check = {"n_files": len(files), "n_matched": len(raw_vectors), "unreadable": unreadable,
             "max_abs_diff": None}
    if raw_vectors and len(raw_vectors) == n:
        raw = np.vstack([raw_vectors[r] for r in range(n)])
        filled = np.where(np.isnan(raw), np.nanmean(raw, axis=0), raw)
        check["max_abs_diff"] = float(np.abs(filled - values).max())
    return participants, sim, check


# ---------------------------------------------------------------------------------------------
# import-release and the shipped summaries

def _hashes(root: Path, paths) -> dict[str, str]:
    return {str(Path(p).relative_to(root)): file_sha256(p) for p in paths}


def import_human(root, out, quiet: bool = False) -> dict[str, Path]:
    """Write the human datasets of the release at ``root`` under ``out``.

    Files: ``participants.parquet``, ``ratings.parquet`` (affective + physical),
    ``appraisal_responses.parquet``, ``similarity.parquet`` (schemas in
    :mod:`emostat.schemas`; extra columns ``item_text`` and ``imputed``). Each carries a
    provenance record with the source folder and the SHA-256 of every file read.

    Returns
    -------
    dict
        dataset name -> written path.
    """
    root = common.check_release(root)
    out = Path(out)
    pa_aff, r_aff = read_affective(root)
    pa_phy, r_phy = read_physical(root)
    pa_app, responses = read_appraisal(root)
    pa_sim, similarity, check = read_similarity(root)
    raw_dir = root / common.SIMILARITY_RAW_DIR
    src = {
        "ratings": [root / common.AFFECTIVE_DIR / "rawdata.csv",
                    root / common.PHYSICAL_DIR / "rawdata.csv"],
        "appraisal_responses": [root / common.APPRAISAL_DIR / "rawdata.csv"],
        "similarity": [common.find(root, common.SUBJECT_DIST),
                       *sorted(raw_dir.glob("*_PRaM_*.csv"))],
    }
    src["participants"] = src["ratings"] + src["appraisal_responses"] + src["similarity"]
    tables = {
        "participants": pd.concat([pa_aff, pa_phy, pa_app, pa_sim], ignore_index=True),
        "ratings": pd.concat([r_aff, r_phy], ignore_index=True),
        "appraisal_responses": responses,
        "similarity": similarity,
    }
    src["released_attribute_rdms"] = [common.find(root, common.ATTRIBUTE_DIST)]
    from emostat.analysis.human import read_released_attribute_rdms

    tables["released_attribute_rdms"] = read_released_attribute_rdms(root).reset_index()
    written = {}
    for name, table in tables.items():
        prov = provenance(source=str(root), dataset=name, files=_hashes(root, src[name]))
        if name == "similarity":
            prov["raw_check"] = check
        written[name] = write_table(table, out / f"{name}.parquet", prov=prov,
                                    schema=_with_extras(name, table))
    if not quiet:
        inc = tables["participants"].groupby("experiment")["included"].agg(["sum", "size"])
        for exp, row in inc.iterrows():
            want = EXPECTED.get(exp)
            print(f"{exp}: {row['sum']} of {row['size']} participants included"
                  + (f" (the study's release: {want[1]} of {want[0]})" if want else ""))
    return written


def _with_extras(name: str, table: pd.DataFrame):
    """The dataset's schema plus any extra columns of ``table`` (types inferred)."""
    import pyarrow as pa

    base = schema(name)
    extra = [c for c in table.columns if c not in base.names]
    inferred = pa.Schema.from_pandas(table[extra], preserve_index=False) if extra else None
    fields = list(base) + ([inferred.field(c) for c in extra] if extra else [])
    return pa.schema(fields)


def write_shipped_human(root, out_dir) -> dict[str, Path]:
    """Write the study space's human files (``data/spaces/study/``) from the release.

    ``ratings.csv``: long ``concept, attribute, value``, 27 x 14 rows (analysis order, then
    attribute order): the per-concept means derived by emostat from the raw ratings
    (appraisal: mean varimax component scores); no participants (the raw ratings stay out of
    the repository). ``similarity.csv``: 351 rows ``concept_a, concept_b, value``, the mean
    dissimilarity over the study's 61 participants, in the study's pair order.
    ``attribute_importance.csv``: per attribute, Kendall tau-b of the mean human RDM with
    emostat's attribute RDM and its participant bootstrap (10,000 resamples, seeded): SD, BCa
    interval and the share of resamples with tau <= 0 (``boot_share_le0``, the study's "p").

    Returns
    -------
    dict
        file stem -> path.
    """
    from emostat.analysis.human import attribute_importance, load_human

    space = load_human(root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    means = space.means
    concepts, attributes = list(means.index), list(means.columns)
    ratings = pd.DataFrame({"concept": np.repeat(concepts, len(attributes)),
                            "attribute": attributes * len(concepts),
                            "value": means.to_numpy(float).ravel()})
    i, j = pair_indices(len(concepts))
    mean = pd.DataFrame({"concept_a": np.asarray(concepts)[i],
                         "concept_b": np.asarray(concepts)[j], "value": space.mean_rdm})
    # participant bootstrap of importance against emostat's own attribute RDMs (the ones a
    # collected run is linked to), so experiments can show CIs without the participants
    imp = attribute_importance(space.subject_rdms, space.attribute_rdms, n_boot=SHIPPED_N_BOOT,
                               n_perm=0, seed=SHIPPED_SEED)
    imp = imp[["attribute", "estimate", "std_error", "conf_low", "conf_high", "boot_share_le0",
               "conf_method", "n_boot"]].assign(seed=SHIPPED_SEED)
    paths = {"ratings": out_dir / "ratings.csv", "similarity": out_dir / "similarity.csv",
             "attribute_importance": out_dir / "attribute_importance.csv"}
    ratings.to_csv(paths["ratings"], index=False, float_format="%.17g")
    mean.to_csv(paths["similarity"], index=False, float_format="%.17g")
    imp.to_csv(paths["attribute_importance"], index=False, float_format="%.17g")
    return paths


SHIPPED_N_BOOT = 10_000
SHIPPED_SEED = 20241201
