"""The prompts' shared token prefix, run once per condition instead of once per row.

Every prompt of a task starts with the same tokens (the default choice prompt: ``Situation:``,
4 of about 35 tokens on the embedded model). Under a neuron mask those tokens' keys and values
depend only on the mask, so :class:`PrefixCache` keeps them per mask (and mode, means, model
dtype) and each batch runs only the rest of its prompts against them. The layout of a batch is
``[prefix][left padding][rest]`` with the attention mask and positions of the full prompt, so
every real token sees the keys and positions it saw in one forward of the whole prompt: the
numbers equal the full forward's up to rounding (tests/test_prefix.py).

Only the worker's task model holds a cache across batches (``LoadedModel.prefix_cache``); a
direct call of :func:`emostat.collect.tasks.score_choices` shares the prefix within the call.
A model whose key/value cache this module cannot read or build runs the full prompts, and so
does a reduced-precision model unless asked (:func:`store_for`).
"""

from __future__ import annotations

import hashlib
import inspect
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import torch

from emostat.collect.forward import cache_kwarg, cache_of, device, forward


def shared_prefix(ids: list[list[int]]) -> int:
    """Number of leading tokens all rows share, leaving each row at least one token."""
    if not ids:
        return 0
    n = min(len(r) for r in ids) - 1
    first = ids[0]
    for j in range(max(n, 0)):
        t = first[j]
        if any(r[j] != t for r in ids):
            return j
    return max(n, 0)


def template_prefix(lm, make, known: dict | None = None) -> int:
    """Tokens that every prompt ``make(text)`` shares whatever the text: the common prefix of
    two prompts made from unlike texts. It bounds a batch's prefix, so that a batch of one
    text's rows (which share all but their last token) keys the store as every other batch.
    ``known`` keeps the answer per tokenizer and probe prompts (a worker asks once a batch)."""
    tok = lm.tokenizer
    probes = tuple(make(t) for t in ("a", "Z"))
    key = (id(tok), probes)                 # the entry holds tok: its id is not reused
    if known is not None and key in known:
        return known[key][1]
    n = shared_prefix([tok(p)["input_ids"] for p in probes])
    if known is not None:
        known[key] = (tok, n)
    return n


def digest(t) -> str:
    """Short content hash of a tensor or array (the key of a mask row or of the means)."""
    if t is None:
        return "none"
    a = t.detach().cpu().contiguous().numpy() if torch.is_tensor(t) else t
    return hashlib.blake2b(a.tobytes(), digest_size=16).hexdigest()


def layers_of(cache):
    """[(keys, values)] per layer of a Hugging Face key/value cache, or None if unreadable."""
    if cache is None:
        return None
    if hasattr(cache, "layers"):                        # transformers >= 4.56
        out = [(getattr(la, "keys", None), getattr(la, "values", None)) for la in cache.layers]
    elif hasattr(cache, "key_cache"):                   # earlier DynamicCache
        out = list(zip(cache.key_cache, cache.value_cache))
    else:
        return None
    if not out or any(not torch.is_tensor(k) or not torch.is_tensor(v) for k, v in out):
        return None
    return out


def build_cache(model, layers):
    """A DynamicCache holding ``layers`` [(keys, values)], of the model's own layer types."""
    from transformers import DynamicCache

    params = inspect.signature(DynamicCache.__init__).parameters
    if "ddp_cache_data" in params:
        kw = {"config": model.config} if "config" in params else {}
        return DynamicCache(ddp_cache_data=layers, **kw)
    if hasattr(DynamicCache, "from_legacy_cache"):
        return DynamicCache.from_legacy_cache(tuple(layers))
    return None


class PrefixCache:
    """Keys and values of a prompt prefix per (prefix, model, dtype, mode, means, mask).

    ``max_entries`` bounds memory (the embedded model: about 90 kB per mask in bfloat16);
    the oldest entry goes first. ``computed`` and ``reused`` count rows.
    """

    def __init__(self, max_entries: int = 512):
        self.max_entries = max_entries
        self.entries: OrderedDict = OrderedDict()
        self.limits: dict = {}               # template_prefix per tokenizer and template
        self.model_id = None
        self.computed = self.reused = 0

    def _bind(self, model):
        if self.model_id != id(model):       # another model: nothing stored applies to it
            self.entries.clear()
            self.model_id = id(model)

    def rows(self, model, prefix, keys, run):
        """Per-layer (keys, values) for ``len(keys)`` rows. ``run(i)`` computes the entry of
        row ``i`` when it is not stored yet, one row per forward: an entry's numbers never
        depend on which batch first needed it (a resumed run gives the same tables)."""
        self._bind(model)
        p = next(model.parameters())
        base = (tuple(prefix), str(p.dtype), str(p.device))
        full = [base + tuple(k) for k in keys]
        n_new = 0
        for i, k in enumerate(full):
            if k not in self.entries:
                self.entries[k] = [(a.clone(), b.clone()) for a, b in run(i)]
                n_new += 1
        self.computed += n_new
        self.reused += len(full) - n_new
        got = [self.entries[k] for k in full]
        for k in full:
            self.entries.move_to_end(k)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return [(torch.cat([g[la][0] for g in got]), torch.cat([g[la][1] for g in got]))
                for la in range(len(got[0]))]


