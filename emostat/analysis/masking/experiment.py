"""Tables specific to a collected run: baseline accuracy, random-draw nulls, generation examples.

A collected run's prompt-level ``accuracy`` table (see :mod:`emostat.collect.runner`) names its
prompts ``"<task>/fold<f>"``; :func:`split_tasks` recovers the task. Drops are proportions:
``accuracy without manipulation − accuracy under the mask`` (positive = the mask hurts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from emostat.errors import InputError


def split_tasks(accuracy: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The accuracy table per task: its ``task`` column (collect writes one), else, for older
    tables, the part of ``template`` before ``/``."""
    task = (accuracy["task"].astype(str) if "task" in accuracy.columns
            else accuracy["template"].astype(str).str.split("/", n=1).str[0])
    return {t: accuracy[task == t].copy() for t in sorted(task.unique())}


def baseline_accuracy(inference: pd.DataFrame) -> pd.DataFrame:
    """Accuracy without manipulation per task and concept.

    Returns
    -------
    DataFrame
        ``task, concept, estimate`` (proportion correct), ``n`` (items), ``conf_low, conf_high``
        (95% Wilson interval).
    """
    base = inference[inference["condition"] == "none"]
    if base.empty:
        raise InputError("inference: no rows with condition 'none' (the unmanipulated baseline)")
    g = base.groupby(["task", "concept"], sort=True)["correct"]
    out = g.agg(estimate="mean", n="size").reset_index()
    from statsmodels.stats.proportion import proportion_confint

    correct = g.sum().to_numpy(float)
    lo, hi = proportion_confint(correct, out["n"].to_numpy(float), alpha=0.05, method="wilson")
    return out.assign(n=out["n"].astype("int64"), conf_low=lo, conf_high=hi)


def _drops(acc: pd.DataFrame) -> pd.DataFrame:
    """Per condition row, the drop vs the same prompt's unmanipulated accuracy."""
    none = (acc[acc["condition"] == "none"].set_index(["concept", "template"])["accuracy"]
            .rename("acc_none"))
    masked = acc[acc["condition"] != "none"].join(none, on=["concept", "template"])
    return masked.assign(drop=masked["acc_none"] - masked["accuracy"])


def random_null(accuracy: pd.DataFrame, task: str) -> pd.DataFrame:
    """Mean drop under each random mask per k (the null population), each mask once.

    Returns ``task, attribute`` (null for draws shared by all attributes), ``k, draw,
    condition_id`` (when known), ``drop`` (mean drop over prompts, proportion).
    """
    from emostat.analysis.masking.drops import mask_drops, mask_rows

    d = mask_drops(accuracy)
    d = d[d["condition"] == "random"]
    rows, _ = mask_rows(accuracy)
    draw = (rows[rows["condition"] == "random"].drop_duplicates("mask")
            .set_index("mask")["draw"] if "draw" in rows.columns else pd.Series(dtype=float))
    out = pd.DataFrame({"task": task, "attribute": d["attribute"].to_numpy(),
                        "k": d["k"].astype("int64").to_numpy(),
                        "draw": d["mask"].map(draw).fillna(0).astype("int64").to_numpy(),
                        "condition_id": d["mask"].to_numpy(), "drop": d["drop"].to_numpy()})
    return out.sort_values(["k", "draw", "condition_id"], kind="stable").reset_index(drop=True)


def attribute_vs_null(accuracy: pd.DataFrame, task: str) -> pd.DataFrame:
    """:func:`emostat.analysis.masking.drops.attribute_vs_null` of one task (leading ``task``)."""
    from emostat.analysis.masking.drops import attribute_vs_null as vs_null

    out = vs_null(accuracy)
    out.insert(0, "task", task)
    return out


# ---- tasks that can answer ------------------------------------------------------------------
CHANCE_METHOD = "exact binomial test against chance, one-sided (greater)"


def n_candidates(inference: pd.DataFrame) -> int | None:
    """How many concepts a choice is over, read from the table: the length of a choice row's
    ``logprobs`` (one score per candidate), else the concepts named in the ``concept`` column
    (every concept has its items); None when the table says neither."""
    if "logprobs" in inference.columns:
        lp = inference.loc[inference["task"] == "choice", "logprobs"].dropna()
        if len(lp):
            return len(lp.iloc[0])
    if "concept" in inference.columns and inference["concept"].notna().any():
        return int(inference["concept"].nunique())
    return None


