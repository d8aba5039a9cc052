"""Small, plausible results tables (the columns of emostat.schemas) for rendering tests.

``make_run(tmp, kind)`` writes ``<tmp>/results/*.parquet`` and ``provenance.json`` shaped like
the output of ``emostat reproduce`` (kind="reproduction") or ``emostat analyse``
(kind="experiment"). Numbers are random but seeded; they only need the right shape and ranges.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io
from emostat.constants import ANALYSIS_ORDER, ATTRIBUTES, K_VALUES, pair_indices

N_LAYERS, N_UNITS = 12, 48
COMPONENTS = ATTRIBUTES[8:]


def _t_rows(rng, keys: pd.DataFrame, n: int, mean=0.03, sd=0.03) -> pd.DataFrame:
    """The study's one-sided paired t per row of ``keys`` in the contract's sign
    (docs/inference.md): ``estimate`` = extra drop = acc_random - acc_attribute, positive =
    the attribute mask hurts more; "greater" test, so the CI is [low, Inf)."""
    m = len(keys)
    est = rng.normal(mean, sd, m)
    se = np.abs(rng.normal(0.012, 0.003, m)) + 0.002
    t = est / se
    from scipy import stats

    p = stats.t.sf(t, n - 1)
    crit = stats.t.ppf(0.95, n - 1)
    acc_none = rng.uniform(0.6, 0.97, m)
    acc_random = acc_none - np.abs(rng.normal(0.08, 0.04, m))
    out = keys.reset_index(drop=True).assign(
        estimate=est, std_error=se, statistic=t, df=float(n - 1), p_value=p,
        conf_low=est - crit * se, conf_high=np.inf,
        q_value=np.minimum(1, p * m / stats.rankdata(p)),
        q_value_bh=np.minimum(1, p * m / stats.rankdata(p) * 1.2),
        p_value_perm=np.clip(p * rng.uniform(0.8, 1.2, m), 1e-4, 1),
        p_method="paired t, one-sided (greater), t distribution", unit=f"prompt ({n})",
        role="study", test="study_t",
        p_method_perm="sign-flip permutation, one-sided, 10,000 draws",
        acc_none=acc_none, acc_random=acc_random, acc_attribute=acc_random - est, n=n)
    return out


def human_tables(rng) -> dict[str, pd.DataFrame]:
    imp = rng.uniform(-0.01, 0.6, len(ATTRIBUTES))
    se = rng.uniform(0.02, 0.05, len(ATTRIBUTES))
    t = {"attribute_importance": pd.DataFrame({
        "attribute": ATTRIBUTES, "estimate": imp, "std_error": se, "statistic": np.nan,
        "df": np.nan, "p_value": np.where(imp > 0.05, 2e-4, 0.4),
        "p_method": "Mantel: emotion-label permutation, one-sided, 10,000 draws",
        "unit": "concept (27)", "role": "record",
        "boot_share_le0": np.where(imp > 0.02, 0.0, 0.3),
        "conf_low": imp - 1.96 * se, "conf_high": imp + 1.96 * se})}
    means = rng.uniform(1, 9, (27, 14))
    t["human_means"] = pd.DataFrame([(e, a, means[i, j]) for i, e in enumerate(ANALYSIS_ORDER)
                                     for j, a in enumerate(ATTRIBUTES)],
                                    columns=["concept", "attribute", "estimate"])
    i, j = pair_indices(27)
    pairs = pd.DataFrame({"pair": np.arange(len(i)),
                          "concept_a": [ANALYSIS_ORDER[x] for x in i],
                          "concept_b": [ANALYSIS_ORDER[x] for x in j]})
    t["attribute_rdms"] = pd.concat(
        [pairs.assign(attribute=a, estimate=np.abs(means[i, c] - means[j, c]))
         for c, a in enumerate(ATTRIBUTES)], ignore_index=True)
    t["human_rdm"] = pairs.assign(estimate=np.clip(
        1 + np.abs(means[i, 1] - means[j, 1]) + rng.normal(0, 0.5, len(i)), 1, 9))
    items = np.arange(1, 39)
    t["appraisal_loadings"] = pd.DataFrame(
        [(it, f"Appraisal item {it}", c, rng.uniform(-0.3, 0.3) + (0.5 if it % 6 == k else 0))
         for it in items for k, c in enumerate(COMPONENTS)],
        columns=["item", "item_text", "component", "loading"])
    icc = rng.uniform(0.85, 0.98, 8)
    t["rating_icc"] = pd.DataFrame({
        "experiment": ["affective"] * 2 + ["physical"] * 6, "attribute": ATTRIBUTES[:8],
        "estimate": icc, "conf_low": icc - 0.05, "conf_high": np.minimum(icc + 0.05, 1),
        "p_value": 1e-6, "p_method": "F test of ICC = 0"})
    return t


def searchlight_tables(rng, ks, n_layers: int = N_LAYERS) -> dict[str, pd.DataFrame]:
    n = n_layers * N_UNITS
    rows = []
    for a in ATTRIBUTES:
        tau = rng.normal(0.02, 0.08, n)
        p = np.clip(np.exp(-120 * np.maximum(tau, 0)) * 0.5 * rng.uniform(0.5, 1, n), 1e-15, 1)
        from scipy import stats

        rows.append(pd.DataFrame({
            "neuron": np.arange(n), "layer": np.arange(n) // N_UNITS,
            "unit": np.arange(n) % N_UNITS, "attribute": a, "tau": tau, "p_asymptotic": p,
            "q_value": np.minimum(1, p * n * 14 / stats.rankdata(p)),
            "q_value_bh": np.minimum(1, p * n * 14 / stats.rankdata(p) * 1.1),
            "rank": stats.rankdata(-tau)}))
    rsa = pd.concat(rows, ignore_index=True)
    counts = (rsa.groupby("attribute", sort=False)
              .agg(n_significant=("q_value", lambda q: int((q < .01).sum())),
                   n_significant_bh=("q_value_bh", lambda q: int((q < .01).sum())))
              .reset_index())
    counts["n_selective"] = (counts["n_significant"] * 0.3).astype("int64")
    layer = [(a, k, lay, int(rng.integers(50, 500))) for a in ATTRIBUTES for k in ks
             for lay in range(n_layers)]
    rows = []
    for a, sig, sel in zip(counts["attribute"], counts["n_significant"], counts["n_selective"]):
        for kind, obs in (("significant", sig), ("selective", sel)):
            mean = rng.uniform(5, 60)
            rows.append((a, kind, float(obs), mean, mean / 3, 0.005 if obs > mean else 0.6))
    count_null = pd.DataFrame(rows, columns=["attribute", "count", "statistic", "null_mean",
                                             "null_sd", "p_value"]).assign(
        p_method="emotion-label permutation of all attribute RDMs together, one-sided",
        unit="concept label (27)", role="record", n_perm=199)
    chosen = rsa[rsa["rank"] <= 5]
    mantel = chosen[["neuron", "layer", "attribute", "tau", "p_asymptotic"]].assign(
        p_value=np.clip(chosen["p_asymptotic"].to_numpy() * 40, 1e-4, 1),
        p_method="emotion-label permutation (Mantel), one-sided", unit="concept label (27)",
        role="record", n_perm=10000)
    return {"neuron_rsa": rsa, "neuron_counts": counts, "neuron_count_null": count_null,
            "neuron_mantel": mantel,
            "layer_distribution": pd.DataFrame(layer,
                                               columns=["attribute", "k", "layer", "n_neurons"])}


def masking_tables(rng, ks, n_emotion=168, n_attr=324, n_cell=12) -> dict[str, pd.DataFrame]:
    em = pd.DataFrame([(k, e) for k in ks for e in ANALYSIS_ORDER], columns=["k", "concept"])
    at = pd.DataFrame([(k, a) for k in ks for a in ATTRIBUTES], columns=["k", "attribute"])
    ce = pd.DataFrame([(k, e, a) for k in ks for e in ANALYSIS_ORDER for a in ATTRIBUTES],
                      columns=["k", "concept", "attribute"])
    t = {"masking_by_emotion": _t_rows(rng, em, n_emotion),
         "masking_by_attribute": _t_rows(rng, at, n_attr),
         "masking_cells": _t_rows(rng, ce, n_cell)}
    r = rng.uniform(0.1, 0.5, len(ks))
    link = []
    for k, rk in zip(ks, r):
        link += [(k, "study_t", "study", rk, 0.03, rk / 0.03, 26.0, 10.0 ** -rng.uniform(3, 14),
                  rk - 0.06, rk + 0.06, "one-sample t on Fisher-z over emotions, two-sided",
                  "concept (27)"),
                 (k, "attribute_permutation", "record", rk, np.nan, np.nan, np.nan,
                  rng.uniform(0.001, 0.3), np.nan, np.nan,
                  "attribute-label permutation of importance, one-sided, 10,000 draws",
                  "attribute (14)"),
                 (k, "attribute_level_r", "record", rk * 1.2, np.nan, rk * 10, 12.0,
                  rng.uniform(0.001, 0.3), np.nan, np.nan, "Pearson r over attributes, t(12)",
                  "attribute (14)")]
    t["importance_link"] = pd.DataFrame(link, columns=[
        "k", "test", "role", "estimate", "std_error", "statistic", "df", "p_value", "conf_low",
        "conf_high", "p_method", "unit"])
    t["importance_link_by_emotion"] = pd.DataFrame(
        [(k, e, rng.uniform(-0.3, 0.8), rng.uniform(0, 1)) for k in ks for e in ANALYSIS_ORDER],
        columns=["k", "concept", "estimate", "p_value"]).assign(
        p_method="Pearson r over attributes, t(12)", unit="attribute (14)", role="study")
    t["dip_test"] = pd.DataFrame([(k, a, rng.uniform(0.03, 0.08), rng.uniform(0, 1))
                                  for k in ks for a in ATTRIBUTES],
                                 columns=["k", "attribute", "statistic", "p_value"]).assign(
        p_method="Hartigan's dip test, interpolated null table", unit="concept (27)",
        role="study")
    mm, glance = [], []
    models = [("record", "record", "correct ~ condition + (1 | emotion) + "
               "(1 | emotion:prompt) + (1 + condition | attribute)",
               "Satterthwaite t (lmerTest)", 40.3),
              ("study", "study", "accuracy ~ condition + (1 | emotion/prompt)", "Wald z",
               np.nan)]
    for k in ks:
        for role, model, formula, method, dfr in models:
            slope = rng.normal(0.03, 0.01)
            base = dict(k=k, model=model, formula=formula, role=role, status="ok", message="",
                        family="gaussian", outcome="accuracy")
            mm += [dict(base, effect="fixed", group="", term="(Intercept)", estimate=0.72,
                        std_error=0.02, statistic=36.0, df=dfr, p_value=1e-20, p_method=method),
                   dict(base, effect="fixed", group="", term="attribute_vs_random",
                        estimate=slope, std_error=0.006, statistic=slope / 0.006, df=dfr,
                        p_value=1.6e-6, p_method=method, conf_low=slope - 0.012,
                        conf_high=slope + 0.012),
                   dict(base, effect="ran_pars", group="concept", term="sd__(Intercept)",
                        estimate=0.11),
                   dict(base, effect="ran_pars", group="attribute",
                        term="sd__attribute_vs_random", estimate=0.025),
                   dict(base, effect="ran_pars", group="Residual", term="sd__Observation",
                        estimate=0.09)]
            glance.append(dict(k=k, model=model, nobs=9072, logLik=rng.uniform(5000, 9000),
                               converged=True, singular=False, optimizer="bobyqa",
                               status="ok", message="", fitted_formula=formula,
                               groups="concept:prompt, 324; concept, 27; attribute, 14",
                               **mixed_effect_sizes(rng)))
    t["masking_mixed_model"] = pd.DataFrame(mm)
    t["masking_mixed_glance"] = pd.DataFrame(glance)
    t["mixed_model_qq"] = pd.concat(
        [qq_rows(rng, 9072, [("concept", "(Intercept)", 27), ("attribute",
                                                              "attribute_vs_random", 14)])
         .assign(k=k, model=model) for k in ks for model in ("record", "study")],
        ignore_index=True)
    return t


def mixed_effect_sizes(rng) -> dict:
    """Glance columns of emostat.analysis.engines.mixedreport.effect_sizes (plausible values)."""
    r2m, extra, icc = rng.uniform(0.001, 0.05), rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.4)
    return dict(r2_marginal=r2m, r2_conditional=r2m + extra, icc_adjusted=icc,
                icc_conditional=icc * (1 - r2m), r2_method="Nakagawa R² and ICC (fixture)")


def qq_rows(rng, n_obs: int, terms) -> pd.DataFrame:
    """mixed_model_qq rows: a residual panel and one panel per (group, term, levels)."""
    from scipy import stats

    parts = []
    for panel, group, term, n in ([("residuals", "", "Pearson residuals", n_obs)]
                                  + [("random effects", g, tm, m) for g, tm, m in terms]):
        m = min(n, 100)
        q = stats.norm.ppf((np.arange(1, m + 1) - 0.5) / m)
        parts.append(pd.DataFrame({"panel": panel, "group": group, "term": term, "n": n,
                                   "theoretical": q,
                                   "sample": np.sort(q + rng.normal(0, 0.1, m))}))
    return pd.concat(parts, ignore_index=True)


def experiment_tables(rng, ks) -> dict[str, pd.DataFrame]:
    tasks = ["binary", "choice"]
    t = {"baseline_accuracy": pd.DataFrame(
        [(task, e, rng.uniform(0.5, 0.95), 40) for task in tasks for e in ANALYSIS_ORDER],
        columns=["task", "concept", "estimate", "n"])}
    t["task_chance"] = pd.DataFrame({
        "task": tasks, "n_items": [54, 27], "accuracy": [0.48, 0.41], "chance": [0.5, 1 / 27],
        "p_value": [0.81, 1e-30], "interpretable": [False, True],
        "reason": ["accuracy not above chance (exact binomial test)", ""],
        "p_method": "exact binomial test against chance, one-sided"})
    # random masks shared by all attributes: stored once (attribute null), as emostat writes
    draws, vs = [], []
    n_draws = 50
    from scipy import stats

    for task in tasks:
        for k in ks:
            null = rng.normal(0.02, 0.01, n_draws)   # drop vs no manipulation per draw
            draws += [(task, None, k, d, v) for d, v in enumerate(null)]
            sd = null.std(ddof=1) * np.sqrt(1 + 1 / n_draws)
            for a in ATTRIBUTES:
                drop = rng.normal(0.035, 0.01)
                est = drop - null.mean()              # the extra drop over the random masks
                tt = est / sd
                vs.append((task, a, k, est, sd, tt, n_draws - 1.0, stats.t.sf(tt, n_draws - 1),
                           est - 1.96 * sd, est + 1.96 * sd, null.mean(), n_draws,
                           (1 + (null >= drop).sum()) / (n_draws + 1), 1 / (n_draws + 1)))
    t["random_null"] = pd.DataFrame(draws, columns=["task", "attribute", "k", "draw", "drop"])
    v = pd.DataFrame(vs, columns=["task", "attribute", "k", "estimate", "std_error",
                                  "statistic", "df", "p_value", "conf_low", "conf_high",
                                  "null_mean", "n_null", "p_value_perm", "p_min_perm"])
    from emostat.analysis.engines.multitest import fdr_bh

    v["q_value_bh"] = v.groupby(["task", "k"])["p_value"].transform(lambda p: fdr_bh(p.to_numpy()))
    t["attribute_vs_null"] = v.assign(
        role="record", test="attribute_vs_null", unit=f"random mask ({n_draws})",
        p_method="attribute mask against the population of random masks: prediction-interval t",
        p_method_perm="rank among the random masks, one-sided")
    t["power"] = pd.DataFrame({
        "task": "choice", "k": ks, "n_attribute_masks": 14, "n_random_masks": n_draws,
        "sd_mask": 0.02, "detectable": 0.042, "power": 0.8, "alpha": 0.05,
        "p_min_rank": 1 / (n_draws + 1), "p_min_label": 1e-4, "estimate": 0.01,
        "ruled_out": 0.05})
    # knowledge or answer bias (emostat.analysis.masking.bias): means over masks, the study's t
    t["bias_summary"] = pd.DataFrame([
        ("choice", k, c, 0.41, 0.41, n, drop, recal, drop - recal, tv, top, "extra")
        for k in ks for c, n, drop, recal, tv, top in
        (("attribute", 14, 0.12, 0.03, 0.55, 0.17), ("random", n_draws, 0.10, 0.01, 0.5, 0.2))],
        columns=["task", "k", "condition", "accuracy_none", "accuracy_none_recal", "n_masks",
                 "drop", "drop_recal", "drop_prior", "tv_from_none", "top_share", "role"])
    t["bias_study_test"] = pd.DataFrame([
        dict(task="choice", outcome=o, test="study_concept_t", k=k, concept=e, attribute=None,
             estimate=0.02, std_error=0.02 / 3, statistic=3.0, df=13.0, p_value=p,
             conf_low=0.006, conf_high=0.034, n=14, q_value=p, q_value_bh=p, p_value_perm=p,
             se_random_rows=0.0, se_random_pool=0.01, n_random_comparisons=1,
             p_method_perm="sign flips of the same rows",
             p_method="the study's paired t; every attribute is compared with the same random "
                      "pool", unit="attribute × prompt (14)", role="study")
        for o, p in (("accuracy", 0.01), ("accuracy_recal", 0.3)) for k in ks
        for e in ANALYSIS_ORDER])
    # the knowledge claim's GLMM (emostat.analysis.masking.knowledge) per task x k
    kn, kg, kq = [], [], []
    formula = ("correct_recal ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) + "
               "(0 + is_random | mask)")
    for k in ks:
        est, se = rng.normal(0.2, 0.1), 0.12
        base = dict(task="choice", k=k, model="knowledge_glmm", formula=formula,
                    family="binomial", outcome="correct_recal", role="record", status="ok",
                    message="", df=np.nan, conf_low=np.nan, conf_high=np.nan)
        method = ("Wald z (SE from the Hessian of the Laplace deviance over theta and beta, "
                  "lme4 default), two-sided")
        kn += [dict(base, effect="fixed", group="", term="(Intercept)", estimate=0.4,
                    std_error=0.2, statistic=2.0, p_value=0.0455, p_method=method,
                    conf_low=0.4 - 1.96 * 0.2, conf_high=0.4 + 1.96 * 0.2),
               dict(base, effect="fixed", group="", term="attribute_vs_random", estimate=est,
                    std_error=se, statistic=est / se, p_value=2 * stats.norm.sf(abs(est / se)),
                    p_method=method, conf_low=est - 1.96 * se, conf_high=est + 1.96 * se),
               dict(base, effect="ran_pars", group="item", term="sd__(Intercept)",
                    estimate=0.9),
               dict(base, effect="ran_pars", group="mask", term="sd__is_attribute",
                    estimate=0.3),
               dict(base, effect="ran_pars", group="mask.1", term="sd__is_random",
                    estimate=0.2)]
        kg.append(dict(task="choice", k=k, model="knowledge_glmm", nobs=64 * 27,
                       logLik=-900.0, converged=True, singular=False, optimizer="bobyqa",
                       status="ok", message="", fitted_formula=formula,
                       groups="item, 27; mask, 64", **mixed_effect_sizes(rng)))
        kq.append(qq_rows(rng, 64 * 27, [("item", "(Intercept)", 27),
                                         ("mask", "is_attribute", 14),
                                         ("mask", "is_random", 50)])
                  .assign(task="choice", k=k, model="knowledge_glmm"))
    t["knowledge_mixed_model"] = pd.DataFrame(kn)
    t["knowledge_mixed_glance"] = pd.DataFrame(kg)
    t["knowledge_qq"] = pd.concat(kq, ignore_index=True)
    t["generation_examples"] = pd.DataFrame({
        "concept": ["joy", "anger", "joy", "anger"],
        "text": ["I finally got the job!", "They cancelled again | without notice."] * 2,
        "generated": ["joy", "anger", "surprise", "sadness"],
        "parsed": ["joy", "anger", "surprise", "sadness"],
        "condition": ["none", "none", "attribute", "attribute"]})
    return t


def release_tables(rng) -> dict[str, pd.DataFrame]:
    """The agreement tables emostat.release.agreement writes for a reproduction."""
    return {"release_rank_agreement": pd.DataFrame({
        "attribute": ATTRIBUTES, "spearman": 1.0, "identical_share": rng.uniform(.97, .995, 14),
        "top_k": 4000, "top_k_overlap": 4000, "n_neurons": 36864}),
        "release_unimodality": pd.DataFrame({
            "k": 4000, "attribute": ATTRIBUTES, "statistic_release": 0.05,
            "p_value_release": 0.5, "statistic": 0.05, "p_value": 0.5})}


def make_run(root, kind: str = "reproduction", seed: int = 1, model: str = "fixture-model",
             ks=None, drop=(), n_layers: int = N_LAYERS, claims: bool = True) -> Path:
    """Write a fixture run folder at ``root``; tables named in ``drop`` are left out.
    ``n_layers`` sets the model's depth (N_UNITS neurons per layer); ``claims`` writes a
    claims table built from the fixture tables (:func:`claims_from_tables`)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    ks = list(K_VALUES if ks is None else ks)
    tables = human_tables(rng)
    tables.update(searchlight_tables(rng, ks, n_layers))
    tables.update(masking_tables(rng, ks))
    w = rng.uniform(0.1, 0.4)
    tables["whole_model_rsa"] = pd.DataFrame({
        "estimate": [w], "conf_low": [w - 0.07], "conf_high": [w + 0.06], "p_value": [1e-4],
        "p_method": ["emotion-label permutation, one-sided, 10,000 draws"],
        "unit": ["concept (27)"], "role": ["record"]})
    tables["rsa_evaluation"] = rsa_evaluation_table(rng)
    if kind == "experiment":
        tables.update(experiment_tables(rng, ks))
        # one QQ table of every mixed model, as emostat analyse writes it (task column)
        tables["mixed_model_qq"] = pd.concat(
            [tables["mixed_model_qq"].assign(task="choice"), tables.pop("knowledge_qq")],
            ignore_index=True)
    else:
        tables.update(release_tables(rng))
        # the release's one random mask per attribute and k, as a population (no task)
        x = experiment_tables(rng, ks)["attribute_vs_null"]
        tables["attribute_vs_null"] = x[x["task"] == "choice"].drop(columns="task")
    prov = io.provenance(kind=kind, seed=seed, n_boot=1000, n_perm=1000, ks=ks, model=model,
                         source="fixture" if kind == "experiment" else "/release",
                         source_files={"accuracy.csv": "ab" * 32},
                         package_versions={"numpy": "2.0", "scipy": "1.14"})
    res = root / "results"
    res.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if name not in drop:
            io.write_table(df, res / f"{name}.parquet", prov=prov)
    (res / "provenance.json").write_text(json.dumps(prov, indent=2))
    if claims and "claims" not in drop:
        kept = {n: d for n, d in tables.items() if n not in drop}
        write_claims(root, claims_from_tables(kept, headline_k=4000 if 4000 in ks else max(ks),
                                              task="choice" if kind == "experiment" else None))
    if kind == "experiment":
        (root / "manifest.json").write_text(json.dumps({
            "model": {"name": model, "n_layers": n_layers, "n_units": N_UNITS,
                      "n_neurons": n_layers * N_UNITS, "dtype": "float32"}, "seed": seed}))
    return root



