"""Output folders that cannot be written (issue 21): every command that writes gives one line
naming the folder and rc 2, before any work; an OSError while writing (a full disk) is one line,
rc 2, with nothing half-written left."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from emostat.cli import main
from emostat.errors import InputError
from emostat.io import check_writable

from test_runner import tiny_llama, write_config  # noqa: F401 (fixture)


def _commands(out: Path, tmp: Path) -> dict[str, list[str]]:
    some = str(tmp / "elsewhere")                    # an input that is never reached
    return {"collect": ["collect", "--out", str(out), "--quick"],
            "analyse": ["analyse", some, "--out", str(out)],
            "report": ["report", some, "--out", str(out)],
            "reproduce": ["reproduce", "--release", some, "--out", str(out)],
            "run": ["run", "--out", str(out), "--quick"],
            "geometry": ["geometry", "--out", str(out), "--quick"],
            "import-release": ["import-release", some, "--out", str(out)]}


def _unwritable_folder(tmp_path) -> Path:
    """An existing folder this process cannot write into: a read-only mode for a normal user;
    for root (which ignores modes), a read-only system folder."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    for cand in (Path("/sys/kernel"), Path("/proc/sys")):
        try:
            check_writable(cand)
        except InputError:
            return cand
    pytest.skip("no read-only folder found for root on this machine")


@pytest.mark.parametrize("command", ["collect", "analyse", "report", "reproduce", "run",
                                     "geometry", "import-release"])
@pytest.mark.parametrize("case", ["file", "below-a-file", "read-only"])
def test_unwritable_output_is_one_line_rc_2(tmp_path, capsys, command, case):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    out = {"file": blocker, "below-a-file": blocker / "sub",
           "read-only": None}[case] or _unwritable_folder(tmp_path) / "out"
    before = sorted(tmp_path.rglob("*"))
    rc = main(_commands(out, tmp_path)[command])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and str(out) in err and "Traceback" not in err
    assert ("is a file" in err) if case != "read-only" else ("cannot write" in err)
    assert sorted(tmp_path.rglob("*")) == before     # nothing written anywhere


def test_full_disk_while_writing_is_one_line_rc_2(tiny_llama, tmp_path, capsys, monkeypatch):
    """A disk that fills during the run: the write fails with ENOSPC; one line, rc 2, no
    temporary file left, no manifest (the run is not complete; rerunning resumes)."""
    import pyarrow.parquet as pq

    calls = {"n": 0}
    real = pq.write_table

    def fill_up(table, where, *a, **k):
        calls["n"] += 1
        if calls["n"] > 3:                           # a few files fit, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))
        return real(table, where, *a, **k)

    monkeypatch.setattr(pq, "write_table", fill_up)
    cfg = write_config(tmp_path / "c.toml", tasks=["choice"], geometry=False, ks=[4],
                       n_random_draws=1, items_per_emotion=1, templates=["t01", "t02"])
    run = tmp_path / "run"
    rc = main(["collect", "--config", str(cfg), "--out", str(run), "--model", str(tiny_llama),
               "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "no space left on device" in err and "Traceback" not in err
    assert not list(run.rglob("*.tmp")) and not (run / "manifest.json").exists()
    assert not (run / ".lock").exists()
    monkeypatch.setattr(pq, "write_table", real)     # space again: the same command finishes
    assert main(["collect", "--config", str(cfg), "--out", str(run), "--model",
                 str(tiny_llama), "--quiet"]) == 0
    assert (run / "manifest.json").exists()
