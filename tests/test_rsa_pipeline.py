"""The RSA tables of a run (issue 23 item 4): a space's raters feed the rater-level inference,
each estimand carries its own ceiling, the claims rows name the comparator and estimand of
record (the study's tau-b on the mean RDM stays, role study), the tables validate, and the
reports render them from the tables alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emostat import io
from emostat.analysis.claims.table import build_claims
from emostat.analysis.pipelines.rsasteps import rsa_run_tables, space_raters
from emostat.constants import pair_indices
from emostat.space import load_space

from test_space import write_space


def _space_with_raters(tmp_path, n_raters=5, n=7, seed=0):
    rng = np.random.default_rng(seed)
    concepts = [f"c{k}" for k in range(n)]
    i, j = pair_indices(n)
    x = rng.normal(size=(n, 2))
    truth = np.sqrt(((x[i] - x[j]) ** 2).sum(axis=1))
    sim = ["concept_a,concept_b,value,participant"] + [
        f"{concepts[i[k]]},{concepts[j[k]]},{abs(truth[k] + rng.normal(0, .3)):.4f},r{p}"
        for p in range(n_raters) for k in range(len(i))]
    ratings = ["concept,attribute,value"] + [f"{c},{a},{x[k, m]:.4f}" for k, c in
                                             enumerate(concepts)
                                             for m, a in enumerate(("a1", "a2"))]
    d = write_space(tmp_path / "s", concepts="concept,word\n" + "".join(
        f"{c},{c}\n" for c in concepts), ratings="\n".join(ratings) + "\n",
        similarity="\n".join(sim) + "\n")
    # activations (templates, concepts, neurons) whose cosine geometry follows the truth
    A = np.concatenate([x, np.ones((n, 1))], axis=1)[None] + rng.normal(0, .05, (3, n, 3))
    return load_space(d), A


def test_a_space_with_raters_is_tested_over_raters_and_concepts(tmp_path):
    space, A = _space_with_raters(tmp_path)
    raters = space_raters(space)
    assert raters.shape == (5, 21)                      # the participant column was used
    t = rsa_run_tables(A, raters, n_boot=200, n_perm=99, seed=1)
    ev = t["rsa_evaluation"].set_index("role")
    rec, study = ev.loc["record"], ev.loc["study"]
    assert (rec["comparator"], rec["estimand"], rec["inference"]) == ("rho_a", "per_rater",
                                                                       "both")
    assert rec["unit"] == "raters (5) and concepts (7)" and rec["df"] > 0   # Satterthwaite
    assert rec["conf_method"].startswith("two-factor jackknife")
    assert (study["comparator"], study["estimand"]) == ("tau_b", "mean_rdm")
    # each estimand's own ceiling: with tau-b, the mean RDM's is higher than the per-rater one
    tb = t["rsa_evaluation"].set_index(["comparator", "estimand"])
    per, mean = tb.loc[("tau_b", "per_rater")], tb.loc[("tau_b", "mean_rdm")]
    assert 0 < per["ceiling_low"] < per["ceiling_high"] < mean["ceiling_low"]
    assert per["estimate"] < per["ceiling_high"] and mean["estimate"] < mean["ceiling_high"]
    assert rec["ceiling_method"].startswith("Nili")
    assert study["ceiling_method"].startswith("split-half")
    assert set(t["rsa_ceiling"]["comparator"]) == {"spearman", "rho_a", "tau_b"}
    for name, df in t.items():                          # the schemas hold
        io.write_table(df, tmp_path / f"{name}.parquet", dataset=name)
    claims = build_claims(t, {"kind": "experiment", "ks": [], "tasks": []})
    wm = claims[claims["claim"] == "whole_model"].set_index("role")
    assert wm.loc["record", "test"] == "rsa_rho_a_per_rater_both"
    assert wm.loc["study", "test"] == "rsa_tau_b_mean_rdm_both"
    assert wm.loc["record", "scale"] == "rho" and wm.loc["study", "scale"] == "tau"
    assert wm.loc["record", "conf_low"] == pytest.approx(rec["conf_low"])   # same unit: kept


def test_a_mean_rdm_alone_is_tested_over_concept_labels(tmp_path):
    space, A = _space_with_raters(tmp_path)
    mean = space.mean_rdm()[None]
    t = rsa_run_tables(A, mean, n_boot=100, n_perm=99, seed=2)
    ev = t["rsa_evaluation"].set_index("role")
    assert ev.loc["record", "estimand"] == "mean_rdm"
    assert ev.loc["record", "unit"] == "concept label (7)"
    assert ev.loc["record", "n_perm"] == 99 and ev.loc["record", "p_floor"] == 0.01
    assert np.isnan(ev.loc["record", "ceiling_low"])        # one RDM: no ceiling to split
    assert "rsa_ceiling" not in t


class _Run:
    def __init__(self, label, tables):
        self.label, self.tables = label, tables

    def get(self, name, **_):
        return self.tables.get(name)


def test_report_views_render_the_tables(tmp_path):
    from emostat.report import rsa as view
    from emostat.report.geometry import depth_profiles

    space, A = _space_with_raters(tmp_path)
    t = rsa_run_tables(A, space_raters(space), n_boot=100, n_perm=99, seed=1)
    tab = view.evaluation_table(t["rsa_evaluation"])
    assert list(tab["Role"]) == ["record", "study's statistic", "extra", "extra"]
    s = view.evaluation_sentence(t["rsa_evaluation"])
    rec = t["rsa_evaluation"].iloc[0]
    assert f"{rec['estimate']:.3f}".lstrip("0") in s and "noise ceiling of [" in s
    # a comparison: two models, their difference, a sentence from the table
    from emostat.analysis.engines.rsaeval import rsa_tables
    from emostat.analysis.neurons.wholemodel import model_rdm

    X = np.vstack([model_rdm(A), model_rdm(A[:, ::-1])])
    c = rsa_tables(X, space_raters(space), ["good", "shuffled"], n_boot=100, seed=0)
    run = _Run("a", {"rsa_comparison": c["models"], "rsa_comparison_differences":
                     c["differences"], "rsa_ceiling": t["rsa_ceiling"],
                     "geometry_layer_rsa": pd.DataFrame({
                         "test": "layer_mantel", "role": ["record", "extra"],
                         "attribute": "similarity", "layer": [0, 1],
                         "estimate": [.2, .3], "p_value": [.1, .2]})})
    models, diffs = view.comparison_tables([run])
    assert list(models["Model"]) == ["good", "shuffled"] and len(diffs) == 1
    assert "good − shuffled" in diffs["Difference"].iloc[0]
    assert "every pair on the same resamples" in view.comparison_sentence([run])
    fig = depth_profiles([run], "rsa")                   # the ceiling band is drawn
    assert any(getattr(p, "get_label", lambda: "")().startswith("noise ceiling")
               for p in fig.axes[0].patches)


def test_compare_runs_pairs_the_models_on_the_same_raters(tmp_path):
    # two activations-only runs on one space with 3 raters' similarity judgments
    import warnings

    from emostat.analysis.pipelines.rsasteps import compare_runs, write_comparison
    from test_space_analysis import make_run, make_space

    rng = np.random.default_rng(3)
    space = load_space(make_space(tmp_path / "space", rng, with_similarity=True))
    dirs = [tmp_path / "a", tmp_path / "b"]
    for d in dirs:
        make_run(d, space, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = compare_runs(dirs, n_boot=100, n_perm=99, seed=0, quiet=True)
    m, d = t["rsa_comparison"], t["rsa_comparison_differences"]
    assert list(m["model"]) == ["a", "b"] and len(d) == 1
    assert m["unit"].iloc[0] == "raters (3) and concepts (12)"
    assert m["test"].iloc[0] == "rsa_rho_a_per_rater_both"
    assert d["estimate"].iloc[0] == pytest.approx(m["estimate"].iloc[0] - m["estimate"].iloc[1])
    (tmp_path / "a" / "results").mkdir()
    (tmp_path / "b" / "results").mkdir()
    write_comparison(dirs, t)                              # validated on write (schemas)
    back = io.read_table(tmp_path / "b" / "results" / "rsa_comparison.parquet",
                         dataset="rsa_comparison")
    assert back["estimate"].tolist() == m["estimate"].tolist()
    assert io.read_provenance(tmp_path / "b" / "results" / "rsa_comparison.parquet")["runs"] \
        == [str(x.resolve()) for x in dirs]


def test_evaluation_sentence_without_ceilings_does_not_repeat_the_table():
    # the report printed the record's and the study's numbers again beside their tables when
    # there was no ceiling to add (issue 25's page read)
    from emostat.report import rsa as view

    t = pd.DataFrame({"role": ["record", "study"], "comparator": ["rho_a", "tau_b"],
                      "estimand": "mean_rdm", "estimate": [.226, .151],
                      "conf_low": [.055, .035], "conf_high": [.397, .268],
                      "ceiling_low": np.nan, "ceiling_high": np.nan, "p_value": 1e-4,
                      "unit": "concept label (27)"})
    s = view.evaluation_sentence(t)
    assert "no raters' RDMs" in s and ".226" not in s
