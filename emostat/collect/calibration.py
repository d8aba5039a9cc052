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

**Cross-fitting.** Offsets fitted on the items they then score inflate accuracy (the in-sample
mean contains the item's own score). Every item therefore carries a calibration fold
(``cal_fold``), and the offsets applied to the items of fold f are fitted on the none rows of
the OTHER folds only (:func:`calibration_table` with ``folds``; one set of offsets per fold, in
the ``fold`` column). An item's own scores never enter the offsets that decide it.

**Margins.** Besides the 0/1 decision, :func:`margins` gives a continuous outcome per row: for
choice, the calibrated score of the right emotion minus the best calibrated score among the
others (> 0 exactly when the calibrated decision is right, barring ties); for binary, the
calibrated margin ``logit_yes - logit_no - threshold`` signed toward the correct label (> 0 when
the calibrated answer is right). ``margin_raw`` is the same on the raw scores (no offsets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.checks import score_matrix
from emostat.errors import InputError
from emostat.tasks import TASKS

# the tasks decided on scores, and how their offsets are fitted (emostat.tasks)
METHOD = {name: spec.calibration for name, spec in TASKS.items() if spec.calibration}
REFERENCE = ("contextual calibration in the spirit of Zhao et al. 2021, Calibrate Before Use, "
             "ICML, PMLR 139:12697-12706")


def _width(task: str, candidates) -> int:
    if TASKS[task].per_concept:
        return 2
    if candidates is None:
        raise InputError(f"calibration: task {task!r} needs its candidate concepts")
    return len(candidates)


def calibration_table(baseline: pd.DataFrame, folds: bool = False,
                      candidates=None) -> pd.DataFrame:
    """Per-(task, emotion) offsets from the rows of the unmanipulated condition.

    Parameters
    ----------
    baseline : DataFrame
        Inference rows (columns ``task``, ``concept``, ``condition``, ``logprobs`` and, with
        ``folds``, ``cal_fold``); only ``condition == "none"`` rows are used (an error when a
        task has none).
    folds : bool
        Cross-fitting: one set of offsets per calibration fold f, fitted on the none rows whose
        ``cal_fold`` differs from f (the offsets that decide the items of fold f). False: one
        set from all rows (in-sample; ``fold`` = -1).
    candidates : sequence of str
        The concepts a choice row is scored over, in ``logprobs`` order (the space's).

    Returns
    -------
    DataFrame
        ``task``, ``fold``, ``concept`` (binary: the concept asked about; choice: the candidate
        concept), ``offset`` (binary: the threshold on logit_yes - logit_no; choice: the mean
        log-prob to subtract), ``n`` (rows behind it), ``method``.
    """
    none = baseline[baseline["condition"] == "none"]
    if folds and "cal_fold" not in none.columns:
        raise InputError("calibration: cross-fitting needs a 'cal_fold' column in the rows")
    out = []
    for task in dict.fromkeys(baseline["task"]):
        rows = none[none["task"] == task]
        if task not in METHOD:
            continue
        if not len(rows):
            raise InputError(f"calibration: task {task!r} has no row under condition 'none'")
        s = score_matrix(rows, _width(task, candidates), f"calibration ({task})")
        if not folds:
            out.append(_fit(task, s, rows["concept"].to_numpy(), candidates).assign(fold=-1))
            continue
        f = rows["cal_fold"].to_numpy(np.int64)
        for k in sorted(set(f)):
            train = f != k
            if not train.any():
                raise InputError(f"calibration: task {task!r}: every item is in calibration "
                                 f"fold {k}; cross-fitting needs items in at least two folds")
            t = _fit(task, s[train], rows["concept"].to_numpy()[train], candidates)
            if TASKS[task].per_concept:
                missing = sorted(set(rows["concept"][f == k]) - set(t["concept"]))
                if missing:
                    raise InputError(f"calibration: binary items of emotion(s) {missing} lie in "
                                     f"fold {k} only; no other item of theirs to fit a "
                                     f"threshold on (use fewer calibration folds)")
            out.append(t.assign(fold=int(k)))
    cols = ["task", "fold", "concept", "offset", "n", "method"]
    if not out:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "offset" else
                                          (np.int64 if c in ("n", "fold") else object))
                             for c in cols})
    df = pd.concat(out, ignore_index=True)[cols]
    df["n"] = df["n"].astype(np.int64)
    df["fold"] = df["fold"].astype(np.int64)
    return df


def _fit(task: str, s: np.ndarray, emotions, candidates) -> pd.DataFrame:
    """Offsets of one task from score rows ``s`` (binary: median margin per emotion asked
    about; choice: mean log-prob per candidate)."""
    if TASKS[task].per_concept:
        margin = pd.Series(s[:, 1] - s[:, 0])
        g = margin.groupby(np.asarray(emotions), sort=False)
        return pd.DataFrame({"concept": g.median().index, "offset": g.median().to_numpy(),
                             "n": g.size().to_numpy()}).assign(task=task, method=METHOD[task])
    return pd.DataFrame({"concept": list(candidates), "offset": s.mean(axis=0),
                         "n": len(s)}).assign(task=task, method=METHOD[task])


