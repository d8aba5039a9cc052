"""Progress of long phases: a tqdm bar with an ETA on a terminal, progress lines in a log.

- stdout and stderr both terminals: a tqdm bar (on stderr).
- otherwise (``emostat run > log``): a plain line on stdout every ``interval`` seconds
  (``$EMOSTAT_PROGRESS_SECONDS``, default 30) with the count, the share done, the rate and
  an ETA, and one line when the phase ends;
- ``CI=true``: only the line at the end of each phase;
- ``quiet``: nothing.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm.auto import tqdm

INTERVAL_ENV = "EMOSTAT_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 30.0


def on_terminal() -> bool:
    """True when both stdout and stderr are terminals (a bar is seen, not logged)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def quiet_default() -> bool:
    """True when a tqdm bar would only clutter a log: CI, or output that is not a terminal."""
    return in_ci() or not on_terminal()


def interval_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def clock_text(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class LineProgress:
    """A tqdm-like bar (``update``, context manager, iteration) that prints lines.

    ``every`` False prints only the final line (CI). ``clock`` and ``stream`` are for tests.
    """

    def __init__(self, iterable=None, total=None, desc=None, unit="it", interval=None,
                 every=True, stream=None, clock=time.monotonic):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit = total, desc or "progress", unit
        self.interval = interval_seconds() if interval is None else interval
        self.every, self.stream, self.clock = every, stream, clock
        self.n = 0
        self.t0 = self.last = clock()
        self.closed = False

    def line(self, final: bool = False) -> str:
        dt = self.clock() - self.t0
        rate = self.n / dt if dt > 0 else 0.0
        of = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        if final:
            return f"{self.desc}: done, {of} {self.unit} in {clock_text(dt)} ({rate:.1f}/s)"
        eta = (f", ETA {clock_text((self.total - self.n) / rate)}"
               if self.total and rate > 0 and self.n < self.total else "")
        return f"{self.desc}: {of} {self.unit}{pct}, {clock_text(dt)} elapsed{eta}"

    def write(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def update(self, n=1) -> None:
        self.n += int(n)
        now = self.clock()
        if self.every and now - self.last >= self.interval:
            self.last = now
            self.write(self.line())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.write(self.line(final=True))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __iter__(self):
        for x in self.iterable:
            yield x
            self.update(1)
        self.close()


def progress(iterable=None, *, total=None, desc=None, quiet=None, **kw):
    """Progress of one phase: a tqdm bar on a terminal, :class:`LineProgress` lines in a log
    (only the final one under CI), nothing when ``quiet``."""
    if quiet:
        return tqdm(iterable, total=total, desc=desc, disable=True, **kw)
    if on_terminal() and not in_ci():
        return tqdm(iterable, total=total, desc=desc, dynamic_ncols=True, **kw)
    return LineProgress(iterable, total=total, desc=desc, unit=kw.get("unit", "it"),
                        every=not in_ci())
