"""Figure captions built from what each figure shows (its k values, units, counts).

Each function takes the table(s) the figure is drawn from and returns the caption text (no
"Figure n." prefix: the renderer numbers figures). Used as the caption paragraph of a Quarto
figure div (``::: {#fig-x}``), so Quarto and the offline renderer print the same words.
"""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt
from emostat.report.figures import headline_k


def _k(k) -> str:
    return fmt.fmt_num(k, 0, big_mark=",")


def _ks(df: pd.DataFrame) -> list:
    return sorted(df["k"].unique()) if df is not None and "k" in df else []


def _n_units(df: pd.DataFrame, col: str) -> int:
    return int(df[col].nunique()) if df is not None and col in df else 0


def masking_two_panel(by_emotion: pd.DataFrame, cells: pd.DataFrame | None = None) -> str:
    k = headline_k(by_emotion["k"])
    n = _n_units(by_emotion[by_emotion["k"] == k], "emotion")
    bars = (f"; error bars: ±1 SE over the {_n_units(cells, 'attribute')} attributes"
            if cells is not None and _n_units(cells, "attribute") > 1 else "")
    return (f"The study's two-panel figure at k = {_k(k)}, {n} emotions sorted by unmanipulated "
            f"accuracy. (A) Accuracy without manipulation (w/o), with random and with "
            f"attribute-specific masking{bars}. (B) Extra drop of the attribute-specific mask "
            f"over the random one (percentage points) with 95% CIs; * q < .05, ** q < .01, "
            f"*** q < .001 (study's rule).")


def attribute_drops(by_attribute: pd.DataFrame) -> str:
    ks = _ks(by_attribute)
    kh = headline_k(ks)
    n_attr = _n_units(by_attribute, "attribute")
    if len(ks) > 1:
        lines = (f"one line per k ({len(ks)} values, {_k(ks[0])}–{_k(ks[-1])}); the headline "
                 f"k = {_k(kh)} with 95% CIs and the study's marks")
    else:
        lines = f"k = {_k(kh)}, with 95% CIs and the study's marks"
    return (f"Extra drop of each attribute's mask over random masks (percentage points, mean "
            f"over emotions), {n_attr} attributes: {lines}.")


def importance_link(link: pd.DataFrame, by_emotion: pd.DataFrame | None = None) -> str:
    ks = _ks(link)
    what = (f"at each of {len(ks)} values of k" if len(ks) > 1 else f"at k = {_k(ks[0])}")
    shown = by_emotion[by_emotion["estimate"].notna()] if by_emotion is not None else None
    dots = (f"; dots: the {_n_units(shown, 'emotion')} single emotions' r"
            if shown is not None and len(shown) else "")
    return (f"Link to human importance: mean r (Fisher-z averaged over emotions) between the "
            f"extra drop and the attribute's human importance {what}, with 95% CIs{dots}.")


def random_null(null: pd.DataFrame, task: str | None = None) -> str:
    k = headline_k(null["k"])
    d = null[null["k"] == k]
    if task is not None and "task" in d:
        d = d[d["task"] == task]
    n_draws = int(d.groupby(d["attribute"].fillna(""))["draw"].nunique().max()) \
        if "draw" in d and len(d) else 0
    t = f", {task} task" if task else ""
    how = "histogram of one value per draw" if n_draws >= 20 else "one dot per draw"
    return (f"Accuracy drop against no manipulation under {n_draws} random masks ({how}) and "
            f"under each attribute's mask (red line), at k = {_k(k)}{t}; p: the test of the "
            f"attribute mask against the random ones.")


def baseline(base: pd.DataFrame) -> str:
    tasks = list(dict.fromkeys(base["task"]))
    n = int(base["n"].median()) if "n" in base else None
    items = (f", {n} item{'s' if n != 1 else ''} per emotion"
             + (" (median)" if base["n"].nunique() > 1 else "")) if n else ""
    return (f"Unmanipulated accuracy per emotion ({len(tasks)} task{'s' if len(tasks) > 1 else ''}"
            f": {', '.join(tasks)}{items}); emotions in the study's order.")


def layer_distribution(dist: pd.DataFrame) -> str:
    k = headline_k(dist["k"])
    n_layers = _n_units(dist, "layer")
    return (f"Where the top-{_k(k)} neurons of each attribute sit: share per layer "
            f"({n_layers} layers).")


def emotion_space(human_rdm: pd.DataFrame) -> str:
    n = len(set(human_rdm["emotion_a"]) | set(human_rdm["emotion_b"]))
    return (f"The human emotion space: classical multidimensional scaling of the mean human "
            f"dissimilarity RDM ({n} emotions, first two dimensions) and the average-linkage "
            f"hierarchical clustering of the same RDM.")


def rank_heatmap(rsa: pd.DataFrame, top: int = 100) -> str:
    n_attr = _n_units(rsa, "attribute")
    return (f"Attribute-specific neurons: for each of the {n_attr} attributes its {top} "
            f"best-ranked neurons (rows, in rank order, one block per attribute) and their "
            f"Kendall τ with every attribute RDM (columns); orange = positive.")


def drop_vs_importance(by_attribute: pd.DataFrame) -> str:
    k = headline_k(by_attribute["k"])
    n = _n_units(by_attribute, "attribute")
    return (f"Human importance of each attribute against the extra drop its mask causes at "
            f"k = {_k(k)} ({n} attributes, mean over emotions; line: least-squares fit).")
