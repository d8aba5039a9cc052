"""How much of a genuine knowledge loss per-condition calibration counts as a "prior shift".

``drop_recal`` (emostat.analysis.masking.bias) re-fits each condition's offsets on its own
items, which removes any shift of the answer prior; but a mask that removes the evidence for ONE
answer only also moves that answer's re-fitted offset, so part of a genuine knowledge loss can
disappear from ``drop_recal`` into ``drop_prior``. This simulation measures that share with
emostat's own code (:func:`recalibrate`, :func:`bias_knowledge`), with no prior shift at all
(every point of the drop is knowledge), two calibration folds, the run's decisions from the
unmanipulated condition's offsets (cross-fitted):

- yes/no task: each concept's balanced set (``per`` yes and ``per`` no items), margin =
  b_concept + mu (yes items) or - mu (no items) + logistic noise; one mask removes all
  (``full``) or half (``mild``) of the evidence for "yes" of every concept;
- choice task: a candidate's score is ``mu * [candidate = answer] + b_candidate + Gumbel
  noise``; one mask per concept A removes all or half of the evidence for A in A's items.

Reported: the share ``sum(drop_prior) / sum(drop)`` over the masks (mean over replications,
its Monte-Carlo SE and range), the baseline accuracy, per setting. Writes
benchmarks/results/asymmetric_loss.json. No timing (nothing here is a speed benchmark).

Run: .venv/bin/python benchmarks/sim_asymmetric_loss.py [--reps 30]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from emostat.analysis.masking.bias import bias_knowledge, recalibrate

OUT = Path(__file__).parent / "results" / "asymmetric_loss.json"


def _share(inf: pd.DataFrame, concepts) -> dict:
    know = bias_knowledge(recalibrate(inf, concepts))
    m = know[know["condition"] != "none"]
    base = float(know.loc[know["condition"] == "none", "accuracy"].iloc[0])
    return {"share_prior": float(m["drop_prior"].sum() / m["drop"].sum()),
            "drop_points": float(100 * m["drop"].mean()), "baseline": base}


def simulate_binary(n_concepts: int, per: int, mu: float, keep: float, seed: int) -> dict:
    """One replication of the yes/no task: a concept's balanced set (``per`` yes and ``per`` no
    items); margin = b_concept + mu (yes) or - mu (no) + logistic noise; one mask removes a
    share of the evidence for "yes" (the yes items' + mu) of every concept, nothing else."""
    rng = np.random.default_rng(seed)
    concepts = [f"c{j:02d}" for j in range(n_concepts)]
    concept = np.repeat(concepts, 2 * per)
    yes = np.tile(np.r_[np.ones(per, bool), np.zeros(per, bool)], n_concepts)
    n = len(yes)
    fold = np.tile([0, 1], n // 2 + 1)[:n]
    base = rng.normal(0, 0.5, n_concepts).repeat(2 * per) + rng.logistic(0, 1, n)
    rows = []
    for cid, kind, k in (("none", "none", None), ("mask", "attribute", 1)):
        ev = np.where(yes, mu * (keep if kind == "attribute" else 1.0), -mu)
        margin = base + ev
        rows.append(pd.DataFrame({
            "task": "binary", "condition_id": cid, "condition": kind,
            "attribute": None if k is None else "yes-evidence",
            "k": pd.array([k] * n, dtype="Int64"), "draw": pd.array([None] * n, dtype="Int64"),
            "item_id": np.arange(n), "concept": concept,
            "label": np.where(yes, "yes", "no").astype(object), "cal_fold": fold,
            "logprobs": list(np.c_[np.zeros(n), margin])}))
    inf = pd.concat(rows, ignore_index=True)
    none = inf[inf["condition"] == "none"]
    m_none = np.stack(none["logprobs"].to_numpy())[:, 1]
    med = {(c, f): np.median(m_none[(none["concept"].to_numpy() == c)
                                    & (none["cal_fold"].to_numpy() != f)])
           for c in concepts for f in (0, 1)}
    m = np.stack(inf["logprobs"].to_numpy())[:, 1]
    thr = np.array([med[(c, f)] for c, f in zip(inf["concept"], inf["cal_fold"])])
    inf["correct"] = np.where(m - thr > 0, "yes", "no") == inf["label"].to_numpy()
    inf["margin"] = np.nan
    return _share(inf, concepts)


def simulate(n_concepts: int, per: int, mu: float, keep: float, seed: int) -> dict:
    """One replication of the choice task: the prior share of the drop over the C masks that
    each remove the evidence for one answer."""
    rng = np.random.default_rng(seed)
    concepts = [f"c{j:02d}" for j in range(n_concepts)]
    label = np.repeat(np.arange(n_concepts), per)
    n = len(label)
    fold = np.tile([0, 1], n // 2 + 1)[:n]
    noise = rng.gumbel(0, 1, (n, n_concepts)) + rng.normal(0, 0.5, n_concepts)
    rows = []
    conditions = [("none", "none", -1)] + [(f"mask:{c}", "attribute", j)
                                           for j, c in enumerate(concepts)]
    for cid, kind, target in conditions:
        ev = np.full(n, mu)
        ev[label == target] *= keep                   # evidence for one answer removed
        s = noise.copy()
        s[np.arange(n), label] += ev
        rows.append(pd.DataFrame({
            "task": "choice", "condition_id": cid, "condition": kind,
            "attribute": None if kind == "none" else concepts[target],
            "k": pd.array([None if kind == "none" else 1] * n, dtype="Int64"),
            "draw": pd.array([None] * n, dtype="Int64"), "item_id": np.arange(n),
            "concept": np.array(concepts, dtype=object)[label],
            "label": np.array(concepts, dtype=object)[label], "cal_fold": fold,
            "logprobs": list(s)}))
    inf = pd.concat(rows, ignore_index=True)
    # the run's decisions: offsets of the unmanipulated condition (other fold), all conditions
    none = inf[inf["condition"] == "none"]
    S_none = np.stack(none["logprobs"].to_numpy())
    off = {f: S_none[none["cal_fold"].to_numpy() != f].mean(axis=0) for f in (0, 1)}
    S = np.stack(inf["logprobs"].to_numpy())
    adj = S - np.stack([off[f] for f in inf["cal_fold"]])
    pred = np.array(concepts, dtype=object)[adj.argmax(axis=1)]
    inf["correct"] = pred == inf["label"].to_numpy()
    inf["margin"] = np.nan
    return _share(inf, concepts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    settings = [("binary", 27, 40, 1.5), ("binary", 27, 40, 3.0), ("choice", 27, 40, 4.0),
                ("choice", 6, 100, 2.0)]
    out = []
    for task, n_concepts, per, mu in settings:
        sim = simulate_binary if task == "binary" else simulate
        for name, keep in (("full", 0.0), ("mild", 0.5)):
            reps = [sim(n_concepts, per, mu, keep, seed) for seed in range(args.reps)]
            share = np.array([r["share_prior"] for r in reps])
            out.append({"task": task, "concepts": n_concepts, "items_per_concept": per, "mu": mu,
                        "loss": name, "evidence_kept": keep, "reps": args.reps,
                        "baseline_accuracy": float(np.mean([r["baseline"] for r in reps])),
                        "drop_points_per_mask": float(np.mean([r["drop_points"] for r in reps])),
                        "share_counted_as_prior": float(share.mean()),
                        "share_se": float(share.std(ddof=1) / np.sqrt(len(share))),
                        "share_min": float(share.min()), "share_max": float(share.max())})
            r = out[-1]
            print(f"{task:6s} C={n_concepts:2d} n={per:2d} mu={mu:.1f} {name:4s}: baseline "
                  f"{r['baseline_accuracy']:.2f}, drop {r['drop_points_per_mask']:.2f} pts/mask, "
                  f"share counted as prior {100 * r['share_counted_as_prior']:.1f}% "
                  f"(MC SE {100 * r['share_se']:.1f}) "
                  f"[{100 * r['share_min']:.1f}, {100 * r['share_max']:.1f}]")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"script": "benchmarks/sim_asymmetric_loss.py",
                               "settings": out}, indent=2) + "\n")


if __name__ == "__main__":
    main()
