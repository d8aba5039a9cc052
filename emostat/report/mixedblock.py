"""One renderer for a mixed model, used by every report (experiment, reproduction, comparison).

A block in lme4's layout with what reporting guidance for mixed models asks a reader be told
(Meteyard & Davies 2020, JML): the formula (and the model actually fitted when a term was
dropped), the number of observations and of units per grouping factor, the estimation and its
singular-fit / convergence status with what was done, the random effects (variance, SD,
correlations), the fixed effects with their 95% CI, df and the df method, Nakagawa's marginal and
conditional R², the ICC, and where the QQ plots are (:func:`qq_figure`, in an appendix). It reads
the tables the analysis wrote (tidy rows of ``masking_mixed_model`` / ``knowledge_mixed_model``,
their glance rows, ``mixed_model_qq``) and decides nothing.

Each block is a ``.mixed-model`` div; the report tests check every such div of every rendered
report for :data:`ITEMS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.report.style import WIDTH, pyplot
from emostat.report.tables import pipe_table
from emostat.report.view import Markdown, caption_marker, ci_text, k_text, missing, p_text, text_or

__all__ = ["block", "select", "title", "qq_figure", "qq_caption", "has_qq", "ITEMS"]

# what every block carries (the report test looks for each in every .mixed-model div)
ITEMS = ("Formula", "Groups", "Random effects", "Fixed effects", "95% CI", "df method",
         "R²m", "R²c", "ICC", "Fit", "QQ")


def select(tidy: pd.DataFrame, glance: pd.DataFrame | None = None, *, task=None, k=None,
           model=None) -> tuple[pd.DataFrame, pd.Series | None]:
    """The tidy rows and glance row of one model: at ``task`` and ``k`` when given, the
    ``model`` named or else the one whose role is ``record`` (else the first)."""
    def at(df):
        if df is None:
            return None
        for col, v in (("task", task), ("k", k)):
            if v is not None and col in df:
                df = df[df[col] == v]
        return df
    t, g = at(tidy), at(glance)
    if model is None and "model" in t and len(t):
        rec = t[t["role"] == "record"] if "role" in t else t.iloc[:0]
        model = (rec if len(rec) else t)["model"].iloc[0]
    if model is not None and "model" in t:
        t = t[t["model"] == model]
        g = g[g["model"] == model] if g is not None and "model" in g else g
    return t, (g.iloc[0] if g is not None and len(g) else None)


def _family(t: pd.DataFrame) -> str:
    fam = t["family"].dropna().astype(str).str.lower() if "family" in t else pd.Series([])
    return "binomial" if len(fam) and (fam == "binomial").all() else "gaussian"


def title(t: pd.DataFrame, k=None, task=None) -> str:
    """``Binomial GLMM (logit link) item_glmm, the model of record, at k = 4,000 (choice task),
    in lme4's layout.``"""
    fam = "Binomial GLMM (logit link)" if _family(t) == "binomial" else "Linear mixed model"
    model = text_or(t["model"].dropna().iloc[0]) if "model" in t and t["model"].notna().any() \
        else ""
    role = text_or(t["role"].dropna().iloc[0]) if "role" in t and t["role"].notna().any() \
        else ""
    name = f" {model}" if model and model != "record" else ""
    rec = ", the model of record," if role == "record" else ""
    at = f" at k = {k_text(k)}" if k is not None else ""
    where = f" ({task} task)" if task else ""
    return f"{fam}{name}{rec}{at}{where}, in lme4's layout."


def _ran_table(ran: pd.DataFrame) -> str:
    """Groups, Name, Variance, Std.Dev. (and Corr): lme4's random-effects table."""
    rows, cors = [], {}
    for _, r in ran.iterrows():
        term = str(r["term"])
        kind, name = term.split("__", 1) if "__" in term else ("sd", term)
        grp = str(r["group"])
        if kind == "cor":
            cors[(grp, name.split(".", 1)[-1])] = r["estimate"]
            continue
        sd = float(r["estimate"]) if kind == "sd" else float(np.sqrt(r["estimate"]))
        rows.append({"Groups": grp, "Name": "" if grp == "Residual" else name, "_sd": sd})
    if not rows:
        return ""
    rt = pd.DataFrame(rows)
    rt["Variance"] = [fmt.fmt_num(s ** 2, 5) for s in rt["_sd"]]
    rt["Std.Dev."] = [fmt.fmt_num(s, 4) for s in rt["_sd"]]
    rt["Corr"] = [fmt.fmt_stat(cors[(g, n)], 2, bounded=True) if (g, n) in cors else ""
                  for g, n in zip(rt["Groups"], rt["Name"])]
    if not any(rt["Corr"]):
        rt = rt.drop(columns="Corr")
    rt = pd.concat([rt[rt["Groups"] != "Residual"], rt[rt["Groups"] == "Residual"]])
    rt.loc[rt["Groups"].duplicated(), "Groups"] = ""       # lme4 names a group once
    return pipe_table(rt.drop(columns="_sd"), align="llrr" + "r" * (rt.shape[1] - 5))


