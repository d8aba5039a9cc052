"""Power and floors of single tests, in closed form (the pieces of the design table).

Each function answers one question about one test, from its design and its noise:

- :func:`wald_detectable` - the smallest effect a Wald z test detects with the given power;
- :func:`case_detectable` - the same for Crawford & Howell's (1998) test of one case against a
  small control sample (:func:`emostat.analysis.engines.casecontrol.crawford_howell`), from the
  noncentral t;
- :func:`correlation_detectable` - the smallest Pearson correlation over ``n`` units detected
  (exact distribution of r under bivariate normality), and the true correlation behind it
  when the measured variable has a reliability below one (attenuation);
- :func:`binomial_detectable` - the smallest accuracy an exact one-sided binomial test of a
  chance rate detects, and :func:`binomial_floor` its smallest attainable p;
- :func:`bernoulli_information` - the mean Bernoulli information ``E[mu (1 - mu)]`` of items
  whose logits are normal (Gauss-Hermite), i.e. how much one binary item tells about a logit.

scipy only; no emostat imports.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, special, stats

__all__ = ["wald_detectable", "case_detectable", "case_power", "correlation_detectable",
           "correlation_power", "r_density",
           "binomial_detectable", "binomial_floor", "bernoulli_information", "mean_logistic"]

_NODES = 40


def wald_detectable(se: float, alpha: float, power: float = 0.8,
                    two_sided: bool = True) -> float:
    """Smallest effect a Wald z test with standard error ``se`` detects with ``power`` (in the
    direction of the claim; the other tail's rejections are not counted):
    ``se * (z_{1 - alpha/2} + z_power)`` two-sided, ``z_{1 - alpha}`` one-sided.

    >>> round(wald_detectable(1.0, 0.05), 4)
    2.8016
    """
    if not (np.isfinite(se) and se > 0):
        return float("nan")
    crit = stats.norm.isf(alpha / 2 if two_sided else alpha)
    return float(se * (crit + stats.norm.ppf(power)))


def case_power(ncp: float, n_controls: int, alpha: float) -> float:
    """Power of Crawford & Howell's one-sided test at level ``alpha`` against ``n_controls``
    controls when the case's standardised distance is ``ncp`` (noncentral t, df n - 1)."""
    df = n_controls - 1
    return float(stats.nct.sf(stats.t.isf(alpha, df), df, ncp))


def case_detectable(sd: float, n_controls: int, alpha: float, power: float = 0.8) -> float:
    """Smallest distance of a case from the control mean that Crawford & Howell's one-sided
    test at ``alpha`` detects with ``power``, for controls of SD ``sd`` (the case has the same
    SD about its own mean): ``sd * sqrt(1 + 1/n) * ncp``, ``ncp`` solving
    ``P(t'_{n-1, ncp} > t_{1 - alpha, n-1}) = power``. NaN with fewer than 2 controls.

    >>> round(case_detectable(1.0, 20, 0.05), 3)
    2.644
    """
    if n_controls < 2 or not (np.isfinite(sd) and sd > 0):
        return float("nan")
    ncp = _case_ncp(int(n_controls), float(alpha), float(power))
    return float(sd * np.sqrt(1 + 1 / n_controls) * ncp)


@lru_cache(maxsize=256)
def _case_ncp(n_controls: int, alpha: float, power: float) -> float:
    hi = 1.0
    while case_power(hi, n_controls, alpha) < power:
        hi *= 2
        if hi > 1e6:
            return float("nan")
    return float(optimize.brentq(lambda x: case_power(x, n_controls, alpha) - power, 0.0, hi,
                                 xtol=1e-10))


def r_density(r, rho: float, n: int):
    """Density of the sample Pearson r of ``n`` bivariate normal pairs with correlation
    ``rho`` (Hotelling's form of Fisher's exact density, with the Gauss hypergeometric)."""
    r = np.asarray(r, float)
    logc = (np.log(n - 2) + special.gammaln(n - 1) - 0.5 * np.log(2 * np.pi)
            - special.gammaln(n - 0.5))
    log_f = (logc + (n - 1) / 2 * np.log1p(-rho * rho) + (n - 4) / 2 * np.log1p(-r * r)
             - (n - 1.5) * np.log1p(-rho * r))
    return np.exp(log_f) * special.hyp2f1(0.5, 0.5, n - 0.5, (1 + rho * r) / 2)


def correlation_power(rho: float, n: int, alpha: float) -> float:
    """Exact power of the two-sided t test of a Pearson r over ``n`` bivariate normal pairs
    at ``alpha``, counting rejections in the direction of ``rho`` only."""
    from scipy import integrate

    df = n - 2
    t = stats.t.isf(alpha / 2, df)
    rc = t / np.sqrt(df + t * t)
    return float(integrate.quad(lambda r: r_density(r, abs(rho), n), rc, 1.0, limit=200)[0])


def correlation_detectable(n: int, alpha: float, power: float = 0.8,
                           reliability: float = 1.0) -> tuple[float, float]:
    """(observed, true) smallest Pearson correlation over ``n`` units that the two-sided t
    test at ``alpha`` detects with ``power`` (exact, :func:`correlation_power`); the true
    correlation is the observed one over ``sqrt(reliability)`` (measurement noise in one
    variable attenuates r by that factor), NaN above 1.

    >>> [round(x, 3) for x in correlation_detectable(14, 0.05)]
    [0.671, 0.671]
    """
    if n < 4 or not (0 < reliability <= 1):
        return float("nan"), float("nan")
    obs = _r_detectable(int(n), float(alpha), float(power))
    true = obs / np.sqrt(reliability)
    return obs, float(true) if true <= 1 else float("nan")


@lru_cache(maxsize=64)
def _r_detectable(n: int, alpha: float, power: float) -> float:
    if correlation_power(0.999, n, alpha) < power:
        return float("nan")
    return float(optimize.brentq(lambda x: correlation_power(x, n, alpha) - power, 1e-6,
                                 0.999, xtol=1e-8))


def binomial_floor(n: int, chance: float) -> float:
    """Smallest attainable p of the exact one-sided binomial test: every item correct."""
    return float(chance ** n) if n >= 1 else float("nan")


def binomial_detectable(n: int, chance: float, alpha: float, power: float = 0.8) -> float:
    """Smallest accuracy that the exact one-sided binomial test of ``chance`` over ``n`` items
    detects at ``alpha`` with ``power``: the critical count ``c`` (smallest with
    ``P(X >= c | chance) <= alpha``), then the accuracy with ``P(X >= c) = power``. NaN when
    even all ``n`` correct cannot reach alpha.

    >>> round(binomial_detectable(10, 0.1, 0.05), 3)
    0.484
    """
    if n < 1 or binomial_floor(n, chance) > alpha:
        return float("nan")
    return _binomial_detectable(int(n), float(chance), float(alpha), float(power))


@lru_cache(maxsize=256)
def _binomial_detectable(n: int, chance: float, alpha: float, power: float) -> float:
    c = int(stats.binom.isf(alpha, n, chance)) + 1       # P(X >= c) <= alpha
    while c > 0 and stats.binom.sf(c - 2, n, chance) <= alpha:
        c -= 1
    while stats.binom.sf(c - 1, n, chance) > alpha:
        c += 1
    f = lambda p: stats.binom.sf(c - 1, n, p) - power     # noqa: E731
    return float(optimize.brentq(f, chance, 1 - 1e-12, xtol=1e-10))


_HERMITE = special.roots_hermite(_NODES)


def _gauss_hermite(var: float):
    """Nodes and weights of E[g(u)], u ~ N(0, var)."""
    x, w = _HERMITE
    return np.sqrt(2 * max(var, 0.0)) * x, w / np.sqrt(np.pi)


def bernoulli_information(eta: float, var: float) -> float:
    """``E[mu (1 - mu)]``, ``mu = logistic(eta + u)``, ``u ~ N(0, var)``: the Fisher
    information about a shared logit per binary item whose own logits vary with ``var``.

    >>> bernoulli_information(0.0, 0.0)
    0.25
    """
    u, w = _gauss_hermite(var)
    mu = special.expit(eta + u)
    return float(np.sum(w * mu * (1 - mu)))


def mean_logistic(eta: float, var: float) -> float:
    """``E[logistic(eta + u)]``, ``u ~ N(0, var)``: the mean accuracy of items whose logits are
    normal about ``eta``."""
    u, w = _gauss_hermite(var)
    return float(np.sum(w * special.expit(eta + u)))
