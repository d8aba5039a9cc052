"""The collection runner: config, stages, resume after SIGKILL, manifest, accuracy table.

Most tests use a FAKE model API (deterministic numpy functions with the same signatures as
emostat.collect.models/tasks) and fake stimuli, so they test the runner's machinery in seconds.
The fake plants a signal: neurons 0-3 carry the valence attribute of each concept, and silencing
them flips the binary answers, so the searchlight must pick them and their ablation must hurt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from emostat import io
from emostat.collect import shards as sh
from emostat.collect.config import CollectConfig, load_config
from emostat.constants import ANALYSIS_ORDER, ATTRIBUTES, EMOTIONS
from emostat.errors import InputError

N_LAYERS, N_UNITS = 3, 8
PLANTED = [0, 1, 2, 3]          # neurons that carry valence


# ---------------------------------------------------------------------------------------------
# fakes


def _h(*parts) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def fake_human():
    """A human space with seeded random attribute means (only attribute_rdms is used)."""
    from emostat.analysis.human.humanspace import attribute_rdms

    rng = np.random.default_rng(7)
    means = pd.DataFrame(rng.normal(size=(27, 14)), index=list(ANALYSIS_ORDER),
                         columns=list(ATTRIBUTES))
    return SimpleNamespace(means=means, attribute_rdms=attribute_rdms(means))


HUMAN = None


def _human():
    global HUMAN
    if HUMAN is None:
        HUMAN = fake_human()
    return HUMAN


class FakeAPI:
    """Model functions with the runner's contract, computed from hashes (no torch)."""

    def load_model(self, model=None, device="cpu", dtype="float32", threads=None, **kw):
        site = SimpleNamespace(n_layers=N_LAYERS, n_units=N_UNITS, n_neurons=N_LAYERS * N_UNITS,
                               family="fake", layers="layers", module="mlp")
        return SimpleNamespace(site=site, kind="causal", n_neurons=N_LAYERS * N_UNITS,
                               identity={"name": "fake-model", "weight_sha256": "0" * 64})

    def concept_activations(self, lm, prompts, position="last", words=None, batch_size=16):
        val = _human().means["valence"]
        out = np.zeros((len(prompts), N_LAYERS * N_UNITS), np.float32)
        for r, (p, w) in enumerate(zip(prompts, words)):
            rng = np.random.default_rng(_h(p))
            out[r] = rng.normal(size=out.shape[1])
            out[r, PLANTED] = val[w] + 0.01 * rng.normal(size=len(PLANTED))
        return out

    @staticmethod
    def _hit(masks, n):
        m = np.zeros((n, N_LAYERS * N_UNITS), bool) if masks is None else np.asarray(masks)
        return m[:, PLANTED].mean(axis=1)

    def score_binary(self, lm, texts, emotion, masks=None, **kw):
        hit = self._hit(masks, len(texts))
        yes = np.array([1.0 if f"of {emotion} " in t else -1.0 for t in texts]) - 2.5 * hit
        noise = np.array([(_h(t, emotion) % 100) / 1000 for t in texts])
        return np.stack([np.zeros(len(texts)), yes + noise], axis=1)

    def score_choices(self, lm, texts, choices, masks=None, **kw):
        hit = self._hit(masks, len(texts))
        s = np.array([[(_h(t, c) % 100) / 100 + (2.0 if f"of {c} " in t else 0.0)
                       for c in choices] for t in texts])
        return s - 3.0 * hit[:, None] * (s > 1.5)

    def generate(self, lm, texts, masks=None, max_new_tokens=12, **kw):
        return [f" {t.split(' of ')[1].split()[0]}." for t in texts]

    def parse_label(self, text, choices):
        w = text.strip(" .")
        return w if w in choices else None


