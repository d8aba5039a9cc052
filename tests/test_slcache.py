"""The searchlight cache (issue 24, item 4): tables read back equal fresh ones exactly, the key
changes with every input, a stale, corrupt or partial entry is never used, and a collection's
background precompute gives `analyse` a hit with the same results as without the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from emostat import io
from emostat.analysis.pipelines import slcache
from emostat.analysis.pipelines.steps import searchlight_tables
from test_runner import run_fake, write_config

C, ATTRS = 10, ["a", "b", "c", "d"]
OPTIONS = {"mantel_top": 3, "n_perm_mantel": 19, "n_perm_count": 19, "n_jobs": 1,
           "alpha": 0.05, "headline_k": 4}
KS = [2, 4]


@pytest.fixture(autouse=True)
def _cache_on(monkeypatch):
    monkeypatch.setenv(slcache.SWITCH, "1")          # the suite switches it off (conftest)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(3, C, 12))
    i, j = np.triu_indices(C, 1)
    M = rng.normal(size=(C, len(ATTRS)))
    rdms = pd.DataFrame(np.abs(M[i] - M[j]), columns=ATTRS)
    return A, [4, 8], rdms


def fresh(inputs, seed=1, **opts):
    A, sizes, rdms = inputs
    return searchlight_tables(A, sizes, rdms, KS, seed=seed, **{**OPTIONS, **opts})


def same_tables(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True)


def through_cache(run, inputs, seed=1, **opts):
    A, sizes, rdms = inputs
    return slcache.cached_searchlight(run, A, sizes, rdms, KS, seed=seed,
                                      options={**OPTIONS, **opts})


def test_a_hit_equals_the_fresh_tables_exactly(inputs, tmp_path, monkeypatch):
    want = fresh(inputs)
    assert {"neuron_rsa", "neuron_mantel", "neuron_max_t", "neuron_count_null"} <= set(want)
    got, rec = through_cache(tmp_path, inputs)                 # a miss: computed, stored
    assert not rec["hit"] and rec["enabled"]
    same_tables(got, want)
    folder = tmp_path / slcache.FOLDER / rec["key"]
    assert (folder / slcache.ENTRY).is_file()
    assert folder.stat().st_mode & 0o777 == 0o777 & ~io.user_umask()    # not mkdtemp's 0700
    got, rec2 = through_cache(tmp_path, inputs)                # a hit: read back
    assert rec2 == {**rec, "hit": True, "by": "analyse"}
    same_tables(got, want)
    # switched off: computed, neither read nor written
    monkeypatch.setenv(slcache.SWITCH, "0")
    got, rec3 = through_cache(tmp_path / "off", inputs)
    assert rec3 == {"enabled": False, "hit": False, "key": None, "by": None}
    assert not (tmp_path / "off").exists()
    same_tables(got, want)


def test_the_key_changes_with_every_input_and_a_stale_entry_is_not_used(inputs, tmp_path):
    A, sizes, rdms = inputs

    def key(A=A, sizes=sizes, rdms=rdms, ks=KS, seed=1, **opts):
        return slcache.cache_key(A, sizes, rdms, ks, seed=seed, options={**OPTIONS, **opts})

    A2 = A.copy()
    A2[1, 2, 3] += 1e-12
    renamed = rdms.rename(columns={"a": "z"})
    rdms2 = rdms.copy()
    rdms2.iloc[0, 0] += 1e-9
    keys = [key(), key(seed=2), key(A=A2), key(A=A.astype(np.float32)), key(sizes=[6, 6]),
            key(rdms=renamed), key(rdms=rdms2), key(ks=[2, 3]), key(alpha=0.01),
            key(n_perm_count=39), key(n_perm_mantel=0), key(mantel_top="k"), key(mantel_top=4),
            key(headline_k=2)]
    assert len(set(keys)) == len(keys)
    # the threads of the batched product change no number, so not the key either
    assert key(n_jobs=2) == key()
    # an entry of another seed is there; the analysis of seed 2 does not read it
    through_cache(tmp_path, inputs, seed=1)
    got, rec = through_cache(tmp_path, inputs, seed=2)
    assert not rec["hit"]
    same_tables(got, fresh(inputs, seed=2))
    assert len(list((tmp_path / slcache.FOLDER).iterdir())) == 2


def _flip_byte(p: Path) -> None:
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0xFF
    p.write_bytes(bytes(b))


@pytest.mark.parametrize("damage", ["missing table", "flipped byte", "truncated entry",
                                    "no entry file", "other key"])
def test_a_corrupt_or_partial_entry_is_ignored_and_recomputed(inputs, tmp_path, damage):
    _, rec = through_cache(tmp_path, inputs)
    folder = tmp_path / slcache.FOLDER / rec["key"]
    entry = folder / slcache.ENTRY
    if damage == "missing table":
        (folder / "neuron_max_t.parquet").unlink()
    elif damage == "flipped byte":
        _flip_byte(folder / "neuron_rsa.parquet")
    elif damage == "truncated entry":
        entry.write_text(entry.read_text()[:20])
    elif damage == "no entry file":
        entry.unlink()
    else:
        entry.write_text(json.dumps({**json.loads(entry.read_text()), "key": "0" * 64}))
    assert slcache.load_entry(tmp_path, rec["key"]) is None
    got, rec2 = through_cache(tmp_path, inputs)
    assert not rec2["hit"]
    same_tables(got, fresh(inputs))
    assert slcache.load_entry(tmp_path, rec["key"]) is not None       # replaced, whole
    assert through_cache(tmp_path, inputs)[1]["hit"]


def test_a_killed_writer_leaves_nothing_that_is_read(inputs, tmp_path):
    """A writer killed mid-entry leaves its temporary folder (named after it), never the
    entry; a resumed collection removes the folder of a writer that is gone."""
    from emostat.collect.slprecompute import clean_stale

    A, sizes, rdms = inputs
    key = slcache.cache_key(A, sizes, rdms, KS, seed=1, options=OPTIONS)
    final = slcache.entry_folder(tmp_path, key)
    final.parent.mkdir(parents=True)
    gone = final.parent / (io.tmp_prefix(final).replace(f".{os.getpid()}@", ".999999999@")
                           + "x.tmp")
    gone.mkdir()
    for name, df in fresh(inputs).items():
        io.write_table(df, gone / f"{name}.parquet")
    assert slcache.load_entry(tmp_path, key) is None
    assert clean_stale(tmp_path) == [gone] and not gone.exists()
    assert not through_cache(tmp_path, inputs)[1]["hit"]


def test_a_failed_background_searchlight_is_one_line_and_the_run_goes_on(tmp_path, capsys,
                                                                         monkeypatch):
    from emostat.collect.slprecompute import Background

    cfg = SimpleNamespace(backend="local", to_dict=lambda: {"space": str(tmp_path / "none")})
    with Background(cfg, tmp_path, quiet=True) as bg:
        assert bg.start()
        assert bg.join() is False
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "background searchlight failed" in err[0]
    assert not (tmp_path / slcache.FOLDER).exists() or not any(
        p for p in (tmp_path / slcache.FOLDER).iterdir() if not p.name.startswith("."))
    # not with Ray or Slurm, nor when switched off
    assert not Background(SimpleNamespace(backend="ray"), tmp_path).start()
    monkeypatch.setenv(slcache.SWITCH, "0")
    assert not Background(cfg, tmp_path).start()


ANALYSIS = dict(n_perm=50, n_boot=20, quiet=True)


def _results(res: Path) -> tuple[dict, dict]:
    tables = {p.stem: pd.read_parquet(p) for p in sorted(res.glob("*.parquet"))}
    prov = json.loads((res / "provenance.json").read_text())
    return tables, prov


@pytest.mark.parametrize("tasks", [False, True], ids=["activations-only", "tasks"])
def test_analyse_reads_what_collect_precomputed(tmp_path, monkeypatch, tasks):
    from emostat.analysis.pipelines import analyse_run

    config = write_config(tmp_path / "run.toml", ks=[4], tasks=["choice"], n_random_draws=2,
                          attributes=["valence"], items_per_emotion=2, n_folds=1)
    run_fake(tmp_path, config=config, activations_only=not tasks)
    run = tmp_path / "run"
    [entry] = (run / slcache.FOLDER).iterdir()
    stamp = (entry / slcache.ENTRY).stat().st_mtime_ns
    # a resumed collection finds the entry valid and leaves it as it is
    (run / "manifest.json").unlink()
    run_fake(tmp_path, config=config, activations_only=not tasks)
    assert [p.name for p in (run / slcache.FOLDER).iterdir()] == [entry.name]
    assert (entry / slcache.ENTRY).stat().st_mtime_ns == stamp

    analyse_run(run, out=tmp_path / "cached", **ANALYSIS)
    got, prov = _results(tmp_path / "cached" / "results")
    assert prov["searchlight_cache"] == {"enabled": True, "hit": True, "key": entry.name,
                                         "by": "collect"}
    monkeypatch.setenv(slcache.SWITCH, "0")
    analyse_run(run, out=tmp_path / "fresh", **ANALYSIS)
    want, prov2 = _results(tmp_path / "fresh" / "results")
    assert prov2["searchlight_cache"] == {"enabled": False, "hit": False, "key": None,
                                          "by": None}
    assert list(got) == list(want) and "neuron_max_t" in got
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True)
    skip = ("created", "searchlight_cache")
    assert {k: v for k, v in prov.items() if k not in skip} == {
        k: v for k, v in prov2.items() if k not in skip}
