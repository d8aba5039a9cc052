"""Report figures: one function per figure, each taking results DataFrames, returning a Figure.

One publication style for all (:func:`use_style`): matplotlib, 9-pt sans-serif, no top/right
spines, 200 dpi, the Okabe–Ito colour-blind-safe palette for categories and viridis / PuOr for
heat maps, so figures stay readable in greyscale print. Figures are created with pyplot, so a
Jupyter kernel (Quarto or the offline renderer) shows each one at the end of its chunk.
Emotions are drawn in the study's analysis order (:data:`emostat.constants.ANALYSIS_ORDER`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.constants import AFFECTIVE, ANALYSIS_ORDER, ATTRIBUTES, FACES, K_HEADLINE

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "skyblue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
    "grey": "#999999",
}
PALETTE = [OKABE_ITO[c] for c in ("blue", "orange", "green", "vermillion", "purple", "skyblue",
                                  "yellow", "black")]
CONDITION_COLORS = {"w/o": OKABE_ITO["grey"], "random": OKABE_ITO["skyblue"],
                    "attribute-specific": OKABE_ITO["vermillion"]}
DPI = 200
WIDTH = 6.5  # inches: the text width of a letter/A4 page with 1-inch margins


def attribute_group(attribute: str) -> str:
    """``affective``, ``face`` or ``appraisal``."""
    if attribute in AFFECTIVE:
        return "affective"
    return "face" if attribute in FACES else "appraisal"


GROUP_COLORS = {"affective": OKABE_ITO["orange"], "face": OKABE_ITO["blue"],
                "appraisal": OKABE_ITO["green"]}


def use_style() -> None:
    """Apply the report style to matplotlib's rcParams."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": DPI, "savefig.dpi": DPI, "figure.facecolor": "white",
        "savefig.facecolor": "white", "figure.figsize": (WIDTH, 3.2),
        "font.family": "DejaVu Sans", "font.size": 8.5, "axes.titlesize": 9,
        "axes.labelsize": 8.5, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5,
        "legend.fontsize": 7.5, "legend.frameon": False, "axes.spines.top": False,
        "axes.spines.right": False, "axes.linewidth": 0.6, "xtick.major.width": 0.6,
        "ytick.major.width": 0.6, "lines.linewidth": 1.2, "axes.prop_cycle":
        mpl.cycler(color=PALETTE), "axes.titleweight": "bold", "axes.titlelocation": "left",
        "image.cmap": "viridis", "svg.fonttype": "none",
    })


def _plt():
    import matplotlib.pyplot as plt  # imported late: the kernel picks its own backend first

    return plt


def _order(values, order) -> list:
    present = list(dict.fromkeys(values))
    return [v for v in order if v in present] + [v for v in present if v not in order]


