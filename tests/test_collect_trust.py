"""`collect` trusts no file it did not check, and one process at a time writes a run folder
(issue 21). On the fake model of test_runner (no torch model, seconds).

- every file of a run has a record (rows, SHA-256) written before it appears; a resumed
  `collect` removes and recomputes a file that does not match it (a flipped byte, a file without
  a record), naming it in one line, and the run's tables equal the untouched run's;
- a second `collect` into a folder a live process writes is refused in one line (rc 2); the
  lock of a killed process is taken over; only temporary files of dead writers are removed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emostat import io
from emostat.collect import shards as sh
from emostat.errors import InputError
from emostat.integrity import check_run
from emostat.lock import LOCK_FILE, LockedError, RunLock

from test_runner import run_fake, tiny_llama, write_config  # noqa: F401 (fixture)

KEY = ["task", "item_id", "condition_id"]


@pytest.fixture(scope="module")
def done_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trust")
    write_config(tmp / "run.toml")
    run_fake(tmp)
    return tmp / "run"


def _copy(done_run, tmp_path) -> Path:
    shutil.copytree(done_run, tmp_path / "run")
    shutil.copy(done_run.parent / "run.toml", tmp_path / "run.toml")
    return tmp_path / "run"


def _flip(path: Path, at: int | None = None) -> None:
    b = bytearray(path.read_bytes())
    i = len(b) // 2 if at is None else at
    b[i] ^= 0xFF
    path.write_bytes(bytes(b))


def test_every_file_has_a_matching_record(done_run):
    from emostat.integrity import run_files, untrusted_files

    files = run_files(done_run)
    assert len(files) > 10
    for p in files:
        rec = json.loads(io.record_path(done_run, p).read_text())
        assert rec["sha256"] == io.file_sha256(p)
    assert untrusted_files(done_run) == []


def test_flipped_shard_is_named_and_recomputed(done_run, tmp_path, capsys):
    """The issue's case: `analyse` refuses a byte-flipped shard; rerunning the same `collect`
    without deleting it used to record the corrupted file as good."""
    run = _copy(done_run, tmp_path)
    part = sorted((run / "inference").glob("part-*.parquet"))[3]
    _flip(part)
    with pytest.raises(InputError, match=part.name):
        check_run(run)                                   # analyse's check names the file
    capsys.readouterr()
    run_fake(tmp_path)                                   # the same command again
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if part.name in x]
    assert len(lines) == 1 and "differs from its record" in lines[0] and "recomputed" in lines[0]
    check_run(run)                                       # the new manifest matches the files
    ref, got = sh.read_dataset(done_run, "inference"), sh.read_dataset(run, "inference")
    assert sh.content_hash(got, KEY) == sh.content_hash(ref, KEY)


@pytest.mark.parametrize("target", ["activations", "conditions.parquet", "calibration.parquet"])
def test_interrupted_run_recomputes_untrusted_files(done_run, tmp_path, capsys, target):
    """No manifest yet (a killed run): a shard or table without a record, or a flipped one,
    is recomputed; every table equals the untouched run's."""
    run = _copy(done_run, tmp_path)
    (run / "manifest.json").unlink()
    (run / "accuracy.parquet").unlink()
    if target == "activations":
        victim = sorted((run / "activations").glob("part-*.parquet"))[0]
        io.record_path(run, victim).unlink()             # a file without its record
    else:
        victim = run / target
        _flip(victim, at=len(victim.read_bytes()) - 40)  # inside the footer
    capsys.readouterr()
    run_fake(tmp_path)
    assert victim.name in capsys.readouterr().err
    check_run(run)
    for ds in ("activations", "inference"):
        a, b = sh.read_dataset(done_run, ds), sh.read_dataset(run, ds)
        key = KEY if ds == "inference" else ["concept", "template", "layer"]
        assert sh.content_hash(a, key) == sh.content_hash(b, key), ds
    for name in ("conditions.parquet", "calibration.parquet", "accuracy.parquet"):
        assert io.read_table(done_run / name).equals(io.read_table(run / name)), name


