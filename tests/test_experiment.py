"""A collected run end to end: collect (tiny random Llama) → analyse_run → experiment report;
plus the random-draw null tables checked by hand."""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat import io, schemas
from emostat.analysis.masking import experiment as ex


def io_data_dir():
    from emostat.paths import DATA_DIR

    return DATA_DIR


def _acc(rows):
    return pd.DataFrame(rows, columns=["concept", "template", "condition", "attribute", "k",
                                       "draw", "accuracy"])


def test_attribute_vs_null_by_hand():
    # two prompts; none = 1.0 and 0.8; attribute mask -> 0.5, 0.5 (drop .5, .3: mean .4);
    # random draws drop (.1, .1) -> .1, (.5, .3) -> .4 (a tie), (0, 0) -> 0
    rows = [("joy", "binary/fold0", "none", None, None, None, 1.0),
            ("joy", "binary/fold1", "none", None, None, None, 0.8),
            ("joy", "binary/fold0", "attribute", "valence", 2, None, 0.5),
            ("joy", "binary/fold1", "attribute", "valence", 2, None, 0.5)]
    for d, (a, b) in enumerate([(0.9, 0.7), (0.5, 0.5), (1.0, 0.8)]):
        rows += [("joy", "binary/fold0", "random", "valence", 2, d, a),
                 ("joy", "binary/fold1", "random", "valence", 2, d, b)]
    acc = _acc(rows)
    null = ex.random_null(acc, "binary")
    assert null["drop"].round(12).tolist() == [0.1, 0.4, 0.0]
    res = ex.attribute_vs_null(acc, "binary").iloc[0]
    # estimate = extra drop vs the null mean: .4 − (.1 + .4 + 0)/3
    assert res["drop_attribute"] == pytest.approx(0.4)
    assert res["estimate"] == pytest.approx(0.4 - 0.5 / 3)
    # p = (1 + #{null >= .4}) / (1 + 3) = 2 / 4 (the tie counts against the attribute set)
    assert res["p_value_perm"] == pytest.approx(0.5) and res["p_min_perm"] == 0.25
    assert res["null_mean"] == pytest.approx(0.5 / 3)
    assert res["null_sd"] == pytest.approx(np.std([0.1, 0.4, 0.0], ddof=1))
    # prediction-interval t = pooled two-sample t of one new value vs the n null values
    ref = stats.ttest_ind([0.4], [0.1, 0.4, 0.0], alternative="greater")
    assert res["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert res["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert res["df"] == 2 and res["unit"] == "mask (3)" and res["role"] == "record"


def _shared_run_accuracy(copies: bool) -> pd.DataFrame:
    """3 emotions x 2 folds; 2 attribute masks and 4 shared random draws at k = 5."""
    rng = np.random.default_rng(5)
    rows = []
    for e in ("joy", "fear", "anger"):
        for f in (0, 1):
            t = f"choice/fold{f}"
            rows.append((e, t, "none", "none", None, None, None, 0.8))
            for a in ("valence", "arousal"):
                rows.append((e, t, "attribute", f"attr:{a}:k=5", a, 5, None,
                             0.6 + 0.1 * rng.random()))
            for d in range(4):
                acc = 0.7 + 0.1 * rng.random()
                for a in (("valence", "arousal") if copies else (None,)):
                    rows.append((e, t, "random", f"rand:{d}:k=5", a, 5, d, acc))
    return pd.DataFrame(rows, columns=["concept", "template", "condition", "condition_id",
                                       "attribute", "k", "draw", "accuracy"])


def test_shared_draws_counted_once_and_old_copies_deduplicated():
    new, old = _shared_run_accuracy(False), _shared_run_accuracy(True)
    a, b = ex.attribute_vs_null(new, "choice"), ex.attribute_vs_null(old, "choice")
    assert (a["n_null"] == 4).all()
    pd.testing.assert_frame_equal(a, b)
    null = ex.random_null(old, "choice")
    assert len(null) == 4 and null["attribute"].isna().all()
    assert null["condition_id"].tolist() == [f"rand:{d}:k=5" for d in range(4)]


def test_task_chance_exact_binomial():
    inf = pd.DataFrame({"task": ["binary"] * 54 + ["choice"] * 27, "condition": "none",
                        "concept": [f"e{i % 27}" for i in range(81)],  # 27 concepts: chance 1/27
                        "correct": [True] * 20 + [False] * 34 + [True] * 5 + [False] * 22})
    t = ex.task_chance(inf).set_index("task")
    # exact tails by enumeration: P(X >= 20 | 54, 1/2) and P(X >= 5 | 27, 1/27)
    p_bin = sum(comb(54, j) for j in range(20, 55)) / 2 ** 54
    p_ch = sum(comb(27, j) * (1 / 27) ** j * (26 / 27) ** (27 - j) for j in range(5, 28))
    assert t.loc["binary", "p_value"] == pytest.approx(p_bin, rel=1e-10)   # R binom.test: .97989
    assert t.loc["choice", "p_value"] == pytest.approx(p_ch, rel=1e-10)    # R: .0028426
    assert t.loc["binary", "p_value"] == pytest.approx(0.9798882, rel=1e-6)
    assert t.loc["choice", "p_value"] == pytest.approx(0.002842562, rel=1e-6)
    assert not t.loc["binary", "interpretable"] and t.loc["choice", "interpretable"]
    assert t.loc["choice", "chance"] == pytest.approx(1 / 27)
    s = ex.chance_statement(t.reset_index().iloc[0])
    assert s.startswith("The binary task is not interpretable") and "left out" in s
    assert "37.0% of 54 items" in s and "p = .980" in s
    s = ex.chance_statement(t.reset_index().iloc[1])
    assert s.startswith("The choice task answers above chance") and "p = .003" in s


def _inference(n_items=30, masks=(("attr:a:k=5", "attribute"), ("attr:b:k=5", "attribute"),
                                  ("rand:0:k=5", "random"), ("rand:1:k=5", "random"),
                                  ("rand:2:k=5", "random")), margin=True, seed=2):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 1, n_items)
    parts = []
    for cid, cond in masks:
        eta = 0.3 * (cond == "random") + u
        d = pd.DataFrame({"task": "choice", "item_id": [f"i{i}" for i in range(n_items)],
                          "condition_id": cid, "condition": cond, "k": 5,
                          "correct": rng.random(n_items) < 1 / (1 + np.exp(-eta))})
        if margin:
            d["margin"] = eta + rng.normal(0, 1, n_items)
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


