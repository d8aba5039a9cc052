"""A scoped switch that runs mixedlm's GLMM evaluations on its Python conditional-mode solve.

mixedlm 1.3's native (Rust) Laplace evaluation fails to find the conditional modes over part
of the parameter space of crossed binomial models (its mode solve diverges, the objective
returns infinity there), which walls the optimizers off from the maximum likelihood. On the
default run's record item GLMM (11,880 rows, 270 items x 44 masks) the best native start
stopped 6.0 log-likelihood units below lme4's optimum (-4325.717 against -4319.739; the
contrast 0.12 log-odds against lme4's 0.107), and on its one-variance model COBYQA's
intercept was -1.85 against lme4's -2.33. mixedlm's Python solve reaches lme4's optimum
(-4319.726), slower per evaluation. ``tests/r/glmm_mode.R`` freezes a small design where the
native path falls short by 1.1 units.

:func:`python_laplace` switches the native path off for the duration of a ``with`` block only
(the tiebreaking start of emostat's GLMM fits, and the Hessian of a fit that it gave), leaving
mixedlm as it was for the caller's own models.

With ``warm=True`` (the fitting start, not the Hessian) each evaluation of mixedlm's joint
objective starts its mode solve from the modes of the objective's last converged evaluation,
as lme4's deviance function does (it keeps ``u`` between evaluations), instead of from zero.
The modes at a given ``(theta, beta)`` are unique (the penalised binomial deviance is convex
in them), so only the number of PIRLS steps changes. Measured 2026-12-08: the default run's
item GLMMs took 3.1 s and 1.7 s against 5.6 s and 3.6 s, with the same evaluations and
log-likelihoods to six decimals; over the whole analysis the estimates moved by 3e-8 at
most, standard errors and p-values by 4e-6 relative (the mode solve's tolerance), and every
printed number stayed the same. A tiny run's 270-row fits: 3.7 s and 2.1 s against 10.2 s
and 3.6 s. The Hessian keeps the cold start: its finite differences need an
objective that does not depend on the order of its evaluations.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from dataclasses import replace

import numpy as np

_LOCK = threading.RLock()


def _warm_evaluate(cold):
    """mixedlm's ``JointGLMMObjective.evaluate``, its mode solve started from the modes of the
    objective's last converged evaluation (its native path, when it has one, as it was)."""
    from mixedlm.estimation import joint_glmm

    def evaluate(self, parameters):
        if self._native_problem is not None:
            return cold(self, parameters)
        parameters = np.asarray(parameters, dtype=float)
        theta, beta = parameters[: self.n_theta], parameters[self.n_theta:]
        modes = replace(self.mode_matrices, offset=self.matrices.offset + self.matrices.X @ beta)
        deviance, _, u, converged = joint_glmm.glmm_deviance_with_status(
            theta, modes, self.family, nAGQ=max(1, self.nAGQ),
            u_start=getattr(self, "_emostat_modes", None),
            pirls_maxiter=self.pirls_maxiter, pirls_tol=self.pirls_tol)
        if converged and np.isfinite(deviance):
            self._emostat_modes = u
        return deviance, beta.copy(), u, converged

    return evaluate


@contextmanager
def python_laplace(warm: bool = False):
    """Run mixedlm's GLMM deviance evaluations inside the block on its Python mode solve;
    ``warm``: each mode solve starts from the last converged modes (see the module's text)."""
    import mixedlm.estimation.laplace as lp
    from mixedlm.estimation.joint_glmm import JointGLMMObjective

    with _LOCK:
        old = getattr(lp, "_HAS_RUST", None)
        cold = JointGLMMObjective.evaluate
        if old is not None:
            lp._HAS_RUST = False
        if warm:
            JointGLMMObjective.evaluate = _warm_evaluate(cold)
        try:
            yield
        finally:
            JointGLMMObjective.evaluate = cold
            if old is not None:
                lp._HAS_RUST = old


def mode_solve(python: bool, warm: bool = False):
    """:func:`python_laplace` (``warm`` passed on) when ``python``, else a block that changes
    nothing."""
    return python_laplace(warm) if python else nullcontext()