def _fixed_table(fixed: pd.DataFrame, z: bool) -> str:
    ft = pd.DataFrame({
        "Term": fixed["term"].astype(str),
        "Estimate": [fmt.fmt_num(x, 4) for x in fixed["estimate"]],
        "Std. Error": [fmt.fmt_num(x, 4) for x in fixed["std_error"]],
        "95% CI": [ci_text(lo, hi, 4) or "–" for lo, hi in
                   zip(fixed.get("conf_low", [np.nan] * len(fixed)),
                       fixed.get("conf_high", [np.nan] * len(fixed)))],
        "df": ["–" if missing(d) else fmt.fmt_df(d) for d in fixed["df"]],
        "z value" if z else "t value": [fmt.fmt_num(x, 2) for x in fixed["statistic"]],
        "p": [p_text(p, None, None) for p in fixed["p_value"]]})
    ft = ft.replace(fmt.NA, "–")
    return pipe_table(ft, align="lrrrrrr")


def _df_method(p_method: str, binomial: bool) -> str:
    if p_method.startswith("Satterthwaite"):
        return ("df method: Satterthwaite (as lmerTest), t tests and 95% CIs on those df, "
                "not the residual df")
    if binomial:
        return ("df method: none, Wald z tests and 95% CIs from the standard normal (as "
                "glmer prints them)")
    return "df method: none, Wald z (the Satterthwaite step failed for this fit)"


def _effect_sizes(g: pd.Series | None, binomial: bool) -> str:
    if g is None or missing(g.get("r2_marginal")):
        why = text_or(None if g is None else g.get("r2_method"),
                      "not in this run's tables: results written before emostat reported them")
        return f"R²m, R²c and ICC not computed ({why})"
    b = dict(bounded=True)
    scale = " on the latent scale (residual variance π²/3)" if binomial else ""
    return (f"Nakagawa R²m = {fmt.fmt_stat(g['r2_marginal'], 3, **b)} (fixed effects), R²c = "
            f"{fmt.fmt_stat(g['r2_conditional'], 3, **b)} (fixed + random){scale}; ICC "
            f"adjusted = {fmt.fmt_stat(g['icc_adjusted'], 3, **b)}, conditional = "
            f"{fmt.fmt_stat(g['icc_conditional'], 3, **b)} (as R performance computes them)")


def _fit_text(g: pd.Series | None, t: pd.DataFrame, binomial: bool) -> str:
    status = text_or(t["status"].dropna().iloc[0]) if "status" in t and t["status"].notna().any() \
        else text_or(None if g is None else g.get("status"), "ok")
    message = text_or(t["message"].dropna().iloc[0]) if "message" in t and \
        t["message"].notna().any() else text_or(None if g is None else g.get("message"))
    how = "Laplace maximum likelihood" if binomial else "REML"
    bits = [how]
    if g is not None:
        if text_or(g.get("optimizer")):
            bits.append(f"optimiser {g['optimizer']}")
        bits.append("converged" if bool(g.get("converged", False)) else
                    "**the optimiser did not report convergence**")
    words = {"ok": "not singular", "singular": "**singular fit**",
             "fallback": "**a test fell back to another method**",
             "failed": "**the fit failed**"}
    bits.append(words.get(status, status))
    return "Fit: " + ", ".join(bits) + (f" ({message})" if message else "")


def block(tidy: pd.DataFrame, glance: pd.DataFrame | None = None, *, task=None, k=None,
          model=None, qq: pd.DataFrame | None = None, qq_ref: str | None = None,
          caption: bool = True) -> Markdown:
    """The block of one model (see the module docstring); "" when the table has no rows there.

    ``qq_ref``: the label of the appendix figure with its QQ plots (``fig-...``), cited when
    ``qq`` holds the model's points. ``caption``: the title as the chunk's table caption (one
    block per chunk), else as a bold line above the block (several blocks in one chunk).
    """
    t, g = select(tidy, glance, task=task, k=k, model=model)
    if t is None or not len(t):
        return Markdown("")
    binomial = _family(t) == "binomial"
    fixed, ran = t[t["effect"] == "fixed"], t[t["effect"] == "ran_pars"]
    formula = text_or(t["formula"].dropna().iloc[0]) if "formula" in t and \
        t["formula"].notna().any() else ""
    fitted = text_or(None if g is None else g.get("fitted_formula"))
    head = [f"**Formula.** `{formula or fitted}`" + (
        f"; fitted as `{fitted}`" if fitted and formula and fitted != formula else "") + "."
            if formula or fitted else "**Formula.** not recorded in this run's tables."]
    if g is not None:
        groups = text_or(g.get("groups")) or (
            "none (the fit failed)" if text_or(g.get("status")) == "failed" else
            "not recorded (results written before emostat stored them)")
        head.append(f"**Groups.** Number of obs: {fmt.fmt_num(g['nobs'], 0, big_mark=',')}; "
                    f"groups: {groups}; log-likelihood {fmt.fmt_num(g['logLik'], 2)}.")
    else:
        head.append("**Groups.** not in this run's tables (no glance row).")
    method = text_or(fixed["p_method"].dropna().iloc[0]) if "p_method" in fixed and \
        fixed["p_method"].notna().any() else ""
    z = binomial or method.startswith("Wald")
    parts = ["  \n".join(head), "**Random effects**", _ran_table(ran) or "(none fitted)",
             "**Fixed effects**", _fixed_table(fixed, z)]
    sel = _qq_rows(qq, task=task, k=k, model=t["model"].iloc[0] if "model" in t else None)
    qq_text = (f"QQ plots of the residuals and random effects: @{qq_ref} (appendix)"
               if qq_ref and len(sel) else "QQ plots: no QQ data in this run's tables "
               "(written before emostat stored them; re-run the analysis)")
    notes = [_fit_text(g, t, binomial), _df_method(method, binomial),
             f"p: {method}" if method else "", _effect_sizes(g, binomial), qq_text]
    body = "\n\n".join(p for p in parts if p)
    body += "\n\n*Note.* " + "; ".join(n.rstrip(".") for n in notes if n) + ".\n"
    head = caption_marker(title(t, k, task)) if caption else f"**{title(t, k, task)}**\n\n"
    return Markdown(head + "::: {.mixed-model}\n" + body + "\n:::\n")


