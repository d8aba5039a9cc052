"""RSA evaluation on tidy inputs: long RDM tables or matrices in, tidy tables out.

``rsa_evaluate(models, raters, ...)`` (re-exported as ``emostat.stats.rsa_evaluate``) reads
model RDMs (``model, concept_a, concept_b, value``) and rater RDMs (``participant, concept_a,
concept_b, value``; without ``participant``: one mean RDM), lines both up on one concept order,
and runs :func:`emostat.analysis.engines.rsaeval.rsa_tables`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from emostat.analysis.engines.rsaceiling import N_SPLITS
from emostat.analysis.engines.rsacompare import n_items
from emostat.analysis.engines.rsaeval import rsa_tables
from emostat.constants import pair_indices
from emostat.errors import InputError

__all__ = ["rsa_evaluate", "RSAResult", "long_rdms"]

PAIR_COLUMNS = ("concept_a", "concept_b", "value")


@dataclass
class RSAResult:
    """Tables of one RSA evaluation (all tidy, broom names).

    ``models``: one row per model; ``ceiling``: the noise ceiling's bounds against 0;
    ``differences``: every pair of models; ``contrasts``: declared contrasts; ``concepts``: the
    concept order of the RDMs; ``raters``: the rater ids.
    """
    models: pd.DataFrame
    ceiling: pd.DataFrame
    differences: pd.DataFrame
    contrasts: pd.DataFrame
    concepts: list = field(default_factory=list)
    raters: list = field(default_factory=list)

    def __repr__(self) -> str:
        cols = [c for c in ("model", "estimate", "ceiling_low", "ceiling_high", "conf_low",
                            "conf_high", "p_value") if c in self.models]
        return (f"<RSAResult: {len(self.models)} models x {len(self.raters)} raters, "
                f"{len(self.concepts)} concepts>\n{self.models[cols].to_string(index=False)}")


def long_rdms(table: pd.DataFrame, key: str | None, where: str, concepts=None):
    """(ids, concepts, RDMs (K, P)) from a long ``key, concept_a, concept_b, value`` table.

    Pairs may come in either order; a concept's pair with itself is ignored; every other pair
    once per id. ``key`` None (or absent): one RDM. ``concepts``: the order (default: sorted
    labels)."""
    missing = [c for c in PAIR_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{where}: no column(s) {missing} (has {list(table.columns)})")
    t = table[table["concept_a"].astype(str) != table["concept_b"].astype(str)]
    a, b = t["concept_a"].astype(str).to_numpy(), t["concept_b"].astype(str).to_numpy()
    labels = sorted(set(a) | set(b)) if concepts is None else [str(c) for c in concepts]
    pos = {c: k for k, c in enumerate(labels)}
    unknown = sorted((set(a) | set(b)) - set(pos))
    if unknown:
        raise InputError(f"{where}: concept(s) {unknown[:5]} are not among the concepts "
                         f"{labels[:5]}...")
    n = len(labels)
    if n < 3:
        raise InputError(f"{where}: {n} concepts; RSA needs at least 3")
    pa, pb = np.array([pos[x] for x in a]), np.array([pos[x] for x in b])
    hi, lo = np.maximum(pa, pb), np.minimum(pa, pb)
    idx = lo * n - lo * (lo + 1) // 2 + (hi - lo - 1)                     # dist() position
    P = n * (n - 1) // 2
    if key is not None and key in t.columns:
        ids, code = np.unique(t[key].astype(str).to_numpy(), return_inverse=True)
        ids = list(ids)
    else:
        ids, code = [None], np.zeros(len(t), np.int64)
    flat = code * P + idx
    uniq, cnt = np.unique(flat, return_counts=True)
    if (cnt > 1).any():
        k, p = divmod(int(uniq[cnt > 1][0]), P)
        i, j = pair_indices(n)
        raise InputError(f"{where}: pair ({labels[i[p]]}, {labels[j[p]]}) given more than once"
                         + (f" for {key} {ids[k]!r}" if ids[0] is not None else ""))
    vals = pd.to_numeric(t["value"], errors="coerce").to_numpy(float)
    out = np.full(len(ids) * P, np.nan)
    out[flat] = vals
    out = out.reshape(len(ids), P)
    bad = np.argwhere(~np.isfinite(out))
    if len(bad):
        k, p = bad[0]
        i, j = pair_indices(n)
        who = f" for {key} {ids[k]!r}" if ids[0] is not None else ""
        raise InputError(f"{where}: pair ({labels[i[p]]}, {labels[j[p]]}) missing or not a "
                         f"number{who} ({len(bad)} such cells); every pair needs a value")
    return ids, labels, out


def _square_to_vector(S, where: str) -> np.ndarray:
    S = np.asarray(S, dtype=float)
    n = S.shape[-1]
    if S.shape[-2] != n:
        raise InputError(f"{where}: a square RDM is (n, n), got {S.shape}")
    i, j = pair_indices(n)
    return S[..., i, j]


def _as_rdms(obj, key: str, where: str, concepts):
    """(ids, concepts or None, (K, P)) from a long table, a dict of RDMs, or an array."""
    if isinstance(obj, pd.DataFrame) and set(PAIR_COLUMNS) <= set(obj.columns):
        return long_rdms(obj, key, where, concepts)
    if isinstance(obj, pd.DataFrame):                    # one square RDM with concept labels
        if list(obj.index.astype(str)) != list(obj.columns.astype(str)):
            raise InputError(f"{where}: a square RDM table needs the same concepts as index "
                             "and columns")
        labels = [str(c) for c in obj.columns]
        order = labels if concepts is None else [str(c) for c in concepts]
        return [None], order, _square_to_vector(obj.loc[order, order].to_numpy(float),
                                                where)[None]
    if isinstance(obj, dict):
        ids, rows, order = [], [], concepts
        for name, v in obj.items():
            _, labs, r = _as_rdms(v, key, f"{where} {name!r}", order)
            order = labs if labs is not None else order
            ids.append(str(name))
            rows.append(r[0])
        return ids, order, np.vstack(rows)
    arr = np.asarray(obj, dtype=float)
    if arr.ndim == 1:
        arr = arr[None]
    elif arr.ndim == 3 or (arr.ndim == 2 and arr.shape[0] == arr.shape[1]
                           and np.allclose(arr, arr.T) and np.allclose(np.diag(arr), 0)):
        arr = _square_to_vector(arr, where)
        arr = arr[None] if arr.ndim == 1 else arr
    n_items(arr.shape[1])
    return [None] * len(arr), (None if concepts is None else [str(c) for c in concepts]), arr


def rsa_evaluate(models, raters, *, comparator: str = "rho_a", estimand: str = "per_rater",
                 inference: str = "auto", n_boot: int = 1000, n_perm=10_000, seed: int = 0,
                 contrasts: dict | None = None, correction: str = "holm", concepts=None,
                 small_sample: bool = True, level: float = 0.95, n_splits: int = N_SPLITS,
                 progress=None) -> RSAResult:
    """Evaluate model RDMs against raters' RDMs with a noise ceiling on the same estimand.

    Parameters
    ----------
    models : DataFrame (long: ``model, concept_a, concept_b, value``), dict name -> RDM, or
        array (models, pairs) / (pairs,) / (concepts, concepts)
        Model dissimilarities.
    raters : DataFrame (long: ``participant, concept_a, concept_b, value``; without
        ``participant`` one mean RDM) or array (raters, pairs) / (pairs,) / (concepts, concepts)
        Human dissimilarities.
    comparator : {"rho_a", "tau_b", "tau_a", "pearson", "cosine", "whitened_cosine"}
        rsatoolbox's definitions (its names are accepted too). ``tau_b`` is the study's; rank
        ties (Likert ratings, categorical RDMs) favour it, rho-a and tau-a do not.
    estimand : {"per_rater", "mean_rdm"}
        ``per_rater``: the mean over raters of compare(model, rater RDM); ``mean_rdm``:
        compare(model, mean RDM) (the study's). The ceiling is that estimand's.
    inference : {"auto", "both", "both_schutt", "raters", "concepts", "permutation"}
        The unit of the intervals and tests: ``both`` (raters and concepts: the two-factor
        jackknife, t on Satterthwaite df; needs 5 concepts; on ``mean_rdm`` it is
        ``both_schutt``), ``both_schutt`` (raters and
        concepts: Schütt et al. 2023's corrected two-factor bootstrap, rsatoolbox's
        ``eval_dual_bootstrap``; conservative, see docs/inference.md), one factor, or a
        concept-label permutation p; ``auto``: ``both`` with two or more raters (
        ``both_schutt`` under 5 concepts), else ``concepts``.
    n_boot, n_perm, seed : int
        ``n_boot = 0``: no intervals or tests, whatever the inference.
    contrasts : dict, optional
        ``{"name": {"model": weight, ...}}``, e.g. a 2 x 2 interaction.
    correction : {"holm", "bh", "none"}
        Within each family of tests.
    concepts : list, optional
        Concept order (needed when arrays are mixed with labelled tables).

    Returns
    -------
    RSAResult
        ``.models`` (one row per model: ``model, comparator, estimand, estimate, ceiling_low,
        ceiling_high, conf_low, conf_high, conf_method, p_value, p_method, unit``, std_error,
        statistic, df, p_adjusted, the test against the lower ceiling, n_boot, ...),
        ``.differences`` (every pair of models), ``.ceiling`` (its bounds against 0),
        ``.contrasts``.

    References
    ----------
    Schütt, Kipnis, Diedrichsen & Kriegeskorte (2023), eLife 12:e82566. Nili et al. (2014),
    PLoS Comput Biol 10:e1003553.

    Examples
    --------
    Two models of 12 concepts, 15 raters who judge a noisy version of the first:

    >>> import numpy as np, pandas as pd
    >>> from emostat.constants import pair_indices
    >>> rng = np.random.default_rng(0)
    >>> concepts = list("abcdefghijkl")
    >>> i, j = pair_indices(12)
    >>> x = rng.normal(size=(12, 2))
    >>> truth = np.sqrt(((x[i] - x[j]) ** 2).sum(axis=1))
    >>> raters = pd.DataFrame([(p, concepts[i[k]], concepts[j[k]], truth[k] + rng.normal())
    ...                        for p in range(15) for k in range(len(i))],
    ...                       columns=["participant", "concept_a", "concept_b", "value"])
    >>> models = {"good": truth + rng.normal(0, .3, len(i)), "noise": rng.normal(size=len(i))}
    >>> res = rsa_evaluate(models, raters, comparator="rho_a", n_boot=500, seed=1,
    ...                    concepts=concepts)
    >>> res.models[["model", "estimate", "ceiling_low", "ceiling_high", "conf_low",
    ...             "p_value"]].round(3)
       model  estimate  ceiling_low  ceiling_high  conf_low  p_value
    0   good     0.557        0.561          0.63     0.457    0.000
    1  noise     0.073        0.561          0.63    -0.101    0.202
    >>> res.differences[["model_a", "model_b", "estimate", "p_value"]].round(3)
      model_a model_b  estimate  p_value
    0    good   noise     0.484      0.0
    >>> print(res.models.unit[0])
    raters (15) and concepts (12)

    The good model reaches the lower bound of the ceiling (.561): it explains the raters as
    well as they explain one another.
    """
    m_ids, m_con, X = _as_rdms(models, "model", "models", concepts)
    order = m_con if m_con is not None else concepts
    r_ids, r_con, Y = _as_rdms(raters, "participant", "raters", order)
    if m_con is not None and r_con is not None and list(m_con) != list(r_con):
        raise InputError("models and raters name different concept orders")
    if (m_con is None) != (r_con is None) and concepts is None:
        raise InputError("models and raters: one is a labelled table and the other an array; "
                         "pass concepts=[...] (the array's concept order)")
    if m_con is None and r_con is not None:                 # re-read the models in that order
        m_ids, _, X = _as_rdms(models, "model", "models", r_con)
    names = [str(x) for x in m_ids] if m_ids[0] is not None else [
        f"model_{k + 1}" for k in range(len(X))]
    tables = rsa_tables(X, Y, names, comparator=comparator, estimand=estimand,
                        inference=inference, n_boot=n_boot, n_perm=n_perm, seed=seed,
                        contrasts=contrasts, correction=correction, small_sample=small_sample,
                        level=level, n_splits=n_splits, progress=progress)
    lead = ["model", "comparator", "estimand", "estimate", "ceiling_low", "ceiling_high",
            "conf_low", "conf_high", "conf_method", "p_value", "p_method", "unit"]
    m = tables["models"]
    tables["models"] = m[lead + [c for c in m.columns if c not in lead]]
    return RSAResult(tables["models"], tables["ceiling"], tables["differences"],
                     tables["contrasts"], list(r_con or m_con or concepts or []),
                     [str(x) for x in r_ids] if r_ids[0] is not None else [])