def task_chance(inference: pd.DataFrame, alpha: float = 0.05, space=None) -> pd.DataFrame:
    """Is each task's unmanipulated accuracy above chance? (exact one-sided binomial test)

    Chance is the task's (:data:`emostat.tasks.TASKS`): 1/2 for a yes/no task, 1 / the number
    of concepts for the choice and for generation. The concepts are the ``space``'s (a
    ConceptSpace, a list of ids or a count), else read from the table
    (:func:`n_candidates`). A task that is not above chance (p >= ``alpha``) is not
    interpretable and is left out of the causal tests.

    Returns
    -------
    DataFrame
        ``task, n_items, n_correct, accuracy, chance, p_value, p_method, interpretable,
        reason``.

    Examples
    --------
    >>> import pandas as pd
    >>> inf = pd.DataFrame({"task": ["binary"] * 10, "condition": "none",
    ...                     "correct": [True] * 4 + [False] * 6})
    >>> r = task_chance(inf).iloc[0]
    >>> bool(r["interpretable"]), float(round(r["p_value"], 4))
    (False, 0.8281)
    """
    from emostat.tasks import TASKS

    base = inference[inference["condition"] == "none"]
    if base.empty:
        raise InputError("inference: no rows with condition 'none' (the unmanipulated baseline)")
    size = space if space is not None else n_candidates(inference)
    rows = []
    for task, g in base.groupby("task", sort=True):
        n, k = len(g), int(g["correct"].astype(bool).sum())
        spec = TASKS.get(task)
        known = spec is not None and (spec.per_concept or size is not None)
        chance = spec.chance(size) if known else np.nan
        p = (stats.binomtest(k, n, chance, alternative="greater").pvalue
             if np.isfinite(chance) else np.nan)
        ok = bool(p < alpha)
        reason = ("above chance" if ok else "not above chance" if np.isfinite(p)
                  else f"no chance rate known for task {task!r}")
        rows.append(dict(task=task, n_items=n, n_correct=k, accuracy=k / n, chance=chance,
                         p_value=p, p_method=CHANCE_METHOD, interpretable=ok, reason=reason))
    return pd.DataFrame(rows)


def chance_statement(row) -> str:
    """The one sentence the terminal summary and the report both print about a task's chance.

    Examples
    --------
    >>> chance_statement({"task": "binary", "n_items": 54, "accuracy": 0.37, "chance": 0.5,
    ...                   "p_value": 0.98, "interpretable": False})
    'The binary task is not interpretable: without manipulation 37.0% of 54 items were correct, not above chance (50.0%; exact one-sided binomial p = .980), so it is left out of the causal tests.'
    """
    from emostat.format import fmt_p

    r = dict(row)
    head = (f"without manipulation {100 * r['accuracy']:.1f}% of {int(r['n_items'])} items "
            f"were correct")
    test = f"(chance {100 * r['chance']:.1f}%; exact one-sided binomial {fmt_p(r['p_value'])})"
    if r["interpretable"]:
        return f"The {r['task']} task answers above chance: {head} {test}."
    test = test.replace("(chance ", "(")
    return (f"The {r['task']} task is not interpretable: {head}, not above chance {test}, "
            "so it is left out of the causal tests.")


# ---- item-level models of a collected run ------------------------------------------------------
MASK_TERMS = {"separate": "(0 + is_attribute | mask) + (0 + is_random | mask)",
              "equal": "(1 | mask)"}
# (model, outcome, family, mask variance, role); the record is fixed before the data are seen
ITEM_MODELS = (("item_glmm", "correct", "binomial", "separate", "record"),
               ("item_glmm_equal", "correct", "binomial", "equal", "extra"),
               ("item_lmm", "margin", "gaussian", "separate", "extra"),
               ("item_lmm_equal", "margin", "gaussian", "equal", "extra"))
RECORD_RULE = ("separate mask variances for attribute and random masks, fixed by design before "
               "the data (attribute masks are chosen sets, random masks draws: no reason to "
               "share a variance); the one-variance model is an extra row and the "
               "likelihood-ratio test of equal variances is reported beside, never used to "
               "choose the record")
LRT_METHOD = ("likelihood-ratio chi-square, 1 df: separate vs one mask variance (Laplace ML "
              "for the GLMM, REML for the LMM; same fixed effects)")


