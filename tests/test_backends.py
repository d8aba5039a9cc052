"""The local backend with worker processes: same rows as one process; a killed worker's run
resumes with no lost or duplicated rows."""

from __future__ import annotations

import os

import pytest

from emostat import io
from emostat.collect import shards as sh

KEY = ["task", "item_id", "condition_id"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    import tiny_models as tm

    d = tmp_path_factory.mktemp("tiny-llama-b")
    tm.save_tiny(d, "llama")
    return d


def _run(tmp, model, name, **fields):
    from emostat.collect.runner import collect
    from test_runner import _human, write_config

    cfg = write_config(tmp / f"{name}.toml", ks=[4], n_random_draws=2, items_per_emotion=2,
                       templates=["t01", "t02"], tasks=["binary", "choice"],
                       items_per_shard=18, conditions_per_shard=4, **fields)
    return collect(config=cfg, out=tmp / name, model=str(model), quiet=True, human=_human())


def test_two_workers_same_rows_and_resume_after_kill(tiny_dir, tmp_path, monkeypatch):
    _run(tmp_path, tiny_dir, "one", workers=1)
    ref = sh.read_dataset(tmp_path / "one", "inference")
    # a worker process SIGKILLs itself before writing its first shard (runner test hook)
    monkeypatch.setenv("EMOSTAT_TEST_KILL_ONCE", str(tmp_path / "killed"))
    from concurrent.futures.process import BrokenProcessPool

    with pytest.raises(BrokenProcessPool):
        _run(tmp_path, tiny_dir, "two", workers=2)
    assert (tmp_path / "killed").exists()
    assert not (tmp_path / "two" / "manifest.json").exists()
    _run(tmp_path, tiny_dir, "two", workers=2)              # resume: the marker exists now
    got = sh.read_dataset(tmp_path / "two", "inference")
    assert got.num_rows == ref.num_rows
    assert not got.to_pandas().duplicated(KEY).any()
    assert sh.content_hash(got, KEY) == sh.content_hash(ref, KEY)
    a, b = io.read_table(tmp_path / "one" / "accuracy.parquet"), io.read_table(
        tmp_path / "two" / "accuracy.parquet")
    assert a.equals(b)
    # every file of the run, geometry included (issue 21: the geometry tables of 2 workers
    # differed from 1 worker's when inference swapped the driver model's kernels in place)
    from test_runner import assert_same_run

    assert assert_same_run(tmp_path / "one", tmp_path / "two") > 20
    assert not list((tmp_path / "two").rglob("*.tmp"))
    assert os.environ["EMOSTAT_TEST_KILL_ONCE"]
