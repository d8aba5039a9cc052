"""Import the study's released data (Li et al., iScience 2024) into emostat's Parquet datasets."""

from __future__ import annotations

from pathlib import Path

from emostat.release.common import check_release


def import_release(path, out, *, quiet: bool = False) -> dict[str, Path]:
    """Read the release at ``path`` and write its datasets under ``out``.

    Returns a mapping dataset name -> Parquet path (see :mod:`emostat.schemas`).
    """
    from emostat.release.human import import_human
    from emostat.release.model import import_model

    root = check_release(path)
    out = Path(out)
    written = {}
    written.update(import_human(root, out, quiet=quiet))
    written.update(import_model(root, out, quiet=quiet))
    return written