def item_models(inference: pd.DataFrame, ks=None, models=ITEM_MODELS,
                diagnostics: bool = False) -> tuple[pd.DataFrame, ...]:
    """Item × mask models per task × k: binomial GLMM of ``correct`` and LMM of ``margin``.

    Items and masks are crossed random units; a mask is one ``condition_id`` (each attribute
    set and each shared random draw once; copies de-duplicated). The mask intercept has a
    separate variance for attribute masks and for random masks (lme4:
    ``(0 + is_attribute | mask) + (0 + is_random | mask)``, 0/1 columns):

    - ``item_glmm`` (role ``record``): ``correct ~ attribute_vs_random + (1 | item) +
      (0 + is_attribute | mask) + (0 + is_random | mask)``, binomial, Laplace, Wald z with
      lme4's default (Hessian) SE;
    - ``item_lmm`` (role ``extra``, when the inference rows have ``margin``): the same for the
      continuous margin, REML, Satterthwaite t;
    - ``item_glmm_equal``, ``item_lmm_equal`` (role ``extra``): one mask variance,
      ``(1 | mask)``.

    Rule (column ``record_rule``): separate variances are the record by design; the
    likelihood-ratio test of equal variances (glance ``statistic_lrt``, ``p_value_lrt``,
    ``p_method_lrt`` on the separate model's row) is reported, not used to choose.
    ``mask_variance`` says which model a row is; glance ``var_mask_attribute``,
    ``var_mask_random`` give both variances (the one variance twice for the equal model; 0
    for a term dropped as singular).

    The coefficient of ``attribute_vs_random`` (1 = random mask) is random − attribute on the
    model's scale (log-odds; margin units): positive = attribute masks hurt more. Fits that are
    singular are refitted without the non-identifiable term; failures become rows with
    ``status = "failed"`` (see :func:`emostat.analysis.engines.mixed.fit_mixed`).

    ``models``: (name, outcome, family, mask variance, role) tuples, default
    :data:`ITEM_MODELS` (the knowledge model of :mod:`emostat.analysis.masking.knowledge` fits
    the record structure to ``correct_recal``); an outcome other than ``margin`` is required.

    Returns
    -------
    (tidy, glance) or (tidy, glance, qq)
        Like :func:`emostat.analysis.masking.models.masking_mixed_model`, with a leading
        ``task``; ``qq`` (``diagnostics=True``): the QQ points of every fit
        (:func:`emostat.analysis.engines.mixedreport.qq_data`) keyed by task, k, model.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> masks = [("attr:a", "attribute"), ("attr:b", "attribute"), ("rand:0", "random"),
    ...          ("rand:1", "random"), ("rand:2", "random")]
    >>> inf = pd.DataFrame([("choice", f"i{i}", cid, cond, 5, bool(rng.random() < 0.6))
    ...                     for cid, cond in masks for i in range(40)],
    ...                    columns=["task", "item_id", "condition_id", "condition", "k",
    ...                             "correct"])
    >>> tidy, glance = item_models(inf)
    >>> glance[["model", "mask_variance", "nobs"]].values.tolist()
    [['item_glmm', 'separate', 200], ['item_glmm_equal', 'equal', 200]]
    >>> tidy.loc[tidy["term"] == "attribute_vs_random", "p_method"].iloc[0][:6]
    'Wald z'
    """
    from emostat.analysis.engines.mixed import CONTRAST, fit_mixed

    need = ["task", "item_id", "condition_id", "condition", "k"]
    need += [y for _, y, *_ in models if y != "margin" and y not in need]
    missing = [c for c in need if c not in inference.columns]
    if missing:
        raise InputError(f"inference: missing column(s) {missing}")
    inf = inference[inference["condition"].isin(["attribute", "random"])]
    inf = inf.drop_duplicates(["task", "item_id", "condition_id"])
    tidies, glances, qqs = [], [], []
    for (task, k), g in inf.groupby(["task", "k"], sort=True):
        if ks is not None and int(k) not in set(ks):
            continue
        rnd = (g["condition"] == "random").astype(float).to_numpy()
        d = pd.DataFrame({"item": g["item_id"].astype(str).to_numpy(),
                          "mask": g["condition_id"].astype(str).to_numpy(),
                          CONTRAST: rnd, "is_random": rnd, "is_attribute": 1.0 - rnd})
        outcomes = set()
        for y in dict.fromkeys(y for _, y, *_ in models):
            if y in g.columns and g[y].notna().any():
                d[y] = g[y].astype(float).to_numpy()
                outcomes.add(y)
        n_mask, n_item = d["mask"].nunique(), d["item"].nunique()
        unit = f"item ({n_item}) x mask ({n_mask})"
        fits, rows = {}, {}
        for name, y, fam, var, role in models:
            if y not in outcomes:
                continue
            formula = f"{y} ~ {CONTRAST} + (1 | item) + {MASK_TERMS[var]}"
            fit = (_no_contrast(formula, fam) if d[CONTRAST].nunique() < 2
                   else fit_mixed(d, formula, family=fam))
            fits[name], rows[name] = fit, len(glances)
            key = dict(task=task, k=int(k), model=name, formula=formula, family=fam, outcome=y,
                       role=role, unit=unit, mask_variance=var, record_rule=RECORD_RULE)
            gl = fit.glance().assign(**_mask_variances(fit, var))
            parts = [(fit.tidy(unit=unit), tidies), (gl, glances)]
            if diagnostics:
                parts.append((fit.qq(), qqs))
            for part, out in parts:
                for i, (c, v) in enumerate(list(key.items())[:3] if out is qqs else key.items()):
                    part.insert(i, c, v)
                out.append(part)
            sep = name.removesuffix("_equal")
            if var == "equal" and sep in fits:
                glances[rows[sep]] = glances[rows[sep]].assign(**_lrt(fits[sep], fit))
    if not tidies:
        return (pd.DataFrame(),) * (3 if diagnostics else 2)
    out = (pd.concat(tidies, ignore_index=True), pd.concat(glances, ignore_index=True))
    return out + (pd.concat(qqs, ignore_index=True),) if diagnostics else out


