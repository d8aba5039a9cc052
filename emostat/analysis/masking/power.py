"""Precision of the masking design: detectable effect, smallest attainable p, effect ruled out.

The test of record compares masks (docs/inference.md): its replicates are the masks, so its
power is set by the number of masks and by how much masks differ, not by the number of items.
:func:`detectable_difference` simulates that test at the mask level from the fitted
between-mask SD; :func:`power_analysis` does it for each k of an accuracy table and adds the
smallest attainable permutation p-values and the effect the data rule out.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
from scipy import stats

from emostat.errors import InputError

__all__ = ["detectable_difference", "power_analysis"]


def _power(delta: float, z_a: np.ndarray, z_r: np.ndarray | None, sd: float,
           alpha: float) -> float:
    """Share of simulated designs whose one-sided t test rejects at ``alpha``."""
    if z_r is None:                                  # paired: one difference per pair
        x = delta + sd * z_a
        n = x.shape[1]
        t = x.mean(1) / (x.std(1, ddof=1) / np.sqrt(n))
        df = n - 1
    else:                                            # two groups of masks, pooled variance
        a, r = delta + sd * z_a, sd * z_r
        na, nr = a.shape[1], r.shape[1]
        sp = np.sqrt(((na - 1) * a.var(1, ddof=1) + (nr - 1) * r.var(1, ddof=1)) / (na + nr - 2))
        t = (a.mean(1) - r.mean(1)) / (sp * np.sqrt(1 / na + 1 / nr))
        df = na + nr - 2
    return float(np.mean(t > stats.t.ppf(1 - alpha, df)))


def detectable_difference(n_attribute: int, n_random: int | None, sd: float, *,
                          alpha: float = 0.05, power: float = 0.8, n_sim: int = 4000,
                          seed: int = 0) -> float:
    """Smallest mean difference detected with probability ``power`` (simulation).

    Parameters
    ----------
    n_attribute : int
        Attribute masks (or, with ``n_random=None``, attribute/random pairs).
    n_random : int or None
        Random masks (shared draws); None = paired design (the release: one random set per
        attribute; the test is over the pairs' differences).
    sd : float
        Between-mask SD of a mask's mean outcome (paired: SD of a pair's difference).
    alpha, power : float
        One-sided level and target power.
    n_sim : int
        Simulated designs (the same normal draws for every difference tried, so power is
        monotone in the difference and the bisection is exact on the simulated designs).

    Returns
    -------
    float
        The smallest difference (in the units of ``sd``) with simulated power >= ``power``.

    Examples
    --------
    >>> round(detectable_difference(14, None, 0.09, n_sim=20000), 3)
    0.063
    """
    if sd <= 0 or not np.isfinite(sd):
        return float("nan")
    if n_attribute < 2 or (n_random is not None and n_random < 1) or \
            (n_random is not None and n_attribute + n_random < 3):
        return float("nan")
    rng = np.random.default_rng(seed)
    z_a = rng.standard_normal((n_sim, n_attribute))
    z_r = None if n_random is None else rng.standard_normal((n_sim, n_random))
    lo, hi = 0.0, sd
    while _power(hi, z_a, z_r, sd, alpha) < power:
        hi *= 2
        if hi > 1e3 * sd:
            return float("nan")
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _power(mid, z_a, z_r, sd, alpha) < power else (lo, mid)
    return hi


def analytic_detectable(n_attribute: int, n_random: int | None, sd: float, *,
                        alpha: float = 0.05, power: float = 0.8,
                        alternative: str = "two-sided") -> float:
    """Smallest difference detected with probability ``power`` by the mask-level t test of
    the record's sidedness, in closed form (statsmodels: ``TTestPower`` for pairs,
    ``TTestIndPower`` for two groups of masks), in the units of ``sd``."""
    from statsmodels.stats.power import TTestIndPower, TTestPower

    if sd <= 0 or not np.isfinite(sd) or n_attribute < 2 or \
            (n_random is not None and (n_random < 1 or n_attribute + n_random < 3)):
        return float("nan")
    alt = "larger" if alternative == "greater" else alternative
    if n_random is None:
        d = TTestPower().solve_power(nobs=n_attribute, alpha=alpha, power=power,
                                     alternative=alt)
    else:
        d = TTestIndPower().solve_power(nobs1=n_attribute, ratio=n_random / n_attribute,
                                        alpha=alpha, power=power, alternative=alt)
    return float(d) * sd


def power_analysis(accuracy: pd.DataFrame, record: pd.DataFrame | None = None, *,
                   n_items: int | None = None, alpha: float = 0.05, power: float = 0.8,
                   n_sim: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Per k: what the masking design could detect, and what its data rule out.

    The mask-level model: each mask's mean accuracy over the prompts (items) it was tested on.
    Paired design (one random set per attribute, the release): the pair differences random −
    attribute, SD estimated from them (the record LMM's attribute slope plus residual, as the
    14 pairs see it), one-sample t on pairs − 1 df. Shared random masks (collected runs): two
    groups of masks, pooled within-group SD of the mask means (between-mask variance plus
    item noise / items), two-sample t.

    Parameters
    ----------
    accuracy : DataFrame, schema ``accuracy``
    record : DataFrame, optional
        ``masking_mixed_model`` rows; the ``record`` model's ``attribute_vs_random`` row of each
        k gives ``estimate`` and its 95% upper bound ``ruled_out`` (a larger extra drop is
        excluded by the data).
    n_items : int, optional
        Items per mask (reported only).

    Returns
    -------
    DataFrame
        ``k, design, n_items, n_attribute_masks, n_random_masks, sd_mask, detectable, power,
        alpha, n_sim, p_min_rank`` (attribute vs the random masks: 1/(n_random + 1)),
        ``p_min_label`` (mask-label permutation of the contrast: 1/2^pairs paired, else
        1/C(masks, attribute masks)), ``estimate, ruled_out, method``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [("joy", "t", "none", "none", None, None, 0.9)]
    >>> rows += [("joy", "t", "attribute", f"a{i}", f"a{i}", 5, a)
    ...          for i, a in enumerate([0.70, 0.74, 0.69])]
    >>> rows += [("joy", "t", "random", f"r{i}", None, 5, a)
    ...          for i, a in enumerate([0.80, 0.78, 0.83, 0.79])]
    >>> acc = pd.DataFrame(rows, columns=["concept", "template", "condition", "condition_id",
    ...                                   "attribute", "k", "accuracy"])
    >>> p = power_analysis(acc).iloc[0]
    >>> p["design"], float(round(p["p_min_label"], 4)), bool(0.02 < p["detectable"] < 0.09)
    ('two groups: 3 attribute masks, 4 shared random masks', 0.0286, True)
    """
    from emostat.analysis.masking.drops import mask_drops

    drops = mask_drops(accuracy)
    rows = []
    for k, g in drops.groupby("k", sort=True):
        att = g[g["condition"] == "attribute"]
        rnd = g[g["condition"] == "random"]
        paired = rnd["attribute"].notna().all() and \
            rnd["attribute"].value_counts().max() == 1 and \
            set(rnd["attribute"]) == set(att["attribute"])
        if paired:
            d = (att.set_index("attribute")["drop"]
                 - rnd.set_index("attribute")["drop"]).to_numpy(float)
            sd = float(np.std(d, ddof=1)) if d.size > 1 else np.nan
            n_a, n_r = len(att), None
            p_label = 0.5 ** n_a
            design = f"paired: {n_a} attribute/random mask pairs"
        else:
            n_a, n_r = len(att), len(rnd)
            va = att["drop"].var(ddof=1) if n_a > 1 else 0.0
            vr = rnd["drop"].var(ddof=1) if n_r > 1 else 0.0
            dfp = max(n_a - 1, 0) + max(n_r - 1, 0)
            sd = float(np.sqrt(((n_a - 1) * va + (n_r - 1) * vr) / dfp)) if dfp > 0 else np.nan
            p_label = 1 / comb(n_a + n_r, n_a) if n_a and n_r else np.nan
            design = f"two groups: {n_a} attribute masks, {n_r} shared random masks"
        mde = analytic_detectable(n_a, n_r, sd, alpha=alpha, power=power)
        est = up = np.nan
        source = "no record row"
        if record is not None and len(record):
            pick = record["role"] == "record" if "role" in record else record["model"] == "record"
            r = record[(record["k"] == k) & pick & (record["term"] == "attribute_vs_random")]
            if len(r):
                est, up = float(r["estimate"].iloc[0]), float(r["conf_high"].iloc[0])
                source = f"the role = record {r['model'].iloc[0]} row"
        n_rand = n_r if n_r is not None else n_a
        rows.append(dict(k=int(k), design=design, n_items=n_items, n_attribute_masks=n_a,
                         n_random_masks=n_rand, sd_mask=sd, detectable=mde, power=power,
                         alpha=alpha, n_sim=n_sim, p_min_rank=1 / (n_rand + 1),
                         p_min_label=p_label, estimate=est, ruled_out=up,
                         method=("two-sided (as the record) mask-level t at the masks as units, "
                                 "closed form (statsmodels TTestPower / TTestIndPower) from the "
                                 "between-mask SD; ruled_out = upper 95% bound of "
                                 f"{source}'s attribute_vs_random estimate")))
    if not rows:
        raise InputError("power_analysis: no k with masks")
    return pd.DataFrame(rows)
