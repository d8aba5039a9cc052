"""Statistics of the masking experiment: attribute-specific vs random neuron ablation.

Pure pandas/numpy/scipy over the long ``accuracy`` dataset (see :mod:`emostat.schemas`). Follows
the study's R code (``Code/analysis_for_manipulation_experiment.R``, Li et al. 2024):

- ``ACC.diff`` = attribute-specific − paired random accuracy, per prompt × attribute × k
  (column ``diff``; the tests below report its negative, ``estimate`` = random − attribute,
  positive = the attribute mask lowers accuracy more: docs/inference.md);
- one-sided paired t-tests (H1: attribute < random, i.e. "greater" on the drop) per emotion × k
  (n = 14 attributes × seeds),
  per attribute × k (n = 27 emotions × seeds) and per cell emotion × attribute × k (n = seeds);
  each table corrected over ALL its rows (all k together) with the study's q = p·N/rank(p)
  (``q_value``), with proper BH (``q_value_bh``) and a sign-flip permutation p
  (``p_value_perm``) beside it;
- link to humans: Pearson r across the 14 attributes between the mean accuracy drop and the
  attribute's importance (Kendall tau with the human RDM), Fisher-z averaged over emotions;
- Hartigan's dip test per attribute × k over the 27 emotions' mean ACC.diff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from emostat.checks import require_columns
from emostat.analysis.engines.multitest import fdr_bh, fdr_study
from emostat.analysis.engines.signflip import sign_flip_many
from emostat.errors import InputError

__all__ = ["acc_diff", "mask_rows", "mask_drops", "attribute_vs_null", "paired_tests", "masking_by_emotion", "masking_by_attribute",
           "masking_cells", "condition_means", "dip_tests"]

_BROOM = ["estimate", "std_error", "statistic", "df", "p_value", "conf_low", "conf_high"]


def _order(key: str, names) -> list:
    """Sort order of concept or attribute names: concepts alphabetically; attributes in the
    study space's order when they are its attributes, else in their order of appearance."""
    names = list(dict.fromkeys(v for v in names if pd.notna(v)))
    if key == "concept":
        return sorted(names)
    from emostat.space import load_space

    study = load_space().attributes
    return list(study) if set(names) <= set(study) else names


def _sort(df: pd.DataFrame, keys) -> pd.DataFrame:
    """Sort by ``keys``, concepts/attributes in the order of :func:`_order`."""
    tmp = df.copy()
    sort_cols = []
    for key in keys:
        if key in ("concept", "attribute") and key in tmp.columns:
            rank = {v: i for i, v in enumerate(_order(key, tmp[key]))}
            tmp[f"_{key}"] = tmp[key].map(rank).fillna(len(rank))
            sort_cols += [f"_{key}", key]
        else:
            sort_cols.append(key)
    tmp = tmp.sort_values(sort_cols, kind="stable")
    return tmp.drop(columns=[c for c in tmp.columns if c.startswith("_")]).reset_index(drop=True)


