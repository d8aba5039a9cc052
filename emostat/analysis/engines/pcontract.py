"""The p-value contract of a results row (docs: tables contract): floor, Monte-Carlo interval,
family adjustment, and whether an interval is over the p's unit. Used by
:mod:`emostat.analysis.claims.table`."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy import stats


def missing(x) -> bool:
    """None, NA, NaN or not a number."""
    try:
        return x is None or x is pd.NA or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def holm(p) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN kept, not counted in the family)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def mc_interval(p, n_perm) -> tuple[float, float]:
    """Clopper-Pearson 95% interval of a Monte-Carlo p = (1 + b) / (1 + B): the exceedance
    rate b / B of B draws (b recovered from p)."""
    if missing(p) or missing(n_perm) or int(n_perm) < 1:
        return np.nan, np.nan
    B = int(n_perm)
    b = int(round(float(p) * (B + 1))) - 1
    b = min(max(b, 0), B)
    lo = 0.0 if b == 0 else float(stats.beta.ppf(0.025, b, B - b + 1))
    hi = 1.0 if b == B else float(stats.beta.ppf(0.975, b + 1, B - b))
    return lo, hi


def p_contract(row) -> dict:
    """``p_floor, p_mc_low, p_mc_high, n_perm`` of a source row: its own columns where the
    table has them (docs/tables contract); for tables without them, a permutation p with
    ``n_perm`` B draws has floor 1/(B+1) and a Clopper-Pearson interval, an analytic p floor 0."""
    get = row.get if hasattr(row, "get") else (lambda c, d=None: d)
    n = get("n_perm", None)
    n = None if missing(n) or int(n) < 1 else int(n)
    if "p_floor" in row:
        return dict(p_floor=get("p_floor"), p_mc_low=get("p_mc_low", np.nan),
                    p_mc_high=get("p_mc_high", np.nan), n_perm=n)
    if n is None:
        return dict(p_floor=0.0, p_mc_low=np.nan, p_mc_high=np.nan, n_perm=None)
    lo, hi = mc_interval(get("p_value"), n)
    return dict(p_floor=1 / (n + 1), p_mc_low=lo, p_mc_high=hi, n_perm=n)


def _words(text) -> list[str]:
    words = re.findall(r"[a-z]+", text.lower()) if isinstance(text, str) else []
    return [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words]


def same_unit(unit, conf_method) -> bool:
    """Whether an interval (``conf_method``) resamples or inverts over the unit the p treats
    as exchangeable (``unit``): the unit's first word (singular) is a word of conf_method.

    >>> same_unit("concept label (27)", "BCa bootstrap of concept labels (27 concepts)")
    True
    >>> same_unit("attribute (14)", "Fisher z over 14 attributes (scipy pearsonr)")
    True
    >>> same_unit("concept label (27)", "participant bootstrap (61 participants)")
    False
    """
    u = _words(unit)
    return bool(u) and u[0] in _words(conf_method)
