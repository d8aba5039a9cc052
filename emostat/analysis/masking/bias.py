"""Knowledge or answer bias: ablation outcomes that a shift of the answer prior cannot produce.

A collected run decides every row with offsets fitted on the unmanipulated condition only
(:mod:`emostat.collect.calibration`), so an ablation that merely makes one answer more probable
(a shift of the answer prior) lowers accuracy as if knowledge were lost. This module separates
the two on the inference rows:

- **Per-condition calibration** (:func:`recalibrate`). Each condition (the unmanipulated one,
  every attribute mask, every random draw, every k) gets its own offsets, fitted exactly as the
  collection fits them on the unmanipulated rows: choice, each candidate's mean log-prob over
  the condition's items; binary, the median ``logit_yes - logit_no`` of each concept's balanced
  set; cross-fitted over the rows' calibration folds (``cal_fold``: the offsets deciding the
  items of fold f come from the condition's other folds), in-sample when the rows carry no
  fold. Chosen over re-centring by the in-sample mean because it is the collection's own rule
  (the unmanipulated condition's outcome is the run's own ``correct``), and cross-fitting keeps
  an item's own scores out of the offsets that decide it. Adding a constant to a candidate's
  log-prob (choice) or to a concept's margin (binary) in every item of a condition moves its
  offsets by the same constant: decisions, accuracy and margins under this calibration are
  unchanged. What still drops is not a shift of the answer prior (``drop_recal``, the
  "knowledge" part); ``drop - drop_recal`` is the part a prior shift explains
  (``drop_prior``).
- **Predicted-answer distribution** per condition (:func:`answer_shares`, :func:`answer_bias`).
- **The study's per-emotion test against the random pool** (:mod:`emostat.analysis.masking.biastest`).

Generation is decided by parsing, without scores, so it has no prior to re-fit and is left out.
Concepts come from the caller (the run's space), in ``logprobs`` order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.checks import require_columns, score_matrix
from emostat.errors import InputError
from emostat.tasks import TASKS

SCORED = tuple(name for name, spec in TASKS.items() if spec.calibration)
DECISIONS = ("prediction", "prediction_raw", "prediction_recal")
KEYS = ["task", "condition_id", "condition", "attribute", "k", "draw"]
RECAL_METHOD = ("per-condition calibration: offsets re-fitted on each condition's own rows "
                "(choice: mean log-prob per candidate; binary: median yes-no margin per "
                "concept)")


def _folds(rows: pd.DataFrame) -> np.ndarray | None:
    if "cal_fold" not in rows.columns or rows["cal_fold"].isna().any():
        return None
    return rows["cal_fold"].to_numpy(np.int64)


def _offsets(task: str, adj: np.ndarray, emotions: np.ndarray, folds, where: str) -> np.ndarray:
    """Per-row offsets fitted on the other folds' rows (all rows when ``folds`` is None)."""
    per = TASKS[task].per_concept
    out = np.zeros_like(adj)
    groups = [np.ones(len(adj), bool)] if folds is None else [folds == f for f in
                                                              np.unique(folds)]
    for own in groups:
        train = ~own if folds is not None else own
        if not train.any():
            raise InputError(f"{where}: every row is in calibration fold "
                             f"{int(folds[own][0])}; cross-fitting needs two folds")
        if not per:
            out[own] = adj[train].mean(axis=0)
            continue
        med = pd.Series(adj[train]).groupby(emotions[train]).median()
        missing = sorted(set(emotions[own]) - set(med.index))
        if missing:
            raise InputError(f"{where}: column 'concept': binary items of {missing} lie in one "
                             "calibration fold only; no other item to fit a threshold on")
        out[own] = med.reindex(emotions[own]).to_numpy()
    return out


