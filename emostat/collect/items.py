"""Items and concept prompts of a collection run (cheap, deterministic: built by the driver and
by every worker from the config alone)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from emostat.collect.config import CollectConfig, cached_space, run_space
from emostat.errors import InputError


def stimuli_api(space=None) -> SimpleNamespace:
    """Stimuli readers and concept prompts of ``space`` (default: the study's).

    ``read_stimuli(None)`` gives the space's own ``stimuli.csv``, ``read_stimuli(path)`` a
    situations file whose concepts must be the space's; ``concept_prompts`` places each
    concept's word in each of the space's concept templates.
    """
    from emostat.collect import stimuli

    space = space if space is not None else cached_space(None)
    concepts = list(space.concepts)

    def read(path=None):
        if path is not None:
            return stimuli.read_stimuli(path, concepts=concepts)
        if space.stimuli is None or not len(space.stimuli):
            raise InputError(f"space {space.name!r} has no stimuli.csv; give a situations "
                             f"file with the config field 'stimuli'")
        df = space.stimuli.rename(columns={"concept": "emotion"})
        return df.reset_index(drop=True)

    return SimpleNamespace(read_stimuli=read, read_goemotions=stimuli.read_goemotions,
                           balanced_binary=stimuli.balanced_binary,
                           multiclass_items=stimuli.multiclass_items,
                           concept_prompts=lambda mask_token=None: concept_prompts(
                               space, mask_token))


def concept_prompts(space, mask_token: str | None = None) -> pd.DataFrame:
    """Every concept's word in every concept template of ``space`` (``{word}`` slot).

    Returns ``concept, template, text, word, word_start, word_end`` (the word's character
    span in ``text``), concepts in the space's order, then templates. With ``mask_token``
    (MLM encoders read at the mask) the mask and a space come first, as in the study's layout.
    """
    templates = dict(space.templates.get("concept") or {})
    if not templates:
        raise InputError(f"space {space.name!r}: no concept templates ([templates.concept])")
    prefix = "" if mask_token is None else mask_token + " "
    rows = []
    for c in space.concepts:
        word = space.words[c]
        for tid, tpl in templates.items():
            head = prefix + tpl[:tpl.index("{word}")]
            rows.append({"concept": c, "template": tid, "text": prefix + tpl.replace("{word}", word),
                         "word": word, "word_start": len(head), "word_end": len(head) + len(word)})
    return pd.DataFrame(rows, columns=["concept", "template", "text", "word", "word_start",
                                       "word_end"])


def task_concepts(cfg: CollectConfig, space) -> list[str]:
    """Concepts whose tasks are run: config ``emotions`` (checked against the space by
    :func:`emostat.collect.config.validate_config`) or every concept of the space."""
    return list(cfg.emotions) if cfg.emotions else list(space.concepts)


def run_attributes(cfg: CollectConfig, space) -> list[str]:
    """Attributes whose top-k sets are ablated: config ``attributes`` or all of the space's."""
    return list(cfg.attributes) if cfg.attributes else list(space.attributes)


# ---------------------------------------------------------------------------------------------
# items and concept prompts (cheap, deterministic: built by the driver and by every worker)


def concept_prompt_table(cfg: CollectConfig, sapi=None, mask_token=None) -> pd.DataFrame:
    """Concept prompts of the run: columns ``concept``, ``template``, ``text``, ``word``.

    With ``position = "mask"`` the worker passes its tokenizer's ``mask_token`` (the study's
    layout puts the mask first and reads it).
    """
    sapi = sapi or stimuli_api(run_space(cfg))
    df = pd.DataFrame(sapi.concept_prompts() if mask_token is None
                      else sapi.concept_prompts(mask_token=mask_token))
    if "prompt" in df.columns and "text" not in df.columns:
        df = df.rename(columns={"prompt": "text"})
    if "word" not in df.columns:
        df["word"] = df["concept"]
    if cfg.templates is not None:
        unknown = sorted(set(cfg.templates) - set(df["template"]))
        if unknown:
            raise InputError(f"config field 'templates': unknown template(s) {unknown}; "
                             f"known: {sorted(set(df['template']))}")
        df = df[df["template"].isin(cfg.templates)]
    return df.reset_index(drop=True)


def template_names(prompts: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(prompts["template"]))


def stimuli_table(cfg: CollectConfig, sapi) -> pd.DataFrame:
    """The stimulus table (file order): ``id``, ``text``, ``emotion`` (situations) and/or
    ``labels`` (GoEmotions rows), capped at ``items_per_emotion`` situations per emotion."""
    parts = []
    if cfg.stimuli:
        df = sapi.read_stimuli(None if cfg.stimuli == "shipped" else cfg.stimuli)
        df = df.rename(columns={"stimulus_id": "id"})
        if cfg.items_per_emotion:
            df = df.groupby("emotion", sort=False, group_keys=False).head(cfg.items_per_emotion)
        parts.append(df.reset_index(drop=True))
    if cfg.goemotions:
        g = sapi.read_goemotions(cfg.goemotions)
        if cfg.max_goemotions:
            g = g.head(cfg.max_goemotions)
        parts.append(g)
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(df) == 0:
        raise InputError(f"config field 'stimuli': no stimuli in {cfg.stimuli!r}")
    return df


def id_column(df: pd.DataFrame) -> str:
    return "stimulus_id" if "stimulus_id" in df.columns else "id"


def build_items(cfg: CollectConfig, sapi=None) -> dict[str, pd.DataFrame]:
    """The items of every task, in a fixed order.

    Binary: per emotion, a balanced set (:func:`emostat.collect.stimuli.balanced_binary`:
    positives, then as many distinct rows without the emotion, or the study's draw with
    replacement from all rows when ``binary_draw = "study"``; the run's seed). Choice and generate: the single-label items
    (:func:`emostat.collect.stimuli.multiclass_items`) of the run's emotions. Each emotion's
    items are dealt into ``n_folds`` folds in order (item i -> fold i mod n_folds; for binary
    sets separately for the positive and the drawn part, so every fold is balanced). Items are
    also dealt into ``calibration_folds`` calibration folds for cross-fitted calibration
    (:mod:`emostat.collect.calibration`): binary, by position in the emotion's balanced set
    (positives first, so each fold holds both labels); choice/generate, by position in the task.

    Returns
    -------
    dict task -> DataFrame
        Columns ``item_id`` (unique within the task), ``stimulus_id``, ``emotion`` (binary: the
        emotion asked about; choice/generate: the item's emotion), ``fold``, ``text``,
        ``label`` (binary: "yes" | "no"; else the emotion), ``cal_fold``.
    """
    space = run_space(cfg)
    sapi = sapi or stimuli_api(space)
    stim = stimuli_table(cfg, sapi)
    wanted = task_concepts(cfg, space)
    out = {}
    if "binary" in cfg.tasks:
        rows = []
        for e in wanted:
            b = pd.DataFrame(sapi.balanced_binary(stim, e, cfg.seed, draw=cfg.binary_draw)
                             ).reset_index(drop=True)
            if not len(b):
                raise InputError(f"config field 'stimuli': no item of emotion {e!r} for its "
                                 f"binary task")
            lab = np.where(b["label"].astype(int).to_numpy() == 1, "yes", "no")
            part = (b["part"].astype(str).str[0].to_numpy() if "part" in b.columns
                    else np.where(lab == "yes", "p", "s"))
            idx = pd.Series(part).groupby(part).cumcount().to_numpy()
            rows.append(pd.DataFrame({
                "item_id": [f"{e}:{p}{i:04d}" for p, i in zip(part, idx)],
                "stimulus_id": b[id_column(b)].astype(str).to_numpy(),
                "emotion": e, "fold": idx % cfg.n_folds,
                "text": b["text"].to_numpy(), "label": lab,
                "cal_fold": np.arange(len(b)) % cfg.calibration_folds}))
        out["binary"] = pd.concat(rows, ignore_index=True)
    rest = [t for t in ("choice", "generate") if t in cfg.tasks]
    if rest:
        m = pd.DataFrame(sapi.multiclass_items(stim))
        m = m[m["emotion"].isin(wanted)].reset_index(drop=True)
        missing = sorted(set(wanted) - set(m["emotion"]))
        if missing:
            raise InputError(f"config field 'stimuli': no single-label item for emotion(s) "
                             f"{missing}")
        idx = m.groupby("emotion", sort=False).cumcount().to_numpy()
        ids = m[id_column(m)].astype(str).to_numpy()
        for task in rest:
            out[task] = pd.DataFrame({
                "item_id": ids, "stimulus_id": ids, "emotion": m["emotion"].to_numpy(),
                "fold": idx % cfg.n_folds, "text": m["text"].to_numpy(),
                "label": m["emotion"].to_numpy(),
                "cal_fold": np.arange(len(m)) % cfg.calibration_folds})
    for task, df in out.items():
        if df["item_id"].duplicated().any():
            dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
            raise InputError(f"stimuli: duplicate item id {dup!r} in task {task!r}")
    return out



# ---------------------------------------------------------------------------------------------
# task prompts from the space's templates


def situation(text: str) -> str:
    """A situation on one line (runs of whitespace become one space)."""
    text = " ".join(str(text).split())
    if not text:
        raise InputError("task prompt: empty situation text")
    return text


def task_prompts(space, kind: str = "causal", mask: str | None = None,
                 choice_prompt: str = "short") -> dict[str, tuple]:
    """Task name -> (prompt callable, extra scoring arguments) from the space's templates.

    Binary prompts are called with ``(text, emotion)`` where ``emotion`` is the concept's word;
    choice prompts with ``(text, choices)``; generate prompts with ``(text)``. ``kind`` is
    the model's (``causal`` | ``mlm``; MLM templates take ``{mask}``). The short choice prompt
    is a completion prompt and is never chat-wrapped.
    """
    t = space.templates
    words = [space.words[c] for c in space.concepts]

    def need(key):
        if key not in t:
            raise InputError(f"space {space.name!r}: no '{key}' template in [templates]")
        return t[key]

    if kind == "mlm":
        b, ch = need("binary_mlm"), need("choice_mlm")
        return {"binary": (lambda text, emotion: b.format(text=situation(text), word=emotion,
                                                          mask=mask), {"verbalizer": ("no", "yes")}),
                "choice": (lambda text, choices: ch.format(text=situation(text), mask=mask), {})}
    b, g = need("binary"), need("generate")
    if choice_prompt == "short":
        c = need("choice")
        choice = (lambda text, choices: c.format(text=situation(text)), {"chat": False})
    else:
        c = need("choice_options")
        choice = (lambda text, choices: c.format(text=situation(text),
                                                 options=", ".join(words)), {})
    return {"binary": (lambda text, emotion: b.format(text=situation(text), word=emotion), {}),
            "choice": choice,
            "generate": (lambda text: g.format(text=situation(text)), {})}
