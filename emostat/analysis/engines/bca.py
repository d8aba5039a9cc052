"""Bias-corrected and accelerated (BCa) bootstrap intervals from precomputed replicates.

Efron & Tibshirani (1993, ch. 14.3, eq. 14.10-14.15), in the same arithmetic as
``scipy.stats.bootstrap(method="BCa")``: the bias correction ``z0`` from the share of
replicates below the estimate (ties count half), the acceleration ``a`` from the jackknife
(leave-one-unit-out) estimates, and the adjusted percentiles read from the replicates with
numpy's linear interpolation. Separating the replicates from the interval lets emostat compute
the replicates vectorised (all attributes at once) and still get scipy's interval.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from emostat.errors import InputError

__all__ = ["bca_interval", "bootstrap_counts", "conf_method", "jackknife_means",
           "bca_or_percentile", "concept_bootstrap", "weighted_tau"]


def bootstrap_counts(n: int, n_boot: int, seed) -> np.ndarray:
    """(n_boot, n) multiplicities of the units in each resample.

    Drawn as ``default_rng(seed).integers(0, n, (n_boot, n))``: the same resamples that
    ``scipy.stats.bootstrap(..., n_resamples=n_boot, rng=default_rng(seed))`` draws.
    """
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot, n))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n), draws.ravel()), 1.0)
    return counts


def jackknife_means(X: np.ndarray) -> np.ndarray:
    """(n, p) leave-one-row-out means of X (n, p)."""
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    return (X.sum(axis=0)[None, :] - X) / (n - 1)


def bca_interval(estimate, boot, jack, level: float = 0.95):
    """BCa interval of each column.

    Parameters
    ----------
    estimate : array (q,)
        The statistic on the full sample.
    boot : array (n_boot, q)
        Bootstrap replicates.
    jack : array (n, q)
        Leave-one-unit-out (jackknife) replicates.
    level : float
        Two-sided coverage.

    Returns
    -------
    low, high, z0, a : ndarray (q,) each
        NaN interval where it is undefined (all replicates on one side of the estimate, or a
        constant jackknife).
    """
    est = np.atleast_1d(np.asarray(estimate, dtype=float))
    boot = np.asarray(boot, dtype=float).reshape(len(boot), -1)
    jack = np.asarray(jack, dtype=float).reshape(len(jack), -1)
    if boot.shape[1] != est.size or jack.shape[1] != est.size:
        raise InputError(f"bca_interval: estimate {est.shape}, boot {boot.shape} and jack "
                         f"{jack.shape} disagree in the number of statistics")
    if not 0 < level < 1:
        raise InputError(f"bca_interval: level must be in (0, 1), got {level}")
    B, n = boot.shape[0], jack.shape[0]
    pct = ((boot < est).sum(axis=0) + (boot <= est).sum(axis=0)) / (2 * B)
    z0 = ndtri(pct)
    U = (n - 1) * (jack.mean(axis=0) - jack)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = ((U ** 3).sum(axis=0) / n ** 3) / 6 / ((U ** 2).sum(axis=0) / n ** 2) ** 1.5
        za = ndtri((1 - level) / 2)
        lo_q = ndtr(z0 + (z0 + za) / (1 - a * (z0 + za)))
        hi_q = ndtr(z0 + (z0 - za) / (1 - a * (z0 - za)))
    low, high = np.full(est.size, np.nan), np.full(est.size, np.nan)
    for c in range(est.size):
        if np.isfinite(lo_q[c]) and np.isfinite(hi_q[c]):
            low[c], high[c] = np.percentile(boot[:, c], [100 * lo_q[c], 100 * hi_q[c]])
    return low, high, z0, a


def conf_method(low, high, n_units: int, n_boot: int, unit: str = "participants") -> list[str]:
    """Per statistic, how its interval was made (or why it is missing)."""
    ok = f"BCa bootstrap over {unit} ({n_units} {unit}, {n_boot} resamples)"
    bad = (f"no interval: BCa undefined (all {n_boot} resamples on one side of the estimate, "
           "or no jackknife variation)")
    return [ok if np.isfinite(lo) and np.isfinite(hi) else bad for lo, hi in zip(low, high)]


CONCEPT_BOOT = 2000        # concept-label resamples of an RSA interval (at most)
EXTREME = (0.001, 0.999)   # BCa adjusted percentiles outside this: fall back to percentile


def bca_or_percentile(estimate, boot, jack, level: float = 0.95, unit: str = "units"):
    """BCa interval per column, or the percentile interval where BCa is extreme.

    Extreme: an adjusted percentile outside :data:`EXTREME` (read from the last few of the
    replicates) or undefined. Returns (low, high, methods) with ``methods`` naming which.
    """
    low, high, z0, a = bca_interval(estimate, boot, jack, level)
    boot = np.asarray(boot, dtype=float).reshape(len(boot), -1)
    za = ndtri((1 - level) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo_q = ndtr(z0 + (z0 + za) / (1 - a * (z0 + za)))
        hi_q = ndtr(z0 + (z0 - za) / (1 - a * (z0 - za)))
    methods = []
    for c in range(boot.shape[1]):
        ok = (np.isfinite(lo_q[c]) and np.isfinite(hi_q[c]) and EXTREME[0] <= lo_q[c]
              and hi_q[c] <= EXTREME[1])
        if ok:
            methods.append(f"BCa bootstrap over {unit}")
            continue
        low[c], high[c] = np.percentile(boot[:, c], [50 * (1 - level), 50 * (1 + level)])
        methods.append(f"percentile bootstrap over {unit} (BCa extreme: adjusted percentiles "
                       f"{lo_q[c]:.4f}, {hi_q[c]:.4f} outside [{EXTREME[0]}, {EXTREME[1]}])")
    return low, high, methods


def weighted_tau(x, Y, W) -> np.ndarray:
    """Kendall tau-b of x with each column of Y over cells repeated ``W`` times.

    ``W`` (r, cells): multiplicities of each RDM cell in r resamples. With M = sign products of
    all cell pairs, the tau-b numerator is w'Mw / 2 and the tied pairs (w'Tw - sum w) / 2, so
    one matrix product gives every resample (equal to scipy.stats.kendalltau on the expanded
    cells). Returns (r, q).
    """
    x = np.asarray(x, dtype=float)
    Y = np.asarray(Y, dtype=float).reshape(len(x), -1)
    W = np.asarray(W, dtype=float)
    tot = W.sum(axis=1)
    n0 = tot * (tot - 1) / 2

    def tied(v):
        T = (v[:, None] == v[None, :]).astype(float)
        return (((W @ T) * W).sum(axis=1) - tot) / 2

    sx = np.sign(x[:, None] - x[None, :])
    tx = tied(x)
    out = np.empty((len(W), Y.shape[1]))
    for q in range(Y.shape[1]):
        y = Y[:, q]
        M = sx * np.sign(y[:, None] - y[None, :])
        S = ((W @ M) * W).sum(axis=1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, q] = S / np.sqrt(n0 - tx) / np.sqrt(n0 - tied(y))
    return np.clip(out, -1, 1)


def concept_bootstrap(x, Y, n_boot: int, seed, level: float = 0.95):
    """Emotion-label (concept) bootstrap of Kendall tau-b between RDM ``x`` and each RDM in Y.

    A resample draws the n concepts with replacement (``default_rng(seed).integers(0, n,
    (n_boot, n))``, scipy.stats.bootstrap's draws); its RDM cells are the pairs of distinct
    drawn concepts (:func:`weighted_tau`). Jackknife: leave one concept (all its pairs) out.
    BCa, or percentile where BCa is extreme (:func:`bca_or_percentile`).

    Returns
    -------
    low, high : ndarray (q,); methods : list of str; boot : ndarray (n_boot, q)
    """
    from emostat.constants import pair_indices

    x = np.asarray(x, dtype=float)
    n = int(round((1 + np.sqrt(1 + 8 * len(x))) / 2))
    i, j = pair_indices(n)
    lookup = np.full((n, n), -1)
    lookup[i, j] = lookup[j, i] = np.arange(len(i))
    a, b = np.triu_indices(n, 1)
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    W = np.zeros((n_boot, len(x)))
    for r, d in enumerate(draws):
        keep = d[a] != d[b]
        W[r] = np.bincount(lookup[d[a][keep], d[b][keep]], minlength=len(x))
    J = np.array([(i != c) & (j != c) for c in range(n)], dtype=float)
    est = weighted_tau(x, Y, np.ones((1, len(x))))[0]
    boot = weighted_tau(x, Y, W)
    jack = weighted_tau(x, Y, J)
    low, high, methods = bca_or_percentile(est, boot, jack, level,
                                           f"concept labels ({n} concepts, {n_boot} resamples)")
    return low, high, methods, boot
