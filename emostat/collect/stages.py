"""Stages of a collection run that need no model: deciding rows (calibrated or raw), the
baseline -> calibration -> inference steps of stage c, the searchlight and condition sets
(stage b), and the prompt-level accuracy table (stage d). See :mod:`emostat.collect.driver`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from emostat import io
from emostat.collect import shards as sh
from emostat.collect.conditions import ConditionSet, build_conditions
from emostat.collect.config import CollectConfig, run_space
from emostat.collect.items import run_attributes
from emostat.errors import InputError

NONE = "none"                        # id of the unmanipulated condition
EXTRA_INFERENCE = [("prediction_raw", pa.string()), ("correct_raw", pa.bool_()),
                   ("cal_fold", pa.int64())]
CALIBRATED = ("prediction", "correct", "margin")     # absent from baseline/ files


def decide_rows(df: pd.DataFrame, cal: pd.DataFrame | None, candidates) -> pd.DataFrame:
    """Set ``prediction``/``correct``/``margin`` of inference rows from their raw scores and
    ``cal`` (:func:`emostat.collect.calibration.decide` and ``margins``, each row with the
    offsets of its ``cal_fold``; None = raw decisions), and ``prediction_raw``/``correct_raw``/
    ``margin_raw`` from the raw scores. ``candidates``: the concepts a choice row's scores are
    over (the space's, in order). Generate rows keep their parsed label and have no margin.
    Returns a new DataFrame."""
    from emostat.collect.calibration import METHOD, decide, margins

    df = df.copy()
    label = df["label"].to_numpy()
    pred = df["prediction_raw"].to_numpy(object).copy()
    marg = np.full(len(df), np.nan)
    marg_raw = np.full(len(df), np.nan)
    for task in METHOD:
        rows = np.flatnonzero(df["task"].to_numpy() == task)
        if len(rows):
            sub = df.iloc[rows]
            folds = sub["cal_fold"].to_numpy() if "cal_fold" in sub.columns else None
            lp, emo = list(sub["logprobs"]), list(sub["concept"])
            pred[rows] = decide(task, lp, emo, cal, folds, candidates)
            marg[rows] = margins(task, lp, emo, sub["label"], cal, folds, candidates)
            marg_raw[rows] = margins(task, lp, emo, sub["label"], None, candidates=candidates)
    df["margin"] = marg
    df["margin_raw"] = marg_raw
    raw = df["prediction_raw"].to_numpy(object)
    df["prediction"] = pred
    df["correct"] = np.asarray([p is not None and p == l for p, l in zip(pred, label)], bool)
    df["correct_raw"] = np.asarray([p is not None and p == l for p, l in zip(raw, label)], bool)
    return df


def inference_table(df: pd.DataFrame) -> pa.Table:
    """Inference rows as Arrow: schema ``inference`` plus the raw-decision columns."""
    from emostat.schemas import schema

    sch = schema("inference")
    for name, typ in EXTRA_INFERENCE:
        sch = sch.append(pa.field(name, typ))
    return pa.Table.from_pandas(df[sch.names], schema=sch, preserve_index=False)


def baseline_table(df: pd.DataFrame) -> pa.Table:
    """Baseline rows (condition none, before calibration) as Arrow: the inference columns
    without the calibrated decisions (``prediction``, ``correct``, ``margin``), so that raw
    decisions only ever appear as ``prediction_raw``/``correct_raw``/``margin_raw``."""
    return inference_table(df).drop_columns(list(CALIBRATED))


# ---------------------------------------------------------------------------------------------
# stage a: the activations' layout


def activation_table(model: str, concepts, templates, A: np.ndarray, layer_sizes) -> pa.Table:
    """Rows of schema ``activations`` (one per concept x template x layer) from ``A`` [rows,
    neurons] (row r: ``concepts[r]`` under ``templates[r]``), layer-major: every row of layer 0
    first, so that written with :func:`activation_row_group` rows per row group each layer is
    one row group (a reader of one layer skips the others' bytes)."""
    from emostat.schemas import schema

    A = np.asarray(A, dtype=np.float32)
    bounds = np.concatenate([[0], np.cumsum(layer_sizes)]).astype(int)
    n_r, n_l = A.shape[0], len(layer_sizes)
    values = [A[r, bounds[la]:bounds[la + 1]] for la in range(n_l) for r in range(n_r)]
    flat = pa.array(np.concatenate(values) if values else np.zeros(0, np.float32), pa.float32())
    offsets = pa.array(np.concatenate([[0], np.cumsum([len(v) for v in values])]), pa.int32())
    return pa.table({
        "model": pa.array([model] * (n_r * n_l), pa.string()),
        "concept": pa.array(np.tile(np.asarray(concepts, dtype=object), n_l).tolist(),
                            pa.string()),
        "template": pa.array(np.tile(np.asarray(templates, dtype=object), n_l).tolist(),
                             pa.string()),
        "layer": pa.array(np.repeat(np.arange(n_l), n_r), pa.int64()),
        "values": pa.ListArray.from_arrays(offsets, flat),
    }, schema=schema("activations"))


def activation_row_group(table: pa.Table) -> int | None:
    """Rows per layer of a layer-major :func:`activation_table` (its row group size)."""
    n_l = len(set(table.column("layer").to_pylist())) if table.num_rows else 0
    return table.num_rows // n_l if n_l else None


# ---------------------------------------------------------------------------------------------
# stage c: the "none" condition first, calibration, the rest


def plan_baseline(cfg: CollectConfig, items: dict[str, pd.DataFrame]) -> list[sh.Shard]:
    """Stage c1: one shard per task x item block under condition none (``<out>/baseline/``,
    ids ``<task>-i####-none``)."""
    out = []
    for task in cfg.tasks:
        for i, b in enumerate(sh.blocks(items[task]["item_id"], cfg.items_per_shard)):
            out.append(sh.Shard("baseline", f"{task}-i{i:04d}-none", task=task, items=b,
                                conditions=(NONE,)))
    return out


def calibrate_run(cfg: CollectConfig, out) -> pd.DataFrame:
    """Stage c2: offsets from the baseline rows → ``<out>/calibration.parquet`` (idempotent)."""
    from emostat.collect.calibration import calibration_table

    path = Path(out) / "calibration.parquet"
    if path.exists():
        return io.read_table(path)
    base = sh.read_dataset(out, "baseline", columns=["task", "concept", "condition",
                                                     "logprobs", "cal_fold"]).to_pandas()
    cal = calibration_table(base, folds=True, candidates=list(run_space(cfg).concepts))
    io.write_table(cal, path, prov=io.provenance(**read_run_prov(out), stage="calibration",
                                                 applied=cfg.calibrate), record_root=out)
    return cal


def finish_baseline(cfg: CollectConfig, out, shards, cal: pd.DataFrame) -> None:
    """Stage c3 for condition none: each baseline shard re-decided with the offsets (when
    ``calibrate``) and written to ``<out>/inference/`` under the same id (no model needed)."""
    import pyarrow.parquet as pq

    for s in shards:
        dest = sh.shard_path(out, "inference", s.id)
        if dest.exists():
            continue
        src = s.path(out)
        df = pq.read_table(src).to_pandas()
        df = decide_rows(df, cal if cfg.calibrate else None, list(run_space(cfg).concepts))
        prov = {**io.read_provenance(src), "dataset": "inference", "stage": "none-decided"}
        io.write_table(inference_table(df), dest, prov=prov, record_root=out)



def activation_array(out, concepts) -> tuple[np.ndarray, list[str], list[int]]:
    """The collected concept activations as an array.

    Returns
    -------
    A : ndarray float32 [n_templates, 27, n_neurons]
        Concepts in the order of ``concepts`` (the space's), neurons layer-major.
    templates : list of str
    layer_sizes : list of int
    """
    t = sh.read_dataset(out, "activations", columns=["concept", "template", "layer", "values"])
    df = t.select(["concept", "template", "layer"]).to_pandas()
    templates = sorted(set(df["template"]))
    layers = sorted(set(df["layer"]))
    missing = set(concepts) - set(df["concept"])
    if missing:
        raise InputError(f"{Path(out) / 'activations'}: no activations for {sorted(missing)}")
    vals = t.column("values").combine_chunks()
    sizes = []
    for l in layers:
        r = int(np.flatnonzero(df["layer"].to_numpy() == l)[0])
        sizes.append(len(vals[r]))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    A = np.zeros((len(templates), len(concepts), int(bounds[-1])), dtype=np.float32)
    ti = {x: i for i, x in enumerate(templates)}
    ci = {x: i for i, x in enumerate(concepts)}
    flat = vals.flatten().to_numpy(zero_copy_only=False)
    offs = vals.offsets.to_numpy()
    for r, (c, tm, l) in enumerate(df.itertuples(index=False)):
        if c in ci:
            A[ti[tm], ci[c], bounds[l]:bounds[l + 1]] = flat[offs[r]:offs[r + 1]]
    return A, templates, sizes


def neuron_rankings(A: np.ndarray, layer_sizes, attributes, rdms: pd.DataFrame
                    ) -> dict[str, np.ndarray]:
    """Neurons ordered by their searchlight rank for each attribute (most related first).

    The searchlight is :func:`emostat.analysis.neurons.searchlight.searchlight` against ``rdms`` (pairs
    x attributes: the space's attribute RDMs, pairs in the concepts' order); ties in rank are
    broken by neuron index.
    """
    from emostat.analysis.neurons.searchlight import searchlight

    rsa = searchlight(A, rdms[list(attributes)], list(layer_sizes),
                      n_jobs=min(2, os.cpu_count() or 1))
    out = {}
    for a in attributes:
        r = rsa[rsa["attribute"] == a].sort_values(["rank", "neuron"], kind="stable")
        out[a] = r["neuron"].to_numpy(np.int64)
    return out


def make_conditions(cfg: CollectConfig, out, *, human=None) -> ConditionSet:
    """Stage b: condition sets from the collected activations (searchlight against the space's
    attribute RDMs; ``human`` replaces them in tests); writes conditions.parquet and
    neuron_means.parquet (idempotent: reads them back when present)."""
    out = Path(out)
    cpath, mpath = out / "conditions.parquet", out / "neuron_means.parquet"
    if cpath.exists() and mpath.exists():
        means = io.read_table(mpath)["mean"].to_numpy()
        return ConditionSet.from_table(io.read_table(cpath), len(means))
    space = run_space(cfg)
    A, _, sizes = activation_array(out, space.concepts)
    n = int(sum(sizes))
    ks = cfg.resolve_ks(n)
    rdms = human.attribute_rdms if human is not None else space.attribute_rdms()
    ranks = neuron_rankings(A, sizes, run_attributes(cfg, space), rdms)
    conds = ConditionSet(build_conditions(ranks, ks, sizes, n_draws=cfg.n_random_draws,
                                          scheme=cfg.random_scheme,
                                          shared_random=cfg.shared_random, seed=cfg.seed),
                         n, cfg.ablation)
    prov = io.provenance(**read_run_prov(out), stage="conditions")
    layer = np.repeat(np.arange(len(sizes)), sizes)
    unit = np.concatenate([np.arange(s) for s in sizes])
    means = A.mean(axis=(0, 1), dtype=np.float64)
    io.write_table(pd.DataFrame({"neuron": np.arange(n), "layer": layer, "unit": unit,
                                 "mean": means}), mpath, prov=prov, record_root=out)
    io.write_table(conds.table(), cpath, prov=prov, record_root=out)
    return conds


def read_run_prov(out) -> dict:
    """The run provenance embedded in the first activations shard."""
    files = sorted((Path(out) / "activations").glob("part-*.parquet"))
    if not files:
        return {}
    p = io.read_provenance(files[0])
    return {k: v for k, v in p.items() if k not in ("created", "shard", "dataset",
                                                    "emostat_version", "python")}


# ---------------------------------------------------------------------------------------------
# stage d: the prompt-level accuracy table


def accuracy_table(inference: pd.DataFrame, attributes) -> pd.DataFrame:
    """Prompt-level accuracy (schema ``accuracy``) from the inference rows.

    A prompt is (task, concept, fold): ``template`` = ``"<task>/fold<f>"``. Shared random draws
    (null attribute) appear ONCE, with a null attribute: each is one mask, never copied per
    attribute (the analysis pairs them with every attribute in memory for the study's paired
    tests). ``attributes`` is kept for callers and no longer used.

    Returns
    -------
    DataFrame
        ``model, task, concept, template, condition, condition_id, attribute, k, draw,
        accuracy, n`` (n = items behind the accuracy).
    """
    df = inference.copy()
    df["template"] = df["task"] + "/fold" + df["fold"].astype(str)
    keys = ["model", "task", "concept", "template", "condition_id", "condition"]
    g = (df.groupby(keys, sort=False, dropna=False)
         .agg(accuracy=("correct", "mean"), n=("correct", "size")).reset_index())
    cmeta = (df[["condition_id", "attribute", "k", "draw"]].drop_duplicates("condition_id"))
    g = g.merge(cmeta, on="condition_id", how="left")
    g["k"] = g["k"].astype("Int64")
    g["draw"] = g["draw"].astype("Int64")
    g["accuracy"] = g["accuracy"].astype(float)
    g["n"] = g["n"].astype(np.int64)
    corder = {"none": 0, "attribute": 1, "random": 2}
    g["_c"] = g["condition"].map(corder)
    g = g.sort_values(["task", "concept", "template", "_c", "attribute", "k", "draw"],
                      na_position="first", kind="stable").drop(columns="_c")
    return g[["model", "task", "concept", "template", "condition", "condition_id", "attribute",
              "k", "draw", "accuracy", "n"]].reset_index(drop=True)



def plan_inference(cfg: CollectConfig, items: dict[str, pd.DataFrame],
                   conds: ConditionSet) -> list[sh.Shard]:
    """The model-run inference shards of a run (every condition but none), task by task."""
    if NONE not in conds.by_id:
        raise InputError("conditions: no unmanipulated condition 'none'")
    rest = [c for c in conds.ids if c != NONE]
    out = []
    for task in cfg.tasks:
        out += sh.inference_shards(task, items[task]["item_id"], rest,
                                   items_per_shard=cfg.items_per_shard,
                                   conditions_per_shard=cfg.conditions_per_shard)
    return out

