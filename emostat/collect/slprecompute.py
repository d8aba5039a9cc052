"""The searchlight tables of ``analyse`` computed in the background during a collection.

Once a local collection's concept activations and conditions are complete, a spawned process
at the lowest priority (``nice 19``: it takes the CPU the inference leaves idle, e.g. the
second core while the geometry stage runs torch on one thread) computes the searchlight tables
``analyse`` will need by default and stores them in the run's cache
(:mod:`emostat.analysis.pipelines.slcache`). The collection waits for it before it returns.
Its failure is one line on stderr (``analyse`` then computes the tables); a killed process
leaves at most a temporary folder, never an entry. Off with ``EMOSTAT_SEARCHLIGHT_CACHE=0``,
and with Ray or Slurm (the driver's host is not where the work runs).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from emostat.analysis.pipelines import slcache
from emostat.checks import log


class Background:
    """The background searchlight of one collection: :meth:`start` once the activations are
    complete, :meth:`join` at the end; as a context manager, a process still running when
    the block exits (an error) is stopped.

    ``analysis``: the choices the run's ``analyse`` will be given (``seed``, ``alpha``,
    ``headline_k``; None or absent: its defaults)."""

    def __init__(self, cfg, out, *, analysis: dict | None = None, quiet: bool = False):
        self.cfg, self.out, self.quiet = cfg, Path(out), quiet
        self.analysis = dict(analysis or {})
        self.proc = self.conn = None
        self.t0 = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self) -> bool:
        """Start the process (not with another backend than local, nor when the cache is
        switched off); returns whether it started."""
        if self.proc is not None or self.cfg.backend != "local" or not slcache.enabled():
            return False
        import multiprocessing as mp

        from emostat.analysis.pipelines.choices import ANALYSIS_SEED

        clean_stale(self.out)
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=False)
        given = {k: v for k, v in self.analysis.items() if k != "seed" and v is not None}
        seed = self.analysis.get("seed")
        self.proc = ctx.Process(target=_child, name="emostat-searchlight", daemon=True,
                                args=(str(self.out), self.cfg.to_dict(),
                                      ANALYSIS_SEED if seed is None else int(seed), given,
                                      child, os.getpid()))
        self.t0 = time.perf_counter()
        self.proc.start()
        child.close()
        log("searchlight: computing the tables of `analyse` in the background (low priority)",
            self.quiet)
        return True

    def join(self) -> bool | None:
        """Wait for the process; one line says how it ended. Returns whether it stored the
        entry (None: not started)."""
        if self.proc is None:
            return None
        try:
            msg = self.conn.recv() if self.conn.poll(None) else None
        except (EOFError, OSError):
            msg = None
        self.proc.join()
        dt = time.perf_counter() - self.t0
        ok = isinstance(msg, tuple) and msg[0] == "ok"
        if ok:
            log(f"searchlight: cached for `analyse` ({dt:.0f} s in the background)", self.quiet)
        else:
            why = msg[1] if isinstance(msg, tuple) else f"exit code {self.proc.exitcode}"
            print(f"emostat: the background searchlight failed ({why}); `analyse` will "
                  "compute it", file=sys.stderr, flush=True)
        self._close()
        return ok

    def stop(self) -> None:
        """Stop a process still running (no entry is written by a stopped process)."""
        if self.proc is not None and self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()
        self._close()

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None


def clean_stale(out) -> list[Path]:
    """Remove the temporary folders of cache writers that are gone (a killed collection's);
    called while holding the run's lock. Returns those removed."""
    from emostat.collect.shards import tmp_is_stale

    folder = Path(out) / slcache.FOLDER
    stale = [p for p in folder.glob(".*.tmp") if p.is_dir() and tmp_is_stale(p)] \
        if folder.is_dir() else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def _child(run_dir: str, config: dict, seed: int, given: dict, conn, parent: int) -> None:
    """The background process: lowest priority, no output, gone with its parent; sends
    ``("ok", key)`` or ``("error", reason)``."""
    try:
        _die_with(parent)
        os.nice(19)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        key = slcache.precompute(run_dir, config, seed=seed, given=given)
        conn.send(("ok", key))
    except BaseException as exc:          # noqa: BLE001 - reported to the parent, one line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _die_with(parent: int) -> None:
    """Linux: have the kernel kill this process when its parent dies (a collection killed
    with SIGKILL leaves no orphan computing); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:            # the parent died before the call
        os._exit(1)
