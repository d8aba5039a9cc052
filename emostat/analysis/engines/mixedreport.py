"""What a reader needs beside a mixed model's coefficients (Meteyard & Davies 2020, JML): the
units per grouping factor, the share of variance the model explains, QQ data for the residuals
and the random effects, and what a fit that is not ``ok`` means for a claim.

- :func:`effect_sizes`: Nakagawa & Schielzeth's R² (2013; marginal = fixed effects, conditional =
  fixed + random) and the ICC (adjusted: random / (random + residual); conditional: random /
  all), as R's ``performance::r2_nakagawa`` and ``performance::icc`` compute them. The random
  variance of a term is its covariance averaged over the rows, ``mean_i z_i' Sigma z_i``
  (Johnson 2014; a random intercept contributes its variance, ``(0 + x | g)`` its variance
  times the mean of x²); the fixed variance is the sample variance of ``X beta``; the residual
  variance is sigma² (LMM) or, for a binomial logit GLMM, the latent-scale pi²/3 (Nakagawa,
  Johnson & Schielzeth 2017, "theoretical"). Computed by mixedlm (``r2_nakagawa``, ``icc``) and
  checked against performance 0.10.2 on ``tests/r/item_mask.csv`` (``tests/r/performance.R``:
  performance counts 0 for a term whose column is not a fixed effect and skips a second term of
  one grouping factor, so the references fit the same models written so that both count).
- :func:`group_counts`: ``"item, 60; mask, 16"``, as lme4 prints the groups.
- :func:`qq_data`: the points of normal QQ plots: the residuals (LMM: Pearson residuals, lme4's
  scaled residuals; binomial GLMM: randomized quantile residuals, Dunn & Smyth 1996, which are
  standard normal under the model where raw 0/1 residuals are not) and the conditional modes of
  each random term over the levels the term applies to.
- :func:`fit_verdict`: a claim resting on a fit that failed is ``failed``; a singular fit, a
  dropped term or a fallback standard error is a note the claim's reason carries.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from emostat.analysis.engines import mixedformula as mf

__all__ = ["effect_sizes", "group_counts", "qq_data", "fit_verdict", "R2_METHOD",
           "EFFECT_COLUMNS", "QQ_POINTS"]

R2_METHOD = {
    "gaussian": "Nakagawa R² and ICC (residual variance sigma²; random slopes averaged over "
                "the rows, Johnson 2014), as R performance::r2_nakagawa / icc",
    "binomial": "Nakagawa R² and ICC on the latent scale (distribution-specific variance "
                "pi²/3 of the logit link), as R performance::r2_nakagawa / icc"}
EFFECT_COLUMNS = ["r2_marginal", "r2_conditional", "icc_adjusted", "icc_conditional",
                  "var_fixed", "var_random", "var_residual"]
QQ_POINTS = 100          # points kept per QQ panel (the extremes always among them)


def effect_sizes(fit) -> dict:
    """R² (marginal, conditional), ICC (adjusted, conditional) and the three variances of a
    :class:`~emostat.analysis.engines.mixed.MixedFit`; NaN with ``r2_method`` saying why when
    the fit failed or the computation does."""
    out = dict.fromkeys(EFFECT_COLUMNS, np.nan)
    out["r2_method"] = R2_METHOD[fit.family]
    if fit.result is None:
        out["r2_method"] = "no R² or ICC: the fit failed"
        return out
    import mixedlm

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r2, icc = mixedlm.r2_nakagawa(fit.result), mixedlm.icc(fit.result)
    except Exception as exc:   # noqa: BLE001 - a failed effect size is a note, not an error
        out["r2_method"] = f"no R² or ICC: {type(exc).__name__}: {exc}"
        return out
    out.update(r2_marginal=float(r2.marginal), r2_conditional=float(r2.conditional),
               icc_adjusted=float(icc.adjusted), icc_conditional=float(icc.unadjusted),
               var_fixed=float(r2.variance_fixed), var_random=float(r2.variance_random),
               var_residual=float(r2.variance_residual))
    return out


def group_counts(fit) -> str:
    """The units per grouping factor of the fitted model, most levels first, as lme4 prints
    them (``"concept:prompt, 324; concept, 27; attribute, 14"``); "" when the fit failed."""
    if fit.result is None:
        return ""
    n = {}
    for s in fit.result.matrices.random_structures:
        n.setdefault(s.grouping_factor, int(s.n_levels))
    return "; ".join(f"{g}, {k}" for g, k in sorted(n.items(), key=lambda x: -x[1]))


def _ppoints(n: int) -> np.ndarray:
    """R's ``ppoints(n)``: the plotting positions of ``qqnorm``."""
    a = 3 / 8 if n <= 10 else 1 / 2
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def _panel(values, panel: str, group: str, term: str, points: int) -> pd.DataFrame:
    x = np.sort(np.asarray(values, float)[np.isfinite(values)])
    n = len(x)
    if n < 2:
        return pd.DataFrame()
    keep = np.unique(np.round(np.linspace(0, n - 1, min(points, n))).astype(int))
    return pd.DataFrame({"panel": panel, "group": group, "term": term, "n": n,
                         "theoretical": stats.norm.ppf(_ppoints(n))[keep], "sample": x[keep]})


