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

__all__ = ["bca_interval", "bootstrap_counts", "conf_method", "jackknife_means"]


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
