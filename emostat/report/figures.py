"""Report figures of the human space and the neuron searchlight: one function per figure,
each taking results DataFrames and returning a Figure (style: :mod:`emostat.report.style`).

Concepts and attributes are drawn in the order the tables give them (or an ``order`` passed
in, e.g. the ``human_means`` order); attribute groups come from the run's space when known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.report.labels import place_labels
from emostat.report.style import (DIVERGING, OKABE_ITO, PALETTE, WIDTH, bar_offsets,
                                  group_color, group_legend, grouped_bars, pyplot, stars,
                                  use_style)
from emostat.report.view import has_intervals, headline_k, order

__all__ = ["use_style"]


def importance_bars(importance: pd.DataFrame, groups: dict | None = None):
    """Attribute importance (Kendall tau-b, human RDM vs attribute RDM) with bootstrap CIs.

    Columns used: attribute, estimate, conf_low, conf_high (p_value optional: * marks p < .05).
    """
    plt = pyplot()
    d = importance.sort_values("estimate").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, 3.0))
    y = np.arange(len(d))
    colors = [group_color(a, groups) for a in d["attribute"]]
    ax.barh(y, d["estimate"], color=colors, height=0.7)
    has_ci = has_intervals(d)
    if has_ci:
        ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["conf_low"],
                                            d["conf_high"] - d["estimate"]],
                    fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_yticks(y, d["attribute"])
    ax.axvline(0, color="black", lw=0.6)
    # stars from the Mantel p (the table's p_value), right of the interval or of the bar
    pcol = "p_value"
    if pcol in d:
        ends = d["conf_high"] if has_ci else d["estimate"]
        for yi, (end, p) in enumerate(zip(ends.fillna(d["estimate"]), d[pcol])):
            ax.text(max(float(end), 0) + 0.01, yi, stars(p), va="center", fontsize=7)
    ax.set_xlabel("Attribute importance (Kendall τ-b with the human RDM)")
    group_legend(ax, groups, loc="lower right")
    fig.tight_layout()
    return fig


def appraisal_loadings(loadings: pd.DataFrame, item_texts: dict | None = None,
                       max_label: int = 70):
    """Heat map of the varimax-rotated appraisal PCA loadings (items × components).

    Columns used: item, component, loading (item_text optional). ``item_texts`` (item →
    wording) labels the rows when the table has no item_text.
    """
    plt = pyplot()
    wide = loadings.pivot_table(index="item", columns="component", values="loading",
                                aggfunc="first")
    comps = order(loadings["component"])
    wide = wide[comps].sort_index()
    texts = dict(item_texts or {})
    if "item_text" in loadings:
        texts.update(loadings.drop_duplicates("item").set_index("item")["item_text"].to_dict())

    def label(i):
        t = str(texts.get(i, "")).replace("'Specific Event A'", "the event").strip()
        t = t[:max_label - 1] + "…" if len(t) > max_label else t
        t = t[:1].upper() + t[1:]
        return f"{i}. {t}" if t else str(i)

    labels = [label(i) for i in wide.index]
    fig, ax = plt.subplots(figsize=(WIDTH, max(3.0, 0.135 * len(wide) + 0.9)))
    lim = float(np.nanmax(np.abs(wide.to_numpy()))) or 1.0
    im = ax.imshow(wide.to_numpy(), cmap=DIVERGING, vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(np.arange(len(wide)), labels, fontsize=6 if texts else 7)
    ax.set_xticks(np.arange(len(comps)), comps, rotation=30, ha="right")
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, shrink=0.5, label="loading")
    fig.tight_layout()
    return fig


def square(rdm_long: pd.DataFrame, names) -> np.ndarray:
    """A long RDM (emotion_a, emotion_b, estimate) as a square matrix over ``names``."""
    idx = {e: i for i, e in enumerate(names)}
    m = np.full((len(names), len(names)), np.nan)
    a = rdm_long["concept_a"].map(idx).to_numpy()
    b = rdm_long["concept_b"].map(idx).to_numpy()
    v = rdm_long["estimate"].to_numpy(float)
    m[a, b] = v
    m[b, a] = v
    np.fill_diagonal(m, 0)
    return m


def rdm_heatmaps(human_rdm: pd.DataFrame | None, attribute_rdms: pd.DataFrame | None,
                 concepts=(), labels=None):
    """The mean human dissimilarity RDM (large, every concept labelled) and the attribute
    RDMs (small panels in the same concept order), concepts in ``concepts`` order, labelled by
    ``labels`` (concept id -> word; ids without one keep their id).

    Columns used: emotion_a, emotion_b, estimate (attribute_rdms also attribute). Each panel
    has its own colour scale (viridis, dark = similar).
    """
    plt = pyplot()
    src = [t for t in (human_rdm, attribute_rdms) if t is not None]
    names = order([x for t in src for x in list(t["concept_a"]) + list(t["concept_b"])],
                  concepts)
    attrs = order(attribute_rdms["attribute"]) if attribute_rdms is not None else []
    # without a human RDM naming the concepts, a few attribute panels are drawn large and
    # labelled themselves (a space without similarity judgments)
    labelled = human_rdm is None and 0 < len(attrs) <= 4
    ncol = len(attrs) if labelled else 7
    nrow = int(np.ceil(len(attrs) / ncol))
    small = WIDTH / ncol * (0.75 if labelled else 1)
    pad = 0.9 if labelled else 0.15                  # room for rotated concept labels
    big = WIDTH * 0.45 if human_rdm is not None else 0
    fig = plt.figure(figsize=(WIDTH, (big + 0.45 if human_rdm is not None else 0)
                              + nrow * (small + pad)))
    parts = ([big + 0.45] if human_rdm is not None else []) + ([nrow * (small + pad)]
                                                              if attrs else [])
    subs = np.atleast_1d(fig.subfigures(len(parts), 1, height_ratios=parts))
    label_pt = max(4.5, min(7.0, 150 / max(len(names), 1)))
    if human_rdm is not None:
        ax = subs[0].add_axes([0.25, 0.18, 0.56, 0.76])
        ax.imshow(square(human_rdm, names), cmap="viridis", interpolation="nearest")
        ax.set_title("human dissimilarity", fontsize=8, loc="center")
        shown = [(labels or {}).get(c, c) for c in names]
        ax.set_xticks(np.arange(len(names)), shown, fontsize=label_pt, rotation=90)
        ax.set_yticks(np.arange(len(names)), shown, fontsize=label_pt)
        ax.tick_params(length=0, pad=1)
    if attrs:
        axes = subs[-1].subplots(nrow, ncol, squeeze=False,
                                 gridspec_kw={"wspace": 0.08, "hspace": 0.35})
        for ax in axes.flat[len(attrs):]:
            ax.set_visible(False)
        for ax, a in zip(axes.flat, attrs):
            ax.imshow(square(attribute_rdms[attribute_rdms["attribute"] == a], names),
                      cmap="viridis", interpolation="nearest")
            ax.set_title(a, fontsize=8 if labelled else 6.5, loc="center", fontweight="normal")
            ticks = np.arange(len(names))
            ax.set_xticks(ticks if labelled else [], names if labelled else [],
                          fontsize=label_pt, rotation=90)
            ax.set_yticks(ticks if labelled and ax is axes.flat[0] else [],
                          names if labelled and ax is axes.flat[0] else [], fontsize=label_pt)
            ax.tick_params(length=0, pad=1)
        if labelled:
            subs[-1].subplots_adjust(left=0.12, right=0.99, top=0.92, bottom=pad / (small + pad))
        else:
            subs[-1].subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.02)
    return fig


def tau_distributions(neuron_rsa: pd.DataFrame, q_col: str = "q_value", alpha: float = .01,
                      bins: int = 60):
    """Histogram of neuron–attribute Kendall tau per attribute; significant neurons shaded.

    Columns used: attribute, tau, and ``q_col`` (significant: ``q_col < alpha``).
    """
    plt = pyplot()
    attrs = order(neuron_rsa["attribute"].unique())
    tau = neuron_rsa["tau"].to_numpy(float)
    edges = np.linspace(np.nanmin(tau), np.nanmax(tau), bins + 1)
    ncol = 7
    nrow = int(np.ceil(len(attrs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 1.25 * nrow + 0.5), sharex=True,
                             squeeze=False)
    for ax in axes.flat[len(attrs):]:
        ax.set_visible(False)
    groups = neuron_rsa.groupby("attribute", sort=False)
    for ax, a in zip(axes.flat, attrs):
        g = groups.get_group(a)
        t = g["tau"].to_numpy(float)
        sig = g[q_col].to_numpy(float) < alpha if q_col in g else np.zeros(len(g), bool)
        # stairs: one artist per histogram (ax.hist draws a patch per bin: slow at 14 panels)
        ax.stairs(np.histogram(t, edges)[0], edges, fill=True, color=OKABE_ITO["grey"])
        ax.stairs(np.histogram(t[sig], edges)[0], edges, fill=True,
                  color=OKABE_ITO["vermillion"])
        ax.set_title(a, fontsize=7, loc="center", fontweight="normal")
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.axvline(0, color="black", lw=0.5)
    from matplotlib.ticker import MaxNLocator

    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.tick_params(labelsize=6)
    for ax in axes[-1]:
        ax.set_xlabel("τ", fontsize=7)
    fig.tight_layout(pad=0.4, w_pad=0.4, h_pad=0.5)
    return fig


def neuron_counts(counts: pd.DataFrame):
    """Significant (study rule and BH) and selective neurons per attribute.

    Columns used: attribute, n_significant, n_significant_bh, n_selective.
    """
    plt = pyplot()
    d = counts.set_index("attribute").loc[order(counts["attribute"])]
    series = [("n_significant", "significant (study rule)", OKABE_ITO["vermillion"]),
              ("n_significant_bh", "significant (BH)", OKABE_ITO["orange"]),
              ("n_selective", "selective", OKABE_ITO["purple"])]
    series = [s for s in series if s[0] in d]
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8))
    x = np.arange(len(d))
    off, w = bar_offsets(len(series))
    for i, (col, label, color) in enumerate(series):
        ax.bar(x + off[i], d[col], width=w, color=color, label=label)
    ax.set_xticks(x, d.index, rotation=35, ha="right")
    ax.set_ylabel("neurons")
    ax.legend(ncol=len(series), loc="upper left", bbox_to_anchor=(0, 1.12))
    fig.tight_layout()
    return fig


def layer_distribution(dist: pd.DataFrame, k: int | None = None):
    """Share of each attribute's top-k neurons per layer (heat map, attributes × layers).

    Columns used: attribute, k, layer, n_neurons.
    """
    plt = pyplot()
    k = headline_k(dist["k"]) if k is None else k
    d = dist[dist["k"] == k]
    wide = d.pivot_table(index="attribute", columns="layer", values="n_neurons", aggfunc="sum",
                         fill_value=0)
    wide = wide.loc[order(d["attribute"])]
    share = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0)
    fig, ax = plt.subplots(figsize=(WIDTH, 2.7))
    im = ax.imshow(share.to_numpy(), cmap="viridis", aspect="auto", vmin=0)
    ax.set_yticks(np.arange(len(share)), share.index)
    step = max(1, int(np.ceil(share.shape[1] / 16)))
    ticks = np.arange(0, share.shape[1], step)
    # the layer index of the tables and the text (0 = closest to the input)
    ax.set_xticks(ticks, [str(int(share.columns[t])) for t in ticks])
    ax.set_xlabel("layer (0 = closest to the input)")
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, label=f"share of top-{k:,} neurons", shrink=0.8)
    fig.tight_layout()
    return fig


def emotion_space(human_rdm: pd.DataFrame, concepts=(), labels=None):
    """The human concept space: (A) classical MDS of the mean dissimilarity RDM, (B) its
    average-linkage dendrogram (scipy); concepts labelled by ``labels`` (id -> word) or id."""
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    plt = pyplot()
    emos = order(list(human_rdm["concept_a"]) + list(human_rdm["concept_b"]), concepts)
    m = square(human_rdm, emos)
    n = len(emos)
    j = np.eye(n) - 1 / n
    b = -0.5 * j @ (m ** 2) @ j                     # classical (Torgerson) MDS
    val, vec = np.linalg.eigh(b)
    idx = np.argsort(val)[::-1][:2]
    xy = vec[:, idx] * np.sqrt(np.maximum(val[idx], 0))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(WIDTH, 3.0), gridspec_kw={"width_ratios": [1.1, 1]})
    a1.scatter(xy[:, 0], xy[:, 1], s=18, color=OKABE_ITO["blue"])
    a1.margins(0.14)                                # room for the labels inside the axes
    shown = [(labels or {}).get(e, e) for e in emos]
    a1.set_xlabel("MDS dimension 1")
    a1.set_ylabel("MDS dimension 2")
    a1.set_title("A", loc="left")
    z = linkage(squareform(m, checks=False), method="average")
    dendrogram(z, labels=shown, orientation="right", ax=a2, color_threshold=0,
               above_threshold_color=OKABE_ITO["grey"], leaf_font_size=6)
    a2.set_xlabel("dissimilarity (average linkage)")
    a2.set_title("B", loc="left")
    for side in ("left", "top", "right"):
        a2.spines[side].set_visible(False)
    fig.tight_layout()
    # labels placed once the axes are final: none over another or over a marker
    place_labels(a1, xy, shown, fontsize=5.5, marker_size=18)
    return fig


def rank_heatmap(rsa: pd.DataFrame, top: int = 100):
    """The study's attribute-specific neuron map: for each attribute its ``top`` neurons by
    rank (rows, attribute blocks in the study's order), coloured by their τ with every
    attribute (columns). Columns used: neuron, attribute, tau, rank."""
    plt = pyplot()
    attrs = order(rsa["attribute"])
    tau = rsa.pivot_table(index="neuron", columns="attribute", values="tau", aggfunc="first")
    tau = tau[attrs]
    blocks, ticks = [], []
    for a in attrs:
        g = rsa[rsa["attribute"] == a].nsmallest(top, "rank")["neuron"]
        ticks.append(sum(len(b) for b in blocks) + len(g) / 2)
        blocks.append(tau.loc[g.to_numpy()].to_numpy())
    m = np.vstack(blocks)
    lim = float(np.nanpercentile(np.abs(m), 99)) or 1.0
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 4.2))
    im = ax.imshow(m, cmap=DIVERGING, vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(attrs)), attrs, rotation=40, ha="right")
    ax.set_yticks(ticks, [f"top {top}: {a}" for a in attrs], fontsize=6.5)
    for i in range(1, len(attrs)):
        ax.axhline(i * top - 0.5, color="white", lw=0.5)
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, shrink=0.6, label="Kendall τ")
    fig.tight_layout()
    return fig


def comparison_searchlight(fractions: pd.DataFrame, profiles: pd.DataFrame):
    """(A) Share of each model's FFN neurons significant for each attribute (study rule);
    (B) where each model's top-k neurons sit, by normalised depth (0 = first layer, 1 = last)."""
    plt = pyplot()
    npan = int(not fractions.empty) + int(not profiles.empty)
    fig, axes = plt.subplots(1, npan, figsize=(WIDTH, 3.1), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1][:npan]})
    i = 0
    if not fractions.empty:
        ax = axes[0, i]
        i += 1
        models = list(dict.fromkeys(fractions["model"]))
        attrs = order(fractions["attribute"])
        x = grouped_bars(ax, fractions, "model", "attribute", attrs, "significant")
        ax.set_xticks(x, attrs, rotation=40, ha="right")
        ax.set_ylabel("significant neurons (% of the model's)")
        ax.set_title("A", loc="left")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(models), 3))
    if not profiles.empty:
        ax = axes[0, i]
        for j, (m, d) in enumerate(profiles.groupby("model", sort=False)):
            ax.plot(d["depth"], 100 * d["share"] * len(d), color=PALETTE[j % len(PALETTE)],
                    lw=1.8, marker="o", ms=3, label=m)
        ax.axhline(100, color="black", lw=0.5, ls=":")
        ax.set_xlabel("depth (layer / (layers − 1))")
        ax.set_ylabel("top-k neurons per layer (% of uniform)")
        ax.set_title("B", loc="left")
    fig.tight_layout()
    return fig
