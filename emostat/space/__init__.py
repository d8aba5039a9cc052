"""Concept spaces: the concepts a run studies, their words, human ratings and stimuli.

A :class:`ConceptSpace` (:mod:`emostat.space.value`) is a value passed through the pipeline
(collect, analyse, report) instead of module constants. :func:`load_space` reads one from a
folder (:mod:`emostat.space.folder`: fixed file names, validated before anything is written);
with no argument it is the study's 27 emotions x 14 attributes (``data/spaces/study/``).
:mod:`emostat.space.check` describes a space (``emostat space check DIR``). Nothing here
imports torch, analysis or collect.
"""

from __future__ import annotations

from emostat.space.folder import load_space, require_complete, shipped_spaces, space_dir
from emostat.space.value import SNAP_DECIMALS, ConceptSpace

__all__ = ["ConceptSpace", "SNAP_DECIMALS", "load_space", "require_complete", "shipped_spaces",
           "space_dir"]
