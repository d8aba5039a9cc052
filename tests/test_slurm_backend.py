"""The Slurm backend (issue 21) through submitit's LocalExecutor (the same job arrays as local
processes, no Slurm needed): every table of a run equal to the local backend's, a job killed
mid-shard resubmitted with nothing lost or duplicated, a rerun submitting only the shards
without a file; the slurm_* config keys validated and passed to sbatch."""

from __future__ import annotations

import json
import sys

import pytest

from emostat.collect.config import load_config
from emostat.errors import InputError

import test_runner as tr
from test_runner import assert_same_run, tiny_llama, tiny_run, write_config  # noqa: F401

# one job per phase (each job is a fresh Python process: keep them few on a 2-core CI)
LOCAL = {"slurm_cluster": "local", "slurm_shards_per_job": 24, "slurm_time_min": 20}


@pytest.mark.slow
def test_slurm_local_same_tables_as_local_with_a_killed_job(tiny_llama, tiny_run, tmp_path,
                                                            monkeypatch):
    """One job SIGKILLs itself before writing its first shard (the runner's test hook): the
    array ends with its shards missing, they are resubmitted (slurm_retries), and every file of
    the run, geometry included, equals the local backend's."""
    from emostat.collect.killhook import KILL_ENV

    marker = tmp_path / "killed-once"
    monkeypatch.setenv(KILL_ENV, str(marker))
    tr.run_tiny(tmp_path, tiny_llama, backend="slurm", config_extra=LOCAL)
    assert marker.exists(), "the test hook never killed a job"
    run = tmp_path / "run"
    n = assert_same_run(tiny_run, run)
    assert n > 20
    m = json.loads((run / "manifest.json").read_text())
    assert m["backend"] == "slurm" and m["fingerprint"] == json.loads(
        (tiny_run / "manifest.json").read_text())["fingerprint"]
    # activations, baseline, inference, geometry: a job each, + the killed job's resubmission
    ids = json.loads((run / "slurm" / "jobs.json").read_text())
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.slow
def test_rerun_submits_only_shards_without_a_file(tiny_llama, tiny_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    parts = sorted((run / "inference").glob("part-*-c*.parquet"))
    gone = parts[::12]
    assert len(gone) == 2
    for p in gone:
        p.unlink()
    (run / "manifest.json").unlink()
    (run / "accuracy.parquet").unlink()
    tr.run_tiny(tmp_path, tiny_llama, backend="slurm",
                config_extra={**LOCAL, "slurm_shards_per_job": 1})
    ids = json.loads((run / "slurm" / "jobs.json").read_text())
    assert len(ids) == len(gone)                     # one job per missing shard, no other
    assert_same_run(tiny_run, run)


@pytest.mark.parametrize("text, field", [
    ("slurm_time_min = 0", "slurm_time_min"),
    ("slurm_partition = 'gpu; rm -rf /'", "slurm_partition"),
    ("slurm_extra = ['--gres gpu:1']", "slurm_extra"),
    ("slurm_gpus = 1", "slurm_gpus"),                # device is cpu
    ("slurm_cluster = 'pbs'", "slurm_cluster"),
    ("slurm_mem_gb = 0", "slurm_mem_gb"),
    ("slurm_shards_per_job = 'all'", "slurm_shards_per_job"),
    ("backend = 'sge'", "backend"),
])
def test_slurm_config_errors_name_the_field(tmp_path, text, field):
    p = tmp_path / "bad.toml"
    p.write_text(text + "\n")
    with pytest.raises(InputError, match=f"'{field}'") as e:
        load_config(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_slurm_options_reach_sbatch(tmp_path, monkeypatch):
    """The config's options become sbatch lines (submitit's own script writer; a stand-in
    `srun` on PATH, which is all submitit looks for)."""
    import os

    submitit = pytest.importorskip("submitit", reason="the [slurm] extra is not installed")
    from emostat.collect.slurm_backend import executor_parameters

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    cfg = load_config(write_config(tmp_path / "c.toml", device="cuda", threads=4,
                                   slurm_partition="gpu", slurm_account="lab1",
                                   slurm_time_min=90, slurm_mem_gb=40, slurm_gpus=1,
                                   slurm_array_parallelism=8,
                                   slurm_setup=["module load cuda/12.1"],
                                   slurm_extra=["constraint=a100"]))
    ex = submitit.AutoExecutor(folder=tmp_path / "logs", cluster="slurm")
    ex.update_parameters(**executor_parameters(cfg))
    text = ex._executor._make_submission_file_text("python -m x", "uid")
    for line in ("--partition=gpu", "--account=lab1", "--time=90", "--mem=40GB",
                 "--gpus-per-node=1", "--cpus-per-task=4", "--constraint=a100",
                 "module load cuda/12.1"):
        assert line in text, line
    assert ex._executor.parameters["array_parallelism"] == 8


def test_no_slurm_here_is_one_clear_line(tmp_path, monkeypatch):
    pytest.importorskip("submitit", reason="the [slurm] extra is not installed")
    from emostat.errors import EmostatError

    monkeypatch.setenv("PATH", str(tmp_path))            # no srun
    with pytest.raises(EmostatError, match="srun.*slurm_cluster") as e:
        tr.run_fake(tmp_path, backend="slurm")
    assert "\n" not in str(e.value)


def test_submitit_missing_gives_install_message(monkeypatch, tmp_path):
    from emostat.collect.slurm_backend import SubmititMissingError
    from emostat.errors import EmostatError

    monkeypatch.setitem(sys.modules, "submitit", None)   # `import submitit` raises ImportError
    with pytest.raises(SubmititMissingError, match=r"pip install 'emostat\[slurm\]'") as e:
        tr.run_fake(tmp_path, backend="slurm")
    assert isinstance(e.value, EmostatError)              # the CLI prints it without a traceback
