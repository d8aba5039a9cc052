"""Residual-stream vectors of stimuli and steering along them (torch).

- :func:`residual_states`: the residual stream after every layer (the output of each
  transformer block), or the FFN's output (``site="ffn"``: the output of the FFN's output
  projection, before it is added to the stream), averaged over a text's tokens or read at its
  last token.
- :func:`steer`: a context manager whose forward hook adds one vector per batch row to the
  output of one layer; the hook is removed in ``finally``.
- :func:`steering_scores`: the choice task (which of the concepts' words continues the prompt)
  with a scaled direction added at one layer **at the answer position** (the last prompt token).

Scoring under steering: a word's score is the steered log-probability of its first token at the
answer position plus the unsteered log-probability of its remaining tokens given the first. The
prompt before the answer position is computed once per item and its key/value cache shared by
every steering condition, so a condition costs one token's forward instead of the prompt's.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np
import torch

from emostat.collect.forward import cache_kwarg as _cache_kwarg
from emostat.collect.forward import cache_of as _cache_of
from emostat.collect.tasks import DEFAULT_CHOICES, format_prompt
from emostat.errors import InputError


def layer_modules(lm) -> list:
    """The transformer blocks of a loaded model (their outputs are the residual stream)."""
    obj = lm.model.base_model
    for part in lm.site.layers.split("."):
        obj = getattr(obj, part)
    return list(obj)


def _hidden(out):
    return out[0] if isinstance(out, tuple) else out


def _replace(out, h):
    return (h,) + tuple(out[1:]) if isinstance(out, tuple) else h


SITES = ("residual", "ffn")


@contextmanager
def record_layers(lm, layers=None, site: str = "residual"):
    """Record the output of each layer (``residual``: the block, i.e. the residual stream;
    ``ffn``: the FFN's output projection, ``lm.site.module``) during forwards in the block.

    Yields a dict layer -> tensor [batch, seq, d] of the last forward."""
    if site not in SITES:
        raise InputError(f"site: expected one of {SITES}, got {site!r}")
    mods = lm.site.modules(lm.model) if site == "ffn" else layer_modules(lm)
    wanted = range(len(mods)) if layers is None else layers
    got: dict[int, torch.Tensor] = {}
    handles = []

    def make(i):
        def hook(module, args, out):
            got[i] = _hidden(out).detach()
        return hook

    try:
        for i in wanted:
            handles.append(mods[i].register_forward_hook(make(i)))
        yield got
    finally:
        for h in handles:
            h.remove()


def residual_states(lm, texts, position: str = "mean", batch_size: int = 16,
                    layers=None, progress=None, site: str = "residual") -> np.ndarray:
    """Residual stream (or FFN output, ``site="ffn"``) after each layer for each text: float32
    ``[n_layers, n_texts, d]``.

    ``position``: ``"mean"`` over the text's tokens (padding excluded) or ``"last"`` token.
    Texts are encoded as they are (no prompt, no chat template).
    """
    if position not in ("mean", "last"):
        raise InputError(f"position: expected 'mean' or 'last', got {position!r}")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) and t for t in texts):
        raise InputError("texts: expected a non-empty list of non-empty strings")
    n_layers = len(layer_modules(lm))
    layers = list(range(n_layers)) if layers is None else list(layers)
    tok = lm.tokenizer
    dev = next(lm.model.parameters()).device
    # the layers without the output head, which the states do not need (on the embedded
    # model the head over every position took 29% of this forward's time)
    body = getattr(lm.model, "base_model", lm.model)
    out = None
    old = tok.padding_side
    lengths = [len(ids) for ids in tok(texts)["input_ids"]]
    order = np.argsort(lengths, kind="stable")         # batches of similar length: less padding
    try:
        tok.padding_side = "right"
        for lo in range(0, len(texts), batch_size):
            rows = order[lo:lo + batch_size]
            enc = tok([texts[i] for i in rows], return_tensors="pt", padding=True)
            am = enc["attention_mask"]
            with torch.no_grad(), record_layers(lm, layers, site) as got:
                body(input_ids=enc["input_ids"].to(dev), attention_mask=am.to(dev))
            w = am.float()
            if position == "last":
                w = torch.zeros_like(w)
                w[torch.arange(len(am)), am.sum(1) - 1] = 1.0
            w = (w / w.sum(1, keepdim=True)).to(dev)
            block = torch.stack([torch.einsum("bs,bsd->bd", w, got[i].float())
                                 for i in layers]).cpu().numpy()
            if out is None:
                out = np.empty((len(layers), len(texts), block.shape[2]), dtype=np.float32)
            out[:, rows] = block
            if progress is not None:
                progress.update(len(am))
    finally:
        tok.padding_side = old
    return out


@contextmanager
def steer(lm, layer: int, vectors):
    """Add ``vectors`` ([d] for every row, or [batch, d] one per row) to the output of
    ``layer`` at every position of each forward inside the block. Yields a setter
    ``set(vectors)`` for the next forwards."""
    mods = layer_modules(lm)
    if not 0 <= layer < len(mods):
        raise InputError(f"steer: layer {layer} not in 0..{len(mods) - 1}")
    p = next(lm.model.parameters())
    state = {}

    def set_vectors(v):
        v = torch.as_tensor(np.asarray(v), dtype=p.dtype, device=p.device)
        state["v"] = v[None] if v.dim() == 1 else v

    def hook(module, args, out):
        h = _hidden(out)
        v = state["v"]
        if v.shape[0] not in (1, h.shape[0]) or v.shape[1] != h.shape[-1]:
            raise InputError(f"steer: vectors of shape {tuple(v.shape)} for hidden states "
                             f"{tuple(h.shape)}")
        return _replace(out, h + v[:, None, :])

    set_vectors(vectors)
    handle = mods[layer].register_forward_hook(hook)
    try:
        yield set_vectors
    finally:
        handle.remove()


def _word_ids(lm, words, leading_space: bool):
    out = []
    for w in words:
        ids = lm.tokenizer((" " + w) if leading_space else w,
                           add_special_tokens=False)["input_ids"]
        if not ids:
            raise InputError(f"words: {w!r} encodes to no tokens")
        out.append(ids)
    return out


def _forward(lm, ids, cache=None, start=0, mask=None):
    """Forward of token ids [b, t] continuing ``cache`` (positions start..start+t-1)."""
    dev = next(lm.model.parameters()).device
    b, t = ids.shape
    full = torch.ones((b, start + t), dtype=torch.long) if mask is None else mask
    pos = torch.arange(start, start + t)[None].repeat(b, 1)
    kw = {} if cache is None else {_cache_kwarg(lm.model): cache}
    return lm.model(input_ids=ids.to(dev), attention_mask=full.to(dev),
                    position_ids=pos.to(dev), use_cache=True, **kw)


def _rest_logprob(lm, cache, n, ids_per_word):
    """Unsteered log p(tokens 2.. of each word | prompt, token 1), from the prompt's cache."""
    multi = [k for k, ids in enumerate(ids_per_word) if len(ids) > 1]
    rest = np.zeros(len(ids_per_word))
    if not multi:
        return rest
    T = max(len(ids_per_word[k]) for k in multi)
    pad = lm.tokenizer.pad_token_id or 0
    inp = torch.full((len(multi), T - 1), pad, dtype=torch.long)
    tgt = torch.zeros((len(multi), T - 1), dtype=torch.long)
    cm = torch.zeros((len(multi), T - 1), dtype=torch.long)
    for r, k in enumerate(multi):
        ids = ids_per_word[k]
        inp[r, :len(ids) - 1] = torch.tensor(ids[:-1])
        tgt[r, :len(ids) - 1] = torch.tensor(ids[1:])
        cm[r, :len(ids) - 1] = 1
    cache.batch_repeat_interleave(len(multi))
    mask = torch.cat([torch.ones((len(multi), n), dtype=torch.long), cm], 1)
    logits = _forward(lm, inp, cache, start=n, mask=mask).logits.float().cpu()
    lp = torch.log_softmax(logits, -1).gather(-1, tgt[..., None])[..., 0]
    rest[multi] = (lp * cm).sum(1).numpy()
    return rest


def steering_scores(lm, texts, words, layer: int, directions, scales=None, prompt=None,
                    chat=None, chunk: int = 32, progress=None):
    """Scores of every word for every item, unsteered and with each direction added.

    Parameters
    ----------
    texts : the items' texts
    words : the concepts' words (the choice set)
    layer : layer whose output receives the direction, at the answer position only
    directions : array [K, d]: the vectors to add
    scales : sequence of S floats, optional
        Given: each direction is added as ``scale * |h| * direction / |direction|``, with |h|
        the item's residual norm at ``layer`` and the answer position; conditions are scale
        major (``S * K``). None: the directions are added as given (K conditions).
    prompt : choice template with ``{text}`` and ``{choices}`` (default: the causal one of
        :mod:`emostat.collect.tasks`)

    Returns
    -------
    base : ndarray [n_items, n_words] (summed log-probabilities of each word, unsteered)
    steered : ndarray [n_items, K or S * K, n_words]
    answer_norm : ndarray [n_items] (norm of the residual at ``layer``, answer position)
    """
    if lm.kind != "causal":
        raise InputError(f"steering_scores: needs a decoder; {lm.name} is {lm.kind}")
    D = np.asarray(directions, dtype=np.float32)
    if D.ndim != 2:
        raise InputError(f"directions: expected [K, d], got shape {D.shape}")
    prompt = DEFAULT_CHOICES["causal"] if prompt is None else prompt
    joined = ", ".join(words)
    if scales is not None:
        D = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-30)
        S = np.asarray(scales, dtype=np.float32)
    K = D.shape[0] if scales is None else D.shape[0] * len(S)
    base = np.empty((len(texts), len(words)))
    steered = np.empty((len(texts), K, len(words)))
    norms = np.empty(len(texts))
    for t, text in enumerate(texts):
        p = format_prompt(lm, prompt, chat, text=text, choices=joined)
        nl = p.endswith("\n")
        p = p if nl else p.rstrip(" ")
        ids_w = _word_ids(lm, words, leading_space=not nl)
        first = [ids[0] for ids in ids_w]
        ids = torch.tensor(lm.tokenizer(p)["input_ids"])[None]
        n = ids.shape[1]
        with torch.no_grad():
            prefix = _cache_of(_forward(lm, ids[:, :-1]))
            c0 = copy.deepcopy(prefix)
            with record_layers(lm, [layer]) as got:
                lp0 = torch.log_softmax(_forward(lm, ids[:, -1:], c0, n - 1).logits[0, -1]
                                        .float(), -1).cpu().numpy()
            norms[t] = float(got[layer][0, -1].float().norm())
            rest = _rest_logprob(lm, c0, n, ids_w)
            base[t] = lp0[first] + rest
            Dt = D if scales is None else (S[:, None, None] * norms[t] * D[None]).reshape(K, -1)
            with steer(lm, layer, Dt[:1]) as set_vectors:
                for lo in range(0, K, chunk):
                    hi = min(K, lo + chunk)
                    c = copy.deepcopy(prefix)
                    c.batch_repeat_interleave(hi - lo)
                    set_vectors(Dt[lo:hi])
                    logits = _forward(lm, ids[:, -1:].repeat(hi - lo, 1), c, n - 1).logits
                    lp = torch.log_softmax(logits[:, -1].float(), -1).cpu().numpy()
                    steered[t, lo:hi] = lp[:, first] + rest
        if progress is not None:
            progress.update(1)
    return base, steered, norms
