"""Generic helpers (RDM pair order) and, for the study's release readers, its vocabularies.

New code takes concept and attribute names from a :class:`emostat.space.ConceptSpace` (the
study's: ``data/spaces/study/``) or from the tables it is given. ``EMOTIONS``,
``ANALYSIS_ORDER``, ``ATTRIBUTES`` and the groups below describe the study's release files
(``emostat.release``) and equal the study space's files (``tests/test_space.py`` checks that);
modules outside ``emostat.release`` still using them are listed for removal.
"""

from __future__ import annotations

import numpy as np

# GoEmotions' 27 emotions, alphabetical (the survey and release file order).
EMOTIONS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise",
)

# The study's analysis order (Data/preprocessed/reordered_emotions.csv); all RDMs use it.
ANALYSIS_ORDER: tuple[str, ...] = (
    "realization", "surprise", "admiration", "gratitude", "optimism", "approval", "pride",
    "excitement", "joy", "love", "amusement", "caring", "relief", "curiosity", "desire",
    "disgust", "disapproval", "anger", "annoyance", "confusion", "fear", "disappointment",
    "grief", "sadness", "nervousness", "embarrassment", "remorse",
)

# The 14 attributes in the released column order.
ATTRIBUTES: tuple[str, ...] = (
    "arousal", "valence", "happy-face", "anger-face", "sad-face", "fear-face", "surprise-face",
    "disgust-face", "control", "fairness", "self-relativity", "other-relativity",
    "expectedness", "novelty",
)
AFFECTIVE = ATTRIBUTES[:2]
FACES = ATTRIBUTES[2:8]
APPRAISAL_COMPONENTS = ATTRIBUTES[8:]

# Old names used as keys in the release's masking JSON files, same order as ATTRIBUTES.
OLD_ATTRIBUTE_KEYS: tuple[str, ...] = (
    "arousal", "valence", "happy", "anger", "sad", "fear", "surprise", "disgust", "control",
    "fairness", "self-related", "other-related", "expectedness", "non-novelty",
)

# Top-k sizes of the study's manipulation; K_HEADLINE is the one the paper reports.
K_VALUES: tuple[int, ...] = (1500, 2000, 2500, 3000, 4000, 5000, 6000)
K_HEADLINE = 4000

N_EMOTIONS = len(EMOTIONS)
N_PAIRS = N_EMOTIONS * (N_EMOTIONS - 1) // 2  # 351


def k_count(k, n_neurons: int) -> int:
    """A top-k size as a count: an int is a count, a float in (0, 1) a fraction of
    ``n_neurons`` (rounded half to even, as Python's ``round``)."""
    return int(round(k * n_neurons)) if isinstance(k, float) else int(k)


def pair_indices(n: int = N_EMOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of R's ``dist()`` lower triangle, column-major.

    Pair p is (i[p], j[p]) with i > j, ordered ``for j in 0..n-2: for i in j+1..n-1``.
    """
    i, j = [], []
    for col in range(n - 1):
        for row in range(col + 1, n):
            i.append(row)
            j.append(col)
    return np.asarray(i, dtype=np.intp), np.asarray(j, dtype=np.intp)


def check_emotions(names, where: str) -> list[str]:
    """Return ``names`` as a list if every one is a GoEmotions emotion, else raise InputError."""
    from emostat.errors import InputError

    names = [str(n).strip() for n in names]
    unknown = sorted(set(names) - set(EMOTIONS))
    if unknown:
        raise InputError(f"{where}: unknown emotion name(s) {unknown}; expected the 27 GoEmotions "
                         f"emotions, e.g. {EMOTIONS[:3]}")
    return names
