"""Tables of the model-comparison report: several runs side by side, read from their Parquet.

Models of different size compare through *fractions* of their neurons and *normalised depth*
(layer / (n_layers − 1): 0 = first FFN layer, 1 = last), never through raw counts or layer
numbers.
"""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt
from emostat.report.findings import claims_of, claims_table
from emostat.report.method import model_line
from emostat.report.view import (ci_text, declared_k, extra_drop, headline_k, p_text, task_view,
                                 uninterpretable)


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
                    "95% CI": ci_text(x.get("conf_low"), x.get("conf_high"), 3, True) or "–",
                    "p": p_text(x["p_value"], .05, None)})
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
        k = headline_k(ld["k"], declared_k(claims_of(r), r.provenance))
        d = ld[ld["k"] == k].groupby("layer")["n_neurons"].sum()
        d = d.reindex(range(n_layers), fill_value=0)
        out.append(pd.DataFrame({"model": r.label, "k": k, "layer": d.index,
                                 "depth": d.index / max(n_layers - 1, 1),
                                 "share": d.to_numpy() / max(d.sum(), 1)}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def claims_rows(runs, claims=None) -> pd.DataFrame:
    """The headline record rows of every run's claims table, one row per model and claim
    (:func:`emostat.report.findings.claims_table`: the same cells the experiment report
    prints for the same rows). ``claims`` restricts to those claims."""
    out = []
    for r in runs:
        c = claims_of(r)
        if c is None:
            continue
        if claims is not None:
            c = c[c["claim"].isin(list(claims))]
        if len(c):
            out.append(claims_table(c, label=r.label))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def without_claims(runs) -> list:
    """Labels of the runs that have no claims table."""
    return [r.label for r in runs if claims_of(r) is None]


def masking_table(runs) -> pd.DataFrame:
    """The masking claim of each model at its headline k (its claims row of record)."""
    return claims_rows(runs, ["masking"])


def link_table(runs) -> pd.DataFrame:
    """The drop–importance link claim of each model at its headline k (row of record)."""
    return claims_rows(runs, ["link"])


def headline_ks(runs) -> dict:
    """label → the run's headline k (its claims' ``headline`` rows, else its provenance)."""
    return {r.label: declared_k(claims_of(r), r.provenance) for r in runs}


def attribute_drops(runs) -> dict:
    """label → masking_by_attribute (the task of the run's masking claim, else its primary
    task) for the figure."""
    out = {}
    for r in runs:
        c = claims_of(r)
        task = None
        if c is not None and (c["claim"] == "masking").any():
            t = c.loc[c["claim"] == "masking", "task"].dropna()
            task = str(t.iloc[0]) if len(t) else None
        d = task_view(r.get("masking_by_attribute"), task, uninterpretable(r.get("task_chance")))
        if d is not None:
            out[r.label] = d
    return out


def extra_drops(by_attribute: pd.DataFrame) -> pd.Series:
    return 100 * extra_drop(by_attribute)


def searchlight_sentence(fractions: pd.DataFrame) -> str:
    """Per model, the attribute with the largest share of significant neurons (study rule)."""
    if fractions.empty:
        return ""
    bits = []
    for m, d in fractions.groupby("model", sort=False):
        top = d.loc[d["significant"].idxmax()]
        bits.append(f"{m}: {top['attribute']} ({fmt.fmt_pct(top['significant'], 1)} of its "
                    f"{fmt.fmt_num(top['n_neurons'], 0, big_mark=',')} FFN neurons)")
    return ("The attribute with the largest share of significant neurons (study's rule) — "
            + "; ".join(bits) + ".")
