"""Ablation-sweep throughput: per-row masks (many conditions per forward) vs naive loops.

On the embedded SmolLM2-135M, scores the binary verbalizer (``score_binary``) for n_items texts
under n_conditions random k-neuron zero-ablation masks, three ways:
  per_row_masks      all items x conditions in batches of ``--batch`` rows, one mask per row
  per_condition      one forward per condition (its items batched, hooks re-registered each time)
  per_item_condition one forward per (item, condition) pair (the fully naive loop)
and checks that all three give the same logits. Writes benchmarks/results/ablation.json with
items/s (item x condition pairs per second) and speed-up ratios measured in the same run.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ablation.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from emostat.collect.models import load_model
from emostat.collect.tasks import score_binary

ITEMS = [
    "My brother called to say he had been accepted into the program he applied to twice.",
    "The waiter spilled soup on my coat and then laughed about it with his friends.",
    "I kept checking the window all night, but the headlights never came up the drive.",
    "A stranger paid for my groceries when my card was declined at the checkout.",
    "We waited four hours in the rain only to hear that the ferry would not sail today.",
    "She read the final page, closed the book and sat in silence for a long while.",
    "The new neighbours left a basket of bread and jam on our doorstep this morning.",
    "He realised halfway through the speech that he had brought the wrong notes.",
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", type=int, default=8)
    ap.add_argument("--k", type=int, default=4000, help="neurons silenced per condition")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "ablation.json")
    ap.add_argument("--model", help="local path or cached id (default: embedded SmolLM2)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    a = ap.parse_args(argv)
    lm = load_model(a.model, device=a.device, dtype=a.dtype, threads=a.threads)
    n, c = len(ITEMS), a.conditions
    rng = np.random.default_rng(0)
    cond = np.zeros((c, lm.n_neurons), dtype=bool)
    for j in range(c):
        cond[j, rng.choice(lm.n_neurons, a.k, replace=False)] = True
    texts = [t for _ in range(c) for t in ITEMS]               # condition-major rows
    masks = np.repeat(cond, n, axis=0)
    emotion = "gratitude"

    def per_row():
        return score_binary(lm, texts, emotion, masks=masks, batch_size=a.batch)

    def per_condition():
        return np.concatenate([score_binary(lm, ITEMS, emotion, masks=cond[j], batch_size=n)
                               for j in range(c)])

    def per_item_condition():
        return np.concatenate([score_binary(lm, [t], emotion, masks=cond[j], batch_size=1)
                               for j in range(c) for t in ITEMS])

    variants = {"per_row_masks": per_row, "per_condition": per_condition,
                "per_item_condition": per_item_condition}
    outs = {k: fn() for k, fn in variants.items()}             # warm-up + agreement check
    max_diff = {k: float(np.abs(v - outs["per_row_masks"]).max()) for k, v in outs.items()}
    times = {k: [] for k in variants}
    for _ in range(a.repeats):
        for k, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ips = {k: n * c / v for k, v in med.items()}
    out = {
        "benchmark": "ablation sweep items/s: per-row masks vs one condition per forward",
        "model": lm.identity["name"], "device": a.device, "dtype": a.dtype,
        "weight_sha256": lm.identity["weight_sha256"],
        "task": "score_binary (chat template, yes/no verbalizer)",
        "n_items": n, "n_conditions": c, "k": a.k, "batch_rows": a.batch,
        "threads": a.threads, "repeats": a.repeats,
        "machine": {"platform": platform.platform(), "torch": torch.__version__},
        "median_s": med, "all_s": times, "items_per_s": ips,
        "speedup_per_row_vs_per_condition": med["per_condition"] / med["per_row_masks"],
        "speedup_per_row_vs_per_item_condition": med["per_item_condition"] / med["per_row_masks"],
        "max_abs_logit_diff_vs_per_row": max_diff,
    }
    for k in variants:
        print(f"{k:20s} {med[k]:7.2f} s  {ips[k]:6.2f} items/s  max|diff| {max_diff[k]:.2e}")
    print(f"speed-up vs per_condition {out['speedup_per_row_vs_per_condition']:.2f}x, "
          f"vs per_item_condition {out['speedup_per_row_vs_per_item_condition']:.2f}x")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
