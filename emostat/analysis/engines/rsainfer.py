"""Variances, intervals and tests of RSA evaluations from bootstrap replicates.

Every quantity is a contrast ``C`` over the evaluation vector (the M models' scores, then the
lower and upper ceiling): a model (unit vector), a model minus another, a model minus the lower
ceiling, the lower ceiling alone, or a declared contrast. Its bootstrap variance per kind is
``C Cov C'`` over the valid resamples (rsatoolbox's ``extract_variances``).

- One factor (raters or concepts): the variance x n / (n - 1), t test on n - 1 df
  (rsatoolbox's ``_correct_1d``, ``eval_bootstrap_rdm`` / ``eval_bootstrap_pattern``).
- Both factors: Schütt et al. (eLife 2023) correct the two-factor bootstrap, which overstates
  the variance: with v_b, v_r, v_c the variances of the both-, rater- and concept-bootstraps and
  n_r raters, n_c concepts,
  ``small_sample``: v = n_r/(n_r-1) v_r + n_c/(n_c-1) v_c - n_r n_c/((n_r-1)(n_c-1)) (v_b - v_r - v_c),
  else v = 2 (v_r + v_c) - v_b; then clipped from below by the one-factor variances and from
  above by v_b (rsatoolbox's ``_dual_bootstrap``). t test on min(n_r, n_c) - 1 df.
Intervals: estimate +- t(df, 1 - (1 - level)/2) x sqrt(v) (rsatoolbox's "ci" error bars).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["boot_cov", "contrast_variance", "dual_variance", "t_rows"]


def boot_cov(E: np.ndarray) -> np.ndarray:
    """(K, K) covariance (ddof 1) of replicates E (B, K) over the rows finite in every column
    that has a value (a column with none, e.g. no ceiling, stays NaN)."""
    E = np.asarray(E, dtype=float)
    used = np.isfinite(E).any(axis=0)
    ok = np.isfinite(E[:, used]).all(axis=1)
    Z = E[ok]
    if len(Z) < 2:
        return np.full((E.shape[1], E.shape[1]), np.nan)
    Z = Z - Z.mean(axis=0)
    return Z.T @ Z / (len(Z) - 1)


def contrast_variance(cov: np.ndarray, C: np.ndarray) -> np.ndarray:
    """diag(C cov C') for contrasts C (J, K)."""
    C = np.atleast_2d(np.asarray(C, dtype=float))
    used = np.abs(C).sum(axis=0) > 0                   # an all-NaN unused column stays out
    return np.einsum("jk,kl,jl->j", C[:, used], cov[np.ix_(used, used)], C[:, used])


def dual_variance(v_both, v_raters, v_concepts, n_raters: int, n_concepts: int,
                  small_sample: bool = True) -> np.ndarray:
    """Schütt et al.'s corrected two-factor bootstrap variance (see the module docstring)."""
    vb, vr, vc = (np.asarray(v, dtype=float) for v in (v_both, v_raters, v_concepts))
    if small_sample:
        fr = n_raters / (n_raters - 1)
        fc = n_concepts / (n_concepts - 1)
        v = fr * vr + fc * vc - fr * fc * (vb - vr - vc)
        v = np.maximum(np.maximum(v, fr * vr), fc * vc)
    else:
        v = 2 * (vr + vc) - vb
        v = np.maximum(np.maximum(v, vr), vc)
    return np.minimum(v, vb)


def variance(covs: dict, C, inference: str, n_raters: int, n_concepts: int,
             small_sample: bool = True):
    """Variance of each contrast under ``inference`` and its t df."""
    if inference == "both":
        v = dual_variance(*(contrast_variance(covs[k], C) for k in ("both", "raters", "concepts")),
                          n_raters, n_concepts, small_sample)
        return v, min(n_raters, n_concepts) - 1
    n = n_raters if inference == "raters" else n_concepts
    return contrast_variance(covs[inference], C) * n / (n - 1), n - 1


def t_rows(estimate, var, df, alternative: str = "two-sided", level: float = 0.95) -> dict:
    """std_error, statistic, df, p_value, conf_low, conf_high of t tests of the estimates
    against 0 with the given variances (df: one, or one per estimate)."""
    est = np.asarray(estimate, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), est.shape)
    se = np.sqrt(np.maximum(np.asarray(var, dtype=float), np.finfo(float).eps))
    se = np.where(np.isfinite(var), se, np.nan)
    t = est / se
    if alternative == "greater":
        p = stats.t.sf(t, df)
    elif alternative == "less":
        p = stats.t.cdf(t, df)
    else:
        p = 2 * stats.t.sf(np.abs(t), df)
    q = stats.t.ppf(1 - (1 - level) / 2, df)
    return {"std_error": se, "statistic": t, "df": df.copy(),
            "p_value": p, "conf_low": est - q * se, "conf_high": est + q * se}
