"""The masking models of the study and of record on prompt-level accuracy (LMMs fitted by
:func:`emostat.analysis.engines.mixed.fit_mixed`)."""

from __future__ import annotations

import pandas as pd

from emostat.analysis.engines.mixed import CONTRAST, fit_mixed
from emostat.errors import InputError

__all__ = ["masking_mixed_model", "STUDY_FORMULA", "RECORD_FORMULA", "RECORD_SHARED_FORMULA"]

STUDY_FORMULA = f"accuracy ~ {CONTRAST} + (1 | concept/prompt)"
RECORD_FORMULA = (f"accuracy ~ {CONTRAST} + (1 | concept) + (1 | concept:prompt) + "
                  f"(1 + {CONTRAST} | attribute)")
MODELS = {"study": (STUDY_FORMULA, "study"), "record": (RECORD_FORMULA, "record")}


# separate variances for attribute and random masks (as the item models; the release's
# (1 + contrast | attribute) already has one per kind)
RECORD_SHARED_FORMULA = (f"accuracy ~ {CONTRAST} + (1 | concept) + (1 | concept:prompt) + "
                         "(0 + is_attribute | mask) + (0 + is_random | mask)")


def _mask_cells(sub: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """One row per prompt × mask (random draws paired with an attribute averaged per cell);
    and whether the random masks are shared by all attributes (collected runs)."""
    from emostat.analysis.masking.drops import mask_rows

    rows, shared = mask_rows(sub)
    keys = ["concept", "template", "mask", "condition"] if shared else \
        ["concept", "template", "attribute", "condition"]
    cells = rows.groupby(keys, observed=True, dropna=False)["accuracy"].mean().reset_index()
    cells["prompt"] = cells["template"].astype(str)
    cells["concept"] = cells["concept"].astype(str)
    cells[CONTRAST] = (cells["condition"] == "random").astype(float)
    cells["is_random"] = cells[CONTRAST]
    cells["is_attribute"] = 1.0 - cells[CONTRAST]
    return cells, shared


def masking_mixed_model(accuracy: pd.DataFrame, ks=None, models=("study", "record"),
                        diagnostics: bool = False) -> tuple[pd.DataFrame, ...]:
    """Prompt-level LMMs of attribute-specific vs random masking, per k: study and record.

    - ``study``: ``accuracy ~ attribute_vs_random + (1 | concept/prompt)`` (the study's model;
      role ``study``). Its only units are prompts, so every mask counts as many replicates.
    - ``record``: ``accuracy ~ attribute_vs_random + (1 | concept) + (1 | concept:prompt) +
      (1 + attribute_vs_random | attribute)``: the mask (attribute set and its random set) is a
      unit, so the contrast is judged against the variation between masks (role ``record``).

    ``attribute_vs_random`` is 1 for the random mask and 0 for the attribute mask, so its
    estimate is accuracy(random) − accuracy(attribute): positive = attribute masks lower
    accuracy more (docs/inference.md). Satterthwaite df (mixedlm, checked against lmerTest).
    Random draws paired with one attribute are averaged per cell (the release has one). When
    the random masks are shared by all attributes (collected runs), each appears once (old
    runs' per-attribute copies de-duplicated on ``condition_id``) and the record model is
    ``accuracy ~ attribute_vs_random + (1 | concept) + (1 | concept:prompt) +
    (0 + is_attribute | mask) + (0 + is_random | mask)`` (mask = ``condition_id``; a
    variance per kind of mask, as in the release's model, where the attribute and random
    masks of a pair have a 2 x 2 covariance). Item-level models: :func:`emostat.analysis.masking.experiment.
    item_models`.

    Parameters
    ----------
    accuracy : pandas.DataFrame
        Dataset ``accuracy`` (concept, template, condition, attribute, k, accuracy).
    ks : iterable of int, optional
        Default: every k with attribute rows.
    models : tuple of str
        Which of "study", "record".

    Returns
    -------
    tidy : pandas.DataFrame
        Schema ``masking_mixed_model``: k, model, formula, family, outcome, role, unit, then
        :meth:`MixedFit.tidy` columns.
    glance : pandas.DataFrame
        Schema ``masking_mixed_glance``: one row per k × model (with the groups, R² and ICC of
        :func:`emostat.analysis.engines.mixedreport.effect_sizes`).
    qq : pandas.DataFrame
        Only with ``diagnostics=True``: schema ``mixed_model_qq``, the QQ points of every fit
        (:func:`emostat.analysis.engines.mixedreport.qq_data`) keyed by k and model.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = [(e, str(t), c, a, 100, 0.8 - 0.05 * (c == "attribute") + rng.normal(0, .03))
    ...         for e in ["anger", "joy", "fear", "sadness"] for t in range(3)
    ...         for a in ["valence", "arousal", "happy", "anger"]
    ...         for c in ["attribute", "random"]]
    >>> acc = pd.DataFrame(rows, columns=["concept", "template", "condition", "attribute",
    ...                                   "k", "accuracy"])
    >>> tidy, glance = masking_mixed_model(acc, models=("study",))
    >>> row = tidy[tidy["term"] == "attribute_vs_random"].iloc[0]
    >>> bool(0.03 < row["estimate"] < 0.07), row["p_method"], row["role"]
    (True, 'Satterthwaite t, two-sided', 'study')
    """
    need = ["concept", "template", "condition", "attribute", "k", "accuracy"]
    missing = [c for c in need if c not in accuracy.columns]
    if missing:
        raise InputError(f"masking_mixed_model: accuracy table lacks column(s) {missing}")
    acc = accuracy[accuracy["condition"].isin(["attribute", "random"])]
    if ks is None:
        ks = sorted(acc.loc[acc["condition"] == "attribute", "k"].dropna().unique())
    tidies, glances, qqs = [], [], []
    for k in ks:
        sub = acc[acc["k"] == k]
        have = set(sub["condition"])
        if have != {"attribute", "random"}:
            raise InputError(f"masking_mixed_model: k = {k} needs both attribute and random "
                             f"rows (has {sorted(have)})")
        cells, shared = _mask_cells(sub)
        n_prompt = cells[["concept", "prompt"]].drop_duplicates().shape[0]
        for name in models:
            formula, role = MODELS[name]
            if name == "record" and shared:
                formula = RECORD_SHARED_FORMULA
                unit = f"mask ({cells['mask'].nunique()})"
            elif name == "record":
                unit = f"mask ({cells['attribute'].nunique()} attribute/random pairs)"
            else:
                unit = f"prompt ({n_prompt})"
            fit = fit_mixed(cells, formula)
            key = dict(k=int(k), model=name, formula=formula, family="gaussian",
                       outcome="accuracy", role=role, unit=unit)
            t = fit.tidy()
            for i, (c, v) in enumerate(key.items()):
                t.insert(i, c, v)
            tidies.append(t)
            g = fit.glance()
            for i, (c, v) in enumerate(key.items()):
                g.insert(i, c, v)
            glances.append(g)
            if diagnostics:
                qqs.append(fit.qq().assign(k=int(k), model=name))
    if not tidies:
        raise InputError("masking_mixed_model: no k with attribute-specific rows")
    out = (pd.concat(tidies, ignore_index=True), pd.concat(glances, ignore_index=True))
    if diagnostics:
        qq = pd.concat(qqs, ignore_index=True)
        out += (qq[["k", "model"] + [c for c in qq.columns if c not in ("k", "model")]],)
    return out
