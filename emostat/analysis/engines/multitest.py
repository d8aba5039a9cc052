"""Multiple-testing corrections: the study's q = p·N/rank(p) rule and Benjamini–Hochberg.

The study (Li et al. 2024, ``Code/analysis_for_manipulation_experiment.R``) computes
``q.value := p.value * .N / rank(p.value)`` over a whole results table. That is the
Benjamini–Hochberg ratio *without* the step-up (running minimum from the largest p down), so it
is not monotone in p and can exceed 1. :func:`fdr_study` reproduces it (named for what it is);
:func:`fdr_bh` is the proper BH adjustment. Both are reported side by side in results tables
(``q_value`` and ``q_value_bh``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

__all__ = ["fdr_study", "fdr_bh"]


def _prepare(p):
    """Float copy of ``p`` (1-D), mask of finite entries; InputError-free checks."""
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"p-values must be 1-D, got shape {arr.shape}")
    ok = np.isfinite(arr)
    bad = ok & ((arr < 0) | (arr > 1))
    if bad.any():
        raise ValueError(f"p-values must lie in [0, 1]; got {arr[bad][:3]} ...")
    return arr, ok


def _wrap(q, p):
    if isinstance(p, pd.Series):
        return pd.Series(q, index=p.index, name=p.name)
    return q


def fdr_study(p, *, cap: bool = True):
    """The study's FDR rule: ``q = p · N / rank(p)``.

    Parameters
    ----------
    p : array-like or Series, 1-D
        p-values of one correction family (the study uses a whole table, all k together).
    cap : bool, default True
        Clip q at 1. R's code does not cap, so uncapped q can exceed 1 for large p; capping
        changes no decision at any threshold below 1. ``cap=False`` gives R's numbers exactly.

    Returns
    -------
    ndarray or Series (same index as ``p``)
        q-values. ``rank`` is R's ``rank()`` (ascending, ties averaged); ``N`` counts the finite
        p-values only; NaN p-values give NaN q and are left out of the family.

    Notes
    -----
    Unlike Benjamini–Hochberg, no running minimum is taken, so q is not monotone in p: a
    p-value can be "significant" while a smaller one is not. Use :func:`fdr_bh` for the
    proper procedure.

    Examples
    --------
    >>> fdr_study([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.06, 0.5]
    """
    arr, ok = _prepare(p)
    q = np.full(arr.shape, np.nan)
    n = int(ok.sum())
    if n:
        q[ok] = arr[ok] * n / rankdata(arr[ok], method="average")
        if cap:
            q[ok] = np.minimum(q[ok], 1.0)
    return _wrap(q, p)


def fdr_bh(p):
    """Benjamini–Hochberg adjusted p-values (step-up, monotone, capped at 1).

    Parameters
    ----------
    p : array-like or Series, 1-D
        p-values of one family. NaN entries give NaN and do not count in N.

    Returns
    -------
    ndarray or Series (same index as ``p``)
        ``q_(i) = min_{j >= i} min(1, p_(j) · N / j)`` over the sorted p-values; equal to R's
        ``p.adjust(p, "BH")`` and statsmodels' ``multipletests(p, method="fdr_bh")[1]``.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57, 289–300.

    Examples
    --------
    >>> fdr_bh([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.5]
    """
    from scipy.stats import false_discovery_control

    arr, ok = _prepare(p)
    q = np.full(arr.shape, np.nan)
    if ok.any():
        q[ok] = false_discovery_control(arr[ok], method="bh")
    return _wrap(q, p)
