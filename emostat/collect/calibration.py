"""Contextual calibration of the inference decisions (no torch, no model).

A small zero-shot model has strong answer biases: SmolLM2-135M never answers " yes" to the binary
question, and some emotion words are far more probable continuations than others whatever the
situation. Following the idea of contextual calibration (Zhao, Wallace, Feng, Klein & Singh 2021,
"Calibrate Before Use: Improving Few-Shot Performance of Language Models", ICML, PMLR 139:
12697-12706), decisions are taken on scores corrected by per-(task, emotion) offsets:

- **binary**: predict "yes" when the margin ``logit_yes - logit_no`` exceeds the emotion's
  threshold, the MEDIAN margin of that emotion's balanced set under no manipulation. Zhao et al.
  estimate the bias from a content-free input ("N/A"); we use the items themselves instead because
  the balanced set's prior is known (half yes), a 135M model's answer to a content-free input is
  a poor proxy for its answers to real situations, and it needs no extra forward passes. The
  median uses no labels, so no label information leaks into the decisions.
- **choice**: subtract from each candidate emotion's summed log-probability its MEAN over all
  items under no manipulation (the model's prior for that word in this prompt), then take the
  argmax. Again label-free.
- **generate**: not calibrated (the parsed label is the decision).

The offsets come from the unmanipulated condition ("none") only and the SAME offsets are applied
under every ablation condition, so an ablation that shifts the model's answers is measured, not
calibrated away. Raw scores stay in the inference table (``logprobs``); raw decisions are kept
beside the calibrated ones (``prediction_raw``, ``correct_raw``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.constants import EMOTIONS
from emostat.errors import InputError

METHOD = {
    "binary": "median of logit_yes - logit_no over the emotion's balanced set (condition none)",
    "choice": "mean log-prob of each candidate emotion over all items (condition none)",
}
REFERENCE = ("contextual calibration in the spirit of Zhao et al. 2021, Calibrate Before Use, "
             "ICML, PMLR 139:12697-12706")


def _scores(rows: pd.DataFrame, width: int, where: str) -> np.ndarray:
    lp = [np.asarray(x, dtype=np.float64) for x in rows["logprobs"]]
    bad = [i for i, x in enumerate(lp) if x.shape != (width,)]
    if bad:
        raise InputError(f"{where}: row {bad[0]}: expected {width} logprobs, got "
                         f"{lp[bad[0]].shape}")
    return np.stack(lp) if lp else np.zeros((0, width))


def calibration_table(baseline: pd.DataFrame) -> pd.DataFrame:
    """Per-(task, emotion) offsets from the rows of the unmanipulated condition.

    Parameters
    ----------
    baseline : DataFrame
        Inference rows (columns ``task``, ``emotion``, ``condition``, ``logprobs``); only
        ``condition == "none"`` rows are used (an error when a task has none).

    Returns
    -------
    DataFrame
        ``task``, ``emotion`` (binary: the emotion asked about; choice: the candidate emotion),
        ``offset`` (binary: the threshold on logit_yes - logit_no; choice: the mean log-prob to
        subtract), ``n`` (rows behind it), ``method``.
    """
    none = baseline[baseline["condition"] == "none"]
    out = []
    for task in dict.fromkeys(baseline["task"]):
        rows = none[none["task"] == task]
        if task not in METHOD:
            continue
        if not len(rows):
            raise InputError(f"calibration: task {task!r} has no row under condition 'none'")
        if task == "binary":
            s = _scores(rows, 2, "calibration (binary)")
            margin = pd.Series(s[:, 1] - s[:, 0], index=rows.index)
            g = margin.groupby(rows["emotion"], sort=False)
            t = pd.DataFrame({"emotion": g.median().index, "offset": g.median().to_numpy(),
                              "n": g.size().to_numpy()})
        else:
            s = _scores(rows, len(EMOTIONS), "calibration (choice)")
            t = pd.DataFrame({"emotion": list(EMOTIONS), "offset": s.mean(axis=0),
                              "n": len(rows)})
        out.append(t.assign(task=task, method=METHOD[task]))
    cols = ["task", "emotion", "offset", "n", "method"]
    if not out:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "offset" else
                                          (np.int64 if c == "n" else object)) for c in cols})
    df = pd.concat(out, ignore_index=True)[cols]
    df["n"] = df["n"].astype(np.int64)
    return df


def decide(task: str, logprobs, emotions, calibration: pd.DataFrame | None) -> list[str]:
    """Decisions of one task from raw scores, corrected by ``calibration`` (None = raw).

    Parameters
    ----------
    task : "binary" | "choice"
    logprobs : array-like [n, 2] (binary: [no, yes]) or [n, 27] (choice, EMOTIONS order)
    emotions : sequence of str
        Binary: the emotion asked about in each row (its threshold is used). Unused for choice.
    calibration : DataFrame from :func:`calibration_table`, or None

    Returns
    -------
    list of str
        Binary: "yes" | "no"; choice: an emotion name.
    """
    if task not in METHOD:
        raise ValueError(f"decide: task {task!r} has no score-based decision")
    s = np.asarray([np.asarray(x, np.float64) for x in logprobs])
    cal = None if calibration is None else calibration[calibration["task"] == task]
    if task == "binary":
        margin = s[:, 1] - s[:, 0]
        thr = np.zeros(len(s))
        if cal is not None:
            off = dict(zip(cal["emotion"], cal["offset"]))
            missing = sorted(set(emotions) - set(off))
            if missing:
                raise InputError(f"calibration: no binary threshold for emotion(s) {missing}")
            thr = np.array([off[e] for e in emotions], dtype=np.float64)
        return ["yes" if y else "no" for y in margin > thr]
    if cal is not None:
        off = dict(zip(cal["emotion"], cal["offset"]))
        s = s - np.array([off[e] for e in EMOTIONS])[None, :]
    return [EMOTIONS[j] for j in s.argmax(axis=1)]