def test_item_models_shapes_never_abort():
    tidy, glance = ex.item_models(_inference())
    assert list(glance["model"]) == ["item_glmm", "item_glmm_equal", "item_lmm",
                                     "item_lmm_equal"]
    assert list(glance["mask_variance"]) == ["separate", "equal"] * 2
    assert set(glance["status"]) <= {"ok", "singular"}
    fx = tidy[tidy["term"] == "attribute_vs_random"]
    assert [m.split(" (")[0].split(",")[0] for m in fx["p_method"]] == ["Wald z"] * 2 + [
        "Satterthwaite t"] * 2
    assert fx["p_method"].str.endswith("two-sided").all()
    assert list(fx["role"]) == ["record", "extra", "extra", "extra"]
    # copies of a shared draw (same condition_id) are counted once
    inf = _inference()
    dup = pd.concat([inf, inf[inf["condition"] == "random"]], ignore_index=True)
    t2, g2 = ex.item_models(dup)
    assert (g2["nobs"] == 150).all()
    np.testing.assert_allclose(t2["estimate"], tidy["estimate"], rtol=1e-6)
    # no margin column: only the GLMM; only attribute masks: a failed row, not an exception
    t3, g3 = ex.item_models(_inference(margin=False))
    assert list(g3["model"]) == ["item_glmm", "item_glmm_equal"]
    only = _inference(masks=(("attr:a:k=5", "attribute"), ("attr:b:k=5", "attribute")))
    t4, g4 = ex.item_models(only)
    assert set(g4["status"]) == {"failed"} and t4["estimate"].isna().all()


