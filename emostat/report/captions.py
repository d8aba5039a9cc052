"""Figure captions built from what each figure shows (its k values, units, counts).

Each function takes the table(s) the figure is drawn from and returns the caption text (no
"Figure n." prefix: the renderer numbers figures). Used as the caption paragraph of a Quarto
figure div (``::: {#fig-x}``), so Quarto and the offline renderer print the same words.
"""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt
from emostat.report.view import has_intervals, headline_k


def k_label(k) -> str:
    return fmt.fmt_num(k, 0, big_mark=",")


def ks_of(df: pd.DataFrame) -> list:
    return sorted(df["k"].unique()) if df is not None and "k" in df else []


def n_units(df: pd.DataFrame, col: str) -> int:
    return int(df[col].nunique()) if df is not None and col in df else 0


def masking_two_panel(by_emotion: pd.DataFrame, cells: pd.DataFrame | None = None,
                      k=None) -> str:
    k = headline_k(by_emotion["k"], k)
    n = n_units(by_emotion[by_emotion["k"] == k], "concept")
    bars = (f"; error bars: ±1 SE over the {n_units(cells, 'attribute')} attributes"
            if cells is not None and n_units(cells, "attribute") > 1 else "")
    return (f"The study's two-panel figure at k = {k_label(k)}, {n} concepts sorted by "
            f"unmanipulated accuracy. (A) Accuracy without manipulation (w/o), with random and with "
            f"attribute-specific masking{bars}. (B) Extra drop of the attribute-specific mask "
            f"over the random one (percentage points) with 95% CIs; * q < .05, ** q < .01, "
            f"*** q < .001 (study's rule). Grey: no manipulation; sky blue: random masks; "
            f"vermillion: attribute-specific masks.")


def attribute_drops(by_attribute: pd.DataFrame, k=None) -> str:
    ks = ks_of(by_attribute)
    kh = headline_k(ks, k)
    n_attr = n_units(by_attribute, "attribute")
    if len(ks) > 1:
        lines = (f"one line per k ({len(ks)} values, {k_label(ks[0])}–{k_label(ks[-1])}); the headline "
                 f"k = {k_label(kh)} with 95% CIs and the study's marks")
    else:
        lines = f"k = {k_label(kh)}, with 95% CIs and the study's marks"
    return (f"Extra drop of each attribute's mask over random masks (percentage points, mean "
            f"over concepts), {n_attr} attributes: {lines}.")


def importance_link(link: pd.DataFrame, by_emotion: pd.DataFrame | None = None) -> str:
    ks = ks_of(link)
    what = (f"at each of {len(ks)} values of k" if len(ks) > 1 else f"at k = {k_label(ks[0])}")
    shown = by_emotion[by_emotion["estimate"].notna()] if by_emotion is not None else None
    dots = (f"; dots: the {n_units(shown, 'concept')} single concepts' r"
            if shown is not None and len(shown) else "")
    return (f"Link to human importance: mean r (Fisher-z averaged over concepts) between the "
            f"extra drop and the attribute's human importance {what}, with 95% CIs{dots}.")


def random_null(null: pd.DataFrame, task: str | None = None, k=None) -> str:
    k = headline_k(null["k"], k)
    d = null[null["k"] == k]
    if task is not None and "task" in d:
        d = d[d["task"] == task]
    n_draws = int(d.groupby(d["attribute"].fillna(""))["draw"].nunique().max()) \
        if "draw" in d and len(d) else 0
    t = f", {task} task" if task else ""
    how = "histogram of one value per draw" if n_draws >= 20 else "one dot per draw"
    return (f"Accuracy drop against no manipulation under {n_draws} random masks ({how}) and "
            f"under each attribute's mask (vermillion line), at k = {k_label(k)}{t}; p: the test "
            f"of the attribute mask against the random ones.")


def baseline(base: pd.DataFrame) -> str:
    tasks = list(dict.fromkeys(base["task"]))
    n = int(base["n"].median()) if "n" in base else None
    items = (f", {n} item{'s' if n != 1 else ''} per concept"
             + (" (median)" if base["n"].nunique() > 1 else "")) if n else ""
    return (f"Unmanipulated accuracy per concept ({len(tasks)} task{'s' if len(tasks) > 1 else ''}"
            f": {', '.join(tasks)}{items}); concepts in the order of the run's human_means table.")


