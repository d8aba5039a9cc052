"""Tables of the model-comparison report: several runs side by side, read from their Parquet.

Models of different size compare through *fractions* of their neurons and *normalised depth*
(layer / (n_layers − 1): 0 = first FFN layer, 1 = last), never through raw counts or layer
numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.report.figures import headline_k
from emostat.report.text import extra_drop, model_line, rows, task_view


def model_size(run) -> tuple[int | None, int | None]:
    """``(n_layers, n_neurons)`` of a run's model: from its manifest or provenance, else from
    its searchlight tables (``None`` where nothing says)."""
    for rec in (run.manifest, run.provenance, run.provenance.get("collect_manifest", {})):
        m = rec.get("model") if isinstance(rec, dict) else None
        if isinstance(m, dict) and m.get("n_layers") and m.get("n_neurons"):
            return int(m["n_layers"]), int(m["n_neurons"])
    n_layers = n_neurons = None
    ld = run.get("layer_distribution")
    if ld is not None:
        n_layers = int(ld["layer"].max()) + 1
    if run.has("neuron_rsa"):
        rsa = run.get("neuron_rsa", columns=["neuron", "layer"])
        n_neurons = int(rsa["neuron"].nunique())
        n_layers = int(rsa["layer"].max()) + 1
    return n_layers, n_neurons


def label(run) -> str:
    return run.label


def models_table(runs) -> pd.DataFrame:
    """One row per model: name with its weights' format, layers, FFN neurons, tables present."""
    out = []
    for r in runs:
        n_layers, n_neurons = model_size(r)
        out.append({"Model": r.label, "Weights": model_line(r.provenance, r.manifest) or "–",
                    "Layers": fmt.fmt_int(n_layers) if n_layers else "–",
                    "FFN neurons": fmt.fmt_num(n_neurons, 0, big_mark=",") if n_neurons else "–"})
    return pd.DataFrame(out)


def baseline_table(runs) -> pd.DataFrame:
    """Mean unmanipulated accuracy per model and task, with chance and interpretability."""
    out = []
    for r in runs:
        base = r.get("baseline_accuracy")
        if base is None:
            continue
        chance = r.get("task_chance")
        ch = chance.set_index("task") if chance is not None else None
        for task, d in base.groupby("task", sort=False):
            row = {"Model": r.label, "Task": task,
                   "Mean accuracy": fmt.fmt_pct(d["estimate"].mean(), 1),
                   "Range": f"{fmt.fmt_pct(d['estimate'].min(), 0)}–"
                            f"{fmt.fmt_pct(d['estimate'].max(), 0)}"}
            if ch is not None and task in ch.index:
                row["Chance"] = fmt.fmt_pct(ch.loc[task, "chance"], 1)
                row["Interpretable"] = "yes" if bool(ch.loc[task, "interpretable"]) else "no"
            out.append(row)
    return pd.DataFrame(out).fillna("–")


def whole_model_table(runs) -> pd.DataFrame:
    out = []
    for r in runs:
        w = r.get("whole_model_rsa")
        if w is None:
            continue
        x = w.iloc[0]
        out.append({"Model": r.label, "τ": fmt.fmt_stat(x["estimate"], 3, bounded=True),
                    "95% CI": fmt.fmt_ci(x["conf_low"], x["conf_high"], 3, bounded=True)
                    if np.isfinite(x.get("conf_low", np.nan)) else "–",
                    "p": fmt.fmt_p(x["p_value"], None)})
    return pd.DataFrame(out)


