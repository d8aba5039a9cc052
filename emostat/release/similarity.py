"""Read the study's similarity experiment: PsychoPy pair ratings and the study's per-participant
dissimilarity table (``Data/preprocessed/subjective_comparison/``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emostat.constants import N_PAIRS, pair_indices
from emostat.errors import InputError, input_error
import emostat.release.common as common

from emostat.release.ratings import check_counts
from emostat.release.vocab import RELEASE_ANALYSIS_ORDER, RELEASE_EMOTIONS

N_TRIALS = 378  # PsychoPy trials: all pairs of 28 words (27 emotions + "neutral")


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
    if len(words) < len(RELEASE_EMOTIONS) + 1:
        raise input_error(path, f"{len(words)} words, expected 28 (27 emotions + neutral)")
    for r, w in enumerate(words[:len(RELEASE_EMOTIONS)], start=1):
        if w not in RELEASE_EMOTIONS:
            raise input_error(path, f"unknown emotion name {w!r}", row=r)
    if tuple(words[:len(RELEASE_EMOTIONS)]) != RELEASE_EMOTIONS:
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
    return np.array([where[frozenset((RELEASE_ANALYSIS_ORDER[a], RELEASE_ANALYSIS_ORDER[b]))]
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
        experiment ("similarity"), participant, included, exclusion_reason: one row per
        PsychoPy file plus unmatched study rows.
    similarity : DataFrame
        participant, pair (0..350), concept_a, concept_b, dissimilarity, imputed.
    check : dict
        Cross-check of raw vs preprocessed: n_files, n_matched, max_abs_diff (raw vectors,
        skipped pairs filled with the pair mean over the matched participants, vs the study's
        table), unreadable (file -> reason).
    """
    root = Path(root)
    path = common.find(root, common.SUBJECT_DIST)
    df = common.read_cells(path)
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
    participants = pd.DataFrame(part_rows, columns=["experiment", "participant", "included",
                                                    "exclusion_reason"])
    i, j = pair_indices()
    sim = pd.DataFrame({
        "participant": np.repeat(ids, N_PAIRS),
        "pair": np.tile(np.arange(N_PAIRS), n),
        "concept_a": np.tile(np.asarray(RELEASE_ANALYSIS_ORDER)[i], n),
        "concept_b": np.tile(np.asarray(RELEASE_ANALYSIS_ORDER)[j], n),
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

