"""The design table's closed form checked by simulation at one design point (issue 24).

Simulates item x mask data from a record GLMM with given variance components (item,
attribute-mask, random-mask; log-odds), at a design (items, attribute masks, random masks)
and a true contrast equal to the design table's detectable effect at 80% power, fits the
record model (``correct ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) +
(0 + is_random | mask)``, mixedlm's glmer, Laplace, bobyqa) to each and reports:

- the rejection rate of the two-sided Wald z at alpha in the claimed direction (target 0.80),
  with its Clopper-Pearson 95% interval;
- the mean fitted SE and the SD of the estimates beside the closed-form SE;
- with ``--null``, the same at a true contrast of 0 (the test's size).

The components default to the embedded model's (the measured run of docs/inference.md);
``--results DIR`` reads them from a run's ``design`` table instead.

``--run DIR`` (a collected run) checks the closed form on real data instead: the record GLMM
fitted to the whole run gives the components; the same model refitted on sub-designs of the
run (fewer random masks, fewer items per concept) gives fitted SEs to set beside the closed
form's prediction for each sub-design. Writes benchmarks/results/design_check.json (or
design_run.json) with the load and the single-thread matmul rate.

Run: .venv/bin/python benchmarks/bench_design.py --sims 100
     .venv/bin/python benchmarks/bench_design.py --run out
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
import pandas as pd
from scipy import stats

# planning values (docs/inference.md, "The design table"), not measured; --results overrides
DEFAULT = dict(var_item=2.3, var_attribute=0.5, var_random=0.5, intercept=-0.4, contrast=0.2)


def gflops(n=1024, repeats=5) -> float:
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - t) / 1e9


def simulate(rng, comp, delta, n_items, n_att, n_rnd) -> pd.DataFrame:
    u = rng.normal(0, np.sqrt(comp["var_item"]), n_items)
    rows = []
    for m in range(n_att + n_rnd):
        rnd = float(m >= n_att)
        sd = np.sqrt(comp["var_random"] if rnd else comp["var_attribute"])
        eta = comp["intercept"] + delta * rnd + u + rng.normal(0, sd)
        y = rng.random(n_items) < 1 / (1 + np.exp(-eta))
        rows.append(pd.DataFrame({"item": np.arange(n_items).astype(str), "mask": f"m{m}",
                                  "attribute_vs_random": rnd, "is_random": rnd,
                                  "is_attribute": 1 - rnd, "correct": y.astype(float)}))
    return pd.concat(rows, ignore_index=True)


def fit(d: pd.DataFrame) -> tuple[float, float]:
    import mixedlm

    f = ("correct ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) + "
         "(0 + is_random | mask)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mixedlm.glmer(f, d, family=mixedlm.families.Binomial(),
                            control=mixedlm.glmerControl(optimizer="bobyqa"))
    fe = pd.Series(res.fixef(), dtype=float)
    se = pd.Series(np.sqrt(np.diag(np.asarray(res.vcov(), float))), index=fe.index)
    return float(fe["attribute_vs_random"]), float(se["attribute_vs_random"])


def run(comp, delta, design, sims, alpha, seed) -> dict:
    rng = np.random.default_rng(seed)
    est, se = [], []
    t0 = time.perf_counter()
    for _ in range(sims):
        try:
            e, s = fit(simulate(rng, comp, delta, *design))
        except Exception:      # noqa: BLE001 - a failed fit counts as no rejection
            e, s = np.nan, np.nan
        est.append(e)
        se.append(s)
    est, se = np.array(est), np.array(se)
    z = est / se
    hits = int(np.nansum(z > stats.norm.isf(alpha / 2)))
    ci = stats.binomtest(hits, sims).proportion_ci(method="exact")
    return dict(delta=delta, sims=sims, rejections=hits, rate=hits / sims,
                rate_ci=[ci.low, ci.high], failed=int(np.isnan(est).sum()),
                mean_se=float(np.nanmean(se)), sd_estimate=float(np.nanstd(est, ddof=1)),
                mean_estimate=float(np.nanmean(est)), seconds=time.perf_counter() - t0)


FORMULA = ("correct ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) + "
           "(0 + is_random | mask)")


def run_check(run_dir: Path, out: Path, task: str = "choice") -> dict:
    """The closed form against fitted SEs on sub-designs of a collected run."""
    from emostat import io
    from emostat.analysis.engines.mixed import fit_mixed
    from emostat.analysis.masking.design import Components

    inf = io.read_table(run_dir / "inference", dataset="inference")
    inf = inf[(inf["task"] == task) & inf["condition"].isin(["attribute", "random"])]
    rnd = (inf["condition"] == "random").astype(float)
    concept = "concept" if "concept" in inf else "emotion"
    d = pd.DataFrame({"item": inf["item_id"].astype(str), "mask": inf["condition_id"].astype(str),
                      "attribute_vs_random": rnd, "is_random": rnd, "is_attribute": 1 - rnd,
                      "correct": inf["correct"].astype(float), "concept": inf[concept],
                      "draw": inf["draw"].fillna(-1).astype(int)})
    rank = d.drop_duplicates("item").groupby("concept").cumcount()
    d["ipc"] = d["item"].map(dict(zip(d.drop_duplicates("item")["item"], rank + 1)))

    def fitted(sub):
        t0 = time.perf_counter()
        f = fit_mixed(sub, FORMULA, family="binomial")
        t = f.tidy().set_index("term")
        g = f.glance().iloc[0]
        sd_item = t.loc["sd__(Intercept)", "estimate"] if "sd__(Intercept)" in t.index else 0
        var = {x: float(t.loc[f"sd__is_{x}", "estimate"]) ** 2
               if f"sd__is_{x}" in t.index else 0.0 for x in ("attribute", "random")}
        return dict(se=float(t.loc["attribute_vs_random", "std_error"]),
                    estimate=float(t.loc["attribute_vs_random", "estimate"]),
                    var_item=float(sd_item) ** 2, var_attribute=var["attribute"],
                    var_random=var["random"], intercept=float(t.loc["(Intercept)", "estimate"]),
                    status=f.status, message=f.message, logLik=float(g.get("logLik", np.nan)),
                    seconds=time.perf_counter() - t0)

    full = fitted(d)
    c = Components(full["var_item"], full["var_attribute"], full["var_random"],
                   full["intercept"], full["estimate"])
    n_att = int(d.loc[d["is_attribute"] == 1, "mask"].nunique())
    draws = sorted(d.loc[d["is_random"] == 1, "draw"].unique())
    max_ipc = int(d["ipc"].max())
    subs = []
    for ipc in sorted({1, 2, max_ipc}):
        for n_r in sorted({min(20, len(draws)), len(draws)}):
            keep = (d["ipc"] <= ipc) & ((d["is_attribute"] == 1) | d["draw"].isin(draws[:n_r]))
            sub = d[keep]
            n = int(sub["item"].nunique())
            got = full if (ipc == max_ipc and n_r == len(draws)) else fitted(sub)
            subs.append(dict(items_per_concept=ipc, items=n, attribute_masks=n_att,
                             random_masks=n_r, fitted_se=got["se"],
                             closed_form_se=c.contrast_se(n, n_att, n_r),
                             status=got["status"]))
    res = dict(run=str(run_dir), task=task, components=full, sub_designs=subs,
               load=os.getloadavg(), matmul_gflops_1thread=gflops(),
               note="closed_form_se from the whole run's components; fitted_se: the record "
                    "GLMM (lme4 Hessian SE) refitted on the sub-design")
    out.write_text(json.dumps(res, indent=2, default=float) + "\n")
    print(json.dumps(res, indent=2, default=float))
    return res


def main(argv=None):
    from emostat.analysis.engines.designpower import wald_detectable
    from emostat.analysis.masking.design import Components

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=81)
    ap.add_argument("--attribute-masks", type=int, default=14)
    ap.add_argument("--random-masks", type=int, default=40)
    ap.add_argument("--sims", type=int, default=100)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--null", action="store_true", help="also the size at a contrast of 0")
    ap.add_argument("--results", type=Path, help="a results folder with a design table")
    ap.add_argument("--run", type=Path, help="a collected run: check on its sub-designs")
    ap.add_argument("--seed", type=int, default=20241201)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "design_check.json")
    a = ap.parse_args(argv)
    if a.run:
        out = a.out if a.out.name != "design_check.json" else a.out.with_name("design_run.json")
        return run_check(a.run, out)
    comp = dict(DEFAULT)
    if a.results:
        d = pd.read_parquet(a.results / "design.parquet").iloc[0]
        comp = dict(var_item=d["var_item"], var_attribute=d["var_mask_attribute"],
                    var_random=d["var_mask_random"], intercept=d["intercept"],
                    contrast=d["contrast"])
    c = Components(**{k: float(v) for k, v in comp.items()})
    design = (a.items, a.attribute_masks, a.random_masks)
    se = c.contrast_se(*design)
    delta = wald_detectable(se, a.alpha)
    rate0 = gflops()
    out = dict(components=comp, design=dict(zip(("items", "attribute_masks", "random_masks"),
                                                design)),
               closed_form=dict(se=se, detectable=delta, power=0.8),
               alternative=run(comp, delta, design, a.sims, a.alpha, a.seed))
    if a.null:
        out["null"] = run(comp, 0.0, design, a.sims, a.alpha, a.seed + 1)
    out.update(load=os.getloadavg(), matmul_gflops_1thread=[rate0, gflops()],
               machine=platform.processor() or platform.machine(),
               note="rejections: two-sided Wald z at alpha in the claimed direction")
    a.out.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
