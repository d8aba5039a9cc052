"""emostat.format: APA 7 number rules (Publication Manual 6.36: no leading zero for statistics
that cannot exceed 1; exact p to 2-3 decimals, p < .001 below), R's NA for missing values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emostat.format import (P_METHODS, apa_r, apa_t, apa_z, fmt_ci, fmt_df, fmt_int, fmt_num,
                            fmt_p, fmt_pct, fmt_stat, p_method_note)


@pytest.mark.parametrize("x, digits, expected", [
    (3.14159, 2, "3.14"), (2.675, 3, "2.675"), (-1.5, 1, "-1.5"), (16.9249, 2, "16.92"),
    (0.0, 2, "0.00"), (10, 0, "10"), (np.float32(0.5), 2, "0.50"),
])
def test_fmt_num(x, digits, expected):
    assert fmt_num(x, digits) == expected


def test_fmt_num_no_negative_zero():
    assert fmt_num(-0.0) == "0.00"
    assert fmt_num(-0.004) == "0.00"
    assert fmt_num(-0.005001) == "-0.01"
    assert fmt_stat(-0.0004, 2, bounded=True) == ".00"


def test_missing_and_infinite():
    for fn in (fmt_num, fmt_stat, fmt_pct, fmt_int, fmt_df):
        assert fn(float("nan")) == "NA"
        assert fn(None) == "NA"
    assert fmt_p(float("nan")) == "p = NA"
    assert fmt_p(None, None) == "NA"
    assert fmt_num(math.inf) == "Inf" and fmt_num(-math.inf) == "-Inf"
    assert fmt_ci(float("nan"), 0.5, bounded=True) == "[NA, .50]"
    with pytest.raises(TypeError):
        fmt_num("abc")


def test_fmt_num_thousands():
    assert fmt_num(12345.678, 2, big_mark=",") == "12,345.68"
    assert fmt_num(-1234567.1, 1, big_mark=",") == "-1,234,567.1"
    assert fmt_num(999.994, 2, big_mark=",") == "999.99"


@pytest.mark.parametrize("x, expected", [
    (0.4741, ".47"), (-0.0531, "-.05"), (0.005, ".01"), (0.9949, ".99"), (1.0, "1.00"),
    (-1.0, "-1.00"), (0.9951, "> .99"), (-0.99999, "< -.99"),
])
def test_fmt_stat_bounded(x, expected):
    assert fmt_stat(x, 2, bounded=True) == expected


def test_fmt_stat_bounded_rejects_out_of_range_and_keeps_unbounded():
    with pytest.raises(ValueError):
        fmt_stat(1.2, bounded=True)
    assert fmt_stat(1.2) == "1.20"
    assert fmt_stat(0.47) == "0.47"           # unbounded statistics keep the zero
    assert fmt_stat(0.9996, 3, bounded=True) == "> .999"


@pytest.mark.parametrize("p, expected", [
    (0.0234, "p = .023"), (0.001, "p = .001"), (0.00099, "p < .001"), (1.5e-15, "p < .001"),
    (0.0, "p < .001"), (0.05, "p = .050"), (0.5, "p = .500"), (0.9994, "p = .999"),
    (0.9996, "p > .999"), (1.0, "p > .999"), (0.0023, "p = .002"), (0.0004999, "p < .001"),
])
def test_fmt_p(p, expected):
    assert fmt_p(p) == expected


def test_fmt_p_bare_and_named():
    assert fmt_p(0.023, None) == ".023"
    assert fmt_p(1e-9, None) == "< .001"
    assert fmt_p(0.9999, None) == "> .999"
    assert fmt_p(0.012, "q") == "q = .012"
    assert fmt_p(0.0123, digits=2) == "p = .01"
    assert fmt_p(0.004, digits=2) == "p < .01"
    with pytest.raises(ValueError):
        fmt_p(1.5)
    with pytest.raises(ValueError):
        fmt_p(-0.1)


def test_fmt_ci():
    assert fmt_ci(0.424, 0.521, bounded=True) == "[.42, .52]"
    assert fmt_ci(-12.61, -3.55, 1) == "[-12.6, -3.5]"   # -3.55 is -3.54999.. in binary
    assert fmt_ci(0.101, 0.294, 3, bounded=True) == "[.101, .294]"


def test_fmt_pct():
    assert fmt_pct(0.8318) == "83.2%"
    assert fmt_pct(0.72804, 2) == "72.80%"
    assert fmt_pct(1) == "100.0%"
    assert fmt_pct(-0.0001) == "0.0%"


def test_fmt_df():
    assert fmt_df(26) == "26" and fmt_df(26.0) == "26" and fmt_df(np.int64(167)) == "167"
    assert fmt_df(8747.00012) == "8747.00"
    assert fmt_df(26.1518) == "26.15"


def test_apa_strings():
    # reference-values.md, k = 4000: r = .474 [.424, .521], t(26) = 16.92, p = 1.5e-15
    assert apa_t(16.923, 26, 1.5e-15) == "t(26) = 16.92, p < .001"
    assert apa_t(-3.5612, 167, 2.4e-4) == "t(167) = -3.56, p < .001"
    assert apa_t(3.38, 26.0, 0.0023) == "t(26) = 3.38, p = .002"
    assert apa_t(2.1, 20.53, 0.048) == "t(20.53) = 2.10, p = .048"
    assert apa_r(0.4741, 26, 0.023) == "r(26) = .47, p = .023"
    assert apa_r(0.9999, 10, 1e-9) == "r(10) > .99, p < .001"
    assert apa_r(0.2646, None, 0.01, digits=3, symbol="tau") == "tau = .265, p = .010"
    assert apa_z(-12.8829, 5.6e-38) == "z = -12.88, p < .001"
    assert apa_z(1.2, float("nan")) == "z = 1.20, p = NA"


def test_p_method_notes():
    assert "Wald z" in p_method_note("Wald z")
    assert p_method_note("wald_z") == P_METHODS["Wald z"]
    assert "p * N / rank(p)" in p_method_note("study FDR")
    assert "Benjamini-Hochberg" in p_method_note("bh")
    assert "sign-flip" in p_method_note("perm")
    assert p_method_note("Kenward-Roger") == "p-values: Kenward-Roger."


def test_p_never_rounded_across_alpha():
    from emostat.format import fmt_p_alpha

    # issue 14: p = .049995 printed ".050" (with a star) although p <= .05 -- and .050 reads as
    # p = alpha; the p keeps decimals until its printed value sits on its own side of alpha
    assert fmt_p(0.049995) == "p = .050"
    assert fmt_p_alpha(0.049995) == "p = .04999"
    assert float("0" + fmt_p_alpha(0.049995, name=None)) < 0.05
    assert fmt_p_alpha(0.0500001) == "p = .0500001"          # above alpha, never "= .050"
    assert fmt_p_alpha(0.05) == "p = .050"                    # exactly alpha stays alpha
    assert fmt_p_alpha(0.0104, alpha=0.01) == "p = .0104"     # .010 would read as alpha
    assert fmt_p_alpha(0.023) == "p = .023" and fmt_p_alpha(2e-5) == "p < .001"
    assert fmt_p_alpha(0.0004, alpha=0.0005) == "p = .0004"   # "< .001" hides the side
    assert fmt_p_alpha(float("nan")) == "p = NA"


def test_bounds_never_rounded_across_zero():
    from emostat.format import fmt_bound, fmt_ci_bounds

    # issue 14: a lower bound of -.0002 printed ".000"
    assert fmt_stat(-0.0002, 3, bounded=True) == ".000"
    assert fmt_bound(-0.0002, 3, bounded=True) == "-.0002"
    assert fmt_bound(0.00004, 2) == "0.00004"
    assert fmt_bound(-1e-12, 2) == "-1.0e-12"                 # beyond the extra decimals
    assert fmt_bound(0.0, 3, bounded=True) == ".000"
    assert fmt_ci_bounds(-0.0002, 0.521, 3, bounded=True) == "[-.0002, .521]"
