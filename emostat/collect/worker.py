"""The collection worker: holds the model, runs shards (concept activations, task scoring
under a condition's neuron mask) and writes their files. Backends (:mod:`emostat.collect.
backends`, :mod:`emostat.collect.ray_backend`, :mod:`emostat.collect.slurm_backend`) run
Workers; the driver never runs here."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa

from emostat import io
from emostat.collect import shards as sh
from emostat.collect.conditions import ConditionSet
from emostat.collect.config import CollectConfig, run_space
from emostat.collect.killhook import KILL_ENV, kill_for_test  # noqa: F401 (test hook)
from emostat.collect.items import build_items, concept_prompt_table, task_prompts
from emostat.collect.manifest import run_provenance
from emostat.collect.stages import (activation_row_group, activation_table, baseline_table,
                                    decide_rows, inference_table)
from emostat.errors import InputError
from emostat.tasks import TASKS



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
        self.cache: dict = {}

    # -- lazily built state ---------------------------------------------------------------------
    @property
    def lm(self):
        if self._lm is None:
            self._lm = self.api.load_model(self.cfg.model, device=self.cfg.device,
                                           dtype=self.cfg.dtype, threads=self.cfg.threads,
                                           tasks=head_users(self.cfg),
                                           words=[self.space.words[c]
                                                  for c in self.space.concepts])
            check_model_for_tasks(self.cfg, self._lm)
        return self._lm

    def provenance(self) -> dict:
        """The run record embedded in this worker's files (see :func:`run_provenance`)."""
        if not self.prov:
            self.prov = run_provenance(self.cfg, self.identity())
        return self.prov

    def identity(self) -> dict:
        """Model identity, neuron site and layer sizes (loads the model)."""
        if "identity" not in self.cache:
            self.cache["identity"] = self._identity()
        return self.cache["identity"]

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
        if "prompts" not in self.cache:
            mask = (getattr(self.lm.tokenizer, "mask_token", None)
                    if self.cfg.position == "mask" else None)
            if self.cfg.position == "mask" and mask is None:
                raise InputError("config field 'position': 'mask' needs a model whose "
                                 "tokenizer has a mask token (an MLM encoder)")
            self.cache["prompts"] = concept_prompt_table(self.cfg, self.sapi, mask)
        return self.cache["prompts"]

    def _items(self) -> dict[str, pd.DataFrame]:
        if "items" not in self.cache:
            self.cache["items"] = {t: df.set_index("item_id", drop=False)
                                  for t, df in build_items(self.cfg, self.sapi).items()}
        return self.cache["items"]

    def _conditions(self) -> tuple[ConditionSet, np.ndarray | None]:
        if "conditions" not in self.cache:
            df = io.read_table(self.out / "conditions.parquet")
            means = io.read_table(self.out / "neuron_means.parquet")["mean"].to_numpy(np.float32)
            self.cache["conditions"] = (ConditionSet.from_table(df, len(means)), means)
        return self.cache["conditions"]

    def _calibration(self) -> pd.DataFrame | None:
        """The run's calibration offsets (None when ``calibrate`` is off)."""
        if not self.cfg.calibrate:
            return None
        if "calibration" not in self.cache:
            path = self.out / "calibration.parquet"
            if not path.exists():
                raise InputError(f"{path}: missing; the 'none' condition (stage c1) must be "
                                 f"collected and calibrated before the other conditions")
            self.cache["calibration"] = io.read_table(path)
        return self.cache["calibration"]

    def model_name(self) -> str:
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
        kill_for_test()
        prov = io.provenance(**self.provenance(), shard=shard.id, dataset=shard.dataset)
        io.write_table(table, path, prov=prov, schema=schema, record_root=self.out,
                       dataset=None if shard.dataset == "activations" else "inference",
                       row_group_size=(activation_row_group(table)
                                       if shard.dataset == "activations" else None))
        return table.num_rows

    def run_id(self, shard: sh.Shard) -> str:
        """:meth:`run`, returning the shard's id (for schedulers that complete out of order)."""
        self.run(shard)
        return shard.id

    def _activations(self, shard: sh.Shard) -> pa.Table:
        if self.cfg.representation == "prompt_tuning":
            from emostat.collect import prompt_mode

            return prompt_mode.activations_table(self, shard)
        p = self._prompts()
        p = p[p["template"].isin(shard.templates)]
        A = self.api.concept_activations(
            self.lm, list(p["text"]), position=self.cfg.position, words=list(p["word"]),
            batch_size=self.cfg.batch_size)
        return activation_table(self.model_name(), p["concept"].to_numpy(),
                                p["template"].to_numpy(), A, self.identity()["layer_sizes"])

    def _inference(self, shard: sh.Shard, progress=None) -> pa.Table:
        items = self._items()[shard.task].loc[list(shard.items)]
        conds, means = self._conditions()
        ablate = {"mode": conds.mode, "means": means} if conds.mode == "mean" else {}
        pairs = [(i, c) for i in range(len(items)) for c in shard.conditions]
        # binary batches must share the emotion asked about: group rows by it
        key = (items["emotion"].to_numpy() if TASKS[shard.task].per_concept
               else np.array([""] * len(items)))
        # and, within a group, rows of similar length share a batch (less padding); the rows'
        # order in the table stays the pairs' order
        all_texts = items["text"].to_numpy()
        size = self._lengths(all_texts)
        order = sorted(range(len(pairs)), key=lambda r: (key[pairs[r][0]], size[pairs[r][0]], r))
        raw, lps, gens = [None] * len(pairs), [None] * len(pairs), [None] * len(pairs)
        pair_key = [key[i] for i, _ in pairs]
        for g, batch in grouped_batches(pair_key, order, self.cfg.batch_size):
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
        df = decide_rows(pd.DataFrame({
            "model": self.model_name(), "task": shard.task,
            "item_id": it["item_id"].to_numpy(), "stimulus_id": it["stimulus_id"].to_numpy(),
            "concept": it["emotion"].to_numpy(), "fold": it["fold"].to_numpy().astype(np.int64),
            "condition_id": [c.id for c in ci], "condition": [c.condition for c in ci],
            "attribute": [c.attribute for c in ci],
            "k": pd.array([c.k for c in ci], dtype="Int64"),
            "draw": pd.array([c.draw for c in ci], dtype="Int64"),
            "label": it["label"].to_numpy(), "prediction": raw, "correct": False,
            "logprobs": lps, "generated": gens, "prediction_raw": raw,
            "correct_raw": False, "margin": np.nan, "margin_raw": np.nan,
            "cal_fold": it["cal_fold"].to_numpy().astype(np.int64)}), cal,
            list(self.space.concepts))
        return baseline_table(df) if shard.dataset == "baseline" else inference_table(df)

    def _lengths(self, texts) -> np.ndarray:
        """Token counts of the item texts (characters for a model without a tokenizer)."""
        tok = getattr(self.lm, "tokenizer", None)
        if tok is None:
            return np.array([len(t) for t in texts])
        return np.array([len(ids) for ids in tok(list(map(str, texts)),
                                                  add_special_tokens=False)["input_ids"]])

    @property
    def space(self):
        """The run's concept space (its words, templates and concepts)."""
        return run_space(self.cfg)

    def _prompts_for(self, task):
        """Task prompt (callable) and extra arguments for the model's kind (space templates)."""
        if "task_prompts" not in self.cache:
            lm = self.lm
            kind = getattr(lm, "kind", "causal")
            mask = lm.tokenizer.mask_token if kind == "mlm" else None
            self.cache["task_prompts"] = task_prompts(self.space, kind, mask,
                                                      self.cfg.choice_prompt)
        return self.cache["task_prompts"][task]

    def _task_lm(self):
        """The model used for task scoring: :func:`emostat.collect.fastcpu.prepare` applied
        once (oneDNN fp32 kernels or int8, per ``cpu_kernel``/``quantize``), with a prefix cache
        of its own kept across batches (:mod:`emostat.collect.prefix`). Models without a
        torch module (test fakes) are used as they are."""
        if "task_lm" not in self.cache:
            lm = self.lm
            if hasattr(lm, "model"):
                from emostat.collect.fastcpu import prepare
                from emostat.collect.prefix import PrefixCache

                lm, rec = prepare(lm, self.cfg.cpu_kernel, self.cfg.quantize)
                self.cache["fast"] = rec
                lm = copy.copy(lm)           # its own prefix cache (emostat.collect.prefix)
                lm.prefix_cache = PrefixCache()
            self.cache["task_lm"] = lm
        return self.cache["task_lm"]

    def score_unmasked(self, task, concept, texts):
        """Raw predictions, candidate log-probs and generated texts of ``texts`` without any
        manipulation (condition none), as :meth:`_score` gives them (the precision check,
        :mod:`emostat.collect.precision`)."""
        return self._score(task, concept, texts, None, {})

    def _score(self, task, concept, texts, masks, ablate):
        """Raw predictions, candidate log-probs and generated texts of one batch.

        Binary: yes/no for ``concept`` (its word in the prompt); choice: the concept whose word
        scores highest (multi-token words: summed log-probabilities); generate: the concept
        whose word the answer names first."""
        spec = TASKS[task]
        api, lm, n = self.api, self._task_lm(), len(texts)
        prompt, extra = self._prompts_for(task)
        kw = dict(masks=masks, prompt=prompt, batch_size=self.cfg.batch_size,
                  **{"chat": self.cfg.chat, **extra}, **ablate)
        ids = spec.candidates(self.space)
        if spec.per_concept:
            if self.cfg.representation == "prompt_tuning":
                from emostat.collect import prompt_mode

                s = prompt_mode.score_binary(self, concept, texts, masks, ablate)   # [no, yes]
            else:
                s = np.asarray(api.score_binary(lm, texts, self.space.words[concept], **kw),
                               float)
            return ([ids[1] if y else ids[0] for y in s[:, 1] > s[:, 0]],
                    [list(map(float, r)) for r in s], [None] * n)
        words = [self.space.words[c] for c in ids]
        if spec.calibration:
            s = np.asarray(api.score_choices(lm, texts, words, **kw), float)
            return ([ids[j] for j in s.argmax(axis=1)], [list(map(float, r)) for r in s],
                    [None] * n)
        gen = api.generate(lm, texts, max_new_tokens=self.cfg.max_new_tokens, **kw)
        by_word = dict(zip(words, ids))
        parsed = [api.parse_label(g, words) for g in gen]
        return [by_word.get(p) for p in parsed], [None] * n, list(gen)


