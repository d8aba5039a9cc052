"""Noise ceilings, each on its own estimand, on full data and on resamples.

- ``per_rater`` (the mean over raters of compare(model, rater RDM)): Nili et al. (2014) as
  rsatoolbox's ``boot_noise_ceiling`` defines it. Raters are pooled as its ``pool_rdm`` does
  (ranks averaged for the rank comparators, RMS-normalised RDMs averaged for the cosines,
  z-scored for Pearson); upper bound = mean over raters of compare(pool of all, rater), lower =
  mean over raters of compare(pool of the others, rater). In a rater resample the mean is over
  the distinct raters drawn, the pool counts every draw, and leaving a rater out leaves out all
  its copies (rsatoolbox's ``sets_leave_one_out_rdm`` over the ``index`` descriptor).
- ``mean_rdm`` (compare(model, mean RDM)): split-half reliability of the mean RDM. Raters are
  split into halves (every split when there are at most ``n_splits``, else random ones); r =
  compare(mean of half A, mean of half B); the single-rater reliability that gives r for halves
  of n_A and n_B raters (classical test theory: r = sqrt(rel(n_A) rel(n_B)), rel(k) =
  k rho / (1 + (k - 1) rho); Spearman-Brown) and the reliability of the mean of all N raters,
  averaged over splits. ``ceiling_low`` = that reliability (the score expected of an independent
  mean RDM of N raters), ``ceiling_high`` = its square root (the score expected of the true mean
  RDM: the attenuation bound). Rank comparators are moved to the Pearson scale and back for this
  (tau: r = sin(pi tau / 2), Greiner; rho: r = 2 sin(pi rho / 6), Pearson 1907), exact for
  normal data without ties; the cosine is treated as a correlation.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from emostat.analysis.engines.rsacompare import Resample
from emostat.analysis.engines.weighted import sort_near

__all__ = ["nili_ceiling", "split_half_ceiling", "half_splits", "N_SPLITS"]

N_SPLITS = 100


def nili_ceiling(res: Resample, Y, rater_counts=None):
    """Lower and upper per-rater ceiling on each resample of ``res``.

    Parameters
    ----------
    res : Resample
        The concept resamples (``Resample.full`` for the observed concepts).
    Y : ndarray (R, P)
        Rater RDMs.
    rater_counts : ndarray (B, R), optional
        How often each rater is drawn in each resample (None: every rater once).

    Returns
    -------
    lower, upper : ndarray (B,)
    """
    Y = np.asarray(Y, dtype=np.float64)
    R = Y.shape[0]
    c = np.ones((res.B, R)) if rater_counts is None else np.asarray(rater_counts, float)
    N = c.sum(axis=1)
    Z = res.pool_input(Y)                                                   # (B, R, P)
    pool = np.einsum("br,brp->bp", c, Z) / N[:, None]
    up = res.cross(pool[:, None, :], Y, ykey="Y")[:, 0, :]                # (B, R)
    rest = (N[:, None] - c)[:, :, None]
    single = (rest == 0)
    loo = (N[:, None, None] * pool[:, None, :] - c[:, :, None] * Z) / np.where(single, 1, rest)
    loo = np.where(single, pool[:, None, :], loo)      # one distinct rater: rsatoolbox uses all
    hint = None
    if res.comparator in ("tau_a", "tau_b", "rho_a"):   # each LOO pool sorts near the pool
        hint = sort_near(loo, np.argsort(pool, axis=1))
    lo = res.paired(loo, Y, ykey="Y", aorder=hint)                          # (B, R)
    present = c > 0
    k = present.sum(axis=1)
    lower = np.where(present, lo, 0.0).sum(axis=1) / k
    upper = np.where(present, up, 0.0).sum(axis=1) / k
    return lower, upper


def half_splits(n_raters: int, n_splits: int = N_SPLITS, seed: int = 0) -> np.ndarray:
    """(K, R) bool: half A of each split (floor(R/2) raters); all splits when there are at most
    ``n_splits``, else ``n_splits`` random ones (seeded)."""
    half = n_raters // 2
    if n_raters < 2:
        return np.zeros((0, n_raters), bool)
    if math.comb(n_raters, half) <= n_splits:
        combos = list(itertools.combinations(range(n_raters), half))
        out = np.zeros((len(combos), n_raters), bool)
        for k, cmb in enumerate(combos):
            out[k, list(cmb)] = True
        return out
    rng = np.random.default_rng(seed)
    out = np.zeros((n_splits, n_raters), bool)
    for k in range(n_splits):
        out[k, rng.permutation(n_raters)[:half]] = True
    return out


def to_pearson(v, comparator: str):
    """A comparator's value on the Pearson scale (Greiner for tau, Pearson 1907 for rho)."""
    v = np.asarray(v, dtype=float)
    if comparator in ("tau_a", "tau_b"):
        return np.sin(np.pi * v / 2)
    if comparator in ("rho_a", "spearman"):
        return 2 * np.sin(np.pi * v / 6)
    return v


