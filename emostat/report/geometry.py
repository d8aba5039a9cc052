"""Figures of the geometry tables (``emostat geometry``); reads tables only.

The geometry findings' sentences are the claims rows (``layer_rsa``, ``pc_attribute``,
``probe``, ``steering``) rendered by :mod:`emostat.report.findings`; nothing here decides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TABLES = ("geometry_layer_rsa", "geometry_pca", "geometry_probes", "geometry_steering",
          "geometry_steering_test")


def _record(df, **eq):
    if df is None:
        return None
    m = df["role"] == "record"
    for k, v in eq.items():
        m &= df[k] == v
    return df[m].iloc[0] if m.any() else None


def layer_profiles(rsa: pd.DataFrame | None, probes: pd.DataFrame | None,
                   attributes=None, ceiling: pd.DataFrame | None = None):
    """Two panels over normalised depth: RSA rho per attribute (record layer marked; the
    similarity RDM's noise ceiling as a band when ``ceiling``, an ``rsa_ceiling`` table, has
    one) and probe accuracy with each layer's own interval over stimuli, the best layer's
    interval simultaneous over layers (the one beside its max-over-layers p), the control task
    and chance (the null's mean per layer). Highlighted: ``attributes``, by default the
    similarity judgments and the attribute of the space with the smallest max-over-layers p
    (:func:`highlighted`)."""
    import matplotlib.pyplot as plt

    from emostat.report.rsa import ceiling_of, draw_ceiling

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    if rsa is not None:
        draw_ceiling(axes[0], ceiling_of(ceiling, "spearman"))
        lay = rsa[rsa["test"] == "layer_mantel"]
        attributes = highlighted(rsa) if attributes is None else attributes
        for a in lay["attribute"].unique():
            d = lay[lay["attribute"] == a].sort_values("layer")
            hl = a in attributes
            axes[0].plot(d["depth"], d["estimate"], lw=1.6 if hl else .6,
                         alpha=1 if hl else .35, label=a if hl else None)
            r = _record(rsa, attribute=a)
            if hl and r is not None:
                axes[0].plot(r.depth, r.estimate, "o", color=axes[0].lines[-1].get_color())
        axes[0].axhline(0, color="grey", lw=.5)
        axes[0].set(xlabel="depth (layer / last layer)", ylabel="Spearman ρ with human RDM",
                    title="RSA by layer")
        axes[0].legend(fontsize=7)
    if probes is not None:
        d = probes[probes["test"] == "ridge_cv"].sort_values("layer")
        axes[1].fill_between(d["depth"], d["conf_low"], d["conf_high"], alpha=.25)
        axes[1].plot(d["depth"], d["estimate"], label="ridge probe")
        if d["control_accuracy"].notna().any():
            axes[1].plot(d["depth"], d["control_accuracy"], "--", label="control task")
        r = _record(probes)
        if r is not None and np.isfinite(r.conf_low):
            axes[1].errorbar([r.depth], [r.estimate], fmt="o", color="black", capsize=3,
                             yerr=[[r.estimate - r.conf_low], [r.conf_high - r.estimate]],
                             label="best layer (simultaneous interval)")
        lg = probes[probes["test"] == "logistic_cv"]
        if len(lg):
            err = [lg["estimate"] - lg["conf_low"], lg["conf_high"] - lg["estimate"]]
            axes[1].errorbar(lg["depth"], lg["estimate"], yerr=err, fmt="s", ms=4,
                             label="logistic probe")
        axes[1].plot(d["depth"], d["chance"], color="grey", lw=.7, label="chance (null mean)")
        axes[1].set(xlabel="depth (layer / last layer)", ylabel="out-of-fold accuracy",
                    title="Concept probes")
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def highlighted(rsa: pd.DataFrame) -> tuple:
    """The RDMs the RSA panel highlights: ``similarity`` (the judgments, where the space has
    them) and the attribute whose record row has the smallest max-over-layers p (ties: first
    in table order), named from the run's table, never a fixed attribute."""
    rec = rsa[(rsa["role"] == "record") & (rsa["attribute"] != "similarity")] \
        if "role" in rsa else rsa.iloc[:0]
    best = (str(rec.loc[rec["p_value"].fillna(np.inf).idxmin(), "attribute"]),) if len(rec) \
        else ()
    return best + (("similarity",) if (rsa["attribute"] == "similarity").any() else ())


def pca_map_layer(pca: pd.DataFrame) -> tuple[str | None, int]:
    """The attribute whose PC1 record row has the smallest p (first in table order on ties)
    and that row's layer: the layer the PCA map shows (None, 0 without rows)."""
    rec = pca[(pca["role"] == "record") & (pca["component"] == "PC1")]
    if not len(rec):
        return None, 0
    r = rec.loc[rec["p_value"].fillna(np.inf).idxmin()]
    return str(r["attribute"]), int(r["layer"])


def depth_profiles(runs, what: str = "rsa"):
    """Layer profiles of several runs side by side on normalised depth (layer / (n_layers -
    1)): ``rsa`` the Mantel rho of the mean similarity RDM (else of the attribute with the
    smallest max-over-layers p), ``probe`` the ridge probe's out-of-fold accuracy. ``runs``:
    objects with ``label`` and ``get(name)``; None when no run has the table."""
    import matplotlib.pyplot as plt

    table = "geometry_layer_rsa" if what == "rsa" else "geometry_probes"
    have = [(r.label, r.get(table)) for r in runs if r.get(table) is not None]
    if not have:
        return None
    from emostat.report.rsa import ceiling_of, draw_ceiling

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if what == "rsa":                   # the shared space's band (the first run that has one)
        band = next((ceiling_of(r.get("rsa_ceiling")) for r in runs
                     if ceiling_of(r.get("rsa_ceiling")) is not None), None)
        draw_ceiling(ax, band)
    for name, t in have:
        if what == "rsa":
            rec = t[t["role"] == "record"]
            sim = rec[rec["attribute"] == "similarity"]
            att = (sim if len(sim) else rec.loc[[rec["p_value"].fillna(np.inf).idxmin()]])
            a = str(att["attribute"].iloc[0])
            d = t[(t["test"] == "layer_mantel") & (t["attribute"] == a)]
            lab = f"{name} ({a})"
        else:
            d, lab = t[t["test"] == "ridge_cv"], name
        d = d.sort_values("layer")
        n_layers = int(t["layer"].max()) + 1 if what == "rsa" else None
        depth = (d["layer"] / max(n_layers - 1, 1) if n_layers else d["depth"])
        ax.plot(depth, d["estimate"], marker=".", label=lab)
    ax.set(xlabel="depth (layer / (number of layers − 1))",
           ylabel="Spearman ρ with human RDM" if what == "rsa" else "out-of-fold accuracy",
           title="RSA by layer" if what == "rsa" else "Concept probes by layer")
    ax.axhline(0, color="grey", lw=.5)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def pca_map(scores: pd.DataFrame, attribute: str | None, layer: int,
            labels: dict | None = None):
    """Concepts on PC1 x PC2 of one layer, coloured by an attribute when given; each point
    named by the concept's word (``labels``: id -> word, the space's; else its id)."""
    import matplotlib.pyplot as plt

    from emostat.report.labels import place_labels

    d = scores[scores["layer"] == layer]
    fig, ax = plt.subplots(figsize=(5, 4))
    col = f"attribute:{attribute}"
    c = d[col].to_numpy() if col in d else None
    sc = ax.scatter(d["PC1"], d["PC2"], s=20,
                    **({} if c is None else {"c": c, "cmap": "coolwarm"}))
    if c is not None:
        fig.colorbar(sc, ax=ax, label=attribute)
    ax.set(xlabel=f"PC1 ({d['explained1'].iloc[0]:.0%})",
           ylabel=f"PC2 ({d['explained2'].iloc[0]:.0%})", title=f"Concept vectors, layer {layer}")
    ax.margins(0.12)                                  # room for the labels inside the axes
    fig.tight_layout()
    # labels placed once the axes are final: none over another or over a marker
    place_labels(ax, d[["PC1", "PC2"]].to_numpy(float),
                 [(labels or {}).get(str(k), str(k)) for k in d["concept"]], fontsize=6,
                 marker_size=20)
    return fig


STEER_LABELS = {"matched": "own vector, own word", "mismatched": "other concepts' vectors",
                "random_manifold": "random, on the manifold",
                "random_isotropic": "random, isotropic"}


def dose_response(rows: pd.DataFrame):
    """Mean change in the target word's log-probability by scale: a concept's vector on its own
    word (matched), on the other concepts' words (mismatched), random directions on the data
    manifold and isotropic ones (on every word), with ±1 SE over vectors."""
    import matplotlib.pyplot as plt

    matched = (rows["matched"] if "matched" in rows else
               (rows["kind"] == "concept") & (rows["vector"] == rows["target"]))
    comp = np.where(matched, "matched", np.where(rows["kind"] == "concept", "mismatched",
                                                 rows["kind"]))
    per = (rows.assign(component=comp)
           .groupby(["component", "scale", "vector"], as_index=False)["delta_logp"].mean())
    g = per.groupby(["component", "scale"])["delta_logp"].agg(["mean", "std", "count"])
    g = g.reset_index()
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for name, label in STEER_LABELS.items():
        d = g[g["component"] == name]
        if len(d):
            ax.errorbar(d["scale"], d["mean"], yerr=d["std"] / np.sqrt(d["count"]), marker="o",
                        capsize=3, label=f"{label} ({int(d['count'].iloc[0])} vectors)")
    ax.axhline(0, color="grey", lw=.5)
    ax.set(xlabel="scale (× residual norm at the answer position)",
           ylabel="Δ log p(target concept)", title="Steering dose–response")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
