"""The drop–importance link: does masking hurt most for the attributes that matter most to humans?

The study (Li et al. 2024) correlates, for each emotion, the mean accuracy drop of the 14
attribute masks with the 14 attributes' human importance (Pearson r over attributes), Fisher-z
transforms the 27 r's and tests their mean with a one-sample t(26). All 27 r's share ONE
importance vector, so the replicates of this correlation are the 14 attributes, not the 27
emotions (``docs/inference.md``). Three tests per k, one row each:

``study_t`` (role ``study``)
    the study's t(26) over the emotions' Fisher-z r, two-sided; estimate and CI back-transformed.
``attribute_permutation`` (role ``record``)
    the same statistic (mean Fisher z over emotions) under permutations of the importance values
    across attributes, ONE permutation applied to every emotion; two-sided
    (``|mean z|``), Monte Carlo ``(1 + #{|T*| >= |T|}) / (1 + n_perm)`` or exact enumeration.
``attribute_level_r`` (role ``record``)
    Pearson r over the 14 attributes between the attribute's mean drop (over emotions) and its
    importance; t test with df = attributes − 2, two-sided; Fisher-z CI (R ``cor.test``).

Sign: ``drop`` = random − attribute-specific accuracy (``docs/inference.md``), so a positive r
means larger drops for more important attributes; the study's ACC.diff-based r is its negative.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from emostat.analysis.mantel import check_n_perm, perm_blocks
from emostat.constants import ATTRIBUTES, EMOTIONS
from emostat.errors import InputError

__all__ = ["drop_matrix", "link_test", "link_by_emotion", "perm_mean_z"]

_EXACT_MAX = 9           # 9! = 362,880 permutations
_CHUNK = 4096
_TOL = 1e-12             # permuted statistics within this of the observed count as ties

COLUMNS = ["k", "test", "role", "estimate", "std_error", "statistic", "df", "p_value",
           "conf_low", "conf_high", "p_method", "unit", "n_emotions", "n_attributes", "n_perm"]


def _require(df: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {missing} (has {list(df.columns)})")


def drop_matrix(drops: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Mean accuracy drop per k as an emotions × attributes matrix.

    Parameters
    ----------
    drops : DataFrame
        Columns ``k``, ``emotion``, ``attribute`` and ``drop`` (random − attribute-specific
        accuracy) or ``diff`` (the study's ACC.diff = attribute − random; ``drop = −diff``), one
        row per prompt or per cell; rows of a cell are averaged.

    Returns
    -------
    dict k -> DataFrame (emotions × attributes), study order, NaN where a cell is missing.
    """
    if "drop" in drops.columns:
        value = drops["drop"].astype(float)
    elif "diff" in drops.columns:
        value = -drops["diff"].astype(float)
    else:
        raise InputError("link: the drops table needs a 'drop' (random − attribute) or a 'diff' "
                         f"(attribute − random) column (has {list(drops.columns)})")
    _require(drops, ["k", "emotion", "attribute"], "link: drops table")
    d = drops[["k", "emotion", "attribute"]].assign(drop=value)
    out = {}
    for k, g in d.groupby("k", sort=True):
        m = g.pivot_table(index="emotion", columns="attribute", values="drop", aggfunc="mean")
        emo = [e for e in EMOTIONS if e in m.index] + sorted(set(m.index) - set(EMOTIONS))
        att = [a for a in ATTRIBUTES if a in m.columns] + sorted(set(m.columns) - set(ATTRIBUTES))
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
    """Mean over emotions of atanh(r) for each importance vector (row of V, standardised)."""
    R = np.clip(Dn @ V.T, -1.0, 1.0)         # (emotions, perms)
    with np.errstate(divide="ignore"):
        return np.arctanh(R).mean(axis=0)


