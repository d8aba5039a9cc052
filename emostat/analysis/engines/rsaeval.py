"""RSA evaluation of model RDMs against rater RDMs: tidy rows from the engine's pieces.

:func:`rsa_tables` evaluates M model RDMs (M, P) against R rater RDMs (R, P) on one estimand
with one comparator, puts the noise ceiling of that estimand beside every score, and tests at
the unit the inference names:

- ``both``: raters and concepts (two-factor bootstrap, Schütt et al.'s corrected variance);
- ``raters`` or ``concepts``: one-factor bootstrap (rsatoolbox's n / (n - 1) correction);
- ``permutation``: concept-label permutation p (each model against 0), with the concept
  bootstrap's interval, differences and ceiling tests (the same unit).
Tables: ``models`` (one row per model: score against 0, one-sided; and against the lower
ceiling, two-sided), ``ceiling`` (lower and upper bound against 0, one-sided), ``differences``
(every pair of models, two-sided, paired on the same resamples), ``contrasts`` (declared
weighted sums of models, two-sided). Each family of tests is adjusted (``correction``) and
says so in ``p_adjust_method``. Intervals are t intervals with the bootstrap SE
(:mod:`emostat.analysis.engines.rsainfer`), clipped to the statistic's range (a score to
[-1, 1], a difference of two to [-2, 2]).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from emostat.analysis.engines.multitest import fdr_bh
from emostat.analysis.engines.pcontract import holm
from emostat.analysis.engines.rsaboot import bootstrap, estimand_name, evaluate
from emostat.analysis.engines.rsaceiling import N_SPLITS, half_splits
from emostat.analysis.engines.rsacompare import (Resample, checked_rdms, comparator_name,
                                                 n_items)
from emostat.analysis.engines.rsainfer import boot_cov, t_rows, variance
from emostat.analysis.engines.rsaperm import permutation_test
from emostat.errors import InputError

__all__ = ["rsa_tables", "INFERENCES"]

INFERENCES = ("both", "raters", "concepts", "permutation")
CORRECTIONS = ("holm", "bh", "none")


def resolve_inference(inference: str, n_raters: int) -> str:
    key = str(inference).strip().lower()
    if key == "auto":
        return "both" if n_raters >= 2 else "concepts"
    if key not in INFERENCES:
        raise InputError(f"inference {inference!r} is not one of {INFERENCES} or 'auto'")
    if key in ("both", "raters") and n_raters < 2:
        raise InputError(f"inference {key!r} resamples raters but there is {n_raters} rater RDM "
                         "(a mean RDM): use inference='concepts' or 'permutation'")
    return key


def adjust(p, correction: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if correction == "holm":
        return holm(p)
    if correction == "bh":
        return np.asarray(fdr_bh(p), dtype=float)
    return p.copy()


def _words(inference, R, n, B, small_sample, df):
    """(unit, conf_method, p_method stem) of the inference."""
    t = f"estimate +- t({df}) x bootstrap SE"
    if inference == "both":
        corr = "small-sample" if small_sample else "large-sample"
        return (f"raters ({R}) and concepts ({n})",
                f"two-factor bootstrap over raters and concepts ({B} resamples), "
                f"Schütt et al. 2023 corrected variance ({corr}); {t}",
                f"t test with the two-factor bootstrap variance (raters and concepts), df {df}")
    unit = "rater" if inference == "raters" else "concept"
    count = R if inference == "raters" else n
    return (f"{unit} ({count})",
            f"{unit} bootstrap ({B} resamples), variance x n/(n-1); {t}",
            f"t test with the {unit} bootstrap variance x n/(n-1), df {df}")


def rsa_tables(X, Y, model_names=None, *, comparator: str = "rho_a",
               estimand: str = "per_rater", inference: str = "auto", n_boot: int = 1000,
               n_perm=10_000, seed: int = 0, contrasts: dict | None = None,
               correction: str = "holm", small_sample: bool = True, level: float = 0.95,
               n_splits: int = N_SPLITS, draws=None, progress=None) -> dict:
    """Evaluate model RDMs against rater RDMs; see the module docstring.

    Parameters
    ----------
    X : array (M, P)
        Model RDMs (dissimilarities, pairs in R ``dist()`` order).
    Y : array (R, P)
        Rater RDMs in the same pair order (one row: a mean RDM).
    model_names : list of str, optional
    comparator : str
        ``tau_b``, ``tau_a``, ``rho_a``, ``pearson``, ``cosine``, ``whitened_cosine``.
    estimand : {"per_rater", "mean_rdm"}
    inference : {"auto", "both", "raters", "concepts", "permutation"}
    n_boot : int
        Bootstrap resamples (0: no intervals or bootstrap tests).
    n_perm : int or "exact"
        Permutations when ``inference="permutation"``.
    seed : int
    contrasts : dict name -> {model: weight}, optional
    correction : {"holm", "bh", "none"}
        Adjustment within each family (models vs 0, models vs ceiling, pairs, contrasts).
    small_sample : bool
        Schütt's small-sample form of the two-factor correction (rsatoolbox's default).
    level : float
    n_splits : int
        Half splits of the ``mean_rdm`` ceiling.
    draws : (rater_idx, concept_idx), optional
        Resample indices to use instead of seeded draws.
    progress : callable(int), optional

    Returns
    -------
    dict of DataFrames: ``models``, ``ceiling``, ``differences``, ``contrasts``.
    """
    comparator = comparator_name(comparator)
    estimand = estimand_name(estimand)
    if correction not in CORRECTIONS:
        raise InputError(f"correction {correction!r} is not one of {CORRECTIONS}")
    X, Y = checked_rdms(X, Y, "rsa_tables")
    M, R, n = X.shape[0], Y.shape[0], n_items(X.shape[1])
    names = list(model_names) if model_names is not None else [f"model_{k + 1}" for k in range(M)]
    if len(names) != M or len(set(names)) != M:
        raise InputError(f"model names must be {M} distinct names, got {names}")
    inference = resolve_inference(inference, R)
    splits = half_splits(R, n_splits, seed) if estimand == "mean_rdm" else None
    obs = evaluate(Resample.full(n, comparator), X, Y, estimand, splits=splits)[0]
    kinds = {"both": ("both", "raters", "concepts"), "raters": ("raters",),
             "concepts": ("concepts",), "permutation": ("concepts",)}[inference]
    boot_kind = "concepts" if inference == "permutation" else inference
    covs, B = {}, 0
    if n_boot > 0:
        reps = bootstrap(X, Y, comparator, estimand, kinds=kinds, n_boot=n_boot, seed=seed,
                         draws=draws, splits=splits, progress=progress)
        covs = {k: boot_cov(reps[k]) for k in kinds}
        B = int(np.isfinite(reps[kinds[0]][:, :M]).all(axis=1).sum())
    df = min(R, n) - 1 if boot_kind == "both" else (R if boot_kind == "raters" else n) - 1
    unit, conf_method, p_stem = _words(boot_kind, R, n, B, small_sample, df)
    has_ceiling = bool(np.isfinite(obs[M]))

    def tests(C, est, alternative, bound=1.0):
        """t rows of contrasts C; the interval clipped to the statistic's range (+-1 for a
        score, +-2 for a difference of two)."""
        if not covs:
            nan = np.full(len(est), np.nan)
            return {"std_error": nan, "statistic": nan, "df": nan, "p_value": nan,
                    "conf_low": nan, "conf_high": nan}
        v, d = variance(covs, C, boot_kind, R, n, small_sample)
        out = t_rows(est, v, d, alternative, level)
        out["conf_low"] = np.clip(out["conf_low"], -bound, bound)
        out["conf_high"] = np.clip(out["conf_high"], -bound, bound)
        return out

    common = {"comparator": comparator, "estimand": estimand, "inference": inference,
              "unit": unit, "n_boot": B, "n_raters": R, "n_concepts": n}
    eye = np.eye(M + 2)
    ceiling_method = (
        "Nili et al. 2014 as rsatoolbox's boot_noise_ceiling: lower = leave one rater out, "
        "upper = all raters" if estimand == "per_rater" else
        f"split-half reliability of the mean RDM ({len(splits) if splits is not None else 0} "
        "splits, Spearman-Brown to all raters): lower = reliability, upper = its square root")
    if not has_ceiling:
        ceiling_method = ("none: one rater RDM" if R < 2 else "none")

    # models against 0
    est = obs[:M]
    mt = tests(eye[:M], est, "greater")
    models = pd.DataFrame({"model": names, "estimate": est, **mt})
    models["conf_method"] = conf_method if covs else "none (n_boot = 0)"
    models["p_method"] = (p_stem + ", one-sided (greater)") if covs else "not tested (n_boot = 0)"
    models["p_floor"] = 0.0
    models["p_mc_low"] = models["p_mc_high"] = np.nan
    models["n_perm"] = pd.array([pd.NA] * M, dtype="Int64")
    if inference == "permutation":
        pt = permutation_test(X, Y, comparator, estimand, n_perm, seed)
        how = ("exact: all n! orderings, #{T* >= T} / n!" if pt["exact"] else
               f"{pt['n_perm']} random orderings, (1 + #{{T* >= T}}) / (1 + n_perm)")
        models["p_value"] = pt["p_value"]
        models["statistic"] = np.nan
        models["df"] = np.nan
        models["p_method"] = f"concept-label permutation of each model RDM, one-sided (greater); {how}"
        models["unit"] = f"concept label ({n})"
        models["p_floor"] = pt["p_floor"]
        models["p_mc_low"], models["p_mc_high"] = pt["p_mc_low"], pt["p_mc_high"]
        models["n_perm"] = int(pt["n_perm"])
    models["p_adjusted"] = adjust(models["p_value"], correction)
    models["p_adjust_method"] = f"{correction} over the {M} models"
    models["ceiling_low"], models["ceiling_high"] = obs[M], obs[M + 1]
    models["ceiling_method"] = ceiling_method
    # models against the lower ceiling
    if has_ceiling:
        gap = est - obs[M]
        ct = tests(eye[:M] - eye[M], gap, "two-sided", 2.0)
        models["ceiling_gap"] = gap
        models["p_value_ceiling"] = ct["p_value"]
        models["p_adjusted_ceiling"] = adjust(ct["p_value"], correction)
        models["p_method_ceiling"] = (f"{p_stem}, model minus lower ceiling on the same "
                                      "resamples, two-sided" if covs else "not tested")
    for k, v in common.items():
        models[k] = v if k != "unit" or inference != "permutation" else models[k]

    # the ceiling against 0
    ceiling = pd.DataFrame()
    if has_ceiling:
        ce = obs[M:M + 2]
        cti = tests(eye[M:M + 2], ce, "greater")
        ceiling = pd.DataFrame({"bound": ["lower", "upper"], "estimate": ce, **cti})
        ceiling["conf_method"] = conf_method if covs else "none (n_boot = 0)"
        ceiling["p_method"] = (p_stem + ", one-sided (greater)") if covs else "not tested"
        ceiling["ceiling_method"] = ceiling_method
        for k, v in common.items():
            ceiling[k] = v

    def finish(df, family, how):
        """A two-sided family's columns: adjusted p, its method, interval and test words."""
        df["p_adjusted"] = adjust(df["p_value"], correction)
        df["p_adjust_method"] = f"{correction} over {family}"
        df["conf_method"] = conf_method if covs else "none (n_boot = 0)"
        df["p_method"] = f"{p_stem}, {how}, two-sided" if covs else "not tested"
        for k, v in common.items():
            df[k] = v
        return df

    # pairs of models
    rows = []
    pairs = list(itertools.combinations(range(M), 2))
    if pairs:
        C = np.array([eye[a] - eye[b] for a, b in pairs])[:, :M + 2]
        d_est = np.array([est[a] - est[b] for a, b in pairs])
        dt = tests(C, d_est, "two-sided", 2.0)
        rows = finish(pd.DataFrame({"model_a": [names[a] for a, _ in pairs],
                                    "model_b": [names[b] for _, b in pairs], "estimate": d_est,
                                    **dt}), f"the {len(pairs)} pairs of models",
                      "paired: both models on the same resamples")
    differences = pd.DataFrame(rows)

    # declared contrasts
    crow = pd.DataFrame()
    if contrasts:
        Cs, labels, texts = [], [], []
        for label, weights in contrasts.items():
            unknown = sorted(set(weights) - set(names))
            if unknown:
                raise InputError(f"contrast {label!r} names unknown model(s) {unknown}; models "
                                 f"are {names}")
            w = np.zeros(M + 2)
            for m, wt in weights.items():
                w[names.index(m)] = float(wt)
            Cs.append(w)
            labels.append(label)
            texts.append(" ".join(f"{float(v):+g} {m}" for m, v in weights.items()))
        Cs = np.array(Cs)
        c_est = Cs[:, :M] @ est
        ctt = tests(Cs, c_est, "two-sided", float(np.abs(Cs).sum(axis=1).max()))
        crow = finish(pd.DataFrame({"contrast": labels, "weights": texts, "estimate": c_est,
                                    **ctt}), f"the {len(labels)} declared contrasts",
                      "weighted sum of model scores on the same resamples")
    return {"models": models, "ceiling": ceiling, "differences": differences,
            "contrasts": crow}
