"""The human emotion space: attribute means, appraisal PCA, RDMs, attribute importance, ICC.

Pure numpy/pandas/scipy. Definitions follow the study (Li et al., iScience 2024; its R code
``Code/preprocess1_PCs_of_emotional_features.R``), see ``docs/method.md`` section 1:

- affective and face attributes: mean rating of the valid raters per emotion;
- appraisal attributes: R psych ``principal(X, nfactors = 6, rotate = "varimax")`` on the
  response x item matrix (-99 and missing -> 5), regression component scores averaged per
  emotion;
- attribute RDM: |mean_i - mean_j| over the 351 pairs (``constants.pair_indices`` order over
  the study space's concept order, ``data/spaces/study/concepts.csv``);
- attribute importance: Kendall tau-b between the mean human dissimilarity RDM and each
  attribute RDM, with a participant bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from emostat.constants import N_PAIRS, pair_indices  # attribute_importance
from emostat.analysis.human.appraisal import AppraisalPCA, appraisal_pca, study_space
from emostat.analysis.engines.kendall import kendall_tau_b
from emostat.errors import InputError, input_error

# RDM values are rounded to this many decimals: |m_i - m_j| of means like k/30 carry float
# noise (~1e-15) that would otherwise split ties arbitrarily in Kendall's tau.
SNAP_DECIMALS = 12


# ---------------------------------------------------------------------------------------------
# means and RDMs

def attribute_means(ratings: pd.DataFrame, appraisal_responses: pd.DataFrame,
                    pca: AppraisalPCA | None = None) -> pd.DataFrame:
    """Per-emotion means of the 14 attributes.

    Affective and face attributes: mean rating over raters. Appraisal attributes: mean
    component score (``pca``, default :func:`appraisal_pca` with the study's 6 components).

    Returns
    -------
    DataFrame
        index concept and columns in the study space's order (concepts.csv, space.toml).
    """
    for col in ("concept", "attribute", "rating"):
        if col not in ratings.columns:
            raise input_error("ratings", "required column missing", field=col)
    if ratings["rating"].isna().any():
        r = int(np.flatnonzero(ratings["rating"].isna().to_numpy())[0])
        raise input_error("ratings", "missing rating", row=r, field="rating")
    m = ratings.pivot_table(index="concept", columns="attribute", values="rating",
                            aggfunc="mean")
    study = study_space()
    need = list(study.groups["affective"] + study.groups["faces"])
    missing = [a for a in need if a not in m.columns]
    if missing:
        raise InputError(f"ratings: no ratings for attribute(s) {missing}")
    if pca is None:
        pca = appraisal_pca(appraisal_responses, n_components=len(study.groups["appraisal"]))
    means = pd.concat([m[need].reindex(list(study.concepts)), pca.concept_means], axis=1)
    if means.isna().any().any():
        bad = means.index[means.isna().any(axis=1)].tolist()
        raise InputError(f"attribute_means: no data for emotion(s) {bad}")
    means.index.name = "concept"
    return means


def rdm_vector(values) -> np.ndarray:
    """|v_i - v_j| over the pairs of ``constants.pair_indices`` (R ``dist()`` order), rounded
    to ``SNAP_DECIMALS`` decimals so that differences equal in exact arithmetic tie."""
    v = np.asarray(values, dtype=float)
    i, j = pair_indices(len(v))
    return _snap(np.abs(v[i] - v[j]))


def attribute_rdms(means: pd.DataFrame) -> pd.DataFrame:
    """Attribute RDMs: 351 rows (pair order), one column per attribute of ``means``."""
    m = means.reindex(list(study_space().concepts))
    if m.isna().any().any():
        raise InputError("attribute_rdms: means lack some of the 27 emotions")
    out = pd.DataFrame({a: rdm_vector(m[a]) for a in m.columns})
    out.index.name = "pair"
    return out


def subject_rdms(similarity: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Per-participant 351-vectors from the long ``similarity`` table.

    Returns the participant ids (first-appearance order) and an (n_subjects, 351) array.
    """
    for col in ("participant", "pair", "dissimilarity"):
        if col not in similarity.columns:
            raise input_error("similarity", "required column missing", field=col)
    ids = list(pd.unique(similarity["participant"]))
    wide = similarity.pivot(index="participant", columns="pair",
                            values="dissimilarity").reindex(ids)
    n_pairs = study_space().n_pairs
    if wide.shape[1] != n_pairs or wide.isna().any().any():
        raise InputError(f"similarity: each participant needs all {n_pairs} pairs with a value")
    return ids, wide.to_numpy(float)


# ---------------------------------------------------------------------------------------------
# Kendall tau-b (vectorised) and the importance statistics

def _snap(x: np.ndarray) -> np.ndarray:
    """Round to 12 decimals so values equal in exact arithmetic tie (float noise removed)."""
    return np.round(x, SNAP_DECIMALS)


IMPORTANCE_P_METHOD = ("Mantel: concept-label permutation of the mean human RDM, Kendall tau-b, "
                      "one-sided (greater), (1 + #{tau* >= tau}) / (1 + n_perm)")


def attribute_importance(subject_rdms, attr_rdms, n_boot: int = 10_000, n_perm: int = 10_000,
                         seed: int = 0, level: float = 0.95, alpha: float = 0.05
                         ) -> pd.DataFrame:
    """Importance of each attribute for the human conceptual space.

    ``estimate``: Kendall tau-b between the mean human RDM (mean over participants) and the
    attribute RDM. ``p_value``: Mantel test, one-sided, permuting the 27 concept labels of the
    mean human RDM (``n_perm`` draws, seed + 1) - the RDM's cells share emotions, so the
    emotions are the exchangeable units. Draws are doubled (up to 8x) for attributes whose
    Clopper-Pearson Monte-Carlo interval holds ``alpha``; ``n_perm`` is the count used, with
    ``p_floor, p_mc_low, p_mc_high, mc_warning``. ``conf_low``/``conf_high`` and
    ``std_error``: concept-label bootstrap at the p's unit
    (:func:`emostat.analysis.engines.bca.concept_bootstrap`, at most ``CONCEPT_BOOT`` resamples, seed
    + 2; ``conf_method`` says BCa or percentile). Participant bootstrap (``n_boot`` resamples,
    seed): ``conf_low_participants``/``conf_high_participants`` (BCa, rater-sampling
    precision), ``std_error_participants``, ``boot_share_le0`` (share of resamples with tau <=
    0: the study's "p-value", the stability of the estimate, not association).
    statistic and df are NaN (no parametric test).

    Parameters
    ----------
    subject_rdms : array (n_subjects, 351)
    attr_rdms : DataFrame (351, q), one column per attribute.
    n_boot, n_perm : int
        0 skips the bootstrap (NaN columns) or the Mantel test (NaN p).
    seed : int
    level : float
        CI level.

    Returns
    -------
    DataFrame
        attribute, estimate, std_error, statistic, df, p_value, conf_low, conf_high,
        boot_share_le0, p_method, unit, role, conf_method, n_boot, n_perm.
    """
    from emostat.analysis.engines.bca import (CONCEPT_BOOT, bca_interval, bootstrap_counts,
                                      concept_bootstrap, conf_method, jackknife_means)
    from emostat.analysis.engines.mantel import (exact_if_fewer, items_from_pairs,
                                                 mantel_decided, method_text)

    S = np.asarray(subject_rdms, dtype=float)
    if S.ndim != 2 or S.shape[1] != N_PAIRS:
        raise InputError(f"attribute_importance: subject_rdms must be (n, {N_PAIRS}), "
                         f"got {S.shape}")
    A = pd.DataFrame(attr_rdms)
    if len(A) != N_PAIRS or A.isna().any().any():
        raise InputError(f"attribute_importance: attr_rdms must be {N_PAIRS} rows without NaN")
    Y = A.to_numpy(float)
    n_items = items_from_pairs(N_PAIRS, None)      # the concepts whose labels are permuted
    mean = _snap(S.mean(axis=0))
    est = np.atleast_1d(kendall_tau_b(mean[:, None], Y)[0][0])
    nan = np.full(len(est), np.nan)
    se = lo = hi = share = clo = chi = cse = nan
    how = ["none (n_boot = 0)"] * len(est)
    chow = list(how)
    n = len(S)
    if n_boot > 0:
        boot = kendall_tau_b(_snap(bootstrap_counts(n, n_boot, seed) @ S / n).T, Y)[0]
        jack = kendall_tau_b(_snap(jackknife_means(S)).T, Y)[0]          # (n, q)
        lo, hi, _, _ = bca_interval(est, boot, jack, level)
        se = boot.std(axis=0, ddof=1)
        share = (boot <= 0).mean(axis=0)
        how = [m + ": rater-sampling precision" for m in conf_method(lo, hi, n, n_boot)]
        # the unit of the Mantel p: concept labels
        clo, chi, chow, cboot = concept_bootstrap(mean, Y, min(n_boot, CONCEPT_BOOT), seed + 2,
                                                  level)
        cse = cboot.std(axis=0, ddof=1)
    mc = {"p_floor": nan, "p_mc_low": nan, "p_mc_high": nan, "mc_warning": [""] * len(est)}
    p_mantel, draws = nan, np.zeros(len(est), np.int64)
    if n_perm > 0:
        p_mantel, draws, mc = mantel_decided(mean, Y, n_perm, seed + 1, alpha,
                                             n_items=n_items)
    return pd.DataFrame({
        "attribute": list(A.columns), "estimate": est, "std_error": cse, "statistic": np.nan,
        "df": np.nan, "p_value": p_mantel, "conf_low": clo, "conf_high": chi,
        "conf_method": chow, "conf_low_participants": lo, "conf_high_participants": hi,
        "conf_method_participants": how, "std_error_participants": se,
        "boot_share_le0": share,
        "p_method": (method_text(IMPORTANCE_P_METHOD, exact_if_fewer(n_perm, n_items) == "exact")
                     if n_perm > 0 else "not tested (n_perm = 0)"),
        "unit": f"concept label ({n_items})", "role": "record",
        "n_boot": n_boot, "n_perm": draws, **mc})


# ---------------------------------------------------------------------------------------------
# rater reliability

def icc2(Y: np.ndarray, alpha: float = 0.05) -> dict:
    """Two-way random-effects ICC of a targets x raters matrix (Shrout & Fleiss 1979).

    ICC(2,1) single rater and ICC(2,k) mean of k raters, with F test and confidence interval
    as in R ``psych::ICC`` (rows ICC2 and ICC2k).
    """
    Y = np.asarray(Y, float)
    n, k = Y.shape
    grand = Y.mean()
    ss_r = k * ((Y.mean(axis=1) - grand) ** 2).sum()
    ss_c = n * ((Y.mean(axis=0) - grand) ** 2).sum()
    ss_e = ((Y - grand) ** 2).sum() - ss_r - ss_c
    msr, msc = ss_r / (n - 1), ss_c / (k - 1)
    mse = ss_e / ((n - 1) * (k - 1))
    single = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    average = (msr - mse) / (msr + (msc - mse) / n)
    F, df1, df2 = msr / mse, n - 1, (n - 1) * (k - 1)
    # confidence interval (psych::ICC; McGraw & Wong 1996, case 2)
    fj = msc / mse
    vn = (k - 1) * (n - 1) * (k * single * fj + n * (1 + (k - 1) * single) - k * single) ** 2
    vd = (n - 1) * k ** 2 * single ** 2 * fj ** 2 + (n * (1 + (k - 1) * single)
                                                     - k * single) ** 2
    v = vn / vd
    fu = stats.f.ppf(1 - alpha / 2, n - 1, v)
    fl = stats.f.ppf(1 - alpha / 2, v, n - 1)
    lo = n * (msr - fu * mse) / (fu * (k * msc + (k * n - k - n) * mse) + n * msr)
    hi = n * (fl * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fl * msr)
    return {"ICC2": (single, lo, hi), "ICC2k": (average, lo * k / (1 + lo * (k - 1)),
                                                hi * k / (1 + hi * (k - 1))),
            "F": F, "df1": df1, "df2": df2, "p_value": stats.f.sf(F, df1, df2),
            "n_targets": n, "n_raters": k}


def rating_icc(ratings: pd.DataFrame) -> pd.DataFrame:
    """Inter-rater reliability of each rated attribute (emotions = targets, raters = judges).

    Two-way random-effects ICC, as the study's R code (``psych::ICC``, which reports ICC(2,k)
    for these attributes): ICC(2,1) (type "ICC2", one rater) and ICC(2,k) (type "ICC2k", the
    mean of the k raters, the reliability of the attribute means used for the RDMs).

    Returns
    -------
    DataFrame
        experiment, attribute, type, estimate, statistic (F), df1, df2, p_value, conf_low,
        conf_high (95 %), n_targets, n_raters, p_method, unit (the concepts rated), role
        (extra).
    """
    rows = []
    for (exp, attr), g in ratings.groupby(["experiment", "attribute"], sort=False):
        Y = g.pivot_table(index="concept", columns="participant", values="rating")
        if Y.isna().any().any():
            raise InputError(f"rating_icc: {exp}/{attr} lacks ratings for some emotion x rater "
                             "cells; ICC needs a complete matrix")
        r = icc2(Y.to_numpy())
        for t in ("ICC2", "ICC2k"):
            est, lo, hi = r[t]
            rows.append((exp, attr, t, est, r["F"], r["df1"], r["df2"], r["p_value"], lo, hi,
                         r["n_targets"], r["n_raters"]))
    out = pd.DataFrame(rows, columns=["experiment", "attribute", "type", "estimate",
                                      "statistic", "df1", "df2", "p_value", "conf_low",
                                      "conf_high", "n_targets", "n_raters"])
    out["p_method"] = "F test of the two-way random-effects ICC against 0 (R psych::ICC)"
    out["unit"] = out["n_targets"].map(lambda n: f"concept ({n})")
    out["role"] = "extra"
    order = {a: n for n, a in enumerate(study_space().attributes)}
    return out.sort_values(["attribute", "type"], key=lambda s: s.map(order)
                           if s.name == "attribute" else s, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# loading

@dataclass
class HumanSpace:
    """The human emotion space of the study (or its shipped summary).

    Attributes
    ----------
    means : DataFrame
        index concept (the space's concept order) x attributes, derived by emostat.
    attribute_rdms : DataFrame
        351 x 14, from ``means``.
    mean_rdm : ndarray (351,)
        Mean human dissimilarity RDM.
    subject_ids, subject_rdms
        Participants and their (n, 351) RDMs; None for the shipped summary.
    pca : AppraisalPCA or None
    ratings : DataFrame or None
        Long affective + physical ratings (for :func:`rating_icc`).
    released_attribute_rdms : DataFrame or None
        The release's ``dist_emotional_PCs.csv`` when loaded from a release root.
    space : ConceptSpace or None
        The concept space it was built from (:func:`load_shipped_human`).
    """

    means: pd.DataFrame
    attribute_rdms: pd.DataFrame
    mean_rdm: np.ndarray | None
    subject_ids: list[str] | None = None
    subject_rdms: np.ndarray | None = None
    pca: AppraisalPCA | None = None
    ratings: pd.DataFrame | None = None
    released_attribute_rdms: pd.DataFrame | None = field(default=None, repr=False)
    space: object | None = field(default=None, repr=False)

    @property
    def concepts(self) -> list[str]:
        """Concept ids in analysis order (the index of ``means``)."""
        return list(self.means.index)

    @property
    def has_similarity(self) -> bool:
        return self.mean_rdm is not None

    @property
    def attribute_rdms_for_study(self) -> pd.DataFrame:
        """The attribute RDMs for the headline analyses (attribute importance, searchlight).

        The release's ``dist_emotional_PCs.csv`` when loaded from a release root, else
        emostat's own ``attribute_rdms``. Both hold the same numbers to 2e-14 (all 14
        columns), but Kendall's tau depends on ties: the study's file carries float noise
        written to 15 digits, which splits some ties that are exact in arithmetic (e.g. two
        differences of 1/3 between means of 30 ratings), while emostat's RDMs are rounded to
        12 decimals so such ties stay ties. The study's importance taus (reference-values.md)
        come out exactly only with its file; with emostat's tie-exact RDMs they move in the
        4th decimal (valence .5865 instead of .5860). So the study's file is used whenever
        it is there.
        """
        if self.released_attribute_rdms is not None:
            return self.released_attribute_rdms
        return self.attribute_rdms


def human_space(ratings, responses, similarity, released=None) -> HumanSpace:
    """The human space from the long tables (``ratings``: affective + physical, appraisal
    ``responses``, ``similarity``); ``released``: the release's attribute RDMs or None."""
    pca = appraisal_pca(responses, n_components=len(study_space().groups["appraisal"]))
    means = attribute_means(ratings, responses, pca=pca)
    ids, S = subject_rdms(similarity)
    return HumanSpace(means=means, attribute_rdms=attribute_rdms(means), mean_rdm=S.mean(axis=0),
                      subject_ids=ids, subject_rdms=S, pca=pca, ratings=ratings,
                      released_attribute_rdms=released)


def load_shipped_human(space=None) -> HumanSpace:
    """The human side of a concept space (default: the study's, ``data/spaces/study/``).

    ``space``: None, a shipped space name, a folder or a :class:`~emostat.space.ConceptSpace`.
    Means are the space's per-concept means (for the study: the summary derived from the
    release by :func:`emostat.release.human.write_shipped_human`; no participants, no PCA);
    attribute RDMs |m_i - m_j| over its pairs; ``mean_rdm`` its mean dissimilarity RDM (None
    without a similarity table); subject RDMs where per-participant judgments exist.
    """
    from emostat.space import load_space

    sp = load_space(space)
    means = sp.means.rename_axis("concept")
    subj = sp.subject_rdms()
    return HumanSpace(means=means, attribute_rdms=sp.attribute_rdms(), mean_rdm=sp.mean_rdm(),
                      subject_ids=subj[0] if subj is not None else None,
                      subject_rdms=subj[1] if subj is not None else None, space=sp)
