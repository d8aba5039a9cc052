"""Calibration of the RSA tests (issue 23): the size at alpha = .05 of the two-factor test of
record (the two-factor jackknife, :mod:`emostat.analysis.engines.rsajack`) beside Schütt et
al. 2023's corrected two-factor bootstrap (rsatoolbox's), the uncorrected two-factor bootstrap
and the one-factor tests, over simulated null data sets with known rater and concept variance.

Simulation (each data set): n concepts drawn from a population, positions F ~ N(0, I_4) in a
4-dimensional human space; R raters drawn from a population, rater r weighting the dimensions
by exp(N(0, tau^2)) and judging each pair with noise N(0, sigma^2): rater RDM
= sqrt(sum_k w_rk (F_ik - F_jk)^2) + noise. Models:
- ``null``: distances between independent positions G ~ N(0, I_4) (``--null pairs``: N(0, 1)
  noise per pair, no concept structure): its expected score over concepts and raters is 0
  (exchangeable RDMs), tested one-sided (greater) against 0; also by the concept-label
  permutation test (199 permutations);
- ``A``: distances on dimensions 1-2 of F, ``B``: on dimensions 3-4 (each plus N(0, 0.5^2)
  position noise): equally good in the population by symmetry; a rater who weights 1-2 more
  favours A (rater variance, set by tau), a concept sample spread more on 1-2 too (concept
  variance). A - B tested two-sided (paired, the same resamples).
Each test: ``both`` (two-factor jackknife, Satterthwaite df), ``both_schutt`` (corrected
bootstrap, df min(n, R) - 1), ``uncorrected`` (variance of the two-factor bootstrap itself),
``raters`` and ``concepts`` (one-factor bootstrap, n/(n-1), df n - 1), ``concepts_jackknife``
(the jackknife's concept factor alone, every rater kept, its Satterthwaite df: the interval
beside the permutation p), ``both_df_concepts`` (the two-factor jackknife's variance on n - 1 df instead
of Satterthwaite's). Size = share
of data sets with p < .05, with its Clopper-Pearson 95% interval. The true SD of each estimate
over data sets is printed beside the mean bootstrap SE of each method.

Run: nice .venv/bin/python benchmarks/bench_rsa_calibration.py [--sets 1000] [--boot 200]
     [--comparator rho_a]
Writes benchmarks/results/rsa_calibration.json and rsa_calibration.png.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy import stats

from bench_rsa_speed import gflops
from threadpoolctl import threadpool_limits

from emostat.analysis.engines.rsaboot import bootstrap
from emostat.analysis.engines.rsacompare import Resample
from emostat.analysis.engines.rsainfer import boot_cov, contrast_variance, dual_variance
from emostat.analysis.engines.rsajack import jack_variance, jackknife
from emostat.analysis.engines.rsaperm import permutation_test
from emostat.constants import pair_indices

OUT = Path(__file__).parent / "results"
METHODS = ("both", "both_schutt", "uncorrected", "raters", "concepts",
           "concepts_jackknife", "both_df_concepts")
N_PERM = 199
TIMES = {"bootstrap": 0.0, "jackknife": 0.0}


def simulate(rng, n, R, tau, sigma, null_kind="concepts"):
    i, j = pair_indices(n)
    F = rng.normal(size=(n, 4))
    W = np.exp(rng.normal(0, tau, size=(R, 4)))
    D2 = (F[i] - F[j]) ** 2                                              # (P, 4)
    Y = np.sqrt(D2 @ W.T).T + rng.normal(0, sigma, size=(R, len(i)))
    G = rng.normal(size=(n, 4))
    null = np.sqrt(((G[i] - G[j]) ** 2).sum(axis=1))
    if null_kind == "pairs":                     # pure pair noise: no concept structure
        null = rng.normal(size=len(i))
    A = F[:, :2] + rng.normal(0, 0.5, size=(n, 2))
    B = F[:, 2:] + rng.normal(0, 0.5, size=(n, 2))
    ma = np.sqrt(((A[i] - A[j]) ** 2).sum(axis=1))
    mb = np.sqrt(((B[i] - B[j]) ** 2).sum(axis=1))
    return np.vstack([null, ma, mb]), Y


def one_set(rng, args):
    n, R = args.concepts, args.raters
    X, Y = simulate(rng, n, R, args.tau, args.sigma, args.null)
    est = Resample.full(n, args.comparator).cross(X, Y)[0].mean(axis=1)          # (3,)
    t0 = time.perf_counter()
    reps = bootstrap(X, Y, args.comparator, "per_rater", n_boot=args.boot,
                     seed=int(rng.integers(2**31)), ceiling=False)
    TIMES["bootstrap"] += time.perf_counter() - t0
    covs = {k: boot_cov(reps[k]) for k in ("both", "raters", "concepts")}
    C = np.array([[1, 0, 0, 0, 0], [0, 1, -1, 0, 0]], float)                     # null, A - B
    v = {k: contrast_variance(covs[k], C) for k in covs}
    t0 = time.perf_counter()
    jv = jack_variance(jackknife(X, Y, args.comparator, "per_rater", ceiling=False), C)
    TIMES["jackknife"] += time.perf_counter() - t0
    var = {"both": jv["var"],
           "both_schutt": dual_variance(v["both"], v["raters"], v["concepts"], R, n),
           "uncorrected": v["both"], "raters": v["raters"] * R / (R - 1),
           "concepts": v["concepts"] * n / (n - 1), "concepts_jackknife": jv["var_concepts"],
           "both_df_concepts": jv["var"]}
    df = {"both": jv["df"], "both_schutt": min(n, R) - 1, "uncorrected": min(n, R) - 1,
          "raters": R - 1, "concepts": n - 1, "concepts_jackknife": jv["df_concepts"],
          "both_df_concepts": n - 1}
    stat = np.array([est[0], est[1] - est[2]])
    perm = permutation_test(X[:1], Y, args.comparator, "per_rater", N_PERM,
                            int(rng.integers(2**31)))["p_value"][0]
    out = {"permutation": (perm, np.nan, np.nan, np.nan)}
    for m in METHODS:
        se = np.sqrt(np.maximum(var[m], 1e-300))
        t, d = stat / se, np.broadcast_to(df[m], 2)
        out[m] = (stats.t.sf(t[0], d[0]), 2 * stats.t.sf(abs(t[1]), d[1]), se[0], se[1])
    return stat, out


def clopper(k, N):
    lo = 0.0 if k == 0 else stats.beta.ppf(0.025, k, N - k + 1)
    hi = 1.0 if k == N else stats.beta.ppf(0.975, k + 1, N - k)
    return float(lo), float(hi)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=1000)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--concepts", type=int, default=27)
    ap.add_argument("--raters", type=int, default=61)
    ap.add_argument("--tau", type=float, default=2.5, help="SD of log rater weights")
    ap.add_argument("--sigma", type=float, default=1.0, help="SD of rater noise per pair")
    ap.add_argument("--comparator", default="rho_a")
    ap.add_argument("--null", choices=("concepts", "pairs"), default="concepts",
                    help="the null model RDM: distances between independent concept positions, "
                         "or independent noise per pair")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    with threadpool_limits(1):
        run(args, rng)


def run(args, rng):
    g0 = gflops()
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    stats_, res = [], {m: [] for m in METHODS + ("permutation",)}
    for k in range(args.sets):
        s, o = one_set(rng, args)
        stats_.append(s)
        for m in res:
            res[m].append(o[m])
        if (k + 1) % 100 == 0:
            print(f"{k + 1} sets, {time.perf_counter() - t0:.0f} s", flush=True)
    stats_ = np.asarray(stats_)
    summary = {}
    for m in res:
        a = np.asarray(res[m])
        row = {}
        for t, (col, se_col) in {"zero": (0, 2), "difference": (1, 3)}.items():
            if m == "permutation" and t == "difference":
                continue
            k = int((a[:, col] <= 0.05).sum())
            row[t] = {"size": k / args.sets, "ci": clopper(k, args.sets),
                      "mean_se": float(a[:, se_col].mean())}
        summary[m] = row
    true_sd = {"zero": float(stats_[:, 0].std(ddof=1)),
               "difference": float(stats_[:, 1].std(ddof=1))}
    out = {"what": "size at alpha .05 of RSA tests on simulated null data (per_rater estimand)",
           "design": vars(args), "true_sd_of_estimate": true_sd,
           "mean_estimate": {"zero": float(stats_[:, 0].mean()),
                             "difference": float(stats_[:, 1].mean())},
           "methods": summary, "seconds": time.perf_counter() - t0,
           "seconds_per_set": {"jackknife (both)": TIMES["jackknife"] / args.sets,
                               f"bootstrap ({args.boot} x 3 kinds)": TIMES["bootstrap"] / args.sets,
                               "ratio jackknife / bootstrap": TIMES["jackknife"] / TIMES["bootstrap"]},
           "one_blas_thread": True, "matmul_gflops_1thread": [g0, gflops()],
           "load_start": load0, "load_end": os.getloadavg()[0]}
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"rsa_calibration{args.tag}"
    (OUT / f"{name}.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    figure(out, OUT / f"{name}.png")


def figure(out, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
    labels = {"both": "two-factor\njackknife", "both_schutt": "2-factor boot\n(Schütt)",
              "uncorrected": "2-factor boot\n(uncorrected)", "raters": "raters\nonly",
              "concepts": "concepts\nonly", "concepts_jackknife": "concepts\njackknife",
              "both_df_concepts": "2-factor jk\ndf n - 1",
              "permutation": "concept-label\npermutation"}
    for ax, test in zip(axes, ("zero", "difference")):
        shown = METHODS + (("permutation",) if test == "zero" else ())
        for x, m in enumerate(shown):
            r = out["methods"][m][test]
            ax.errorbar(x, r["size"], yerr=[[r["size"] - r["ci"][0]], [r["ci"][1] - r["size"]]],
                        fmt="o", color="black" if m == "both" else "grey", capsize=3)
        ax.axhspan(0.04, 0.06, color="tab:green", alpha=0.15)
        ax.axhline(0.05, color="tab:green", lw=1)
        ax.set_xticks(range(len(shown)), [labels[m] for m in shown], fontsize=7)
        ax.set_title({"zero": "null model vs 0 (one-sided)",
                      "difference": "equal models A - B (two-sided)"}[test], fontsize=9)
        ax.set_yscale("log")
    axes[0].set_ylabel("size at alpha = .05")
    d = out["design"]
    fig.suptitle(f"{d['sets']} null data sets: {d['concepts']} concepts x {d['raters']} raters, "
                 f"{d['comparator']}, {d['boot']} resamples each, null model: "
                 f"{d.get('null', 'concepts')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