def acc_diff(accuracy: pd.DataFrame, *, per_draw: bool = False) -> pd.DataFrame:
    """Paired accuracy differences, attribute-specific − random, per prompt × attribute × k.

    Parameters
    ----------
    accuracy : DataFrame, schema ``accuracy``
        Long accuracies with conditions "none", "attribute" and "random".
    per_draw : bool, default False
        False: the paired random accuracy is the MEAN over the random draws of that
        (prompt, attribute, k) (the release has one draw, so this is that draw). True: one row
        per draw, ``acc_random`` and ``diff`` of that draw only (the per-draw null).

    Returns
    -------
    DataFrame
        Columns ``model`` (when present), ``concept``, ``template``, ``attribute``, ``k``,
        [``draw`` if per_draw], ``acc_attribute``, ``acc_random``, ``acc_none``, ``diff``
        (= acc_attribute − acc_random), ``n_draws`` (random draws averaged; 1 per row when
        per_draw). Only the k present in both conditions are kept (as the study's code does).
    """
    require_columns(accuracy, ["concept", "template", "condition", "attribute", "k", "accuracy"],
                    "accuracy table")
    acc = accuracy.copy()
    model = ["model"] if "model" in acc.columns else []
    prompt = model + ["concept", "template"]
    cell = prompt + ["attribute", "k"]
    none = acc[acc["condition"] == "none"]
    att = acc[acc["condition"] == "attribute"]
    rnd = _pair_shared(acc[acc["condition"] == "random"], att)
    if none.empty or att.empty or rnd.empty:
        raise InputError("accuracy table: needs rows of all three conditions none, attribute, "
                         f"random (has {sorted(acc['condition'].unique())})")
    if none.duplicated(prompt).any():
        raise InputError("accuracy table: more than one 'none' row for a prompt")
    if att.duplicated(cell).any():
        raise InputError("accuracy table: more than one 'attribute' row for a prompt/attribute/k")
    none = none[prompt + ["accuracy"]].rename(columns={"accuracy": "acc_none"})
    att = att[cell + ["accuracy"]].rename(columns={"accuracy": "acc_attribute"})
    if "draw" not in rnd.columns:
        rnd = rnd.assign(draw=0)
    rnd = rnd[cell + ["draw", "accuracy"]].rename(columns={"accuracy": "acc_random"})
    for frame in (att, rnd):
        frame["k"] = frame["k"].astype("int64")
    if per_draw:
        rnd = rnd.assign(n_draws=1)
    else:
        rnd = (rnd.groupby(cell, sort=False, dropna=False)
               .agg(acc_random=("acc_random", "mean"), n_draws=("acc_random", "size"))
               .reset_index())
    out = att.merge(rnd, on=cell, how="inner").merge(none, on=prompt, how="left")
    if out.empty:
        raise InputError("accuracy table: no (prompt, attribute, k) has both an attribute and a "
                         "random accuracy")
    if out["acc_none"].isna().any():
        bad = out.loc[out["acc_none"].isna(), prompt].drop_duplicates().head(3)
        raise InputError(f"accuracy table: no unmanipulated ('none') accuracy for {bad.values}")
    out["diff"] = out["acc_attribute"] - out["acc_random"]
    keys = cell + (["draw"] if per_draw else [])
    cols = keys + ["acc_attribute", "acc_random", "acc_none", "diff", "n_draws"]
    return _sort(out[cols], ["k"] + model + ["concept", "template", "attribute"]
                 + (["draw"] if per_draw else []))


def _pair_shared(rnd: pd.DataFrame, att: pd.DataFrame) -> pd.DataFrame:
    """Random rows of shared draws (null attribute) paired with every attribute of their k,
    in memory, for the study's paired tests (the stored table holds each draw once)."""
    shared = rnd["attribute"].isna()
    if not shared.any():
        return rnd
    parts = [rnd[~shared]]
    for k, names in att.groupby("k")["attribute"].unique().items():
        s = rnd[shared & (rnd["k"] == k)]
        parts += [s.assign(attribute=a) for a in names]
    return pd.concat(parts, ignore_index=True)