def rsa_evaluation_table(rng) -> pd.DataFrame:
    """Whole-model RSA rows as emostat.analysis.pipelines.rsasteps writes them."""
    est = rng.uniform(0.1, 0.4, 4)
    return pd.DataFrame({
        "term": "whole_model", "role": ["record", "study", "extra", "extra"],
        "test": ["rsa_rho_a_per_rater_both", "rsa_tau_b_mean_rdm_both",
                 "rsa_tau_b_per_rater_both", "rsa_rho_a_mean_rdm_both"],
        "comparator": ["rho_a", "tau_b", "tau_b", "rho_a"],
        "estimand": ["per_rater", "mean_rdm", "per_rater", "mean_rdm"], "inference": "both",
        "estimate": est, "std_error": 0.07, "statistic": est / 0.07, "df": 26.0,
        "p_value": [1e-4, 2e-4, 5e-4, 3e-4], "conf_low": est - 0.14, "conf_high": est + 0.14,
        "ceiling_low": [0.72, 0.90, 0.59, 0.985], "ceiling_high": [0.73, 0.93, 0.60, 0.993],
        "ceiling_method": "Nili et al. 2014 / split-half",
        "conf_method": "two-factor bootstrap over raters and concepts (2000 resamples)",
        "p_method": "t test with the two-factor bootstrap variance (raters and concepts)",
        "unit": "raters (61) and concepts (27)", "n_boot": 2000, "n_raters": 61,
        "n_concepts": 27})


