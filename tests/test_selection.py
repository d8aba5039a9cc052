"""mask_selection: a run's collected attribute masks against the analysis's own top-k neurons
(reference: Python set operations on the masks and on a top-k recomputed by sorting here)."""

import numpy as np
import pandas as pd
import pytest

from emostat.analysis.neurons import searchlight as sl
from emostat.analysis.neurons.selection import mask_selection
from emostat.constants import pair_indices
from emostat.errors import InputError


def _rsa(seed=0, c=6, n=40):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(2, c, n))
    i, j = pair_indices(c)
    r = rng.normal(size=(c, 2))
    attr = pd.DataFrame(np.abs(r[i] - r[j]), columns=["x", "y"])
    return sl.searchlight(sl.neuron_rdms(A), attr, [n])


def _top(rsa, a, k):
    """The k best neurons of attribute a, by sorting (rank, neuron) here."""
    sub = rsa[rsa["attribute"] == a].sort_values(["rank", "neuron"])
    return sub["neuron"].to_numpy()[:k]


def test_mask_selection_counts_equal_set_operations():
    rsa = _rsa()
    good = _top(rsa, "x", 5)
    other = _top(rsa, "y", 10)
    bad = np.concatenate([other[:7], _top(rsa, "y", 40)[-3:]])       # 7 of 10 right
    cond = pd.DataFrame({"condition": ["none", "attribute", "attribute", "random"],
                         "attribute": [None, "x", "y", None], "k": [None, 5, 10, 10],
                         "neurons": [[], good.tolist(), bad.tolist(), list(range(10))]})
    out = mask_selection(cond, rsa).set_index(["attribute", "k"])
    assert out.loc[("x", 5), "identical"] and out.loc[("x", 5), "jaccard"] == 1.0
    row = out.loc[("y", 10)]
    shared = len(set(bad) & set(other))
    assert (row["n_shared"], row["n_neurons"]) == (shared, 10) == (7, 10)
    assert row["jaccard"] == pytest.approx(shared / len(set(bad) | set(other)))   # 7 / 13
    assert not row["identical"]
    assert len(out) == 2                                # only attribute masks are checked


def test_mask_selection_names_a_missing_column():
    with pytest.raises(InputError, match="conditions.parquet.*neurons"):
        mask_selection(pd.DataFrame({"condition": [], "attribute": [], "k": []}), _rsa())


def test_selection_sentence_follows_the_table():
    from emostat.report.method import selection_sentence

    sel = pd.DataFrame({"attribute": ["x", "y"], "k": [5, 10], "n_neurons": [5, 10],
                        "n_shared": [5, 7], "jaccard": [1.0, 7 / 13], "identical": [True, False]})
    s = selection_sentence(sel)
    assert s.startswith("1 of the 2 attribute masks") and "y at k = 10, Jaccard 0.54" in s
    assert "exactly" in selection_sentence(sel.iloc[:1])
    assert selection_sentence(None) == ""