def grouped_batches(keys, order, size: int):
    """``(key, rows)`` batches of at most ``size`` row indices, taken in ``order`` and each
    within one key (binary batches share the concept asked about); keys in order of first
    appearance."""
    groups: dict = {}
    for r in order:
        groups.setdefault(keys[r], []).append(r)
    for g, rows in groups.items():
        for lo in range(0, len(rows), size):
            yield g, rows[lo:lo + size]


def head_users(cfg: CollectConfig) -> list[str]:
    """What uses the model's language-model head: the tasks that need it, and prompt tuning."""
    return ([t for t in cfg.tasks if TASKS[t].needs_head]
            + (["prompt_tuning"] if cfg.representation == "prompt_tuning" else []))


def check_model_for_tasks(cfg: CollectConfig, lm) -> None:
    """Refuse a task the loaded model cannot do (a decoder-only task on an encoder)."""
    for t in cfg.tasks:
        if TASKS[t].decoder_only and getattr(lm, "kind", "causal") != "causal":
            raise InputError(f"config field 'tasks': {t!r} needs a decoder model; "
                             f"{cfg.model!r} is an encoder ({lm.kind})")


class PreloadedAPI:
    """A model API whose load_model returns the model the driver already loaded."""

    def __init__(self, api, lm):
        self.api, self.model = api, lm

    def __getattr__(self, name):
        return getattr(self.api, name)

    def load_model(self, *args, **kwargs):
        return self.model

