"""The concept-space value: concepts, words, human ratings, stimuli and templates.

A :class:`ConceptSpace` is a value passed through the pipeline (collect, analyse, report)
instead of module constants: concepts (ids, in analysis order; RDM pairs follow that order),
the word used for each in prompts (any language, possibly several tokens), attributes with
their per-concept means (and per-participant ratings where they exist), optional pairwise
dissimilarity judgments, optional stimuli, prompt templates and a digest of the files it was
read from. The study's 27 emotions x 14 attributes are one space among others
(:func:`emostat.space.load_space` with no argument). Imports only numpy, pandas, constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from emostat.constants import pair_indices

__all__ = ["ConceptSpace", "SNAP_DECIMALS"]

SNAP_DECIMALS = 12   # attribute RDMs are rounded so that exact ties in arithmetic stay ties


@dataclass(frozen=True, eq=False)
class ConceptSpace:
    """Concepts, words, attributes, human data, stimuli and templates of one study design.

    Attributes
    ----------
    name : str
        Short name (``study``, ``vader``, a user's folder name).
    concepts : tuple of str
        Concept ids in analysis order; pair ``p`` of every RDM is R ``dist()`` order over it.
    words : mapping of str to str
        Concept id -> the text put into prompts (any script; may be several tokens).
    attributes : tuple of str
        Attribute names, in the space's order.
    means : pandas.DataFrame
        Index ``concepts`` (that order) x columns ``attributes``: per-concept mean rating
        (NaN where a concept has no rating of an attribute).
    language : str
        BCP-47 tag of the words, templates and stimuli (``en``, ``de``, ``zh``).
    groups : mapping of str to tuple of str
        Attribute groups (e.g. ``affective``, ``faces``, ``appraisal``).
    ratings : pandas.DataFrame or None
        Long ratings ``concept, attribute, value, participant`` (participant may be null).
    similarity : pandas.DataFrame or None
        Long dissimilarity judgments ``concept_a, concept_b, value, participant``.
    stimuli : pandas.DataFrame or None
        ``id, concept, text`` (+ optional ``source``, ``language``, ...).
    templates : mapping
        Prompt templates (``concept``: {id: text with one ``{word}`` slot}; task prompts).
    citation, licence : str
    human_data : bool
        False for illustrative ratings that are not human data (said in every report).
    digest : str
        SHA-256 over the files the space was read from (empty for a space built in memory).
    path : Path or None
        The folder it was read from.
    options : mapping
        Other settings of ``space.toml`` (aggregation, appraisal PCA, ...).
    scales : mapping of str to (float, float)
        Attribute -> (low, high) of its rating scale, where ``space.toml`` declares one
        (``[scales]``); every rating lies inside it.
    similarity_scale : (float, float) or None
        (low, high) of the dissimilarity judgments (``similarity_scale``), where declared.
    """

    name: str
    concepts: tuple[str, ...]
    words: Mapping[str, str]
    attributes: tuple[str, ...]
    means: pd.DataFrame
    language: str = "en"
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ratings: pd.DataFrame | None = None
    similarity: pd.DataFrame | None = None
    stimuli: pd.DataFrame | None = None
    templates: Mapping[str, Any] = field(default_factory=dict)
    citation: str = ""
    licence: str = ""
    human_data: bool = True
    digest: str = ""
    path: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    scales: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    similarity_scale: tuple[float, float] | None = None

    # ---- sizes and pairs -------------------------------------------------------------------
    @property
    def n_concepts(self) -> int:
        return len(self.concepts)

    @property
    def n_attributes(self) -> int:
        return len(self.attributes)

    @property
    def n_pairs(self) -> int:
        n = self.n_concepts
        return n * (n - 1) // 2

    def pair_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column concept indices of each pair (R ``dist()`` order)."""
        return pair_indices(self.n_concepts)

    def pairs(self) -> pd.DataFrame:
        """``pair, concept_a, concept_b`` (concept_a the row concept, as R ``dist()``)."""
        i, j = self.pair_index()
        c = np.asarray(self.concepts, dtype=object)
        return pd.DataFrame({"pair": np.arange(len(i)), "concept_a": c[i], "concept_b": c[j]})

    def word(self, concept: str) -> str:
        return self.words[concept]

    # ---- RDMs ------------------------------------------------------------------------------
    def attribute_rdms(self) -> pd.DataFrame:
        """``n_pairs x attributes``: |mean_i - mean_j|, rounded to :data:`SNAP_DECIMALS`."""
        i, j = self.pair_index()
        M = self.means.loc[list(self.concepts), list(self.attributes)].to_numpy(float)
        D = np.round(np.abs(M[i] - M[j]), SNAP_DECIMALS)
        out = pd.DataFrame(D, columns=list(self.attributes))
        out.index.name = "pair"
        return out

    @property
    def has_similarity(self) -> bool:
        return self.similarity is not None and len(self.similarity) > 0

    @property
    def has_participants(self) -> bool:
        """Per-participant ratings exist (split-half reliability, noise ceiling, bootstrap)."""
        r = self.ratings
        return r is not None and "participant" in r and r["participant"].notna().any()

    def _pair_vector(self, df: pd.DataFrame) -> np.ndarray:
        pos = {c: k for k, c in enumerate(self.concepts)}
        a = df["concept_a"].map(pos).to_numpy()
        b = df["concept_b"].map(pos).to_numpy()
        hi, lo = np.maximum(a, b), np.minimum(a, b)
        n = self.n_concepts
        # index of (hi, lo) in dist() order: pairs of earlier columns, then the row offset
        idx = lo * n - lo * (lo + 1) // 2 + (hi - lo - 1)
        v = np.full(self.n_pairs, np.nan)
        sums = np.bincount(idx, weights=df["value"].to_numpy(float), minlength=self.n_pairs)
        counts = np.bincount(idx, minlength=self.n_pairs)
        with np.errstate(invalid="ignore"):
            v = sums / counts
        return v

    def mean_rdm(self) -> np.ndarray | None:
        """Mean dissimilarity per pair over all judgments (None without a similarity table).

        With per-participant data this is the mean of the participants' RDMs when every
        participant judged every pair (the study's design), else the mean of all judgments.
        """
        subj = self.subject_rdms()
        if subj is not None and np.isfinite(subj[1]).all():
            return subj[1].mean(axis=0)
        if not self.has_similarity:
            return None
        return self._pair_vector(self.similarity)

    def subject_rdms(self) -> tuple[list[str], np.ndarray] | None:
        """(participant ids, (n_participants, n_pairs) RDMs), or None without participants."""
        s = self.similarity
        if s is None or "participant" not in s or not s["participant"].notna().any():
            return None
        ids = sorted(pd.unique(s["participant"].dropna().astype(str)))
        rows = [self._pair_vector(g) for _, g in s.assign(participant=s["participant"]
                                                          .astype(str)).groupby("participant")]
        return ids, np.vstack(rows)

    # ---- provenance --------------------------------------------------------------------------
    def provenance(self) -> dict:
        """What a dataset records of the space: name, digest, sizes, path, human or not, and the
        words of the concepts whose word is not their id (``words``, absent when none is)."""
        out = {"name": self.name, "digest": self.digest, "language": self.language,
               "n_concepts": self.n_concepts, "n_attributes": self.n_attributes,
               "human_data": self.human_data,
               "path": str(self.path) if self.path is not None else None}
        words = {c: w for c, w in self.words.items() if w != c}
        if words:
            out["words"] = words
        return out
