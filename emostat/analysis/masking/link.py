"""The drop–importance link: does masking hurt most for the attributes that matter most to humans?

The study (Li et al. 2024) correlates, for each emotion, the mean accuracy drop of the 14
attribute masks with the 14 attributes' human importance (Pearson r over attributes), Fisher-z
transforms the 27 r's and tests their mean with a one-sample t(26). All 27 r's share ONE
importance vector, so the replicates of this correlation are the 14 attributes, not the 27
emotions (``docs/inference.md``). Three tests per k, one row each:

``study_t`` (role ``study``)
    the study's t(26) over the concepts' Fisher-z r, two-sided; estimate and CI back-transformed.
``attribute_permutation`` (role ``record``)
    the same statistic (mean Fisher z over concepts) under permutations of the importance values
    across attributes, ONE permutation applied to every concept; two-sided
    (``|mean z|``), Monte Carlo ``(1 + #{|T*| >= |T|}) / (1 + n_perm)`` or exact enumeration.
``attribute_level_r`` (role ``record``)
    Pearson r over the 14 attributes between the attribute's mean drop (over concepts) and its
    importance; t test with df = attributes − 2, two-sided; Fisher-z CI (R ``cor.test``).

Sign: ``drop`` = random − attribute-specific accuracy (``docs/inference.md``), so a positive r
means larger drops for more important attributes; the study's ACC.diff-based r is its negative.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from emostat.checks import require_columns
from emostat.analysis.engines.mantel import (MAX_PERM_FACTOR, check_n_perm, exact_if_fewer,
                                             mc_columns, perm_blocks, undecided)
from emostat.errors import InputError
from emostat.space import load_space

__all__ = ["drop_matrix", "link_test", "link_by_concept", "perm_mean_z", "perm_test",
           "pooled_drops"]

_EXACT_MAX = 9           # 9! = 362,880 permutations
_CHUNK = 4096
_TOL = 1e-12             # permuted statistics within this of the observed count as ties

def drop_matrix(drops: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Mean accuracy drop per k as an concepts × attributes matrix.

    Parameters
    ----------
    drops : DataFrame
        Columns ``k``, ``concept``, ``attribute`` and ``drop`` (random − attribute-specific
        accuracy) or ``diff`` (the study's ACC.diff = attribute − random; ``drop = −diff``), one
        row per prompt or per cell; rows of a cell are averaged.

    Returns
    -------
    dict k -> DataFrame (concepts × attributes), study order, NaN where a cell is missing.
    """
    if "drop" in drops.columns:
        value = drops["drop"].astype(float)
    elif "diff" in drops.columns:
        value = -drops["diff"].astype(float)
    else:
        raise InputError("link: the drops table needs a 'drop' (random − attribute) or a 'diff' "
                         f"(attribute − random) column (has {list(drops.columns)})")
    require_columns(drops, ["k", "concept", "attribute"], "link: drops table")
    d = drops[["k", "concept", "attribute"]].assign(drop=value)
    # the study space's names first, in its order (concepts alphabetical, attributes grouped)
    study = load_space("study")
    known_c, known_a = sorted(study.concepts), list(study.attributes)
    out = {}
    for k, g in d.groupby("k", sort=True):
        m = g.pivot_table(index="concept", columns="attribute", values="drop", aggfunc="mean")
        emo = [e for e in known_c if e in m.index] + sorted(set(m.index) - set(known_c))
        att = [a for a in known_a if a in m.columns] + sorted(set(m.columns) - set(known_a))
        out[int(k)] = m.loc[emo, att]
    return out


def _importance(importance, attributes) -> np.ndarray:
    imp = pd.Series(importance, dtype=float)
    missing = sorted(set(attributes) - set(imp.index))
    if missing:
        raise InputError(f"link: importance has no value for attribute(s) {missing}")
    v = imp.reindex(attributes).to_numpy(float)
    if not np.isfinite(v).all():
        raise InputError("link: importance contains NaN")
    return v


