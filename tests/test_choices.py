"""Rerunning the statistics with other choices (issue 21, item 7): alpha, headline_k, n_perm and
n_perm_count as config keys and options, every value checked at load (the overridden ones too),
and a user's permutation count as a minimum of the doubling rule."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from emostat import io
from emostat.analysis.neurons import neuronnull as nn
from emostat.analysis.pipelines.choices import first_draws
from emostat.analysis.pipelines.steps import searchlight_tables
from emostat.cli import main
from emostat.collect.config import load_config
from emostat.errors import InputError
from test_neuronnull import _data
from test_runner import run_fake, write_config

# a fast analysis of an activations-only fake run: Mantel 50 draws (doubled while undecided),
# 19 searchlight relabellings
FAST = ["--n-perm", "50", "--n-perm-count", "19", "--n-perm-mantel", "0", "--seed", "3",
        "--quiet"]


# ---- config keys ------------------------------------------------------------------------------

def test_choices_are_config_keys_outside_the_run_identity(tmp_path):
    plain = load_config(write_config(tmp_path / "a.toml"))
    cfg = load_config(write_config(tmp_path / "b.toml", alpha=0.01, headline_k=6, n_perm=20_000,
                                   n_perm_count=399))
    assert (cfg.alpha, cfg.headline_k, cfg.n_perm, cfg.n_perm_count) == (0.01, 6, 20_000, 399)
    assert (plain.alpha, plain.headline_k, plain.n_perm, plain.n_perm_count) == (
        0.05, None, 10_000, 199)
    # they decide claims, not datasets: a run collected under one alpha resumes under another
    assert cfg.fingerprint() == plain.fingerprint()
    # a headline k written as in ks: a fraction where ks are fractions
    frac = load_config(write_config(tmp_path / "c.toml", ks=[0.02, 0.05], headline_k=0.02))
    assert frac.headline_k == 0.02


@pytest.mark.parametrize("fields, message", [
    ({"alpha": 1.5}, "config field 'alpha' must be a number in (0, 1), got 1.5"),
    ({"alpha": 0}, "config field 'alpha' must be a number in (0, 1), got 0"),
    ({"alpha": "0.05"}, "config field 'alpha': wrong type str (expected float)"),
    ({"headline_k": 5}, "config field 'headline_k' 5 is not one of the run's k [4, 6]"),
    ({"headline_k": 1.5}, "config field 'headline_k' must be a count >= 1 or a fraction in "
                          "(0, 1), got 1.5"),
    ({"ks": [0.05], "headline_k": 0.02}, "config field 'headline_k' 0.02 is not one of the "
                                         "run's k [0.05]"),
    ({"n_perm": 0}, "config field 'n_perm' must be an integer >= 1, got 0"),
    ({"n_perm_count": -1}, "config field 'n_perm_count' must be an integer >= 0, got -1"),
    ({"seed": -1}, "config field 'seed': expected an integer >= 0, got -1"),
])
def test_bad_choices_are_refused_at_load(tmp_path, fields, message):
    path = write_config(tmp_path / "run.toml", **fields)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert str(e.value) == f"{path}: {message}"


def test_every_file_value_is_checked_even_when_overridden(tmp_path):
    # --quick overrides the file's profile, --dtype its dtype: the file's values are still wrong
    path = write_config(tmp_path / "run.toml", profile="quik")
    with pytest.raises(InputError) as e:
        load_config(path, quick=True)
    assert str(e.value) == (f"{path}: config field 'profile': 'quik' not in ['default', 'full', "
                            "'quick']")
    path = write_config(tmp_path / "two.toml", dtype="float64")
    with pytest.raises(InputError, match=r"two.toml: config field 'dtype': 'float64' is not"):
        load_config(path, dtype="float32")
    path = write_config(tmp_path / "three.toml", alpha=2.0)
    with pytest.raises(InputError, match=r"three.toml: config field 'alpha' must be"):
        load_config(path, seed=4)
    # a valid file overridden is fine
    assert load_config(write_config(tmp_path / "ok.toml"), dtype="bfloat16").dtype == "bfloat16"


def test_negative_seed_on_the_command_line(tmp_path, capsys):
    assert main(["collect", "--quick", "--seed", "-1", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    assert capsys.readouterr().err == ("emostat: error: config: config field 'seed': expected "
                                       "an integer >= 0, got -1\n")
    assert main(["analyse", str(tmp_path / "r"), "--seed", "-1"]) == 2
    assert capsys.readouterr().err == "emostat: error: --seed must be an integer >= 0, got -1\n"
    assert not (tmp_path / "r").exists()


def test_run_checks_its_choices_before_collecting(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--quick", "--alpha", "1.5", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == ("emostat: error: emostat run: --alpha must be a number "
                                       "in (0, 1), got 1.5\n")
    assert main(["run", "--quick", "--headline-k", "0.07", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == ("emostat: error: emostat run: --headline-k 0.07 is not "
                                       "one of the run's k [0.05]\n")
    assert main(["reproduce", "--release", str(tmp_path / "rel"), "--alpha", "x", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == ("emostat: error: emostat reproduce: --alpha must be a "
                                       "number in (0, 1), got 'x'\n")
    assert main(["reproduce", "--release", str(tmp_path / "rel"), "--headline-k", "4500", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "emostat: error: emostat reproduce: --headline-k 4500 is not one of the run's k "
        "[1500, 2000, 2500, 3000, 4000, 5000, 6000]\n")
    assert not out.exists()


# ---- the analysis follows them ----------------------------------------------------------------

@pytest.fixture(scope="module")
def acts(tmp_path_factory):
    """An activations-only fake run (ks 4 and 6) whose config sets alpha = .01, headline_k = 4."""
    tmp = tmp_path_factory.mktemp("choices")
    cfg = write_config(tmp / "run.toml", ks=[4, 6], alpha=0.01, headline_k=4)
    run_fake(tmp, config=cfg, activations_only=True)
    return tmp / "run"


def judged_at(claims: pd.DataFrame, alpha: float) -> None:
    """The decision rule read off the rows (docs/design.md §2), at ``alpha``."""
    assert (claims["alpha"] == alpha).all()
    for _, r in claims.iterrows():
        if r["decision"] == "supported":
            assert r["p_value"] <= alpha and r["p_floor"] <= alpha
        if r["p_value"] > alpha:
            assert r["decision"] != "supported"
        if r["p_floor"] > alpha:
            assert r["decision"] == "too coarse to decide"


def test_config_alpha_and_headline_k_decide_the_claims(acts, tmp_path):
    out = tmp_path / "a"
    assert main(["analyse", str(acts), "--out", str(out), "--mantel-top", "k",
                 "--n-perm-mantel", "99", *FAST[:4], *FAST[6:]]) == 0
    claims = io.read_table(out / "results" / "claims.parquet", dataset="claims")
    judged_at(claims, 0.01)
    prov = json.loads((out / "results" / "provenance.json").read_text())
    assert prov["claims_design"]["alpha"] == 0.01 and prov["claims_design"]["headline_k"] == 4
    # --mantel-top k: the top-k set at the headline k (4 of the config, not the largest 6)
    mantel = io.read_table(out / "results" / "neuron_mantel.parquet")
    assert set(mantel.groupby("attribute").size()) == {4}
    # the command line wins over the config
    out2 = tmp_path / "b"
    assert main(["analyse", str(acts), "--out", str(out2), "--alpha", ".05", "--headline-k", "6",
                 "--mantel-top", "k", "--n-perm-mantel", "99", *FAST[:4], *FAST[6:]]) == 0
    claims = io.read_table(out2 / "results" / "claims.parquet", dataset="claims")
    judged_at(claims, 0.05)
    assert set(io.read_table(out2 / "results" / "neuron_mantel.parquet").groupby(
        "attribute").size()) == {6}


def test_analyse_alpha_option(acts, tmp_path):
    out = tmp_path / "dir"
    assert main(["analyse", str(acts), "--alpha", ".01", "--out", str(out), *FAST]) == 0
    judged_at(io.read_table(out / "results" / "claims.parquet", dataset="claims"), 0.01)


def _never(*a, **k):
    raise AssertionError("a statistic ran")


def test_bad_choices_are_refused_before_any_statistic(acts, tmp_path, capsys, monkeypatch):
    from emostat.analysis.pipelines import analyse as an

    monkeypatch.setattr(an, "importance_tables", _never)
    monkeypatch.setattr(an, "_searchlight", _never)      # the searchlight, cached or not
    out = tmp_path / "o"
    assert main(["analyse", str(acts), "--alpha", "1.5", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("emostat: error: emostat analyse: --alpha must be a "
                                       "number in (0, 1), got 1.5\n")
    assert main(["analyse", str(acts), "--headline-k", "5", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("emostat: error: emostat analyse: --headline-k 5 is not "
                                       "one of the run's k [4, 6]\n")
    # alpha = 1.5 edited into the manifest: the manifest's own record no longer matches
    run = tmp_path / "run"
    shutil.copytree(acts, run)
    path = run / "manifest.json"
    man = json.loads(path.read_text())
    path.write_text(json.dumps({**man, "config": {**man["config"], "alpha": 1.5}}, indent=2))
    assert main(["analyse", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"emostat: error: {path}: edited since `emostat collect` wrote it")
    assert len(err.splitlines()) == 1
    # a manifest without that record (an older emostat): the config value itself is refused,
    # even where the command line gives another alpha
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items()
                                if k != "record_sha256"}))
    assert main(["analyse", str(run), "--alpha", ".01", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"emostat: error: {path}: config field 'alpha' must be "
                                       "a number in (0, 1), got 1.5\n")
    assert not out.exists()


# ---- a permutation count given by the user is a minimum ---------------------------------------

def test_first_draws():
    assert first_draws(50, 10_000) == 50 and first_draws(10_000, 10_000) == 10_000
    assert first_draws(10_001, 10_000) == 20_000 and first_draws(399, 199) == 796


def test_a_count_above_the_default_never_gives_fewer_or_other_draws():
    """The data of test_neuronnull: from 199 draws the doubling decides at 796. Asking for 399
    gave 399 draws before (the issue's report); now the draws double from 199 as the default's
    and stop at the first decided count >= 399: the same 796 draws, the same tables. Asking
    for 1,000 gives 1,592 draws whose first 796 are the default's."""
    A, attr = _data(c=7, n=6, q=3, seed=4)
    default = nn.decided_null(A, attr, n_perm=199, seed=5)
    assert default.n_perm == 796
    asked = nn.decided_null(A, attr, n_perm=199, seed=5, minimum=399)
    assert asked.n_perm == 796 and np.array_equal(asked.null_max, default.null_max)
    more = nn.decided_null(A, attr, n_perm=199, seed=5, minimum=1000)
    assert more.n_perm == 1592 and np.array_equal(more.null_max[:796], default.null_max)
    # through the pipeline's searchlight step: `n_perm` of the tables says what ran
    ref = searchlight_tables(A, [6], attr, [2], seed=5, n_perm_mantel=0)
    got = searchlight_tables(A, [6], attr, [2], seed=5, n_perm_mantel=0, n_perm_count=399)
    for name in ("neuron_max_t", "neuron_count_null"):
        methods = [c for c in ref[name].columns if c.endswith("_method")]
        pd.testing.assert_frame_equal(got[name].drop(columns=methods),
                                      ref[name].drop(columns=methods))
        assert (got[name]["n_perm"] == ref[name]["n_perm"]).all()
    assert "at least 399 draws asked for; 199 draws doubled to" in got["neuron_max_t"][
        "p_method"].iloc[0]
    # a count below the default is the start itself (as before): 19 draws, doubled from 19
    small = searchlight_tables(A, [6], attr, [2], seed=5, n_perm_mantel=0, n_perm_count=19)
    assert small["neuron_max_t"]["n_perm"].iloc[0] % 19 == 0


def test_report_pieces_follow_the_runs_alpha():
    """The report takes alpha from the claims table (ALPHA in reports/_setup.qmd) and passes it
    on: the max-T table's count header and the importance sentence's count change with it."""
    from emostat.report import tables, text

    mt = pd.DataFrame({"attribute": ["valence"], "estimate": [0.5], "layer": [3],
                       "n_above_joint": [4], "p_adjusted": [0.02], "p_fwer_joint": [0.0100004],
                       "p_fwer_joint_mc_low": [0.002], "p_fwer_joint_mc_high": [0.03],
                       "p_minp_joint": [np.nan]})
    assert "| n (p ≤ .05) |" in tables.max_t_table(mt)
    md = tables.max_t_table(mt, 0.01)
    # the header names the run's alpha; a p just above .01 is not rounded onto it
    assert "| n (p ≤ .01) |" in md and "| .0100004 |" in md
    imp = pd.DataFrame({"attribute": ["a", "b", "c"], "estimate": [0.5, 0.4, 0.1],
                        "conf_low": np.nan, "conf_high": np.nan,
                        "p_value": [0.001, 0.03, 0.4]})
    assert "2 of 3 attributes match it" in text.importance_sentence(imp)
    s = text.importance_sentence(imp, 0.01)
    assert "1 of 3 attributes match it" in s and "p ≤ .01, uncorrected" in s
