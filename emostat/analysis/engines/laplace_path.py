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
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext

_LOCK = threading.RLock()


@contextmanager
def python_laplace():
    """Run mixedlm's GLMM deviance evaluations inside the block on its Python mode solve."""
    import mixedlm.estimation.laplace as lp

    with _LOCK:
        old = getattr(lp, "_HAS_RUST", None)
        if old is not None:
            lp._HAS_RUST = False
        try:
            yield
        finally:
            if old is not None:
                lp._HAS_RUST = old


def mode_solve(python: bool):
    """:func:`python_laplace` when ``python``, else a block that changes nothing."""
    return python_laplace() if python else nullcontext()
