"""``emostat space check DIR``: validate a concept space and describe it (writes nothing).

The description: counts (concepts, attributes, pairs, participants, judgments, stimuli),
missing cells, per-attribute split-half reliability with the Spearman-Brown correction where
per-participant ratings exist, and the per-rater noise ceiling (Nili et al. 2014) where
per-participant similarity judgments exist.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from emostat.errors import EmostatError
from emostat.space.folder import load_space
from emostat.space.value import ConceptSpace

N_SPLITS = 200
SEED = 20241201


def split_half(space: ConceptSpace, n_splits: int = N_SPLITS, seed: int = SEED) -> pd.DataFrame:
    """Per-attribute split-half reliability of the concept means (random participant halves).

    For each split of the attribute's raters into two halves (sizes floor/ceil of n/2): every
    split when there are at most ``n_splits`` of them, else ``n_splits`` random ones; the
    Pearson r across concepts of the two halves' concept means (concepts
    rated in both halves); ``r`` is the mean over splits and ``spearman_brown`` = 2r / (1 + r),
    the reliability of the mean of all raters. NaN for attributes with fewer than 2 raters.

    Returns
    -------
    DataFrame
        attribute, n_participants, n_splits, r, spearman_brown.
    """
    rows = []
    rng = np.random.default_rng(seed)
    r = space.ratings
    for a in space.attributes:
        g = r[(r["attribute"] == a) & r["participant"].notna()]
        wide = g.pivot_table(index="participant", columns="concept", values="value",
                             aggfunc="mean").reindex(columns=list(space.concepts))
        n = len(wide)
        if n < 2:
            rows.append((a, n, 0, np.nan, np.nan))
            continue
        X = wide.to_numpy(float)
        rs = []
        if math.comb(n, n // 2) <= n_splits:
            halves = [np.array(c) for c in itertools.combinations(range(n), n // 2)]
        else:
            halves = [rng.permutation(n)[: n // 2] for _ in range(n_splits)]
        for first in halves:
            rest = np.setdiff1d(np.arange(n), first)
            h1, h2 = X[first], X[rest]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN column: no mean
                m1, m2 = np.nanmean(h1, axis=0), np.nanmean(h2, axis=0)
            ok = np.isfinite(m1) & np.isfinite(m2)
            if ok.sum() >= 3 and np.std(m1[ok]) > 0 and np.std(m2[ok]) > 0:
                rs.append(np.corrcoef(m1[ok], m2[ok])[0, 1])
        rbar = float(np.mean(rs)) if rs else np.nan
        rows.append((a, n, len(rs), rbar, 2 * rbar / (1 + rbar) if rs else np.nan))
    return pd.DataFrame(rows, columns=["attribute", "n_participants", "n_splits", "r",
                                       "spearman_brown"])


def noise_ceiling(space: ConceptSpace) -> dict | None:
    """Noise ceiling of the per-rater estimand (Nili et al. 2014), Kendall tau-b: the ceiling of
    the mean over raters of tau-b(model, rater RDM), not of tau-b(model, mean RDM).

    Upper bound: mean over participants of tau(participant RDM, mean RDM of all); lower
    bound: mean of tau(participant RDM, mean RDM of the others). Only participants who judged
    every pair count. None without per-participant similarity (or fewer than 2 complete).
    """
    subj = space.subject_rdms()
    if subj is None:
        return None
    ids, S = subj
    S = S[np.isfinite(S).all(axis=1)]
    n = len(S)
    if n < 2:
        return None
    total = S.sum(axis=0)
    upper, lower = [], []
    for k in range(n):
        upper.append(stats.kendalltau(S[k], total / n, variant="b")[0])
        lower.append(stats.kendalltau(S[k], (total - S[k]) / (n - 1), variant="b")[0])
    return {"n_participants": n, "lower": float(np.nanmean(lower)),
            "upper": float(np.nanmean(upper)), "method": "Kendall tau-b, Nili et al. 2014"}


def describe(space: ConceptSpace) -> dict:
    """Counts, missing cells, reliability and noise ceiling of ``space`` (a dict)."""
    r = space.ratings
    n_part = int(r["participant"].nunique()) if space.has_participants else 0
    missing = [(c, a) for c in space.concepts for a in space.attributes
               if not np.isfinite(space.means.loc[c, a])]
    sim = space.similarity
    out = {"name": space.name, "language": space.language, "human_data": space.human_data,
           "digest": space.digest, "path": str(space.path) if space.path else None,
           "n_concepts": space.n_concepts, "n_attributes": space.n_attributes,
           "n_pairs": space.n_pairs, "n_ratings": len(r), "n_rating_participants": n_part,
           "missing_cells": missing,
           "n_similarity": 0 if sim is None else len(sim),
           "n_similarity_participants": 0 if space.subject_rdms() is None
           else len(space.subject_rdms()[0]),
           "n_stimuli": 0 if space.stimuli is None else len(space.stimuli),
           "stimuli_per_concept": None if space.stimuli is None else
           space.stimuli["concept"].value_counts().reindex(list(space.concepts), fill_value=0)
           .astype(int).to_dict(),
           "templates": sorted(space.templates),
           "reliability": split_half(space) if space.has_participants else None,
           "noise_ceiling": noise_ceiling(space)}
    if space.has_participants:   # participant x concept x attribute cells nobody filled
        per = r.dropna(subset=["participant"]).groupby("attribute")["participant"].nunique()
        cells = r.dropna(subset=["participant"]).groupby("attribute").size()
        out["missing_participant_cells"] = int((per * space.n_concepts - cells).sum())
    return out


def format_description(d: dict) -> str:
    """The description as plain text lines."""
    lines = [f"space {d['name']!r} ({d['language']}; "
             f"{'human data' if d['human_data'] else 'NOT human data: illustrative ratings'})",
             f"  path {d['path']}  digest {d['digest'][:16]}",
             f"  {d['n_concepts']} concepts, {d['n_attributes']} attributes, "
             f"{d['n_pairs']} pairs",
             f"  ratings: {d['n_ratings']} rows, "
             + (f"{d['n_rating_participants']} participants" if d['n_rating_participants']
                else "no participants (means only)"),
             f"  missing concept x attribute cells: {len(d['missing_cells'])}"
             + (f" (e.g. {d['missing_cells'][0]})" if d["missing_cells"] else "")]
    if "missing_participant_cells" in d:
        lines.append(f"  missing participant x concept cells: {d['missing_participant_cells']}")
    lines.append(f"  similarity: {d['n_similarity']} judgments"
                 + (f", {d['n_similarity_participants']} participants"
                    if d["n_similarity_participants"] else "")
                 if d["n_similarity"] else "  similarity: none (no attribute importance)")
    if d["n_stimuli"]:
        counts = d["stimuli_per_concept"].values()
        lines.append(f"  stimuli: {d['n_stimuli']} ({min(counts)}-{max(counts)} per concept)")
    else:
        lines.append("  stimuli: none")
    lines.append(f"  templates: {', '.join(d['templates']) or 'none'}")
    rel = d["reliability"]
    if rel is not None:
        lines.append("  split-half reliability (Spearman-Brown, random halves):")
        for row in rel.itertuples():
            lines.append(f"    {row.attribute:<20} n={row.n_participants:<4} "
                         f"r={row.r:.3f}  SB={row.spearman_brown:.3f}")
    nc = d["noise_ceiling"]
    if nc is not None:
        lines.append(f"  noise ceiling of the per-rater estimand, the mean over raters of "
                     f"tau-b(model, rater RDM) ({nc['method']}, {nc['n_participants']} "
                     f"participants): lower {nc['lower']:.3f}, upper {nc['upper']:.3f}; not a "
                     "ceiling of tau-b with the mean RDM (emostat.stats.rsa_evaluate gives "
                     "each estimand's)")
    return "\n".join(lines)


def check(path) -> dict:
    """Validate the space at ``path`` (InputError listing every problem) and describe it."""
    return describe(load_space(path))


def main(path, out=None) -> int:
    """Validate and describe the space at ``path``; print it (to ``out``, default the
    current ``sys.stdout``); 0 when valid, 2 otherwise."""
    out = sys.stdout if out is None else out
    try:
        d = check(path)
    except EmostatError as exc:
        print(f"emostat: error: {exc}", file=sys.stderr)
        return 2
    print(format_description(d), file=out)
    return 0