def _standardise_rows(X: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (so a dot product is Pearson r); NaN for constant."""
    Xc = X - X.mean(axis=1, keepdims=True)
    norm = np.sqrt((Xc ** 2).sum(axis=1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, Xc / norm, np.nan)


def _mean_z(Dn: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Mean over concepts of atanh(r) for each importance vector (row of V, standardised)."""
    R = np.clip(Dn @ V.T, -1.0, 1.0)         # (concepts, perms)
    with np.errstate(divide="ignore"):
        return np.arctanh(R).mean(axis=0)


def perm_mean_z(D, importance, n_perm=10_000, seed=0) -> tuple[float, float, int]:
    """Attribute-label permutation test of the mean Fisher-z correlation.

    Parameters
    ----------
    D : array (concepts, attributes)
        Mean drop per concept and attribute, no NaN. Concepts whose drops are constant are
        dropped (their r is undefined), as in the study.
    importance : array (attributes,)
    n_perm : int or "exact"
        Seeded random permutations of the attribute labels of ``importance`` (one permutation for
        all concepts), or ``"exact"``: all n! of them (n <= 9).
    seed : int

    Returns
    -------
    (observed mean z, two-sided p, number of permutations)
        Monte Carlo p = (1 + #{|T*| >= |T|}) / (1 + n_perm); exact p = #{|T*| >= |T|} / n!
        (the identity is among them).
    """
    D = np.asarray(D, dtype=float)
    v = np.asarray(importance, dtype=float)
    if D.ndim != 2 or v.shape != (D.shape[1],):
        raise InputError(f"link: D must be (concepts, attributes) and importance (attributes,); "
                         f"got {D.shape} and {v.shape}")
    if np.isnan(D).any():
        raise InputError("link: the drop matrix has missing cells (concept × attribute)")
    n = D.shape[1]
    if n < 3:
        raise InputError(f"link: need at least 3 attributes, got {n}")
    if np.ptp(v) == 0:
        raise InputError("link: importance is constant; r is undefined")
    Dn = _standardise_rows(D)
    Dn = Dn[np.isfinite(Dn).all(axis=1)]
    n_perm = check_n_perm(n_perm, n, _EXACT_MAX, "link")
    vn = _standardise_rows(v[None, :])[0]
    obs = float(_mean_z(Dn, vn[None, :])[0])
    count, total = 0, 0
    for perms in perm_blocks(n, n_perm, seed, chunk=_CHUNK):
        t = _mean_z(Dn, vn[perms])
        count += int((np.abs(t) >= abs(obs) - _TOL * max(1.0, abs(obs))).sum())
        total += len(perms)
    p = count / total if n_perm == "exact" else (1 + count) / (1 + total)
    return obs, float(p), total


def perm_test(stat, n: int, n_perm, seed, *, alpha: float = 0.05,
              max_perm: int | None = None) -> dict:
    """Two-sided label-permutation test of ``stat`` (rows of permutations of range(n) ->
    statistics), exact when the n! orderings are no more than the draws requested.

    Monte Carlo draws are doubled (same seed) while the Clopper-Pearson interval of the p
    contains ``alpha``, up to ``max_perm`` (default 8 x n_perm); the last draw count is kept.

    Returns dict ``obs, p_value, exceed, n_perm, exact`` (+ the contract's ``p_floor, p_mc_low,
    p_mc_high, mc_warning``).
    """
    obs = float(stat(np.arange(n)[None, :])[0])
    tol = _TOL * max(1.0, abs(obs))
    n_perm = exact_if_fewer(n_perm, n, _EXACT_MAX)
    n_perm = check_n_perm(n_perm, n, _EXACT_MAX, "link")
    cap = None if n_perm == "exact" else (max_perm or MAX_PERM_FACTOR * n_perm)
    while True:
        count, total = 0, 0
        for perms in perm_blocks(n, n_perm, seed, chunk=_CHUNK):
            count += int((np.abs(stat(perms)) >= abs(obs) - tol).sum())
            total += len(perms)
        exact = n_perm == "exact"
        if exact or not undecided(count, total, alpha)[0] or 2 * n_perm > cap:
            break
        n_perm *= 2
    p = count / total if exact else (1 + count) / (1 + total)
    mc = {k: v[0] for k, v in mc_columns(count, total, exact, alpha).items()}
    return dict(obs=obs, p_value=float(p), exceed=count, n_perm=total, exact=exact, **mc)


def pooled_drops(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Drops against the pooled random null: per prompt and k, the mean accuracy over ALL
    random masks of that k minus the attribute mask's accuracy (column ``drop``)."""
    require_columns(accuracy, ["concept", "template", "condition", "attribute", "k", "accuracy"],
                    "link: accuracy table")
    prompt = (["model"] if "model" in accuracy.columns else []) + ["concept", "template", "k"]
    rnd = (accuracy[accuracy["condition"] == "random"].groupby(prompt)["accuracy"].mean()
           .rename("acc_random"))
    att = accuracy[accuracy["condition"] == "attribute"]
    if rnd.empty or att.empty:
        raise InputError("link: the pooled null needs attribute and random rows")
    m = att.join(rnd, on=prompt)
    return m.assign(drop=m["acc_random"] - m["accuracy"])[prompt + ["attribute", "drop"]]


def _pearson(x: np.ndarray, y: np.ndarray, level: float):
    """r, t, df, two-sided p, Fisher-z CI (as R cor.test); NaN where undefined."""
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (np.nan,) * 5 + (n - 2,)
    res = stats.pearsonr(x, y)
    r, p, df = float(res.statistic), float(res.pvalue), n - 2
    t = r * math.sqrt(df / (1 - r * r)) if abs(r) < 1 else math.copysign(math.inf, r)
    if n > 3:
        ci = res.confidence_interval(confidence_level=level)   # Fisher z, as R cor.test
        lo, hi = float(ci.low), float(ci.high)
    else:
        lo = hi = np.nan
    return r, t, p, lo, hi, df


def link_by_concept(drops: pd.DataFrame, importance, *, level: float = 0.95) -> pd.DataFrame:
    """Per concept and k: Pearson r over attributes between the accuracy drop and importance.

    The ingredient of the study's test (role ``study``): each r has df = attributes − 2 and a
    Fisher-z CI as R ``cor.test``; the 27 r's are not independent (they share the importance).

    Returns
    -------
    DataFrame
        ``k, concept, estimate, statistic, df, p_value, conf_low, conf_high, fisher_z, n,
        p_method, unit, role``.
    """
    rows = []
    for k, D in drop_matrix(drops).items():
        v = _importance(importance, list(D.columns))
        for concept, x in D.iterrows():
            x = x.to_numpy(float)
            ok = np.isfinite(x)
            r, t, p, lo, hi, df = _pearson(x[ok], v[ok], level)
            rows.append((k, concept, r, t, df, p, lo, hi,
                         math.atanh(r) if np.isfinite(r) and abs(r) < 1 else np.nan,
                         int(ok.sum())))
    out = pd.DataFrame(rows, columns=["k", "concept", "estimate", "statistic", "df", "p_value",
                                      "conf_low", "conf_high", "fisher_z", "n"])
    n_att = int(out["n"].max()) if len(out) else 0
    return out.assign(p_method="Pearson r over attributes, t test, two-sided (R cor.test)",
                      unit=f"attribute ({n_att})", role="study")


def link_test(drops: pd.DataFrame, importance, *, n_perm=10_000, seed: int = 0,
              level: float = 0.95, pooled: pd.DataFrame | None = None,
              alpha: float = 0.05) -> pd.DataFrame:
    """The drop–importance link per k: the study's t(26) and the attribute-level tests.

    Parameters
    ----------
    drops : DataFrame
        ``k, concept, attribute`` and ``drop`` (random − attribute-specific accuracy) or ``diff``
        (the study's ACC.diff); prompts of a cell are averaged (see :func:`drop_matrix`).
        The release's: each attribute mask against its one random twin.
    importance : Series or dict
        attribute -> human importance.
    n_perm : int or "exact"
        Attribute-label permutations; exact enumeration whenever n! <= n_perm; doubled while
        the Monte-Carlo interval contains ``alpha`` (:func:`perm_test`).
    seed : int
        Seed of the permutations; every k uses the same draws.
    level : float
        CI level.
    pooled : DataFrame, optional
        Drops against the pooled random null (:func:`pooled_drops`). When given, its
        attribute-level r is the test of record and the rows of ``drops`` are the study's.

    Returns
    -------
    DataFrame, per k the rows ``study_t`` (role study), ``attribute_permutation`` (mean Fisher z
    over concepts, attribute-label permutation) and ``attribute_level_r`` (Pearson r over the
    attributes' mean drops; p by attribute-label permutation, Fisher-z CI over attributes,
    ``p_value_t`` the t test), and with ``pooled`` the same two tests suffixed ``_pooled``.
    Exactly one row per k has role ``record``. Columns ``k, test, role, estimate, std_error,
    statistic, df, p_value, conf_low, conf_high, conf_method, p_method, unit, n_concepts,
    n_attributes, n_perm, p_floor, p_mc_low, p_mc_high, mc_warning, p_value_t``.
    """
    rows = []
    per = link_by_concept(drops, importance, level=level)
    sets = [("", drops)] + ([("_pooled", pooled)] if pooled is not None else [])
    for suffix, table in sets:
        for k, D in drop_matrix(table).items():
            D = D.dropna(axis=1, how="any")
            v = _importance(importance, list(D.columns))
            base = "study" if suffix == "" and pooled is not None else "extra"
            record = "record" if suffix == "_pooled" or pooled is None else "study"
            if suffix == "":
                rows.append(_study_row(k, per, D.shape[1], level))
            rows += _attribute_rows(k, D, v, suffix, base, record, n_perm, seed, level, alpha)
    out = pd.DataFrame(rows)
    return out.astype({"n_perm": "int64", "n_concepts": "int64", "n_attributes": "int64",
                       "k": "int64"})


_MC_NONE = dict(p_floor=np.nan, p_mc_low=np.nan, p_mc_high=np.nan, mc_warning="")


def _study_row(k, per, n_att, level) -> dict:
    z = per.loc[per["k"] == k, "fisher_z"].dropna().to_numpy(float)
    row = dict(k=k, test="study_t", role="study", std_error=np.nan, p_value_t=np.nan,
               p_method="one-sample t of the concepts' Fisher-z r against 0, two-sided "
                        "(the study's; treats concepts as independent)",
               conf_method=f"t over {z.size} concepts' Fisher z (back-transformed)",
               unit=f"concept ({z.size})", n_concepts=z.size, n_attributes=n_att, n_perm=0,
               **_MC_NONE)
    if z.size < 2:
        return row | dict(estimate=np.nan, statistic=np.nan, df=np.nan, p_value=np.nan,
                          conf_low=np.nan, conf_high=np.nan,
                          p_method="one-sample t of the concepts' Fisher-z r (undefined: < 2)")
    m, se = z.mean(), z.std(ddof=1) / math.sqrt(z.size)
    t = m / se
    crit = stats.t.ppf(0.5 + level / 2, z.size - 1)
    return row | dict(estimate=math.tanh(m), std_error=se, statistic=t, df=z.size - 1,
                      p_value=float(2 * stats.t.sf(abs(t), z.size - 1)),
                      conf_low=math.tanh(m - crit * se), conf_high=math.tanh(m + crit * se))


def _how(res) -> str:
    return ("exact, all n! orderings, #{|T*| >= |T|} / n!" if res["exact"]
            else f"{res['n_perm']} seeded permutations, (1 + #{{|T*| >= |T|}}) / (1 + n_perm)")


def _attribute_rows(k, D, v, suffix, base, record, n_perm, seed, level, alpha) -> list:
    n_att, n_conc = D.shape[1], D.shape[0]
    unit_a = f"attribute ({n_att})"
    null = "the pooled random masks" if suffix else "each attribute's random twin"
    rows = []
    common = dict(k=k, unit=unit_a, n_concepts=n_conc, n_attributes=n_att, std_error=np.nan)
    if n_att < 3 or np.ptp(v) == 0 or n_conc < 1:
        return rows
    Dn = _standardise_rows(D.to_numpy(float))
    Dn = Dn[np.isfinite(Dn).all(axis=1)]
    vn = _standardise_rows(v[None, :])[0]
    if len(Dn):
        res = perm_test(lambda P: _mean_z(Dn, vn[P]), n_att, n_perm, seed, alpha=alpha)
        rows.append(common | dict(
            test="attribute_permutation" + suffix, role=base, estimate=math.tanh(res["obs"]),
            statistic=res["obs"], df=np.nan, p_value=res["p_value"], conf_low=np.nan,
            conf_high=np.nan, conf_method="", p_value_t=np.nan, n_perm=res["n_perm"],
            p_method="attribute-label permutation of importance (one permutation for all "
                     f"concepts) of the mean Fisher-z r, drops against {null}, two-sided; "
                     + _how(res),
            **{c: res[c] for c in _MC_NONE}))
    x = D.mean(axis=0).to_numpy(float)
    r, t, p_t, lo, hi, df = _pearson(x, v, level)
    if np.isfinite(r):
        xn = _standardise_rows(x[None, :])[0]
        res = perm_test(lambda P: vn[P] @ xn, n_att, n_perm, seed, alpha=alpha)
        p, mc, total = res["p_value"], {c: res[c] for c in _MC_NONE}, res["n_perm"]
        how = _how(res)
    else:
        p, mc, total, how = np.nan, _MC_NONE, 0, "undefined"
    rows.append(common | dict(
        test="attribute_level_r" + suffix, role=record, estimate=r, statistic=t, df=df,
        p_value=p, conf_low=lo, conf_high=hi, p_value_t=p_t, n_perm=total,
        conf_method=f"Fisher z over {n_att} attributes (scipy pearsonr)",
        p_method=f"Pearson r of the attributes' mean drop (over concepts, against {null}) "
                 f"with importance; attribute-label permutation, two-sided; {how}", **mc))
    return rows