def _offsets(cal: pd.DataFrame, task: str, emotions, folds, n: int, candidates) -> np.ndarray:
    """Per-row offsets: binary [n] thresholds, choice [n, candidates]; ``folds`` picks each
    row's set."""
    c = cal[cal["task"] == task].rename(columns={"emotion": "concept"})   # older runs
    if "fold" not in c.columns:
        c = c.assign(fold=-1)
    cross = bool((c["fold"] >= 0).any())
    if cross and folds is None:
        raise InputError("calibration: cross-fitted offsets need each row's calibration fold")
    rowf = (np.asarray(folds, np.int64) if cross else np.full(n, -1))
    have = set(c["fold"])
    bad = sorted(set(rowf.tolist()) - have)
    if bad:
        raise InputError(f"calibration: no {task} offsets for calibration fold(s) {bad}")
    if TASKS[task].per_concept:
        off = {(int(f), e): v for f, e, v in zip(c["fold"], c["concept"], c["offset"])}
        missing = sorted({e for f, e in zip(rowf, emotions) if (int(f), e) not in off})
        if missing:
            raise InputError(f"calibration: no binary threshold for emotion(s) {missing}")
        return np.array([off[(int(f), e)] for f, e in zip(rowf, emotions)], np.float64)
    table = {int(f): g.set_index("concept")["offset"].reindex(list(candidates)).to_numpy(
        np.float64) for f, g in c.groupby("fold")}
    return np.stack([table[int(f)] for f in rowf]) if n else np.zeros((0, len(candidates)))


def calibrated(task: str, logprobs, emotions, calibration: pd.DataFrame | None,
               folds=None, candidates=None) -> np.ndarray:
    """Scores corrected by the offsets: binary [n] (margin minus threshold), choice
    [n, candidates].

    ``calibration`` None returns the raw scores (binary: logit_yes - logit_no). ``folds``: each
    row's calibration fold, needed when the table is cross-fitted. ``candidates``: the concepts
    of a choice row's scores, in order.
    """
    if task not in METHOD:
        raise ValueError(f"calibrated: task {task!r} has no score-based decision")
    width = _width(task, candidates)
    s = np.asarray([np.asarray(x, np.float64) for x in logprobs]).reshape(-1, width)
    per = TASKS[task].per_concept
    adj = s[:, 1] - s[:, 0] if per else s
    if calibration is None:
        return adj
    return adj - _offsets(calibration, task, list(emotions), folds, len(s), candidates)


def decide(task: str, logprobs, emotions, calibration: pd.DataFrame | None,
           folds=None, candidates=None) -> list[str]:
    """Decisions of one task from raw scores, corrected by ``calibration`` (None = raw).

    Parameters
    ----------
    task : "binary" | "choice"
    logprobs : array-like [n, 2] (binary: [no, yes]) or [n, candidates] (choice)
    emotions : sequence of str
        Binary: the emotion asked about in each row (its threshold is used). Unused for choice.
    calibration : DataFrame from :func:`calibration_table`, or None
    folds : sequence of int, optional
        Each row's calibration fold (``cal_fold``); needed for cross-fitted offsets.
    candidates : sequence of str
        Choice: the concepts of the scores, in order (the space's).

    Returns
    -------
    list of str
        Binary: "yes" | "no"; choice: a concept id.
    """
    adj = calibrated(task, logprobs, emotions, calibration, folds, candidates)
    if TASKS[task].per_concept:
        no, yes = TASKS[task].candidates(None)
        return [yes if y else no for y in adj > 0]
    return [candidates[j] for j in adj.argmax(axis=1)]


def margins(task: str, logprobs, emotions, labels, calibration: pd.DataFrame | None,
            folds=None, candidates=None) -> np.ndarray:
    """Continuous per-row outcome, > 0 when the (calibrated) decision is right.

    Choice: score of the right emotion minus the best score among the other 26. Binary: the
    margin ``logit_yes - logit_no - threshold``, times +1 for label "yes" and -1 for "no".
    ``calibration`` None gives the raw margins (no offsets).
    """
    adj = calibrated(task, logprobs, emotions, calibration, folds, candidates)
    labels = list(labels)
    if TASKS[task].per_concept:
        yes = TASKS[task].candidates(None)[1]
        sign = np.array([1.0 if lab == yes else -1.0 for lab in labels])
        return sign * adj
    pos = {c: j for j, c in enumerate(candidates)}
    idx = np.array([pos[lab] for lab in labels], np.int64)
    rows = np.arange(len(adj))
    right = adj[rows, idx]
    other = adj.copy()
    other[rows, idx] = -np.inf
    return right - other.max(axis=1)
