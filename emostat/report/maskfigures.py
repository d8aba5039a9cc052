"""Report figures of the manipulation (masking) and of experiment runs: one function per
figure, each taking results DataFrames and returning a Figure (style:
:mod:`emostat.report.style`; the extra drop is the tables' ``estimate``, docs/inference.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.format import fmt_p
from emostat.report.labels import place_labels
from emostat.report.style import (CONDITION_COLORS, OKABE_ITO, PALETTE, WIDTH, bar_offsets,
                                  ci95, group_color, group_legend, grouped_bars, pyplot, stars)
from emostat.report.view import extra_drop, headline_k, order, primary_task

K_COLORS = [OKABE_ITO[c] for c in ("blue", "orange", "green", "purple", "skyblue",
                                    "black", "grey")]


def masking_two_panel(by_emotion: pd.DataFrame, k: int | None = None, q_col: str = "q_value",
                      concepts=None, cells: pd.DataFrame | None = None):
    """The study's two-panel figure at top-k: (A) accuracy per concept without manipulation,
    with random and with attribute-specific masking (error bars ±1 SE over attributes when
    ``cells`` is given); (B) the extra drop of the attribute mask over the random one (points)
    per concept with 95% CIs and marks for ``q_col`` < .05/.01/.001.

    Concepts are sorted by unmanipulated accuracy (as in the study) unless ``concepts`` is given;
    panel A's axis starts near the lowest accuracy, not at 0.
    """
    plt = pyplot()
    k = headline_k(by_emotion["k"]) if k is None else k
    d = by_emotion[by_emotion["k"] == k].copy()
    d["drop"] = 100 * extra_drop(d)
    a, b = ci95(d)     # two-sided 95% t interval from the SE (the tests are one-sided)
    a, b = 100 * a, 100 * b
    d["drop_lo"], d["drop_hi"] = a, b
    d = d.set_index("concept")
    sort_col = "acc_none" if "acc_none" in d else "drop"
    d = d.loc[concepts] if concepts is not None else d.sort_values(sort_col, ascending=False)
    se = {}
    if cells is not None:
        c = cells[cells["k"] == k]
        for col in ("acc_random", "acc_attribute"):
            if col in c:
                g = c.groupby("concept")[col]
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


def attribute_drops(by_attribute: pd.DataFrame, q_col: str = "q_value", k: int | None = None):
    """Extra drop of each attribute's mask over random masks (points), one line per k (thick,
    Okabe–Ito colours without yellow), the headline k with 95% CIs and the study's marks."""
    plt = pyplot()
    ks = sorted(by_attribute["k"].unique())
    kh = headline_k(ks) if k is None else k
    attrs = order(by_attribute["attribute"])
    fig, ax = plt.subplots(figsize=(WIDTH, 3.3))
    x = np.arange(len(attrs))
    others = [k for k in ks if k != kh]
    for i, k in enumerate(others):
        d = by_attribute[by_attribute["k"] == k]
        drop = (100 * extra_drop(d)).set_axis(d["attribute"]).reindex(attrs)
        ax.plot(x, drop, color=K_COLORS[i % len(K_COLORS)], lw=1.6, alpha=0.9,
                marker="o", ms=3.5, label=f"k = {k:,}")
    d = by_attribute[by_attribute["k"] == kh].set_index("attribute").reindex(attrs)
    lo, hi = ci95(d.reset_index())
    drop = 100 * extra_drop(d).to_numpy()
    lo, hi = 100 * lo, 100 * hi
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
    """Mean r (Fisher-z averaged over concepts) between accuracy drop and human attribute
    importance at each k, with 95% CIs; dots are the single concepts' r when given.

    Columns used: link k, estimate, conf_low, conf_high; by_emotion k, estimate.
    """
    plt = pyplot()
    d = link.sort_values("k")
    if "test" in d:   # long form: the mean r over concepts sits in the study_t rows
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


