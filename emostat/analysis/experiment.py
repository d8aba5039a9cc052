"""Tables specific to a collected run: baseline accuracy, random-draw nulls, generation examples.

A collected run's prompt-level ``accuracy`` table (see :mod:`emostat.collect.runner`) names its
prompts ``"<task>/fold<f>"``; :func:`split_tasks` recovers the task. Drops are proportions:
``accuracy without manipulation − accuracy under the mask`` (positive = the mask hurts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.errors import InputError


def split_tasks(accuracy: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The accuracy table per task (task = the part of ``template`` before ``/``)."""
    task = accuracy["template"].astype(str).str.split("/", n=1).str[0]
    return {t: accuracy[task == t].copy() for t in sorted(task.unique())}


def baseline_accuracy(inference: pd.DataFrame) -> pd.DataFrame:
    """Accuracy without manipulation per task and emotion.

    Returns
    -------
    DataFrame
        ``task, emotion, estimate`` (proportion correct), ``n`` (items), ``conf_low, conf_high``
        (95% Wilson interval).
    """
    base = inference[inference["condition"] == "none"]
    if base.empty:
        raise InputError("inference: no rows with condition 'none' (the unmanipulated baseline)")
    g = base.groupby(["task", "emotion"], sort=True)["correct"]
    out = g.agg(estimate="mean", n="size").reset_index()
    lo, hi = _wilson(out["estimate"].to_numpy(float), out["n"].to_numpy(float))
    return out.assign(n=out["n"].astype("int64"), conf_low=lo, conf_high=hi)


def _wilson(p: np.ndarray, n: np.ndarray, z: float = 1.959963984540054):
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _drops(acc: pd.DataFrame) -> pd.DataFrame:
    """Per condition row, the drop vs the same prompt's unmanipulated accuracy."""
    none = (acc[acc["condition"] == "none"].set_index(["emotion", "template"])["accuracy"]
            .rename("acc_none"))
    masked = acc[acc["condition"] != "none"].join(none, on=["emotion", "template"])
    return masked.assign(drop=masked["acc_none"] - masked["accuracy"])


def random_null(accuracy: pd.DataFrame, task: str) -> pd.DataFrame:
    """Mean drop under each random draw, per attribute and k (the null distribution).

    Returns ``task, attribute, k, draw, estimate`` (mean drop over emotions and prompts).
    """
    d = _drops(accuracy)
    d = d[d["condition"] == "random"]
    out = d.groupby(["attribute", "k", "draw"], sort=True)["drop"].mean().rename("estimate")
    out = out.reset_index().assign(task=task)[["task", "attribute", "k", "draw", "estimate"]]
    # k and draw are nullable in the accuracy table (null for "none") and read back as float
    return out.astype({"k": "int64", "draw": "int64"})


def attribute_vs_null(accuracy: pd.DataFrame, task: str) -> pd.DataFrame:
    """The attribute-specific drop against its random-draw null, per attribute and k.

    ``p_value_perm`` = (1 + #draws with drop >= attribute drop) / (1 + #draws): the one-sided
    Monte-Carlo p of the attribute set among same-size random sets.

    Returns ``task, attribute, k, estimate, null_mean, null_sd, n_draws, p_value_perm``.
    """
    d = _drops(accuracy)
    att = (d[d["condition"] == "attribute"].groupby(["attribute", "k"])["drop"].mean()
           .rename("estimate"))
    null = random_null(accuracy, task)
    rows = []
    for (a, k), est in att.items():
        draws = null[(null["attribute"] == a) & (null["k"] == k)]["estimate"].to_numpy(float)
        n = len(draws)
        rows.append({"task": task, "attribute": a, "k": int(k), "estimate": float(est),
                     "null_mean": draws.mean() if n else np.nan,
                     "null_sd": draws.std(ddof=1) if n > 1 else np.nan,
                     "n_draws": n,
                     "p_value_perm": (1 + np.sum(draws >= est)) / (1 + n) if n else np.nan})
    return pd.DataFrame(rows)


def generation_examples(inference: pd.DataFrame, stimuli: pd.DataFrame,
                        per_condition: int = 2) -> pd.DataFrame:
    """A few generated answers per emotion under no manipulation and under attribute masks.

    Returns ``emotion, text, generated, parsed, condition, condition_id, correct``.
    """
    gen = inference[(inference["task"] == "generate")
                    & inference["condition"].isin(["none", "attribute"])]
    if gen.empty:
        return pd.DataFrame(columns=["emotion", "text", "generated", "parsed", "condition",
                                     "condition_id", "correct"])
    texts = stimuli.set_index("id")["text"]
    gen = gen.sort_values(["emotion", "condition", "condition_id", "item_id"])
    picked = gen.groupby(["emotion", "condition"], sort=True).head(per_condition)
    return pd.DataFrame({
        "emotion": picked["emotion"].to_numpy(),
        "text": picked["stimulus_id"].map(texts).fillna("").to_numpy(),
        "generated": picked["generated"].fillna("").to_numpy(),
        "parsed": picked["prediction"].to_numpy(),
        "condition": picked["condition"].to_numpy(),
        "condition_id": picked["condition_id"].to_numpy(),
        "correct": picked["correct"].to_numpy(),
    })
