"""emostat.analysis.masking.power: simulated detectable differences against the noncentral t."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from emostat.analysis.masking.power import detectable_difference, power_analysis


def _nct_mde(df, scale, sd, alpha=0.05, power=0.8):
    """Analytic smallest difference: noncentral t power = ``power`` (one-sided)."""
    crit = stats.t.ppf(1 - alpha, df)
    f = lambda d: stats.nct.sf(crit, df, d / (sd * scale)) - power   # noqa: E731
    return optimize.brentq(f, 1e-9, 100 * sd)


def _nct_mde_two_sided(df, scale, sd, alpha=0.05, power=0.8):
    """Analytic smallest difference, two-sided noncentral t power = ``power`` (scipy only)."""
    crit = stats.t.ppf(1 - alpha / 2, df)
    f = lambda d: (stats.nct.sf(crit, df, d / (sd * scale))           # noqa: E731
                   + stats.nct.cdf(-crit, df, d / (sd * scale)) - power)
    return optimize.brentq(f, 1e-9, 6 * sd * scale)      # noncentrality up to 6 (power > .9)


@pytest.mark.parametrize("n_a,n_r", [(14, None), (14, 21), (3, 20)])
def test_analytic_detectable_is_two_sided_noncentral_t(n_a, n_r):
    from emostat.analysis.masking.power import analytic_detectable
    sd = 0.05
    got = analytic_detectable(n_a, n_r, sd)
    if n_r is None:
        want = _nct_mde_two_sided(n_a - 1, 1 / np.sqrt(n_a), sd)
    else:
        want = _nct_mde_two_sided(n_a + n_r - 2, np.sqrt(1 / n_a + 1 / n_r), sd)
    assert got == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("n_a,n_r", [(14, None), (14, 21), (2, 20)])
def test_detectable_difference_matches_noncentral_t(n_a, n_r):
    sd = 0.05
    got = detectable_difference(n_a, n_r, sd, n_sim=20000, seed=1)
    if n_r is None:
        want = _nct_mde(n_a - 1, 1 / np.sqrt(n_a), sd)
    else:
        want = _nct_mde(n_a + n_r - 2, np.sqrt(1 / n_a + 1 / n_r), sd)
    assert got == pytest.approx(want, rel=0.03)      # simulation error at 20,000 designs


def test_detectable_difference_degenerate():
    assert np.isnan(detectable_difference(1, None, 0.1))
    assert np.isnan(detectable_difference(14, None, 0.0))


def test_power_analysis_shared_masks():
    rows = [("joy", "t", "none", "none", None, None, None, 0.9)]
    rng = np.random.default_rng(0)
    acc = rng.normal(0.8, 0.02, 8)
    rows += [("joy", "t", "attribute", f"a{i}", f"a{i}", 5, None, acc[i]) for i in range(3)]
    rows += [("joy", "t", "random", f"r{i}", None, 5, i, acc[3 + i]) for i in range(5)]
    df = pd.DataFrame(rows, columns=["concept", "template", "condition", "condition_id",
                                     "attribute", "k", "draw", "accuracy"])
    p = power_analysis(df, n_items=10).iloc[0]
    sd = np.sqrt((2 * np.var(acc[:3], ddof=1) + 4 * np.var(acc[3:], ddof=1)) / 6)
    assert p["sd_mask"] == pytest.approx(sd, rel=1e-12)
    assert p["p_min_label"] == pytest.approx(1 / 56) and p["p_min_rank"] == pytest.approx(1 / 6)
    assert p["design"].startswith("two groups") and np.isnan(p["ruled_out"])


def test_power_analysis_release_k4000(release):
    from emostat.analysis.masking.models import masking_mixed_model
    from emostat.release.masking import read_masking_accuracy

    acc = read_masking_accuracy(release)
    acc = acc[acc["k"].isna() | (acc["k"] == 4000)]
    tidy, _ = masking_mixed_model(acc, ks=[4000], models=("record",))
    p = power_analysis(acc, tidy, n_sim=20000).iloc[0]
    k4 = acc[acc["k"] == 4000]
    d = (k4[k4.condition == "random"].groupby("attribute")["accuracy"].mean()
         - k4[k4.condition == "attribute"].groupby("attribute")["accuracy"].mean())
    assert p["sd_mask"] == pytest.approx(d.std(ddof=1), rel=1e-10)
    assert p["design"] == "paired: 14 attribute/random mask pairs"
    # two-sided, as the record LMM's Satterthwaite t (was: a one-sided simulation)
    assert p["detectable"] == pytest.approx(
        _nct_mde_two_sided(13, 1 / np.sqrt(14), d.std(ddof=1)), rel=1e-4)
    assert "role = record" in p["method"]
    # ruled out: upper 95% bound of the record estimate, lmerTest: .02874 + t(.975, 13) * .02353
    assert p["ruled_out"] == pytest.approx(0.02873754 + stats.t.ppf(0.975, 12.99852) * 0.02353318,
                                           rel=2e-3)
    assert p["p_min_label"] == 0.5 ** 14 and p["p_min_rank"] == pytest.approx(1 / 15)


@pytest.mark.parametrize("module", ["emostat.analysis.engines.mixed", "emostat.analysis.masking.drops",
                                    "emostat.analysis.masking.experiment", "emostat.analysis.masking.power"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
