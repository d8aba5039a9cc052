"""Decoder and encoder forwards shared by the task scorers, the prefix cache and the geometry."""

from __future__ import annotations

import inspect


def device(lm):
    """The device of the model's parameters."""
    return next(lm.model.parameters()).device


def forward(lm, input_ids, attention_mask, logits_to_keep=None, **kw):
    """Model forward; decoders get position ids from the attention mask (left padding safe)."""
    dev = device(lm)
    args = {"input_ids": input_ids.to(dev), "attention_mask": attention_mask.to(dev)}
    if lm.kind == "causal":
        pos = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        args["position_ids"] = pos.to(dev)
        if logits_to_keep is not None:
            args["logits_to_keep"] = logits_to_keep
    return lm.model(**args, **kw)


def cache_kwarg(model) -> str:
    """Name of the key/value cache argument: ``cache`` (transformers >= 5.2x) or the older name."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def cache_of(res):
    """The key/value cache a forward returned (``cache`` or ``past_key_values``)."""
    got = res.get("cache")
    return got if got is not None else res.past_key_values
