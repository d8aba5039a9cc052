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
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from emostat.constants import ANALYSIS_ORDER, N_PAIRS, pair_indices  # attribute_importance
from emostat.analysis.kendall import kendall_tau_b
from emostat.analysis.mantel import mantel
from emostat.errors import InputError, input_error

NA_RESPONSE = 5.0  # the study's value for "not applicable" (-99) and missing appraisal items
# RDM values are rounded to this many decimals: |m_i - m_j| of means like k/30 carry float
# noise (~1e-15) that would otherwise split ties arbitrarily in Kendall's tau.
SNAP_DECIMALS = 12


def _study():
    """The study's concept space (its concepts, attributes and groups; the release's design)."""
    from emostat.space import load_space

    return load_space()


# ---------------------------------------------------------------------------------------------
# appraisal PCA (psych::principal, varimax)

@dataclass
class AppraisalPCA:
    """Result of :func:`appraisal_pca`.

    Attributes
    ----------
    loadings : DataFrame
        item (1..38) x component, rotated loadings (psych's order and signs).
    eigenvalues : ndarray
        All eigenvalues of the item correlation matrix, descending.
    parallel_analysis : DataFrame
        component, eigenvalue, simulated_mean, simulated_p95, retained.
    n_components : int
    weights : DataFrame
        item x component regression weights R^-1 L.
    scores : DataFrame
        participant_id, emotion, one column per component (regression scores).
    emotion_means : DataFrame
        index emotion (the study space's concept order), one column per component.
    variance : Series
        Sum of squared rotated loadings per component.
    """

    loadings: pd.DataFrame
    eigenvalues: np.ndarray
    parallel_analysis: pd.DataFrame
    n_components: int
    weights: pd.DataFrame
    scores: pd.DataFrame
    emotion_means: pd.DataFrame
    variance: pd.Series


