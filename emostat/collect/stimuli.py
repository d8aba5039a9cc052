"""Readers for emotion stimuli, and the item sets of the inference tasks.

Two input formats:

- emostat's situations (``data/stimuli/situations.csv``; columns ``id, emotion, text`` and
  optional ``person, setting``), one emotion per situation — :func:`read_stimuli`;
- GoEmotions-style CSVs such as the release's ``Data/goemotions/dev.csv`` (multi-label) —
  :func:`read_goemotions`.

From either, :func:`balanced_binary` builds the study's balanced binary set for one emotion and
:func:`multiclass_items` the single-label items of the 27-way task.

Row numbers in error messages are those a spreadsheet shows: the header is row 1, the first
data record row 2 (quoted multi-line fields count as one record; blank lines are skipped and
not counted).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from emostat.checks import require_columns
from emostat.errors import InputError, input_error
from emostat.paths import DATA_DIR

STIMULI_COLUMNS = ("id", "emotion", "text")
OPTIONAL_COLUMNS = ("person", "setting")
PERSONS = ("first", "third")
# Settings used in the shipped file (user files may use any non-empty word).
SETTINGS = ("family", "friendship", "health", "home", "money", "nature", "online", "public",
            "romance", "school", "sport", "travel", "work")
# The GoEmotions files' vocabulary, in label index order: the 27 emotions alphabetically (the
# study's emotions, data/spaces/study/concepts.csv), then neutral (index 27).
GOEMOTIONS_EMOTIONS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise")
GOEMOTIONS_LABELS = GOEMOTIONS_EMOTIONS + ("neutral",)


def default_stimuli_path() -> Path:
    """The shipped situations file, the study space's ``DATA_DIR/spaces/study/stimuli.csv``."""
    return DATA_DIR / "spaces" / "study" / "stimuli.csv"


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV as strings, with clear errors for missing, empty and malformed files.

    Uses the csv module (strict quoting) so that every record must have as many fields as the
    header; blank lines are skipped.
    """
    if not path.is_file():
        raise input_error(path, "file not found")
    records = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            for rec in reader:
                if rec and any(f.strip() for f in rec):
                    records.append(rec)
    except csv.Error as e:
        raise input_error(path, f"malformed CSV near line {reader.line_num} ({e})") from None
    except UnicodeDecodeError as e:
        raise input_error(path, f"not UTF-8 text ({e})") from None
    if not records:
        raise input_error(path, "file is empty (expected a header row and data rows)")
    header = [h.strip() for h in records[0]]
    if len(set(header)) != len(header):
        raise input_error(path, f"duplicate column names in header {header}", row=1)
    for k, rec in enumerate(records[1:]):
        if len(rec) != len(header):
            raise input_error(path, f"malformed CSV: {len(rec)} fields, the header has "
                              f"{len(header)} (unquoted comma?)", row=k + 2)
    if len(records) == 1:
        raise input_error(path, "no data rows (only a header)")
    return pd.DataFrame(records[1:], columns=header, dtype=object)


def read_stimuli(path=None, concepts=None) -> pd.DataFrame:
    """Read and validate an emotion-situations file.

    Parameters
    ----------
    path : str or Path, optional
        A UTF-8 CSV with columns ``id``, ``emotion``, ``text`` and optionally ``person``
        ("first" or "third") and ``setting``. Default: the shipped
        ``data/spaces/study/stimuli.csv``.
    concepts : sequence of str, optional
        The concepts an ``emotion`` may name, matched exactly (a space's ids); default the 27
        GoEmotions names, matched in any case.

    Returns
    -------
    pandas.DataFrame
        One row per situation, file order: ``id``, ``emotion`` (a GoEmotions name), ``text``
        (whitespace-trimmed), ``person``, ``setting`` (empty string when absent), then any other
        columns of the file unchanged.

    Raises
    ------
    InputError
        Missing/empty/malformed file, missing column, empty id or text, unknown emotion,
        bad person, duplicate id — naming the file, row and field.
    """
    path = Path(path) if path is not None else default_stimuli_path()
    df = _read_csv(path)
    if "emotion" not in df.columns and "concept" in df.columns:   # a space's stimuli.csv
        df = df.rename(columns={"concept": "emotion"})
    require_columns(df, STIMULI_COLUMNS, path)
    for col in OPTIONAL_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    for col in STIMULI_COLUMNS + OPTIONAL_COLUMNS:
        df[col] = df[col].str.strip()
    if concepts is None:                  # GoEmotions names; a space's ids are matched as written
        df["emotion"] = df["emotion"].str.lower()
    df["person"] = df["person"].str.lower()
    known = set(GOEMOTIONS_EMOTIONS if concepts is None else concepts)
    seen: dict[str, int] = {}
    for i, (rid, emo, text, person) in enumerate(
            zip(df["id"], df["emotion"], df["text"], df["person"])):
        row = i + 2
        if not rid:
            raise input_error(path, "empty id", row=row, field="id")
        if rid in seen:
            raise input_error(path, f"duplicate id {rid!r} (first at row {seen[rid]})", row=row,
                              field="id")
        seen[rid] = row
        if emo not in known:
            names = list(GOEMOTIONS_EMOTIONS if concepts is None else concepts)
            raise input_error(path, f"unknown emotion {emo!r}; expected one of the "
                              f"{len(names)} concepts ({', '.join(names[:4])}, ...)", row=row,
                              field="emotion")
        if not text:
            raise input_error(path, "empty text", row=row, field="text")
        if person and person not in PERSONS:
            raise input_error(path, f"person must be one of {PERSONS} or empty, got {person!r}",
                              row=row, field="person")
    first = list(STIMULI_COLUMNS + OPTIONAL_COLUMNS)
    return df[first + [c for c in df.columns if c not in first]].reset_index(drop=True)


def _parse_classes(value: str, path: Path, row: int) -> list[str]:
    """GoEmotions ``classes`` cell ("4,27") -> label names; indices or names accepted."""
    out = []
    for tok in (t.strip() for t in value.split(",")):
        if not tok:
            continue
        if tok.isdigit():
            k = int(tok)
            if k >= len(GOEMOTIONS_LABELS):
                raise input_error(path, f"label index {k} out of range 0..27", row=row,
                                  field="classes")
            out.append(GOEMOTIONS_LABELS[k])
        elif tok.lower() in GOEMOTIONS_LABELS:
            out.append(tok.lower())
        else:
            raise input_error(path, f"unknown label {tok!r}", row=row, field="classes")
    return out


def read_goemotions(path) -> pd.DataFrame:
    """Read a GoEmotions-style CSV (e.g. the release's ``Data/goemotions/dev.csv``).

    Labels come from the 27 one-hot emotion columns when present (then a ``classes`` column,
    if also present, must agree), else from a ``classes`` (or ``labels``) column holding
    comma-separated GoEmotions indices (0..26 = the 27 emotions alphabetically, 27 = neutral)
    or names. The id column is ``id`` or ``ids`` (else ``row<N>``).

    "neutral" is not an emotion of the study: it is kept out of ``labels`` and reported in the
    ``neutral`` column. Neutral-only rows are KEPT (with empty ``labels``): the study draws the
    negatives of its binary sets from all rows of the file, neutral ones included.

    Returns
    -------
    pandas.DataFrame
        One row per file row, file order: ``id``, ``text``, ``labels`` (list of emotion names in
        GoEmotions order, possibly empty), ``neutral`` (bool).
    """
    path = Path(path)
    df = _read_csv(path)
    require_columns(df, ("text",), path)
    id_col = next((c for c in ("id", "ids") if c in df.columns), None)
    ids = (df[id_col].str.strip().tolist() if id_col
           else [f"row{i + 2}" for i in range(len(df))])
    onehot = [c for c in GOEMOTIONS_LABELS if c in df.columns]
    class_col = next((c for c in ("classes", "labels") if c in df.columns), None)
    missing = [e for e in GOEMOTIONS_EMOTIONS if e not in df.columns]
    if onehot and missing:
        raise input_error(path, f"one-hot emotion columns incomplete; missing {missing}")
    if not onehot and class_col is None:
        raise input_error(path, "no label columns: expected the 27 one-hot emotion columns or "
                          "a 'classes' column of GoEmotions label indices")
    if onehot:
        for col in onehot:
            bad = ~df[col].str.strip().isin(["0", "1"])
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise input_error(path, f"one-hot value must be 0 or 1, got {df[col].iat[i]!r}",
                                  row=i + 2, field=col)
        hot = {c: (df[c].str.strip() == "1").to_numpy() for c in onehot}
    texts = df["text"].str.strip().tolist()
    classes = df[class_col].tolist() if class_col is not None else None
    labels, neutral = [], []
    for i in range(len(df)):
        row = i + 2
        if not ids[i]:
            raise input_error(path, "empty id", row=row, field=id_col)
        if not texts[i]:
            raise input_error(path, "empty text", row=row, field="text")
        names = {c for c in onehot if hot[c][i]} if onehot else set()
        if classes is not None:
            coded = _parse_classes(classes[i], path, row)
            if onehot and {c for c in coded if c in hot} != names:
                raise input_error(path, f"{class_col} {classes[i]!r} disagrees with the "
                                  f"one-hot columns {sorted(names)}", row=row, field=class_col)
            names.update(coded)
        neutral.append("neutral" in names)
        labels.append([e for e in GOEMOTIONS_EMOTIONS if e in names])
    if len(set(ids)) != len(ids):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iat[0]
        raise input_error(path, f"duplicate id {dup!r}", field=id_col)
    return pd.DataFrame({"id": ids, "text": texts, "labels": labels,
                         "neutral": neutral})


def _row_labels(df: pd.DataFrame) -> list[set]:
    """Each row's emotions: its ``labels`` list (GoEmotions rows) or its ``emotion`` (situations).

    Works on a concatenation of both kinds of table.
    """
    if "labels" not in df.columns and "emotion" not in df.columns:
        raise InputError("items need a 'labels' column (read_goemotions) or an 'emotion' column "
                         "(read_stimuli)")
    labs = df["labels"].tolist() if "labels" in df.columns else [None] * len(df)
    emos = df["emotion"].tolist() if "emotion" in df.columns else [None] * len(df)
    out = []
    for lab, emo in zip(labs, emos):
        if isinstance(lab, (list, tuple, np.ndarray)):
            out.append(set(lab))
        elif isinstance(emo, str) and emo:
            out.append({emo})
        else:
            out.append(set())
    return out


def _id_column(df: pd.DataFrame) -> str:
    for col in ("id", "stimulus_id"):
        if col in df.columns:
            return col
    raise InputError("items need an 'id' (or 'stimulus_id') column")


def balanced_binary(df: pd.DataFrame, emotion: str, seed: int = 0,
                    draw: str = "distinct") -> pd.DataFrame:
    """The balanced binary set for one emotion: its positives and as many drawn rows.

    ``draw="distinct"`` (the default): the drawn rows are sampled WITHOUT replacement from the
    rows that do not carry ``emotion`` (``RandomState(seed).choice(..., replace=False)``), so no
    stimulus appears twice and the set is exactly half positives. ``draw="study"``: the study's
    draw, described below, which repeats stimuli (15 of the 810 items of the release's sets
    repeat a stimulus of the same emotion).

    Positives: every row carrying ``emotion``, in file order. Then as many rows drawn uniformly
    WITH replacement from ALL rows — as the study's code does (``np.random.seed(seed)``;
    ``np.random.choice(data.index, n_pos)``; thunlp/Model_Emotion ``framework/data_loader.py``):
    the draw is not restricted to rows lacking the emotion, and each drawn row keeps its true
    label, so a few drawn rows are positives (expected share n_pos / n_rows). The draw uses
    NumPy's legacy ``RandomState(seed)``, so for a file in the same row order it picks the same
    rows as the study's code with the same seed.

    Parameters
    ----------
    df : DataFrame
        From :func:`read_goemotions` (``labels``) or :func:`read_stimuli` (``emotion``).
    emotion : str
        A GoEmotions emotion.
    seed : int
        Seed of the draw.
    draw : {"distinct", "study"}

    Returns
    -------
    pandas.DataFrame
        2 x n_pos rows, positives first: ``id`` (named ``stimulus_id`` if the input's id
        column is), ``text``, ``label`` (1 if the row carries ``emotion``, else 0),
        ``emotion`` (the task's emotion), ``part`` ("positive" or "sampled").
    """
    flag = np.fromiter((emotion in lab for lab in _row_labels(df)), bool, len(df))
    id_col = _id_column(df)
    pos = np.flatnonzero(flag)
    if len(pos) == 0:
        raise InputError(f"balanced_binary: no item carries the emotion {emotion!r} (an "
                         f"unknown emotion, or none of its items given)")
    if draw == "study":
        drawn = np.random.RandomState(seed).choice(len(df), len(pos))
    elif draw == "distinct":
        neg = np.flatnonzero(~flag)
        if len(neg) < len(pos):
            raise InputError(f"balanced_binary: emotion {emotion!r} has {len(pos)} items but "
                             f"only {len(neg)} items without it: no balanced set of distinct "
                             f"stimuli (draw = 'study' repeats rows)")
        drawn = np.sort(np.random.RandomState(seed).choice(neg, len(pos), replace=False))
    else:
        raise InputError(f"balanced_binary: draw must be 'distinct' or 'study', got {draw!r}")
    take = np.concatenate([pos, drawn])
    return pd.DataFrame({
        id_col: df[id_col].to_numpy()[take],
        "text": df["text"].to_numpy()[take],
        "label": flag[take].astype(np.int64),
        "emotion": emotion,
        "part": ["positive"] * len(pos) + ["sampled"] * len(drawn),
    })


def multiclass_items(df: pd.DataFrame) -> pd.DataFrame:
    """Single-label items for 27-way emotion inference.

    Situations (:func:`read_stimuli`) give every row; GoEmotions rows (:func:`read_goemotions`)
    only those with exactly one emotion label (multi-label and neutral-only rows are dropped,
    since a 27-way prediction has one right answer). A concatenation of both works.

    Returns
    -------
    pandas.DataFrame
        ``id`` (named ``stimulus_id`` if the input's id column is), ``text``, ``emotion`` (the
        correct answer), input order.
    """
    id_col = _id_column(df)
    labs = _row_labels(df)
    keep = np.fromiter((len(lab) == 1 for lab in labs), bool, len(df))
    return pd.DataFrame({id_col: df[id_col].to_numpy()[keep],
                         "text": df["text"].to_numpy()[keep],
                         "emotion": [next(iter(lab)) for lab in labs if len(lab) == 1]})