def mask_rows(accuracy: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Attribute and random rows with one ``mask`` id each, every mask once per prompt.

    A mask is ``condition_id`` when the table has it (collected runs), else
    ``"<condition>:<attribute>:<draw>"`` (the release: one random set per attribute and k).
    Shared random draws copied per attribute (runs collected before the copies were dropped)
    are de-duplicated on ``condition_id``.

    Returns
    -------
    (DataFrame, bool)
        The rows (columns of ``accuracy`` plus ``mask``) and whether random masks are shared by
        all attributes (not paired one-to-one with an attribute).
    """
    require_columns(accuracy, ["concept", "template", "condition", "attribute", "k", "accuracy"],
                    "accuracy table")
    acc = accuracy[accuracy["condition"].isin(["attribute", "random"])].copy()
    if "condition_id" in acc.columns and acc["condition_id"].notna().all():
        acc["mask"] = acc["condition_id"].astype(str)
    else:
        draw = acc["draw"] if "draw" in acc.columns else pd.Series(0, index=acc.index)
        draw = pd.to_numeric(draw, errors="coerce").astype("Int64")
        acc["mask"] = (acc["condition"].astype("string").fillna("") + ":"
                       + acc["attribute"].astype("string").fillna("") + ":"
                       + draw.astype("string").fillna("0")).astype(str)
    rnd = acc["condition"] == "random"
    per_mask = acc[rnd].groupby("mask")["attribute"].nunique(dropna=False)
    shared = bool(acc.loc[rnd, "attribute"].isna().any() or (per_mask > 1).any())
    keys = [c for c in ("model", "concept", "template", "k", "mask") if c in acc.columns]
    acc = acc.drop_duplicates(keys)
    if shared:
        acc.loc[acc["condition"] == "random", "attribute"] = None
    return acc.reset_index(drop=True), shared


def _t_summary(g: pd.DataFrame, alternative: str, level: float) -> pd.DataFrame:
    """Broom columns of the one-sample t-test of ``diff`` vs 0 from group aggregates."""
    n = g["n"].to_numpy(float)
    se = g["sd"].to_numpy(float) / np.sqrt(n)
    est = g["mean"].to_numpy(float)
    df = n - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    # constant differences (se = 0, e.g. one item per prompt): t is undefined, as R's t.test
    # refuses ("data are essentially constant"); report NaN rather than an infinite t
    t = np.where(se > 0, t, np.nan)
    if alternative == "less":
        p = stats.t.cdf(t, df)
    elif alternative == "greater":
        p = stats.t.sf(t, df)
    elif alternative == "two-sided":
        p = 2 * stats.t.sf(np.abs(t), df)
    else:
        raise ValueError(f"alternative must be less, greater or two-sided, got {alternative!r}")
    crit = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame({"estimate": est, "std_error": se, "statistic": t, "df": df,
                         "p_value": p, "conf_low": est - crit * se,
                         "conf_high": est + crit * se}, index=g.index)


def paired_tests(diff: pd.DataFrame, by, alternative: str = "greater", n_perm: int = 10_000,
                 seed: int = 0, *, level: float = 0.95) -> pd.DataFrame:
    """The study's paired t-test of random vs attribute accuracy per group (role "study").

    Tests the extra drop ``acc_random − acc_attribute`` (= −``diff``) against 0: the study's
    one-sided "less" test of ACC.diff is the "greater" test here (same p, t of opposite sign).
    The replicates are the group's prompt × attribute rows, as in the study; the masks are not
    units here (see :func:`emostat.analysis.masking.models.masking_mixed_model` for the test of record).

    Parameters
    ----------
    diff : DataFrame from :func:`acc_diff` (one row per prompt × attribute × k)
    by : list of str
        Grouping columns, e.g. ``["k", "concept"]``.
    alternative : {"greater", "less", "two-sided"}, default "greater"
        H1 of the t-test and the sign-flip test on the drop ("greater": the attribute mask
        lowers accuracy more, the study's H1).
    n_perm : int
        Random sign vectors of the permutation test for groups of n > 16 (smaller n: exact).
    seed : int
    level : float, default 0.95
        Confidence level of the TWO-SIDED interval ``conf_low, conf_high`` (the study plots
        R's two-sided ``t.test(paired = TRUE)$conf.int`` next to one-sided p-values).

    Returns
    -------
    DataFrame
        ``by`` columns, then ``estimate`` (mean of random − attribute accuracy), ``std_error``,
        ``statistic`` (t), ``df`` (n − 1), ``p_value``, ``conf_low``, ``conf_high``, ``n``,
        ``q_value`` (the study's p·N/rank(p) over ALL rows of the table, capped at 1),
        ``q_value_bh`` (Benjamini–Hochberg over all rows), ``p_value_perm`` (sign-flip test of
        the mean, same alternative), ``acc_none``, ``acc_random``, ``acc_attribute``,
        ``p_method``, ``p_method_perm``, ``unit``, ``role`` ("study"), ``test`` ("study_t").

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"k": 100, "concept": "joy", "attribute": ["a", "b", "c", "d"],
    ...                   "template": "1", "acc_none": 0.9, "acc_random": [.80, .82, .79, .81],
    ...                   "acc_attribute": [.70, .75, .74, .78]})
    >>> d["diff"] = d["acc_attribute"] - d["acc_random"]
    >>> r = paired_tests(d, ["k", "concept"]).iloc[0]
    >>> float(round(r["estimate"], 4)), r["unit"], r["role"]
    (0.0625, 'attribute × template (4)', 'study')
    """
    by = [by] if isinstance(by, str) else list(by)
    require_columns(diff, by + ["diff", "acc_none", "acc_random", "acc_attribute"], "diff table")
    d = diff.assign(_drop=-diff["diff"])
    g = d.groupby(by, sort=True, dropna=False)
    agg = g.agg(n=("_drop", "count"), mean=("_drop", "mean"), sd=("_drop", "std"),
                acc_none=("acc_none", "mean"), acc_random=("acc_random", "mean"),
                acc_attribute=("acc_attribute", "mean"))
    res = _t_summary(agg, alternative, level)
    res["n"] = agg["n"].astype("int64")
    res["q_value"] = fdr_study(res["p_value"].to_numpy())
    res["q_value_bh"] = fdr_bh(res["p_value"].to_numpy())
    # group ids in the same (sorted) order as agg's index
    ids = g.ngroup().to_numpy()
    values = d["_drop"].to_numpy(float)
    order = np.argsort(ids, kind="stable")
    cuts = np.flatnonzero(np.diff(ids[order])) + 1
    res["p_value_perm"] = sign_flip_many(np.split(values[order], cuts), alternative, n_perm,
                                         seed)
    for c in ("acc_none", "acc_random", "acc_attribute"):
        res[c] = agg[c]
    side = {"two-sided": "two-sided"}.get(alternative, f"one-sided ({alternative})")
    res["p_method"] = f"paired t, {side}, df = n - 1"
    res["p_method_perm"] = (f"sign-flip permutation of the mean, {side}; exact for n <= 16, "
                            f"else {n_perm} random sign vectors")
    over = [c for c in ("attribute", "concept", "template") if c in diff.columns and c not in by]
    res["unit"] = [f"{' × '.join(over)} ({n})" for n in res["n"]]
    res["role"], res["test"] = "study", "study_t"
    return _sort(res.reset_index(), by)


def masking_by_emotion(diff: pd.DataFrame, **kw) -> pd.DataFrame:
    """:func:`paired_tests` per k × concept (n = 14 attributes × seeds; 168 in the study)."""
    return paired_tests(diff, ["k", "concept"], **kw)


def masking_by_attribute(diff: pd.DataFrame, **kw) -> pd.DataFrame:
    """:func:`paired_tests` per k × attribute (n = 27 emotions × seeds; 324 in the study)."""
    return paired_tests(diff, ["k", "attribute"], **kw)


def masking_cells(diff: pd.DataFrame, **kw) -> pd.DataFrame:
    """:func:`paired_tests` per k × concept × attribute (n = seeds; 12 in the study)."""
    return paired_tests(diff, ["k", "concept", "attribute"], **kw)


def condition_means(diff: pd.DataFrame, by=("k",)) -> pd.DataFrame:
    """Mean accuracy per condition (grand means, e.g. the study's 83.18 / 72.80 / 69.93 %).

    Returns
    -------
    DataFrame
        ``by`` columns, ``acc_none`` (mean over prompts, each prompt counted once),
        ``acc_random``, ``acc_attribute``, ``diff`` (means over prompt × attribute rows), ``n``.
    """
    by = list(by)
    g = diff.groupby(by, sort=True)
    out = g.agg(acc_random=("acc_random", "mean"), acc_attribute=("acc_attribute", "mean"),
                diff=("diff", "mean"), n=("diff", "size"))
    prompt = [c for c in ("model", "concept", "template") if c in diff.columns]
    base = diff.drop_duplicates(by + prompt).groupby(by, sort=True)["acc_none"].mean()
    out.insert(0, "acc_none", base)
    return out.reset_index()


def _cell_means(diff: pd.DataFrame) -> pd.DataFrame:
    require_columns(diff, ["k", "concept", "attribute", "diff"], "diff table")
    return diff.groupby(["k", "concept", "attribute"], sort=True)["diff"].mean().reset_index()


def dip_tests(diff: pd.DataFrame) -> pd.DataFrame:
    """Hartigan's dip test of unimodality per k × attribute over the emotions' mean ACC.diff.

    Uses the ``diptest`` package (p-value interpolated from the tabulated null, as R's
    ``diptest::dip.test``). The values tested are the cell means (over seeds) of ``diff``.

    Returns
    -------
    DataFrame
        ``k``, ``attribute``, ``statistic`` (dip D), ``p_value``, ``n`` (concepts).
    """
    import diptest

    cells = _cell_means(diff)
    rows = []
    for (k, attribute), g in cells.groupby(["k", "attribute"], sort=True):
        x = np.sort(g["diff"].to_numpy(float))
        d, p = diptest.diptest(x)
        rows.append((k, attribute, float(d), float(p), x.size))
    out = pd.DataFrame(rows, columns=["k", "attribute", "statistic", "p_value", "n"])
    return _sort(out, ["k", "attribute"])


def mask_drops(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Each mask's mean accuracy drop per k: mean over prompts of acc(none) − acc(mask).

    Returns
    -------
    DataFrame
        ``k, mask, condition, attribute`` (null for shared random masks), ``drop``,
        ``n_prompts``. Every mask once (see :func:`mask_rows`).
    """
    rows, _ = mask_rows(accuracy)
    prompt = [c for c in ("model", "concept", "template") if c in accuracy.columns]
    none = accuracy[accuracy["condition"] == "none"].groupby(prompt)["accuracy"].mean()
    if none.empty:
        raise InputError("accuracy table: no unmanipulated ('none') rows")
    rows = rows.join(none.rename("acc_none"), on=prompt)
    rows["drop"] = rows["acc_none"] - rows["accuracy"]
    out = (rows.groupby(["k", "mask", "condition"], dropna=False, sort=True)
           .agg(attribute=("attribute", "first"), drop=("drop", "mean"),
                n_prompts=("drop", "size")).reset_index())
    return out.astype({"k": "int64"})


def _vs_null_row(k: int, a, null: np.ndarray, level: float, own: bool) -> dict:
    """One attribute mask against the drops ``null`` of its random masks: Crawford & Howell's
    modified t (:func:`emostat.analysis.engines.casecontrol.crawford_howell`)."""
    from emostat.analysis.engines.casecontrol import crawford_howell

    n = null.size
    ch = crawford_howell(a["drop"], null, "greater", level)
    t = ch["statistic"]
    normal = stats.shapiro(null).pvalue if n >= 3 and np.ptp(null) > 0 else np.nan
    robust = 1 / (1 + t * t) if np.isfinite(t) and t > 0 else 1.0
    return dict(k=k, attribute=a["attribute"], **ch,
                p_value_perm=(1 + np.sum(null >= a["drop"])) / (1 + n) if n else np.nan,
                p_min_perm=1 / (1 + n), p_value_robust=robust, normality_p=normal,
                drop_attribute=a["drop"], null_mean=null.mean() if n else np.nan,
                null_sd=null.std(ddof=1) if n > 1 else np.nan, n_null=int(n),
                null="own attribute's random masks" if own else "all random masks of the k",
                unit=f"mask ({n})")


def attribute_vs_null(accuracy: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Each attribute mask against the population of random masks of its k (role "record").

    Every random mask of a k is one draw from the null population of same-size masks; an
    attribute mask is compared with their distribution, not with one paired draw:

    - ``estimate`` = drop(attribute mask) − mean drop of the random masks (extra accuracy drop,
      positive = the attribute mask hurts more);
    - Crawford & Howell's (1998) modified t (the prediction-interval t):
      ``estimate / (sd_null · sqrt(1 + 1/n_null))`` on ``n_null − 1`` df, one-sided (greater):
      the probability that a new random mask drops accuracy as much, if random-mask drops are
      normal. Not floored at 1/(draws + 1): the number of random masks sets its df, not its
      smallest p, so it can pass a correction over attributes with few masks (the verdict);
    - ``q_value_bh``: Benjamini–Hochberg over all attributes × k of the table;
    - ``p_value_perm``: the rank (Monte-Carlo) p ``(1 + #{null ≥ attribute}) / (1 + n_null)``,
      whose smallest attainable value ``p_min_perm`` = 1 / (1 + n_null) is given beside it.

    Beside them: ``normality_p`` (Shapiro-Wilk of the null drops: the t's assumption),
    ``q_value_bh_perm`` (BH of the rank p's) and ``p_value_robust`` (Cantelli's
    distribution-free bound). ``null`` says which masks were the null:

    When every attribute has at least two random masks of its own at a k (layer-matched or
    per-attribute draws), each attribute is compared with its own draws only. Otherwise the
    null at each k is every random mask of that k. In the release these are the 14
    random sets drawn one per attribute; a random set was drawn uniformly, independently of its
    attribute's set, so all 14 are exchangeable draws of the same null and the attribute's own
    twin is kept in it (leaving it out would change no expectation and lose one df). In a
    collected run the shared random draws are the null (each once).

    Parameters
    ----------
    accuracy : DataFrame, schema ``accuracy``
    level : float
        Two-sided level of ``conf_low, conf_high`` (estimate ± t quantile × prediction SE).

    Returns
    -------
    DataFrame
        ``k, attribute, estimate, std_error, statistic, df, p_value, conf_low, conf_high,
        q_value_bh, p_value_perm, p_min_perm, drop_attribute, null_mean, null_sd, n_null,
        p_method, p_method_perm, unit, role, test``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [("joy", "1", "none", None, None, None, 0.9)]
    >>> rows += [("joy", "1", "attribute", "valence", 10, None, 0.6)]
    >>> rows += [("joy", "1", "random", None, 10, d, a)
    ...          for d, a in enumerate([0.85, 0.80, 0.88, 0.84])]
    >>> acc = pd.DataFrame(rows, columns=["concept", "template", "condition", "attribute",
    ...                                   "k", "draw", "accuracy"])
    >>> r = attribute_vs_null(acc).iloc[0]
    >>> float(round(r["estimate"], 4)), int(r["df"]), float(r["p_min_perm"]), r["unit"]
    (0.2425, 3, 0.2, 'mask (4)')
    """
    drops = mask_drops(accuracy)
    rows = []
    for k, g in drops.groupby("k", sort=True):
        rnd = g[g["condition"] == "random"]
        att = g[g["condition"] == "attribute"]
        # own draws when every attribute has >= 2 random masks of its own (layer-matched or
        # per-attribute draws: compare like with like); else the pooled population
        own = (rnd["attribute"].notna().all()
               and all((rnd["attribute"] == a).sum() >= 2 for a in att["attribute"]))
        for _, a in att.iterrows():
            null = (rnd.loc[rnd["attribute"] == a["attribute"], "drop"] if own
                    else rnd["drop"]).to_numpy(float)
            rows.append(_vs_null_row(int(k), a, null, level, own))
    out = pd.DataFrame(rows)
    if out.empty:
        raise InputError("attribute_vs_null: no k with attribute masks")
    out["q_value_bh"] = fdr_bh(out["p_value"].to_numpy())
    out["q_value_bh_perm"] = fdr_bh(out["p_value_perm"].to_numpy())
    out["p_method"] = ("Crawford & Howell's modified t (prediction interval) vs the random "
                       "masks of the k, one-sided (greater), df = n_null - 1")
    out["p_method_perm"] = "rank among the random masks, (1 + #null >= attribute)/(1 + n_null)"
    out["role"], out["test"] = "record", "attribute_vs_null"
    out["p_method_robust"] = ("Cantelli's one-sided bound 1 / (1 + t^2), t = estimate / "
                              "prediction SD: distribution-free (any null with finite "
                              "variance), conservative")
    cols = ["k", "attribute"] + _BROOM + ["q_value_bh", "p_value_perm", "p_min_perm",
                                          "q_value_bh_perm", "p_value_robust", "normality_p",
                                          "drop_attribute", "null_mean", "null_sd", "n_null",
                                          "null", "p_method", "p_method_perm",
                                          "p_method_robust", "unit", "role", "test"]
    return _sort(out[cols], ["k", "attribute"])
