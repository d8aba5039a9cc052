"""The Ray backend: same tables as the local backend, a killed worker is retried, clear error
without Ray. Runs a local Ray instance with 2 CPUs (started once for the module) on the tiny random
Llama of test_runner (real model code in the actors)."""

from __future__ import annotations

import sys

import pytest

from emostat.collect import shards as sh

import test_runner as tr
from test_runner import tiny_llama, tiny_run  # noqa: F401  (fixtures)

KEYS = {"inference": ["task", "item_id", "condition_id"],
        "activations": ["concept", "template", "layer"]}


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    import ray.cloudpickle

    # the fakes live in a test module that Ray workers cannot import: ship them by value
    ray.cloudpickle.register_pickle_by_value(tr)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def _same_tables(a, b):
    for ds, key in KEYS.items():
        ta, tb = sh.read_dataset(a, ds), sh.read_dataset(b, ds)
        assert ta.num_rows == tb.num_rows
        assert sh.content_hash(ta, key) == sh.content_hash(tb, key), ds


@pytest.mark.ray
@pytest.mark.slow
def test_ray_backend_same_tables_as_local(ray_local, tiny_llama, tiny_run, tmp_path):
    """Every Parquet file of the run (shards, conditions, calibration, accuracy, geometry) has
    the same rows and values as the local backend's (issue 21: the geometry tables differed,
    a permutation p by .004, when inference had swapped the driver model's kernels)."""
    tr.run_tiny(tmp_path, tiny_llama, backend="ray")
    _same_tables(tiny_run, tmp_path / "run")
    assert tr.assert_same_run(tiny_run, tmp_path / "run") > 20


@pytest.mark.ray
@pytest.mark.slow
def test_killed_worker_is_retried(ray_local, tiny_llama, tiny_run, tmp_path, monkeypatch):
    from emostat.collect.runner import KILL_ENV

    marker = tmp_path / "killed-once"
    monkeypatch.setenv(KILL_ENV, str(marker))
    tr.run_tiny(tmp_path, tiny_llama, backend="ray")
    assert marker.exists(), "the test hook never killed a worker"
    pid = int(marker.read_text())
    assert pid != __import__("os").getpid()          # the actor died, not this process
    _same_tables(tiny_run, tmp_path / "run")         # no lost, no duplicated rows


def test_ray_missing_gives_install_message(monkeypatch, tmp_path):
    from emostat.collect.ray_backend import RayMissingError
    from emostat.errors import EmostatError

    monkeypatch.setitem(sys.modules, "ray", None)    # `import ray` raises ImportError
    with pytest.raises(RayMissingError, match=r"pip install 'emostat\[ray\]'") as e:
        tr.run_fake(tmp_path, backend="ray")
    assert isinstance(e.value, EmostatError)         # the CLI prints it without a traceback
