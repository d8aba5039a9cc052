"""Whole-model RSA: does the model's representational geometry of emotion concepts resemble
the human conceptual space?

Model RDM: for each template (prompt seed / wording), 1 − cosine similarity between the
concepts' activation vectors over ALL neurons; averaged over templates. Compared with the mean
human dissimilarity RDM by Kendall tau-b; uncertainty by bootstrapping participants; p-value by
a Mantel test (permuting the concept labels of the model RDM).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.constants import pair_indices
from emostat.errors import InputError

__all__ = ["model_rdm", "whole_model_rsa"]


def _tau(X: np.ndarray, y: np.ndarray, alternative: str = "greater"):
    """Kendall tau-b (and asymptotic p) of every column of X (n, m) with y (n,)."""
    try:
        from emostat.analysis.engines.kendall import kendall_tau_b
    except ImportError:  # the shared implementation is absent: scipy, one column at a time
        from scipy.stats import kendalltau

        res = [kendalltau(X[:, c], y, alternative=alternative, method="asymptotic")
               for c in range(X.shape[1])]
        return (np.array([r.statistic for r in res]), np.array([r.pvalue for r in res]))
    tau, p = kendall_tau_b(X, y[:, None], alternative)
    return np.asarray(tau)[:, 0], np.asarray(p)[:, 0]


def _mantel_p(x: np.ndarray, y: np.ndarray, n_perm: int, seed: int, n_items: int) -> float:
    try:
        from emostat.analysis.engines.mantel import mantel
    except ImportError:  # fallback: label permutations of x, scipy tau (slow, small n_perm)
        i, j = pair_indices(n_items)
        D = np.zeros((n_items, n_items))
        D[i, j] = x
        D = D + D.T
        rng = np.random.default_rng(seed)
        perms = np.stack([rng.permutation(n_items) for _ in range(n_perm)])
        null = _tau(D[perms[:, i], perms[:, j]].T, y)[0]
        obs = _tau(x[:, None], y)[0][0]
        return float((1 + (null >= obs - 1e-12).sum()) / (1 + n_perm))
    return float(mantel(x, y, n_perm=n_perm, seed=seed, n_items=n_items))


def _snap(x: np.ndarray) -> np.ndarray:
    """Round means of ratings to 12 decimals, so values equal in exact arithmetic tie whatever
    the summation order (as :func:`emostat.analysis.human.humanspace.attribute_importance`)."""
    return np.round(x, 12)


def model_rdm(A) -> np.ndarray:
    """Model RDM: 1 − cosine similarity over all neurons, per template, averaged over templates.

    Parameters
    ----------
    A : array (templates, concepts, neurons)
        Activations; concepts in the order of the human RDM (for the study: the study space's
        concept order).

    Returns
    -------
    ndarray (concepts·(concepts−1)/2,)
        The RDM in R ``dist()`` pair order (:func:`emostat.constants.pair_indices`).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 3:
        raise InputError(f"model_rdm: activations must be (templates, concepts, neurons), got "
                         f"shape {A.shape}")
    if not np.isfinite(A).all():
        raise InputError("model_rdm: activations contain NaN or inf")
    norms = np.linalg.norm(A, axis=2, keepdims=True)
    if (norms == 0).any():
        t, c, _ = np.nonzero(norms == 0)
        raise InputError(f"model_rdm: all-zero activation vector (template {t[0]}, concept "
                         f"{c[0]}); cosine is undefined")
    U = A / norms
    cos = np.einsum("tcn,tdn->tcd", U, U)                     # (templates, concepts, concepts)
    i, j = pair_indices(A.shape[1])
    return (1.0 - cos[:, i, j]).mean(axis=0)


