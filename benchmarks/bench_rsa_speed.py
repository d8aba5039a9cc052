"""Speed of the two-factor RSA bootstrap with noise ceilings (issue 23): emostat's engine
against rsatoolbox 0.3.2's ``eval_dual_bootstrap``, per resample, in the same run.

Shape: 27 concepts x 61 raters (Likert 1-9 dissimilarities, as the study's similarity task) x
10 model RDMs. One resample = rater and concept draws evaluated three times (both, raters
alone, concepts alone: Schütt et al.'s dual bootstrap), the per-rater estimand of every model
and the Nili ceiling (lower and upper) each time.
  rsatoolbox  ``eval_dual_bootstrap(models, rdms, method, k_pattern=1, k_rdm=1, N=k)``, timed
              at a few resamples (its cost is the same for every resample);
  emostat     ``emostat.analysis.engines.rsaboot.bootstrap(..., n_boot=10000)``, all of them.
Both on one BLAS thread. Recorded beside the times: the 1-minute load average before each and
this machine's single-thread float64 matmul rate (GFLOPS, 1024^2 x 1024) before and after.
The ratio is the result; seconds depend on the host and the load.

Run: nice .venv/bin/python benchmarks/bench_rsa_speed.py [--boot 10000] [--rs-boot 2]
     [--comparators rho_a,tau_b]
Writes benchmarks/results/rsa_speed.json and rsa_speed.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from emostat.analysis.engines.rsaboot import bootstrap
from emostat.constants import pair_indices

OUT = Path(__file__).parent / "results"
RS_NAME = {"tau_b": "tau-b", "tau_a": "tau-a", "rho_a": "rho-a", "pearson": "corr",
           "cosine": "cosine", "whitened_cosine": "cosine_cov"}


def gflops(repeats: int = 3) -> float:
    a = np.random.default_rng(0).normal(size=(1024, 1024))
    best = np.inf
    a @ a
    for _ in range(repeats):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * 1024 ** 3 / best / 1e9


def data(n=27, R=61, M=10, seed=0):
    rng = np.random.default_rng(seed)
    i, j = pair_indices(n)
    F = rng.normal(size=(n, 4))
    truth = np.sqrt(((F[i] - F[j]) ** 2).sum(axis=1))
    Y = np.clip(np.round(1 + 2 * truth + rng.normal(0, 1.5, (R, len(i)))), 1, 9)
    X = truth + rng.normal(0, 1, (M, len(i))) * np.linspace(0.2, 3, M)[:, None]
    return X, Y


def time_rsatoolbox(X, Y, comp, k):
    from rsatoolbox.inference import eval_dual_bootstrap
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    models = [ModelFixed(f"m{m}", RDMs(X[m:m + 1])) for m in range(len(X))]
    np.random.seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load = os.getloadavg()[0]
        t = time.perf_counter()
        eval_dual_bootstrap(models, RDMs(Y), method=RS_NAME[comp], k_pattern=1, k_rdm=1, N=k)
        return (time.perf_counter() - t) / k, load


def time_emostat(X, Y, comp, B):
    bootstrap(X, Y, comp, "per_rater", n_boot=8, seed=0)           # compile the kernels
    load = os.getloadavg()[0]
    t = time.perf_counter()
    out = bootstrap(X, Y, comp, "per_rater", n_boot=B, seed=1)
    dt = time.perf_counter() - t
    assert np.isfinite(out["both"]).all(axis=1).mean() > 0.99
    return dt, load


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--boot", type=int, default=10_000)
    ap.add_argument("--rs-boot", type=int, default=2)
    ap.add_argument("--comparators", default="rho_a,tau_b")
    args = ap.parse_args()
    X, Y = data()
    rows = {}
    with threadpool_limits(1):
        g0 = gflops()
        for comp in args.comparators.split(","):
            rs, rs_load = time_rsatoolbox(X, Y, comp, args.rs_boot)
            em, em_load = time_emostat(X, Y, comp, args.boot)
            rows[comp] = {"rsatoolbox_s_per_resample": rs, "rsatoolbox_resamples": args.rs_boot,
                          "rsatoolbox_load": rs_load, "emostat_s_total": em,
                          "emostat_resamples": args.boot,
                          "emostat_s_per_resample": em / args.boot, "emostat_load": em_load,
                          "ratio": rs / (em / args.boot)}
            print(comp, json.dumps(rows[comp]), flush=True)
        g1 = gflops()
    out = {"what": "two-factor bootstrap with Nili ceilings, per_rater estimand, 27 concepts x "
                   "61 raters x 10 models, one BLAS thread",
           "baseline": "rsatoolbox 0.3.2 eval_dual_bootstrap(k_pattern=1, k_rdm=1)",
           "matmul_gflops_1thread": [g0, g1], "host": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "results": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rsa_speed.json").write_text(json.dumps(out, indent=1))
    figure(out, OUT / "rsa_speed.png")


def figure(out, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comps = list(out["results"])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for k, c in enumerate(comps):
        r = out["results"][c]
        ax.bar(k - 0.2, r["rsatoolbox_s_per_resample"], 0.4, color="grey",
               label="rsatoolbox 0.3.2" if k == 0 else None)
        ax.bar(k + 0.2, r["emostat_s_per_resample"], 0.4, color="black",
               label="emostat" if k == 0 else None)
        ax.text(k, r["rsatoolbox_s_per_resample"], f"{r['ratio']:.0f}x", ha="center",
                va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(comps)), comps)
    ax.set_ylabel("seconds per resample (1 thread)")
    g = out["matmul_gflops_1thread"]
    ax.set_title(f"dual bootstrap + ceilings, 27 x 61 x 10; matmul {g[0]:.0f}-{g[1]:.0f} GFLOPS",
                 fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
