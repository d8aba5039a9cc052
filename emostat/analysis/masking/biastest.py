"""The study's per-concept masking t against a run's random pool, labelled as the study's.

The study pairs each attribute mask with one random set. A collected run draws a pool of
random masks per k, shared by all attributes; the study-style test compares every attribute
of a concept with the same pool mean per prompt, so its n = attributes x prompts rows hold
one random comparison per prompt, counted once per attribute. This module computes that t
(role ``study``) on two outcomes, the run's accuracy (calibrated on the unmanipulated
condition) and the accuracy under per-condition calibration (:mod:`emostat.analysis.masking.bias`),
and says in ``p_method`` what it treats as exchangeable. Beside the study's "+-1 SE" of the
random accuracy over those rows (``se_random_rows``, zero with one prompt per concept) it
gives the SE over the random draws of the pool mean (``se_random_pool``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.masking.drops import acc_diff, paired_tests
from emostat.analysis.engines.signflip import EXACT_MAX_N, sign_flip_many
from emostat.checks import require_columns
from emostat.errors import InputError

OUTCOMES = (("accuracy", "correct"), ("accuracy_recal", "correct_recal"))
TESTS = (("study_concept_t", ["k", "concept"]), ("study_cell_t", ["k", "concept", "attribute"]))
T_METHOD = {
    "study_concept_t": "the study's paired t of the extra drop over the concept's attribute x "
                       "prompt rows, one-sided (greater), df = n - 1; {pool}, so the rows hold "
                       "one random comparison per prompt, repeated for every attribute: not "
                       "independent; the attribute x prompt rows are treated as exchangeable",
    "study_cell_t": "the study's paired t of the extra drop over the cell's prompts, one-sided "
                    "(greater), df = n - 1; {pool}, so the cells of one concept share their "
                    "random comparison: not independent; prompts treated as exchangeable"}
POOL = {True: "every attribute is compared with the same random pool (the mean of the k's "
              "shared random draws per prompt)",
        False: "each attribute is compared with the mean of its own random draws per prompt"}


def exact_limit(n_perm: int) -> int:
    """Largest n whose 2^n sign vectors are all enumerated: every n with 2^n <= ``n_perm``
    (exact whenever the orderings are fewer than the draws asked for), and at least 16."""
    if int(n_perm) < 1:
        raise InputError(f"n_perm must be >= 1, got {n_perm}")
    return max(EXACT_MAX_N, int(np.floor(np.log2(int(n_perm)))))


def prompt_accuracy(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Prompt-level accuracy (prompt = task x concept x fold, the collection's ``template``
    ``"<task>/fold<f>"``) of the 0/1 ``column``, one row per condition."""
    require_columns(rows, ["task", "concept", "fold", "condition_id", "condition", "attribute",
                           "k", column], "inference")
    d = rows.assign(template=rows["task"] + "/fold" + rows["fold"].astype(str),
                    _y=rows[column].astype(float))
    keys = ["concept", "template", "condition_id"]
    acc = d.groupby(keys, sort=False)["_y"].mean().rename("accuracy").reset_index()
    meta = d[["condition_id", "condition", "attribute", "k"]
             + (["draw"] if "draw" in d.columns else [])].drop_duplicates("condition_id")
    return acc.merge(meta, on="condition_id")


def _pool_se(per_draw: pd.DataFrame, by, shared: bool) -> pd.DataFrame:
    """SE over the random draws of the pool's mean accuracy over each group's prompts (a
    shared draw counted once, not once per attribute it is paired with)."""
    m = per_draw.drop_duplicates(by + ["template", "draw"]) if shared else per_draw
    draw_means = m.groupby(by + ["draw"], dropna=False)["acc_random"].mean()
    g = draw_means.groupby(level=list(range(len(by))), dropna=False)
    return pd.DataFrame({"n_random_draws": g.size(),
                         "se_random_pool": g.std(ddof=1) / np.sqrt(g.size())}).reset_index()