def _ci95(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided 95% t interval from estimate, std_error, df (z when df is missing)."""
    from scipy.special import ndtri, stdtrit  # scipy.stats takes seconds to import

    dfree = df["df"].to_numpy(float) if "df" in df else np.full(len(df), np.nan)
    ok = np.isfinite(dfree)
    crit = np.where(ok, stdtrit(np.where(ok, dfree, 1), 0.975), ndtri(0.975))
    est, se = df["estimate"].to_numpy(float), df["std_error"].to_numpy(float)
    return est - crit * se, est + crit * se


def headline_k(ks) -> int:
    """The study's headline k (4000) when present, else the middle of the k values."""
    ks = sorted(set(int(k) for k in ks))
    return K_HEADLINE if K_HEADLINE in ks else ks[len(ks) // 2]


def stars(q) -> str:
    """Significance marks for a q- or p-value: * < .05, ** < .01, *** < .001."""
    if q is None or not np.isfinite(q):
        return ""
    return "***" if q < .001 else "**" if q < .01 else "*" if q < .05 else ""


# ---------------------------------------------------------------------------------------------
# human emotion space


def importance_bars(importance: pd.DataFrame):
    """Attribute importance (Kendall tau-b, human RDM vs attribute RDM) with bootstrap CIs.

    Columns used: attribute, estimate, conf_low, conf_high (p_value optional: * marks p < .05).
    """
    plt = _plt()
    d = importance.sort_values("estimate").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, 3.4))
    y = np.arange(len(d))
    colors = [GROUP_COLORS[attribute_group(a)] for a in d["attribute"]]
    ax.barh(y, d["estimate"], color=colors, height=0.7)
    ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["conf_low"],
                                        d["conf_high"] - d["estimate"]],
                fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_yticks(y, d["attribute"])
    ax.axvline(0, color="black", lw=0.6)
    if "p_value" in d:
        for yi, (hi, p) in enumerate(zip(d["conf_high"], d["p_value"])):
            ax.text(max(hi, 0) + 0.01, yi, stars(p), va="center", fontsize=7)
    ax.set_xlabel("Attribute importance (Kendall τ-b with the human RDM)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in GROUP_COLORS.values()]
    ax.legend(handles, list(GROUP_COLORS), loc="lower right")
    fig.tight_layout()
    return fig


def appraisal_loadings(loadings: pd.DataFrame, max_label: int = 48):
    """Heat map of the varimax-rotated appraisal PCA loadings (items × components).

    Columns used: item, component, loading (item_text optional, used as the row label).
    """
    plt = _plt()
    wide = loadings.pivot_table(index="item", columns="component", values="loading",
                                aggfunc="first")
    comps = _order(wide.columns, ATTRIBUTES)
    wide = wide[comps].sort_index()
    if "item_text" in loadings:
        text = loadings.drop_duplicates("item").set_index("item")["item_text"]
        labels = [f"{i}. {str(text.get(i, ''))[:max_label]}" for i in wide.index]
    else:
        labels = [str(i) for i in wide.index]
    fig, ax = plt.subplots(figsize=(WIDTH, max(3.0, 0.13 * len(wide) + 1.0)))
    lim = float(np.nanmax(np.abs(wide.to_numpy()))) or 1.0
    im = ax.imshow(wide.to_numpy(), cmap="PuOr", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(np.arange(len(wide)), labels, fontsize=5.5)
    ax.set_xticks(np.arange(len(comps)), comps, rotation=30, ha="right")
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, shrink=0.5, label="loading")
    fig.tight_layout()
    return fig


def _square(rdm_long: pd.DataFrame, order) -> np.ndarray:
    idx = {e: i for i, e in enumerate(order)}
    m = np.full((len(order), len(order)), np.nan)
    a = rdm_long["emotion_a"].map(idx).to_numpy()
    b = rdm_long["emotion_b"].map(idx).to_numpy()
    v = rdm_long["estimate"].to_numpy(float)
    m[a, b] = v
    m[b, a] = v
    np.fill_diagonal(m, 0)
    return m


def rdm_heatmaps(human_rdm: pd.DataFrame | None, attribute_rdms: pd.DataFrame | None,
                 order=ANALYSIS_ORDER):
    """The mean human dissimilarity RDM and the 14 attribute RDMs, emotions in ``order``.

    Columns used: emotion_a, emotion_b, estimate (attribute_rdms also attribute). Each panel
    has its own colour scale (viridis, dark = similar).
    """
    plt = _plt()
    panels = []
    if human_rdm is not None:
        panels.append(("human dissimilarity", _square(human_rdm, order)))
    if attribute_rdms is not None:
        for a in _order(attribute_rdms["attribute"], ATTRIBUTES):
            panels.append((a, _square(attribute_rdms[attribute_rdms["attribute"] == a], order)))
    ncol = 4
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, WIDTH / ncol * nrow * 1.02),
                             squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for n, (ax, (title, m)) in enumerate(zip(axes.flat, panels)):
        ax.imshow(m, cmap="viridis", interpolation="nearest")
        ax.set_title(title, fontsize=7.5, loc="center")
        ax.set_xticks([])
        ax.set_yticks([])
        if n == 0:
            ax.set_yticks(np.arange(len(order)), order, fontsize=3.6)
    fig.tight_layout(pad=0.4, w_pad=0.3, h_pad=0.6)
    return fig


# ---------------------------------------------------------------------------------------------
# neuron searchlight


