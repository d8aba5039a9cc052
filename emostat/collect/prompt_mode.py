"""Prompt-tuning representation mode of ``emostat collect`` (``representation = "prompt_tuning"``).

The study's concept representations are soft prompts, one per emotion and seed, tuned on the
emotion's binary task with the model frozen. In this mode:

- **stage a** (activations): one shard per seed (template name ``"seed<s>"``). For each of the
  27 emotions the shard trains a soft prompt (:func:`emostat.collect.prompt_tuning.
  train_soft_prompt`: ``pt_tokens`` tokens, ``pt_steps`` AdamW steps at ``pt_lr``, seeded by
  ``s``) on the emotion's balanced binary items (:func:`emostat.collect.stimuli.balanced_binary`
  over the run's stimuli, with the run's ``seed``), saves it to
  ``<out>/soft_prompts/<emotion>-<s>.pt`` (atomic: temporary file + rename; an existing file is
  loaded instead of retrained, so a killed shard resumes) and reads it as in the study
  (:func:`emostat.collect.prompt_tuning.prompt_activations`: MLMs ``[<mask>] + P + [<s>]`` at
  position 0, decoders ``P`` at its last position). Rows: 27 concepts x seeds x layers.
- **inference, binary task**: each item is scored with its emotion's trained prompts
  (:func:`emostat.collect.prompt_tuning.soft_prompt_scores`, the study's verbalizer, the
  condition's neuron mask); the stored ``[no, yes]`` scores are the MEAN over the seeds' prompts
  (one row per item x condition, as in zero-shot runs).
- **choice and generate tasks**: unchanged (zero-shot task prompts); prompt tuning only defines
  the representations and the binary task.

Caveat: the prompts are trained on the same balanced binary items the binary task is then
scored on (no held-out split), so unmanipulated binary accuracy is a training accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from emostat.errors import InputError

FOLDER = "soft_prompts"


def template_names(cfg) -> list[str]:
    """The activation template names of a prompt-tuning run: ``seed<s>`` per configured seed."""
    return [f"seed{s}" for s in cfg.pt_seeds]


def template_record(cfg) -> dict[str, str]:
    """Manifest entry: template name -> how its representation was made."""
    how = (f"soft prompt ({cfg.pt_tokens} tokens, {cfg.pt_steps} steps, lr {cfg.pt_lr}) per "
           f"emotion, seed {{s}}; files {FOLDER}/<emotion>-{{s}}.pt")
    return {name: how.format(s=s) for name, s in zip(template_names(cfg), cfg.pt_seeds)}


def prompt_path(out, emotion: str, seed: int) -> Path:
    """Where the soft prompt of ``emotion`` and ``seed`` is saved in a run folder."""
    return Path(out) / FOLDER / f"{emotion}-{int(seed)}.pt"


def _seed(template: str) -> int:
    if not template.startswith("seed") or not template[4:].isdigit():
        raise InputError(f"activations shard: template {template!r} is not a prompt-tuning seed "
                         f"('seed<int>')")
    return int(template[4:])


def training_items(cfg, emotion: str, sapi=None) -> tuple[list[str], np.ndarray]:
    """Texts and 0/1 labels of ``emotion``'s balanced binary set over the run's stimuli: the
    run's concept space's (or the config's ``stimuli`` file, whose concepts are the space's),
    never another space's. A space without stimuli is refused in one line."""
    from emostat.collect.config import run_space
    from emostat.collect.items import stimuli_api, stimuli_table

    sapi = sapi or stimuli_api(run_space(cfg))
    b = sapi.balanced_binary(stimuli_table(cfg, sapi), emotion, cfg.seed)
    if not len(b):
        raise InputError(f"config field 'stimuli': no item of emotion {emotion!r} to tune its "
                         f"soft prompt on")
    return list(b["text"]), np.array(b["label"], dtype=np.int64)


def trained_prompt(worker, emotion: str, seed: int):
    """The soft prompt of (emotion, seed): loaded from the run folder, or trained and saved.

    Returns
    -------
    torch.Tensor, float32, shape (pt_tokens, hidden)
    """
    import torch

    from emostat.collect.prompt_tuning import train_soft_prompt

    cfg, path = worker.cfg, prompt_path(worker.out, emotion, seed)
    if path.exists():
        return torch.load(path, weights_only=True)
    texts, labels = training_items(cfg, emotion, worker.sapi)
    P = train_soft_prompt(worker.lm, texts, labels, n_tokens=cfg.pt_tokens, steps=cfg.pt_steps,
                          lr=cfg.pt_lr, seed=seed, batch_size=min(cfg.batch_size, 16),
                          emotion=emotion)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(P, tmp)
    os.replace(tmp, path)
    return P


def activations_table(worker, shard) -> pa.Table:
    """Activation rows (schema ``activations``) of one shard's seeds: concepts x layers each.

    Returns
    -------
    pyarrow.Table
        ``model``, ``concept``, ``template`` (``seed<s>``), ``layer``, ``values`` (float32).
    """
    import torch

    from emostat.collect.prompt_tuning import prompt_activations
    from emostat.collect.stages import activation_table

    sizes = worker.identity()["layer_sizes"]
    ids = list(worker.space.concepts)
    parts = []
    for t in shard.templates:
        s = _seed(t)
        P = torch.stack([trained_prompt(worker, e, s) for e in ids])
        parts.append(np.asarray(prompt_activations(worker.lm, P), dtype=np.float32))
    A = np.concatenate(parts) if parts else np.zeros((0, int(sum(sizes))), np.float32)
    return activation_table(worker.model_name(), ids * len(parts),
                            [t for t in shard.templates for _ in ids], A, sizes)


def emotion_prompts(worker, emotion: str) -> list:
    """The trained prompts of ``emotion``, one per seed (read once per worker)."""
    cache = worker.cache.setdefault("soft_prompts", {})
    if emotion not in cache:
        import torch

        missing = [s for s in worker.cfg.pt_seeds
                   if not prompt_path(worker.out, emotion, s).exists()]
        if missing:
            raise InputError(f"{prompt_path(worker.out, emotion, missing[0])}: missing; stage a "
                             f"(activations) must train the soft prompts before inference")
        cache[emotion] = [torch.load(prompt_path(worker.out, emotion, s), weights_only=True)
                          for s in worker.cfg.pt_seeds]
    return cache[emotion]


def score_binary(worker, emotion: str, texts, masks, ablate: dict) -> np.ndarray:
    """Binary-task scores of ``texts`` for ``emotion`` under a condition's masks.

    Returns
    -------
    numpy.ndarray, float64, shape (n_texts, 2)
        ``[no, yes]`` verbalizer scores, the mean over the emotion's seed prompts.
    """
    from emostat.collect.prompt_tuning import soft_prompt_scores

    runs = [soft_prompt_scores(worker.lm, P, list(texts), masks=masks,
                               mode=ablate.get("mode", "zero"), means=ablate.get("means"),
                               emotion=emotion, batch_size=worker.cfg.batch_size)
            for P in emotion_prompts(worker, emotion)]
    return np.mean(np.stack(runs).astype(np.float64), axis=0)
