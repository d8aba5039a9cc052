"""emostat's tests as functions on tidy DataFrames, for notebooks (pingouin-style).

Every function takes tidy tables (or plain arrays where a table would be artificial) and returns
a tidy DataFrame with broom's columns and the inference columns of ``docs/inference.md``:
``p_value`` with ``p_method``, ``unit`` (the exchangeable replicates and their count) and
``role`` (``study`` = the study's statistic, ``record`` = the design-correct test). They are thin
wrappers over :mod:`emostat.analysis`; the examples run as doctests (tests/test_stats.py).

Sections: human space (``importance_test``, ``mantel_test``), model geometry (``rsa_evaluate``,
``whole_model_rsa``, ``searchlight``, ``neuron_mantel``, ``count_null``), masking (``link_test``,
``link_by_concept``, ``sign_flip``, the mixed models below), multiple testing (``fdr_bh``, ...).

Column names: a concept of the run's space is ``concept`` (``concept_a``, ``concept_b``), a
participant ``participant``. The old names ``emotion`` and ``participant_id`` are accepted for
one release with a :class:`DeprecationWarning` (:mod:`emostat.vocabulary`);
``link_by_emotion`` is the deprecated name of :func:`link_by_concept`.

Examples
--------
>>> import emostat.stats as es
>>> sorted(es.__all__)[:3]
['attribute_vs_null', 'chance_statement', 'chance_test']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.errors import InputError
from emostat.vocabulary import accepts_old_names, renamed

__all__ = ["importance_test", "mantel_test", "whole_model_rsa", "searchlight", "neuron_mantel",
           "count_null", "neuron_max_t", "link_test", "link_by_concept", "sign_flip", "fdr_bh",
           "fdr_study", "fit_mixed", "masking_model", "attribute_vs_null", "paired_tests",
           "item_models", "chance_test", "chance_statement", "power_analysis", "rsa_evaluate",
           "detectable_difference"]


# ---- helpers: tidy -> arrays ----------------------------------------------------------------
def _pair_positions(ids, where: str) -> np.ndarray:
    """Positions in R dist() order of ``pair`` ids: integers (or integer strings) 0..N-1, or
    1..N. Anything else (labels, gaps, duplicates) is refused: sorting labels as text would
    silently reorder the RDM ("10" < "2")."""
    raw = pd.Series(pd.unique(pd.Series(ids)))
    num = pd.to_numeric(raw, errors="coerce")
    if num.isna().any() or (num != np.floor(num)).any():
        bad = raw[num.isna() | (num != np.floor(num))].head(3).tolist()
        raise InputError(f"{where}: 'pair' ids must be integers in R dist() order (0..N-1 or "
                         f"1..N); got {bad}. Map labelled emotion pairs to dist() positions "
                         "first (emostat.constants.pair_indices)")
    vals = num.astype(np.int64).to_numpy()
    n = len(vals)
    for start in (0, 1):
        if set(vals.tolist()) == set(range(start, start + n)):
            return pd.to_numeric(pd.Series(ids), errors="coerce").astype(np.int64).to_numpy() \
                - start
    raise InputError(f"{where}: 'pair' ids must be 0..{n - 1} or 1..{n} (dist() order); got "
                     f"min {vals.min()}, max {vals.max()} for {n} distinct pairs")


def _wide_rdms(rdms, value: str = "estimate") -> pd.DataFrame:
    """Attribute RDMs as (pairs x attributes): a wide frame as is, or the long
    ``attribute_rdms`` table (``pair, attribute, <value>``) pivoted on validated pair ids."""
    if isinstance(rdms, pd.DataFrame) and {"pair", "attribute", value} <= set(rdms.columns):
        pos = _pair_positions(rdms["pair"], "attribute RDMs")
        return rdms.assign(pair=pos).pivot(index="pair", columns="attribute", values=value)[
            list(dict.fromkeys(rdms["attribute"]))].sort_index().reset_index(
                drop=True).rename_axis(columns=None)
    if isinstance(rdms, pd.DataFrame):
        return rdms.reset_index(drop=True)
    raise InputError("attribute RDMs: expected a DataFrame (pairs x attributes, or long "
                     "pair/attribute/estimate)")


def _subject_matrix(similarity, participant: str, pair: str, value: str) -> np.ndarray:
    """(participants, pairs) from a long ``similarity`` table, or an array as is."""
    if isinstance(similarity, pd.DataFrame):
        if participant == "participant":
            similarity = renamed(similarity, "similarity table")
        missing = [c for c in (participant, pair, value) if c not in similarity.columns]
        if missing:
            raise InputError(f"similarity table lacks column(s) {missing}")
        pos = _pair_positions(similarity[pair], f"similarity table column {pair!r}")
        wide = similarity.assign(**{pair: pos}).pivot(index=participant, columns=pair,
                                                      values=value)
        return wide.sort_index(axis=1).to_numpy(float)
    return np.asarray(similarity, dtype=float)


# ---- human space --------------------------------------------------------------------------
def importance_test(similarity, attribute_rdms, *, n_boot: int = 10_000, n_perm: int = 10_000,
                    seed: int = 0, participant: str = "participant", pair: str = "pair",
                    value: str = "dissimilarity") -> pd.DataFrame:
    """Importance of each attribute for the human conceptual space.

    Kendall tau-b of the mean human RDM with each attribute RDM; ``p_value``: Mantel
    (concept-label permutation); CI: BCa participant bootstrap; ``boot_share_le0``: the study's
    bootstrap share (see :func:`emostat.analysis.human.humanspace.attribute_importance`).

    Parameters
    ----------
    similarity : DataFrame (long: participant, pair, dissimilarity) or array (participants, 351)
    attribute_rdms : DataFrame, wide (351 x attributes) or long (pair, attribute, estimate)
    n_boot, n_perm, seed : int

    Returns
    -------
    DataFrame: ``attribute, estimate, std_error, statistic, df, p_value, conf_low, conf_high,
    boot_share_le0, p_method, unit, role, conf_method, n_boot, n_perm``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emostat.constants import pair_indices
    >>> rng = np.random.default_rng(0)
    >>> i, j = pair_indices(27)
    >>> x = rng.normal(size=27)
    >>> signal = np.abs(x[i] - x[j])
    >>> S = 0.2 * signal + rng.normal(size=(30, 351))       # 30 participants
    >>> attr = pd.DataFrame({"signal": signal, "noise": rng.normal(size=351)})
    >>> res = importance_test(S, attr, n_boot=500, n_perm=999, seed=1)
    >>> res[["attribute", "estimate", "conf_low", "conf_high", "p_value"]].round(3)
      attribute  estimate  conf_low  conf_high  p_value
    0    signal     0.411     0.270      0.545    0.001
    1     noise    -0.039    -0.137      0.072    0.860
    >>> print(res.conf_method[0])
    BCa bootstrap over concept labels (27 concepts, 500 resamples)
    >>> print(res.conf_method_participants[0])
    no interval: BCa undefined (all 500 resamples on one side of the estimate, or no jackknife variation): rater-sampling precision

    The interval beside the Mantel p resamples the same unit (concept labels). With
    independent participant noise every participant resample's mean RDM is noisier than the
    sample's, so all resampled taus fall below the estimate: that bootstrap cannot
    bias-correct, and emostat says so instead of printing an interval that misses it.
    """
    from emostat.analysis.human.humanspace import attribute_importance

    S = _subject_matrix(similarity, participant, pair, value)
    return attribute_importance(S, _wide_rdms(attribute_rdms), n_boot=n_boot, n_perm=n_perm,
                                seed=seed)


def mantel_test(x, y, *, n_perm=10_000, seed: int = 0, method: str = "kendall",
                alternative: str = "greater") -> pd.DataFrame:
    """Mantel test of two RDMs (vectors in R ``dist()`` pair order): permute the item labels.

    Parameters
    ----------
    x, y : array_like (n_pairs,) or Series
    n_perm : int or "exact" (all n! relabellings, n <= 8 items)
    method : {"kendall", "pearson", "spearman"}
    alternative : {"greater", "less", "two-sided"}

    Returns
    -------
    DataFrame, one row: ``estimate`` (tau-b, r or rho), ``p_value, p_method, unit, role,
    n_perm``.

    Examples
    --------
    >>> import numpy as np
    >>> from emostat.constants import pair_indices
    >>> i, j = pair_indices(6)
    >>> v = np.array([0.0, 1.0, 2.0, 4.0, 7.0, 11.0])
    >>> x = np.abs(v[i] - v[j])
    >>> y = x + np.random.default_rng(2).normal(0, 1, x.size)
    >>> mantel_test(x, y, n_perm="exact")[["estimate", "p_value", "unit", "n_perm"]].round(4)
       estimate  p_value      unit  n_perm
    0    0.8783   0.0028  item (6)     720
    """
    import math

    from emostat.analysis.engines.kendall import kendall_tau_b
    from emostat.analysis.engines.mantel import exact_if_fewer, items_from_pairs, mantel

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n_perm = exact_if_fewer(n_perm, n := items_from_pairs(x.size, None))   # n! <= n_perm: exact
    p = float(mantel(x, y, n_perm=n_perm, seed=seed, alternative=alternative, method=method))
    if method == "kendall":
        est = float(kendall_tau_b(x, y)[0])
    else:
        from scipy import stats as ss

        est = float((ss.spearmanr if method == "spearman" else ss.pearsonr)(x, y).statistic)
    total = math.factorial(n) if n_perm == "exact" else int(n_perm)
    how = ("exact, #{T* as or more extreme} / n!" if n_perm == "exact"
           else "(1 + #{T* as or more extreme}) / (1 + n_perm)")
    return pd.DataFrame([{"estimate": est, "p_value": p,
                          "p_method": f"Mantel: item-label permutation, {method}, "
                                      f"{alternative}, {how}",
                          "unit": f"item ({n})", "role": "record", "n_perm": total}])


# ---- model geometry -----------------------------------------------------------------------
def _activation_array(activations):
    """(templates, concepts, neurons) and layer sizes from an ``activations`` table or array."""
    if isinstance(activations, (pd.DataFrame,)) or hasattr(activations, "schema"):
        from emostat.analysis.neurons.activations import load_activation_array

        A, _, _, sizes = load_activation_array(activations)
        return A, sizes
    return np.asarray(activations, dtype=float), None


def whole_model_rsa(activations, similarity, *, n_boot: int = 10_000, n_perm: int = 10_000,
                    seed: int = 0, participant: str = "participant", pair: str = "pair",
                    value: str = "dissimilarity") -> pd.DataFrame:
    """Kendall tau-b between the mean human RDM and the model RDM (1 − cosine), Mantel p over
    the concept labels, BCa participant-bootstrap CI.

    Parameters
    ----------
    activations : array (templates, concepts, neurons) or an ``activations`` table
    similarity : DataFrame (long) or array (participants, pairs); one row = no bootstrap

    Returns
    -------
    DataFrame, one row (see :func:`emostat.analysis.neurons.wholemodel.whole_model_rsa`).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist
    >>> rng = np.random.default_rng(0)
    >>> A = rng.normal(size=(2, 8, 30)) + rng.normal(size=(1, 8, 30))
    >>> human = pdist(A.mean(axis=0), "cosine") + rng.normal(0, .2, size=(12, 28))
    >>> r = whole_model_rsa(A, human, n_boot=300, n_perm=999, seed=3)
    >>> r[["estimate", "p_value", "unit"]].round(3)
       estimate  p_value               unit
    0     0.778    0.001  concept label (8)
    """
    from emostat.analysis.neurons.wholemodel import whole_model_rsa as _wm

    A, _ = _activation_array(activations)
    S = _subject_matrix(similarity, participant, pair, value)
    return _wm(A, np.atleast_2d(S), n_boot=n_boot if len(np.atleast_2d(S)) > 1 else 0,
               n_perm=n_perm, seed=seed)


def searchlight(activations, attribute_rdms, *, layer_sizes=None, n_jobs: int = 1
                ) -> pd.DataFrame:
    """Neuron searchlight: Kendall tau-b of every neuron's RDM with every attribute RDM.

    ``p_asymptotic`` is the study's normal approximation (pairs as independent); use
    :func:`neuron_mantel` and :func:`count_null` for permutation-calibrated inference.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emostat.constants import pair_indices
    >>> rng = np.random.default_rng(1)
    >>> A = rng.normal(size=(2, 7, 5))
    >>> i, j = pair_indices(7)
    >>> attr = pd.DataFrame({"a": np.abs(A.mean(0)[i, 0] - A.mean(0)[j, 0])})
    >>> searchlight(A, attr).loc[0, ["neuron", "attribute", "tau", "rank"]].to_dict()
    {'neuron': 0, 'attribute': 'a', 'tau': 0.4285714285714286, 'rank': 1.0}
    """
    from emostat.analysis.neurons.searchlight import searchlight as _sl

    A, sizes = _activation_array(activations)
    return _sl(A, _wide_rdms(attribute_rdms), layer_sizes or sizes, n_jobs=n_jobs)


def neuron_mantel(activations, attribute_rdms, neurons, *, n_perm=10_000, seed: int = 0,
                  layer_sizes=None) -> pd.DataFrame:
    """Emotion-label permutation (Mantel) p for chosen neurons × attributes.

    ``neurons``: attribute -> neuron ids (e.g. ``emostat.analysis.neurons.searchlight.top_k``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emostat.constants import pair_indices
    >>> rng = np.random.default_rng(1)
    >>> A = rng.normal(size=(2, 6, 4))
    >>> i, j = pair_indices(6)
    >>> attr = pd.DataFrame({"a": np.abs(A.mean(0)[i, 0] - A.mean(0)[j, 0])})
    >>> neuron_mantel(A, attr, {"a": [0, 1]}, n_perm="exact")[["neuron", "p_value"]].round(4)
       neuron  p_value
    0       0   0.0042
    1       1   0.0569
    """
    from emostat.analysis.neurons.searchlight import neuron_mantel as _nm

    A, sizes = _activation_array(activations)
    return _nm(A, _wide_rdms(attribute_rdms), neurons, n_perm=n_perm, seed=seed,
               layer_sizes=layer_sizes or sizes)


def count_null(activations, attribute_rdms, *, n_perm=199, seed: int = 0, alpha: float = 0.01,
               n_jobs: int = 1) -> pd.DataFrame:
    """Permutation null (concept labels) of the counts of significant and selective neurons.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emostat.constants import pair_indices
    >>> rng = np.random.default_rng(1)
    >>> A = rng.normal(size=(2, 6, 10))
    >>> i, j = pair_indices(6)
    >>> attr = pd.DataFrame({"a": np.abs(A.mean(0)[i, 0] - A.mean(0)[j, 0]),
    ...                      "b": rng.normal(size=15)})
    >>> out = count_null(A, attr, n_perm=99, seed=0, alpha=0.2)
    >>> out[["attribute", "count", "statistic", "p_value"]].round(2)
      attribute        count  statistic  p_value
    0         a  significant        1.0     0.25
    1         a    selective        1.0     0.25
    2         b  significant        0.0     1.00
    3         b    selective        0.0     1.00
    """
    from emostat.analysis.neurons.neuronnull import count_null as _cn

    A, _ = _activation_array(activations)
    return _cn(A, _wide_rdms(attribute_rdms), n_perm=n_perm, seed=seed, alpha=alpha,
               n_jobs=n_jobs)


def neuron_max_t(activations, attribute_rdms, *, n_perm=199, seed: int = 0, alpha: float = 0.05,
                 layer_sizes=None, n_jobs: int = 1) -> pd.DataFrame:
    """Selection-safe neuron test: Westfall-Young max-T over all neurons, per attribute.

    See :func:`emostat.analysis.neurons.neuronnull.neuron_max_t` (columns of ``neuron_max_t``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emostat.constants import pair_indices
    >>> rng = np.random.default_rng(1)
    >>> A = rng.normal(size=(2, 6, 10))
    >>> i, j = pair_indices(6)
    >>> attr = pd.DataFrame({"a": np.abs(A.mean(0)[i, 0] - A.mean(0)[j, 0]),
    ...                      "b": rng.normal(size=15)})
    >>> out = neuron_max_t(A, attr, n_perm="exact")
    >>> out[["attribute", "neuron", "p_value", "n_perm"]].round(3)
      attribute  neuron  p_value  n_perm
    0         a       0    0.001     720
    1         b       6    0.282     720
    """
    from emostat.analysis.neurons.neuronnull import neuron_max_t as _mt

    A, sizes = _activation_array(activations)
    return _mt(A, _wide_rdms(attribute_rdms), n_perm=n_perm, seed=seed, alpha=alpha,
               layer_sizes=layer_sizes or sizes, n_jobs=n_jobs)


# ---- masking ------------------------------------------------------------------------------
def link_test(drops: pd.DataFrame, importance, *, n_perm=10_000, seed: int = 0) -> pd.DataFrame:
    """Does masking hurt most for the attributes that matter most to humans? Per k: the
    study's t(26) over emotions (role study), the attribute-label permutation and the
    attribute-level r, df 12 (role record). See :func:`emostat.analysis.masking.link.link_test`.

    Parameters
    ----------
    drops : DataFrame ``k, emotion, attribute`` and ``drop`` (random − attribute accuracy) or
        ``diff`` (the study's ACC.diff)
    importance : Series or dict, attribute -> importance

    Examples
    --------
    Six attributes whose drops share an attribute-level deviation (the same for every emotion):
    the study's t over emotions counts that shared noise six times; the attribute-level tests
    do not.

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(5)
    >>> imp = pd.Series(rng.normal(size=6), index=list("abcdef"))
    >>> shared = pd.Series(rng.normal(size=6), index=imp.index)
    >>> emotions = ["joy", "fear", "love", "grief", "pride", "anger"]
    >>> drops = pd.DataFrame([(4000, e, a, 0.5 * imp[a] + shared[a] + 0.3 * rng.normal())
    ...                       for e in emotions for a in imp.index],
    ...                      columns=["k", "concept", "attribute", "drop"])
    >>> res = link_test(drops, imp, n_perm="exact")    # all 720 relabellings of 6 attributes
    >>> res[["test", "role", "estimate", "df", "p_value"]].round(4)
                        test    role  estimate   df  p_value
    0                study_t   study    0.6902  5.0   0.0000
    1  attribute_permutation   extra    0.6902  NaN   0.1472
    2      attribute_level_r  record    0.6955  4.0   0.1458
    """
    from emostat.analysis.masking.link import link_test as _lt

    return _lt(renamed(drops, "link_test"), importance, n_perm=n_perm, seed=seed)


def link_by_concept(drops: pd.DataFrame, importance) -> pd.DataFrame:
    """Per concept and k: Pearson r over attributes of drop with importance (the study's
    ingredient; role study).

    Examples
    --------
    >>> import pandas as pd
    >>> drops = pd.DataFrame({"k": 1, "concept": "joy", "attribute": list("abcd"),
    ...                       "drop": [0.1, 0.2, 0.2, 0.4]})
    >>> link_by_concept(drops, {"a": 1, "b": 2, "c": 3, "d": 4})[["concept", "estimate"]].round(3)
      concept  estimate
    0     joy     0.923
    """
    from emostat.analysis.masking.link import link_by_concept as _lbc

    return _lbc(renamed(drops, "link_by_concept"), importance)


def link_by_emotion(drops: pd.DataFrame, importance) -> pd.DataFrame:
    """Deprecated name of :func:`link_by_concept` (kept for one release)."""
    import warnings

    warnings.warn("emostat.stats.link_by_emotion is now link_by_concept; the old name is kept "
                  "for one release", DeprecationWarning, stacklevel=2)
    return link_by_concept(drops, importance)


def sign_flip(data: pd.DataFrame, *, value: str = "drop", by=None, alternative: str = "greater",
              n_perm: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Sign-flip permutation test of the mean of paired differences, per group.

    Parameters
    ----------
    data : DataFrame with a column ``value`` (paired differences, e.g. drop = random −
        attribute accuracy) and optional grouping columns ``by``
    alternative : {"greater", "less", "two-sided"}
        "greater": the mean difference is positive (the mask lowers accuracy more).

    Returns
    -------
    DataFrame: ``by..., estimate (mean), n, p_value, p_method, unit, role``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"concept": ["joy"] * 4 + ["fear"] * 4,
    ...                   "drop": [0.1, 0.2, 0.05, 0.3, 0.1, -0.2, 0.05, -0.1]})
    >>> sign_flip(d, by="concept")[["concept", "estimate", "p_value"]].round(4)
      concept  estimate  p_value
    0    fear   -0.0375   0.7500
    1     joy    0.1625   0.0625
    """
    from emostat.analysis.engines.signflip import EXACT_MAX_N, sign_flip_many

    if value not in data.columns:
        raise InputError(f"sign_flip: no column {value!r} (has {list(data.columns)})")
    keys = [by] if isinstance(by, str) else list(by or [])
    groups = list(data.groupby(keys, sort=True)) if keys else [((), data)]
    vals = [g[value].dropna().to_numpy(float) for _, g in groups]
    p = sign_flip_many(vals, alternative, n_perm, seed)
    rows = []
    for (key, _), v, pv in zip(groups, vals, p):
        key = key if isinstance(key, tuple) else (key,)
        how = "exact, all 2^n sign vectors" if v.size <= EXACT_MAX_N else \
            f"{n_perm} random sign vectors, (1 + #{{as or more extreme}}) / (1 + n_perm)"
        rows.append(dict(zip(keys, key), estimate=float(v.mean()), n=int(v.size),
                         p_value=float(pv),
                         p_method=f"sign-flip permutation of the mean, {alternative}; {how}",
                         unit=f"paired difference ({v.size})", role="extra"))
    return pd.DataFrame(rows)


# ---- masking models, chance and power (re-exported, accepting the old column names for one
# ---- release; their examples run as doctests in tests/test_power.py) ----------------------
from emostat.analysis.masking import drops as _drops, experiment as _ex  # noqa: E402
from emostat.analysis.masking import models as _models, power as _power  # noqa: E402
from emostat.analysis.engines.mixed import fit_mixed  # noqa: E402

chance_statement = _ex.chance_statement
item_models = accepts_old_names(_ex.item_models)
chance_test = accepts_old_names(_ex.task_chance)
attribute_vs_null = accepts_old_names(_drops.attribute_vs_null)
paired_tests = accepts_old_names(_drops.paired_tests)
masking_model = accepts_old_names(_models.masking_mixed_model)
power_analysis = accepts_old_names(_power.power_analysis)
detectable_difference = _power.detectable_difference
from emostat.analysis.rsa.evaluate import rsa_evaluate  # noqa: E402  (doctest: test_rsa.py)


# ---- multiple testing ---------------------------------------------------------------------
def fdr_bh(p):
    """Benjamini–Hochberg adjusted p-values (step-up, monotone), NaN kept.

    Examples
    --------
    >>> fdr_bh([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.5]
    """
    from emostat.analysis.engines.multitest import fdr_bh as _bh

    return _bh(p)


def fdr_study(p, *, cap: bool = True):
    """The study's q = p·N/rank(p) (no step-up: not monotone in p).

    Examples
    --------
    >>> fdr_study([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.06, 0.5]
    """
    from emostat.analysis.engines.multitest import fdr_study as _fs

    return _fs(p, cap=cap)
