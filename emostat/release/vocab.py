"""The release's file vocabulary: the names and orders the study's released files use.

The release (github.com/thunlp/Model_Emotion, commit 614c978) names its 27 emotions and 14
attributes as the study space does (``data/spaces/study/``), so they are read from it once:
its surveys, PsychoPy word list and per-emotion files go in alphabetical GoEmotions order
(:data:`RELEASE_EMOTIONS`), its preprocessed tables in the study's analysis order, the space's
concept order (:data:`RELEASE_ANALYSIS_ORDER`). Only :mod:`emostat.release` uses these names.
"""

from __future__ import annotations

from emostat.space import load_space

_study = load_space("study")
RELEASE_EMOTIONS = tuple(sorted(_study.concepts))        # file and survey order (alphabetical)
RELEASE_ANALYSIS_ORDER = tuple(_study.concepts)          # the preprocessed tables' order
RELEASE_ATTRIBUTES = tuple(_study.attributes)
RELEASE_AFFECTIVE = tuple(_study.groups["affective"])
RELEASE_FACES = tuple(_study.groups["faces"])
del _study
