"""A test hook: a process that SIGKILLs itself once, at a chosen point of a collection.

``$EMOSTAT_TEST_KILL_ONCE`` names a marker file; at the first :func:`kill_for_test` call whose
``where`` matches ``$EMOSTAT_TEST_KILL_AT`` (default ``shard``: a worker after computing a
shard, before writing it; ``geometry``: the driver after writing a geometry table) the process
creates the marker and kills itself. With the marker there, nothing happens (the resumed run).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

KILL_ENV = "EMOSTAT_TEST_KILL_ONCE"
KILL_AT_ENV = "EMOSTAT_TEST_KILL_AT"


def kill_for_test(where: str = "shard") -> None:
    marker = os.environ.get(KILL_ENV)
    if not marker or os.environ.get(KILL_AT_ENV, "shard") != where:
        return
    if not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
