"""The same numbers every time (issue 21): every table of a run, geometry included, equals an
uninterrupted run's after a SIGKILL during the geometry stage and a rerun. (1 vs 2 local
workers: tests/test_backends.py; Ray: tests/test_ray_backend.py; Slurm:
tests/test_slurm_backend.py.)

The geometry stage reuses the driver's model. Inference used to swap that model's linear
layers for oneDNN's prepacked kernels in place, so the geometry's numbers depended on whether
inference had run in the same process: a resumed run, 2 workers and Ray each gave other
geometry tables. `fastcpu.prepare` now swaps kernels in a view and never changes the model.
Equality is exact: same files, same rows, same values (`pyarrow.Table.equals`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import test_runner as tr
from test_runner import assert_same_run, tiny_llama, tiny_run  # noqa: F401 (fixtures)


def test_reference_run_has_geometry_and_the_model_was_prepared(tiny_run):
    """The reference run (local, 1 worker) is the case of the bug: inference and geometry in
    one process, with oneDNN kernels for inference where this torch has them."""
    from emostat import io
    from emostat.analysis.geometry.claims import OPTIONAL_TABLES, STEERING_TABLES, TABLES

    names = sorted(p.stem for p in (tiny_run / "geometry").glob("geometry_*.parquet"))
    assert names == sorted(TABLES + OPTIONAL_TABLES + STEERING_TABLES)
    prov = io.read_provenance(tiny_run / "geometry" / "geometry_layer_rsa.parquet")
    assert prov["kernel"].startswith("torch") and prov["threads"] == 1


_KILLED = """
import sys
sys.path.insert(0, {tests!r})
import test_runner as tr
tr.run_tiny(__import__("pathlib").Path({tmp!r}), {model!r})
"""


@pytest.mark.slow
def test_kill_during_geometry_then_rerun_gives_every_table(tiny_llama, tiny_run, tmp_path):
    from emostat.collect.killhook import KILL_AT_ENV, KILL_ENV

    script = tmp_path / "run.py"
    script.write_text(_KILLED.format(tests=str(Path(__file__).parent), tmp=str(tmp_path),
                                     model=str(tiny_llama)))
    marker = tmp_path / "killed"
    env = dict(os.environ, CI="1", **{KILL_ENV: str(marker), KILL_AT_ENV: "geometry"})
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]               # SIGKILLed
    assert int(marker.read_text()) > 0
    geo = list((tmp_path / "run" / "geometry").glob("geometry_*.parquet"))
    assert len(geo) == 1                                             # mid-stage
    assert not (tmp_path / "run" / "manifest.json").exists()
    tr.run_tiny(tmp_path, tiny_llama)                                # the same command again
    n = assert_same_run(tiny_run, tmp_path / "run")
    assert n > 20