def _residuals(fit, seed: int) -> tuple[np.ndarray, str]:
    r = fit.result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fit.family == "gaussian":
            return np.asarray(r.residuals(type="pearson", na_expand=False), float), \
                "Pearson residuals (lme4's scaled residuals)"
        mu = np.clip(np.asarray(r.fitted(type="response", na_expand=False), float), 1e-12,
                     1 - 1e-12)
    y = np.asarray(r.matrices.y, float)
    v = np.random.default_rng(seed).random(len(y))
    u = np.where(y > 0.5, (1 - mu) + v * mu, v * (1 - mu))     # Bernoulli CDF jittered
    return stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12)), \
        f"randomized quantile residuals (Dunn & Smyth 1996; seed {seed})"


def qq_data(fit, seed: int = 0, points: int = QQ_POINTS) -> pd.DataFrame:
    """Normal QQ points of a fitted mixed model: residuals, then each random term's modes.

    Returns
    -------
    DataFrame
        ``panel`` (``residuals`` | ``random effects``), ``group``, ``term`` (the residual
        type for the residual panel), ``n`` (values in the panel), ``theoretical`` (standard
        normal quantiles at R's ``ppoints``), ``sample`` (sorted values); at most ``points``
        rows per panel, evenly spaced over the order statistics and always the two extremes.
        Empty when the fit failed.
    """
    if fit.result is None:
        return pd.DataFrame(columns=["panel", "group", "term", "n", "theoretical", "sample"])
    res, kind = _residuals(fit, seed)
    parts = [_panel(res, "residuals", "", kind, points)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        modes = fit.result.ranef()
    for s in fit.result.matrices.random_structures:
        key = mf.groups(fit.data, s.grouping_factor)
        for term in s.term_names:
            col = (np.ones(len(key)) if term == "(Intercept)" else
                   fit.data[term].to_numpy(float))
            used = set(key[col != 0])              # levels the term applies to
            idx = [i for lev, i in s.level_map.items() if str(lev) in used]
            vals = np.asarray(modes[s.grouping_factor][term], float)[idx]
            parts.append(_panel(vals, "random effects", s.grouping_factor, term, points))
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


def fit_verdict(status, message) -> tuple[str | None, str | None]:
    """(failed reason, note) for a claim resting on a fit with ``status`` and ``message``.

    ``failed`` gives the reason (the claim is ``failed``); any other status with a message
    (``singular``: what was dropped; ``fallback``: which SE was used instead of lme4's default;
    a convergence warning) gives that message as a note for the claim's reason.

    >>> fit_verdict("singular", "singular: dropped (0 + is_random | mask) (variance 0)")
    (None, 'the fit was singular: dropped (0 + is_random | mask) (variance 0)')
    >>> fit_verdict("failed", "deviance must contain finite real values")[0]
    'the model failed: deviance must contain finite real values'
    """
    msg = message if isinstance(message, str) and message else ""
    if status == "failed":
        return f"the model failed: {msg or 'no estimate'}", None
    if status == "singular":
        return None, "the fit was singular: " + (msg.removeprefix("singular: ") or
                                                 "a variance is at 0")
    return None, msg or None
