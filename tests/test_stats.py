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
