"""Activation-capture overhead vs the plain forward pass on the embedded SmolLM2-135M.

Times, interleaved and repeated, a forward over 32 sentences of ~20 tokens:
  plain        model forward only (logits_to_keep=1, no cache), no hooks
  capture_last the same forward inside ``capture(positions=last token)`` (all 30 layers)
  capture_all  the same, keeping every position (what a naive tracer stores)
  concept_activations  the public task (tokenising + capture + copy to numpy)
with 1 and 2 torch threads. Writes benchmarks/results/capture.json; ratios are medians over
repeats against ``plain`` at the same thread count, measured in the same run.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_capture.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from emostat.collect.hooks import capture
from emostat.collect.models import load_model, set_threads
from emostat.collect.tasks import concept_activations

SENTENCES = [
    "After three years apart, my sister finally walked through the arrivals gate this morning.",
    "The landlord kept the whole deposit and would not even answer a single one of my emails.",
    "He stood alone on the empty platform as the last train of the night pulled away slowly.",
    "Our small team shipped the release on time, and the customers wrote to thank us warmly.",
    "She found the old letters from her grandmother hidden in a box at the back of the attic.",
    "The dog next door barked at every passing car from dawn until well after midnight again.",
    "I opened the exam results and read my name near the very top of the printed list twice.",
    "They cancelled the concert an hour before it began, with thousands already in the hall.",
]


def _timed(fn, n=1):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "capture.json")
    ap.add_argument("--model", help="local path or cached id (default: embedded SmolLM2)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    a = ap.parse_args(argv)
    lm = load_model(a.model, device=a.device, dtype=a.dtype)
    texts = (SENTENCES * (a.batch // len(SENTENCES) + 1))[:a.batch]
    enc = lm.tokenizer(texts, return_tensors="pt", padding=True).to(a.device)
    last = enc["attention_mask"].sum(1) - 1
    model, site = lm.model, lm.site

    def plain():
        with torch.no_grad():
            model(**enc, logits_to_keep=1, use_cache=False)

    def cap(positions):
        def run():
            with torch.no_grad(), capture(model, site, positions=positions) as acts:
                model(**enc, logits_to_keep=1, use_cache=False)
            assert len(acts) == site.n_layers
        return run

    def task():
        concept_activations(lm, texts, position="last", batch_size=a.batch)

    variants = {"plain": plain, "capture_last": cap(last), "capture_all": cap("all"),
                "concept_activations": task}
    results = {}
    for th in [int(t) for t in a.threads.split(",")]:
        set_threads(th)
        for fn in variants.values():                       # warm-up
            fn()
        times = {k: [] for k in variants}
        for _ in range(a.repeats):                          # interleaved repeats
            for k, fn in variants.items():
                times[k].append(_timed(fn))
        med = {k: statistics.median(v) for k, v in times.items()}
        results[f"threads_{th}"] = {
            "median_s": med,
            "all_s": times,
            "overhead_vs_plain": {k: med[k] / med["plain"] - 1 for k in variants if k != "plain"},
        }
        print(f"threads={th}: " + ", ".join(f"{k} {v:.3f}s" for k, v in med.items()))
        for k, v in results[f"threads_{th}"]["overhead_vs_plain"].items():
            print(f"   {k}: {100 * v:+.1f}% vs plain")
    t1 = results.get("threads_1", {}).get("median_s", {}).get("plain")
    t2 = results.get("threads_2", {}).get("median_s", {}).get("plain")
    out = {
        "benchmark": "capture overhead vs plain forward",
        "model": lm.identity["name"], "device": a.device, "dtype": a.dtype,
        "weight_sha256": lm.identity["weight_sha256"],
        "batch": a.batch, "tokens_per_row": int(enc["input_ids"].shape[1]),
        "repeats": a.repeats, "target": "capture_last overhead <= 10%",
        "machine": {"platform": platform.platform(), "cpu_count": __import__("os").cpu_count(),
                    "torch": torch.__version__},
        "threads_2_over_threads_1_plain_time": (t2 / t1) if t1 and t2 else None,
        "results": results,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
