"""Every environment variable the package reads is documented in the README's table, and the
table names none that the code no longer reads (the reference: a scan of emostat/**/*.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# os.environ.get("X"), os.environ["X"], "X" in os.environ, os.getenv("X"), and every
# "EMOSTAT_*" literal (names held in constants such as INTERVAL_ENV)
READS = re.compile(r"""(?:os\.environ(?:\.get)?[(\[]\s*|os\.getenv\(\s*)["']([A-Z][A-Z0-9_]*)["']"""
                   r"""|["']([A-Z][A-Z0-9_]*)["']\s+in\s+os\.environ"""
                   r"""|["'](EMOSTAT_[A-Z0-9_]+)["']""")


def names_in_code() -> set[str]:
    found = set()
    for path in (ROOT / "emostat").rglob("*.py"):
        for m in READS.finditer(path.read_text(encoding="utf-8")):
            found.add(next(g for g in m.groups() if g))
    return found


def names_in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, flags=re.M))


def test_scan_finds_the_known_reads():
    # the scan itself works: these are read in progress.py, weights.py, models.py, render.py
    assert {"CI", "EMOSTAT_PROGRESS_SECONDS", "EMOSTAT_CACHE", "OMP_NUM_THREADS",
            "EMOSTAT_OFFLINE_RENDER", "EMOSTAT_REPORT_PARAMS"} <= names_in_code()


def test_every_variable_read_is_documented_and_none_else():
    code, readme = names_in_code(), names_in_readme()
    assert not code - readme, f"read by emostat but not in README's table: {code - readme}"
    assert not readme - code, f"in README's table but not read: {readme - code}"
    assert "EMOSTAT_DATA" not in code     # the shipped data travel in the package
