"""Inference throughput: today's code path vs the new one, same rows, same run (issue 10).

Rows are item x condition pairs as the runner makes them (item-major, 32 rows per batch), on
shipped situations with the short choice prompt, under a "none" condition plus seeded random
masks of k = 2,304 neurons (5%; an attribute mask costs the same). Paths, each timed on the
same rows in every round (rounds interleave the paths, so load changes hit all of them):

  old        today's path: 1 process, 1 thread, torch's fp32 kernels; choice scoring continues
             every one of the 27 words through the shared cache, 9 texts per forward
             (``score_choices(legacy=True)``); today's default task mix is binary + choice
             (2 binary rows per choice row: 54 + 27 items)
  new_1p     the new choice path (only the 2 two-token words continued) with oneDNN fp32
             kernels (emostat.collect.fastcpu), 1 process, 1 thread
  new_1p2t   the same, 1 process with 2 threads
  new_2p     the same, 2 worker processes x 1 thread (the default profile's setting)

The headline ratio is rows/s of the new default mix (choice only, new_2p) over rows/s of
today's default mix (old, binary + choice); the choice-only ratio (old choice vs new_2p) is
given too. Tokens/s (prompt tokens, no padding) sit beside the issue's forward-pass figures
(batch 32 x 23 tokens: fp32 408 / 592 tokens/s with 1 / 2 threads, int8 750), which are also
re-measured here (``forward``). Fidelity: new vs old scores (max |difference|, decisions);
int8 dynamic quantisation vs fp32 (decision agreement raw and calibrated, margin and
activation correlations). Writes benchmarks/results/throughput.json.

Run:  .venv/bin/python benchmarks/bench_throughput.py           # ~10 min on a quiet 2-core CPU
      .venv/bin/python benchmarks/bench_throughput.py --fast    # ~2 min, fewer rows, 1 round
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.json"
K = 2304
_W: dict = {}


# ---------------------------------------------------------------- worker side

def _init():
    import copy

    import torch

    warnings.filterwarnings("ignore")
    from emostat.collect import fastcpu
    from emostat.collect.models import load_model

    torch.set_num_threads(1)
    lm = load_model(None, threads=1)
    fast = copy.copy(lm)
    fast.model = copy.deepcopy(lm.model)
    fast, rec = fastcpu.prepare(fast, "onednn")
    _W.update(lm=lm, fast=fast, rec=rec)


def _ready(barrier):
    barrier.wait()
    return _W["rec"]


def _rows(spec):
    """Texts, masks and emotions of the rows of ``spec`` (deterministic in every process)."""
    from emostat.collect import stimuli
    from emostat.constants import EMOTIONS

    st = stimuli.read_stimuli(None)
    per = spec["per_emotion"]
    items = st.groupby("concept", sort=False).head(per).iloc[spec["lo"]:spec["hi"]]
    n = _W["lm"].site.n_neurons
    rng = np.random.default_rng(20241201)
    conds = np.zeros((spec["n_conditions"], n), bool)
    for c in range(1, spec["n_conditions"]):
        conds[c, rng.choice(n, K, replace=False)] = True
    texts, emos, masks, asked = [], [], [], []
    for j, (text, emo) in enumerate(zip(items["text"], items["concept"])):
        other = EMOTIONS[(EMOTIONS.index(emo) + 1 + j) % 27]
        for c in range(spec["n_conditions"]):
            texts.append(text)
            emos.append(emo)
            masks.append(conds[c])
            asked.append(emo if (j % 2 == 0) else other)
    return texts, emos, np.stack(masks), asked


def _score(spec):
    """Score the rows of ``spec`` with its path; returns (seconds, scores, prompt tokens)."""
    import torch

    from emostat.collect import templates as T
    from emostat.collect.tasks import score_binary, score_choices
    from emostat.constants import EMOTIONS

    torch.set_num_threads(spec.get("threads", 1))
    lm = _W["lm"] if spec["path"] == "old" else _W[spec.get("model", "fast")]
    texts, _, masks, asked = _rows(spec)
    B = 32
    out = []
    t0 = time.perf_counter()
    for lo in range(0, len(texts), B):
        sl = slice(lo, lo + B)
        if spec["task"] == "choice":
            out.append(score_choices(lm, texts[sl], list(EMOTIONS), masks=masks[sl],
                                     prompt=lambda text, choices: T.choice_prompt_short(text),
                                     batch_size=B, chat=False, legacy=spec["path"] == "old"))
        else:
            out.append(score_binary(lm, texts[sl], asked[sl], masks=masks[sl],
                                    prompt=lambda text, emotion: T.binary_prompt(text, emotion),
                                    batch_size=B, chat=False))
    dt = time.perf_counter() - t0
    tok = _W["lm"].tokenizer
    if spec["task"] == "choice":
        n_tok = sum(len(tok(T.choice_prompt_short(t))["input_ids"]) for t in texts)
    else:
        n_tok = sum(len(tok(T.binary_prompt(t, e))["input_ids"]) for t, e in zip(texts, asked))
    torch.set_num_threads(1)
    return dt, np.concatenate(out), n_tok


def _int8_fidelity(spec):
    """int8 (quantize_dynamic) vs fp32 on the new path: scores and concept activations."""
    import torch

    from emostat.collect import fastcpu
    from emostat.collect.calibration import calibration_table, decide, margins
    from emostat.collect.tasks import concept_activations
    from emostat.collect.templates import concept_prompts
    from emostat.constants import EMOTIONS
    import pandas as pd

    torch.set_num_threads(1)
    q, rec = fastcpu.prepare(_W["lm"], "torch", quantize="int8")
    _W["int8"] = q
    _, fp, _ = _score({**spec, "path": "new", "model": "fast"})
    _, s8, _ = _score({**spec, "path": "new", "model": "int8"})
    _, emos, _, _ = _rows(spec)
    nc = spec["n_conditions"]
    none = np.arange(len(fp)) % nc == 0

    def cal(s):
        rows = pd.DataFrame({"task": "choice", "concept": np.array(emos)[none],
                             "condition": "none", "logprobs": list(s[none])})
        return calibration_table(rows, candidates=EMOTIONS)

    out = {"n_rows": int(len(fp)), "n_linear": rec["n_linear"]}
    for name, c_fp, c_8 in (("raw", None, None), ("calibrated", cal(fp), cal(s8))):
        d_fp = decide("choice", fp, emos, c_fp, candidates=EMOTIONS)
        d_8 = decide("choice", s8, emos, c_8, candidates=EMOTIONS)
        m_fp = margins("choice", fp, emos, emos, c_fp, candidates=EMOTIONS)
        m_8 = margins("choice", s8, emos, emos, c_8, candidates=EMOTIONS)
        out[f"decision_agreement_{name}"] = float(np.mean(np.array(d_fp) == np.array(d_8)))
        out[f"margin_correlation_{name}"] = float(np.corrcoef(m_fp, m_8)[0, 1])
        out[f"accuracy_fp32_{name}"] = float(np.mean(np.array(d_fp) == np.array(emos)))
        out[f"accuracy_int8_{name}"] = float(np.mean(np.array(d_8) == np.array(emos)))
    out["score_correlation"] = float(np.corrcoef(fp.ravel(), s8.ravel())[0, 1])
    cp = pd.DataFrame(concept_prompts())
    cp = cp[cp["template"].isin(["t01", "t02", "t03"])]
    col = "text" if "text" in cp.columns else "prompt"
    a_fp = concept_activations(_W["lm"], list(cp[col]))
    a_8 = concept_activations(q, list(cp[col]))
    a_fast = concept_activations(_W["fast"], list(cp[col]))
    per = [np.corrcoef(x, y)[0, 1] for x, y in zip(a_fp, a_8)]
    out["activation_correlation"] = float(np.corrcoef(a_fp.ravel(), a_8.ravel())[0, 1])
    out["activation_correlation_median_per_prompt"] = float(np.median(per))
    out["onednn_activation_max_abs_diff"] = float(np.abs(a_fast - a_fp).max())
    out["n_activation_prompts"] = int(len(a_fp))
    return out


def _forward_rates(reps):
    """Forward of 32 sentences x 23 tokens (logits_to_keep=1): tokens/s per kernel/threads."""
    import torch

    from emostat.collect import fastcpu

    lm = _W["lm"]
    ids = torch.randint(100, 40000, (32, 23), generator=torch.Generator().manual_seed(0))
    models = {"fp32_torch": lm.model, "fp32_onednn": _W["fast"].model}
    if "int8" not in _W:
        _W["int8"] = fastcpu.prepare(lm, "torch", quantize="int8")[0]
    models["int8_torch"] = _W["int8"].model
    res = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, m in models.items():
            with torch.no_grad():
                m(input_ids=ids, logits_to_keep=1, use_cache=False)
                ts = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    m(input_ids=ids, logits_to_keep=1, use_cache=False)
                    ts.append(time.perf_counter() - t0)
            res[f"{name}_{threads}t"] = round(32 * 23 / statistics.median(ts), 1)
    torch.set_num_threads(1)
    return res


# ---------------------------------------------------------------- driver

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fast", action="store_true", help="fewer rows, one round (~2 min)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    per, n_cond, rounds = (2, 8, 1) if a.fast else (2, 16, 3)
    n_items = 8 if a.fast else 16                  # choice items; binary: twice as many rows
    rounds = a.rounds or rounds
    ctx = mp.get_context("spawn")
    t_start = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=ctx, initializer=_init) as pool:
        barrier = ctx.Manager().Barrier(2)
        rec = [f.result() for f in [pool.submit(_ready, barrier) for _ in range(2)]][0]
        base = {"per_emotion": per, "n_conditions": n_cond}
        choice = {**base, "task": "choice", "lo": 0, "hi": n_items}
        binary = {**base, "task": "binary", "lo": 0, "hi": 2 * n_items}
        halves = [{**choice, "hi": n_items // 2}, {**choice, "lo": n_items // 2}]
        times: dict[str, list] = {k: [] for k in ("old_choice", "old_binary", "new_1p",
                                                  "new_1p2t", "new_2p", "new_binary_2p")}
        scores = {}
        tokens = {}
        for r in range(rounds):
            dt, s, n = pool.submit(_score, {**choice, "path": "old"}).result()
            times["old_choice"].append(dt)
            scores["old"], tokens["choice"] = s, n
            dt, s, n = pool.submit(_score, {**binary, "path": "old"}).result()
            times["old_binary"].append(dt)
            tokens["binary"] = n
            dt, s, _ = pool.submit(_score, {**choice, "path": "new"}).result()
            times["new_1p"].append(dt)
            scores["new"] = s
            dt, _, _ = pool.submit(_score, {**choice, "path": "new", "threads": 2}).result()
            times["new_1p2t"].append(dt)
            t0 = time.perf_counter()
            parts = [f.result() for f in [pool.submit(_score, {**h, "path": "new"})
                                          for h in halves]]
            times["new_2p"].append(time.perf_counter() - t0)
            assert np.allclose(np.concatenate([p[1] for p in parts]), scores["new"], atol=1e-4)
            bh = [{**binary, "hi": n_items}, {**binary, "lo": n_items}]
            t0 = time.perf_counter()
            [f.result() for f in [pool.submit(_score, {**h, "path": "new"}) for h in bh]]
            times["new_binary_2p"].append(time.perf_counter() - t0)
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.1f} s"
                                                          for k, v in times.items()), flush=True)
        int8 = pool.submit(_int8_fidelity, choice).result()
        fwd = pool.submit(_forward_rates, 3 if a.fast else 7).result()
    n_choice, n_binary = n_items * n_cond, 2 * n_items * n_cond
    med = {k: statistics.median(v) for k, v in times.items()}
    rps = {"old_choice": n_choice / med["old_choice"], "old_binary": n_binary / med["old_binary"],
           "new_1p": n_choice / med["new_1p"], "new_1p2t": n_choice / med["new_1p2t"],
           "new_2p": n_choice / med["new_2p"], "new_binary_2p": n_binary / med["new_binary_2p"]}
    # today's default mix: 54 binary + 27 choice items under every condition (2 : 1 rows)
    old_mix = (n_choice + n_binary) / (med["old_choice"] + med["old_binary"])
    tpr = {"choice": tokens["choice"] / n_choice, "binary": tokens["binary"] / n_binary}
    new, old = scores["new"], scores["old"]
    res = {
        "benchmark": "inference throughput, today's path vs the new path (issue 10)",
        "model": "SmolLM2-135M-Instruct (embedded), float32", "kernel_new": rec,
        "machine": {"platform": platform.platform(), "cpu_count": mp.cpu_count(),
                    "processor": platform.processor()},
        "note": "ratios are measured in the same run on the same rows; rounds interleave the "
                "paths. The machine may be shared: absolute rates vary, ratios less so.",
        "fast": bool(a.fast), "rounds": rounds, "k": K,
        "rows": {"choice": n_choice, "binary": n_binary, "conditions_per_item": n_cond},
        "prompt_tokens_per_row": {k: round(v, 2) for k, v in tpr.items()},
        "median_seconds": {k: round(v, 3) for k, v in med.items()},
        "rows_per_s": {k: round(v, 2) for k, v in rps.items()},
        "rows_per_s_old_default_mix": round(old_mix, 2),
        "ratio_default_mix": round(rps["new_2p"] / old_mix, 2),
        "ratio_choice": round(rps["new_2p"] / rps["old_choice"], 2),
        "ratio_choice_1p_algorithm_and_kernel": round(rps["new_1p"] / rps["old_choice"], 2),
        "ratio_2p_over_1p2t": round(rps["new_2p"] / rps["new_1p2t"], 2),
        "prompt_tokens_per_s": {k: round(v * tpr["binary" if "binary" in k else "choice"], 1)
                                for k, v in rps.items()},
        "issue_forward_tokens_per_s": {"fp32_1t": 408, "fp32_2t": 592, "int8_1t": 750,
                                       "bf16_1t": 112},
        "forward_tokens_per_s_here": fwd,
        "fidelity_new_vs_old": {
            "max_abs_diff": float(np.abs(new - old).max()),
            "raw_decision_agreement": float(np.mean(new.argmax(1) == old.argmax(1)))},
        "fidelity_int8_vs_fp32": int8,
        "seconds_total": round(time.perf_counter() - t_start, 1),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: res[k] for k in ("rows_per_s", "rows_per_s_old_default_mix",
                                          "ratio_default_mix", "ratio_choice",
                                          "ratio_2p_over_1p2t", "fidelity_new_vs_old")},
                     indent=1))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