def recalibrate(inference: pd.DataFrame, candidates) -> pd.DataFrame:
    """Decisions of the score-decided rows under per-condition calibration (module docstring).

    Parameters
    ----------
    inference : DataFrame, schema ``inference``
        Needs ``task, condition_id, concept, label, logprobs``; ``cal_fold`` for cross-fitting.
    candidates : sequence of str
        The concepts a choice row is scored over, in ``logprobs`` order (the run's space).

    Returns
    -------
    DataFrame
        The binary and choice rows with ``prediction_recal``, ``correct_recal`` and
        ``margin_recal`` (right answer minus the best other, > 0 when right; binary: the
        re-fitted margin signed toward the label) added; ``cal_fitting`` says cross-fitted or
        in-sample.
    """
    require_columns(inference, ["task", "condition_id", "concept", "label", "logprobs"],
                    "inference")
    candidates = list(candidates)
    parts = []
    for (task, cid), rows in inference[inference["task"].isin(SCORED)].groupby(
            ["task", "condition_id"], sort=False):
        spec, where = TASKS[task], f"inference ({task}, condition {cid!r})"
        s = score_matrix(rows, spec.width(candidates), where)
        adj = s[:, 1] - s[:, 0] if spec.per_concept else s
        folds = _folds(rows)
        adj = adj - _offsets(task, adj, rows["concept"].to_numpy(object), folds, where)
        labels = rows["label"].to_numpy(object)
        if spec.per_concept:
            no, yes = spec.candidates(None)
            pred = np.where(adj > 0, yes, no).astype(object)
            margin = np.where(labels == yes, adj, -adj)
        else:
            pos = {c: j for j, c in enumerate(candidates)}
            bad = sorted(set(labels) - set(pos))
            if bad:
                raise InputError(f"{where}: column 'label' holds {bad}, not candidates")
            idx = np.array([pos[x] for x in labels], np.int64)
            r = np.arange(len(adj))
            pred = np.array(candidates, dtype=object)[adj.argmax(axis=1)]
            other = adj.copy()
            other[r, idx] = -np.inf
            margin = adj[r, idx] - other.max(axis=1)
        parts.append(rows.assign(prediction_recal=pred, correct_recal=pred == labels,
                                 margin_recal=margin,
                                 cal_fitting="in-sample" if folds is None else "cross-fitted"))
    if not parts:
        raise InputError("inference: no binary or choice rows (the tasks decided on scores)")
    return pd.concat(parts).sort_index()


def _meta(df: pd.DataFrame) -> pd.DataFrame:
    """One row per task x condition: its keys (attribute, k, draw null where none)."""
    cols = [c for c in KEYS if c in df.columns]
    out = df[cols].drop_duplicates(["task", "condition_id"]).reset_index(drop=True)
    return out.astype({c: "Int64" for c in ("k", "draw") if c in out.columns})


