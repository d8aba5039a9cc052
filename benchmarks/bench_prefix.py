"""The shared prompt prefix run once per condition vs every prompt run whole (issue 24, item 3).

Every choice prompt of the default run starts with ``Situation:`` (4 tokens of the embedded
model's tokenizer; the prompts have 22-49 tokens). The task model keeps those tokens' keys and
values per mask (emostat.collect.prefix) and runs only the rest of each prompt. Measured here
on the embedded model, same rows, same process, each batch run both ways back to back:

  tokens     the share of the default design's prompt tokens the prefix covers (exact)
  time       seconds per row of one shard's rows (27 items x 17 conditions: the none condition
             and 16 seeded random masks of k = 2,304, rows sorted by length as the worker does,
             batches of 32), one thread, in float32, where collection uses the prefix path
             (``--dtype bfloat16`` measures it where it is off unless asked: there it moves
             decisions by the dtype's rounding, see emostat.collect.prefix.store_for).
             The prefix path keeps one store over its rounds, as a worker keeps it over its
             shards: round 1 fills it (17 prefix forwards of one row each, as at a worker's
             first shard; "cold"), later rounds find every mask in it ("warm", as at every
             later shard: the default run has 45 conditions over 12,150 rows)
  agreement  the two paths' log-probs (max |difference|) and decisions (argmax); beside them
             the same measures between whole prompts in batches of 32 and of 16 rows, the
             dtype's own rounding noise (in bfloat16 a batch's shape alone moves log-probs by
             tenths; in float32 the prefix path equals whole prompts to about 3e-5), and, when
             the run is not float32, each path's agreement with whole prompts in float32 (the
             reference the precision check uses): the prefix path must be no farther from it

With the single-thread matmul rate measured in the same run. Writes
benchmarks/results/prefix.json (float32) or prefix_bfloat16.json.

Run:  .venv/bin/python benchmarks/bench_prefix.py [--rounds 3] [--items 27] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from bench_design import gflops

RESULTS = Path(__file__).resolve().parent / "results"      # prefix.json, prefix_bfloat16.json
K, B, ITEMS_PER_SHARD, CONDS_PER_SHARD = 2304, 32, 27, 17


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--items", type=int, default=ITEMS_PER_SHARD)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    from emostat.collect import fastcpu
    from emostat.collect import templates as T
    from emostat.collect.models import load_model
    from emostat.collect.prefix import PrefixCache, shared_prefix
    from emostat.collect.stimuli import read_stimuli
    from emostat.collect.tasks import score_choices
    from emostat.constants import EMOTIONS

    torch.set_num_threads(1)
    rate0 = gflops()
    dtype = a.dtype
    lm = load_model(None, threads=1, dtype=dtype)
    lm, _ = fastcpu.prepare(lm, "onednn")
    tok = lm.tokenizer
    st = read_stimuli(None)
    ids = [tok(T.choice_prompt_short(t))["input_ids"] for t in st["text"]]
    n_prefix = shared_prefix(ids)
    n_tokens = sum(map(len, ids))

    picked = st.sample(a.items, random_state=0)
    lengths = {i: len(ids[j]) for i, j in enumerate(picked.index)}
    items = picked.reset_index(drop=True)
    n = lm.site.n_neurons
    rng = np.random.default_rng(20241207)
    masks = np.zeros((CONDS_PER_SHARD, n), bool)
    for c in range(1, CONDS_PER_SHARD):
        masks[c, rng.choice(n, K, replace=False)] = True
    rows = sorted(((i, c) for i in range(a.items) for c in range(CONDS_PER_SHARD)),
                  key=lambda r: (lengths[r[0]], r))

    store = PrefixCache()
    prompt = lambda text, choices: T.choice_prompt_short(text)          # noqa: E731

    def run(b, prefix: bool):
        lm.prefix_cache = store if prefix else None
        t0 = time.perf_counter()
        s = score_choices(lm, [items.text[i] for i, _ in b], list(EMOTIONS),
                          masks=np.stack([masks[c] for _, c in b]), prompt=prompt,
                          batch_size=len(b), chat=False, prefix=prefix)
        return time.perf_counter() - t0, s

    def score(prefix: bool, size: int = B):
        out = {}
        for lo in range(0, len(rows), size):
            b = rows[lo:lo + size]
            out.update({r: v for r, v in zip(b, run(b, prefix)[1])})
        return out

    # each batch runs both ways back to back, the order alternating: the host's drift (its
    # matmul rate moved by 1.5x within one run here) falls on both paths alike
    times = {"whole": [0.0] * a.rounds, "prefix": [0.0] * a.rounds}
    scores = {"whole": {}, "prefix": {}}
    for rnd in range(a.rounds):
        for j, lo in enumerate(range(0, len(rows), B)):
            b = rows[lo:lo + B]
            for name in (("whole", "prefix") if (j + rnd) % 2 == 0 else ("prefix", "whole")):
                dt, s = run(b, name == "prefix")
                times[name][rnd] += dt / len(rows)
                scores[name].update({r: v for r, v in zip(b, s)})
    keys = sorted(scores["whole"])
    x = np.array([scores["whole"][k] for k in keys])
    y = np.array([scores["prefix"][k] for k in keys])
    half = score(False, B // 2)
    z = np.array([half[k] for k in keys])
    ref = {}
    if dtype != "float32":                      # whole prompts in float32: the reference
        lm = fastcpu.prepare(load_model(None, threads=1, dtype="float32"), "onednn")[0]
        full = score(False)
        r = np.array([full[k] for k in keys])
        for name, v in (("whole", x), ("prefix", y)):
            ref[name] = {"decisions_agree": int((v.argmax(1) == r.argmax(1)).sum()),
                         "mean_abs_logprob_difference": float(np.abs(v - r).mean())}
    med = {k: statistics.median(v[1:] or v) for k, v in times.items()}
    res = {
        "what": __doc__.split("\n\n")[0],
        "host": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load": os.getloadavg(), "matmul_gflops_1thread": [rate0, gflops()], "dtype": dtype,
        "prefix_tokens": n_prefix, "prompt_tokens_mean": n_tokens / len(ids),
        "token_share_of_prefix": n_prefix * len(ids) / n_tokens,
        "rows_timed": len(keys), "rounds": a.rounds,
        "seconds_per_row": med, "seconds_per_row_rounds": times,
        "speedup_prefix_over_whole": med["whole"] / med["prefix"],
        "speedup_cold_first_round": times["whole"][0] / times["prefix"][0],
        "speedup_all_rounds": sum(times["whole"]) / sum(times["prefix"]),
        "prefix_forwards": store.computed,
        "max_abs_logprob_difference": float(np.abs(x - y).max()),
        "decisions_agree": int((x.argmax(1) == y.argmax(1)).sum()), "decisions": len(keys),
        "noise_whole_batch_32_vs_16": {
            "max_abs_logprob_difference": float(np.abs(x - z).max()),
            "decisions_agree": int((x.argmax(1) == z.argmax(1)).sum())},
        "against_float32_whole": ref,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("prefix.json" if dtype == "float32" else f"prefix_{dtype}.json")
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: res[k] for k in ("dtype", "prefix_tokens", "token_share_of_prefix",
                                           "seconds_per_row", "speedup_prefix_over_whole",
                                           "speedup_cold_first_round", "speedup_all_rounds",
                                           "max_abs_logprob_difference", "decisions_agree",
                                           "noise_whole_batch_32_vs_16", "against_float32_whole",
                                           "matmul_gflops_1thread", "load")}, indent=1))


if __name__ == "__main__":
    main()