def searchlight_fractions(runs) -> pd.DataFrame:
    """Long: model, attribute, fraction of the model's neurons significant (study rule) and
    selective."""
    out = []
    for r in runs:
        c = r.get("neuron_counts")
        _, n = model_size(r)
        if c is None or not n:
            continue
        out.append(c.assign(model=r.label, n_neurons=n,
                            significant=c["n_significant"] / n,
                            selective=c["n_selective"] / n))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def layer_profiles(runs) -> pd.DataFrame:
    """Long: model, depth (layer / (n_layers − 1)), share of the top-k neurons (all attributes
    pooled) at each model's headline k."""
    out = []
    for r in runs:
        ld = r.get("layer_distribution")
        if ld is None:
            continue
        n_layers, _ = model_size(r)
        n_layers = n_layers or int(ld["layer"].max()) + 1
        k = headline_k(ld["k"])
        d = ld[ld["k"] == k].groupby("layer")["n_neurons"].sum()
        d = d.reindex(range(n_layers), fill_value=0)
        out.append(pd.DataFrame({"model": r.label, "k": k, "layer": d.index,
                                 "depth": d.index / max(n_layers - 1, 1),
                                 "share": d.to_numpy() / max(d.sum(), 1)}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def masking_table(runs) -> pd.DataFrame:
    """Attribute-vs-random at each model's headline k: the mixed model of record, and how
    many attribute masks beat the random-mask population."""
    from emostat.report.text import _mixed_fixed

    out = []
    for r in runs:
        mm = task_view(r.get("masking_mixed_model"))
        vs = task_view(r.get("attribute_vs_null"))
        if mm is None and vs is None:
            continue
        k = headline_k((mm if mm is not None else vs)["k"])
        row = {"Model": r.label, "k": fmt.fmt_num(k, 0, big_mark=",")}
        if mm is not None:
            d = _mixed_fixed(mm, k)
            rec = rows(d, role="record")
            x = (rec if rec is not None and len(rec) else d).iloc[0] if len(d) else None
            if x is not None and np.isfinite(x["estimate"]):
                sign = 1 if x["term"] == "attribute_vs_random" else -1
                row["Extra drop (points)"] = fmt.fmt_num(100 * sign * x["estimate"], 1)
                lo, hi = x.get("conf_low", np.nan), x.get("conf_high", np.nan)
                row["95% CI"] = (fmt.fmt_ci(100 * lo, 100 * hi, 1) if sign == 1 and
                                 np.isfinite(lo) and np.isfinite(hi) else "–")
                df = x.get("df", np.nan)
                row["Test"] = (fmt.apa_t(sign * x["statistic"], df, x["p_value"])
                               if np.isfinite(df) else fmt.apa_z(sign * x["statistic"],
                                                                  x["p_value"]))
            elif x is not None:
                row["Test"] = str(x.get("message") or "fit failed")
        if vs is not None:
            d = vs[vs["k"] == headline_k(vs["k"])]
            if "p_min_perm" in d:     # the contract: estimate = extra drop, BH over attributes
                n = int(((d["q_value_bh"] < .05) & (d["estimate"] > 0)).sum())
            else:
                n = int((d["p_value_perm"] < .05).sum())
            row["Masks beyond random"] = f"{n} of {len(d)}"
        out.append(row)
    return pd.DataFrame(out).fillna("–")


def link_table(runs) -> pd.DataFrame:
    """Drop–importance link at each model's headline k: the test of record and the study's."""
    out = []
    for r in runs:
        li = task_view(r.get("importance_link"))
        if li is None:
            continue
        k = headline_k(li["k"])
        at = li[li["k"] == k]
        perm = rows(at, test="attribute_permutation") if "test" in at else None
        st = rows(at, test="study_t") if "test" in at else at
        row = {"Model": r.label, "k": fmt.fmt_num(k, 0, big_mark=",")}
        src = perm if perm is not None and len(perm) else st
        x = src.iloc[0]
        row["r"] = fmt.fmt_stat(x["estimate"], 3, bounded=True) if np.isfinite(x["estimate"]) \
            else "–"
        row["p (record)"] = (fmt.fmt_p(x["p_value"], None)
                             if perm is not None and len(perm) and np.isfinite(x["p_value"])
                             else "–")
        if st is not None and len(st) and np.isfinite(st.iloc[0]["statistic"]):
            s = st.iloc[0]
            row["Study's t"] = fmt.apa_t(s["statistic"], s["df"], s["p_value"])
        else:
            row["Study's t"] = "–"
        out.append(row)
    return pd.DataFrame(out)


def attribute_drops(runs) -> dict:
    """label → masking_by_attribute (primary task) for the figure."""
    out = {}
    for r in runs:
        d = task_view(r.get("masking_by_attribute"))
        if d is not None:
            out[r.label] = d
    return out


def extra_drops(by_attribute: pd.DataFrame) -> pd.Series:
    return 100 * extra_drop(by_attribute)
