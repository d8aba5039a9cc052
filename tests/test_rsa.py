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