def _one_test(diff, per_draw, by, test, shared, n_perm, seed) -> pd.DataFrame:
    res = paired_tests(diff, by, n_perm=n_perm, seed=seed)
    # sign flips: exact whenever 2^n <= n_perm (paired_tests enumerates n <= 16 only)
    d = diff.assign(_drop=-diff["diff"])
    g = d.groupby(by, sort=True, dropna=False)
    lim = exact_limit(n_perm)
    flips = g["_drop"].apply(lambda s: s.to_numpy(float)).reset_index()
    flips["p_value_perm"] = sign_flip_many(list(flips.pop("_drop")), "greater", n_perm, seed,
                                           exact_max_n=lim)
    extra = g.agg(se_random_rows=("acc_random", "sem"),
                  n_random_comparisons=("template", "nunique")).reset_index()
    extra = extra.merge(_pool_se(per_draw, by, shared), on=by, how="left").merge(flips, on=by)
    res = res.drop(columns="p_value_perm").merge(extra, on=by, how="left")
    res["p_method"] = T_METHOD[test].format(pool=POOL[shared])
    res["p_method_perm"] = (f"sign flips of the same rows (treated as exchangeable, as the t), "
                            f"one-sided (greater); all 2^n sign vectors when n <= {lim} "
                            f"(2^n <= {n_perm} draws, or n <= {EXACT_MAX_N}), else {n_perm} "
                            "random sign vectors")
    what = "attribute × prompt" if test == "study_concept_t" else "prompt"
    res["unit"] = [f"{what} ({n})" for n in res["n"]]
    res["test"] = test
    if "attribute" not in res.columns:
        res["attribute"] = None
    return res


def bias_study_test(rec: pd.DataFrame, *, n_perm: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """The study's per-concept and per-cell t of the extra drop against the random pool.

    ``rec``: inference rows with ``correct`` and ``correct_recal``
    (:func:`emostat.analysis.masking.bias.recalibrate`). Per task x outcome (``accuracy``: the run's
    decisions; ``accuracy_recal``: per-condition calibration) x test (``study_concept_t``: per
    k x concept over attributes x prompts, the study's n = 168; ``study_cell_t``: per k x
    concept x attribute over prompts, the study's n = 12): broom columns (``estimate`` =
    random pool - attribute accuracy, positive = the mask hurts more), ``n``, the study's
    ``q_value`` and ``q_value_bh`` over the test's rows, ``p_value_perm`` (sign flips),
    ``acc_none, acc_random, acc_attribute``, ``se_random_rows`` (the study's +-1 SE bar of the
    random accuracy), ``se_random_pool`` and ``n_random_draws``, ``n_random_comparisons``
    (distinct prompts, i.e. random comparisons, behind the rows), ``p_method``,
    ``p_method_perm``, ``unit``, ``role`` ("study"). Empty when no task has both attribute and
    random masks.
    """
    parts = []
    for task, rows in rec.groupby("task", sort=True):
        cond = set(rows["condition"])
        if not {"none", "attribute", "random"} <= cond:
            continue
        shared = bool(rows.loc[rows["condition"] == "random", "attribute"].isna().all())
        for outcome, column in OUTCOMES:
            acc = prompt_accuracy(rows, column)
            diff = acc_diff(acc)
            per_draw = acc_diff(acc, per_draw=True)
            for test, by in TESTS:
                r = _one_test(diff, per_draw, by, test, shared, n_perm, seed)
                parts.append(r.assign(task=task, outcome=outcome))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["role"] = "study"
    for c in ("estimate", "conf_low", "conf_high"):       # no -0.0 (a drop of -0 points)
        out[c] = out[c] + 0.0
    lead = ["task", "outcome", "test", "k", "concept", "attribute"]
    return out[lead + [c for c in out.columns if c not in lead]]