def tau_distributions(neuron_rsa: pd.DataFrame, q_col: str = "q_value", alpha: float = .01,
                      bins: int = 60):
    """Histogram of neuron–attribute Kendall tau per attribute; significant neurons shaded.

    Columns used: attribute, tau, and ``q_col`` (significant: ``q_col < alpha``).
    """
    plt = _plt()
    attrs = _order(neuron_rsa["attribute"].unique(), ATTRIBUTES)
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
    plt = _plt()
    d = counts.set_index("attribute").loc[_order(counts["attribute"], ATTRIBUTES)]
    series = [("n_significant", "significant (study rule)", OKABE_ITO["blue"]),
              ("n_significant_bh", "significant (BH)", OKABE_ITO["skyblue"]),
              ("n_selective", "selective", OKABE_ITO["vermillion"])]
    series = [s for s in series if s[0] in d]
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8))
    x = np.arange(len(d))
    w = 0.8 / len(series)
    for i, (col, label, color) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, d[col], width=w, color=color, label=label)
    ax.set_xticks(x, d.index, rotation=35, ha="right")
    ax.set_ylabel("neurons")
    ax.legend(ncol=len(series), loc="upper left", bbox_to_anchor=(0, 1.12))
    fig.tight_layout()
    return fig


def layer_distribution(dist: pd.DataFrame, k: int | None = None):
    """Share of each attribute's top-k neurons per layer (heat map, attributes × layers).

    Columns used: attribute, k, layer, n_neurons.
    """
    plt = _plt()
    k = headline_k(dist["k"]) if k is None else k
    d = dist[dist["k"] == k]
    wide = d.pivot_table(index="attribute", columns="layer", values="n_neurons", aggfunc="sum",
                         fill_value=0)
    wide = wide.loc[_order(wide.index, ATTRIBUTES)]
    share = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    im = ax.imshow(share.to_numpy(), cmap="viridis", aspect="auto", vmin=0)
    ax.set_yticks(np.arange(len(share)), share.index)
    ax.set_xticks(np.arange(share.shape[1]), [str(int(c) + 1) for c in share.columns])
    ax.set_xlabel("layer (1 = closest to the input)")
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, label=f"share of top-{k:,} neurons", shrink=0.8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# manipulation


def masking_two_panel(by_emotion: pd.DataFrame, k: int | None = None, q_col: str = "q_value",
                      order=None):
    """The study's two-panel figure at top-k: (A) accuracy per emotion without manipulation,
    with random and with attribute-specific masking; (B) the drop (random − attribute-specific,
    percentage points) per emotion with 95% CIs and marks for ``q_col`` < .05/.01/.001.

    Columns used: k, emotion, estimate, std_error, df, acc_none, acc_random, acc_attribute,
    ``q_col``. Emotions are sorted by drop unless ``order`` is given.
    """
    plt = _plt()
    k = headline_k(by_emotion["k"]) if k is None else k
    d = by_emotion[by_emotion["k"] == k].copy()
    lo, hi = _ci95(d)
    d["drop"], d["drop_lo"], d["drop_hi"] = -100 * d["estimate"], -100 * hi, -100 * lo
    d = d.set_index("emotion")
    d = d.loc[order] if order is not None else d.sort_values("drop", ascending=False)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(WIDTH, 5.4), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 1]})
    x = np.arange(len(d))
    conds = [("acc_none", "w/o"), ("acc_random", "random"), ("acc_attribute", "attribute-specific")]
    conds = [c for c in conds if c[0] in d]
    w = 0.8 / max(len(conds), 1)
    for i, (col, label) in enumerate(conds):
        a1.bar(x + (i - (len(conds) - 1) / 2) * w, 100 * d[col], width=w,
               color=CONDITION_COLORS[label], label=label)
    a1.set_ylabel("accuracy (%)")
    a1.set_ylim(0, 100)
    a1.legend(ncol=3, loc="upper right", bbox_to_anchor=(1, 1.13))
    a1.set_title("A", loc="left")
    a2.bar(x, d["drop"], color=OKABE_ITO["vermillion"], width=0.7)
    a2.errorbar(x, d["drop"], yerr=[d["drop"] - d["drop_lo"], d["drop_hi"] - d["drop"]],
                fmt="none", ecolor="black", elinewidth=0.7, capsize=1.5)
    a2.axhline(0, color="black", lw=0.6)
    if q_col in d:
        for xi, (top, bottom, q) in enumerate(zip(d["drop_hi"], d["drop_lo"], d[q_col])):
            mark = stars(q)
            if mark:
                a2.text(xi, max(top, 0) + 0.3, mark, ha="center", va="bottom", fontsize=6.5)
    a2.set_ylabel("drop vs random (points)")
    a2.set_title("B", loc="left")
    a2.set_xticks(x, d.index, rotation=60, ha="right")
    fig.tight_layout(h_pad=0.8)
    return fig