class FakeStimuli:
    """27 emotions x 4 situations; concept prompts: 27 x 3 templates. The binary sets and
    single-label items come from the real emostat.collect.stimuli functions."""

    def read_stimuli(self, path=None):
        if path is not None:
            from emostat.collect.stimuli import read_stimuli

            return read_stimuli(path)
        rows = [(f"{e}-{i:02d}", e, f"scene {i} of {e} here") for e in EMOTIONS for i in range(4)]
        return pd.DataFrame(rows, columns=["id", "emotion", "text"])

    def read_goemotions(self, path):
        raise AssertionError("not used")

    def balanced_binary(self, df, emotion, seed, draw="distinct"):
        from emostat.collect.stimuli import balanced_binary

        return balanced_binary(df, emotion, seed, draw)

    def multiclass_items(self, df):
        from emostat.collect.stimuli import multiclass_items

        return multiclass_items(df)

    def concept_prompts(self, mask_token=None):
        return pd.DataFrame([(e, t, f"{t}: {e}", e) for e in EMOTIONS for t in ("a", "b", "c")],
                            columns=["concept", "template", "prompt", "word"])


FAKE = dict(api=FakeAPI(), sapi=FakeStimuli())


def write_config(path, **fields) -> Path:
    base = dict(profile="quick", tasks=["binary", "choice", "generate"], ks=[4, 6],
                n_random_draws=3, attributes=["valence", "arousal"], items_per_emotion=4,
                items_per_shard=40, conditions_per_shard=5, n_folds=2, shared_random=False)
    base.update(fields)
    lines = [f"{k} = {json.dumps(v)}" for k, v in base.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_fake(tmp_path, name="run", config=None, **kw):
    config = config or write_config(tmp_path / "run.toml")
    from emostat.collect.runner import collect

    return collect(config=config, out=tmp_path / name, quiet=True, human=_human(), **FAKE, **kw)


# ---------------------------------------------------------------------------------------------
# config


def test_config_profiles_and_overrides(tmp_path):
    q = load_config(quick=True)
    assert q.n_random_draws < CollectConfig().n_random_draws
    d = load_config()
    assert d.n_random_draws >= 20 and d.random_scheme == "uniform" and d.ablation == "zero"
    # the embedded experiment: 27-way choice (short prompt, calibrated) in both profiles; the
    # default's masking design is the design table's choice (issue 24: items per concept x
    # random masks), all 14 attributes, k = 5% of SmolLM2's 46,080 neurons (30 layers x
    # 1536) = 2,304 >= 1k, two worker processes (issue 10)
    from emostat.analysis.masking.design import DEFAULT_DESIGN, quick_items_per_concept

    assert d.tasks == ["choice"] and q.tasks == ["choice"]
    assert d.items_per_emotion == DEFAULT_DESIGN["items_per_concept"] and d.attributes is None
    assert d.n_random_draws == DEFAULT_DESIGN["n_random"]
    # quick: the situations per concept the chance test needs (2 of the study's 15), and
    # --items-per-concept wins over it
    assert q.items_per_emotion == quick_items_per_concept(27, 15) == 2
    assert load_config(quick=True, items_per_emotion=5).items_per_emotion == 5
    assert d.resolve_ks(30 * 1536) == [2304] and d.workers == 2 and q.workers == 1
    assert d.calibration_folds >= 2 and d.quantize == "none" and d.cpu_kernel == "onednn"
    assert d.choice_prompt == q.choice_prompt == "short" and d.calibrate and q.calibrate
    cfg = load_config(write_config(tmp_path / "c.toml", ks=[0.1, 50]), device="cuda")
    assert cfg.device == "cuda" and cfg.profile if hasattr(cfg, "profile") else True
    # fractions are of all neurons; counts stay; sorted and unique
    assert cfg.resolve_ks(1000) == [50, 100]


def test_command_line_wins_over_the_file_even_at_a_default(tmp_path):
    """Command line > file > profile, always (issue 14): a config with seed = 7 plus
    --seed 20241201 (the default's value) collects with 20241201."""
    from emostat.cli import build_parser
    from emostat.collect.driver import build_config

    cfg = write_config(tmp_path / "c.toml", seed=7, device="cpu", tasks=["choice"],
                       n_random_draws=1, ks=[4], items_per_emotion=1, n_folds=1)
    argv = ["collect", "--config", str(cfg), "--out", str(tmp_path / "o")]

    def resolved(*extra):
        a = build_parser().parse_args(argv + list(extra))
        return build_config(a.config, model=a.model, device=a.device, dtype=a.dtype,
                            quick=a.quick, backend=a.backend, seed=a.seed)

    assert resolved().seed == 7                              # the file over the profile
    assert resolved("--seed", "20241201").seed == 20241201   # the command line over the file
    assert resolved("--dtype", "float32").dtype == "float32"
    assert resolved().n_random_draws == 1                    # file over the quick profile's 3
    assert load_config(quick=True).n_random_draws == 3       # profile when nothing is given
    # the run records the command line's seed, not the file's
    a = build_parser().parse_args(argv + ["--seed", "20241201"])
    paths = run_fake(tmp_path, config=a.config, seed=a.seed)
    m = json.loads(paths["manifest"].read_text())
    assert m["seed"] == 20241201 and m["config"]["seed"] == 20241201


@pytest.mark.parametrize("text, match", [
    ("nonsense_key = 1", "unknown config key"),
    ("ks = [0]", "neither a count"),
    ("ks = []", "non-empty"),
    ("emotions = ['joy', 'happiness']", "unknown emotion name"),
    ("attributes = ['valance']", "unknown attribute"),
    ("tasks = ['binary', 'dance']", "unknown task"),
    ("random_scheme = 'stratified'", "random_scheme"),
    ("n_random_draws = 'many'", "wrong type"),
    ("stimuli = 'no/such/file.csv'", "not found"),
    ("profile = 'huge'", "profile"),
    ("choice_prompt = 'long'", "choice_prompt"),
    ("calibrate = 'yes'", "wrong type"),
    ("ks = [1.5", "not a valid TOML"),
    ("quantize = 'int4'", "quantize"),
    ("cpu_kernel = 'mkl'", "cpu_kernel"),
    ("calibration_folds = 1", "calibration_folds"),
    ("workers = 0", "workers"),
])
def test_config_errors_name_the_field(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text + "\n")
    with pytest.raises(InputError, match=match) as e:
        load_config(p)
    assert str(p) in str(e.value)


def test_k_larger_than_neuron_count():
    with pytest.raises(InputError, match="larger than the model's 24 neurons"):
        load_config(ks=[25]).resolve_ks(24)


# ---------------------------------------------------------------------------------------------
# a whole run on the fake model


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fake")
    paths = run_fake(tmp)
    return tmp, paths


def test_fake_run_datasets(fake_run):
    tmp, paths = fake_run
    out = tmp / "run"
    act = io.read_table(paths["activations"], dataset="activations")
    # 27 concepts x 3 templates x 3 layers, 8 float32 values each
    assert len(act) == 27 * 3 * N_LAYERS
    assert {len(v) for v in act["values"]} == {N_UNITS}
    conds = io.read_table(paths["conditions"])
    # none + per k (2): 2 attribute sets + 2 x 3 random draws
    assert len(conds) == 1 + 2 * (2 + 2 * 3)
    # the searchlight finds the planted valence neurons: top-4 set = neurons 0-3
    top = conds.set_index("condition_id").loc["attr:valence:k=4", "neurons"]
    assert sorted(top) == PLANTED
    inf = io.read_table(paths["inference"], dataset="inference")
    # binary: 27 emotions x (4 pos + 4 neg); choice and generate: 108 items; x 17 conditions
    assert (inf["task"] == "binary").sum() == 27 * 8 * 17
    assert (inf["task"] == "choice").sum() == 108 * 17
    assert not inf.duplicated(["task", "item_id", "condition_id"]).any()
    # the fake's raw decisions are right on every unablated item
    base = inf[inf["condition"] == "none"]
    assert base["correct_raw"].all()
    # calibrated choice stays right (the true word's +2 beats any candidate's mean offset)
    assert base.loc[base["task"] == "choice", "correct"].all()
    # ablating the planted set turns every binary answer into "no" (the fake's rule), so only
    # the "no" items stay correct; the default binary sets are exactly half "no" (distinct
    # negatives, never a drawn positive as in the study's sets)
    vb = inf[(inf["task"] == "binary") & (inf["condition_id"] == "attr:valence:k=4")]
    assert (vb["prediction"] == "no").all()
    assert (vb["correct"] == (vb["label"] == "no")).all() and vb["correct"].mean() == 0.5


def test_fake_run_accuracy_table(fake_run):
    tmp, paths = fake_run
    acc = io.read_table(paths["accuracy"], dataset="accuracy")
    inf = io.read_table(paths["inference"])
    b = inf[(inf["task"] == "binary") & (inf["concept"] == "joy")
            & (inf["condition_id"] == "attr:valence:k=4") & (inf["fold"] == 1)]
    row = acc[(acc["task"] == "binary") & (acc["concept"] == "joy")
              & (acc["template"] == "binary/fold1") & (acc["condition_id"] == "attr:valence:k=4")]
    assert len(row) == 1 and row["accuracy"].iloc[0] == pytest.approx(b["correct"].mean())
    # one row per task x emotion x fold x condition: 3 tasks x 27 x 2 x 17
    assert len(acc) == 3 * 27 * 2 * 17
    none = acc[acc["condition"] == "none"]
    assert none["attribute"].isna().all() and none["k"].isna().all() and none["draw"].isna().all()


def test_manifest_and_provenance(fake_run):
    tmp, paths = fake_run
    m = json.loads(paths["manifest"].read_text())
    assert m["complete"] and m["model"]["name"] == "fake-model"
    assert m["layer_sizes"] == [N_UNITS] * N_LAYERS and m["config"]["n_random_draws"] == 3
    for key in ("fingerprint", "package_versions", "emostat_version", "created", "site"):
        assert key in m
    part = sorted((tmp / "run" / "inference").glob("part-*.parquet"))[0]
    prov = io.read_provenance(part)
    assert prov["fingerprint"] == m["fingerprint"] and prov["model"]["weight_sha256"] == "0" * 64


def test_rerun_of_finished_run_does_nothing(fake_run, tmp_path):
    tmp, paths = fake_run
    before = {p: p.stat().st_mtime_ns for p in (tmp / "run").rglob("*") if p.is_file()}
    run_fake(tmp)
    after = {p: p.stat().st_mtime_ns for p in (tmp / "run").rglob("*") if p.is_file()}
    assert before == after


def test_other_config_in_same_folder_is_refused(fake_run):
    tmp, _ = fake_run
    cfg = write_config(tmp / "other.toml", n_random_draws=5)
    with pytest.raises(InputError, match="another config.*n_random_draws"):
        run_fake(tmp, config=cfg)


def test_resume_after_lost_shards_gives_same_tables(fake_run, tmp_path):
    tmp, paths = fake_run
    ref = sh.read_dataset(tmp / "run", "inference")
    # a copy of the run with some shard files, the accuracy table and manifest removed
    import shutil

    shutil.copytree(tmp / "run", tmp_path / "run")
    parts = sorted((tmp_path / "run" / "inference").glob("part-*.parquet"))
    for p in parts[::3]:
        p.unlink()
    (tmp_path / "run" / "manifest.json").unlink()
    (tmp_path / "run" / "accuracy.parquet").unlink()
    run_fake(tmp_path, config=write_config(tmp_path / "run.toml"))
    got = sh.read_dataset(tmp_path / "run", "inference")
    key = ["task", "item_id", "condition_id"]
    assert got.num_rows == ref.num_rows
    assert sh.content_hash(got, key) == sh.content_hash(ref, key)


# ---------------------------------------------------------------------------------------------
# a tiny random Llama (real model code, no download): resume after SIGKILL


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A tiny random LlamaForCausalLM + tiny tokenizer saved with save_pretrained."""
    import tiny_models as tm

    d = tmp_path_factory.mktemp("tiny-llama")
    tm.save_tiny(d, "llama")
    return d


def tiny_config(path, **extra) -> Path:
    return write_config(path, ks=[4], n_random_draws=2, items_per_emotion=2,
                        templates=["t01", "t02"], max_new_tokens=3, items_per_shard=18,
                        conditions_per_shard=4, **extra)


def run_tiny(tmp, model_dir, name="run", config_extra=None, **kw):
    """A run of the tiny random Llama (``config_extra``: more config fields, e.g. workers)."""
    from emostat.collect.runner import collect

    return collect(config=tiny_config(tmp / f"{name}.toml", **(config_extra or {})),
                   out=tmp / name, model=str(model_dir), quiet=True, human=_human(), **kw)


def assert_same_run(a, b) -> int:
    """Every Parquet file of run ``a`` (shards, tables, geometry) exists in run ``b`` with the
    same rows and the same values (provenance metadata, which holds times, ignored); the same
    set of files in both. Returns the number of files compared."""
    import pyarrow.parquet as pq

    from emostat.integrity import run_files

    fa = [p.relative_to(a).as_posix() for p in run_files(a)]
    fb = [p.relative_to(b).as_posix() for p in run_files(b)]
    assert fa == fb
    for rel in fa:
        ta = pq.read_table(a / rel).replace_schema_metadata(None)
        tb = pq.read_table(b / rel).replace_schema_metadata(None)
        assert ta.equals(tb), f"{rel} differs"
    return len(fa)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_llama):
    tmp = tmp_path_factory.mktemp("tiny")
    run_tiny(tmp, tiny_llama)
    return tmp / "run"


_SLOW_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import test_runner as tr
from emostat.collect import runner
api = runner.default_api()
def slow(f):
    def g(*a, **k):
        time.sleep(0.1)            # slow the run down so the test can kill it mid-way
        return f(*a, **k)
    return g
for name in ("score_binary", "score_choices", "generate"):
    setattr(api, name, slow(getattr(api, name)))
tr.run_tiny(__import__("pathlib").Path({tmp!r}), {model!r}, api=api)
"""


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tiny_llama, tiny_run, tmp_path):
    script = tmp_path / "slow_run.py"
    script.write_text(_SLOW_SCRIPT.format(tests=str(Path(__file__).parent), tmp=str(tmp_path),
                                          model=str(tiny_llama)))
    env = dict(os.environ, OMP_NUM_THREADS="1", CI="1")
    proc = subprocess.Popen([sys.executable, str(script)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = tmp_path / "run" / "inference"
    deadline = time.monotonic() + 240
    while not (folder.is_dir() and list(folder.glob("part-*.parquet"))):
        if proc.poll() is not None:
            pytest.fail(f"collection exited before its first inference shard: "
                        f"{proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, "no inference shard within 240 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_plan = len(list(tiny_run.joinpath("inference").glob("part-*.parquet")))
    n_done = len(list(folder.glob("part-*.parquet")))
    assert 0 < n_done < n_plan, "the kill did not land mid-run"
    assert not (tmp_path / "run" / "manifest.json").exists()
    # the flake's cause: a kill during an atomic write leaves its temporary file (it lands
    # while finish_baseline writes the none shards right after the first one appears). Plant
    # one as the writer names them, so the resume must clean it whatever the timing was.
    (folder / ".part-binary-i0000-c0000.parquet.k1ll3d.tmp").write_bytes(b"half a file")
    run_tiny(tmp_path, tiny_llama)                       # resume in this process
    key = ["task", "item_id", "condition_id"]
    got, ref = sh.read_dataset(tmp_path / "run", "inference"), sh.read_dataset(tiny_run, "inference")
    assert got.num_rows == ref.num_rows
    assert not got.to_pandas().duplicated(key).any()
    assert sh.content_hash(got, key) == sh.content_hash(ref, key)
    for name in ("accuracy.parquet", "conditions.parquet"):
        a, b = io.read_table(tmp_path / "run" / name), io.read_table(tiny_run / name)
        pd.testing.assert_frame_equal(a, b)
    assert not list((tmp_path / "run").rglob("*.tmp"))  # no half-written file left visible


def test_tiny_model_run_tables(tiny_run):
    inf = io.read_table(tiny_run / "inference", dataset="inference")
    # 27 emotions: binary 27 x 4 items, choice and generate 27 x 2; conditions 1 + 2 x (1 + 2)
    n_cond = 1 + 2 * (1 + 2)
    assert inf.groupby("task").size().to_dict() == {"binary": 108 * n_cond,
                                                     "choice": 54 * n_cond,
                                                     "generate": 54 * n_cond}
    ch = inf[inf["task"] == "choice"]
    assert {len(x) for x in ch["logprobs"]} == {27}
    # raw prediction = argmax of the 27 summed log-probs (the space's concept order: ANALYSIS_ORDER); the calibrated one
    # subtracts each candidate's mean over the none rows of the OTHER calibration folds
    pred = [ANALYSIS_ORDER[int(np.argmax(x))] for x in ch["logprobs"]]
    assert pred == ch["prediction_raw"].tolist()
    cal = io.read_table(tiny_run / "calibration.parquet")
    lp = np.stack([np.asarray(x, np.float64) for x in ch["logprobs"]])
    none = ch[ch["condition"] == "none"]
    lp0 = np.stack([np.asarray(x, np.float64) for x in none["logprobs"]])
    off = np.stack([lp0[none["cal_fold"].to_numpy() != f].mean(0) for f in ch["cal_fold"]])
    got = cal[cal["task"] == "choice"].set_index(["fold", "concept"])["offset"]
    np.testing.assert_allclose(got.loc[(0, list(ANALYSIS_ORDER))].to_numpy(),
                               lp0[none["cal_fold"].to_numpy() != 0].mean(0), atol=1e-6)
    assert [ANALYSIS_ORDER[j] for j in (lp - off).argmax(1)] == ch["prediction"].tolist()
    # zeroing a different neuron set changes the scores (the masks reach the model)
    b = inf[inf["task"] == "binary"].set_index(["item_id", "condition_id"])["logprobs"]
    item = b.index.get_level_values(0)[0]
    assert not np.allclose(b[(item, "none")], b[(item, "attr:valence:k=4")])
    m = json.loads((tiny_run / "manifest.json").read_text())
    assert m["model"]["model_type"] == "llama" and len(m["model"]["weight_sha256"]) == 64
    assert m["site"]["module"] == "mlp.down_proj"


def test_neuron_means_are_the_mean_over_concept_prompts(fake_run):
    tmp, paths = fake_run
    act = io.read_table(paths["activations"])
    # recompute from the long table: stack each (concept, template) row's layers, average
    wide = np.stack([np.concatenate(list(g.sort_values("layer")["values"]))
                     for _, g in act.groupby(["concept", "template"])])
    means = io.read_table(tmp / "run" / "neuron_means.parquet")
    assert means["neuron"].tolist() == list(range(N_LAYERS * N_UNITS))
    np.testing.assert_allclose(means["mean"].to_numpy(), wide.astype(np.float64).mean(axis=0),
                               rtol=1e-12)


def test_empty_stimuli_file_is_an_error(tmp_path):
    stim = tmp_path / "situations.csv"
    stim.write_text("id,emotion,text\n")
    cfg = write_config(tmp_path / "c.toml", stimuli=str(stim))
    with pytest.raises(InputError, match=str(stim.name)):
        run_fake(tmp_path, config=cfg)


def test_emotion_without_items_is_an_error(tmp_path):
    stim = tmp_path / "situations.csv"
    stim.write_text("id,emotion,text\njoy-1,joy,We won the final.\n")
    cfg = write_config(tmp_path / "c.toml", stimuli=str(stim))
    with pytest.raises(InputError, match="no item"):
        run_fake(tmp_path, config=cfg)


# ---------------------------------------------------------------------------------------------
# calibration: offsets from condition none only, applied unchanged under ablation


def _margins(df):
    return np.array([lp[1] - lp[0] for lp in df["logprobs"]], dtype=np.float64)


def test_calibration_offsets_come_from_none_only(fake_run):
    tmp, paths = fake_run
    cal = io.read_table(tmp / "run" / "calibration.parquet")
    inf = io.read_table(paths["inference"])
    none = inf[inf["condition"] == "none"]
    # cross-fitted: the offsets of calibration fold f come from the none rows of other folds
    # binary: the median margin of each emotion's balanced set (numpy's median); 8 items, 5
    # folds dealt by position: folds 0-2 hold 2 items, 3-4 one, so 6 or 7 rows fit each
    b = none[none["task"] == "binary"]
    want = {(f, e): float(np.median(_margins(g[g["cal_fold"] != f])))
            for e, g in b.groupby("concept") for f in range(5)}
    got = cal[cal["task"] == "binary"].set_index(["fold", "concept"])
    assert len(got) == 5 * 27 and set(got["n"]) == {6, 7}
    for key, v in want.items():
        assert got.loc[key, "offset"] == pytest.approx(v, abs=1e-6)
    # choice: each candidate's mean log-prob over the other folds' items (ANALYSIS_ORDER order)
    c = none[none["task"] == "choice"]
    s = np.stack([np.asarray(x, np.float64) for x in c["logprobs"]])
    for f in range(5):
        gc = cal[(cal["task"] == "choice") & (cal["fold"] == f)].set_index("concept")
        keep = c["cal_fold"].to_numpy() != f
        np.testing.assert_allclose(gc.loc[list(ANALYSIS_ORDER), "offset"].to_numpy(),
                                   s[keep].mean(axis=0), atol=1e-6)
        assert (gc["n"] == keep.sum()).all()
    want = {e: float(np.median(_margins(g))) for e, g in b.groupby("concept")}
    # the offsets differ from what the ablated rows would give: they were not used
    abl = inf[(inf["task"] == "binary") & (inf["condition_id"] == "attr:valence:k=4")]
    assert np.median(_margins(abl[abl["concept"] == "joy"])) < want["joy"] - 1.0
    m = json.loads(paths["manifest"].read_text())
    assert m["calibration"]["applied"] and m["calibration"]["source_condition"] == "none"
    assert "Zhao" in m["calibration"]["reference"]


def test_same_offsets_decide_every_condition(fake_run):
    tmp, paths = fake_run
    cal = io.read_table(tmp / "run" / "calibration.parquet")
    inf = io.read_table(paths["inference"])
    thr = cal[cal["task"] == "binary"].set_index(["fold", "concept"])["offset"]
    off = cal[cal["task"] == "choice"].set_index(["fold", "concept"])["offset"]
    b = inf[inf["task"] == "binary"]
    t = thr.loc[list(zip(b["cal_fold"], b["concept"]))].to_numpy()
    want = np.where(_margins(b) > t, "yes", "no")
    assert (b["prediction"].to_numpy() == want).all()
    # raw decision: yes when logit_yes > logit_no
    assert (b["prediction_raw"].to_numpy() == np.where(_margins(b) > 0, "yes", "no")).all()
    c = inf[inf["task"] == "choice"]
    s = np.stack([np.asarray(x, np.float64) for x in c["logprobs"]])
    o = np.stack([off.loc[(f, list(ANALYSIS_ORDER))].to_numpy() for f in c["cal_fold"]])
    assert (c["prediction"].to_numpy() == np.asarray(ANALYSIS_ORDER)[(s - o).argmax(1)]).all()
    # margins: > 0 exactly when the calibrated answer is right
    assert ((b["margin"] > 0) == b["correct"]).all() and ((c["margin"] > 0) == c["correct"]).all()
    np.testing.assert_allclose(b["margin"], np.where(b["label"] == "yes", 1, -1)
                               * (_margins(b) - t), atol=1e-5)
    assert (c["correct"] == (c["prediction"] == c["label"])).all()
    # under the planted ablation every binary answer is "no": the shift is measured, whereas
    # offsets re-estimated on those rows would have answered yes for half of them again
    vb = b[b["condition_id"] == "attr:valence:k=4"]
    assert (vb["prediction"] == "no").all() and len(vb) == 27 * 8
    assert ~(vb["condition"] == "none").any()
    # ablated shards and the none rows carry the same offsets: the none rows are the baseline
    base = sh.read_dataset(tmp / "run", "baseline").to_pandas()
    assert set(base["condition"]) == {"none"}
    assert len(base) == (inf["condition"] == "none").sum()
    # baseline/ holds raw decisions only, under their own names (issue 14)
    assert {"prediction_raw", "correct_raw", "margin_raw"} <= set(base.columns)
    assert not {"prediction", "correct", "margin"} & set(base.columns)
    none = inf[inf["condition"] == "none"].set_index(["task", "item_id"])
    b0 = base.set_index(["task", "item_id"]).loc[none.index]
    assert (b0["prediction_raw"] == none["prediction_raw"]).all()
    assert (b0["correct_raw"] == none["correct_raw"]).all()


def test_uncalibrated_run_keeps_raw_decisions(tmp_path):
    run_fake(tmp_path, config=write_config(tmp_path / "raw.toml", calibrate=False,
                                           tasks=["binary"], n_random_draws=1))
    inf = io.read_table(tmp_path / "run" / "inference")
    assert (inf["prediction"] == inf["prediction_raw"]).all()
    assert inf.loc[inf["condition"] == "none", "correct"].all()
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["calibration"]["applied"] is False


def test_length_sorted_batches_change_no_decision(tiny_llama, tiny_run, tmp_path, monkeypatch):
    """Rows of similar length share a batch (issue 24, item 3: less padding). The run in the
    old order (rows batched as the pairs come) gives the same rows, log-probs equal up to
    float32 rounding and the same decisions."""
    from emostat.collect import worker

    monkeypatch.setattr(worker.Worker, "_lengths", lambda self, texts: np.zeros(len(texts)))
    run_tiny(tmp_path, tiny_llama, name="unsorted", config_extra={"workers": 1})
    key = ["task", "item_id", "condition_id"]
    a = sh.read_dataset(tiny_run, "inference").to_pandas().sort_values(key, ignore_index=True)
    b = sh.read_dataset(tmp_path / "unsorted", "inference").to_pandas() \
        .sort_values(key, ignore_index=True)
    assert len(a) == len(b) and (a[key] == b[key]).all().all()
    for task in ("binary", "choice"):
        x, y = a[a.task == task], b[b.task == task]
        np.testing.assert_allclose(np.vstack(x.logprobs), np.vstack(y.logprobs), atol=1e-4)
    cols = ["prediction", "prediction_raw", "correct", "generated"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_lengths_are_token_counts(tiny_llama):
    from transformers import AutoTokenizer

    from emostat.collect.worker import Worker

    class W(Worker):
        def __init__(self, lm):
            self._fake = lm

        @property
        def lm(self):
            return self._fake

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    texts = ["i won the game today", "the sun"]
    want = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert list(W(SimpleNamespace(tokenizer=tok))._lengths(texts)) == want
    assert list(W(SimpleNamespace())._lengths(["ab", "abcd"])) == [2, 4]   # no tokenizer
