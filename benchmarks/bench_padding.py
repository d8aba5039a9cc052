"""Rows sorted by length within a shard vs rows batched as they come (issue 24, item 3).

The default profile's shards hold 27 items x 17 conditions and score them in batches of 32
rows, item-major, so a batch holds 2-3 different texts and is padded to the longest. The
worker now orders a shard's rows by the item's token count before batching (the table keeps
the pairs' order). Measured here on the embedded model, same rows, same process, rounds
interleaved so load hits both orders:

  padding    share of padded positions over all scored positions, for every shard of the
             default design (405 choice items, 35 conditions; exact, no model run)
  time       seconds per row of one shard's rows (27 items x 17 conditions: the none
             condition and 16 seeded random masks of k = 2,304) in each order, one thread
  agreement  the two orders' log-probs (max |difference|) and decisions (argmax)

With the single-thread matmul rate measured in the same run. Writes
benchmarks/results/padding.json.

Run:  .venv/bin/python benchmarks/bench_padding.py [--rounds 2] [--items 27]
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

RESULTS = Path(__file__).resolve().parent / "results" / "padding.json"
K, B, ITEMS_PER_SHARD, CONDS_PER_SHARD = 2304, 32, 27, 17


def batches(lengths, n_conditions, order):
    """Row batches (lists of item indices) of one shard's item-major pairs in ``order``."""
    rows = [i for i in order for _ in range(n_conditions)]
    return [rows[lo:lo + B] for lo in range(0, len(rows), B)]


def padding_share(lengths, n_conditions, order) -> tuple[int, int]:
    """Padded and total positions of the batches."""
    pad = total = 0
    for b in batches(lengths, n_conditions, order):
        m = max(lengths[i] for i in b)
        pad += sum(m - lengths[i] for i in b)
        total += m * len(b)
    return pad, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--items", type=int, default=ITEMS_PER_SHARD)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    from emostat.collect import fastcpu
    from emostat.collect import templates as T
    from emostat.collect.models import load_model
    from emostat.collect.stimuli import read_stimuli
    from emostat.collect.tasks import score_choices
    from emostat.constants import EMOTIONS

    torch.set_num_threads(1)
    rate0 = gflops()
    lm = load_model(None, threads=1)
    lm, _ = fastcpu.prepare(lm, "onednn")
    tok = lm.tokenizer
    st = read_stimuli(None)
    prompt_len = np.array([len(tok(T.choice_prompt_short(t))["input_ids"]) for t in st["text"]])

    # padding over every shard of the default design (items in the stimuli's order)
    n_cond_all = 35
    pad = {"before": [0, 0], "after": [0, 0]}
    for lo in range(0, len(st), ITEMS_PER_SHARD):
        L = prompt_len[lo:lo + ITEMS_PER_SHARD]
        for c0 in range(0, n_cond_all, CONDS_PER_SHARD):
            nc = min(CONDS_PER_SHARD, n_cond_all - c0)
            for name, order in (("before", range(len(L))),
                                ("after", sorted(range(len(L)), key=lambda i: (L[i], i)))):
                p, t = padding_share(L, nc, list(order))
                pad[name][0] += p
                pad[name][1] += t

    # timing on one shard's rows
    picked = st.sample(a.items, random_state=0)
    items, L = picked.reset_index(drop=True), prompt_len[picked.index]
    n = lm.site.n_neurons
    rng = np.random.default_rng(20241207)
    masks = np.zeros((CONDS_PER_SHARD, n), bool)
    for c in range(1, CONDS_PER_SHARD):
        masks[c, rng.choice(n, K, replace=False)] = True
    orders = {"before": list(range(a.items)),
              "after": sorted(range(a.items), key=lambda i: (L[i], i))}

    def score(order):
        rows = [(i, c) for i in order for c in range(CONDS_PER_SHARD)]
        out = {}
        t0 = time.perf_counter()
        for lo in range(0, len(rows), B):
            b = rows[lo:lo + B]
            s = score_choices(lm, [items.text[i] for i, _ in b], list(EMOTIONS),
                              masks=np.stack([masks[c] for _, c in b]),
                              prompt=lambda text, choices: T.choice_prompt_short(text),
                              batch_size=B, chat=False)
            out.update({r: s[j] for j, r in enumerate(b)})
        return time.perf_counter() - t0, out

    times = {"before": [], "after": []}
    scores = {}
    for _ in range(a.rounds):
        for name in ("before", "after"):
            dt, s = score(orders[name])
            times[name].append(dt / len(s))
            scores[name] = s
    keys = sorted(scores["before"])
    x = np.array([scores["before"][k] for k in keys])
    y = np.array([scores["after"][k] for k in keys])
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {
        "what": __doc__.split("\n\n")[0],
        "host": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load": os.getloadavg(), "matmul_gflops_1thread": [rate0, gflops()],
        "padding_share": {k: float(v[0] / v[1]) for k, v in pad.items()},
        "padded_positions": {k: int(v[0]) for k, v in pad.items()},
        "scored_positions": {k: int(v[1]) for k, v in pad.items()},
        "rows_timed": len(keys), "rounds": a.rounds,
        "seconds_per_row": med, "seconds_per_row_rounds": times,
        "speedup_after_over_before": med["before"] / med["after"],
        "max_abs_logprob_difference": float(np.abs(x - y).max()),
        "decisions_agree": int((x.argmax(1) == y.argmax(1)).sum()), "decisions": len(keys),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: res[k] for k in ("padding_share", "seconds_per_row",
                                           "speedup_after_over_before",
                                           "max_abs_logprob_difference", "decisions_agree",
                                           "matmul_gflops_1thread", "load")}, indent=1))


if __name__ == "__main__":
    main()