def from_pearson(r, comparator: str):
    r = np.clip(np.asarray(r, dtype=float), -1.0, 1.0)
    if comparator in ("tau_a", "tau_b"):
        return 2 / np.pi * np.arcsin(r)
    if comparator in ("rho_a", "spearman"):
        return 6 / np.pi * np.arcsin(r / 2)
    return r


def full_reliability(r, n1, n2, N):
    """Reliability of the mean of N raters from the correlation r of two disjoint halves of
    n1 and n2 raters (r <= 0 gives 0). Equal halves: Spearman-Brown 2r / (1 + r) at N = 2 n1."""
    r = np.clip(np.asarray(r, dtype=float), 0.0, 1.0)
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    r2 = r ** 2
    a = n1 * n2 - r2 * (n1 - 1) * (n2 - 1)
    b = r2 * (n1 + n2 - 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (b + np.sqrt(b ** 2 + 4 * a * r2)) / (2 * a)
        rel = N * rho / (1 + (N - 1) * rho)
    return np.where(r > 0, rel, 0.0)


def split_half_ceiling(res: Resample, Y, splits, rater_counts=None):
    """Lower and upper ceiling of the ``mean_rdm`` estimand on each resample of ``res``.

    Parameters
    ----------
    res : Resample
    Y : ndarray (R, P)
        Rater RDMs.
    splits : ndarray (K, R) bool
        Half A of each split (:func:`half_splits`); a rater's copies stay in its half.
    rater_counts : ndarray (B, R), optional

    Returns
    -------
    lower, upper, r_half : ndarray (B,) each (r_half: mean split-half comparison)
    """
    Y = np.asarray(Y, dtype=np.float64)
    c = np.ones((res.B, Y.shape[0])) if rater_counts is None else np.asarray(rater_counts, float)
    N = c.sum(axis=1)
    cA = c[:, None, :] * splits[None]                                       # (B, K, R)
    cB = c[:, None, :] * ~splits[None]
    nA, nB = cA.sum(axis=2), cB.sum(axis=2)
    ok = (nA > 0) & (nB > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mA = (cA @ Y) / nA[:, :, None]
        mB = (cB @ Y) / nB[:, :, None]
    mA = np.where(ok[:, :, None], mA, Y.mean(axis=0))
    mB = np.where(ok[:, :, None], mB, Y.mean(axis=0))
    r = res.paired(mA, mB)                                                  # (B, K)
    rel = full_reliability(to_pearson(r, res.comparator), nA, nB, N[:, None])
    ok = ok & np.isfinite(rel)
    k = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_mean = np.where(ok, rel, 0.0).sum(axis=1) / k
        r_mean = np.where(ok, r, 0.0).sum(axis=1) / k
    lower = from_pearson(rel_mean, res.comparator)
    upper = from_pearson(np.sqrt(rel_mean), res.comparator)
    return lower, upper, r_mean