def _mask_variances(fit, var: str) -> dict:
    """Glance columns ``var_mask_attribute, var_mask_random`` (model scale; a term dropped as
    singular has variance 0)."""
    t = fit.tidy()
    t = t[(t["effect"] == "ran_pars") & t["group"].astype(str).str.fullmatch(r"mask(\.\d+)?")]
    sd = t.set_index("term")["estimate"]
    out = {}
    for col in ("attribute", "random"):
        term = "sd__(Intercept)" if var == "equal" else f"sd__is_{col}"
        dropped = f"{MASK_TERMS['equal'] if var == 'equal' else f'(0 + is_{col} | mask)'}"
        dropped = f"dropped {dropped} (variance 0)" in fit.message
        out[f"var_mask_{col}"] = (float(sd[term]) ** 2 if term in sd.index
                                  else 0.0 if dropped else np.nan)
    return out


def _lrt(separate, equal) -> dict:
    """Likelihood-ratio test of one mask variance against two (glance columns)."""
    ll = [f.glance().iloc[0]["logLik"] if f.result is not None else np.nan
          for f in (separate, equal)]
    stat = max(2 * (ll[0] - ll[1]), 0.0) if np.isfinite(ll).all() else np.nan
    p = stats.chi2.sf(stat, 1) if np.isfinite(stat) else np.nan
    return dict(statistic_lrt=stat, df_lrt=1.0, p_value_lrt=p, p_method_lrt=LRT_METHOD)


def _no_contrast(formula: str, family: str):
    from emostat.analysis.engines.mixed import CONTRAST, MixedFit

    return MixedFit(formula=formula, fitted_formula=formula, family=family, reml=True,
                    status="failed", message="only one condition (attribute or random) at this k",
                    fixed_terms=["(Intercept)", CONTRAST])


def generation_examples(inference: pd.DataFrame, stimuli: pd.DataFrame,
                        per_condition: int = 2) -> pd.DataFrame:
    """A few generated answers per concept under no manipulation and under attribute masks.

    Returns ``concept, text, generated, parsed, condition, condition_id, correct``.
    """
    gen = inference[(inference["task"] == "generate")
                    & inference["condition"].isin(["none", "attribute"])]
    if gen.empty:
        return pd.DataFrame(columns=["concept", "text", "generated", "parsed", "condition",
                                     "condition_id", "correct"])
    texts = stimuli.set_index("id")["text"]
    gen = gen.sort_values(["concept", "condition", "condition_id", "item_id"])
    picked = gen.groupby(["concept", "condition"], sort=True).head(per_condition)
    return pd.DataFrame({
        "concept": picked["concept"].to_numpy(),
        "text": picked["stimulus_id"].map(texts).fillna("").to_numpy(),
        "generated": picked["generated"].fillna("").to_numpy(),
        "parsed": picked["prediction"].to_numpy(),
        "condition": picked["condition"].to_numpy(),
        "condition_id": picked["condition_id"].to_numpy(),
        "correct": picked["correct"].to_numpy(),
    })
