"""Tests of emostat.analysis.engines.multitest against hand-worked values and statsmodels."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from emostat.analysis.engines.multitest import fdr_bh, fdr_study

# Hand-worked example (N = 5). Sorted p: .001 .008 .039 .041 .60, ranks 1..5.
#   study rule p·5/rank:  .005, .020, .065, .05125, .60   (.039 -> .065 > .041 -> .05125:
#   not monotone, the point of the test)
#   BH step-up (running min from the top): .005, .020, .05125, .05125, .60
P = np.array([0.039, 0.001, 0.60, 0.041, 0.008])
STUDY = np.array([0.065, 0.005, 0.60, 0.05125, 0.020])
BH = np.array([0.05125, 0.005, 0.60, 0.05125, 0.020])


def test_fdr_study_hand_worked():
    np.testing.assert_allclose(fdr_study(P), STUDY, rtol=0, atol=1e-15)


def test_fdr_bh_hand_worked():
    np.testing.assert_allclose(fdr_bh(P), BH, rtol=0, atol=1e-15)


def test_fdr_study_ties_use_average_rank():
    # R: p <- c(.02, .02, .5); p * 3 / rank(p) -> ranks 1.5 1.5 3 -> .04 .04 .5
    np.testing.assert_allclose(fdr_study([0.02, 0.02, 0.5]), [0.04, 0.04, 0.5])


def test_fdr_study_cap():
    # three tied p = .9 -> ranks 2, 2, 2: .9*3/2 = 1.35 uncapped (as R), 1 capped
    np.testing.assert_allclose(fdr_study([0.9, 0.9, 0.9], cap=False), [1.35] * 3)
    np.testing.assert_allclose(fdr_study([0.9, 0.9, 0.9]), [1.0] * 3)


def test_fdr_bh_matches_statsmodels():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=150), rng.uniform(0, 0.01, size=39)])
    p[[3, 40]] = p[7]  # ties
    want = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(fdr_bh(p), want, rtol=1e-12)


def test_fdr_study_equals_bh_ratio_before_step_up():
    # Without ties the study's q is exactly BH's raw ratio, so min over j>=i of it equals BH.
    rng = np.random.default_rng(2)
    p = rng.uniform(size=50)
    q = fdr_study(p, cap=False)
    order = np.argsort(p)
    stepped = np.minimum(np.minimum.accumulate(q[order][::-1])[::-1], 1)
    np.testing.assert_allclose(stepped, multipletests(p[order], method="fdr_bh")[1])
    assert (fdr_study(p) >= fdr_bh(p) - 1e-15).all()


def test_nan_left_out_of_family():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    q = fdr_study(p)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3]], fdr_study([0.01, 0.04, 0.03]))
    qb = fdr_bh(p)
    assert np.isnan(qb[1])
    np.testing.assert_allclose(qb[[0, 2, 3]], multipletests([0.01, 0.04, 0.03], method="fdr_bh")[1])


def test_series_keeps_index():
    s = pd.Series([0.01, 0.2], index=["a", "b"], name="p")
    assert list(fdr_bh(s).index) == ["a", "b"]
    assert list(fdr_study(s).index) == ["a", "b"]


def test_bad_input():
    with pytest.raises(ValueError):
        fdr_bh([0.1, 1.5])
    with pytest.raises(ValueError):
        fdr_study(np.zeros((2, 2)))
