"""Null calibration and power of the steering test of record (the specificity contrast).

Each replication r builds a fresh tiny random Llama (``tests/tiny_models.py``, seed r) and a
fresh null space: 8 concepts x 5 strings of random words with random concept labels, so no
concept vector is tied to its word. The grid is collected with the real path
(:func:`emostat.collect.steering_grid.steering_grid` at the middle layer: 16 steering items, the
default 20 on-manifold and 5 isotropic random directions, scales .25/.5/1, every direction scored
on every word) and tested with :func:`emostat.analysis.geometry.steering.specificity`
(``own - other ~ 1 + (1 | item) + (1 | concept)``). Planted: the output row of each concept
word's first token gets ``beta`` x the concept's unit vector (``tiny_models.plant_steering``),
so adding a concept's vector raises its own word.

Smallest faithful design: the record test's structure (items x concepts crossed, every concept
vector on every word, three scales, the default random directions) with 8 concepts instead of
27 and a 3-layer model of width 16; one LMM fit per replication.

Also on the first ``--extra`` null grids, two tests that are not specificity tests: v1's record
(``delta_logp ~ scale + concept_scale + (0 + scale | item) + (0 + scale | vector)``: concept
vectors on their own word against isotropic directions each on one drawn word, one vector
variance) and ``concept_vs_random_manifold`` (separate vector variances). In this tiny random
model random directions move the words as concept vectors do, so these are calibrated here
too; what they test is concept against random, not specificity (on SmolLM2 the random
directions lower the words and carry v1's estimate).

Writes ``benchmarks/results/null_steering.json`` and ``null_steering.png``: rejection rates at
alpha .05 with Clopper-Pearson 95% intervals, seconds per replication, load and 1-thread matmul
GFLOPS measured in the same run.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_null_steering.py [--null 400]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE)]

WORDS = ["joy", "fear", "anger", "happy", "sad", "admiration", "surprise", "positive"]
VOCAB = ("the a i you she he it was is this my friend when after today won lost game dog rain "
         "sun day night gift letter old home work").split()
V1_DOSE = ("delta_logp ~ scale + concept_scale + (0 + scale | item) "
           "+ (0 + scale | vector)")


def null_space(seed, n_concepts=8, per=5):
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(VOCAB, size=6)) for _ in range(n_concepts * per)]
    return pd.DataFrame({"id": [f"s{k}" for k in range(len(texts))], "text": texts,
                         "concept": rng.permutation(np.repeat(WORDS[:n_concepts], per))})


def v1_dose(grid, seed):
    """v1's record on a grid: each isotropic direction scored on one drawn word."""
    from emostat.analysis.engines.mixed import fit_mixed

    rng = np.random.default_rng(seed)
    iso = grid[grid.kind == "random_isotropic"]
    drawn = {v: rng.choice(sorted(grid.target.unique())) for v in sorted(iso.vector.unique())}
    d = pd.concat([grid[grid.matched], iso[iso.target == iso.vector.map(drawn)]])
    d = d.assign(concept_scale=(d.kind == "concept") * d.scale)
    t = fit_mixed(d, V1_DOSE).tidy()
    r = t[(t.effect == "fixed") & (t.term == "concept_scale")].iloc[0]
    return float(r.p_value), float(r.estimate)


def replicate(r, beta, extra):
    import tiny_models as tm

    from emostat.analysis.geometry.steering import (cell_slopes, components, specificity,
                                                    vs_random)
    from emostat.collect.geometry import residual_states
    from emostat.collect.geometry_run import GeometryOptions
    from emostat.collect.steering_grid import steering_grid

    lm = tm.tiny_lm("llama", seed=r)
    stim = null_space(10_000 + r)
    concepts = WORDS[:8]
    words = {c: c for c in concepts}
    layer = 1
    if beta:
        tm.plant_steering(lm, stim.text.tolist(), stim.concept, concepts, words, layer, beta)
    X = residual_states(lm, stim.text.tolist(), layers=[layer])[0]
    opt = GeometryOptions(n_items=16)
    grid = steering_grid(lm, X, stim, concepts, words, layer, opt, seed=r)
    rec = specificity(grid)
    out = dict(p=float(rec["p_value"]), estimate=float(rec["estimate"]),
               status=rec["status"])
    if extra:
        out["v1_dose_p"], out["v1_dose_estimate"] = v1_dose(grid, r)
        parts = components(cell_slopes(grid))
        vs = vs_random(parts, "random_manifold")
        out["vs_manifold_p"], out["vs_manifold_estimate"] = vs["p_value"], vs["estimate"]
        out.update({f"component_{k}": float(v["y"].mean()) for k, v in parts.items()})
    return out