def bias_knowledge(rec: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per condition under the run's decisions and under per-condition calibration.

    ``rec``: rows from :func:`recalibrate` (with the run's ``correct`` and ``margin``).

    Returns
    -------
    DataFrame
        One row per task x condition: ``task, condition_id, condition, attribute, k, draw,
        n_items, accuracy`` (the run's decisions, calibrated on the unmanipulated condition),
        ``accuracy_recal`` (per-condition calibration), ``drop``, ``drop_recal`` (each against
        the task's unmanipulated rows under the same decisions; positive = lower),
        ``drop_prior`` (= drop - drop_recal: what a shift of the answer prior explains),
        ``margin``, ``margin_recal`` (means), ``calibration``, ``role`` ("extra").
    """
    require_columns(rec, ["correct", "correct_recal", "margin_recal"], "recalibrated rows")
    g = rec.assign(correct=rec["correct"].astype(float),
                   correct_recal=rec["correct_recal"].astype(float),
                   margin=rec["margin"] if "margin" in rec.columns else np.nan).groupby(
        ["task", "condition_id"], sort=False)
    out = g.agg(n_items=("correct", "size"), accuracy=("correct", "mean"),
                accuracy_recal=("correct_recal", "mean"), margin=("margin", "mean"),
                margin_recal=("margin_recal", "mean"),
                fitting=("cal_fitting", "first")).reset_index()
    out = _meta(rec).merge(out, on=["task", "condition_id"])
    none = out[out["condition"] == "none"].set_index("task")
    missing = sorted(set(out["task"]) - set(none.index))
    if missing:
        raise InputError(f"inference: column 'condition': no 'none' rows for task(s) {missing}")
    out["drop"] = out["task"].map(none["accuracy"]) - out["accuracy"]
    out["drop_recal"] = out["task"].map(none["accuracy_recal"]) - out["accuracy_recal"]
    out["drop_prior"] = out["drop"] - out["drop_recal"]
    out["calibration"] = RECAL_METHOD + ", " + out.pop("fitting")
    out["role"] = "extra"
    return out


def answer_shares(rec: pd.DataFrame, candidates) -> pd.DataFrame:
    """Share of each answer per task x condition x decision (every candidate, zeros kept).

    ``decision`` names the column counted: ``prediction`` (the run's decisions),
    ``prediction_raw`` (no calibration), ``prediction_recal`` (per-condition calibration).
    Candidates: yes/no (binary), the run's concepts (choice). An answer outside them is an
    error naming the column.
    """
    rows = []
    for task, t in rec.groupby("task", sort=False):
        cands = TASKS[task].candidates(list(candidates))
        for dec in (d for d in DECISIONS if d in t.columns):
            bad = sorted(set(t[dec].dropna()) - set(cands))
            if bad or t[dec].isna().any():
                raise InputError(f"inference ({task}): column {dec!r} holds "
                                 f"{bad or 'nulls'}, not candidates")
            n = (pd.crosstab(t["condition_id"], t[dec]).reindex(columns=cands, fill_value=0))
            long = n.stack().rename("n").reset_index().rename(columns={dec: "concept"})
            long.columns = ["condition_id", "concept", "n"]
            rows.append(long.assign(task=task, decision=dec))
    out = pd.concat(rows, ignore_index=True)
    out["share"] = out["n"] / out.groupby(["task", "decision", "condition_id"])["n"].transform(
        "sum")
    out = _meta(rec).merge(out, on=["task", "condition_id"])
    return out[KEYS + ["decision", "concept", "n", "share"]].astype({"n": "int64"})


def answer_bias(shares: pd.DataFrame) -> pd.DataFrame:
    """Per task x condition x decision: the most frequent answer and its share, the entropy of
    the answers (bits) and their total-variation distance from the unmanipulated condition's
    answers under the same decision (0.5 * sum of absolute share differences)."""
    rows = []
    for (task, dec), g in shares.groupby(["task", "decision"], sort=False):
        wide = g.pivot(index="condition_id", columns="concept", values="share")
        none = g.loc[g["condition"] == "none", "condition_id"].unique()
        if len(none) != 1:
            raise InputError(f"answer shares ({task}): column 'condition' needs one 'none' "
                             "condition")
        p = wide.to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
        top = p.argmax(axis=1)
        n = g.groupby("condition_id")["n"].sum().reindex(wide.index)
        rows.append(pd.DataFrame({
            "task": task, "decision": dec, "condition_id": wide.index,
            "n_items": n.to_numpy(np.int64), "top_concept": wide.columns.to_numpy()[top],
            "top_share": p[np.arange(len(p)), top], "entropy_bits": ent,
            "tv_from_none": 0.5 * np.abs(p - wide.loc[none[0]].to_numpy(float)).sum(axis=1)}))
    meta = shares[KEYS].drop_duplicates(["task", "condition_id"])
    out = meta.merge(pd.concat(rows, ignore_index=True), on=["task", "condition_id"])
    return out[KEYS + ["decision", "n_items", "top_concept", "top_share", "entropy_bits",
                       "tv_from_none"]]


def bias_summary(knowledge: pd.DataFrame, bias: pd.DataFrame) -> pd.DataFrame:
    """Means over the masks of each task x k x kind (attribute | random): accuracy drop under
    the run's decisions, under per-condition calibration, the prior part, and how far the
    run's decisions moved from the unmanipulated answers (total variation, top share)."""
    b = bias[bias["decision"] == "prediction"][["task", "condition_id", "top_share",
                                                 "tv_from_none"]]
    d = knowledge[knowledge["condition"] != "none"].merge(b, on=["task", "condition_id"])
    none = knowledge[knowledge["condition"] == "none"].set_index("task")
    out = (d.groupby(["task", "k", "condition"], sort=True)
           .agg(n_masks=("condition_id", "nunique"), drop=("drop", "mean"),
                drop_recal=("drop_recal", "mean"), drop_prior=("drop_prior", "mean"),
                tv_from_none=("tv_from_none", "mean"), top_share=("top_share", "mean"))
           .reset_index())
    out.insert(3, "accuracy_none", out["task"].map(none["accuracy"]))
    out.insert(4, "accuracy_none_recal", out["task"].map(none["accuracy_recal"]))
    return out.astype({"k": "int64", "n_masks": "int64"}).assign(role="extra")


def bias_tables(inference: pd.DataFrame, candidates, *, tasks=None, n_perm: int = 10_000,
                seed: int = 0) -> dict[str, pd.DataFrame]:
    """All tables of this module for a run's inference rows (``tasks``: the tasks to keep,
    e.g. the interpretable ones; None = all score-decided tasks), with the knowledge claim's
    GLMM (:mod:`emostat.analysis.masking.knowledge`: ``knowledge_mixed_model``,
    ``knowledge_mixed_glance`` and its QQ points, ``mixed_model_qq``). Empty dict when the
    rows hold no score-decided task or no raw scores."""
    from emostat.analysis.masking.biastest import bias_study_test

    inf = inference if tasks is None else inference[inference["task"].isin(set(tasks))]
    if "logprobs" not in inf.columns or not inf["task"].isin(SCORED).any():
        return {}
    rec = recalibrate(inf, candidates)
    know = bias_knowledge(rec)
    shares = answer_shares(rec, candidates)
    bias = answer_bias(shares)
    out = {"bias_knowledge": know, "answer_shares": shares, "answer_bias": bias}
    if (know["condition"] != "none").any():
        out["bias_summary"] = bias_summary(know, bias)
        study = bias_study_test(rec, n_perm=n_perm, seed=seed)
        if len(study):
            out["bias_study_test"] = study
        from emostat.analysis.masking.knowledge import knowledge_models

        tidy, glance, qq = knowledge_models(rec, diagnostics=True)
        if len(tidy):
            out.update(knowledge_mixed_model=tidy, knowledge_mixed_glance=glance,
                       mixed_model_qq=qq)
    return out