def attribute_drops(by_attribute: pd.DataFrame, q_col: str = "q_value"):
    """Drop (random − attribute-specific accuracy, points) per attribute, one line per k,
    headline k with 95% CIs. Columns used: k, attribute, estimate, std_error, df, ``q_col``."""
    plt = _plt()
    ks = sorted(by_attribute["k"].unique())
    kh = headline_k(ks)
    attrs = _order(by_attribute["attribute"], ATTRIBUTES)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    x = np.arange(len(attrs))
    cmap = _plt().get_cmap("viridis")
    for i, k in enumerate(ks):
        d = by_attribute[by_attribute["k"] == k].set_index("attribute").reindex(attrs)
        drop = -100 * d["estimate"]
        if k == kh:
            continue
        ax.plot(x, drop, color=cmap(i / max(len(ks) - 1, 1)), lw=0.7, alpha=0.8,
                marker=".", ms=3, label=f"k = {k:,}")
    d = by_attribute[by_attribute["k"] == kh].set_index("attribute").reindex(attrs)
    lo, hi = _ci95(d.reset_index())
    drop = -100 * d["estimate"].to_numpy()
    ax.errorbar(x, drop, yerr=[drop - (-100 * hi), -100 * lo - drop], fmt="o", ms=4,
                color=OKABE_ITO["vermillion"], ecolor="black", elinewidth=0.7, capsize=2,
                label=f"k = {kh:,} (95% CI)", zorder=3)
    if q_col in d:
        for xi, (v, q) in enumerate(zip(-100 * lo, d[q_col])):
            if stars(q):
                ax.text(xi, v + 0.3, stars(q), ha="center", fontsize=6.5)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, attrs, rotation=35, ha="right")
    ax.set_ylabel("drop vs random (points)")
    ax.legend(ncol=4, loc="upper left", bbox_to_anchor=(0, 1.2), fontsize=6.5)
    fig.tight_layout()
    return fig