def layer_distribution(dist: pd.DataFrame, k=None) -> str:
    k = headline_k(dist["k"], k)
    n_layers = n_units(dist, "layer")
    return (f"Where the top-{k_label(k)} neurons of each attribute sit: share per layer "
            f"({n_layers} layers).")


def emotion_space(human_rdm: pd.DataFrame) -> str:
    n = len(set(human_rdm["concept_a"]) | set(human_rdm["concept_b"]))
    return (f"The human concept space: classical multidimensional scaling of the mean human "
            f"dissimilarity RDM ({n} concepts, first two dimensions) and the average-linkage "
            f"hierarchical clustering of the same RDM.")


def rank_heatmap(rsa: pd.DataFrame, top: int = 100) -> str:
    n_attr = n_units(rsa, "attribute")
    return (f"Attribute-specific neurons: for each of the {n_attr} attributes its {top} "
            f"best-ranked neurons (rows, in rank order, one block per attribute) and their "
            f"Kendall τ with every attribute RDM (columns); orange = positive, purple = negative.")


def drop_vs_importance(by_attribute: pd.DataFrame, k=None) -> str:
    k = headline_k(by_attribute["k"], k)
    n = n_units(by_attribute, "attribute")
    return (f"Human importance of each attribute against the extra drop its mask causes at "
            f"k = {k_label(k)} ({n} attributes, mean over concepts; line: least-squares fit).")


def groups_phrase(groups: dict | None) -> str:
    names = list(dict.fromkeys((groups or {}).values()))
    return (" Colour: the attribute's group (" + ", ".join(names) + ")." if names else "")


def importance_bars(imp: pd.DataFrame, groups: dict | None = None) -> str:
    cis = "with 95% CIs " if has_intervals(imp) else ""
    return (f"Attribute importance: Kendall τ-b between the mean human dissimilarity RDM and "
            f"each of the {n_units(imp, 'attribute')} attributes' RDMs, {cis}"
            f"(* p < .05, ** p < .01, *** p < .001, Mantel permutation)." + groups_phrase(groups))


def appraisal_loadings(loadings: pd.DataFrame) -> str:
    return (f"Appraisal questionnaire: varimax-rotated loadings of the {n_units(loadings, 'item')} "
            f"items on the {n_units(loadings, 'component')} principal components used as "
            f"appraisal attributes (item wording as in the survey, shortened); orange = "
            f"positive, purple = negative.")


def rdm_heatmaps(human_rdm: pd.DataFrame | None, attribute_rdms: pd.DataFrame | None) -> str:
    src = human_rdm if human_rdm is not None else attribute_rdms
    n = len(set(src["concept_a"]) | set(src["concept_b"]))
    parts = (["the mean human dissimilarity RDM (large, every concept labelled)"]
             if human_rdm is not None else [])
    if attribute_rdms is not None:
        m = n_units(attribute_rdms, "attribute")
        parts.append(f"the {m} attribute RDMs (small panels, same concept order)"
                     if human_rdm is not None or m > 4 else
                     f"the {m} attribute RDMs (same concept order; the space has no "
                     "similarity judgments, so no human dissimilarity RDM)")
    return (f"RDMs over the {n} concepts: " + " and ".join(parts)
            + ". Each panel has its own scale; dark = similar.")


def tau_distributions(rsa: pd.DataFrame) -> str:
    n = int(rsa.shape[0] / max(n_units(rsa, "attribute"), 1))
    return (f"Distribution of the neuron–attribute Kendall τ ({fmt.fmt_num(n, 0, big_mark=',')} "
            f"neurons per attribute, {n_units(rsa, 'attribute')} attributes); vermillion: "
            f"significant at the study's q < .01, grey: not significant.")


def neuron_counts(counts: pd.DataFrame, n_neurons: int | None = None) -> str:
    of = f" of {fmt.fmt_num(n_neurons, 0, big_mark=',')}" if n_neurons else ""
    return (f"Neurons{of} per attribute significant by the study's rule (vermillion) and by "
            f"Benjamini–Hochberg (orange), q < .01, and selective neurons (significant for "
            f"this attribute only; purple).")
