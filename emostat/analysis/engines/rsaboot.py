"""Bootstrap replicates of RSA evaluations: over concepts, over raters, and over both.

The two-factor ("dual") bootstrap of Schütt et al. (eLife 2023; rsatoolbox's
``eval_dual_bootstrap`` without cross-validation): every resample b draws raters (counts
``c_rater``) and concepts (counts ``c_concept``) once, and the models are evaluated three times
with those draws: on both, on the raters alone (all concepts), on the concepts alone (all
raters). A concept resample holds every pair of distinct drawn concepts (a concept's pairs with
its own copies dropped); a resample with fewer than 3 distinct concepts is not evaluated (NaN,
as rsatoolbox). The noise ceiling of the estimand is evaluated on the same resamples, so model
minus ceiling and ceiling against zero are paired too.

Work is done in blocks of resamples, every model, rater and resample of a block at once.
"""

from __future__ import annotations

import numpy as np

from emostat.analysis.engines.rsaceiling import nili_ceiling, split_half_ceiling
from emostat.analysis.engines.rsacompare import Resample, comparator_name, n_items
from emostat.errors import InputError

__all__ = ["ESTIMANDS", "KINDS", "evaluate", "draw", "bootstrap"]

ESTIMANDS = ("per_rater", "mean_rdm")
KINDS = ("both", "raters", "concepts")
BLOCK = 128


def estimand_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_")
    if key not in ESTIMANDS:
        raise InputError(f"estimand {name!r} is not one of {ESTIMANDS}")
    return key


def evaluate(res: Resample, X, Y, estimand: str, rater_counts=None, splits=None,
             ceiling: bool = True, S=None):
    """Models' scores and the ceiling on each resample of ``res``.

    Parameters
    ----------
    res : Resample
        Concept resamples (``Resample.full`` for the observed concepts).
    X : ndarray (M, P)
        Model RDMs.
    Y : ndarray (R, P)
        Rater RDMs (one row: a mean RDM, no ceiling).
    estimand : {"per_rater", "mean_rdm"}
    rater_counts : ndarray (B, R), optional
        Rater draws (None: every rater once).
    splits : ndarray (K, R) bool
        Half splits for the ``mean_rdm`` ceiling.
    S : ndarray (B, M, R), optional
        ``per_rater``: the model x rater comparisons on these resamples, when already known.

    Returns
    -------
    ndarray (B, M + 2): the M scores, then the lower and upper ceiling (NaN where not
    available); rows of resamples with fewer than 3 distinct concepts are NaN.
    """
    R = Y.shape[0]
    c = np.ones((res.B, R)) if rater_counts is None else np.asarray(rater_counts, float)
    N = c.sum(axis=1)
    if estimand == "per_rater":
        if S is None:
            S = res.cross(X, Y, xkey="X", ykey="Y")                         # (B, M, R)
        scores = np.einsum("br,bmr->bm", c, S) / N[:, None]
    else:
        ybar = (c @ Y) / N[:, None]                                         # (B, P)
        scores = res.cross(X, ybar[:, None, :], xkey="X")[:, :, 0]
    low = np.full(res.B, np.nan)
    high = np.full(res.B, np.nan)
    if ceiling and R >= 2:
        if estimand == "per_rater":
            low, high = nili_ceiling(res, Y, rater_counts)
        elif splits is not None and len(splits):
            low, high, _ = split_half_ceiling(res, Y, splits, rater_counts)
    out = np.column_stack([scores, low, high])
    out[~res.ok] = np.nan
    return out


def draw(n_raters: int, n_concepts: int, n_boot: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """Rater and concept indices (n_boot, R) and (n_boot, n) with replacement, from
    ``default_rng(seed)``: raters first, then concepts, each resample in turn (rsatoolbox's
    ``bootstrap_sample`` order)."""
    rng = np.random.default_rng(seed)
    raters = np.empty((n_boot, n_raters), np.int64)
    concepts = np.empty((n_boot, n_concepts), np.int64)
    for b in range(n_boot):                     # two vector draws per resample, in rsatoolbox's
        raters[b] = rng.integers(0, n_raters, n_raters)        # order (one call each)
        concepts[b] = rng.integers(0, n_concepts, n_concepts)
    return raters, concepts


def counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(B, n) multiplicities of the indices in each row of ``idx`` (B, k)."""
    B = idx.shape[0]
    out = np.zeros((B, n))
    np.add.at(out, (np.repeat(np.arange(B), idx.shape[1]), idx.ravel()), 1.0)
    return out


def bootstrap(X, Y, comparator: str, estimand: str, *, kinds=KINDS, n_boot: int = 1000,
              seed=0, draws=None, splits=None, ceiling: bool = True, block: int = BLOCK,
              progress=None) -> dict:
    """Replicates of every model's score and the ceiling under the chosen bootstraps.

    Parameters
    ----------
    X : ndarray (M, P)
        Model RDMs.
    Y : ndarray (R, P)
        Rater RDMs.
    comparator, estimand : str
    kinds : subset of ("both", "raters", "concepts")
        Which bootstraps; all three share each resample's draws.
    n_boot : int
    seed : int or SeedSequence
        Draws: :func:`draw`.
    draws : (rater_idx (B, R), concept_idx (B, n)), optional
        Given resample indices instead of seeded ones (to feed another implementation the
        same resamples).
    splits : ndarray (K, R) bool, optional
        Half splits of the ``mean_rdm`` ceiling.
    progress : callable(int), optional
        Called with the number of resamples done after each block.

    Returns
    -------
    dict: ``kind -> ndarray (B, M + 2)`` (M scores, lower ceiling, upper ceiling) and
    ``rater_idx``, ``concept_idx``.
    """
    comparator = comparator_name(comparator)
    estimand = estimand_name(estimand)
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    R, n = Y.shape[0], n_items(X.shape[1])
    if draws is None:
        ridx, cidx = draw(R, n, n_boot, seed)
    else:
        ridx, cidx = (np.asarray(d, dtype=np.int64) for d in draws)
        n_boot = len(ridx)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InputError(f"bootstrap kinds {bad} are not among {KINDS}")
    out = {k: np.full((n_boot, X.shape[0] + 2), np.nan) for k in kinds}
    per_rater = estimand == "per_rater"
    S_full = Resample.full(n, comparator).cross(X, Y) if per_rater else None    # (1, M, R)
    for b0 in range(0, n_boot, block):
        b1 = min(b0 + block, n_boot)
        rc = counts(ridx[b0:b1], R)
        cc = counts(cidx[b0:b1], n)
        if "both" in kinds or "concepts" in kinds:
            res = Resample(cc, comparator)
            S = res.cross(X, Y, xkey="X", ykey="Y") if per_rater else None
            if "both" in kinds:
                out["both"][b0:b1] = evaluate(res, X, Y, estimand, rc, splits, ceiling, S)
            if "concepts" in kinds:
                out["concepts"][b0:b1] = evaluate(res, X, Y, estimand, None, splits, ceiling, S)
        if "raters" in kinds:
            full = Resample(np.ones((b1 - b0, n)), comparator)
            S = np.broadcast_to(S_full, (b1 - b0,) + S_full.shape[1:]) if per_rater else None
            out["raters"][b0:b1] = evaluate(full, X, Y, estimand, rc, splits, ceiling, S)
        if progress is not None:
            progress(b1 - b0)
    out["rater_idx"], out["concept_idx"] = ridx, cidx
    return out
