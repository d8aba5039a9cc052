"""One step of ``analyse`` in a second process while the main one runs another.

The item-level models and the answer-bias tables (with the knowledge GLMM) of a run are
independent and each spends most of its time in one core's GLMM fits (about 45 s and 35 s of
the default run's analysis on a 2-core host). On a host with a spare core and a run large
enough to repay a process start (:data:`PARALLEL_ROWS` inference rows; the test suite's runs are
smaller), :class:`Beside` runs the second in a spawned process. The function, its inputs and
its seed are the same either way, and the process computes with one BLAS thread, as
the searchlight's threads do; tests/test_beside.py checks the tables are identical.
"""

from __future__ import annotations

import os

__all__ = ["Beside", "PARALLEL_ROWS", "worth_a_process"]

PARALLEL_ROWS = 5_000


def worth_a_process(n_rows: int) -> bool:
    """True on a host with more than one core for a run of at least :data:`PARALLEL_ROWS`."""
    return (os.cpu_count() or 1) > 1 and n_rows >= PARALLEL_ROWS


def _call(fn, args, kw):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return fn(*args, **kw)


class Beside:
    """``fn(*args, **kw)`` in a spawned process when ``parallel`` (else here, when its result
    is asked for). Use as a context manager; :meth:`result` gives the value (an exception of
    ``fn`` is raised there)."""

    def __init__(self, fn, *args, parallel: bool, **kw):
        self.fn, self.args, self.kw, self.parallel = fn, args, kw, parallel
        self.pool = self.future = None

    def __enter__(self):
        if self.parallel:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
            self.future = self.pool.submit(_call, self.fn, self.args, self.kw)
        return self

    def result(self):
        if self.future is None:
            return _call(self.fn, self.args, self.kw)
        return self.future.result()

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return False