def rate(ps, alpha, direction=None):
    ps = np.asarray(ps, float)
    hit = ps <= alpha if direction is None else (ps <= alpha) & (np.asarray(direction) > 0)
    k, n = int(hit.sum()), int(np.isfinite(ps).sum())
    lo = stats.beta.ppf(0.025, k, n - k + 1) if k else 0.0
    hi = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return dict(rejections=k, n=n, rate=k / n, ci95=[float(lo), float(hi)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null", type=int, default=400, help="null replications")
    ap.add_argument("--extra", type=int, default=100,
                    help="null replications that also fit v1's dose and concept vs random")
    ap.add_argument("--planted", type=int, default=100, help="replications per beta")
    ap.add_argument("--betas", default="0.1,0.25,0.5")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "null_steering.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("CI", "true")
    from bench_geometry import gflops   # the same 1-thread matmul probe

    load0, mm = os.getloadavg(), gflops()
    t0 = time.perf_counter()
    null = [replicate(r, 0.0, extra=r < a.extra) for r in range(a.null)]
    t_null = (time.perf_counter() - t0) / a.null
    ext = [x for x in null if "v1_dose_p" in x]
    res = dict(null=dict(
        specificity=rate([x["p"] for x in null], a.alpha),
        specificity_one_sided=rate([x["p"] for x in null], a.alpha,
                                   [x["estimate"] for x in null]),
        v1_dose=rate([x["v1_dose_p"] for x in ext], a.alpha),
        concept_vs_random_manifold=rate([x["vs_manifold_p"] for x in ext], a.alpha),
        mean_components={k: float(np.mean([x[k] for x in ext])) for k in ext[0]
                         if k.startswith("component_")} if ext else {},
        failed=sum(x["status"] == "failed" for x in null),
        singular=sum(x["status"] == "singular" for x in null),
        p_values=[round(x["p"], 6) for x in null]))
    power = {}
    t1 = time.perf_counter()
    for b in [float(x) for x in a.betas.split(",")]:
        reps = [replicate(100_000 + r, b, extra=False) for r in range(a.planted)]
        power[str(b)] = rate([x["p"] for x in reps], a.alpha, [x["estimate"] for x in reps])
        power[str(b)]["mean_estimate"] = float(np.mean([x["estimate"] for x in reps]))
        power[str(b)]["p_values"] = [round(x["p"], 6) for x in reps]
    t_planted = (time.perf_counter() - t1) / max(1, a.planted * len(power))
    out = dict(test="steering specificity (own - other ~ 1 + (1 | item) + (1 | concept))",
               design="tiny Llama (3 layers, width 16), 8 concepts x 5 random strings, 16 "
                      "items, 8 concept + 20 on-manifold + 5 isotropic directions, scales "
                      ".25/.5/1, layer 1", alpha=a.alpha, **res, power=power,
               seconds_per_null_replication=t_null,
               seconds_per_planted_replication=t_planted,
               matmul_gflops_1thread=mm, load_average_start=load0,
               load_average_end=os.getloadavg(), torch=torch.__version__)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    figure(out, a.out.with_suffix(".png"))
    print(json.dumps(out, indent=1))


def figure(out, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("specificity (record), null", out["null"]["specificity"]),
            ("specificity 'supported', null", out["null"]["specificity_one_sided"]),
            ("v1 dose vs isotropic, null", out["null"]["v1_dose"]),
            ("concept vs on-manifold random, null", out["null"]["concept_vs_random_manifold"])]
    rows += [(f"specificity, planted beta {b}", r) for b, r in out["power"].items()]
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    y = np.arange(len(rows))[::-1]
    for yi, (name, r) in zip(y, rows):
        ax.errorbar(r["rate"], yi, xerr=[[r["rate"] - r["ci95"][0]], [r["ci95"][1] - r["rate"]]],
                    fmt="o", capsize=3)
    ax.axvline(out["alpha"], color="grey", lw=.8, ls="--")
    ax.axvspan(0.03, 0.07, color="grey", alpha=.15)
    ax.set_yticks(y, [n for n, _ in rows], fontsize=7)
    ax.set(xlabel=f"rejection rate at alpha {out['alpha']} (95% Clopper-Pearson)", xlim=(0, 1),
           title="Steering: null calibration and power")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
