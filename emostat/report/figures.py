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


def _bar_offsets(n: int, span: float = 0.8) -> tuple[np.ndarray, float]:
    """x offsets and width of ``n`` side-by-side bars sharing a slot of width ``span``."""
    w = span / n
    return (np.arange(n) - (n - 1) / 2) * w, w


def _grouped_bars(ax, long: pd.DataFrame, group: str, cat: str, cats: list, value: str):
    """Side-by-side bars of ``100 * value`` per category, one colour per ``group`` level (in
    order of appearance); returns the category positions."""
    groups = list(dict.fromkeys(long[group]))
    x = np.arange(len(cats))
    off, w = _bar_offsets(len(groups))
    for j, g in enumerate(groups):
        d = long[long[group] == g].set_index(cat).reindex(cats)
        ax.bar(x + off[j], 100 * d[value], width=w, color=PALETTE[j % len(PALETTE)], label=g)
    return x


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
    # stars from the test of record (Mantel); older tables kept it in p_value_mantel
    pcol = "p_value_mantel" if "p_value_mantel" in d and "boot_share_le0" not in d else "p_value"
    if pcol in d:
        for yi, (hi, p) in enumerate(zip(d["conf_high"], d[pcol])):
            ax.text(max(hi, 0) + 0.01, yi, stars(p), va="center", fontsize=7)
    ax.set_xlabel("Attribute importance (Kendall τ-b with the human RDM)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in GROUP_COLORS.values()]
    ax.legend(handles, list(GROUP_COLORS), loc="lower right")
    fig.tight_layout()
    return fig


def appraisal_loadings(loadings: pd.DataFrame, item_texts: dict | None = None,
                       max_label: int = 70):
    """Heat map of the varimax-rotated appraisal PCA loadings (items × components).

    Columns used: item, component, loading (item_text optional). ``item_texts`` (item →
    wording) labels the rows when the table has no item_text.
    """
    plt = _plt()
    wide = loadings.pivot_table(index="item", columns="component", values="loading",
                                aggfunc="first")
    comps = _order(wide.columns, ATTRIBUTES)
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
    im = ax.imshow(wide.to_numpy(), cmap="PuOr", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(np.arange(len(wide)), labels, fontsize=6 if texts else 7)
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
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, WIDTH / ncol * nrow * 1.08),
                             squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (title, m) in zip(axes.flat, panels):
        ax.imshow(m, cmap="viridis", interpolation="nearest")
        ax.set_title(title, fontsize=7.5, loc="center")
        # every panel labelled: emotions on both axes (small, but legible when zoomed)
        ax.set_xticks(np.arange(len(order)), order, fontsize=2.9, rotation=90)
        ax.set_yticks(np.arange(len(order)), order, fontsize=2.9)
        ax.tick_params(length=0, pad=1)
    fig.tight_layout(pad=0.3, w_pad=0.2, h_pad=0.4)
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
    off, w = _bar_offsets(len(series))
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
    plt = _plt()
    k = headline_k(dist["k"]) if k is None else k
    d = dist[dist["k"] == k]
    wide = d.pivot_table(index="attribute", columns="layer", values="n_neurons", aggfunc="sum",
                         fill_value=0)
    wide = wide.loc[_order(wide.index, ATTRIBUTES)]
    share = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0)
    fig, ax = plt.subplots(figsize=(WIDTH, 2.7))
    im = ax.imshow(share.to_numpy(), cmap="viridis", aspect="auto", vmin=0)
    ax.set_yticks(np.arange(len(share)), share.index)
    step = max(1, int(np.ceil(share.shape[1] / 16)))
    ticks = np.arange(0, share.shape[1], step)
    ax.set_xticks(ticks, [str(int(share.columns[t]) + 1) for t in ticks])
    ax.set_xlabel("layer (1 = closest to the input)")
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, label=f"share of top-{k:,} neurons", shrink=0.8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# manipulation


