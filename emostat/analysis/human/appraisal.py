"""Appraisal components: R psych ``principal(X, nfactors = 6, rotate = "varimax")`` on the
response x item matrix (-99 and missing -> 5), regression component scores averaged per emotion
(the study's ``Code/preprocess1_PCs_of_emotional_features.R``; ``docs/method.md`` section 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emostat.errors import InputError, input_error

NA_RESPONSE = 5.0  # the study's value for "not applicable" (-99) and missing appraisal items


def study_space():
    """The study's concept space (its concepts, attributes and groups; the release's design)."""
    from emostat.space import load_space

    return load_space()


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
        participant, concept, one column per component (regression scores).
    concept_means : DataFrame
        index concept (the study space's concept order), one column per component.
    variance : Series
        Sum of squared rotated loadings per component.
    """

    loadings: pd.DataFrame
    eigenvalues: np.ndarray
    parallel_analysis: pd.DataFrame
    n_components: int
    weights: pd.DataFrame
    scores: pd.DataFrame
    concept_means: pd.DataFrame
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
    for col in ("participant", "concept", "item", "response"):
        if col not in df.columns:
            raise input_error("appraisal_responses", "required column missing", field=col)
    order = pd.unique(df["participant"])
    X = (df.pivot_table(index="participant", columns="item", values="response",
                        aggfunc="first", dropna=False).reindex(order))
    X = X.fillna(NA_RESPONSE)
    concept = df.groupby("participant", sort=False)["concept"].first().reindex(order)
    return X, concept


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
    X, concept = appraisal_matrix(appraisal_responses)
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
    study = study_space()
    appraisal = study.groups["appraisal"]
    names = list(appraisal) if k == len(appraisal) else [
        f"RC{c + 1}" for c in range(k)]
    W = np.linalg.solve(R, L)
    Z = (x - x.mean(axis=0)) / sd
    S = Z @ W
    scores = pd.DataFrame(S, columns=names)
    scores.insert(0, "concept", concept.to_numpy())
    scores.insert(0, "participant", X.index.to_numpy())
    means = scores.groupby("concept")[names].mean()
    missing = sorted(set(study.concepts) - set(means.index))
    if missing:
        raise InputError(f"appraisal_pca: no included response for emotion(s) {missing}")
    items = pd.Index(X.columns.astype(int), name="item")
    return AppraisalPCA(
        loadings=pd.DataFrame(L, index=items, columns=names),
        eigenvalues=vals, parallel_analysis=pa_table, n_components=k,
        weights=pd.DataFrame(W, index=items, columns=names), scores=scores,
        concept_means=means.reindex(list(study.concepts)).rename_axis("concept"),
        variance=pd.Series((L ** 2).sum(axis=0), index=names))


def _positive(L: np.ndarray) -> np.ndarray:
    s = np.sign(L.sum(axis=0))
    s[s == 0] = 1
    return s

