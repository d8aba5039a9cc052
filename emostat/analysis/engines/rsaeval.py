"""RSA evaluation of model RDMs against rater RDMs: tidy rows from the engine's pieces.

:func:`rsa_tables` evaluates M model RDMs (M, P) against R rater RDMs (R, P) on one estimand
with one comparator, puts the noise ceiling of that estimand beside every score, and tests at
the unit the inference names:

- ``both``: raters and concepts, the two-factor jackknife (:mod:`.rsajack`: the concepts'
  pair structure as a U-statistic, the raters, their interaction; Satterthwaite df) on
  ``per_rater``; on ``mean_rdm`` ``both_schutt`` (the jackknife's differences there were
  liberal in simulation);
- ``both_schutt``: raters and concepts, the two-factor bootstrap with Schütt et al.'s
  corrected variance (rsatoolbox's ``eval_dual_bootstrap``; conservative at 27 concepts);
- ``raters`` or ``concepts``: one-factor bootstrap (rsatoolbox's n / (n - 1) correction);
- ``permutation``: concept-label permutation p (each model against 0), with the interval,
  differences and ceiling tests of the jackknife's concept factor (the same unit).
Tables: ``models`` (one row per model: score against 0, one-sided; and against the lower
ceiling, two-sided), ``ceiling`` (lower and upper bound against 0, one-sided), ``differences``
(every pair of models, two-sided, paired on the same resamples), ``contrasts`` (declared
weighted sums of models, two-sided). Each family of tests is adjusted (``correction``) and
says so in ``p_adjust_method``. Intervals are t intervals with the same SE and df as the p
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
from emostat.analysis.engines.rsajack import MAX_PAIRS, jack_variance, jackknife
from emostat.analysis.engines.rsaperm import permutation_test
from emostat.errors import InputError

__all__ = ["rsa_tables", "INFERENCES"]

INFERENCES = ("both", "both_schutt", "raters", "concepts", "permutation")
BOOT_KIND = {"both_schutt": "both", "raters": "raters", "concepts": "concepts"}
CORRECTIONS = ("holm", "bh", "none")


def resolve_inference(inference: str, n_raters: int, n_concepts: int = 5) -> str:
    key = str(inference).strip().lower()
    if key == "auto":
        if n_raters < 2:
            return "concepts"
        return "both" if n_concepts >= 5 else "both_schutt"
    if key not in INFERENCES:
        raise InputError(f"inference {inference!r} is not one of {INFERENCES} or 'auto'")
    if key in ("both", "both_schutt", "raters") and n_raters < 2:
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


def _words(inference, R, n, B, small_sample, df, n_pairs=None):
    """(unit, conf_method, p_method stem) of the inference."""
    t = f"estimate +- t({df}) x bootstrap SE"
    both = f"raters ({R}) and concepts ({n})"
    if inference in ("both", "permutation"):
        N = n * (n - 1) // 2
        sets = f"{n_pairs} of {N}" if n_pairs is not None and n_pairs < N else f"all {N}"
        conc = (f"concepts as a U-statistic of their pairs (leave-one-out and {sets} "
                "leave-two-out sets)")
        if inference == "permutation":
            return (f"concept ({n})",
                    f"concept jackknife: {conc}, every rater kept; estimate +- "
                    "t(Satterthwaite df) x SE",
                    f"t test with the concept jackknife variance ({conc}), Satterthwaite df")
        return (both,
                f"two-factor jackknife over raters and concepts ({conc}; rater jackknife; "
                "their interaction once); estimate +- t(Satterthwaite df) x SE",
                "t test with the two-factor jackknife variance (raters and concepts), "
                "Satterthwaite df")
    if inference == "both_schutt":
        corr = "small-sample" if small_sample else "large-sample"
        return (both,
                f"two-factor bootstrap over raters and concepts ({B} resamples), "
                f"Schütt et al. 2023 corrected variance ({corr}); {t}",
                f"t test with the two-factor bootstrap variance (raters and concepts, Schütt "
                f"et al. 2023), df {df}")
    unit = "rater" if inference == "raters" else "concept"
    count = R if inference == "raters" else n
    return (f"{unit} ({count})",
            f"{unit} bootstrap ({B} resamples), variance x n/(n-1); {t}",
            f"t test with the {unit} bootstrap variance x n/(n-1), df {df}")


def rsa_tables(X, Y, model_names=None, *, comparator: str = "rho_a",
               estimand: str = "per_rater", inference: str = "auto", n_boot: int = 1000,
               n_perm=10_000, seed: int = 0, contrasts: dict | None = None,
               correction: str = "holm", small_sample: bool = True, level: float = 0.95,
               n_splits: int = N_SPLITS, draws=None, max_pairs: int = MAX_PAIRS,
               progress=None) -> dict:
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
    inference : {"auto", "both", "both_schutt", "raters", "concepts", "permutation"}
        ``auto``: ``both`` with two or more rater RDMs, else ``concepts``.
    n_boot : int
        Bootstrap resamples of the bootstrap inferences (0: no intervals or tests, whatever
        the inference).
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
    max_pairs : int
        The jackknife's leave-two-out concept sets at most (``both``, ``permutation``).
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
    inference = resolve_inference(inference, R, n)
    if inference == "both" and estimand == "mean_rdm":
        # the jackknife's rater part of a mean-RDM difference is too small (size .10-.12 in
        # simulation): Schütt's bootstrap, conservative, is used there
        inference = "both_schutt"
    splits = half_splits(R, n_splits, seed) if estimand == "mean_rdm" else None
    obs = evaluate(Resample.full(n, comparator), X, Y, estimand, splits=splits)[0]
    boot_kind = BOOT_KIND.get(inference)
    covs, jk, B, n_pairs = {}, None, 0, None
    inferred = n_boot > 0 and (boot_kind is not None or n >= 5)     # jackknife: n >= 5
    why = "n_boot = 0" if n_boot <= 0 else "the concept jackknife needs 5 concepts"
    if inferred and boot_kind is not None:
        kinds = ("both", "raters", "concepts") if boot_kind == "both" else (boot_kind,)
        reps = bootstrap(X, Y, comparator, estimand, kinds=kinds, n_boot=n_boot, seed=seed,
                         draws=draws, splits=splits, progress=progress)
        covs = {k: boot_cov(reps[k]) for k in kinds}
        B = int(np.isfinite(reps[kinds[0]][:, :M]).all(axis=1).sum())
    elif inferred:                       # both, permutation: the jackknife (no resampling)
        jk = jackknife(X, Y, comparator, estimand, splits=splits, max_pairs=max_pairs,
                       seed=seed, progress=progress)
        n_pairs = len(jk["pairs"])
    df = {"both_schutt": min(R, n) - 1, "raters": R - 1}.get(inference, n - 1)
    unit, conf_method, p_stem = _words(inference, R, n, B, small_sample, df, n_pairs)
    has_ceiling = bool(np.isfinite(obs[M]))

    def tests(C, est, alternative, bound=1.0):
        """t rows of contrasts C; the interval clipped to the statistic's range (+-1 for a
        score, +-2 for a difference of two)."""
        if not inferred:
            nan = np.full(len(est), np.nan)
            return {"std_error": nan, "statistic": nan, "df": nan, "p_value": nan,
                    "conf_low": nan, "conf_high": nan}
        if jk is not None:
            jv = jack_variance(jk, C)
            v, d = ((jv["var"], jv["df"]) if inference == "both" else
                    (jv["var_concepts"], jv["df_concepts"]))  # permutation: raters kept
        else:
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
    models["conf_method"] = conf_method if inferred else f"none ({why})"
    models["p_method"] = (p_stem + ", one-sided (greater)" if inferred else
                          f"not tested ({why})")
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
                                      "resamples, two-sided" if inferred else "not tested")
    for k, v in common.items():
        models[k] = v if k != "unit" or inference != "permutation" else models[k]

    # the ceiling against 0
    ceiling = pd.DataFrame()
    if has_ceiling:
        ce = obs[M:M + 2]
        cti = tests(eye[M:M + 2], ce, "greater")
        ceiling = pd.DataFrame({"bound": ["lower", "upper"], "estimate": ce, **cti})
        ceiling["conf_method"] = conf_method if inferred else f"none ({why})"
        ceiling["p_method"] = (p_stem + ", one-sided (greater)") if inferred else "not tested"
        ceiling["ceiling_method"] = ceiling_method
        for k, v in common.items():
            ceiling[k] = v

    def finish(df, family, how):
        """A two-sided family's columns: adjusted p, its method, interval and test words."""
        df["p_adjusted"] = adjust(df["p_value"], correction)
        df["p_adjust_method"] = f"{correction} over {family}"
        df["conf_method"] = conf_method if inferred else f"none ({why})"
        df["p_method"] = f"{p_stem}, {how}, two-sided" if inferred else "not tested"
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
