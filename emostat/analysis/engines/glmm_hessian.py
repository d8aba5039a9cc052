"""lme4's default GLMM standard errors: the inverse Hessian of the Laplace deviance.

lme4's ``glmer`` computes, after the fit, the finite-difference Hessian ``H`` of the Laplace
deviance (−2 log-likelihood) over all parameters ``(theta, beta)``, with the conditional modes
re-solved at every point; ``vcov()`` (``use.hessian = TRUE``, its default) is the beta block
of ``2 H⁻¹``. It accounts for the uncertainty of ``theta`` and for the dependence of the
Laplace term on ``beta``. mixedlm's own ``vcov()`` is lme4's ``use.hessian = FALSE`` variant:
the inverse fixed-effect information at the final working weights, given ``theta``.

The deviance function is mixedlm's ``JointGLMMObjective`` (the same objective its joint
optimiser uses). Central differences, step ``h_i = STEP × scale_i`` with ``STEP = 1e-4``
(lme4's ``deriv12`` uses an absolute 1e-4) and ``scale_i`` mixedlm's parameter scale
(``max(1, |theta_i|)``; 1 / the column RMS of X for beta), so a predictor in large units does
not get a large step in deviance terms. Checked on ``tests/r/item_mask.csv``: steps 1e-3 and
1e-4 give SEs equal to 1e-5 relative. Variance parameters at their lower bound (a zero
variance: the deviance is not differentiable there) are held fixed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STEP", "deviance_function", "finite_hessian", "hessian_vcov"]

STEP = 1e-4
PIRLS_TOL = 1e-10


def deviance_function(result):
    """(f, x0, steps, free) for a mixedlm ``GlmerResult``: ``f(np.r_[theta, beta])`` is the
    Laplace deviance with the modes re-solved; ``x0`` the estimates; ``free`` the
    parameters that are not at a bound."""
    from mixedlm.estimation.joint_glmm import JointGLMMObjective

    obj = JointGLMMObjective(result.matrices, result.family, max(1, int(result.nAGQ)),
                             pirls_tol=PIRLS_TOL)
    theta = np.asarray(result.theta, float)
    x0 = np.r_[theta, np.asarray(result.beta, float)]
    steps = STEP * np.asarray(obj.parameter_scale(theta), float)
    lower = np.array([-np.inf if lo is None else lo for lo, _ in obj.bounds], float)
    free = x0 - steps > lower

    def f(x):
        dev, _, _, converged = obj.evaluate(np.asarray(x, float))
        return float(dev) if converged else np.nan

    return f, x0, steps, free


def finite_hessian(f, x0, steps) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x0`` (2 n + 2 n (n − 1) evaluations)."""
    n = len(x0)
    f0 = f(x0)
    H = np.empty((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = steps[i]
        H[i, i] = (f(x0 + ei) - 2 * f0 + f(x0 - ei)) / steps[i] ** 2
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = steps[j]
            H[i, j] = H[j, i] = (f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej)
                                 + f(x0 - ei - ej)) / (4 * steps[i] * steps[j])
    return H


def hessian_vcov(result) -> tuple[np.ndarray | None, str]:
    """lme4's default vcov of the fixed effects of a mixedlm GLMM fit, and a note.

    Returns ``(vcov, "")``, or ``(None, reason)`` when the Hessian cannot be used (a failed
    mode solve, not positive definite); lme4 then also falls back to the information-based
    variant (``use.hessian = FALSE``).
    """
    f, x0, steps, free = deviance_function(result)
    n_beta = len(np.asarray(result.beta))
    free[-n_beta:] = True
    idx = np.flatnonzero(free)
    H = finite_hessian(lambda x: f(_put(x0, idx, x)), x0[idx], steps[idx])
    if not np.isfinite(H).all():
        return None, "Hessian of the deviance not finite (a mode solve failed)"
    try:
        inv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None, "Hessian of the deviance is singular"
    V = inv[-n_beta:, -n_beta:]
    V = V + V.T              # 2 H^-1, symmetrised (lme4's calc.vcov.hess)
    if not np.isfinite(V).all() or np.linalg.eigvalsh(V).min() <= 0:
        return None, "Hessian-based vcov not positive definite"
    return V, ""


def _put(x0, idx, values):
    x = x0.copy()
    x[idx] = values
    return x