def test_masking_model_one_fold_shared_draws():
    # one fold: prompt = emotion (non-identifiable), random masks shared: mask model
    from emostat.analysis.masking.models import masking_mixed_model

    acc = _shared_run_accuracy(False)
    acc = acc[acc["template"] == "choice/fold0"]
    tidy, glance = masking_mixed_model(acc)
    rec = glance[glance["model"] == "record"].iloc[0]
    assert "(0 + is_attribute | mask) + (0 + is_random | mask)" in rec["formula"]
    assert rec["unit"] == "mask (6)"
    assert rec["status"] in ("singular", "failed")
    assert "concept:prompt has the same groups as concept" in rec["message"]
    st = glance[glance["model"] == "study"].iloc[0]
    assert st["nobs"] == 3 * 6       # 3 prompts x (2 attribute + 4 random masks), no copies
    # an old run with the shared draws copied per attribute gives the same fits
    old = _shared_run_accuracy(True)
    t2, g2 = masking_mixed_model(old[old["template"] == "choice/fold0"])
    assert list(g2["nobs"]) == list(glance["nobs"])
    np.testing.assert_allclose(t2["estimate"], tidy["estimate"], rtol=1e-8)


def test_baseline_accuracy_wilson_interval():
    inf = pd.DataFrame({"task": "binary", "concept": "joy", "condition": "none",
                        "correct": [True] * 8 + [False] * 2})
    b = ex.baseline_accuracy(inf).iloc[0]
    assert b["estimate"] == 0.8 and b["n"] == 10
    # Wilson 95% interval for 8/10 (R: prop.test(8, 10, correct = FALSE)$conf.int)
    assert b["conf_low"] == pytest.approx(0.4901625, abs=1e-6)
    assert b["conf_high"] == pytest.approx(0.9433178, abs=1e-6)


@pytest.fixture(scope="module")
def analysed_run(tmp_path_factory):
    import tiny_models as tm
    from test_runner import write_config

    from emostat.analysis.pipelines import analyse_run
    from emostat.collect.runner import collect

    tmp = tmp_path_factory.mktemp("exp")
    model = tmp / "tiny-llama"
    tm.save_tiny(model, "llama")
    cfg = write_config(tmp / "run.toml", ks=[4, 8], n_random_draws=3, items_per_emotion=2,
                       templates=["t01", "t02", "t03"], max_new_tokens=3)
    run = tmp / "run"
    collect(config=cfg, out=run, model=str(model), quiet=True)
    analyse_run(run, seed=3, n_perm=200, quiet=True)
    return run


