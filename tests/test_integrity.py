"""Integrity end to end: the manifest's file record, analyse refusing an altered run, a failed
start leaving --out untouched, run identity from content, stale temporary files, file modes."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pandas as pd
import pytest

from emostat import io
from emostat.collect import shards as sh
from emostat.errors import InputError
from emostat.integrity import check_run, file_record
from test_runner import _human, run_fake, run_tiny


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("integrity")
    run_fake(tmp)
    return tmp / "run"


def test_manifest_records_every_file(finished):
    m = json.loads((finished / "manifest.json").read_text())
    files = m["files"]
    # every planned shard and every table, with its row count and the SHA-256 of its bytes
    for d, n in m["n_shards"].items():
        assert sum(rel.startswith(f"{d}/") for rel in files) == n
    for name in ("accuracy", "conditions", "calibration", "neuron_means"):
        assert f"{name}.parquet" in files
    rel = next(r for r in files if r.startswith("inference/"))
    assert files[rel]["sha256"] == io.file_sha256(finished / rel)
    assert files[rel]["rows"] == len(pd.read_parquet(finished / rel))
    assert check_run(finished)["complete"] is True


def _copy(finished, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(finished, dst)
    return dst


def test_deleting_any_file_is_named(finished, tmp_path):
    run = _copy(finished, tmp_path)
    for rel in file_record(run):
        p = run / rel
        data = p.read_bytes()
        p.unlink()
        with pytest.raises(InputError, match=f"missing {rel}"):
            check_run(run)
        p.write_bytes(data)
    check_run(run)


def test_analyse_refuses_a_run_missing_a_shard(finished, tmp_path):
    from emostat.analysis.pipelines import analyse_run

    run = _copy(finished, tmp_path)
    (run / "activations" / "part-t001.parquet").unlink()
    with pytest.raises(InputError, match="missing activations/part-t001.parquet"):
        analyse_run(run, n_perm=10, quiet=True)
    assert not (run / "results").exists()


def test_altered_and_extra_files_are_refused(finished, tmp_path):
    run = _copy(finished, tmp_path)
    shard = sorted((run / "inference").glob("part-*.parquet"))[0]
    df = pd.read_parquet(shard)
    io.write_table(df.iloc[:-1], shard)                         # one row lost
    with pytest.raises(InputError, match=rf"changed inference/{shard.name} \(\d+ rows"):
        check_run(run)
    io.write_table(df, shard)                                 # same rows, new bytes
    with pytest.raises(InputError, match="content differs"):
        check_run(run)
    shutil.copy(finished / "inference" / shard.name, shard)
    shutil.copy(shard, run / "inference" / "part-extra.parquet")
    with pytest.raises(InputError, match="not in the manifest inference/part-extra.parquet"):
        check_run(run)


def test_incomplete_or_missing_manifest(finished, tmp_path):
    run = _copy(finished, tmp_path)
    m = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**m, "complete": False}))
    with pytest.raises(InputError, match="not complete"):
        check_run(run)
    (run / "manifest.json").unlink()
    with pytest.raises(InputError, match="no manifest.json"):
        check_run(run)


def test_collect_redoes_a_deleted_shard(finished, tmp_path):
    run = _copy(finished, tmp_path)
    gone = sorted((run / "inference").glob("part-*.parquet"))[-1]
    ref = pd.read_parquet(gone)
    gone.unlink()
    (run / "conditions.parquet").unlink()
    run_fake(tmp_path)                                        # same config, same folder
    pd.testing.assert_frame_equal(pd.read_parquet(gone), ref)
    check_run(run)


def test_stale_tmp_files_are_cleaned(tmp_path):
    out = tmp_path / "run"
    (out / "inference").mkdir(parents=True)
    stale = [out / "inference" / ".part-choice-i0000-c0000.parquet.abc123.tmp",
             out / ".accuracy.parquet.x1.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    keep = out / "inference" / "part-choice-i0000-c0000.parquet"
    keep.write_bytes(b"x")
    assert sorted(sh.clean_stale_tmp(out)) == sorted(stale)
    assert keep.exists() and not any(p.exists() for p in stale)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_files_get_the_users_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        p = io.write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
        with io.TableWriter(tmp_path / "w.parquet", io.pa.schema([("a", io.pa.int64())])) as w:
            w.write(pd.DataFrame({"a": [1]}))
        plain = tmp_path / "plain"
        plain.write_text("x")                                 # what open() gives
    finally:
        os.umask(old)
    want = stat.S_IMODE(plain.stat().st_mode)
    assert want == 0o666 & ~mask
    assert stat.S_IMODE(p.stat().st_mode) == want
    assert stat.S_IMODE((tmp_path / "w.parquet").stat().st_mode) == want


# ---------------------------------------------------------------------------------------------
# real (tiny) models through collect: failed starts, identity from content


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    import tiny_models as tm

    d = tmp_path_factory.mktemp("m") / "tiny-llama"
    tm.save_tiny(d, "llama")
    return d


def test_failed_start_writes_nothing_and_rerun_with_fix_works(tmp_path, tiny_llama_dir,
                                                              monkeypatch):
    no_tok = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_llama_dir, no_tok)
    for p in no_tok.iterdir():
        if "token" in p.name:
            p.unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad, match in [(tmp_path / "nope", "no such file or folder"),
                       (empty, "is an empty folder"), (no_tok, "has no tokenizer files")]:
        with pytest.raises(InputError, match=match):
            run_tiny(tmp_path, bad)
        assert not (tmp_path / "run").exists()               # nothing written to --out
    run_tiny(tmp_path, tiny_llama_dir)                        # the fix, same --out
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    mtime = (tmp_path / "run" / "manifest.json").stat().st_mtime_ns
    # the same weights by a relative path: the same run (nothing to do), not "another config"
    monkeypatch.chdir(tiny_llama_dir.parent)
    run_tiny(tmp_path, os.path.relpath(tiny_llama_dir))
    assert (tmp_path / "run" / "manifest.json").stat().st_mtime_ns == mtime
    assert m["fingerprint"] == json.loads((tmp_path / "run" / "plan.json").read_text())[
        "fingerprint"]
    # other weights under the same path string: another run, refused
    import tiny_models as tm

    other = tmp_path / "swap" / tiny_llama_dir.name
    tm.tiny_model("llama", seed=5).save_pretrained(other)
    tm.tiny_tokenizer(mlm=False).save_pretrained(other)
    monkeypatch.chdir(other.parent)
    with pytest.raises(InputError, match=r"changed: \['model weights'\]"):
        run_tiny(tmp_path, os.path.relpath(other))


def test_encoder_without_head_activations_only(tmp_path, capfd):
    """A BertModel checkpoint: tasks on -> refused before anything is written; with
    activations_only -> activations, a printed statement, and analyse gives searchlight + RSA."""
    import tiny_models as tm
    from test_runner import write_config

    from emostat.analysis.pipelines import analyse_run
    from emostat.collect.runner import collect

    enc = tmp_path / "encoder"
    tm.tiny_model("bert").bert.save_pretrained(enc)
    tm.tiny_tokenizer(mlm=True).save_pretrained(enc)
    cfg = write_config(tmp_path / "c.toml", templates=["t01", "t02", "t03"],
                       tasks=["binary", "choice"], ks=[4], geometry_probe_perm=19,
                       geometry_perm=99, geometry_probe_layers=2)
    with pytest.raises(InputError, match="no trained MLM head"):
        collect(config=cfg, out=tmp_path / "run", model=str(enc), quiet=True, human=_human())
    assert not (tmp_path / "run").exists()
    collect(config=cfg, out=tmp_path / "run", model=str(enc), quiet=True, human=_human(),
            activations_only=True)
    assert "tasks are off (activations only)" in capfd.readouterr().err
    run = tmp_path / "run"
    m = json.loads((run / "manifest.json").read_text())
    assert m["activations_only"] is True and m["model"]["head"].startswith("missing")
    assert not (run / "inference").exists() and not (run / "accuracy.parquet").exists()
    paths = analyse_run(run, n_perm=20, quiet=True)
    assert {"neuron_rsa", "whole_model_rsa", "attribute_importance"} <= set(paths)
    assert not any(n.startswith("masking") for n in paths)
    # the geometry runs from the encoder's hidden states (RSA, PCA, probes); steering, which
    # scores a decoder's next token, is not run, and its claim says so
    assert {"geometry_layer_rsa", "geometry_pca", "geometry_probes"} <= set(paths)
    assert "geometry/geometry_probes.parquet" in m["files"]
    assert not (run / "geometry" / "geometry_steering.parquet").exists()
    claims = io.read_table(paths["claims"], dataset="claims")
    rec = claims[claims["role"] == "record"].set_index("claim")
    assert rec.loc["probe", "decision"] in ("supported", "not supported", "too coarse to decide")
    assert rec.loc["steering", "decision"] == "not tested"