def masking_two_panel(by_emotion: pd.DataFrame, k: int | None = None, q_col: str = "q_value",
                      order=None, cells: pd.DataFrame | None = None):
    """The study's two-panel figure at top-k: (A) accuracy per emotion without manipulation,
    with random and with attribute-specific masking (error bars ±1 SE over attributes when
    ``cells`` is given); (B) the extra drop of the attribute mask over the random one (points)
    per emotion with 95% CIs and marks for ``q_col`` < .05/.01/.001.

    Emotions are sorted by unmanipulated accuracy (as in the study) unless ``order`` is given;
    panel A's axis starts near the lowest accuracy, not at 0.
    """
    from emostat.report.text import extra_drop

    plt = _plt()
    k = headline_k(by_emotion["k"]) if k is None else k
    d = by_emotion[by_emotion["k"] == k].copy()
    d["drop"] = 100 * extra_drop(d)
    a, b = _ci95(d)     # two-sided 95% t interval from the SE (the tests are one-sided)
    a, b = (100 * a, 100 * b) if "p_method" in d else (-100 * b, -100 * a)
    d["drop_lo"], d["drop_hi"] = a, b
    d = d.set_index("emotion")
    sort_col = "acc_none" if "acc_none" in d else "drop"
    d = d.loc[order] if order is not None else d.sort_values(sort_col, ascending=False)
    se = {}
    if cells is not None:
        c = cells[cells["k"] == k]
        for col in ("acc_random", "acc_attribute"):
            if col in c:
                g = c.groupby("emotion")[col]
                se[col] = (100 * g.std(ddof=1) / np.sqrt(g.count())).reindex(d.index)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(WIDTH, 5.6), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 1]})
    x = np.arange(len(d))
    conds = [("acc_none", "w/o"), ("acc_random", "random"), ("acc_attribute", "attribute-specific")]
    conds = [c for c in conds if c[0] in d]
    w = 0.8 / max(len(conds), 1)
    lows = []
    for i, (col, label) in enumerate(conds):
        y = 100 * d[col].to_numpy(float)
        err = se[col].to_numpy(float) if col in se else None
        a1.bar(x + (i - (len(conds) - 1) / 2) * w, y, width=w, color=CONDITION_COLORS[label],
               label=label, yerr=err, error_kw={"elinewidth": 0.6, "capsize": 1,
                                                 "ecolor": "black"})
        lows.append(np.nanmin(y - (np.nan_to_num(err) if err is not None else 0)))
    a1.set_ylabel("accuracy (%)")
    floor = max(0.0, np.floor((min(lows) - 5) / 10) * 10) if lows else 0.0
    a1.set_ylim(floor, 100)
    a1.legend(ncol=3, loc="lower left", bbox_to_anchor=(0, 1.0))
    a1.set_title("A", loc="left", x=-0.07)
    a2.bar(x, d["drop"], color=OKABE_ITO["vermillion"], width=0.7)
    a2.errorbar(x, d["drop"], yerr=[d["drop"] - d["drop_lo"], d["drop_hi"] - d["drop"]],
                fmt="none", ecolor="black", elinewidth=0.7, capsize=1.5)
    a2.axhline(0, color="black", lw=0.6)
    if q_col in d:
        span = float(np.nanmax(d["drop_hi"]) - np.nanmin(np.minimum(d["drop_lo"], 0))) or 1.0
        for xi, (top, q) in enumerate(zip(d["drop_hi"], d[q_col])):
            if stars(q) and d["drop"].iloc[xi] > 0:
                a2.text(xi, max(top, 0) + 0.02 * span, stars(q), ha="center", va="bottom",
                        fontsize=6.5)
    # CIs of a few paired values (df 1-2) can span hundreds of points: keep the axis on the
    # data (the bars are clipped, never the drops)
    top = float(np.nanmax(np.abs(d["drop"]))) if len(d) else 1.0
    lo_ci, hi_ci = float(np.nanmin(d["drop_lo"])), float(np.nanmax(d["drop_hi"]))
    lim = max(1.5 * top + 2, 2.0)
    if hi_ci > lim or lo_ci < -lim:
        a2.set_ylim(max(lo_ci, -lim) - 1, min(hi_ci, lim) + 1)
    a2.set_ylabel("extra drop vs random (points)")
    a2.set_title("B", loc="left", x=-0.07)
    a2.set_xticks(x, d.index, rotation=60, ha="right")
    fig.tight_layout(h_pad=0.8)
    return fig


