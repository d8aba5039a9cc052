"""Null calibration of emostat's tests of record: false-positive rate and power by simulation.

A registry of tests (:func:`register`); each test is a function ``run(seed, planted) -> dict``
that simulates one data set (pure null, or with a planted signal), runs the test as emostat
runs it and returns at least ``p`` (the p of record); any other numeric key (e.g. ``ci_excludes``,
whether the row's interval excludes the null value) is summarised the same way. For each test,
over ``--reps`` replications (>= 200 for the record), this reports the rate of p <= alpha under
the null (the false-positive rate, with its Clopper-Pearson 95% interval: it should lie in
[.03, .07] or below) and under the planted signal (power), and writes
``benchmarks/results/null_calibration.json`` and ``null_calibration.png``.

Tests live in ``benchmarks/null_*.py`` modules, imported here; to add one, write a
``benchmarks/null_<name>.py`` with ``@register(name)`` on its ``run`` function. Steering has its
own benchmark (``benchmarks/bench_null_steering.py``: a tiny model collected per replication).

Run (nice: the machine is shared):
    nice .venv/bin/python benchmarks/nullcal.py --reps 200 [--tests probe,layer_rsa,pca]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
ALPHA = 0.05


@dataclass
class Test:
    name: str
    run: callable
    about: str
    reps: int = 0          # replications this test asks for at least (cheap tests: more)


REGISTRY: dict[str, Test] = {}


def register(name: str, about: str = "", reps: int = 0):
    """Decorator: add ``run(seed, planted) -> dict`` to the registry under ``name`` (``reps``:
    replications it asks for at least, above ``--reps``)."""
    def wrap(fn):
        REGISTRY[name] = Test(name, fn, about or (fn.__doc__ or "").strip().splitlines()[0],
                              reps)
        return fn
    return wrap


def load_tests() -> None:
    """Import every ``benchmarks/null_*.py`` (each registers its tests)."""
    sys.path.insert(0, str(HERE))
    sys.modules.setdefault("nullcal", sys.modules[__name__])   # run as a script: one registry
    for path in sorted(HERE.glob("null_*.py")):
        importlib.import_module(path.stem)


def binomial_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of k successes in n."""
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def matmul_gflops(n: int = 1024, repeats: int = 5, dtype=np.float64) -> float:
    """Single-thread matmul rate of numpy here and now (float64 unless ``dtype``; seconds
    are reported beside it; they are not the point of this benchmark)."""
    from threadpoolctl import threadpool_limits

    a, b = np.random.default_rng(0).normal(size=(2, n, n)).astype(dtype)
    with threadpool_limits(1):
        a @ b
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - t) / 1e9


def rate(values) -> dict:
    v = np.asarray(values, dtype=bool)
    lo, hi = binomial_ci(int(v.sum()), len(v))
    return {"rate": float(v.mean()), "k": int(v.sum()), "n": len(v), "ci": [lo, hi]}


def calibrate(test: Test, reps: int, seed0: int = 0) -> dict:
    """Null and planted replications of one test, summarised."""
    out = {"about": test.about}
    for planted in (False, True):
        t = time.perf_counter()
        res = [test.run(seed0 + r, planted) for r in range(reps)]
        keys = sorted({k for r in res for k in r if k != "p"})
        p = np.array([r["p"] for r in res], dtype=float)
        part = {"p_le_alpha": rate(p <= ALPHA), "p_mean": float(np.nanmean(p)),
                "seconds": round(time.perf_counter() - t, 1)}
        for k in keys:
            part[k] = rate([bool(r[k]) for r in res])
        out["planted" if planted else "null"] = part
    lo, hi = out["null"]["p_le_alpha"]["ci"]
    out["calibrated"] = bool(out["null"]["p_le_alpha"]["rate"] <= 0.07 and lo <= ALPHA)
    return out


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(names), 3.4))
    x = np.arange(len(names))
    for dx, kind, colour in ((-0.15, "null", "tab:blue"), (0.15, "planted", "tab:orange")):
        r = [results[n][kind]["p_le_alpha"] for n in names]
        y = np.array([v["rate"] for v in r])
        err = np.array([[v["rate"] - v["ci"][0], v["ci"][1] - v["rate"]] for v in r]).T
        ax.errorbar(x + dx, y, yerr=err, fmt="o", color=colour,
                    label="false-positive rate (null)" if kind == "null" else "power (planted)")
    ax.axhspan(0.03, 0.07, color="grey", alpha=.2, lw=0)
    ax.axhline(ALPHA, color="grey", lw=.7)
    ax.set(xticks=x, xticklabels=[f"{n}\n({results[n]['null']['p_le_alpha']['n']})"
                                  for n in names], ylim=(0, 1.02),
           ylabel=f"share of p <= {ALPHA}",
           title="Null calibration (replications per test; 95% CI)")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    load_tests()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--tests", default=",".join(REGISTRY),
                    help=f"comma list of {', '.join(REGISTRY)}")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "null_calibration.json")
    a = ap.parse_args(argv)
    names = [n for n in a.tests.split(",") if n]
    unknown = sorted(set(names) - set(REGISTRY))
    if unknown:
        ap.error(f"unknown tests {unknown}; known: {sorted(REGISTRY)}")
    load0, rate0 = os.getloadavg(), round(matmul_gflops(), 1)
    old = json.loads(a.out.read_text()) if a.out.exists() else {}
    results = dict(old.get("tests", {}))
    for name in names:
        reps = max(a.reps, REGISTRY[name].reps)
        print(f"== {name}: {reps} null + {reps} planted replications", flush=True)
        results[name] = calibrate(REGISTRY[name], reps)
        r = results[name]
        print(f"   false-positive rate {r['null']['p_le_alpha']['rate']:.3f} "
              f"{[round(c, 3) for c in r['null']['p_le_alpha']['ci']]}, power "
              f"{r['planted']['p_le_alpha']['rate']:.3f}", flush=True)
    record = {"alpha": ALPHA, "host": platform.node(), "load_before": load0,
              "load_after": os.getloadavg(), "matmul_gflops_1thread": rate0,
              "when": time.strftime("%Y-%m-%d %H:%M"), "tests": results}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=1))
    figure(results, a.out.with_suffix(".png"))
    print(f"wrote {a.out} and {a.out.with_suffix('.png')}")
    return 0 if all(r["calibrated"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