def importance_link(link: pd.DataFrame, by_emotion: pd.DataFrame | None = None):
    """Mean r (Fisher-z averaged over emotions) between accuracy drop and human attribute
    importance at each k, with 95% CIs; dots are the single emotions' r when given.

    Columns used: link k, estimate, conf_low, conf_high; by_emotion k, estimate.
    """
    plt = _plt()
    if "test" in link.columns:      # rows per k: study_t and the attribute-level tests
        link = link[link["test"] == "study_t"]
    d = link.sort_values("k")
    ks = list(d["k"])
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 2.8))
    x = np.arange(len(ks))
    if by_emotion is not None:
        rng = np.random.default_rng(0)
        for xi, k in enumerate(ks):
            e = by_emotion.loc[by_emotion["k"] == k, "estimate"].to_numpy(float)
            ax.scatter(xi + rng.uniform(-0.18, 0.18, len(e)), e, s=5,
                       color=OKABE_ITO["skyblue"], alpha=0.7, lw=0)
    ax.errorbar(x, d["estimate"], yerr=[d["estimate"] - d["conf_low"],
                                        d["conf_high"] - d["estimate"]],
                fmt="o-", color=OKABE_ITO["blue"], ecolor="black", ms=4, capsize=2, lw=1)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, [f"{int(k):,}" for k in ks])
    ax.set_xlabel("k (neurons masked)")
    ax.set_ylabel("r (drop, importance)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# experiment runs


def baseline_accuracy(baseline: pd.DataFrame):
    """Unmanipulated accuracy per emotion, one colour per task.

    Columns used: task, emotion, estimate.
    """
    plt = _plt()
    tasks = list(dict.fromkeys(baseline["task"]))
    emos = _order(baseline["emotion"], ANALYSIS_ORDER)
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8))
    x = np.arange(len(emos))
    w = 0.8 / len(tasks)
    for i, t in enumerate(tasks):
        d = baseline[baseline["task"] == t].set_index("emotion").reindex(emos)
        ax.bar(x + (i - (len(tasks) - 1) / 2) * w, 100 * d["estimate"], width=w,
               color=PALETTE[i % len(PALETTE)], label=t)
    ax.set_xticks(x, emos, rotation=60, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(ncol=len(tasks), loc="upper right", bbox_to_anchor=(1, 1.12))
    fig.tight_layout()
    return fig


def random_null(null: pd.DataFrame, observed: pd.DataFrame, k: int | None = None,
                task: str | None = None):
    """Per attribute: the distribution of the drop under random-neuron draws (histogram) and
    the attribute-specific value (vertical line), at one k and task.

    Columns used: null task, attribute, k, estimate; observed task, attribute, k, estimate,
    p_value_perm.
    """
    plt = _plt()
    k = headline_k(null["k"]) if k is None else k
    if task is None and "task" in null:
        from emostat.report.text import primary_task

        task = primary_task(null)
    sel = (null["k"] == k) & ((null["task"] == task) if "task" in null else True)
    osel = (observed["k"] == k) & ((observed["task"] == task) if "task" in observed else True)
    n, o = null[sel], observed[osel].set_index("attribute")
    attrs = _order(n["attribute"], ATTRIBUTES)
    ncol = 7
    nrow = int(np.ceil(len(attrs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 1.35 * nrow + 0.5), squeeze=False)
    for ax in axes.flat[len(attrs):]:
        ax.set_visible(False)
    for ax, a in zip(axes.flat, attrs):
        v = 100 * n.loc[n["attribute"] == a, "estimate"].to_numpy(float)
        counts, edges = np.histogram(v, bins=20)
        ax.stairs(counts, edges, fill=True, color=OKABE_ITO["skyblue"])
        if a in o.index:
            ax.axvline(100 * o.loc[a, "estimate"], color=OKABE_ITO["vermillion"], lw=1.4)
            if "p_value_perm" in o:
                from emostat.format import fmt_p

                ax.text(0.02, 0.97, fmt_p(o.loc[a, "p_value_perm"]), transform=ax.transAxes,
                        fontsize=5.5, va="top")
        ax.set_title(a, fontsize=7, loc="center", fontweight="normal")
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.tick_params(labelsize=6)
    fig.supxlabel("accuracy change vs unmanipulated (points)", fontsize=7.5)
    fig.tight_layout(pad=0.4, w_pad=0.4, h_pad=0.5)
    return fig


def model_comparison(by_attribute: dict[str, pd.DataFrame],
                     link: dict[str, pd.DataFrame] | None = None):
    """Several runs side by side: (A) drop per attribute at each run's headline k, 95% CIs;
    (B) drop–importance r across k. Dicts map run label → table."""
    plt = _plt()
    npan = 2 if link else 1
    fig, axes = plt.subplots(1, npan, figsize=(WIDTH, 3.0), squeeze=False,
                             gridspec_kw={"width_ratios": [2, 1][:npan]})
    ax = axes[0, 0]
    labels = list(by_attribute)
    attrs = _order(pd.concat(by_attribute.values())["attribute"], ATTRIBUTES)
    x = np.arange(len(attrs))
    w = 0.8 / len(labels)
    for i, lab in enumerate(labels):
        t = by_attribute[lab]
        d = t[t["k"] == headline_k(t["k"])].set_index("attribute").reindex(attrs)
        lo, hi = _ci95(d.reset_index())
        drop = -100 * d["estimate"].to_numpy()
        ax.errorbar(x + (i - (len(labels) - 1) / 2) * w, drop,
                    yerr=[drop + 100 * hi, -100 * lo - drop], fmt="o", ms=3,
                    color=PALETTE[i % len(PALETTE)], elinewidth=0.7, capsize=1.5, label=lab)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, attrs, rotation=40, ha="right")
    ax.set_ylabel("drop vs random (points)")
    ax.set_title("A", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(0, 1.18), ncol=min(len(labels), 3))
    if link:
        ax = axes[0, 1]
        for i, (lab, t) in enumerate(link.items()):
            t = t.sort_values("k")
            ax.errorbar(t["k"], t["estimate"], yerr=[t["estimate"] - t["conf_low"],
                                                     t["conf_high"] - t["estimate"]],
                        fmt="o-", ms=3, color=PALETTE[i % len(PALETTE)], capsize=1.5, lw=0.8)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlabel("k")
        ax.set_ylabel("r (drop, importance)")
        ax.set_title("B", loc="left")
    fig.tight_layout()
    return fig
