"""emostat.stats, the notebook API: its numpydoc examples run as doctests here, and every
exported name is a documented function. (The numbers behind the examples are validated against
independent references in test_link, test_bca, test_mantel, test_searchlight, test_multitest.)"""

from __future__ import annotations

import doctest

import emostat.stats as es


def test_examples_run_as_doctests():
    res = doctest.testmod(es, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.attempted >= 25
    assert res.failed == 0


def test_every_export_is_documented_with_an_example():
    for name in es.__all__:
        fn = getattr(es, name)
        assert callable(fn), name
        assert "Examples" in (fn.__doc__ or ""), name


def test_fdr_example_is_r_p_adjust():
    # R 4.2: p.adjust(c(.01, .04, .03, .5), "BH") = 0.04000000 0.05333333 0.05333333 0.50000000
    assert es.fdr_bh([0.01, 0.04, 0.03, 0.5]).round(8).tolist() == [0.04, 0.05333333,
                                                                     0.05333333, 0.5]


def test_string_pair_ids_are_ordered_numerically_or_refused():
    # "10" sorts before "2" as text: the importance must not depend on the ids' type
    import numpy as np
    import pandas as pd
    import pytest

    from emostat import stats as es
    from emostat.constants import pair_indices
    from emostat.errors import InputError
    rng = np.random.default_rng(0)
    i, j = pair_indices(27)
    x = rng.normal(size=27)
    signal = np.abs(x[i] - x[j])
    S = 0.5 * signal + rng.normal(size=(6, 351))
    long = pd.DataFrame([(p, k, S[p, k]) for p in range(6) for k in range(351)],
                        columns=["participant", "pair", "dissimilarity"])
    attr = pd.DataFrame({"signal": signal})
    ref = es.importance_test(S, attr, n_boot=0, n_perm=0)["estimate"][0]
    as_text = es.importance_test(long.assign(pair=long["pair"].astype(str)), attr, n_boot=0,
                                 n_perm=0)["estimate"][0]
    one_based = es.importance_test(long.assign(pair=long["pair"] + 1), attr, n_boot=0,
                                   n_perm=0)["estimate"][0]
    assert as_text == pytest.approx(ref, abs=1e-15) and one_based == pytest.approx(ref, abs=1e-15)
    with pytest.raises(InputError, match="'pair' ids must be integers"):
        es.importance_test(long.assign(pair="joy-" + long["pair"].astype(str)), attr,
                           n_boot=0, n_perm=0)
