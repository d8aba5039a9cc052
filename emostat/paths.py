"""Where emostat finds the files it ships: the concept spaces and the Quarto report project.

The top level of the source tree is their only copy: ``data/spaces/``, ``reports/`` (the
``.qmd`` sources and ``styles/``) and ``_quarto.yml``. A built wheel (and the sdist) carries
them as ``emostat/_shipped/`` with the same layout (pyproject.toml maps the tree's top level
to that package name, setup.py lists it); they are found here with :mod:`importlib.resources`,
from any working folder. A source checkout installed in editable mode (``make setup``) has no
``emostat/_shipped/``: there the files are read where they are, beside the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PROJECT_FILE = "_quarto.yml"   # marks the folder that holds reports/ and data/


def shipped_root() -> Path:
    """The folder holding ``_quarto.yml``, ``reports/`` and ``data/spaces/``.

    ``emostat/_shipped/`` in an installed wheel; the checkout's top level in an editable
    install. Where neither holds them (a broken install), the wheel's location, so that a
    missing file is reported under the path it was expected at.
    """
    package = Path(str(resources.files(__package__)))
    candidates = (package / "_shipped", package.parent)
    for root in candidates:
        if (root / PROJECT_FILE).is_file() and (root / "data" / "spaces").is_dir():
            return root
    return candidates[0]


SHIPPED = shipped_root()
DATA_DIR = SHIPPED / "data"          # spaces/<name>/
REPORTS_DIR = SHIPPED / "reports"    # <kind>.qmd, _*.qmd includes, styles/
QUARTO_PROJECT = SHIPPED / PROJECT_FILE


def copy_project(dest: Path) -> Path:
    """Copy the Quarto project (``_quarto.yml``, ``reports/``) into ``dest``; returns ``dest``.

    Renderers work on the copy: Quarto writes beside its sources, and an installed package's
    files may be read-only. Files are copied without their permission bits, so the copy is
    writable.
    """
    import shutil

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(QUARTO_PROJECT, dest / PROJECT_FILE)
    for src in sorted(REPORTS_DIR.rglob("*")):
        rel = src.relative_to(SHIPPED)
        if "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
            continue
        if src.is_dir():
            (dest / rel).mkdir(parents=True, exist_ok=True)
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / rel)
    return dest