K_COLORS = [OKABE_ITO[c] for c in ("blue", "orange", "green", "purple", "skyblue",
                                    "black", "grey")]


def attribute_drops(by_attribute: pd.DataFrame, q_col: str = "q_value"):
    """Extra drop of each attribute's mask over random masks (points), one line per k (thick,
    Okabe–Ito colours without yellow), the headline k with 95% CIs and the study's marks."""
    from emostat.report.text import extra_drop

    plt = _plt()
    ks = sorted(by_attribute["k"].unique())
    kh = headline_k(ks)
    attrs = _order(by_attribute["attribute"], ATTRIBUTES)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.3))
    x = np.arange(len(attrs))
    others = [k for k in ks if k != kh]
    for i, k in enumerate(others):
        d = by_attribute[by_attribute["k"] == k]
        drop = (100 * extra_drop(d)).set_axis(d["attribute"]).reindex(attrs)
        ax.plot(x, drop, color=K_COLORS[i % len(K_COLORS)], lw=1.6, alpha=0.9,
                marker="o", ms=3.5, label=f"k = {k:,}")
    d = by_attribute[by_attribute["k"] == kh].set_index("attribute").reindex(attrs)
    lo, hi = _ci95(d.reset_index())
    drop = 100 * extra_drop(d).to_numpy()
    lo, hi = (100 * lo, 100 * hi) if "p_method" in d else (-100 * hi, -100 * lo)
    ax.errorbar(x, drop, yerr=[drop - lo, hi - drop], fmt="o-" if others else "o", ms=5, lw=2.2,
                color=OKABE_ITO["vermillion"], ecolor="black", elinewidth=0.8, capsize=2,
                label=f"k = {kh:,} (95% CI)", zorder=3)
    if q_col in d:
        span = float(np.nanmax(hi) - np.nanmin(np.minimum(lo, 0))) or 1.0
        for xi, (v, q, dv) in enumerate(zip(hi, d[q_col], drop)):
            if stars(q) and dv > 0:
                ax.text(xi, v + 0.02 * span, stars(q), ha="center", fontsize=6.5)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, attrs, rotation=35, ha="right")
    ax.set_ylabel("extra drop vs random (points)")
    ax.legend(ncol=4, loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=7)
    fig.tight_layout()
    return fig