def varimax(L: np.ndarray, normalize: bool = True, eps: float = 1e-5,
            max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Varimax rotation as R ``stats::varimax`` (Kaiser normalisation, same stopping rule).

    Returns the rotated loadings and the rotation matrix T (rotated = L @ T).
    """
    p, k = L.shape
    if k < 2:
        return L.copy(), np.eye(k)
    h = np.sqrt((L ** 2).sum(axis=1)) if normalize else np.ones(p)
    x = L / h[:, None]
    T = np.eye(k)
    crit = 0.0
    for _ in range(max_iter):
        z = x @ T
        grad = x.T @ (z ** 3 - z * ((z ** 2).sum(axis=0) / p))
        u, s, vt = np.linalg.svd(grad)
        T = u @ vt
        previous, crit = crit, s.sum()
        if crit < previous * (1 + eps):
            break
    return (x @ T) * h[:, None], T


def parallel_analysis(X: np.ndarray, n_iter: int = 20, seed: int = 0) -> pd.DataFrame:
    """Horn's parallel analysis for PCA: observed eigenvalues vs those of random normal data.

    A component is retained while its eigenvalue exceeds the mean eigenvalue of the same rank
    over ``n_iter`` random n x p standard-normal matrices (psych ``fa.parallel`` rule for
    components: stop at the first that does not).

    Returns
    -------
    DataFrame
        component (1..p), eigenvalue, simulated_mean, simulated_p95, retained.
    """
    n, p = X.shape
    obs = np.linalg.eigvalsh(np.corrcoef(X, rowvar=False))[::-1]
    rng = np.random.default_rng(seed)
    sim = np.empty((n_iter, p))
    for b in range(n_iter):
        sim[b] = np.linalg.eigvalsh(np.corrcoef(rng.standard_normal((n, p)), rowvar=False))[::-1]
    mean = sim.mean(axis=0)
    above = obs > mean
    n_keep = int(np.argmin(above)) if not above.all() else p
    return pd.DataFrame({"component": np.arange(1, p + 1), "eigenvalue": obs,
                         "simulated_mean": mean,
                         "simulated_p95": np.quantile(sim, 0.95, axis=0),
                         "retained": np.arange(p) < n_keep})


def appraisal_matrix(appraisal_responses: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Response x item matrix (NaN -> 5, the study's imputation) and each response's emotion."""
    df = appraisal_responses
    for col in ("participant_id", "emotion", "item", "response"):
        if col not in df.columns:
            raise input_error("appraisal_responses", "required column missing", field=col)
    order = pd.unique(df["participant_id"])
    X = (df.pivot_table(index="participant_id", columns="item", values="response",
                        aggfunc="first", dropna=False).reindex(order))
    X = X.fillna(NA_RESPONSE)
    emotion = df.groupby("participant_id", sort=False)["emotion"].first().reindex(order)
    return X, emotion


def appraisal_pca(appraisal_responses: pd.DataFrame, n_components: int | None = None,
                  seed: int = 0) -> AppraisalPCA:
    """Principal components of the appraisal items, varimax-rotated, as R psych ``principal``.

    Steps (psych 2.x ``principal``): correlation matrix R of the response x item matrix;
    loadings L = eigenvectors x sqrt(eigenvalues) for the first ``n_components``; columns
    flipped so their sums are positive; ``stats::varimax`` (Kaiser normalisation); components
    sorted by rotated sum of squared loadings and flipped again to positive sums; regression
    scores Z R^-1 L (Z: items standardised with the n-1 SD).

    ``n_components=None`` takes the number from :func:`parallel_analysis` (seeded; gives 6 on
    the study's data). Naming rule: with 6 components they take the study's names
    (control, fairness, self-relativity, other-relativity, expectedness, novelty) in psych's
    order, as the study's R code does (its six components all pass its ICC screen, and it
    names them in index order); otherwise RC1, RC2, ... Signs follow psych; RDMs use absolute
    differences and do not depend on them.
    """
    X, emotion = appraisal_matrix(appraisal_responses)
    x = X.to_numpy(float)
    if len(x) < 3:
        raise InputError(f"appraisal_pca: {len(x)} responses; need at least 3")
    sd = x.std(axis=0, ddof=1)
    if (sd == 0).any():
        bad = list(X.columns[sd == 0])
        raise InputError(f"appraisal_pca: item(s) {bad} have no variance; PCA needs variance")
    pa_table = parallel_analysis(x, seed=seed)
    k = int(pa_table["retained"].sum()) if n_components is None else int(n_components)
    R = np.corrcoef(x, rowvar=False)
    vals, vecs = np.linalg.eigh(R)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    L = vecs[:, :k] * np.sqrt(np.maximum(vals[:k], np.finfo(float).eps))
    L = L * _positive(L)
    if k > 1:
        L, _ = varimax(L)
        L = L[:, np.argsort(-(L ** 2).sum(axis=0), kind="stable")]
        L = L * _positive(L)
    study = _study()
    appraisal = study.groups["appraisal"]
    names = list(appraisal) if k == len(appraisal) else [
        f"RC{c + 1}" for c in range(k)]
    W = np.linalg.solve(R, L)
    Z = (x - x.mean(axis=0)) / sd
    S = Z @ W
    scores = pd.DataFrame(S, columns=names)
    scores.insert(0, "emotion", emotion.to_numpy())
    scores.insert(0, "participant_id", X.index.to_numpy())
    means = scores.groupby("emotion")[names].mean()
    missing = sorted(set(study.concepts) - set(means.index))
    if missing:
        raise InputError(f"appraisal_pca: no included response for emotion(s) {missing}")
    items = pd.Index(X.columns.astype(int), name="item")
    return AppraisalPCA(
        loadings=pd.DataFrame(L, index=items, columns=names),
        eigenvalues=vals, parallel_analysis=pa_table, n_components=k,
        weights=pd.DataFrame(W, index=items, columns=names), scores=scores,
        emotion_means=means.reindex(list(study.concepts)).rename_axis("emotion"),
        variance=pd.Series((L ** 2).sum(axis=0), index=names))


def _positive(L: np.ndarray) -> np.ndarray:
    s = np.sign(L.sum(axis=0))
    s[s == 0] = 1
    return s


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
        index emotion and columns in the study space's order (concepts.csv, space.toml).
    """
    for col in ("emotion", "attribute", "rating"):
        if col not in ratings.columns:
            raise input_error("ratings", "required column missing", field=col)
    if ratings["rating"].isna().any():
        r = int(np.flatnonzero(ratings["rating"].isna().to_numpy())[0])
        raise input_error("ratings", "missing rating", row=r, field="rating")
    m = ratings.pivot_table(index="emotion", columns="attribute", values="rating",
                            aggfunc="mean")
    study = _study()
    need = list(study.groups["affective"] + study.groups["faces"])
    missing = [a for a in need if a not in m.columns]
    if missing:
        raise InputError(f"ratings: no ratings for attribute(s) {missing}")
    if pca is None:
        pca = appraisal_pca(appraisal_responses, n_components=len(study.groups["appraisal"]))
    means = pd.concat([m[need].reindex(list(study.concepts)), pca.emotion_means], axis=1)
    if means.isna().any().any():
        bad = means.index[means.isna().any(axis=1)].tolist()
        raise InputError(f"attribute_means: no data for emotion(s) {bad}")
    means.index.name = "emotion"
    return means


def rdm_vector(values) -> np.ndarray:
    """|v_i - v_j| over the pairs of ``constants.pair_indices`` (R ``dist()`` order), rounded
    to ``SNAP_DECIMALS`` decimals so that differences equal in exact arithmetic tie."""
    v = np.asarray(values, dtype=float)
    i, j = pair_indices(len(v))
    return _snap(np.abs(v[i] - v[j]))


def attribute_rdms(means: pd.DataFrame) -> pd.DataFrame:
    """Attribute RDMs: 351 rows (pair order), one column per attribute of ``means``."""
    m = means.reindex(list(_study().concepts))
    if m.isna().any().any():
        raise InputError("attribute_rdms: means lack some of the 27 emotions")
    out = pd.DataFrame({a: rdm_vector(m[a]) for a in m.columns})
    out.index.name = "pair"
    return out


def subject_rdms(similarity: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Per-participant 351-vectors from the long ``similarity`` table.

    Returns the participant ids (first-appearance order) and an (n_subjects, 351) array.
    """
    for col in ("participant_id", "pair", "dissimilarity"):
        if col not in similarity.columns:
            raise input_error("similarity", "required column missing", field=col)
    ids = list(pd.unique(similarity["participant_id"]))
    wide = similarity.pivot(index="participant_id", columns="pair",
                            values="dissimilarity").reindex(ids)
    n_pairs = _study().n_pairs
    if wide.shape[1] != n_pairs or wide.isna().any().any():
        raise InputError(f"similarity: each participant needs all {n_pairs} pairs with a value")
    return ids, wide.to_numpy(float)


# ---------------------------------------------------------------------------------------------
# Kendall tau-b (vectorised) and the importance statistics

def _snap(x: np.ndarray) -> np.ndarray:
    """Round to 12 decimals so values equal in exact arithmetic tie (float noise removed)."""
    return np.round(x, SNAP_DECIMALS)


IMPORTANCE_P_METHOD = ("Mantel: emotion-label permutation of the mean human RDM, Kendall tau-b, "
                      "one-sided (greater), (1 + #{tau* >= tau}) / (1 + n_perm)")


def attribute_importance(subject_rdms, attr_rdms, n_boot: int = 10_000, n_perm: int = 10_000,
                         seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Importance of each attribute for the human conceptual space.

    ``estimate``: Kendall tau-b between the mean human RDM (mean over participants) and the
    attribute RDM. ``p_value``: Mantel test, one-sided, permuting the 27 emotion labels of the
    mean human RDM (``n_perm`` draws, seed + 1) - the RDM's cells share emotions, so the
    emotions are the exchangeable units. Participant bootstrap (``n_boot`` resamples with
    replacement, seed): ``std_error`` (SD of the bootstrap taus), ``conf_low``/``conf_high``
    (BCa interval, :func:`emostat.analysis.bca.bca_interval`, jackknife over participants for
    the acceleration), ``boot_share_le0`` (share of resamples with tau <= 0: the study's
    "p-value", which measures the stability of the estimate, not association).
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
    from emostat.analysis.bca import bca_interval, bootstrap_counts, conf_method, jackknife_means

    S = np.asarray(subject_rdms, dtype=float)
    if S.ndim != 2 or S.shape[1] != N_PAIRS:
        raise InputError(f"attribute_importance: subject_rdms must be (n, {N_PAIRS}), "
                         f"got {S.shape}")
    A = pd.DataFrame(attr_rdms)
    if len(A) != N_PAIRS or A.isna().any().any():
        raise InputError(f"attribute_importance: attr_rdms must be {N_PAIRS} rows without NaN")
    Y = A.to_numpy(float)
    mean = _snap(S.mean(axis=0))
    est = np.atleast_1d(kendall_tau_b(mean[:, None], Y)[0][0])
    nan = np.full(len(est), np.nan)
    se = lo = hi = share = nan
    how = ["none (n_boot = 0)"] * len(est)
    n = len(S)
    if n_boot > 0:
        boot = kendall_tau_b(_snap(bootstrap_counts(n, n_boot, seed) @ S / n).T, Y)[0]
        jack = kendall_tau_b(_snap(jackknife_means(S)).T, Y)[0]          # (n, q)
        lo, hi, _, _ = bca_interval(est, boot, jack, level)
        se = boot.std(axis=0, ddof=1)
        share = (boot <= 0).mean(axis=0)
        how = conf_method(lo, hi, n, n_boot)
    p_mantel = (np.atleast_1d(mantel(mean, Y, n_perm=n_perm, seed=seed + 1,
                                     n_items=len(ANALYSIS_ORDER)))
                if n_perm > 0 else nan)
    return pd.DataFrame({
        "attribute": list(A.columns), "estimate": est, "std_error": se, "statistic": np.nan,
        "df": np.nan, "p_value": p_mantel, "conf_low": lo, "conf_high": hi,
        "boot_share_le0": share,
        "p_method": IMPORTANCE_P_METHOD if n_perm > 0 else "not tested (n_perm = 0)",
        "unit": f"emotion label ({len(ANALYSIS_ORDER)})", "role": "record",
        "conf_method": how, "n_boot": n_boot, "n_perm": n_perm})


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
        conf_high (95 %), n_targets, n_raters, p_method, unit (the emotions rated), role
        (extra).
    """
    rows = []
    for (exp, attr), g in ratings.groupby(["experiment", "attribute"], sort=False):
        Y = g.pivot_table(index="emotion", columns="participant_id", values="rating")
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
    out["unit"] = out["n_targets"].map(lambda n: f"emotion ({n})")
    out["role"] = "extra"
    order = {a: n for n, a in enumerate(_study().attributes)}
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
        index emotion (the space's concept order) x attributes, derived by emostat.
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


def read_released_attribute_rdms(root, space=None) -> pd.DataFrame:
    """``Data/preprocessed/emotional_features/dist_emotional_PCs.csv`` (351 x 14).

    Its columns and row count are checked against ``space`` (default: the study's space).
    """
    from emostat.release import common
    from emostat.space import load_space

    sp = load_space(space)
    attributes, n_pairs = sp.attributes, sp.n_pairs
    path = common.find(root, common.ATTRIBUTE_DIST)
    df = pd.read_csv(path)
    if list(df.columns) != list(attributes) or len(df) != n_pairs:
        raise input_error(path, f"expected {n_pairs} rows x columns {list(attributes)}")
    df.index.name = "pair"
    return df.astype(float)


def _space(ratings, responses, similarity, released=None) -> HumanSpace:
    pca = appraisal_pca(responses, n_components=len(_study().groups["appraisal"]))
    means = attribute_means(ratings, responses, pca=pca)
    ids, S = subject_rdms(similarity)
    return HumanSpace(means=means, attribute_rdms=attribute_rdms(means), mean_rdm=S.mean(axis=0),
                      subject_ids=ids, subject_rdms=S, pca=pca, ratings=ratings,
                      released_attribute_rdms=released)


def load_human(path) -> HumanSpace:
    """The human space from a release root (``Data/`` inside) or an import-release folder.

    From a release root the raw files are read directly (nothing is written). In both cases
    ``released_attribute_rdms`` holds the release's ``dist_emotional_PCs.csv`` (an
    import-release folder keeps it as ``released_attribute_rdms.parquet``).
    """
    from emostat import io
    from emostat.release import human as rh

    path = Path(path)
    if (path / "Data").is_dir():
        _, r_aff = rh.read_affective(path)
        _, r_phy = rh.read_physical(path)
        _, responses = rh.read_appraisal(path)
        _, similarity, _ = rh.read_similarity(path)
        ratings = pd.concat([r_aff, r_phy], ignore_index=True)
        try:
            released = read_released_attribute_rdms(path)
        except InputError:
            released = None
        return _space(ratings, responses, similarity, released)
    if (path / "ratings.parquet").exists():
        ratings = io.read_table(path / "ratings.parquet", dataset="ratings")
        responses = io.read_table(path / "appraisal_responses.parquet",
                                  dataset="appraisal_responses")
        similarity = io.read_table(path / "similarity.parquet", dataset="similarity")
        released = None
        if (path / "released_attribute_rdms.parquet").exists():
            released = (io.read_table(path / "released_attribute_rdms.parquet",
                                      dataset="released_attribute_rdms")
                        .set_index("pair")[list(_study().attributes)])
        return _space(ratings, responses, similarity, released)
    raise InputError(f"{path}: neither the study's release (no Data/ folder) nor an "
                     "`emostat import-release` output (no ratings.parquet)")


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
    means = sp.means.rename_axis("emotion")
    subj = sp.subject_rdms()
    return HumanSpace(means=means, attribute_rdms=sp.attribute_rdms(), mean_rdm=sp.mean_rdm(),
                      subject_ids=subj[0] if subj is not None else None,
                      subject_rdms=subj[1] if subj is not None else None, space=sp)
