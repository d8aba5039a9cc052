"""Import the study's released data (Li et al., iScience 2024) into emostat's Parquet datasets."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from emostat import io
from emostat.release.common import check_release


def import_release(path, out, *, quiet: bool = False) -> dict[str, Path]:
    """Read the release at ``path`` and write its datasets under ``out``, all or nothing.

    Every dataset is first written to a staging folder beside ``out``; only when all of them
    are written are they moved into ``out``. A failure (e.g. a truncated activation file)
    leaves ``out`` as it was.

    Returns a mapping dataset name -> Parquet path (see :mod:`emostat.schemas`).
    """
    from emostat.release.human import import_human
    from emostat.release.model import import_model

    out = io.check_writable(out)                              # before any work
    root = check_release(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
    try:
        written = {}
        written.update(import_human(root, stage, quiet=quiet))
        written.update(import_model(root, stage, quiet=quiet))
        _move_into(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {k: out / Path(v).relative_to(stage) for k, v in written.items()}


def _move_into(stage: Path, out: Path) -> None:
    """Move the staged files into ``out`` (one rename when ``out`` does not exist yet)."""
    if not out.exists():
        os.chmod(stage, 0o777 & ~_umask())              # mkdtemp makes it 0700
        os.replace(stage, out)
        stage.mkdir()                                    # for the caller's cleanup
        return
    for p in sorted(stage.rglob("*")):
        if p.is_file():
            dest = out / p.relative_to(stage)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(p, dest)


def _umask() -> int:
    from emostat.io import user_umask

    return user_umask()