def importance_link(link: pd.DataFrame, by_emotion: pd.DataFrame | None = None):
    """Mean r (Fisher-z averaged over emotions) between accuracy drop and human attribute
    importance at each k, with 95% CIs; dots are the single emotions' r when given.

    Columns used: link k, estimate, conf_low, conf_high; by_emotion k, estimate.
    """
    plt = _plt()
    d = link.sort_values("k")
    if "test" in d:   # long form: the mean r over emotions sits in the study_t rows
        d = d[d["test"] == ("study_t" if (d["test"] == "study_t").any() else d["test"].iloc[0])]
    ks = list(d["k"])
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 3.0))
    x = np.arange(len(ks))
    if by_emotion is not None:
        rng = np.random.default_rng(0)
        for xi, k in enumerate(ks):
            e = by_emotion.loc[by_emotion["k"] == k, "estimate"].to_numpy(float)
            ax.scatter(xi + rng.uniform(-0.2, 0.2, len(e)), e, s=16,
                       color=OKABE_ITO["skyblue"], alpha=0.75, lw=0.3, edgecolor="white")
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
    x = _grouped_bars(ax, baseline, "task", "emotion", emos, "estimate")
    ax.set_xticks(x, emos, rotation=60, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(ncol=len(tasks), loc="lower right", bbox_to_anchor=(1, 1.0))
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
    attrs = _order(o.index, ATTRIBUTES)
    ncol = min(5, max(len(attrs), 1))
    nrow = int(np.ceil(len(attrs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 1.6 * nrow + 0.6), squeeze=False)
    for ax in axes.flat[len(attrs):]:
        ax.set_visible(False)
    for ax, a in zip(axes.flat, attrs):
        # random draws shared by all attributes are stored once, attribute null
        v = 100 * n.loc[(n["attribute"] == a) | n["attribute"].isna(), "estimate"
                        ].to_numpy(float)
        if len(v) >= 20:
            counts, edges = np.histogram(v, bins=20)
            ax.stairs(counts, edges, fill=True, color=OKABE_ITO["skyblue"])
        else:   # a few draws: one dot each (a histogram of 3 values is 3 spikes)
            ax.scatter(v, np.full(len(v), 0.5), s=18, color=OKABE_ITO["skyblue"], zorder=2)
            ax.set_ylim(0, 1)
        if a in o.index:
            # the contract's estimate is the extra drop over the random masks' mean
            drop = o.loc[a, "estimate"] + (o.loc[a, "null_mean"] if "p_min_perm" in o else 0)
            ax.axvline(100 * drop, color=OKABE_ITO["vermillion"], lw=1.4)
            pcol = "p_value" if "p_min_perm" in o else "p_value_perm"
            if pcol in o:
                from emostat.format import fmt_p

                ax.text(0.02, 0.97, fmt_p(o.loc[a, pcol]), transform=ax.transAxes,
                        fontsize=7, va="top")
        ax.set_title(a, fontsize=8, loc="center", fontweight="normal")
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.tick_params(labelsize=7)
    fig.supxlabel("accuracy drop vs no manipulation (points)", fontsize=8)
    fig.tight_layout(pad=0.4, w_pad=0.4, h_pad=0.5)
    return fig


def model_comparison(by_attribute: dict[str, pd.DataFrame]):
    """Several runs side by side: extra drop of each attribute's mask over random masks at
    each run's headline k, 95% CIs. ``by_attribute`` maps run label → table."""
    from emostat.report.text import extra_drop

    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    labels = list(by_attribute)
    attrs = _order(pd.concat(by_attribute.values())["attribute"], ATTRIBUTES)
    x = np.arange(len(attrs))
    off, _ = _bar_offsets(len(labels))
    for i, lab in enumerate(labels):
        t = by_attribute[lab]
        d = t[t["k"] == headline_k(t["k"])].set_index("attribute").reindex(attrs)
        lo, hi = _ci95(d.reset_index())
        drop = 100 * extra_drop(d).to_numpy()
        lo, hi = (100 * lo, 100 * hi) if "p_method" in d else (-100 * hi, -100 * lo)
        ax.errorbar(x + off[i], drop, yerr=[drop - lo, hi - drop],
                    fmt="o", ms=4, color=PALETTE[i % len(PALETTE)], elinewidth=0.8,
                    capsize=1.5, label=lab)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, attrs, rotation=40, ha="right")
    ax.set_ylabel("extra drop vs random (points)")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(labels), 4))
    fig.tight_layout()
    return fig


def comparison_searchlight(fractions: pd.DataFrame, profiles: pd.DataFrame):
    """(A) Share of each model's FFN neurons significant for each attribute (study rule);
    (B) where each model's top-k neurons sit, by normalised depth (0 = first layer, 1 = last)."""
    plt = _plt()
    npan = int(not fractions.empty) + int(not profiles.empty)
    fig, axes = plt.subplots(1, npan, figsize=(WIDTH, 3.1), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1][:npan]})
    i = 0
    if not fractions.empty:
        ax = axes[0, i]
        i += 1
        models = list(dict.fromkeys(fractions["model"]))
        attrs = _order(fractions["attribute"], ATTRIBUTES)
        x = _grouped_bars(ax, fractions, "model", "attribute", attrs, "significant")
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


# ---------------------------------------------------------------------------------------------
# additions beside the study's figures


