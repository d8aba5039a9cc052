"""What one inference row costs: prompt tokens and GFLOP, measured on the run's own prompts.

Recorded in the manifest (``cost``) for the design table of the analysis
(:mod:`emostat.analysis.masking.design`), which prices every candidate design in rows and
GFLOP. A row is one item under one condition; its forward pass costs about
``2 x (non-embedding parameters) x tokens`` for the matrix products of the layers, plus the
attention scores (``4 x layers x hidden x tokens^2 / 2``, causal) and the language-model head
at the scored position (``2 x vocabulary x hidden``). Padding and the short continuations of
multi-token words are left out (a few per cent).
"""

from __future__ import annotations

import numpy as np

from emostat.collect.items import task_prompts
from emostat.collect.tasks import format_prompt

__all__ = ["cost_record"]

METHOD = ("2 x non-embedding parameters x prompt tokens + causal attention scores "
          "(2 x layers x hidden x tokens^2) + the LM head at one position; padding and "
          "multi-token continuations left out")


def _params(lm) -> tuple[int, int, int, int]:
    """(non-embedding parameters, layers, hidden size, vocabulary) of a torch model."""
    model = getattr(lm, "model", None)
    cfg = getattr(model, "config", None)
    if model is None or cfg is None:
        return 0, 0, 0, 0
    emb = model.get_input_embeddings()
    n_emb = int(emb.weight.numel()) if emb is not None else 0
    total = int(sum(p.numel() for p in model.parameters()))
    hidden = int(getattr(cfg, "hidden_size", 0) or 0)
    vocab = int(getattr(cfg, "vocab_size", 0) or 0)
    layers = int(getattr(cfg, "num_hidden_layers", 0) or 0)
    head = 0 if getattr(cfg, "tie_word_embeddings", False) else hidden * vocab
    return total - n_emb - head, layers, hidden, vocab


def cost_record(cfg, lm, space, items: dict) -> dict:
    """Per task: ``tokens`` (mean prompt tokens of its items), ``gflop_per_row`` and the
    ``method``; empty for a model without a torch module or tokenizer (test fakes)."""
    tok = getattr(lm, "tokenizer", None)
    body, layers, hidden, vocab = _params(lm)
    if tok is None or not body:
        return {}
    kind = getattr(lm, "kind", "causal")
    mask = tok.mask_token if kind == "mlm" else None
    prompts = task_prompts(space, kind, mask, cfg.choice_prompt)
    out = {}
    for task, df in items.items():
        if task not in prompts or not len(df):
            continue
        prompt, extra = prompts[task]
        chat = extra.get("chat", cfg.chat)
        word = space.words.get(space.concepts[0], space.concepts[0])
        texts = []
        for t in df["text"].astype(str):
            fields = {"text": t}
            if task == "binary":
                fields["emotion"] = word
            elif task == "choice":
                fields["choices"] = ""
            texts.append(format_prompt(lm, prompt, chat, **fields))
        n = np.array([len(tok(x)["input_ids"]) for x in texts], float)
        flop = (2 * body * n + 2 * layers * hidden * n * n + 2 * vocab * hidden)
        out[task] = {"tokens": round(float(n.mean()), 2),
                     "gflop_per_row": round(float(flop.mean()) / 1e9, 3), "method": METHOD}
    return out
