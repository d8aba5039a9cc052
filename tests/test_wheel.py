"""The built wheel and sdist carry every file emostat reads at run time, and an unpacked wheel
finds them with importlib.resources from a folder outside the checkout, read-only.

The wheel is built once (``python -m build``: the sdist, then the wheel from the sdist, as pip
builds from an sdist). Installing it into a fresh venv and running a whole job from an empty
folder (collect, analyse, HTML and PDF reports) is ``.ci/run``'s smoke job: minutes, too slow
for the suite.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "emostat/_shipped/"


def source_files() -> list[str]:
    """Every file of the source tree that must ship, relative to its top level."""
    files = [ROOT / "_quarto.yml", *sorted((ROOT / "reports").glob("*.qmd")),
             *sorted((ROOT / "reports" / "styles").iterdir()),
             *sorted(p for p in (ROOT / "data" / "spaces").rglob("*") if p.is_file())]
    return [p.relative_to(ROOT).as_posix() for p in files if "__pycache__" not in p.parts]


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                          str(ROOT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return {"wheel": next(out.glob("emostat-*.whl")), "sdist": next(out.glob("emostat-*.tar.gz"))}


def test_source_tree_lists_what_ships():
    # a guard on the guard: the list above is the shipped spaces and the whole report project
    files = source_files()
    assert {"_quarto.yml", "reports/experiment.qmd", "reports/reproduction.qmd",
            "reports/comparison.qmd", "reports/_setup.qmd", "reports/styles/report.css",
            "reports/styles/report.typ", "data/spaces/study/space.toml",
            "data/spaces/study/stimuli.csv", "data/spaces/vader/ratings.csv",
            "data/spaces/de-example/similarity.csv"} <= set(files)


def test_wheel_and_sdist_carry_the_shipped_files_and_every_module(dist):
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    missing = [f for f in source_files() if SHIPPED + f not in names]
    assert not missing, f"not in the wheel: {missing}"
    modules = [p.relative_to(ROOT).as_posix() for p in (ROOT / "emostat").rglob("*.py")]
    assert not [m for m in modules if m not in names], "a module is missing from the wheel"
    # nothing else of the source tree's top level rides along (tests, docs, the README)
    extra = {n for n in names if n.startswith(SHIPPED)} - {SHIPPED + f for f in source_files()}
    assert not extra, extra
    with tarfile.open(dist["sdist"]) as tar:
        top = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert not [f for f in source_files() if f not in top], "the sdist misses shipped files"
    assert "setup.py" in top   # it lists emostat._shipped: a wheel built from the sdist needs it


PROBE = r"""
import json, pathlib, tempfile
import emostat, emostat.paths as paths
from emostat.collect.stimuli import default_stimuli_path
from emostat.report.render import read_qmd
from emostat.space import load_space, shipped_spaces

copy = paths.copy_project(pathlib.Path(tempfile.mkdtemp()))
meta, chunks = read_qmd(copy / "reports" / "experiment.qmd")
study = load_space("study")
print(json.dumps({
    "package": emostat.__file__, "shipped": str(paths.SHIPPED),
    "spaces": shipped_spaces(), "study": [study.n_concepts, len(study.attributes)],
    "stimuli": str(default_stimuli_path()),
    # the mode bits, not os.access: root may write anywhere
    "copy_writable": bool((copy / "reports" / "experiment.qmd").stat().st_mode & 0o200),
    "toc": meta.get("toc"), "chunks": len(chunks),
}))
"""


def test_unpacked_wheel_finds_its_files_from_any_folder(dist, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(dist["wheel"]).extractall(site)
    for p in sorted(site.rglob("*"), reverse=True):    # read-only, as site-packages may be
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    work = tmp_path / "empty"
    work.mkdir()
    # PYTHONPATH comes before the editable install's finder: this imports the unpacked wheel
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        res = subprocess.run([sys.executable, "-c", PROBE], cwd=work, env=env,
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-3000:]
        got = json.loads(res.stdout.strip().splitlines()[-1])
        shipped = site / "emostat" / "_shipped"
        assert Path(got["package"]).parent == site / "emostat"
        assert Path(got["shipped"]) == shipped
        assert got["spaces"] == ["de-example", "study", "vader", "vader-all"]
        assert got["study"] == [27, 14]               # the study: 27 emotions x 14 attributes
        assert Path(got["stimuli"]) == shipped / "data/spaces/study/stimuli.csv"
        # the report project is copied (writable) and read with _quarto.yml's options merged
        assert got["copy_writable"] and got["toc"] is True and got["chunks"] > 10
        # reproduce has no checkout-relative default release: one line, rc 2
        res = subprocess.run([sys.executable, "-m", "emostat.cli", "reproduce", "--out", "x"],
                             cwd=work, env=env, capture_output=True, text=True)
        assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
        assert "needs --release" in res.stderr and not (work / "x").exists()
    finally:
        for p in site.rglob("*"):
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