@pytest.mark.slow
def test_analyse_run_writes_valid_experiment_tables(analysed_run):
    res = analysed_run / "results"
    chance = pd.read_parquet(res / "task_chance.parquet")
    masking = ("masking_by_emotion", "random_null", "attribute_vs_null", "masking_mixed_model",
               "power")
    # a random tiny model answers at chance: its tasks are left out of the causal tests
    names = ["attribute_importance", "neuron_rsa", "baseline_accuracy", "whole_model_rsa",
             "task_chance"] + (list(masking) if chance["interpretable"].any() else [])
    for name in names:
        path = res / f"{name}.parquet"
        schemas.validate(io.read_table(path, as_pandas=False), name, where=str(path))
        assert io.read_provenance(path)["kind"] == "experiment"
    if not chance["interpretable"].any():
        assert not any((res / f"{n}.parquet").exists() for n in masking)
    # baseline accuracy equals the share of correct unmanipulated rows, recomputed here
    inf = io.read_table(analysed_run / "inference")
    base = pd.read_parquet(res / "baseline_accuracy.parquet")
    none = inf[inf["condition"] == "none"]
    for (task, emo), g in none.groupby(["task", "concept"]):
        got = base[(base["task"] == task) & (base["concept"] == emo)]["estimate"].item()
        assert got == pytest.approx(g["correct"].mean())
    # importance of a collected run: tau from data/spaces/study plus its shipped participant bootstrap
    imp = pd.read_parquet(res / "attribute_importance.parquet").set_index("attribute")
    shipped = pd.read_csv(io_data_dir() / "spaces" / "study" / "attribute_importance.csv").set_index("attribute")
    assert np.allclose(imp["estimate"], shipped.loc[imp.index, "estimate"], atol=1e-9)
    # the shipped participant bootstrap is rater precision: it lands under its own names, never
    # in conf_low/conf_high beside the concept-label Mantel p (issue 15, item 4)
    lo = imp["conf_low_participants"]
    assert lo.notna().all() and (lo <= imp["estimate"]).all()
    assert np.allclose(lo, shipped.loc[imp.index, "conf_low_participants"], atol=1e-12)
    assert imp["conf_low"].isna().all()
    # the masks collect silenced are this analysis's own top-k sets (one row per mask)
    sel = io.read_table(res / "mask_selection.parquet", dataset="mask_selection")
    conds = io.read_table(analysed_run / "conditions.parquet")
    assert len(sel) == (conds["condition"] == "attribute").sum() > 0
    assert sel["identical"].all() and (sel["jaccard"] == 1.0).all()


@pytest.fixture(scope="module")
def analysed_fake_run(tmp_path_factory):
    """The fake collect run of test_runner (planted attribute sets; choice answers right)."""
    from test_runner import run_fake, write_config

    from emostat.analysis.pipelines import analyse_run

    tmp = tmp_path_factory.mktemp("fake_exp")
    cfg = write_config(tmp / "run.toml", shared_random=True, n_folds=1, ks=[4])
    run_fake(tmp, config=cfg)
    analyse_run(tmp / "run", seed=3, n_perm=200, quiet=True)
    return tmp / "run"


@pytest.mark.slow
def test_analyse_fake_run_one_fold_one_k_shared_draws(analysed_fake_run):
    # one fold, one k, 3 shared draws: analyses to completion, every draw once
    res = analysed_fake_run / "results"
    chance = pd.read_parquet(res / "task_chance.parquet").set_index("task")
    assert chance.loc["choice", "interpretable"]
    for name in ("masking_by_emotion", "random_null", "attribute_vs_null", "masking_mixed_model",
                 "masking_mixed_glance", "power", "task_chance"):
        path = res / f"{name}.parquet"
        schemas.validate(io.read_table(path, as_pandas=False), name, where=str(path))
    acc = io.read_table(analysed_fake_run / "accuracy.parquet")
    rnd = acc[acc["condition"] == "random"]
    assert rnd["attribute"].isna().all() and not rnd.duplicated(
        ["task", "concept", "template", "condition_id"]).any()
    null = pd.read_parquet(res / "random_null.parquet")
    assert set(null.groupby(["task", "k"]).size()) == {3}
    vs = pd.read_parquet(res / "attribute_vs_null.parquet")
    assert (vs["n_null"] == 3).all() and (vs["p_min_perm"] == 0.25).all()
    glance = pd.read_parquet(res / "masking_mixed_glance.parquet")
    assert {"study", "record", "item_glmm"} <= set(glance["model"])
    assert set(glance["status"]) <= {"ok", "singular", "fallback", "failed"}
    # a fit whose Hessian SE failed says so in its status and message (issue 22 item 6)
    fb = glance[glance["status"] == "fallback"]
    assert fb["message"].str.contains("SE from the information matrix|Satterthwaite df "
                                      "failed").all()
    # one test of record per task and k: the item-level GLMM when it was fitted
    mm = pd.read_parquet(res / "masking_mixed_model.parquet")
    rec = mm[(mm["role"] == "record") & (mm["term"] == "attribute_vs_random")]
    assert not rec.duplicated(["task", "k"]).any()
    fitted = mm[(mm["model"] == "item_glmm") & (mm["status"] != "failed")]
    assert set(rec.loc[rec["model"] == "item_glmm", "task"]) == set(fitted["task"])
    for task in set(chance.index[~chance["interpretable"]]):
        assert task not in set(glance["task"])


