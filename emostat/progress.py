"""Progress bars: tqdm with an ETA on a terminal, silent in CI logs or when asked."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def quiet_default() -> bool:
    """True when bars would only clutter a log: CI=true, or stderr is not a terminal."""
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def progress(iterable=None, *, total=None, desc=None, quiet=None, **kw):
    """A tqdm bar with an ETA; off when ``quiet`` or when :func:`quiet_default` says so."""
    disable = bool(quiet) or quiet_default()
    return tqdm(iterable, total=total, desc=desc, disable=disable, dynamic_ncols=True, **kw)
