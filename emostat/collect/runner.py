"""``emostat collect``: concept activations, condition sets, inference under ablation → Parquet.

Stages, each resumable (see :mod:`emostat.collect.shards`):

a. **activations** — for every concept template, the FFN neuron vector of each of the 27 emotion
   concepts → ``<out>/activations/part-t###.parquet`` (schema ``activations``: one row per
   concept × template × layer, float32 values, zstd). With ``representation = "prompt_tuning"``
   the templates are prompt-tuning seeds (``seed<s>``) and the binary task is scored with the
   trained soft prompts: :mod:`emostat.collect.prompt_mode`.
b. **conditions** — searchlight RSA of those activations against the human attribute RDMs
   (``data/human/``), attribute top-k sets and seeded random sets → ``<out>/conditions.parquet``
   (one row per condition, with its neuron list) and ``<out>/neuron_means.parquet`` (the mean of
   each neuron over the concept prompts, used by mean ablation).
c. **inference** — every task item under every condition → ``<out>/inference/part-*.parquet``
   (schema ``inference``: one row per item × condition × task), in three steps:

   1. the unmanipulated condition ("none") first → ``<out>/baseline/part-<task>-i####-none``
      (raw scores, raw decisions);
   2. calibration offsets from those rows only → ``<out>/calibration.parquet``
      (:mod:`emostat.collect.calibration`: per task, emotion and calibration fold, cross-fitted:
      an item's offsets are fitted on the items of the other folds; contextual calibration
      after Zhao et al. 2021);
   3. every other condition, decided with the SAME offsets, and the "none" rows re-decided with
      them (no forward pass: from the baseline files) → ``<out>/inference/``.

   ``logprobs`` keeps the raw scores; ``prediction``/``correct`` are the calibrated decisions
   (raw ones when ``calibrate = false``), ``prediction_raw``/``correct_raw`` the raw ones;
   ``margin``/``margin_raw`` the continuous outcome (right answer's score minus the best other,
   calibrated / raw) and ``cal_fold`` the item's calibration fold.
d. **accuracy** — ``<out>/accuracy.parquet`` (schema ``accuracy``), the prompt-level table the
   masking statistics read. A "prompt" here is (task, fold): the items of each emotion's task are
   cut into ``n_folds`` fixed folds (``template`` = ``"<task>/fold<f>"``); binary-task accuracy
   is over the emotion's balanced yes/no set, choice/generate accuracy is the recall of the
   emotion's own items. Shared random draws (``attribute`` null in the inference table) appear
   once per attribute here, so every attribute row has its paired random rows.
e. **manifest** — ``<out>/manifest.json``: model identity and weight hash, dtype, site, templates,
   seeds, config, package versions, time; the same record is embedded in every Parquet file.
   Its ``files`` entry gives the rows and SHA-256 of every Parquet file of the run; ``analyse``
   checks the folder against it (:mod:`emostat.integrity`).

A run's identity is its fingerprint, kept in ``<out>/plan.json``: the config with the model path
replaced by the SHA-256 of its weights (:func:`run_fingerprint`). Nothing is written to ``out``
until the model has loaded and passed its checks. Rerunning with the same config and weights
resumes (or does nothing when finished); another config in the same folder is an error.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa

from emostat import io
from emostat.collect import shards as sh
from emostat.collect.conditions import ConditionSet, build_conditions
from emostat.collect.config import CollectConfig, load_config
from emostat.constants import ANALYSIS_ORDER, EMOTIONS
from emostat.errors import InputError

KILL_ENV = "EMOSTAT_TEST_KILL_ONCE"  # test hook: path of a marker file; see Worker.run
NONE = "none"                        # id of the unmanipulated condition
EXTRA_INFERENCE = [("prediction_raw", pa.string()), ("correct_raw", pa.bool_()),
                   ("cal_fold", pa.int64())]
INFERENCE_SORT = ["task", "item_id", "condition_id"]
ACTIVATION_SORT = ["concept", "template", "layer"]


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# the model API (emostat.collect.models / tasks); tests swap in a fake one


def default_api() -> SimpleNamespace:
    """The functions a worker calls: model loading, concept activations, task scoring."""
    from emostat.collect import models, tasks

    def pick(name):
        for mod in (tasks, models):
            if hasattr(mod, name):
                return getattr(mod, name)
        raise ImportError(f"emostat.collect has no {name}()")

    return SimpleNamespace(**{n: pick(n) for n in (
        "load_model", "concept_activations", "score_binary", "score_choices", "generate",
        "parse_label")})


def stimuli_api() -> SimpleNamespace:
    """Stimuli readers and prompt templates (emostat.collect.stimuli / templates)."""
    from emostat.collect import stimuli, templates

    return SimpleNamespace(read_stimuli=stimuli.read_stimuli,
                           read_goemotions=stimuli.read_goemotions,
                           balanced_binary=stimuli.balanced_binary,
                           multiclass_items=stimuli.multiclass_items,
                           concept_prompts=templates.concept_prompts)


# ---------------------------------------------------------------------------------------------
# items and concept prompts (cheap, deterministic: built by the driver and by every worker)


def concept_prompt_table(cfg: CollectConfig, sapi=None, mask_token=None) -> pd.DataFrame:
    """Concept prompts of the run: columns ``concept``, ``template``, ``text``, ``word``.

    With ``position = "mask"`` the worker passes its tokenizer's ``mask_token`` (the study's
    layout puts the mask first and reads it).
    """
    sapi = sapi or stimuli_api()
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


def _stimuli(cfg: CollectConfig, sapi) -> pd.DataFrame:
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


def _id_col(df: pd.DataFrame) -> str:
    return "stimulus_id" if "stimulus_id" in df.columns else "id"


def build_items(cfg: CollectConfig, sapi=None) -> dict[str, pd.DataFrame]:
    """The items of every task, in a fixed order.

    Binary: per emotion, the study's balanced set (:func:`emostat.collect.stimuli.
    balanced_binary`: positives, then as many rows drawn with replacement from all rows with the
    run's seed). Choice and generate: the single-label items
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
    sapi = sapi or stimuli_api()
    stim = _stimuli(cfg, sapi)
    wanted = cfg.task_emotions
    out = {}
    if "binary" in cfg.tasks:
        rows = []
        for e in wanted:
            b = pd.DataFrame(sapi.balanced_binary(stim, e, cfg.seed)).reset_index(drop=True)
            if not len(b):
                raise InputError(f"config field 'stimuli': no item of emotion {e!r} for its "
                                 f"binary task")
            lab = np.where(b["label"].astype(int).to_numpy() == 1, "yes", "no")
            part = (b["part"].astype(str).str[0].to_numpy() if "part" in b.columns
                    else np.where(lab == "yes", "p", "s"))
            idx = pd.Series(part).groupby(part).cumcount().to_numpy()
            rows.append(pd.DataFrame({
                "item_id": [f"{e}:{p}{i:04d}" for p, i in zip(part, idx)],
                "stimulus_id": b[_id_col(b)].astype(str).to_numpy(),
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
        ids = m[_id_col(m)].astype(str).to_numpy()
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
# the worker: holds the model, runs shards, writes their files


class Worker:
    """Runs shards of one run. The model is loaded once, on first use.

    Parameters
    ----------
    cfg : dict
        ``CollectConfig`` fields.
    out : path
        The run folder (shared storage when workers run on other machines).
    api, sapi : namespace, optional
        Model and stimuli functions (default: :func:`default_api`, :func:`stimuli_api`).
    prov : dict, optional
        Provenance fields embedded in every file this worker writes.
    """

    def __init__(self, cfg: dict, out, api=None, sapi=None, prov: dict | None = None):
        self.cfg = CollectConfig(**cfg)
        self.out = Path(out)
        self.api, self.sapi = api or default_api(), sapi
        self.prov = dict(prov or {})
        self._lm = None
        self._ctx: dict = {}

    # -- lazily built state ---------------------------------------------------------------------
    @property
    def lm(self):
        if self._lm is None:
            self._lm = self.api.load_model(self.cfg.model, device=self.cfg.device,
                                           dtype=self.cfg.dtype, threads=self.cfg.threads,
                                           tasks=head_users(self.cfg))
            check_model_for_tasks(self.cfg, self._lm)
        return self._lm

    def provenance(self) -> dict:
        """The run record embedded in this worker's files (see :func:`run_provenance`)."""
        if not self.prov:
            self.prov = run_provenance(self.cfg, self.identity())
        return self.prov

    def identity(self) -> dict:
        """Model identity, neuron site and layer sizes (loads the model)."""
        if "identity" not in self._ctx:
            self._ctx["identity"] = self._identity()
        return self._ctx["identity"]

    def _identity(self) -> dict:
        lm = self.lm
        site = getattr(lm, "site", None)
        n_layers = getattr(site, "n_layers", None)
        n_units = getattr(site, "n_units", None)
        sizes = ([int(n_units)] * int(n_layers) if n_layers is not None
                 else list(getattr(lm, "layer_sizes")))
        site_def = {k: getattr(site, k) for k in ("family", "name", "layers", "module", "note")
                    if site is not None and isinstance(getattr(site, k, None), str)}
        return {"model": dict(getattr(lm, "identity", {}) or {}), "kind": getattr(lm, "kind", None),
                "site": site_def, "layer_sizes": sizes, "n_neurons": int(sum(sizes))}

    def _prompts(self) -> pd.DataFrame:
        if "prompts" not in self._ctx:
            mask = (getattr(self.lm.tokenizer, "mask_token", None)
                    if self.cfg.position == "mask" else None)
            if self.cfg.position == "mask" and mask is None:
                raise InputError("config field 'position': 'mask' needs a model whose "
                                 "tokenizer has a mask token (an MLM encoder)")
            self._ctx["prompts"] = concept_prompt_table(self.cfg, self.sapi, mask)
        return self._ctx["prompts"]

    def _items(self) -> dict[str, pd.DataFrame]:
        if "items" not in self._ctx:
            self._ctx["items"] = {t: df.set_index("item_id", drop=False)
                                  for t, df in build_items(self.cfg, self.sapi).items()}
        return self._ctx["items"]

    def _conditions(self) -> tuple[ConditionSet, np.ndarray | None]:
        if "conditions" not in self._ctx:
            df = io.read_table(self.out / "conditions.parquet")
            means = io.read_table(self.out / "neuron_means.parquet")["mean"].to_numpy(np.float32)
            self._ctx["conditions"] = (ConditionSet.from_table(df, len(means)), means)
        return self._ctx["conditions"]

    def _calibration(self) -> pd.DataFrame | None:
        """The run's calibration offsets (None when ``calibrate`` is off)."""
        if not self.cfg.calibrate:
            return None
        if "calibration" not in self._ctx:
            path = self.out / "calibration.parquet"
            if not path.exists():
                raise InputError(f"{path}: missing; the 'none' condition (stage c1) must be "
                                 f"collected and calibrated before the other conditions")
            self._ctx["calibration"] = io.read_table(path)
        return self._ctx["calibration"]

    def _model_name(self) -> str:
        ident = self.identity()["model"]
        return str(ident.get("name") or ident.get("id") or self.cfg.model or "embedded")

    # -- shards ----------------------------------------------------------------------------------
    def run(self, shard: sh.Shard, progress=None) -> int:
        """Compute one shard and write its file atomically. Returns its number of rows.

        ``progress`` (optional, a tqdm-like bar) is advanced by the shard's work units as the
        batches finish (rows for inference, one per template for activations)."""
        path = shard.path(self.out)
        if path.exists():            # done by an earlier attempt (e.g. before a worker restart)
            return -1
        if shard.dataset == "activations":
            table = self._activations(shard)
            if progress is not None:
                progress.update(shard.n_units)
            schema = None
        elif shard.dataset in ("inference", "baseline"):
            table = self._inference(shard, progress)
            schema = None
        else:
            raise ValueError(f"unknown dataset {shard.dataset!r}")
        _test_kill_hook()
        prov = io.provenance(**self.provenance(), shard=shard.id, dataset=shard.dataset)
        io.write_table(table, path, prov=prov, schema=schema)
        return table.num_rows

    def run_id(self, shard: sh.Shard) -> str:
        """:meth:`run`, returning the shard's id (for schedulers that complete out of order)."""
        self.run(shard)
        return shard.id

    def _activations(self, shard: sh.Shard) -> pa.Table:
        from emostat.schemas import schema

        if self.cfg.representation == "prompt_tuning":
            from emostat.collect import prompt_mode

            return prompt_mode.activations_table(self, shard)
        p = self._prompts()
        p = p[p["template"].isin(shard.templates)]
        ident = self.identity()
        A = np.asarray(self.api.concept_activations(
            self.lm, list(p["text"]), position=self.cfg.position, words=list(p["word"]),
            batch_size=self.cfg.batch_size), dtype=np.float32)
        sizes = ident["layer_sizes"]
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        n_l = len(sizes)
        values = [A[r, bounds[l]:bounds[l + 1]] for r in range(len(p)) for l in range(n_l)]
        flat = pa.array(np.concatenate(values) if values else np.zeros(0, np.float32),
                        type=pa.float32())
        offsets = pa.array(np.concatenate([[0], np.cumsum([len(v) for v in values])]),
                           type=pa.int32())
        return pa.table({
            "model": pa.array([self._model_name()] * (len(p) * n_l), pa.string()),
            "concept": pa.array(np.repeat(p["concept"].to_numpy(), n_l).tolist(), pa.string()),
            "template": pa.array(np.repeat(p["template"].to_numpy(), n_l).tolist(), pa.string()),
            "layer": pa.array(np.tile(np.arange(n_l), len(p)), pa.int64()),
            "values": pa.ListArray.from_arrays(offsets, flat),
        }, schema=schema("activations"))

    def _inference(self, shard: sh.Shard, progress=None) -> pa.Table:
        from emostat.schemas import schema

        items = self._items()[shard.task].loc[list(shard.items)]
        conds, means = self._conditions()
        ablate = {"mode": conds.mode, "means": means} if conds.mode == "mean" else {}
        pairs = [(i, c) for i in range(len(items)) for c in shard.conditions]
        # binary batches must share the emotion asked about: group rows by it
        key = items["emotion"].to_numpy() if shard.task == "binary" else np.array([""] * len(items))
        order = sorted(range(len(pairs)), key=lambda r: (key[pairs[r][0]], r))
        B = self.cfg.batch_size
        all_texts = items["text"].to_numpy()
        raw, lps, gens = [None] * len(pairs), [None] * len(pairs), [None] * len(pairs)
        groups: dict[str, list[int]] = {}
        for r in order:
            groups.setdefault(key[pairs[r][0]], []).append(r)
        for g, rows in groups.items():
            for start in range(0, len(rows), B):
                batch = rows[start:start + B]
                texts = [all_texts[pairs[r][0]] for r in batch]
                masks = conds.masks([pairs[r][1] for r in batch])
                p, lp, gen = self._score(shard.task, g, texts, masks, ablate)
                for j, r in enumerate(batch):
                    raw[r], lps[r], gens[r] = p[j], lp[j], gen[j]
                if progress is not None:
                    progress.update(len(batch))
        ci = [conds.by_id[c] for _, c in pairs]
        it = items.iloc[[i for i, _ in pairs]]
        # baseline shards (condition none, stage c1) keep raw decisions until calibrated
        cal = None if shard.dataset == "baseline" else self._calibration()
        df = self._decided(pd.DataFrame({
            "model": self._model_name(), "task": shard.task,
            "item_id": it["item_id"].to_numpy(), "stimulus_id": it["stimulus_id"].to_numpy(),
            "emotion": it["emotion"].to_numpy(), "fold": it["fold"].to_numpy().astype(np.int64),
            "condition_id": [c.id for c in ci], "condition": [c.condition for c in ci],
            "attribute": [c.attribute for c in ci],
            "k": pd.array([c.k for c in ci], dtype="Int64"),
            "draw": pd.array([c.draw for c in ci], dtype="Int64"),
            "label": it["label"].to_numpy(), "prediction": raw, "correct": False,
            "logprobs": lps, "generated": gens, "prediction_raw": raw,
            "correct_raw": False, "margin": np.nan, "margin_raw": np.nan,
            "cal_fold": it["cal_fold"].to_numpy().astype(np.int64)}), cal)
        return inference_table(df)

    @staticmethod
    def _decided(df: pd.DataFrame, cal) -> pd.DataFrame:
        return decide_rows(df, cal)

    def _prompts_for(self, task):
        """Task prompt (callable) and extra arguments for the model's kind (data/templates)."""
        if "task_prompts" not in self._ctx:
            from emostat.collect import templates as T

            lm = self.lm
            if getattr(lm, "kind", "causal") == "mlm":
                mask = lm.tokenizer.mask_token
                self._ctx["task_prompts"] = {
                    "binary": (lambda text, emotion: T.binary_prompt_mlm(text, emotion, mask),
                               {"verbalizer": ("no", "yes")}),
                    "choice": (lambda text, choices: T.choice_prompt_mlm(text, mask), {})}
            else:
                # the short choice prompt is a completion prompt: never chat-wrapped
                choice = ((lambda text, choices: T.choice_prompt_short(text), {"chat": False})
                          if self.cfg.choice_prompt == "short"
                          else (lambda text, choices: T.choice_prompt(text), {}))
                self._ctx["task_prompts"] = {
                    "binary": (lambda text, emotion: T.binary_prompt(text, emotion), {}),
                    "choice": choice,
                    "generate": (lambda text: T.generation_prompt(text), {})}
        return self._ctx["task_prompts"][task]

    def _task_lm(self):
        """The model used for task scoring: :func:`emostat.collect.fastcpu.prepare` applied
        once (oneDNN fp32 kernels or int8, per ``cpu_kernel``/``quantize``). Models without a
        torch module (test fakes) are used as they are."""
        if "task_lm" not in self._ctx:
            lm = self.lm
            if hasattr(lm, "model"):
                from emostat.collect.fastcpu import prepare

                lm, rec = prepare(lm, self.cfg.cpu_kernel, self.cfg.quantize)
                self._ctx["fast"] = rec
            self._ctx["task_lm"] = lm
        return self._ctx["task_lm"]

    def _score(self, task, emotion, texts, masks, ablate):
        """Raw predictions, candidate log-probs and generated texts of one batch."""
        api, lm, n = self.api, self._task_lm(), len(texts)
        prompt, extra = self._prompts_for(task)
        kw = dict(masks=masks, prompt=prompt, batch_size=self.cfg.batch_size,
                  **{"chat": self.cfg.chat, **extra}, **ablate)
        if task == "binary" and self.cfg.representation == "prompt_tuning":
            from emostat.collect import prompt_mode

            s = prompt_mode.score_binary(self, emotion, texts, masks, ablate)   # [no, yes]
            return (["yes" if y else "no" for y in s[:, 1] > s[:, 0]],
                    [list(map(float, r)) for r in s], [None] * n)
        if task == "binary":
            s = np.asarray(api.score_binary(lm, texts, emotion, **kw), float)   # [no, yes]
            return (["yes" if y else "no" for y in s[:, 1] > s[:, 0]],
                    [list(map(float, r)) for r in s], [None] * n)
        if task == "choice":
            s = np.asarray(api.score_choices(lm, texts, list(EMOTIONS), **kw), float)
            return ([EMOTIONS[j] for j in s.argmax(axis=1)], [list(map(float, r)) for r in s],
                    [None] * n)
        if task == "generate":
            gen = api.generate(lm, texts, max_new_tokens=self.cfg.max_new_tokens, **kw)
            return [api.parse_label(g, list(EMOTIONS)) for g in gen], [None] * n, list(gen)
        raise ValueError(f"unknown task {task!r}")


def _test_kill_hook() -> None:
    """Test hook: when $EMOSTAT_TEST_KILL_ONCE names a marker file that does not exist yet,
    create it and SIGKILL this process (a worker dying mid-shard, before its file is written)."""
    marker = os.environ.get(KILL_ENV)
    if marker and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)


def decide_rows(df: pd.DataFrame, cal: pd.DataFrame | None) -> pd.DataFrame:
    """Set ``prediction``/``correct``/``margin`` of inference rows from their raw scores and
    ``cal`` (:func:`emostat.collect.calibration.decide` and ``margins``, each row with the
    offsets of its ``cal_fold``; None = raw decisions), and ``prediction_raw``/``correct_raw``/
    ``margin_raw`` from the raw scores. Generate rows keep their parsed label and have no
    margin. Returns a new DataFrame."""
    from emostat.collect.calibration import METHOD, decide, margins

    df = df.copy()
    label = df["label"].to_numpy()
    pred = df["prediction_raw"].to_numpy(object).copy()
    marg = np.full(len(df), np.nan)
    marg_raw = np.full(len(df), np.nan)
    for task in METHOD:
        rows = np.flatnonzero(df["task"].to_numpy() == task)
        if len(rows):
            sub = df.iloc[rows]
            folds = sub["cal_fold"].to_numpy() if "cal_fold" in sub.columns else None
            lp, emo = list(sub["logprobs"]), list(sub["emotion"])
            pred[rows] = decide(task, lp, emo, cal, folds)
            marg[rows] = margins(task, lp, emo, sub["label"], cal, folds)
            marg_raw[rows] = margins(task, lp, emo, sub["label"], None)
    df["margin"] = marg
    df["margin_raw"] = marg_raw
    raw = df["prediction_raw"].to_numpy(object)
    df["prediction"] = pred
    df["correct"] = np.asarray([p is not None and p == l for p, l in zip(pred, label)], bool)
    df["correct_raw"] = np.asarray([p is not None and p == l for p, l in zip(raw, label)], bool)
    return df


def inference_table(df: pd.DataFrame) -> pa.Table:
    """Inference rows as Arrow: schema ``inference`` plus the raw-decision columns."""
    from emostat.schemas import schema

    sch = schema("inference")
    for name, typ in EXTRA_INFERENCE:
        sch = sch.append(pa.field(name, typ))
    return pa.Table.from_pandas(df[sch.names], schema=sch, preserve_index=False)


# ---------------------------------------------------------------------------------------------
# stage c: the "none" condition first, calibration, the rest


def plan_baseline(cfg: CollectConfig, items: dict[str, pd.DataFrame]) -> list[sh.Shard]:
    """Stage c1: one shard per task x item block under condition none (``<out>/baseline/``,
    ids ``<task>-i####-none``)."""
    out = []
    for task in cfg.tasks:
        for i, b in enumerate(sh.blocks(items[task]["item_id"], cfg.items_per_shard)):
            out.append(sh.Shard("baseline", f"{task}-i{i:04d}-none", task=task, items=b,
                                conditions=(NONE,)))
    return out


def calibrate_run(cfg: CollectConfig, out) -> pd.DataFrame:
    """Stage c2: offsets from the baseline rows → ``<out>/calibration.parquet`` (idempotent)."""
    from emostat.collect.calibration import calibration_table

    path = Path(out) / "calibration.parquet"
    if path.exists():
        return io.read_table(path)
    base = sh.read_dataset(out, "baseline", columns=["task", "emotion", "condition",
                                                     "logprobs", "cal_fold"]).to_pandas()
    cal = calibration_table(base, folds=True)
    io.write_table(cal, path, prov=io.provenance(**_read_run_prov(out), stage="calibration",
                                                 applied=cfg.calibrate))
    return cal


def finish_baseline(cfg: CollectConfig, out, shards, cal: pd.DataFrame) -> None:
    """Stage c3 for condition none: each baseline shard re-decided with the offsets (when
    ``calibrate``) and written to ``<out>/inference/`` under the same id (no model needed)."""
    import pyarrow.parquet as pq

    for s in shards:
        dest = sh.shard_path(out, "inference", s.id)
        if dest.exists():
            continue
        src = s.path(out)
        df = pq.read_table(src).to_pandas()
        df = decide_rows(df, cal if cfg.calibrate else None)
        prov = {**io.read_provenance(src), "dataset": "inference", "stage": "none-decided"}
        io.write_table(inference_table(df), dest, prov=prov)


# ---------------------------------------------------------------------------------------------
# provenance and manifest


def package_versions() -> dict[str, str]:
    """Versions of the packages the collected numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version

    vers = {}
    for pkg in ("emostat", "torch", "transformers", "tokenizers", "safetensors", "gguf",
                "numpy", "pandas", "pyarrow", "scipy", "ray"):
        try:
            vers[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return vers


def run_provenance(cfg: CollectConfig, ident: dict) -> dict:
    """The record embedded in every file of a run (and the core of its manifest)."""
    model = ident.get("model") or {}
    return {"kind": "collection", "fingerprint": run_fingerprint(cfg, model), "model": model,
            "model_kind": ident.get("kind"), "dtype": cfg.dtype, "site": ident.get("site"),
            "layer_sizes": ident.get("layer_sizes"), "n_neurons": ident.get("n_neurons"),
            "seed": cfg.seed, "config": cfg.to_dict(), "package_versions": package_versions()}


# ---------------------------------------------------------------------------------------------
# stage b: searchlight and conditions


def activation_array(out) -> tuple[np.ndarray, list[str], list[int]]:
    """The collected concept activations as an array.

    Returns
    -------
    A : ndarray float32 [n_templates, 27, n_neurons]
        Concepts in the study's analysis order (``ANALYSIS_ORDER``), neurons layer-major.
    templates : list of str
    layer_sizes : list of int
    """
    t = sh.read_dataset(out, "activations", columns=["concept", "template", "layer", "values"])
    df = t.select(["concept", "template", "layer"]).to_pandas()
    templates = sorted(set(df["template"]))
    layers = sorted(set(df["layer"]))
    missing = set(ANALYSIS_ORDER) - set(df["concept"])
    if missing:
        raise InputError(f"{Path(out) / 'activations'}: no activations for {sorted(missing)}")
    vals = t.column("values").combine_chunks()
    sizes = []
    for l in layers:
        r = int(np.flatnonzero(df["layer"].to_numpy() == l)[0])
        sizes.append(len(vals[r]))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    A = np.zeros((len(templates), len(ANALYSIS_ORDER), int(bounds[-1])), dtype=np.float32)
    ti = {x: i for i, x in enumerate(templates)}
    ci = {x: i for i, x in enumerate(ANALYSIS_ORDER)}
    flat = vals.flatten().to_numpy(zero_copy_only=False)
    offs = vals.offsets.to_numpy()
    for r, (c, tm, l) in enumerate(df.itertuples(index=False)):
        if c in ci:
            A[ti[tm], ci[c], bounds[l]:bounds[l + 1]] = flat[offs[r]:offs[r + 1]]
    return A, templates, sizes


def neuron_rankings(A: np.ndarray, layer_sizes, attributes, human=None) -> dict[str, np.ndarray]:
    """Neurons ordered by their searchlight rank for each attribute (most related first).

    The searchlight is :func:`emostat.analysis.searchlight.searchlight` against the human
    attribute RDMs shipped in ``data/human/``; ties in rank are broken by neuron index.
    """
    from emostat.analysis.searchlight import searchlight

    if human is None:
        from emostat.analysis.human import load_shipped_human

        human = load_shipped_human()
    rsa = searchlight(A, human.attribute_rdms[list(attributes)], list(layer_sizes),
                      n_jobs=min(2, os.cpu_count() or 1))
    out = {}
    for a in attributes:
        r = rsa[rsa["attribute"] == a].sort_values(["rank", "neuron"], kind="stable")
        out[a] = r["neuron"].to_numpy(np.int64)
    return out


def make_conditions(cfg: CollectConfig, out, *, human=None) -> ConditionSet:
    """Stage b: condition sets from the collected activations; writes conditions.parquet and
    neuron_means.parquet (idempotent: reads them back when present)."""
    out = Path(out)
    cpath, mpath = out / "conditions.parquet", out / "neuron_means.parquet"
    if cpath.exists() and mpath.exists():
        means = io.read_table(mpath)["mean"].to_numpy()
        return ConditionSet.from_table(io.read_table(cpath), len(means))
    A, _, sizes = activation_array(out)
    n = int(sum(sizes))
    ks = cfg.resolve_ks(n)
    ranks = neuron_rankings(A, sizes, cfg.attribute_list, human)
    conds = ConditionSet(build_conditions(ranks, ks, sizes, n_draws=cfg.n_random_draws,
                                          scheme=cfg.random_scheme,
                                          shared_random=cfg.shared_random, seed=cfg.seed),
                         n, cfg.ablation)
    prov = io.provenance(**_read_run_prov(out), stage="conditions")
    layer = np.repeat(np.arange(len(sizes)), sizes)
    unit = np.concatenate([np.arange(s) for s in sizes])
    means = A.mean(axis=(0, 1), dtype=np.float64)
    io.write_table(pd.DataFrame({"neuron": np.arange(n), "layer": layer, "unit": unit,
                                 "mean": means}), mpath, prov=prov)
    io.write_table(conds.table(), cpath, prov=prov)
    return conds


def _read_run_prov(out) -> dict:
    """The run provenance embedded in the first activations shard."""
    files = sorted((Path(out) / "activations").glob("part-*.parquet"))
    if not files:
        return {}
    p = io.read_provenance(files[0])
    return {k: v for k, v in p.items() if k not in ("created", "shard", "dataset",
                                                    "emostat_version", "python")}


# ---------------------------------------------------------------------------------------------
# stage d: the prompt-level accuracy table


def accuracy_table(inference: pd.DataFrame, attributes) -> pd.DataFrame:
    """Prompt-level accuracy (schema ``accuracy``) from the inference rows.

    A prompt is (task, emotion, fold): ``template`` = ``"<task>/fold<f>"``. Shared random draws
    (null attribute) appear ONCE, with a null attribute: each is one mask, never copied per
    attribute (the analysis pairs them with every attribute in memory for the study's paired
    tests). ``attributes`` is kept for callers and no longer used.

    Returns
    -------
    DataFrame
        ``model, task, emotion, template, condition, condition_id, attribute, k, draw,
        accuracy, n`` (n = items behind the accuracy).
    """
    df = inference.copy()
    df["template"] = df["task"] + "/fold" + df["fold"].astype(str)
    keys = ["model", "task", "emotion", "template", "condition_id", "condition"]
    g = (df.groupby(keys, sort=False, dropna=False)
         .agg(accuracy=("correct", "mean"), n=("correct", "size")).reset_index())
    cmeta = (df[["condition_id", "attribute", "k", "draw"]].drop_duplicates("condition_id"))
    g = g.merge(cmeta, on="condition_id", how="left")
    g["k"] = g["k"].astype("Int64")
    g["draw"] = g["draw"].astype("Int64")
    g["accuracy"] = g["accuracy"].astype(float)
    g["n"] = g["n"].astype(np.int64)
    corder = {"none": 0, "attribute": 1, "random": 2}
    g["_c"] = g["condition"].map(corder)
    g = g.sort_values(["task", "emotion", "template", "_c", "attribute", "k", "draw"],
                      na_position="first", kind="stable").drop(columns="_c")
    return g[["model", "task", "emotion", "template", "condition", "condition_id", "attribute",
              "k", "draw", "accuracy", "n"]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the driver


def _config(config, model, device, dtype, quick, backend, seed,
            activations_only=False) -> CollectConfig:
    """Config from file + CLI; a CLI value left at its default does not override the file."""
    d = CollectConfig()
    over = {"model": model, "device": None if device == d.device else device,
            "dtype": None if dtype == d.dtype else dtype,
            "backend": None if backend == d.backend else backend,
            "seed": None if seed == d.seed else seed,
            "tasks": [] if activations_only else None}
    return load_config(config, quick=quick, **over)


def head_users(cfg: CollectConfig) -> list[str]:
    """What uses the model's language-model head: the tasks, and prompt tuning."""
    return list(cfg.tasks) + (["prompt_tuning"] if cfg.representation == "prompt_tuning" else [])


def check_model_for_tasks(cfg: CollectConfig, lm) -> None:
    """Refuse a task the loaded model cannot do (generate needs a decoder)."""
    if "generate" in cfg.tasks and getattr(lm, "kind", "causal") != "causal":
        raise InputError("config field 'tasks': 'generate' needs a decoder model; "
                         f"{cfg.model!r} is an encoder ({lm.kind})")


def run_fingerprint(cfg: CollectConfig, model_identity: dict | None) -> str:
    """The run's identity: the config with the model path replaced by the weights' SHA-256
    (the same weights by any path are the same run)."""
    return cfg.fingerprint(weights=(model_identity or {}).get("weight_sha256"))


class _Preloaded:
    """A model API whose load_model returns the model the driver already loaded."""

    def __init__(self, api, lm):
        self._api, self._lm = api, lm

    def __getattr__(self, name):
        return getattr(self._api, name)

    def load_model(self, *args, **kwargs):
        return self._lm


def _load_checked(cfg: CollectConfig, api, quiet: bool):
    """Load the model and run every check before anything is written (raises InputError)."""
    lm = api.load_model(cfg.model, device=cfg.device, dtype=cfg.dtype, threads=cfg.threads,
                        tasks=head_users(cfg), quiet=quiet)
    check_model_for_tasks(cfg, lm)
    if cfg.position == "mask" and getattr(getattr(lm, "tokenizer", None), "mask_token",
                                          "") is None:
        raise InputError("config field 'position': 'mask' needs a model whose tokenizer has a "
                         "mask token (an MLM encoder)")
    return lm


def _check_plan(cfg: CollectConfig, out: Path, fingerprint: str, weights: str | None) -> None:
    """Record the run's fingerprint in out/plan.json; refuse a folder holding another run."""
    path = out / "plan.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("fingerprint") not in (fingerprint, cfg.fingerprint()):
            was = old.get("config", {})
            changed = sorted(k for k, v in cfg.to_dict().items()
                             if k != "model" and was.get(k, v) != v)
            if old.get("weight_sha256", weights) != weights:
                changed.insert(0, "model weights")
            raise InputError(f"{out}: holds a run with another config (changed: {changed}); "
                             f"use a new --out folder, or the same config to resume")
        return
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".plan.json.tmp"
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "weight_sha256": weights,
                               "config": cfg.to_dict()}, indent=2))
    io.set_user_mode(tmp)
    tmp.replace(path)


def _manifest_done(fingerprint: str, out: Path) -> bool:
    path = out / "manifest.json"
    if not path.exists():
        return False
    m = json.loads(path.read_text())
    return m.get("fingerprint") == fingerprint and m.get("complete", False)


def plan_inference(cfg: CollectConfig, items: dict[str, pd.DataFrame],
                   conds: ConditionSet) -> list[sh.Shard]:
    """The model-run inference shards of a run (every condition but none), task by task."""
    if NONE not in conds.by_id:
        raise InputError("conditions: no unmanipulated condition 'none'")
    rest = [c for c in conds.ids if c != NONE]
    out = []
    for task in cfg.tasks:
        out += sh.inference_shards(task, items[task]["item_id"], rest,
                                   items_per_shard=cfg.items_per_shard,
                                   conditions_per_shard=cfg.conditions_per_shard)
    return out


def collect(config=None, out="out", model=None, device="cpu", dtype="float32",
            quick: bool = False, backend: str = "local", address=None, seed: int = 20241201,
            quiet: bool = False, activations_only: bool = False, *, api=None, sapi=None,
            human=None) -> dict[str, Path]:
    """Run (or resume) a collection into ``out``; see the module docstring for the stages.

    Parameters
    ----------
    config : path, optional
        TOML config (:mod:`emostat.collect.config`); CLI-style arguments below override it
        unless left at their defaults.
    out : path
        Run folder. Rerunning into it resumes; a finished run is left untouched.
    model, device, dtype, quick, backend, seed
        As the config fields (``quick`` picks the quick profile).
    address : str, optional
        Ray cluster address (``--backend ray``); none starts a local Ray instance.
    quiet : bool
        No progress bars or messages (third-party ones included).
    activations_only : bool
        Switch the tasks off (config ``tasks = []``): concept activations only, e.g. for an
        encoder checkpoint without a trained MLM head. Said on stderr and in the manifest.
    api, sapi, human
        Replacements for the model functions, stimuli functions and human space (tests).

    Returns
    -------
    dict name -> Path
        ``activations``, ``conditions``, ``inference`` (folders/files), ``accuracy``,
        ``manifest``.
    """
    from emostat.collect.backends import make_backend

    t0 = time.perf_counter()
    out = Path(out)
    cfg = _config(config, model, device, dtype, quick, backend, seed, activations_only)
    paths = {"activations": out / "activations", "conditions": out / "conditions.parquet",
             "inference": out / "inference", "accuracy": out / "accuracy.parquet",
             "manifest": out / "manifest.json"}
    # the model is loaded and checked before anything is written to `out`
    lm = _load_checked(cfg, api or default_api(), quiet)
    model_ident = dict(getattr(lm, "identity", {}) or {})
    fingerprint = run_fingerprint(cfg, model_ident)
    if not cfg.tasks:
        print("emostat: tasks are off (activations only): no inference; `analyse` gives the "
              "searchlight and RSA tables", file=sys.stderr, flush=True)
    _check_plan(cfg, out, fingerprint, model_ident.get("weight_sha256"))
    if _manifest_done(fingerprint, out):
        from emostat.integrity import problems

        found = problems(out, json.loads((out / "manifest.json").read_text()))
        if not found:
            _log(f"{out}: run already complete; nothing to do", quiet)
            return paths
        _log(f"{out}: the run no longer matches its manifest ({'; '.join(found)}); "
             f"redoing what is missing", quiet)
        (out / "manifest.json").unlink()
    sh.clean_stale_tmp(out)
    if cfg.backend == "local":
        api = _Preloaded(api or default_api(), lm)
    engine = None
    phase: dict[str, float] = {}                  # seconds per phase (printed, in the manifest)
    try:
        # a. concept activations
        prompts = concept_prompt_table(cfg, sapi)
        tuned = cfg.representation == "prompt_tuning"
        if tuned:
            from emostat.collect import prompt_mode
        act = sh.activation_shards(prompt_mode.template_names(cfg) if tuned
                                   else template_names(prompts))
        sh.check_no_strays(act, out, "activations")
        todo = sh.pending(act, out)
        if todo:
            engine = make_backend(cfg, out, address=address, api=api, sapi=sapi, quiet=quiet)
            _log(f"activations: {len(todo)} of {len(act)} shards to run", quiet)
            engine.run(todo, desc="activations")
        if not cfg.tasks:
            return _finish_activations_only(cfg, out, paths, prompts, act, t0, quiet)
        # b. searchlight and condition sets
        tc = time.perf_counter()
        conds = make_conditions(cfg, out, human=human)
        phase["conditions"] = time.perf_counter() - tc
        _log(f"conditions: {len(conds)} ({conds.mode} ablation), "
             f"{phase['conditions']:.1f} s", quiet)
        # c1. the unmanipulated condition first
        items = build_items(cfg, sapi)
        base = plan_baseline(cfg, items)
        sh.check_no_strays(base, out, "baseline")
        todo = sh.pending(base, out)
        if todo:
            if engine is None:
                engine = make_backend(cfg, out, address=address, api=api, sapi=sapi,
                                      quiet=quiet)
            _log(f"baseline (condition none): {len(todo)} of {len(base)} shards to run", quiet)
            engine.run(todo, desc="baseline")
        # c2. calibration offsets from condition none only
        tc = time.perf_counter()
        cal = calibrate_run(cfg, out)
        # c3. the other conditions, decided with the same offsets; none rows re-decided
        inf = plan_inference(cfg, items, conds)
        none_inf = [sh.Shard("inference", s.id, task=s.task, items=s.items,
                             conditions=s.conditions) for s in base]
        sh.check_no_strays(inf + none_inf, out, "inference")
        finish_baseline(cfg, out, base, cal)
        phase["calibration"] = time.perf_counter() - tc
        todo = sh.pending(inf, out)
        if todo:
            if engine is None:
                engine = make_backend(cfg, out, address=address, api=api, sapi=sapi,
                                      quiet=quiet)
            n_rows = sum(s.n_units for s in todo)
            _log(f"inference: {len(todo)} of {len(inf)} shards ({n_rows} item x condition "
                 f"rows) to run", quiet)
            engine.run(todo, desc="inference")
    finally:
        if engine is not None:
            phase.update(getattr(engine, "times", {}))
            engine.close()
    # d. accuracy table
    tc = time.perf_counter()
    prov = _read_run_prov(out)
    inference = sh.read_dataset(out, "inference").to_pandas()
    acc = accuracy_table(inference, cfg.attribute_list)
    from emostat.schemas import validate

    validate(pa.Table.from_pandas(acc, preserve_index=False), "accuracy", where="accuracy table")
    io.write_table(acc, paths["accuracy"], prov=io.provenance(**prov, stage="accuracy"))
    # e. manifest
    n_items = {t: len(df) for t, df in items.items()}
    manifest = io.provenance(**prov, complete=True, out=str(out.resolve()),
                             templates=(prompt_mode.template_record(cfg) if tuned
                                        else concept_template_record(prompts)),
                             representation=cfg.representation,
                             n_items=n_items, n_conditions=len(conds),
                             n_shards={"activations": len(act), "baseline": len(base),
                                       "inference": len(inf) + len(none_inf)},
                             calibration=calibration_record(cfg),
                             task_prompts=task_prompt_record(cfg),
                             n_rows={"inference": len(inference), "accuracy": len(acc)},
                             backend=cfg.backend, seconds=round(time.perf_counter() - t0, 1),
                             phase_seconds=_phase_record(phase, tc))
    _write_manifest(out, manifest)
    _log("phase times: " + ", ".join(f"{k} {v:.0f} s" for k, v in manifest["phase_seconds"]
                                     .items()), quiet)
    _log(f"collection done in {time.perf_counter() - t0:.0f} s: {out}", quiet)
    return paths


def _phase_record(phase: dict, t_accuracy: float) -> dict[str, float]:
    """Phase times in pipeline order (seconds, 0.1 s); accuracy measured from ``t_accuracy``."""
    phase = dict(phase, accuracy=time.perf_counter() - t_accuracy)
    order = ["load", "activations", "conditions", "baseline", "calibration", "inference",
             "accuracy"]
    return {k: round(phase[k], 1) for k in order + sorted(set(phase) - set(order))
            if k in phase}


def _write_manifest(out: Path, manifest: dict) -> None:
    """Write manifest.json with the record of every file of the run (rows, SHA-256), which
    ``analyse`` checks (:mod:`emostat.integrity`)."""
    from emostat.integrity import file_record

    manifest["files"] = file_record(out)
    tmp = out / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    io.set_user_mode(tmp)
    tmp.replace(out / "manifest.json")


def _finish_activations_only(cfg, out, paths, prompts, act, t0, quiet) -> dict[str, Path]:
    """Manifest of a run without tasks: concept activations only (searchlight and RSA)."""
    tuned = cfg.representation == "prompt_tuning"
    if tuned:
        from emostat.collect import prompt_mode
    prov = _read_run_prov(out)
    manifest = io.provenance(**prov, complete=True, out=str(out.resolve()),
                             templates=(prompt_mode.template_record(cfg) if tuned
                                        else concept_template_record(prompts)),
                             representation=cfg.representation, tasks=[],
                             activations_only=True, n_shards={"activations": len(act)},
                             backend=cfg.backend, seconds=round(time.perf_counter() - t0, 1))
    _write_manifest(out, manifest)
    _log(f"collection (activations only) done in {time.perf_counter() - t0:.0f} s: {out}",
         quiet)
    return {k: paths[k] for k in ("activations", "manifest")}


def calibration_record(cfg: CollectConfig) -> dict:
    """The manifest's description of how decisions were taken."""
    from emostat.collect.calibration import METHOD, REFERENCE

    return {"applied": bool(cfg.calibrate), "file": "calibration.parquet",
            "source_condition": NONE, "methods": dict(METHOD), "reference": REFERENCE,
            "scheme": "cross-fitted", "folds": int(cfg.calibration_folds),
            "fold_column": "cal_fold",
            "note": "offsets from condition none only, applied unchanged to every condition; "
                    "each item decided with offsets fitted on the other calibration folds "
                    "(never on itself); raw scores in inference.logprobs, raw decisions in "
                    "prediction_raw, margins in margin / margin_raw"}


def task_prompt_record(cfg: CollectConfig) -> dict[str, str]:
    """An example of each decoder task prompt (MLM runs use the mask prompts of templates.py)."""
    from emostat.collect import templates as T

    ex = "I lost my keys."
    choice = (T.choice_prompt_short(ex) if cfg.choice_prompt == "short"
              else T.choice_prompt(ex))
    return {"binary": T.binary_prompt(ex, "anger"), "choice": choice,
            "choice_prompt": cfg.choice_prompt, "generate": T.generation_prompt(ex)}


def concept_template_record(prompts: pd.DataFrame) -> dict[str, str]:
    """Template name -> one example prompt (the first concept's)."""
    first = prompts.drop_duplicates("template")
    return dict(zip(first["template"], first["text"]))