@pytest.mark.slow
def test_experiment_report_renders_from_a_collected_run(analysed_run):
    from emostat.report.render import render_report

    files = render_report([analysed_run], to=["html", "pdf"], quiet=True)
    assert set(files) == {"html", "pdf"}
    html = files["html"].read_text()
    assert "Baseline accuracy" in html and "<img" in html


@pytest.mark.slow
def test_analyse_out_writes_a_new_folder_and_refuses_another_runs(analysed_run, tmp_path):
    from emostat.cli import main

    before = {p.name: p.stat().st_mtime_ns for p in (analysed_run / "results").iterdir()}
    out = tmp_path / "second"
    # the fixture's analysis ran without the per-neuron Mantel extra (off by default)
    assert main(["analyse", str(analysed_run), "--out", str(out), "--quiet", "--n-perm", "99",
                 "--n-perm-count", "3", "--mantel-top", "2"]) == 0
    # the same tables as the analysis in the run folder (which is left untouched)
    assert {p.name for p in (out / "results").iterdir()} == set(before)
    assert {p.name: p.stat().st_mtime_ns for p in (analysed_run / "results").iterdir()} == before
    # the same run again into the same folder: replaced; another run's folder: refused
    assert main(["analyse", str(analysed_run), "--out", str(out), "--quiet", "--n-perm", "99",
                 "--n-perm-count", "0", "--n-perm-mantel", "0"]) == 0
    other = tmp_path / "other-run"
    (other / "results").mkdir(parents=True)
    (other / "results" / "provenance.json").write_text('{"run_dir": "/somewhere/else"}')
    from emostat.analysis.pipelines import check_out_dir
    from emostat.errors import InputError

    with pytest.raises(InputError, match="holds the results of '/somewhere/else'"):
        check_out_dir(other, analysed_run)
    check_out_dir(tmp_path / "empty", analysed_run)          # nothing there: fine


@pytest.mark.slow
def test_fake_run_writes_the_bias_tables(analysed_fake_run):
    # issue 15 item 9: the knowledge/bias tables of a collected run, versioned and valid
    res = analysed_fake_run / "results"
    for name in ("bias_knowledge", "answer_shares", "answer_bias", "bias_summary",
                 "bias_study_test"):
        path = res / f"{name}.parquet"
        schemas.validate(io.read_table(path, as_pandas=False), name, where=str(path))
        assert io.read_provenance(path)["schema_version"] == schemas.VERSIONS[name]
    know = io.read_table(res / "bias_knowledge.parquet", dataset="bias_knowledge")
    inf = io.read_table(analysed_fake_run / "inference")
    # the unmanipulated condition re-fitted on itself is the collection's own calibration
    for task, g in know[know["condition"] == "none"].groupby("task"):
        rows = inf[(inf["task"] == task) & (inf["condition"] == "none")]
        assert g["accuracy"].item() == pytest.approx(rows["correct"].mean())
        assert g["accuracy_recal"].item() == pytest.approx(rows["correct"].mean())
    # answer shares: a brute count of the stored decisions of one mask
    shares = io.read_table(res / "answer_shares.parquet", dataset="answer_shares")
    cid = know.loc[know["condition"] == "attribute", "condition_id"].iloc[0]
    got = shares[(shares["task"] == "choice") & (shares["condition_id"] == cid)
                 & (shares["decision"] == "prediction") & (shares["n"] > 0)]
    want = inf[(inf["task"] == "choice") & (inf["condition_id"] == cid)]["prediction"]
    assert got.set_index("concept")["n"].to_dict() == want.value_counts().to_dict()
    study = io.read_table(res / "bias_study_test.parquet", dataset="bias_study_test")
    assert set(study["role"]) == {"study"} and study["p_method"].notna().all()