_HOLD = """
import sys, time
from emostat.lock import RunLock
RunLock(sys.argv[1], "emostat collect (test holder)").acquire()
print("locked", flush=True)
time.sleep(120)
"""


def _holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_collect_is_refused_then_a_dead_holder_is_taken_over(done_run, tmp_path):
    run = _copy(done_run, tmp_path)
    for p in (run / "inference").glob("part-*.parquet"):
        p.unlink()                                       # work left to do
    (run / "manifest.json").unlink()
    proc = _holder(run)
    try:
        with pytest.raises(LockedError, match=f"pid {proc.pid}"):
            run_fake(tmp_path)
        assert not list((run / "inference").glob("part-*.parquet"))   # nothing written
    finally:
        proc.send_signal(signal.SIGKILL)                 # dies holding the lock
        proc.wait()
    assert (run / LOCK_FILE).exists()
    run_fake(tmp_path)                                   # the dead holder's lock is taken over
    check_run(run)
    assert not (run / LOCK_FILE).exists()


def test_command_line_lock_refusal_is_one_line_rc_2(tiny_llama, tmp_path, capsys):
    from emostat.cli import main

    run = tmp_path / "run"
    proc = _holder(run)
    try:
        cfg = write_config(tmp_path / "c.toml", tasks=["choice"], geometry=False)
        capsys.readouterr()
        rc = main(["collect", "--config", str(cfg), "--out", str(run), "--model",
                   str(tiny_llama), "--quiet"])
        err = capsys.readouterr().err.strip()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert rc == 2
    assert len(err.splitlines()) == 1 and str(run) in err and f"pid {proc.pid}" in err
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]      # nothing else written


def test_only_stale_temporary_files_are_removed(tmp_path):
    run = tmp_path / "run"
    (run / "inference").mkdir(parents=True)
    live = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = __import__("socket").gethostname()
    keep = run / "inference" / f".part-a.parquet.{live.pid}@{host}.abcd1234.tmp"
    gone = run / "inference" / f".part-b.parquet.{dead.pid}@{host}.abcd1234.tmp"
    old = run / "inference" / ".part-c.parquet.k1ll3d.tmp"           # an older emostat's name
    far = run / f".accuracy.parquet.12@elsewhere.abcd1234.tmp"         # another host, recent
    for p in (keep, gone, old, far):
        p.write_bytes(b"half a file")
    try:
        removed = sh.clean_stale_tmp(run)
        assert sorted(removed) == sorted([gone, old])
        assert keep.exists() and far.exists()
        os.utime(far, (time.time() - 2 * sh.STALE_TMP_S,) * 2)       # untouched for 2 hours
        assert sh.clean_stale_tmp(run) == [far]
    finally:
        live.kill()
        live.wait()
    assert sh.clean_stale_tmp(run) == [keep]                         # its writer is gone now


def test_non_finite_activations_name_their_file(done_run, tmp_path):
    """The issue's second symptom: a damaged shard that still decodes reached the Kendall
    code as NaN ("kendall_tau_b: X contains NaN", no file named). The activation reader now
    names the part file, the layer, concept and template."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from emostat.analysis.neurons.activations import load_activation_array

    run = _copy(done_run, tmp_path)
    part = sorted((run / "activations").glob("part-*.parquet"))[1]
    t = pq.read_table(part)
    vals = [list(v) for v in t.column("values").to_pylist()]
    vals[5][2] = float("nan")
    t = t.set_column(t.column_names.index("values"), "values",
                     pa.array(vals, type=t.schema.field("values").type))
    pq.write_table(t, part)
    with pytest.raises(InputError, match=f"{part.name}: layer .*non-finite") as e:
        load_activation_array(run / "activations")
    assert "\n" not in str(e.value)
    assert np.isnan(vals[5][2])
