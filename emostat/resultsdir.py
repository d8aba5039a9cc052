"""A results folder appears whole or not at all.

``analyse`` and ``reproduce`` write every table and ``provenance.json`` into a new folder
``<out>/.results.tmp-*`` beside ``<out>/results`` (:func:`staging`), then rename it into place
(:func:`replace_results`). An earlier ``results/`` is first renamed aside
(``.results.old-*``), then removed; a process killed at any point leaves either the earlier
results, or none, never a mixture, and the same command run again finishes the job (leftover
folders of a killed process are removed by the next writer). Writers of one ``<out>`` take turns
on the lock file ``<out>/.results.lock`` (POSIX ``flock``; without it, on Windows, leftovers are
kept rather than risk removing another writer's folder).

A report rendered from the replaced results into the default ``<out>/report/`` no longer matches
them; its HTML and PDF files are removed before the new results appear (one line says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from emostat.checks import log
from emostat.io import user_umask

RESULTS = "results"
STAGING = ".results.tmp-"
ASIDE = ".results.old-"
LOCK = ".results.lock"
REPORT = "report"
REPORT_KINDS = ("reproduction", "experiment", "comparison")

try:                                          # POSIX
    import fcntl
except ImportError:                           # pragma: no cover - Windows
    fcntl = None


@contextlib.contextmanager
def staging(out):
    """A new empty folder beside ``<out>/results`` to write a whole results folder into,
    removed if the block fails. The block holds ``<out>``'s results lock."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "a+") as lock:
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            for p in leftovers(out):           # a killed writer's: no live writer holds one
                shutil.rmtree(p, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=STAGING, dir=out))
        os.chmod(tmp, 0o777 & ~user_umask())        # mkdtemp's 0700: give it the user's mode
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def leftovers(out) -> list[Path]:
    """Staging and set-aside folders of ``<out>`` (a killed writer's, or one in progress)."""
    out = Path(out)
    return sorted(p for p in out.iterdir()
                  if p.is_dir() and p.name.startswith((STAGING, ASIDE))) if out.is_dir() else []


def replace_results(tmp: Path, res: Path, quiet: bool = True) -> None:
    """Move the finished folder ``tmp`` to ``res`` (an earlier ``res`` set aside, then removed);
    stale report files of ``res`` go first (:func:`stale_reports`)."""
    tmp, res = Path(tmp), Path(res)
    if res.exists():
        gone = stale_reports(res.parent)
        for p in gone:
            p.unlink(missing_ok=True)
        if gone:
            log(f"removed the report rendered from the replaced results "
                f"({', '.join(p.name for p in gone)}); render it again with `emostat report`",
                quiet)
        aside = Path(tempfile.mkdtemp(prefix=ASIDE, dir=res.parent))
        os.replace(res, aside / RESULTS)
        os.replace(tmp, res)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, res)


def stale_reports(out) -> list[Path]:
    """The rendered files in ``<out>/report/`` whose parameters name ``<out>`` among their runs
    (``.<kind>-params.json``, written by :func:`emostat.report.render.render_report`)."""
    folder = Path(out) / REPORT
    me = str(Path(out).resolve())
    found = []
    for kind in REPORT_KINDS:
        try:
            params = json.loads((folder / f".{kind}-params.json").read_text())
        except (OSError, ValueError):
            continue
        if me in [str(r) for r in params.get("results") or []]:
            found += [p for p in (folder / f"{kind}.html", folder / f"{kind}.pdf")
                      if p.exists()]
    return found


def finished(res) -> bool:
    """Whether ``res`` holds a finished analysis: its claims table and a provenance.json."""
    res = Path(res)
    return (res / "claims.parquet").is_file() and (res / "provenance.json").is_file()