def emotion_space(human_rdm: pd.DataFrame, order=ANALYSIS_ORDER):
    """The human emotion space: (A) classical MDS of the mean dissimilarity RDM, (B) its
    average-linkage dendrogram (scipy)."""
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    plt = _plt()
    emos = _order(set(human_rdm["emotion_a"]) | set(human_rdm["emotion_b"]), order)
    m = _square(human_rdm, emos)
    n = len(emos)
    j = np.eye(n) - 1 / n
    b = -0.5 * j @ (m ** 2) @ j                     # classical (Torgerson) MDS
    val, vec = np.linalg.eigh(b)
    idx = np.argsort(val)[::-1][:2]
    xy = vec[:, idx] * np.sqrt(np.maximum(val[idx], 0))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(WIDTH, 3.6), gridspec_kw={"width_ratios": [1.1, 1]})
    a1.scatter(xy[:, 0], xy[:, 1], s=18, color=OKABE_ITO["blue"])
    for n, ((px, py), e) in enumerate(zip(xy, emos)):
        a1.annotate(e, (px, py), xytext=(3, 2 if n % 2 else -6), textcoords="offset points",
                    fontsize=5.5)
    a1.set_xlabel("MDS dimension 1")
    a1.set_ylabel("MDS dimension 2")
    a1.set_title("A", loc="left")
    z = linkage(squareform(m, checks=False), method="average")
    dendrogram(z, labels=emos, orientation="right", ax=a2, color_threshold=0,
               above_threshold_color=OKABE_ITO["grey"], leaf_font_size=6)
    a2.set_xlabel("dissimilarity (average linkage)")
    a2.set_title("B", loc="left")
    for side in ("left", "top", "right"):
        a2.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def rank_heatmap(rsa: pd.DataFrame, top: int = 100):
    """The study's attribute-specific neuron map: for each attribute its ``top`` neurons by
    rank (rows, attribute blocks in the study's order), coloured by their τ with every
    attribute (columns). Columns used: neuron, attribute, tau, rank."""
    plt = _plt()
    attrs = _order(rsa["attribute"], ATTRIBUTES)
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
    im = ax.imshow(m, cmap="PuOr_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(attrs)), attrs, rotation=40, ha="right")
    ax.set_yticks(ticks, [f"top {top}: {a}" for a in attrs], fontsize=6.5)
    for i in range(1, len(attrs)):
        ax.axhline(i * top - 0.5, color="white", lw=0.5)
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, shrink=0.6, label="Kendall τ")
    fig.tight_layout()
    return fig


def drop_vs_importance(by_attribute: pd.DataFrame, importance: pd.DataFrame, k: int | None = None):
    """Human importance (τ-b) of each attribute against its mask's extra drop at k."""
    from emostat.report.text import extra_drop

    plt = _plt()
    k = headline_k(by_attribute["k"]) if k is None else k
    d = by_attribute[by_attribute["k"] == k]
    drop = (100 * extra_drop(d)).set_axis(d["attribute"])
    imp = importance.set_index("attribute")["estimate"].reindex(drop.index)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 3.2))
    colors = [GROUP_COLORS[attribute_group(a)] for a in drop.index]
    ax.scatter(imp, drop, s=30, color=colors, zorder=3)
    for a, xv, yv in zip(drop.index, imp, drop):
        ax.annotate(a, (xv, yv), xytext=(3, 2), textcoords="offset points", fontsize=6.5)
    ok = np.isfinite(imp.to_numpy(float)) & np.isfinite(drop.to_numpy(float))
    if ok.sum() > 2:
        b1, b0 = np.polyfit(imp.to_numpy(float)[ok], drop.to_numpy(float)[ok], 1)
        xs = np.linspace(np.nanmin(imp), np.nanmax(imp), 2)
        ax.plot(xs, b0 + b1 * xs, color="black", lw=0.8)
    ax.axhline(0, color="black", lw=0.5, ls=":")
    ax.set_xlabel("human importance (Kendall τ-b)")
    ax.set_ylabel(f"extra drop at k = {k:,} (points)")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c) for c in GROUP_COLORS.values()]
    ax.legend(handles, list(GROUP_COLORS), loc="best")
    fig.tight_layout()
    return fig