# ---------------------------------------------------------------------------------------------
# a claims table (docs/design.md §2) built from fixture tables: a small local stand-in for
# emostat.analysis.claims.table.build_claims, so report tests render claims rows of known content

CLAIM_COLUMNS = ["claim", "task", "k", "role", "test", "source_table", "estimate", "scale",
                 "conf_low", "conf_high", "conf_method", "statistic", "df", "p_value",
                 "p_method", "unit", "p_floor", "p_mc_low", "p_mc_high", "n_perm", "alpha",
                 "headline", "decision", "reason"]


def claim_row(**kw) -> dict:
    row = dict.fromkeys(CLAIM_COLUMNS)
    row.update(kw)
    return row


def decide(p, estimate, p_floor=0.0, alpha=0.05) -> tuple[str, str]:
    """The package's decision and reason (analysis.claims.decision), so rendered fixture
    reports carry the reasons a run's claims table has."""
    from emostat.analysis.claims.decision import decide as rule

    return rule(p, alpha=alpha, p_floor=p_floor, in_direction=bool(estimate > 0))


def claims_from_tables(t: dict, alpha: float = 0.05, headline_k: int = 4000,
                       task=None) -> pd.DataFrame:
    """Claims rows from fixture tables: masking (the mixed model of record, points), link
    (attribute-label permutation of record, the study's t beside it), whole_model, neurons."""
    rows = []
    mm = t.get("masking_mixed_model")
    if mm is not None:
        d = mm[(mm["term"] == "attribute_vs_random") & (mm["effect"] == "fixed")]
        for r in d.itertuples():
            binom = getattr(r, "family", "gaussian") == "binomial"
            f = 1 if binom else 100
            dec, why = decide(r.p_value, r.estimate, alpha=alpha)
            rows.append(claim_row(
                claim="masking", task=task, k=r.k, role="record" if r.role == "record" else
                "study", test="item_glmm" if binom else "mask_lmm",
                source_table="masking_mixed_model", estimate=f * r.estimate,
                scale="log-odds" if binom else "points", conf_low=f * r.conf_low,
                conf_high=f * r.conf_high, conf_method="Wald interval over the mask (14 "
                "attribute/random pairs)", statistic=r.statistic, df=r.df, p_value=r.p_value,
                p_method=r.p_method, unit="mask (14 attribute/random pairs)", p_floor=0.0,
                alpha=alpha, headline=r.k == headline_k, decision=dec if r.role == "record"
                else None, reason=why if r.role == "record" else None))
    kn = t.get("knowledge_mixed_model")
    if kn is not None:
        for r in kn[kn["term"] == "attribute_vs_random"].itertuples():
            dec, why = decide(r.p_value, r.estimate, alpha=alpha)
            rows.append(claim_row(
                claim="knowledge", task=task, k=r.k, role="record", test="knowledge_glmm",
                source_table="knowledge_mixed_model", estimate=r.estimate, scale="log-odds",
                conf_low=r.conf_low, conf_high=r.conf_high, conf_method=None,
                statistic=r.statistic, p_value=r.p_value,
                p_method="binomial GLMM of the recalibrated outcome (correct_recal: every "
                         "condition calibrated on its own items): " + r.p_method,
                unit="item (27) x mask (64)", p_floor=0.0, alpha=alpha,
                headline=r.k == headline_k, decision=dec, reason=why))
    link = t.get("importance_link")
    if link is not None:
        for r in link.itertuples():
            if r.test not in ("attribute_permutation", "study_t"):
                continue
            rec = r.test == "attribute_permutation"
            floor = 1 / 10001 if rec else 0.0
            dec, why = decide(r.p_value, r.estimate, floor, alpha)
            rows.append(claim_row(
                claim="link", task=task, k=r.k, role="record" if rec else "study", test=r.test,
                source_table="importance_link", estimate=r.estimate, scale="r",
                conf_low=r.conf_low, conf_high=r.conf_high,
                conf_method=None if rec else "Fisher z over concept (27)",
                statistic=r.statistic, df=r.df, p_value=r.p_value, p_method=r.p_method,
                unit=r.unit, p_floor=floor, n_perm=10000 if rec else None, alpha=alpha,
                headline=r.k == headline_k, decision=dec if rec else None,
                reason=why if rec else None))
    null = t.get("neuron_count_null")
    if null is not None:      # the joint max-T of record (its floor 1/200) and the study's count
        sig = null[null["count"] == "significant"]
        n = float((sig["p_value"] <= alpha).sum())
        dec, why = decide(1 / 200, n, 1 / 200, alpha)
        rows.append(claim_row(
            claim="neurons", role="record", test="max_t_joint", source_table="neuron_max_t",
            estimate=n, scale="count", p_value=1 / 200, p_floor=1 / 200, n_perm=199,
            p_method="Westfall-Young max-T over all neurons x attributes, 199 concept-label "
                     "permutations", unit="concept label (27)", alpha=alpha, headline=True,
            decision=dec, reason=why))
        rsa = t.get("neuron_rsa")
        if rsa is not None:
            q = rsa["q_value"].to_numpy(float)
            rows.append(claim_row(
                claim="neurons", role="study", test="study_fdr", source_table="neuron_rsa",
                estimate=float((q < .01).sum()), scale="count", p_value=float(q.min()),
                p_floor=0.0, p_method="the study's q = p N / rank(p), counted at q < .01",
                unit=f"pair ({len(rsa)} tests)", alpha=alpha, headline=True,
                decision="supported", reason="the study's count"))
    w = t.get("whole_model_rsa")
    if w is not None:
        r = w.iloc[0]
        dec, why = decide(r["p_value"], r["estimate"], 1e-4, alpha)
        rows.append(claim_row(
            claim="whole_model", role="record", test="mantel", source_table="whole_model_rsa",
            estimate=r["estimate"], scale="tau", conf_low=r["conf_low"],
            conf_high=r["conf_high"], conf_method="emotion-label bootstrap (27 concepts)",
            p_value=r["p_value"], p_method=r["p_method"], unit=r["unit"], p_floor=1e-4,
            n_perm=10000, alpha=alpha, headline=True, decision=dec, reason=why))
    out = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    out["headline"] = out["headline"].astype(bool)
    for c in ("k", "n_perm"):   # nullable ints, as the claims schema and build_claims have them
        out[c] = pd.array([None if pd.isna(x) else int(x) for x in out[c]], dtype="Int64")
    return out


def write_claims(root, claims: pd.DataFrame) -> Path:
    """``<root>/results/claims.parquet``."""
    path = Path(root) / "results" / "claims.parquet"
    io.write_table(claims, path)
    return path
