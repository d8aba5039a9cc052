"""A collected run end to end: collect (tiny random Llama) → analyse_run → experiment report;
plus the random-draw null tables checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emostat import io, schemas
from emostat.analysis import experiment as ex


def io_data_dir():
    from emostat.paths import DATA_DIR

    return DATA_DIR


def _acc(rows):
    return pd.DataFrame(rows, columns=["emotion", "template", "condition", "attribute", "k",
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
    assert null["estimate"].round(12).tolist() == [0.1, 0.4, 0.0]
    res = ex.attribute_vs_null(acc, "binary").iloc[0]
    assert res["estimate"] == pytest.approx(0.4)
    # p = (1 + #{null >= .4}) / (1 + 3) = 2 / 4 (the tie counts against the attribute set)
    assert res["p_value_perm"] == pytest.approx(0.5)
    assert res["null_mean"] == pytest.approx(0.5 / 3)
    assert res["null_sd"] == pytest.approx(np.std([0.1, 0.4, 0.0], ddof=1))


def test_baseline_accuracy_wilson_interval():
    inf = pd.DataFrame({"task": "binary", "emotion": "joy", "condition": "none",
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

    from emostat.analysis.pipeline import analyse_run
    from emostat.collect.runner import collect

    tmp = tmp_path_factory.mktemp("exp")
    model = tmp / "tiny-llama"
    tm.tiny_model("llama").save_pretrained(model)
    tm.tiny_tokenizer(mlm=False).save_pretrained(model)
    cfg = write_config(tmp / "run.toml", ks=[4, 8], n_random_draws=3, items_per_emotion=2,
                       templates=["t01", "t02", "t03"], max_new_tokens=3)
    run = tmp / "run"
    collect(config=cfg, out=run, model=str(model), quiet=True)
    analyse_run(run, seed=3, n_perm=200, quiet=True)
    return run


@pytest.mark.slow
def test_analyse_run_writes_valid_experiment_tables(analysed_run):
    res = analysed_run / "results"
    for name in ("attribute_importance", "neuron_rsa", "masking_by_emotion", "baseline_accuracy",
                 "random_null", "attribute_vs_null", "whole_model_rsa", "masking_mixed_model"):
        path = res / f"{name}.parquet"
        schemas.validate(io.read_table(path, as_pandas=False), name, where=str(path))
        assert io.read_provenance(path)["kind"] == "experiment"
    # baseline accuracy equals the share of correct unmanipulated rows, recomputed here
    inf = io.read_table(analysed_run / "inference")
    base = pd.read_parquet(res / "baseline_accuracy.parquet")
    none = inf[inf["condition"] == "none"]
    for (task, emo), g in none.groupby(["task", "emotion"]):
        got = base[(base["task"] == task) & (base["emotion"] == emo)]["estimate"].item()
        assert got == pytest.approx(g["correct"].mean())
    # importance of a collected run: tau from data/human plus its shipped participant bootstrap
    imp = pd.read_parquet(res / "attribute_importance.parquet").set_index("attribute")
    shipped = pd.read_csv(io_data_dir() / "human" / "attribute_importance.csv").set_index("attribute")
    assert np.allclose(imp["estimate"], shipped.loc[imp.index, "estimate"], atol=1e-9)
    assert imp["conf_low"].notna().all() and (imp["conf_low"] <= imp["estimate"]).all()
    # every (attribute, k) has 3 random draws in the null
    null = pd.read_parquet(res / "random_null.parquet")
    assert set(null.groupby(["task", "attribute", "k"]).size()) == {3}


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
    assert main(["analyse", str(analysed_run), "--out", str(out), "--quiet", "--n-perm", "99",
                 "--n-perm-count", "3", "--mantel-top", "2", "--n-perm-mantel", "99"]) == 0
    assert (out / "results" / "importance_link.parquet").exists()
    assert {p.name: p.stat().st_mtime_ns for p in (analysed_run / "results").iterdir()} == before
    # the same run again into the same folder: replaced; another run's folder: refused
    assert main(["analyse", str(analysed_run), "--out", str(out), "--quiet", "--n-perm", "99",
                 "--n-perm-count", "0", "--n-perm-mantel", "0"]) == 0
    other = tmp_path / "other-run"
    (other / "results").mkdir(parents=True)
    (other / "results" / "provenance.json").write_text('{"run_dir": "/somewhere/else"}')
    from emostat.analysis.pipeline import check_out_dir
    from emostat.errors import InputError

    with pytest.raises(InputError, match="holds the results of '/somewhere/else'"):
        check_out_dir(other, analysed_run)
    check_out_dir(tmp_path / "empty", analysed_run)          # nothing there: fine
