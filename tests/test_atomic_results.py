"""Nothing half-done (issue 21, item 5): `emostat analyse` killed (SIGKILL) while it writes its
results leaves nothing `emostat report` renders, and the same command run again gives a
complete results folder equal to an uninterrupted analysis's; `report` refuses a results folder
without its claims table and provenance (one line, rc 2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from emostat.cli import main
from emostat.resultsdir import leftovers
from test_runner import run_fake, write_config

TESTS = Path(__file__).resolve().parent
# the same command every time: a fast analysis of an activations-only fake run
ARGS = ["--n-perm", "50", "--n-perm-count", "19", "--n-perm-mantel", "0", "--seed", "3",
        "--quiet"]

# Runs `emostat analyse RUN ARGS...` and SIGKILLs itself at a known point: "write" N = as the
# results writer starts its (N+1)-th table; "swap" = right after the earlier results/ were
# renamed aside, before the new folder is renamed into place.
KILLER = """
import os, signal, sys
from pathlib import Path
from emostat import io
from emostat.cli import main

mode, n = sys.argv[1], int(sys.argv[2])
calls = [0]
if mode == "write":
    real = io.write_table
    def write_table(*a, **k):
        calls[0] += 1
        if calls[0] > n:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a, **k)
    io.write_table = write_table
elif mode == "swap":
    real = os.replace
    def replace(src, dst):
        real(src, dst)
        if Path(src).name == "results":
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
sys.exit(main(["analyse", *sys.argv[3:]]))
"""


def analyse_killed(run: Path, mode: str, n: int = 0, *extra) -> None:
    res = subprocess.run([sys.executable, "-c", KILLER, mode, str(n), str(run), *ARGS, *extra],
                         cwd=TESTS, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(TESTS)})
    assert res.returncode == -9, res.stderr


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("atomic")
    run_fake(tmp, config=write_config(tmp / "run.toml", ks=[4]), activations_only=True)
    return tmp / "run"


@pytest.fixture(scope="module")
def reference(collected, tmp_path_factory):
    """An uninterrupted analysis of the same run (into another folder)."""
    out = tmp_path_factory.mktemp("reference")
    assert main(["analyse", str(collected), "--out", str(out), *ARGS]) == 0
    return out / "results"


def same_results(res: Path, ref: Path) -> None:
    """Every table equal (values, columns, dtypes) and the same provenance but for its time,
    the run's path (the run was copied) and whether the searchlight came from the cache."""
    names = sorted(p.name for p in res.iterdir())
    assert names == sorted(p.name for p in ref.iterdir())
    for name in names:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(res / name),
                                          pd.read_parquet(ref / name))
    a, b = (json.loads((d / "provenance.json").read_text()) for d in (res, ref))
    skip = ("created", "run_dir", "searchlight_cache")
    assert {k: v for k, v in a.items() if k not in skip} == {
        k: v for k, v in b.items() if k not in skip}


def test_killed_while_writing_then_rerun(collected, reference, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(collected, run)
    analyse_killed(run, "write", 3)                 # 3 tables written, then SIGKILL
    # nothing the report would render: no results/ at all, one staging folder left over
    assert not (run / "results").exists()
    assert [p.name.startswith(".results.tmp-") for p in leftovers(run)] == [True]
    assert main(["report", str(run), "--to", "html", "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emostat: error: {run}: no results/ folder (run `emostat reproduce` or `emostat "
        "analyse` first)"]
    # the same command again finishes the job: complete, equal to the uninterrupted analysis
    assert main(["analyse", str(run), *ARGS]) == 0
    same_results(run / "results", reference)
    assert leftovers(run) == []


def test_killed_while_replacing_earlier_results(collected, reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(collected, run)
    assert main(["analyse", str(run), *ARGS]) == 0
    before = {p.name: p.read_bytes() for p in (run / "results").iterdir()}
    # a report rendered from these results (render_report's parameters name the run)
    report = run / "report"
    report.mkdir()
    (report / ".experiment-params.json").write_text(json.dumps(
        {"results": [str(run.resolve())], "kind": "experiment"}))
    (report / "experiment.html").write_text("<html>old</html>")
    # killed while writing the new tables (alpha .01): the earlier results stay, untouched
    analyse_killed(run, "write", 5, "--alpha", ".01")
    assert {p.name: p.read_bytes() for p in (run / "results").iterdir()} == before
    assert (report / "experiment.html").exists()
    # killed between setting the earlier folder aside and moving the new one in: no results/
    # (nothing to render), the stale report gone; the same command again finishes the job
    analyse_killed(run, "swap", 0, "--alpha", ".01")
    assert not (run / "results").exists() and not (report / "experiment.html").exists()
    assert len(leftovers(run)) == 2                   # the set-aside and the staged folder
    assert main(["analyse", str(run), *ARGS, "--alpha", ".01"]) == 0
    assert leftovers(run) == []
    claims = pd.read_parquet(run / "results" / "claims.parquet")
    assert (claims["alpha"] == 0.01).all()
    # and back at the default alpha: equal to the uninterrupted analysis again
    assert main(["analyse", str(run), *ARGS]) == 0
    same_results(run / "results", reference)


@pytest.mark.parametrize("missing", [("claims.parquet",), ("provenance.json",),
                                     ("claims.parquet", "provenance.json")])
def test_report_refuses_an_unfinished_results_folder(reference, tmp_path, capsys, missing):
    run = tmp_path / "half"
    shutil.copytree(reference, run / "results")
    for name in missing:
        (run / "results" / name).unlink()
    assert main(["report", str(run), "--to", "html", "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emostat: error: {run / 'results'}: not a finished analysis (no claims.parquet and "
        "provenance.json); rerun the `emostat analyse` or `reproduce` command that wrote it"]
    assert not (run / "report").exists()