EXACT_DTYPES = (torch.float32, torch.float64)


class Store(NamedTuple):
    """Where a call's prompt prefixes come from: the cache, and the most tokens it may cover."""

    cache: PrefixCache
    limit: int


def store_for(lm, on, make) -> Store | None:
    """The :class:`Store` for prompts ``make(text)``: the model's own cache (the worker's task
    model), else a new one for one call; None when ``on`` is False or the prompts share no
    leading token (decoders only). ``on=None``: only for a
    float32 or float64 model, where the prefix path gives whole prompts' decisions (its
    log-probs differ by float rounding, about 3e-5). In bfloat16 a batch's shape alone moves
    log-probs by tenths, and the prefix path changed 12 of 459 decisions of whole prompts on
    the embedded model (benchmarks/bench_prefix.py --dtype bfloat16; as often right against
    float32 as whole prompts): there it runs only when asked (``on=True``), so that a
    reduced-precision run keeps the path its precision check vetted."""
    if on is None:
        on = next(lm.model.parameters()).dtype in EXACT_DTYPES
    if not on or getattr(lm, "kind", "causal") != "causal":
        return None
    cache = getattr(lm, "prefix_cache", None) or PrefixCache()
    limit = template_prefix(lm, make, cache.limits)
    return Store(cache, limit) if limit else None


def prompt_forward(lm, enc, m, mode, means, handle, store: Store | None, use_cache):
    """Forward of left-padded decoder prompts keeping the last position's logits.

    With a ``store`` from :func:`store_for`, the prompts' shared leading tokens (at most
    ``store.limit``) come from its cache, computed once per mask (``handle``: the ablation of
    ``m``, or None), and only the rest runs here. Returns the output and the attention mask
    over the whole prompt (prefix included)."""
    ids, am = enc["input_ids"], enc["attention_mask"]
    if store is not None:
        rows = [r[a.bool()].tolist() for r, a in zip(ids, am)]
        n = min(shared_prefix(rows), store.limit)
        if n:
            out = _prefixed(lm, rows, n, m, mode, means, handle, store.cache, use_cache)
            if out is not None:
                return out
    return forward(lm, ids, am, logits_to_keep=1, use_cache=use_cache), am


class _Unreadable(Exception):
    """The model's key/value cache is not one this module can read."""


def _keys(m, mode, means, B):
    """Store key of each row's manipulation: none, or the mode, means and mask row."""
    if m is None:
        return [("none",)] * B
    per = [digest(m[0])] if m.shape[0] == 1 else [digest(r) for r in m]
    means_key = digest(np.asarray(means)) if mode == "mean" else "none"
    return [(mode, means_key, per[0 if len(per) == 1 else b]) for b in range(B)]


def _prefixed(lm, rows, n, m, mode, means, handle, store, use_cache):
    """:func:`prompt_forward`'s prefix path; None when the model's cache cannot be used."""
    prefix, B = rows[0][:n], len(rows)

    dev = device(lm)
    body = getattr(lm.model, "base_model", None) or lm.model   # no output head: keys only

    def run(i):                                 # row i's prefix alone, under row i's mask
        pid = torch.tensor([prefix], device=dev)
        if handle is not None:
            handle.set_masks(m[i:i + 1] if m.shape[0] > 1 else m)
        try:
            res = body(input_ids=pid, attention_mask=torch.ones_like(pid),
                       position_ids=torch.arange(n, device=dev)[None], use_cache=True)
        finally:
            if handle is not None:
                handle.set_masks(m)
        layers = layers_of(cache_of(res))
        if layers is None:
            raise _Unreadable
        return layers

    try:
        cache = build_cache(lm.model, store.rows(lm.model, prefix, _keys(m, mode, means, B), run))
    except _Unreadable:
        return None
    if cache is None:
        return None
    L = max(len(r) - n for r in rows)
    rest = torch.full((B, L), lm.tokenizer.pad_token_id or 0, dtype=torch.long)
    rmask = torch.zeros((B, L), dtype=torch.long)
    for b, r in enumerate(rows):                # left padding between the prefix and the rest
        rest[b, L - (len(r) - n):] = torch.tensor(r[n:])
        rmask[b, L - (len(r) - n):] = 1
    full = torch.cat([torch.ones((B, n), dtype=torch.long), rmask], 1)
    pos = (full.cumsum(-1) - 1).clamp(min=0)[:, n:]
    res = lm.model(input_ids=rest.to(dev), attention_mask=full.to(dev), position_ids=pos.to(dev),
                   logits_to_keep=1, use_cache=use_cache, **{cache_kwarg(lm.model): cache})
    return res, full