def baseline_accuracy(baseline: pd.DataFrame, concepts=(), labels=None):
    """Unmanipulated accuracy per concept, one colour per task; concepts labelled by
    ``labels`` (id -> word) or id.

    Columns used: task, concept, estimate.
    """
    plt = pyplot()
    tasks = list(dict.fromkeys(baseline["task"]))
    emos = order(baseline["concept"], concepts)
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8))
    x = grouped_bars(ax, baseline, "task", "concept", emos, "estimate")
    ax.set_xticks(x, [(labels or {}).get(e, e) for e in emos], rotation=60, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(ncol=len(tasks), loc="lower right", bbox_to_anchor=(1, 1.0))
    fig.tight_layout()
    return fig


def random_null(null: pd.DataFrame, observed: pd.DataFrame, k: int | None = None,
                task: str | None = None, skip=()):
    """Per attribute: the distribution of the drop under random-neuron draws (histogram) and
    the attribute-specific value (vertical line), at one k and task.

    Columns used: null task, attribute, k, drop; observed task, attribute, k, estimate,
    p_value_perm.
    """
    plt = pyplot()
    k = headline_k(null["k"]) if k is None else k
    if task is None and "task" in null:
        task = primary_task(null, skip)
    sel = (null["k"] == k) & ((null["task"] == task) if "task" in null else True)
    osel = (observed["k"] == k) & ((observed["task"] == task) if "task" in observed else True)
    n, o = null[sel], observed[osel].set_index("attribute")
    attrs = order(o.index)
    ncol = min(5, max(len(attrs), 1))
    nrow = int(np.ceil(len(attrs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 1.6 * nrow + 0.6), squeeze=False)
    for ax in axes.flat[len(attrs):]:
        ax.set_visible(False)
    for ax, a in zip(axes.flat, attrs):
        # random draws shared by all attributes are stored once, attribute null
        v = 100 * n.loc[(n["attribute"] == a) | n["attribute"].isna(), "drop"
                        ].to_numpy(float)
        hist = len(v) >= 20
        if hist:
            counts, edges = np.histogram(v, bins=20)
            ax.stairs(counts, edges, fill=True, color=OKABE_ITO["skyblue"])
            ax.set_ylim(0, counts.max() * 1.1)
            ax.yaxis.get_major_locator().set_params(integer=True, nbins=3)
        else:   # a few draws: one dot each (a histogram of 3 values is 3 spikes), no y scale
            ax.scatter(v, np.full(len(v), 0.5), s=18, color=OKABE_ITO["skyblue"], zorder=2)
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
        title = a
        if a in o.index:
            # the contract's estimate is the extra drop over the random masks' mean
            drop = o.loc[a, "estimate"] + o.loc[a, "null_mean"]
            ax.axvline(100 * drop, color=OKABE_ITO["vermillion"], lw=1.4)
            if "p_value" in o and pd.notna(o.loc[a, "p_value"]):   # in the title, off the bars
                title = f"{a}\n{fmt_p(o.loc[a, 'p_value'])}"
        ax.set_title(title, fontsize=7.5, loc="center", fontweight="normal")
        ax.tick_params(labelsize=7)
    fig.supxlabel("accuracy drop vs no manipulation (points)", fontsize=8)
    if len(n) and any(ax.get_yticks().size for ax in axes.flat[:len(attrs)]):
        fig.supylabel("random masks", fontsize=8)
    fig.tight_layout(pad=0.4, w_pad=0.4, h_pad=0.5)
    return fig


def model_comparison(by_attribute: dict[str, pd.DataFrame], ks: dict | None = None):
    """Several runs side by side: extra drop of each attribute's mask over random masks at
    each run's headline k, 95% CIs. ``by_attribute`` maps run label → table."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    labels = list(by_attribute)
    attrs = order(pd.concat(by_attribute.values())["attribute"])
    x = np.arange(len(attrs))
    off, _ = bar_offsets(len(labels))
    for i, lab in enumerate(labels):
        t = by_attribute[lab]
        d = t[t["k"] == headline_k(t["k"], (ks or {}).get(lab))].set_index("attribute").reindex(attrs)
        lo, hi = ci95(d.reset_index())
        drop = 100 * extra_drop(d).to_numpy()
        lo, hi = 100 * lo, 100 * hi
        ax.errorbar(x + off[i], drop, yerr=[drop - lo, hi - drop],
                    fmt="o", ms=4, color=PALETTE[i % len(PALETTE)], elinewidth=0.8,
                    capsize=1.5, label=lab)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, attrs, rotation=40, ha="right")
    ax.set_ylabel("extra drop vs random (points)")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(labels), 4))
    fig.tight_layout()
    return fig


def drop_vs_importance(by_attribute: pd.DataFrame, importance: pd.DataFrame, k: int | None = None,
                       groups: dict | None = None):
    """Human importance (τ-b) of each attribute against its mask's extra drop at k."""
    plt = pyplot()
    k = headline_k(by_attribute["k"]) if k is None else k
    d = by_attribute[by_attribute["k"] == k]
    drop = (100 * extra_drop(d)).set_axis(d["attribute"])
    imp = importance.set_index("attribute")["estimate"].reindex(drop.index)
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 3.2))
    colors = [group_color(a, groups) for a in drop.index]
    ax.scatter(imp, drop, s=30, color=colors, zorder=3)
    ok = np.isfinite(imp.to_numpy(float)) & np.isfinite(drop.to_numpy(float))
    if ok.sum() > 2:
        b1, b0 = np.polyfit(imp.to_numpy(float)[ok], drop.to_numpy(float)[ok], 1)
        xs = np.linspace(np.nanmin(imp), np.nanmax(imp), 2)
        ax.plot(xs, b0 + b1 * xs, color="black", lw=0.8)
    ax.axhline(0, color="black", lw=0.5, ls=":")
    ax.set_xlabel("human importance (Kendall τ-b)")
    ax.set_ylabel(f"extra drop at k = {k:,} (points)")
    group_legend(ax, groups, marker=True)
    ax.margins(0.12)                                  # room for the labels inside the axes
    fig.tight_layout()
    # labels placed once the axes are final: none over another or over a marker
    xy = np.column_stack([imp.to_numpy(float), drop.to_numpy(float)])[ok]
    place_labels(ax, xy, [str(a) for a in drop.index[ok]], fontsize=6.5, marker_size=30)
    return fig