def whole_model_rsa(A, subject_rdms, n_boot: int = 10_000, n_perm: int = 10_000,
                    seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Kendall tau-b between the mean human RDM and the model RDM, with participant bootstrap.

    Parameters
    ----------
    A : array (templates, concepts, neurons)
        Activations (e.g. from ``emostat.analysis.neurons.activations.load_activation_array``),
        concepts in the order of ``subject_rdms``' items (the space's concept order).
    subject_rdms : array (participants, pairs)
        Each participant's dissimilarity RDM in the same pair order.
    n_boot : int
        Participant bootstrap resamples (with replacement); 0 skips the bootstrap.
    n_perm : int
        Mantel label permutations of the model RDM; 0 skips the test.
    seed : int
        Bootstrap uses ``default_rng(seed)``; the Mantel test ``seed + 1``.

    Returns
    -------
    DataFrame, one row
        ``estimate`` (tau-b of mean human RDM vs model RDM), ``std_error`` (SD of the
        participant bootstrap taus), ``conf_low``, ``conf_high`` (concept-label bootstrap at
        the Mantel p's unit, :func:`emostat.analysis.engines.bca.concept_bootstrap`),
        ``conf_low_participants``, ``conf_high_participants`` (BCa participant bootstrap:
        rater-sampling precision; NaN with one participant), ``p_value``
        (one-sided Mantel permutation p of the concept labels, (1 + #{tau_perm >= tau}) /
        (1 + n_perm)), ``p_method``, ``unit`` (the concepts), ``role`` (record),
        ``p_value_asymptotic`` with ``p_method_asymptotic`` (Kendall normal approximation,
        greater, as R ``cor.test``; ignores that RDM cells share concepts), ``conf_method``,
        ``n_boot``, ``n_perm`` (draws used: doubled up to 8x while the Monte-Carlo interval
        holds ``alpha``), ``n_subjects``, ``n_templates``, ``n_concepts``, ``p_floor``,
        ``p_mc_low``, ``p_mc_high``, ``mc_warning``; ``comparator`` (tau_b), ``estimand``
        (mean_rdm) and the ceiling of that estimand: ``ceiling_low``, ``ceiling_high``
        (split-half reliability of the mean RDM and its square root,
        :mod:`emostat.analysis.engines.rsaceiling`; NaN with one RDM), ``ceiling_method``.
    """
    from emostat.analysis.engines.bca import (CONCEPT_BOOT, bca_interval, bootstrap_counts,
                                      concept_bootstrap, conf_method, jackknife_means)
    from emostat.analysis.engines.mantel import exact_if_fewer, mantel_decided, method_text

    S = np.asarray(subject_rdms, dtype=np.float64)
    model = model_rdm(A)
    n_t, n_c = np.shape(A)[:2]
    if S.ndim != 2 or S.shape[1] != model.size:
        raise InputError(f"whole_model_rsa: subject_rdms must be (participants, {model.size}) "
                         f"for {n_c} concepts, got shape {S.shape}")
    if not np.isfinite(S).all():
        raise InputError("whole_model_rsa: subject_rdms contain NaN; impute them first")
    human = _snap(S.mean(axis=0))
    tau, p_asym = _tau(human[:, None], model)
    est = float(tau[0])
    se = lo = hi = clo = chi = np.nan
    n = S.shape[0]
    boot_ok = n_boot > 0 and n > 1
    if boot_ok:
        boot = _tau(_snap(bootstrap_counts(n, n_boot, seed) @ S / n).T, model)[0]
        jack = _tau(_snap(jackknife_means(S)).T, model)[0]
        se = float(boot.std(ddof=1)) if n_boot > 1 else np.nan
        low, high, _, _ = bca_interval([est], boot[:, None], jack[:, None])
        lo, hi = float(low[0]), float(high[0])
    chow = "none (n_boot = 0)"
    if n_boot > 0:   # the unit of the Mantel p: concept labels
        cl, ch, cm, _ = concept_bootstrap(model, human, min(n_boot, CONCEPT_BOOT), seed + 2)
        clo, chi, chow = float(cl[0]), float(ch[0]), cm[0]
    mc = {"p_floor": np.nan, "p_mc_low": np.nan, "p_mc_high": np.nan, "mc_warning": ""}
    p, draws = np.nan, 0
    if n_perm > 0:
        pv, dr, cols = mantel_decided(model, human, n_perm, seed + 1, alpha, n_items=n_c)
        p, draws = float(pv[0]), int(dr[0])
        mc = {c: v[0] for c, v in cols.items()}
    ceiling = _ceiling(S, n_c, seed)
    return pd.DataFrame([{
        "estimate": est, "std_error": se, "conf_low": clo, "conf_high": chi, "p_value": p,
        "p_method": (method_text("Mantel: concept-label permutation of the model RDM, "
                                 "Kendall tau-b, one-sided (greater), (1 + #{tau* >= tau}) / "
                                 "(1 + n_perm)", exact_if_fewer(n_perm, n_c) == "exact")
                     if n_perm > 0 else "not tested (n_perm = 0)"),
        "unit": f"concept label ({n_c})", "role": "record",
        "p_value_asymptotic": float(p_asym[0]),
        "p_method_asymptotic": ("Kendall tau-b normal approximation, one-sided, "
                                f"{model.size} pairs treated as independent (the study's)"),
        "conf_method": chow,
        "conf_low_participants": lo, "conf_high_participants": hi,
        "conf_method_participants": (conf_method([lo], [hi], n, n_boot)[0]
                                     + ": rater-sampling precision" if boot_ok
                                     else "none (no participant bootstrap)"),
        "n_boot": int(n_boot), "n_perm": draws, "n_subjects": int(n),
        "n_templates": int(n_t), "n_concepts": int(n_c), **mc,
        "comparator": "tau_b", "estimand": "mean_rdm", **ceiling}])


def _ceiling(S: np.ndarray, n_concepts: int, seed: int) -> dict:
    """The split-half ceiling of tau-b on the mean RDM (the estimand of ``estimate``)."""
    from emostat.analysis.engines.rsaceiling import half_splits, split_half_ceiling
    from emostat.analysis.engines.rsacompare import Resample

    if len(S) < 2:
        return {"ceiling_low": np.nan, "ceiling_high": np.nan,
                "ceiling_method": "none: one RDM (no raters to split)"}
    splits = half_splits(len(S), 100, seed)
    low, high, _ = split_half_ceiling(Resample.full(n_concepts, "tau_b"), S, splits)
    return {"ceiling_low": float(low[0]), "ceiling_high": float(high[0]),
            "ceiling_method": f"split-half reliability of the mean RDM over {len(splits)} splits "
                              f"of {len(S)} raters (Spearman-Brown to all raters, tau-b via "
                              "Greiner): lower = reliability, upper = its square root"}
