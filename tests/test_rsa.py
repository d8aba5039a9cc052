"""emostat.stats.rsa_evaluate: tidy inputs, the tables it returns, and what each test can do.

The numbers of the engine are checked against rsatoolbox in test_rsa_reference.py; here the
function's contract: the doctest, input handling (long tables, matrices, errors naming the
cell), the ceiling on the same estimand, and tests that reject when they should."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest

from emostat.constants import pair_indices
from emostat.errors import InputError
from emostat.stats import rsa_evaluate


@pytest.mark.parametrize("module", ["emostat.analysis.rsa.evaluate",
                                    "emostat.analysis.engines.rsacompare"])
def test_examples_run_as_doctests(module):
    res = doctest.testmod(importlib.import_module(module),
                          optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 2 and res.failed == 0


def _space(n=10, R=8, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    i, j = pair_indices(n)
    x = rng.normal(size=(n, 2))
    truth = np.sqrt(((x[i] - x[j]) ** 2).sum(axis=1))
    Y = truth + rng.normal(0, noise, (R, len(i)))
    return rng, truth, Y


def test_long_tables_and_matrices_give_the_same_numbers():
    rng, truth, Y = _space()
    concepts = [f"c{k}" for k in range(10)]
    i, j = pair_indices(10)
    # pairs in either order, rows shuffled: the same RDMs
    rows = [(p, concepts[j[k]] if (p + k) % 2 else concepts[i[k]],
             concepts[i[k]] if (p + k) % 2 else concepts[j[k]], Y[p, k])
            for p in range(len(Y)) for k in range(len(i))]
    raters = pd.DataFrame(rows, columns=["participant", "concept_a", "concept_b", "value"])
    raters = raters.sample(frac=1, random_state=1)
    X = np.vstack([truth, rng.normal(size=len(i))])
    models = pd.DataFrame([(m, concepts[i[k]], concepts[j[k]], X[mi, k])
                           for mi, m in enumerate(["a", "b"]) for k in range(len(i))],
                          columns=["model", "concept_a", "concept_b", "value"])
    t1 = rsa_evaluate(models, raters, n_boot=50, seed=3, concepts=concepts).models
    t2 = rsa_evaluate({"a": X[0], "b": X[1]}, Y, n_boot=50, seed=3).models
    cols = ["estimate", "ceiling_low", "ceiling_high", "conf_low", "conf_high", "p_value"]
    np.testing.assert_allclose(t1[cols].to_numpy(float), t2[cols].to_numpy(float), rtol=1e-12)
    # a square matrix is the same RDM as its dist() vector
    S = np.zeros((10, 10))
    S[i, j] = S[j, i] = X[0]
    t3 = rsa_evaluate({"a": S}, Y, n_boot=0).models
    assert t3.estimate[0] == pytest.approx(t2.estimate[0], abs=1e-15)


def test_bad_input_names_the_cell():
    _, truth, Y = _space(n=5, R=3)
    concepts = list("abcde")
    i, j = pair_indices(5)
    raters = pd.DataFrame([(p, concepts[i[k]], concepts[j[k]], Y[p, k])
                           for p in range(3) for k in range(len(i))],
                          columns=["participant", "concept_a", "concept_b", "value"])
    with pytest.raises(InputError, match=r"pair \(c, a\) missing .* participant '1'"):
        rsa_evaluate({"m": truth}, raters.drop(index=11), concepts=concepts, n_boot=0)
    dup = pd.concat([raters, raters.iloc[[0]]])
    with pytest.raises(InputError, match="given more than once for participant '0'"):
        rsa_evaluate({"m": truth}, dup, concepts=concepts, n_boot=0)
    with pytest.raises(InputError, match="pass concepts="):
        rsa_evaluate({"m": truth}, raters, n_boot=0)
    with pytest.raises(InputError, match="resamples raters but there is 1 rater RDM"):
        rsa_evaluate({"m": truth}, Y.mean(axis=0), inference="both", n_boot=10)
    with pytest.raises(InputError, match="comparator 'spearmanx'"):
        rsa_evaluate({"m": truth}, Y, comparator="spearmanx", n_boot=0)


def test_same_seed_same_numbers_whatever_the_block_size():
    from emostat.analysis.engines.rsaboot import bootstrap

    _, truth, Y = _space(n=9, R=7)
    X = np.vstack([truth, truth[::-1]])
    a = bootstrap(X, Y, "tau_b", "per_rater", n_boot=30, seed=4, block=7)
    b = bootstrap(X, Y, "tau_b", "per_rater", n_boot=30, seed=4, block=128)
    for k in ("both", "raters", "concepts"):
        np.testing.assert_array_equal(a[k], b[k])


def test_each_inference_names_its_unit_and_df():
    _, truth, Y = _space(n=10, R=8)
    res = {inf: rsa_evaluate({"m": truth}, Y, inference=inf, n_boot=60, n_perm=199, seed=0)
           .models.iloc[0] for inf in ("both", "both_schutt", "raters", "concepts",
                                       "permutation")}
    # the record (two-factor jackknife): Satterthwaite df; Schütt's bootstrap: min(R, n) - 1
    assert res["both"]["unit"] == "raters (8) and concepts (10)"
    assert 0 < res["both"]["df"] and "Satterthwaite" in res["both"]["p_method"]
    assert res["both_schutt"]["unit"] == res["both"]["unit"] and res["both_schutt"]["df"] == 7
    assert res["raters"]["unit"] == "rater (8)" and res["raters"]["df"] == 7
    assert res["concepts"]["unit"] == "concept (10)" and res["concepts"]["df"] == 9
    perm = res["permutation"]
    assert perm["unit"] == "concept label (10)" and perm["n_perm"] == 199
    assert perm["p_floor"] == pytest.approx(1 / 200) and perm["p_value"] == pytest.approx(1 / 200)
    assert perm["p_mc_low"] == 0 and 0 < perm["p_mc_high"] < 0.02
    # the interval beside the permutation p is over the same unit (concepts)
    from emostat.analysis.engines.pcontract import same_unit

    assert same_unit(perm["unit"], perm["conf_method"])
    assert same_unit(res["both"]["unit"], res["both"]["conf_method"])


def test_tests_can_reject_and_ceilings_belong_to_their_estimand():
    # raters judge the truth with noise; the true RDM and a random one
    rng, truth, Y = _space(n=14, R=20, noise=1.5)
    models = {"truth": truth, "random": rng.normal(size=truth.size)}
    per = rsa_evaluate(models, Y, comparator="pearson", estimand="per_rater", n_boot=300,
                       seed=1)
    mean = rsa_evaluate(models, Y, comparator="pearson", estimand="mean_rdm", n_boot=300,
                        seed=1)
    for r in (per, mean):
        m = r.models.set_index("model")
        assert m.loc["truth", "p_value"] < 0.01 < m.loc["random", "p_value"]
        # the true model is within the ceiling of its own estimand, and not below its lower
        # bound by a test
        assert m.loc["truth", "estimate"] > m.loc["truth", "ceiling_low"] - 0.05
        assert m.loc["truth", "p_value_ceiling"] > 0.05
        assert m.loc["random", "p_value_ceiling"] < 0.05
        d = r.differences.iloc[0]
        assert d["model_a"] == "truth" and d["estimate"] > 0 and d["p_value"] < 0.01
        c = r.ceiling.set_index("bound")
        assert c.loc["lower", "p_value"] < 0.01
    # the two estimands are different numbers, and so are their ceilings
    assert mean.models.estimate[0] > per.models.estimate[0] + 0.2
    assert mean.models.ceiling_low[0] > per.models.ceiling_high[0]


def test_a_declared_interaction_contrast():
    # 2 x 2: model language x rater language; only the matched cells carry the signal
    rng, truth, Y = _space(n=20, R=16)
    other = rng.normal(size=truth.size)
    models = {"en_model_en": truth + rng.normal(0, .5, truth.size),
              "en_model_de": other, "de_model_en": other + rng.normal(0, .1, truth.size),
              "de_model_de": truth + rng.normal(0, .5, truth.size)}
    res = rsa_evaluate(models, Y, comparator="rho_a", n_boot=200, seed=2, contrasts={
        "interaction": {"en_model_en": 1, "en_model_de": -1, "de_model_en": -1,
                        "de_model_de": 1}})
    c = res.contrasts.iloc[0]
    est = res.models.set_index("model")["estimate"]
    assert c["estimate"] == pytest.approx(est["en_model_en"] - est["en_model_de"]
                                          - est["de_model_en"] + est["de_model_de"])
    assert c["p_value"] < 0.01 and c["p_adjust_method"] == "holm over the 1 declared contrasts"
    assert len(res.differences) == 6 and (res.differences["p_adjusted"]
                                          >= res.differences["p_value"]).all()
