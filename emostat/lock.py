"""A lock on a run folder while a process writes into it.

``<folder>/.lock`` holds an exclusive ``flock`` for as long as the process that took it lives:
the kernel drops it when the process ends, however it ends (a kill -9 included), so the lock of
a dead process is simply taken over, and no stale state can block a folder. The file also says
who holds it (pid, host, command, start time), for the message a second process gets. On a file
system without ``flock`` support the folder is used unlocked, said in one line on stderr.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import socket
import sys
from pathlib import Path

from emostat.errors import InputError

LOCK_FILE = ".lock"


class LockedError(InputError):
    """Another live process writes into the folder."""


class RunLock:
    """``with RunLock(folder, "emostat collect"):`` holds the folder's lock (LockedError when a
    live process holds it)."""

    def __init__(self, folder, command: str = "emostat"):
        self.folder, self.command = Path(folder), command
        self.path = self.folder / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LockedError(f"{self.folder}: another process is writing into this folder "
                                  f"({self.holder()}); wait for it to finish or stop it, then "
                                  f"rerun the same command") from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    print(f"emostat: {self.folder}: the file system has no locks; not locked "
                          f"(do not run two commands into this folder at once)",
                          file=sys.stderr, flush=True)
                    return self
                raise
            # the file may have been removed by its last holder between open and flock
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        rec = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
               "started": _dt.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(rec).encode())
        return self

    def holder(self) -> str:
        """Who holds the lock, in words (from the lock file)."""
        try:
            rec = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            rec = {}
        if not rec:
            return "holder unknown"
        return (f"{rec.get('command', 'a process')}, pid {rec.get('pid')} on "
                f"{rec.get('host')}, since {rec.get('started')}")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)     # while still held: no one else has it
        finally:
            os.close(self.fd)                     # closing drops the flock
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
