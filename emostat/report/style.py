"""The figures' style and the helpers they share (bottom of the figure modules).

One publication style for all (:func:`use_style`): matplotlib, 9-pt sans-serif, no top/right
spines, 200 dpi, the Okabe–Ito colour-blind-safe palette. One colour convention in every
figure: vermillion = the attribute-specific (or significant) value, sky blue = random masks,
grey = no manipulation / not significant; diverging heat maps use PuOr_r (orange = positive,
purple = negative), sequential ones viridis (dark = low).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
DIVERGING = "PuOr_r"     # orange = positive, in every diverging heat map
GROUP_PALETTE = [OKABE_ITO[c] for c in ("orange", "blue", "green", "purple", "black")]
DPI = 200
WIDTH = 6.5  # inches: the text width of a letter/A4 page with 1-inch margins


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


def group_colors(groups: dict) -> dict:
    """group name → colour, for an attribute → group mapping (in order of appearance)."""
    names = list(dict.fromkeys(groups.values()))
    return {g: GROUP_PALETTE[i % len(GROUP_PALETTE)] for i, g in enumerate(names)}


def group_color(attribute: str, groups: dict | None) -> str:
    """The colour of an attribute's group; one neutral colour when groups are not known."""
    if not groups or attribute not in groups:
        return OKABE_ITO["grey"]
    return group_colors(groups)[groups[attribute]]


def group_legend(ax, groups: dict | None, marker: bool = False, loc: str = "best") -> None:
    """A legend of the attribute groups (none when the groups are not known)."""
    if not groups:
        return
    plt = pyplot()
    cols = group_colors(groups)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c) if marker else
               plt.Rectangle((0, 0), 1, 1, color=c) for c in cols.values()]
    ax.legend(handles, list(cols), loc=loc)


def pyplot():
    import matplotlib.pyplot as plt  # imported late: the kernel picks its own backend first

    return plt


def ci95(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided 95% t interval from estimate, std_error, df (z when df is missing)."""
    from scipy.special import ndtri, stdtrit  # scipy.stats takes seconds to import

    dfree = df["df"].to_numpy(float) if "df" in df else np.full(len(df), np.nan)
    ok = np.isfinite(dfree)
    crit = np.where(ok, stdtrit(np.where(ok, dfree, 1), 0.975), ndtri(0.975))
    est, se = df["estimate"].to_numpy(float), df["std_error"].to_numpy(float)
    return est - crit * se, est + crit * se


def bar_offsets(n: int, span: float = 0.8) -> tuple[np.ndarray, float]:
    """x offsets and width of ``n`` side-by-side bars sharing a slot of width ``span``."""
    w = span / n
    return (np.arange(n) - (n - 1) / 2) * w, w


def grouped_bars(ax, long: pd.DataFrame, group: str, cat: str, cats: list, value: str):
    """Side-by-side bars of ``100 * value`` per category, one colour per ``group`` level (in
    order of appearance); returns the category positions."""
    groups = list(dict.fromkeys(long[group]))
    x = np.arange(len(cats))
    off, w = bar_offsets(len(groups))
    for j, g in enumerate(groups):
        d = long[long[group] == g].set_index(cat).reindex(cats)
        ax.bar(x + off[j], 100 * d[value], width=w, color=PALETTE[j % len(PALETTE)], label=g)
    return x


def stars(q) -> str:
    """Significance marks for a q- or p-value: * < .05, ** < .01, *** < .001."""
    if q is None or not np.isfinite(q):
        return ""
    return "***" if q < .001 else "**" if q < .01 else "*" if q < .05 else ""