def _qq_rows(qq: pd.DataFrame | None, *, task=None, k=None, model=None) -> pd.DataFrame:
    if qq is None or not len(qq):
        return pd.DataFrame()
    d = qq
    for col, v in (("task", task), ("k", k), ("model", model)):
        if v is not None and col in d:
            d = d[d[col] == v]
    return d


def has_qq(qq: pd.DataFrame | None, *, task=None, k=None, model=None) -> bool:
    """Whether ``qq`` holds points of the model (a QQ figure can be drawn)."""
    return len(_qq_rows(qq, task=task, k=k, model=model)) > 0


def qq_caption(tidy: pd.DataFrame, *, task=None, k=None, model=None) -> str:
    """The caption of :func:`qq_figure`: which model, which residuals."""
    t, _ = select(tidy, None, task=task, k=k, model=model)
    fam = "binomial GLMM" if _family(t) == "binomial" else "linear mixed model"
    name = text_or(t["model"].iloc[0]) if len(t) and "model" in t else ""
    rec = len(t) and "role" in t and (t["role"] == "record").any()
    what = f"the {fam}{' of record' if rec else ''}" + (
        f" ({name})" if name and name != "record" else "")
    return (f"Normal QQ plots of {what}" + (f" at k = {k_text(k)}" if k is not None else "")
            + (f" ({task} task)" if task else "") + ": its residuals (" + (
                "randomized quantile residuals" if fam.startswith("binomial") else
                "Pearson residuals") + ") and the conditional modes of each random term; "
            "normal where the points follow the line.")


def qq_figure(qq: pd.DataFrame | None, runs=None, *, task=None, k=None, model=None):
    """QQ panels of one model (residuals, then each random term); ``runs``: a list of
    (label, qq table, task, k, model) draws one row of panels per run (the comparison). None
    when there are no points."""
    rows = runs if runs is not None else [("", qq, task, k, model)]
    rows = [(lab, _qq_rows(q, task=ta, k=kk, model=m)) for lab, q, ta, kk, m in rows]
    rows = [(lab, d) for lab, d in rows if len(d)]
    if not rows:
        return None
    plt = pyplot()
    n_col = max(d.groupby(["panel", "group", "term"], sort=False).ngroups for _, d in rows)
    fig, axes = plt.subplots(len(rows), n_col, squeeze=False,
                             figsize=(WIDTH, 1.9 * len(rows) + 0.3))
    for i, (label, d) in enumerate(rows):
        panels = list(d.groupby(["panel", "group", "term"], sort=False))
        for j, ax in enumerate(axes[i]):
            if j >= len(panels):
                ax.set_axis_off()
                continue
            (panel, group, term), p = panels[j]
            ax.plot(p["theoretical"], p["sample"], "o", ms=2.2, color="#0072B2")
            lo, hi = np.percentile(p["sample"], [25, 75])
            qlo, qhi = np.percentile(p["theoretical"], [25, 75])
            slope = (hi - lo) / (qhi - qlo) if qhi > qlo else 1.0
            x = np.array([p["theoretical"].min(), p["theoretical"].max()])
            ax.plot(x, lo + slope * (x - qlo), color="black", lw=0.7)
            name = ("residuals" if panel == "residuals" else f"{group}: {term}")
            ax.set_title((f"{label}\n" if label and j == 0 else "") +
                         f"{name} (n = {int(p['n'].iloc[0])})", fontsize=7)
            ax.tick_params(labelsize=6)
            if i == len(rows) - 1:
                ax.set_xlabel("normal quantile", fontsize=7)
    fig.tight_layout()
    return fig
