"""Where shards run: ``local`` (this process, or ``workers`` local processes), ``ray`` or
``slurm`` (:mod:`emostat.collect.slurm_backend`).

All run the same :class:`~emostat.collect.worker.Worker` code on the same shards, so they write
the same files. A backend has three methods: ``run(shards, desc)`` (returns when every shard's
file exists), ``identity()`` and ``close()``.

With ``workers > 1`` the local backend starts that many processes (spawned, each loading its own
model once, ``threads`` torch threads each) and hands them shards from one queue, largest
first. A shard's file is written whole by the process that ran it, so a killed run resumes
exactly as with one process (no lost or duplicated rows). Workers report finished batches
through a queue, so the progress bar (with its ETA) moves per batch, not per shard.
"""

from __future__ import annotations

import queue as _queue

from emostat.collect.worker import PreloadedAPI, Worker
from emostat.progress import progress

_CHILD = {}                     # the worker of a child process (set by _child_init)


class _QueueBar:
    """A tqdm-like ``update(n)`` that sends n to the parent process."""

    def __init__(self, q):
        self.q = q

    def update(self, n=1):
        self.q.put(int(n))


def _child_init(cfg_dict, out, api, sapi, q):
    _CHILD["worker"] = Worker(cfg_dict, out, api=api, sapi=sapi)
    _CHILD["bar"] = _QueueBar(q)
    _CHILD["worker"].lm                         # load the model before any shard


def _child_ready(barrier):
    barrier.wait()                              # n tasks, n processes: every model is loaded
    return True


def _child_run(shard):
    _CHILD["worker"].run(shard, progress=_CHILD["bar"])
    return shard.id


class LocalBackend:
    """Runs shards in this process (``workers = 1``) or in ``workers`` local processes."""

    def __init__(self, cfg, out, *, api=None, sapi=None, quiet=False):
        self.cfg, self.out, self.api, self.sapi = cfg, out, api, sapi
        self.quiet = quiet
        self.n_workers = int(getattr(cfg, "workers", 1) or 1)
        self._worker = None
        self._pool = None
        self._queue = None
        self.times: dict[str, float] = {}       # seconds per phase (desc), model load apart

    @property
    def worker(self):
        if self._worker is None:
            self._worker = Worker(self.cfg.to_dict(), self.out, api=self.api, sapi=self.sapi)
        return self._worker

    def identity(self) -> dict:
        return self.worker.identity()

    def start(self) -> float:
        """Load the model (in every worker process); returns the seconds it took."""
        import time

        t0 = time.perf_counter()
        if self.n_workers <= 1:
            self.worker.lm
        elif self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # each process loads its own model: hand it the plain API, not the driver's model
            api = self.api.api if isinstance(self.api, PreloadedAPI) else self.api
            ctx = mp.get_context("spawn")
            self._queue = ctx.Queue()
            self._pool = ProcessPoolExecutor(
                max_workers=self.n_workers, mp_context=ctx, initializer=_child_init,
                initargs=(self.cfg.to_dict(), str(self.out), api, self.sapi, self._queue))
            barrier = ctx.Manager().Barrier(self.n_workers)
            for f in [self._pool.submit(_child_ready, barrier) for _ in range(self.n_workers)]:
                f.result()
        dt = time.perf_counter() - t0
        self.times["load"] = self.times.get("load", 0.0) + dt
        if not self.quiet:
            print(f"model loaded in {dt:.1f} s ({self.n_workers} worker process"
                  f"{'es' if self.n_workers > 1 else ''})", flush=True)
        return dt

    def run(self, shards, desc: str = "shards") -> None:
        import time

        if "load" not in self.times:
            self.start()
        t0 = time.perf_counter()
        try:
            self._run(shards, desc)
        finally:
            self.times[desc] = self.times.get(desc, 0.0) + time.perf_counter() - t0

    def _run(self, shards, desc: str) -> None:
        total = sum(s.n_units for s in shards)
        unit = "prompt-blocks" if shards and shards[0].dataset == "activations" else "rows"
        with progress(total=total, desc=desc, unit=unit, quiet=self.quiet or None) as bar:
            if self.n_workers <= 1:
                for s in shards:
                    self.worker.run(s, progress=bar)
            else:
                self._run_pool(shards, bar)

    def _run_pool(self, shards, bar) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        if self._pool is None:
            self.start()
        self._drain(None)                       # late reports of an earlier phase
        # largest shards first: the last ones to finish are short (little idle time)
        order = sorted(shards, key=lambda s: -s.n_units)
        futures = {self._pool.submit(_child_run, s): s for s in order}
        done_units = 0
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            done_units += self._drain(bar)
            for f in finished:
                f.result()                      # a worker's error (or death) stops the run
        done_units += self._drain(bar)
        rest = sum(s.n_units for s in shards) - done_units
        if rest > 0:                            # shards found done already report nothing
            bar.update(rest)

    def _drain(self, bar) -> int:
        n = 0
        while True:
            try:
                n += self._queue.get_nowait()
            except _queue.Empty:
                break
        if n and bar is not None:
            bar.update(n)
        return n

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def make_backend(cfg, out, *, address=None, api=None, sapi=None, quiet=False):
    """The backend named by ``cfg.backend`` ("local" | "ray" | "slurm")."""
    if cfg.backend == "ray":
        from emostat.collect.ray_backend import RayBackend

        return RayBackend(cfg, out, address=address, api=api, sapi=sapi, quiet=quiet)
    if address:
        from emostat.errors import InputError

        raise InputError("--address is only used with --backend ray")
    if cfg.backend == "slurm":
        from emostat.collect.slurm_backend import SlurmBackend

        return SlurmBackend(cfg, out, api=api, sapi=sapi, quiet=quiet)
    return LocalBackend(cfg, out, api=api, sapi=sapi, quiet=quiet)