def perm_mean_z(D, importance, n_perm=10_000, seed=0) -> tuple[float, float, int]:
    """Attribute-label permutation test of the mean Fisher-z correlation.

    Parameters
    ----------
    D : array (emotions, attributes)
        Mean drop per emotion and attribute, no NaN. Emotions whose drops are constant are
        dropped (their r is undefined), as in the study.
    importance : array (attributes,)
    n_perm : int or "exact"
        Seeded random permutations of the attribute labels of ``importance`` (one permutation for
        all emotions), or ``"exact"``: all n! of them (n <= 9).
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
        raise InputError(f"link: D must be (emotions, attributes) and importance (attributes,); "
                         f"got {D.shape} and {v.shape}")
    if np.isnan(D).any():
        raise InputError("link: the drop matrix has missing cells (emotion × attribute)")
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


def _pearson(x: np.ndarray, y: np.ndarray, level: float):
    """r, t, df, two-sided p, Fisher-z CI (as R cor.test); NaN where undefined."""
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (np.nan,) * 5 + (n - 2,)
    r = float(np.clip(np.corrcoef(x, y)[0, 1], -1, 1))
    df = n - 2
    t = r * math.sqrt(df / (1 - r * r)) if abs(r) < 1 else math.copysign(math.inf, r)
    p = float(2 * stats.t.sf(abs(t), df))
    if n > 3:
        z, half = math.atanh(r) if abs(r) < 1 else math.copysign(math.inf, r), \
            stats.norm.ppf(0.5 + level / 2) / math.sqrt(n - 3)
        lo, hi = math.tanh(z - half), math.tanh(z + half)
    else:
        lo = hi = np.nan
    return r, t, p, lo, hi, df


def link_by_emotion(drops: pd.DataFrame, importance, *, level: float = 0.95) -> pd.DataFrame:
    """Per emotion and k: Pearson r over attributes between the accuracy drop and importance.

    The ingredient of the study's test (role ``study``): each r has df = attributes − 2 and a
    Fisher-z CI as R ``cor.test``; the 27 r's are not independent (they share the importance).

    Returns
    -------
    DataFrame
        ``k, emotion, estimate, statistic, df, p_value, conf_low, conf_high, fisher_z, n,
        p_method, unit, role``.
    """
    rows = []
    for k, D in drop_matrix(drops).items():
        v = _importance(importance, list(D.columns))
        for emo, x in D.iterrows():
            x = x.to_numpy(float)
            ok = np.isfinite(x)
            r, t, p, lo, hi, df = _pearson(x[ok], v[ok], level)
            rows.append((k, emo, r, t, df, p, lo, hi,
                         math.atanh(r) if np.isfinite(r) and abs(r) < 1 else np.nan,
                         int(ok.sum())))
    out = pd.DataFrame(rows, columns=["k", "emotion", "estimate", "statistic", "df", "p_value",
                                      "conf_low", "conf_high", "fisher_z", "n"])
    n_att = int(out["n"].max()) if len(out) else 0
    return out.assign(p_method="Pearson r over attributes, t test, two-sided (R cor.test)",
                      unit=f"attribute ({n_att})", role="study")


def link_test(drops: pd.DataFrame, importance, *, n_perm=10_000, seed: int = 0,
              level: float = 0.95) -> pd.DataFrame:
    """The drop–importance link per k: the study's t(26) and the attribute-level tests.

    Parameters
    ----------
    drops : DataFrame
        ``k, emotion, attribute`` and ``drop`` (random − attribute-specific accuracy) or ``diff``
        (the study's ACC.diff); prompts of a cell are averaged (see :func:`drop_matrix`).
    importance : Series or dict
        attribute -> human importance (the study: Kendall tau-b of the attribute RDM with the
        mean human RDM).
    n_perm : int or "exact"
        Attribute-label permutations (>= 10,000 recommended; "exact" for <= 9 attributes).
    seed : int
        Seed of the permutations; every k uses the same draws.
    level : float
        CI level.

    Returns
    -------
    DataFrame, three rows per k (``test`` = ``study_t``, ``attribute_permutation``,
    ``attribute_level_r``), columns ``k, test, role, estimate, std_error, statistic, df,
    p_value, conf_low, conf_high, p_method, unit, n_emotions, n_attributes, n_perm``.
    ``estimate`` is the back-transformed mean Fisher z for the first two and the attribute-level
    r for the third; ``statistic`` is t, mean z and t respectively.
    """
    rows = []
    per = link_by_emotion(drops, importance, level=level)
    for k, D in drop_matrix(drops).items():
        D = D.dropna(axis=1, how="any")
        v = _importance(importance, list(D.columns))
        n_att, n_emo = D.shape[1], D.shape[0]
        unit_a = f"attribute ({n_att})"
        # study: t over the emotions' Fisher z
        z = per.loc[per["k"] == k, "fisher_z"].dropna().to_numpy(float)
        if z.size >= 2:
            m, se = z.mean(), z.std(ddof=1) / math.sqrt(z.size)
            t = m / se
            crit = stats.t.ppf(0.5 + level / 2, z.size - 1)
            rows.append((k, "study_t", "study", math.tanh(m), se, t, z.size - 1,
                         float(2 * stats.t.sf(abs(t), z.size - 1)), math.tanh(m - crit * se),
                         math.tanh(m + crit * se),
                         "one-sample t of the emotions' Fisher-z r against 0, two-sided "
                         "(the study's; treats emotions as independent)",
                         f"emotion ({z.size})", z.size, n_att, 0))
        else:
            rows.append((k, "study_t", "study") + (np.nan,) * 7
                        + ("one-sample t of the emotions' Fisher-z r (undefined: < 2 r's)",
                           f"emotion ({z.size})", z.size, n_att, 0))
        # record: attribute-label permutation of the same statistic
        ok = n_att >= 3 and np.ptp(v) > 0 and n_emo >= 1
        if ok:
            obs, p, total = perm_mean_z(D.to_numpy(float), v, n_perm=n_perm, seed=seed)
            how = ("exact, all permutations" if n_perm == "exact"
                   else f"{total} seeded permutations, (1 + #{{|T*| >= |T|}}) / (1 + n_perm)")
            rows.append((k, "attribute_permutation", "record", math.tanh(obs), np.nan, obs,
                         np.nan, p, np.nan, np.nan,
                         "attribute-label permutation of importance (one permutation for all "
                         f"emotions) of the mean Fisher-z r, two-sided; {how}", unit_a, n_emo,
                         n_att, total))
        # record: r over the attributes' mean drops
        x = D.mean(axis=0).to_numpy(float)
        r, t, p, lo, hi, df = _pearson(x, v, level)
        rows.append((k, "attribute_level_r", "record", r, np.nan, t, df, p, lo, hi,
                     "Pearson r of the attributes' mean drop (over emotions) with importance, "
                     "t test, two-sided; Fisher-z CI (R cor.test)", unit_a, n_emo, n_att, 0))
    return pd.DataFrame(rows, columns=COLUMNS).astype({"n_perm": "int64", "n_emotions": "int64",
                                                       "n_attributes": "int64", "k": "int64"})
