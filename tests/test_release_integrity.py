"""import-release writes all or nothing; raw-data readers report the counts they expected and
warn on a truncated file. Uses the study's release (skipped clearly without it)."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import pytest

from emostat.errors import InputError
from emostat.release import common, import_release
from emostat.release import human as rh


def _mirror(release, tmp_path):
    """A copy of the release made of symlinks (cheap), whose files can be swapped."""
    dst = tmp_path / "release"
    subprocess.run(["cp", "-rs", str(release.resolve()), str(dst)], check=True)
    return dst


def _replace(path, data: bytes):
    path.unlink()
    path.write_bytes(data)


def test_readers_report_release_counts(release):
    # reference-values.md / method.md: 30 affective raters, 299 appraisal responses (of 35, 329)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # the full release: no warning
        part, ratings = rh.read_affective(release)
        line = rh.check_counts("affective", "x", part, len(ratings), 27 * 2)
    assert line == ("affective: 35 respondents, 30 included, 1620 rows "
                    "(the study's release: 35, 30, 1620)")


def test_half_truncated_appraisal_is_reported(release, tmp_path):
    root = _mirror(release, tmp_path)
    path = root / common.APPRAISAL_DIR / "rawdata.csv"
    text = path.read_bytes()
    lines = text.splitlines(keepends=True)
    _replace(path, b"".join(lines[:len(lines) // 2]))   # cut at a line: still parses
    with pytest.warns(UserWarning, match=r"appraisal: \d+ respondents, \d+ included.*"
                                         r"\(the study's release: 329, 299, 11362\): the file "
                                         r"looks truncated"):
        part, _ = rh.read_appraisal(root)
    assert len(part) < 329


def test_import_release_is_all_or_nothing(release, tmp_path):
    root = _mirror(release, tmp_path)
    act = sorted((root / common.ACTIVATIONS_DIR).iterdir())[-1]
    data = act.read_bytes()
    _replace(act, data[:len(data) // 2])                 # one truncated activation file
    out = tmp_path / "imported" / "data"
    with pytest.raises(InputError):
        import_release(root, out, quiet=True)
    assert not out.exists() and not list(out.parent.glob(".*import-*"))
    # an earlier import in the folder is left as it was
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("earlier")
    with pytest.raises(InputError):
        import_release(root, out, quiet=True)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # the intact release imports whole
    shutil.rmtree(out)
    written = import_release(release, out, quiet=True)
    assert all(p.parent == out and p.is_file() for p in written.values())
    assert {p.name for p in out.iterdir()} == {p.name for p in written.values()}
