"""Batched tasks on a loaded model, optionally with neurons silenced PER ROW.

Every task takes ``masks``: None (no manipulation), a bool array [n_neurons] applied to all rows, or
[n_items, n_neurons] with one row per item, so many ablation conditions run in one forward pass
(repeat the texts once per condition and stack the condition masks). ``mode``/``means`` choose zero
or mean ablation (see :func:`emostat.collect.hooks.ablate`).

Prompts are given as a template string (``{text}``, ``{emotion}``, ``{choices}``, ``{mask}`` for the
MLM mask token) or a callable returning the prompt. For decoders with a chat template, the prompt is
wrapped as the user turn (``chat=None`` = automatic; ``chat=False`` sends it raw).
"""

from __future__ import annotations

import re
from contextlib import nullcontext

import numpy as np
import torch

from emostat.collect.hooks import ablate, capture
from emostat.collect.forward import cache_kwarg as _cache_kwarg
from emostat.collect.forward import cache_of as _cache_of
from emostat.collect.forward import device as _device
from emostat.collect.forward import forward as _forward
from emostat.collect.prefix import prompt_forward, store_for
from emostat.errors import InputError

DEFAULT_BINARY = {
    "mlm": "{text} Is this {emotion}? {mask}.",
    "causal": "{text}\nQuestion: does this text express {emotion}? Answer yes or no.\nAnswer:",
}
DEFAULT_CHOICES = {
    "mlm": "{text} The emotion expressed here is {mask}.",
    "causal": "{text}\nWhich emotion does this text express? Choose one of: {choices}.\nEmotion:",
}
DEFAULT_VERBALIZER = {"mlm": ("negative", "positive"), "causal": ("no", "yes")}
MAX_NEW_TOKENS = 256


# ---------------------------------------------------------------- prompts and batches

def check_texts(texts, name="texts"):
    if isinstance(texts, str):
        raise InputError(f"{name}: expected a list of strings, got one string")
    texts = list(texts)
    if not texts:
        raise InputError(f"{name}: empty input (no items)")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputError(f"{name}: item {i} is {type(t).__name__}, not a string")
    return texts


def _use_chat(lm, chat):
    if chat is None:
        return lm.kind == "causal" and bool(getattr(lm.tokenizer, "chat_template", None))
    return bool(chat)


def format_prompt(lm, prompt, chat=None, **fields) -> str:
    """Fill ``prompt`` (template string or callable) and wrap it as a chat turn when asked.

    Callables receive the fields as keyword arguments. ``{mask}`` becomes the tokenizer's mask
    token. With ``chat`` the text becomes the user turn followed by the assistant prefix.
    """
    mask = getattr(lm.tokenizer, "mask_token", None) or ""
    if callable(prompt):
        text = prompt(**fields)
    else:
        try:
            text = prompt.format(mask=mask, **fields)
        except (KeyError, IndexError) as exc:
            raise InputError(f"prompt template {prompt!r}: unknown placeholder {exc}") from None
    if _use_chat(lm, chat):
        text = lm.tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                                tokenize=False, add_generation_prompt=True)
    return text


def rows_masks(masks, n, n_neurons):
    """Masks as a bool tensor [n, n_neurons] or [1, n_neurons] (or None)."""
    if masks is None:
        return None
    m = torch.as_tensor(np.asarray(masks)) if not torch.is_tensor(masks) else masks
    if m.dtype != torch.bool:
        raise InputError(f"masks: expected booleans, got {m.dtype}")
    if m.dim() == 1:
        m = m[None]
    if m.dim() != 2 or m.shape[1] != n_neurons or m.shape[0] not in (1, n):
        raise InputError(f"masks: expected [n_neurons] or [n_items, n_neurons] = [{n}, "
                         f"{n_neurons}], got {tuple(m.shape)}")
    return m


def _slice(m, lo, hi):
    if m is None:
        return None
    return m if m.shape[0] == 1 else m[lo:hi]


def _manipulated(lm, m, mode, means):
    if m is None:
        return nullcontext(None)
    return ablate(lm.model, lm.site, m, mode=mode, means=means)


def _encode(lm, prompts, side, **kw):
    tok = lm.tokenizer
    old = tok.padding_side
    tok.padding_side = side
    try:
        enc = tok(prompts, return_tensors="pt", padding=True, **kw)
    finally:
        tok.padding_side = old
    return enc


def _batches(n, batch_size):
    if batch_size < 1:
        raise InputError(f"batch_size: expected a positive integer, got {batch_size}")
    for lo in range(0, n, batch_size):
        yield lo, min(n, lo + batch_size)


# ---------------------------------------------------------------- activations

def _word_weights(lm, prompts, words, enc):
    """[batch, seq] weights averaging the tokens that overlap words[i] inside prompts[i]."""
    offsets = enc["offset_mapping"]
    w = torch.zeros(offsets.shape[:2])
    for i, (p, word) in enumerate(zip(prompts, words)):
        start = p.lower().find(str(word).lower())
        if not word or start < 0:
            raise InputError(f"words: row {i}: {word!r} does not occur in its prompt {p!r}")
        end = start + len(word)
        s, e = offsets[i, :, 0], offsets[i, :, 1]
        hit = (e > start) & (s < end) & (e > s) & enc["attention_mask"][i].bool()
        if not hit.any():
            raise InputError(f"words: row {i}: no token covers {word!r}")
        w[i, hit] = 1.0 / hit.sum()
    return w


def concept_activations(lm, prompts, position="last", words=None, batch_size=16, masks=None,
                        mode="zero", means=None, progress=None) -> np.ndarray:
    """Activations of every FFN neuron for each prompt, read at one position.

    Parameters
    ----------
    lm : LoadedModel
    prompts : list of str
        Full prompt strings (no chat wrapping is added).
    position : {"last", "mask", "word"}
        "last": last non-padding token; "mask": the (single) mask token of an MLM prompt;
        "word": mean over the tokens of ``words[i]`` inside ``prompts[i]``.
    words : list of str, optional
        Needed for ``position="word"``.
    masks, mode, means : optional ablation during the forward (see module docstring).

    Returns
    -------
    numpy.ndarray, float32, shape (n_prompts, n_layers * n_units)
        Layer-major: column ``layer * n_units + unit``.
    """
    prompts = check_texts(prompts, "prompts")
    if position not in ("last", "mask", "word"):
        raise InputError(f"position: expected 'last', 'mask' or 'word', got {position!r}")
    if position == "word":
        if words is None or len(words) != len(prompts):
            raise InputError("words: position='word' needs one word per prompt")
    if position == "mask" and getattr(lm.tokenizer, "mask_token_id", None) is None:
        raise InputError(f"position: 'mask' needs a masked-LM tokenizer; {lm.name} has no "
                         "mask token")
    site = lm.site
    m = rows_masks(masks, len(prompts), site.n_neurons)
    out = np.empty((len(prompts), site.n_neurons), dtype=np.float32)
    for lo, hi in _batches(len(prompts), batch_size):
        batch = prompts[lo:hi]
        enc = _encode(lm, batch, "right", return_offsets_mapping=(position == "word"))
        am = enc["attention_mask"]
        if position == "last":
            pos = am.sum(1) - 1
        elif position == "mask":
            is_mask = enc["input_ids"] == lm.tokenizer.mask_token_id
            bad = (is_mask.sum(1) != 1).nonzero().flatten().tolist()
            if bad:
                raise InputError(f"prompts: row {lo + bad[0]} must hold exactly one mask token "
                                 f"{lm.tokenizer.mask_token!r}")
            pos = is_mask.float().argmax(1)
        else:
            pos = _word_weights(lm, batch, words[lo:hi], enc)
        with torch.no_grad(), _manipulated(lm, _slice(m, lo, hi), mode, means), \
                capture(lm.model, site, positions=pos) as acts:
            if lm.kind == "causal":
                _forward(lm, enc["input_ids"], am, logits_to_keep=1, use_cache=False)
            else:                                  # encoder only: the MLM head is not needed
                dev = _device(lm)
                lm.model.base_model(input_ids=enc["input_ids"].to(dev), attention_mask=am.to(dev))
        out[lo:hi] = torch.cat([acts[i].float() for i in range(site.n_layers)], 1).cpu().numpy()
        if progress is not None:
            progress.update(hi - lo)
    return out


# ---------------------------------------------------------------- binary verbalizer

def verbalizer_ids(lm, word: str) -> list[int]:
    """Single-token ids of a verbalizer word's variants (word, " word", Word, " Word").

    When no variant is a single token, the first token of " word" is used.
    """
    ids = []
    for v in dict.fromkeys([word, " " + word, word.capitalize(), " " + word.capitalize()]):
        t = lm.tokenizer(v, add_special_tokens=False)["input_ids"]
        if len(t) == 1 and t[0] not in ids and t[0] != lm.tokenizer.unk_token_id:
            ids.append(t[0])
    if not ids:
        ids = [lm.tokenizer(" " + word, add_special_tokens=False)["input_ids"][0]]
    return ids


def score_binary(lm, texts, emotion, masks=None, prompt=None, verbalizer=None, batch_size=16,
                 mode="zero", means=None, chat=None, progress=None, prefix=None) -> np.ndarray:
    """The study's verbalizer: logits of the negative and positive answer per text.

    MLM: logits at the mask token for "negative"/"positive"; decoder: next-token logits of
    "no"/"yes" after the prompt. Each answer's logit is the log-sum-exp over its single-token
    variants (word, " word", Word, " Word"), so the difference is a log-odds whatever the casing.

    Parameters
    ----------
    texts : list of str
    emotion : str or list of str (one per text)
    prompt : template string with {text}, {emotion} (and {mask} for MLMs) or callable
        ``prompt(text=..., emotion=...)``; default :data:`DEFAULT_BINARY`.
    verbalizer : (negative word, positive word), optional
    prefix : bool or None
        Decoders: run the prompts' shared leading tokens once per mask
        (:mod:`emostat.collect.prefix`; same decisions, log-probs equal up to float32
        rounding). None (default): for float32/float64 models only; False runs every prompt
        whole; True also in reduced precision.

    Returns
    -------
    numpy.ndarray, float32, shape (n_texts, 2)
        Column 0: negative ("no"), column 1: positive ("yes").
    """
    texts = check_texts(texts)
    emotions = [emotion] * len(texts) if isinstance(emotion, str) else list(emotion)
    if len(emotions) != len(texts):
        raise InputError(f"emotion: {len(emotions)} emotions for {len(texts)} texts")
    prompt = DEFAULT_BINARY[lm.kind] if prompt is None else prompt
    neg, pos = verbalizer or DEFAULT_VERBALIZER[lm.kind]
    ids = [verbalizer_ids(lm, neg), verbalizer_ids(lm, pos)]
    prompts = [format_prompt(lm, prompt, chat, text=t, emotion=e) for t, e in zip(texts, emotions)]
    m = rows_masks(masks, len(texts), lm.site.n_neurons)
    out = np.empty((len(texts), 2), dtype=np.float32)
    store = store_for(lm, prefix, lambda t: format_prompt(lm, prompt, chat, text=t,
                                                       emotion=emotions[0] if emotions else ""))
    for lo, hi in _batches(len(texts), batch_size):
        logits = _next_logits(lm, prompts[lo:hi], _slice(m, lo, hi), mode, means, lo, store)
        for j in range(2):
            out[lo:hi, j] = torch.logsumexp(logits[:, ids[j]].float(), 1).cpu().numpy()
        if progress is not None:
            progress.update(hi - lo)
    return out


def _next_logits(lm, prompts, m, mode, means, lo=0, store=None):
    """[batch, vocab] logits of the answer slot: the mask token (MLM) or the next token."""
    with torch.no_grad(), _manipulated(lm, m, mode, means) as handle:
        if lm.kind == "causal":
            enc = _encode(lm, prompts, "left")
            res, _ = prompt_forward(lm, enc, m, mode, means, handle, store, use_cache=False)
            return res.logits[:, -1]
        enc = _encode(lm, prompts, "right")
        is_mask = enc["input_ids"] == lm.tokenizer.mask_token_id
        bad = (is_mask.sum(1) != 1).nonzero().flatten().tolist()
        if bad:
            raise InputError(f"prompt: row {lo + bad[0]} must hold exactly one mask token")
        logits = _forward(lm, enc["input_ids"], enc["attention_mask"]).logits
        return logits[is_mask]


# ---------------------------------------------------------------- multiple choice

def _choice_ids(lm, choices, leading_space):
    tok = lm.tokenizer
    out = []
    for c in choices:
        ids = tok((" " + c) if leading_space else c, add_special_tokens=False)["input_ids"]
        if not ids:
            raise InputError(f"choices: {c!r} encodes to no tokens")
        out.append(ids)
    return out


def score_choices(lm, texts, choices, masks=None, prompt=None, batch_size=8, mode="zero",
                  means=None, chat=None, progress=None, max_rows=256,
                  legacy=False, prefix=None) -> np.ndarray:
    """Summed log-probability of each choice word continuing each prompt.

    Decoders: the prompt runs once per text (batched, left-padded, only the last position's
    logits kept); they give every choice's first token. Only choices of two or more tokens need
    more: the prompt's key/value cache is shared by those choices, whose remaining tokens run in
    one batched forward, and their log-probabilities are summed. When every choice is a single
    token the scores come from that one forward. A choice starts with a space unless the prompt
    ends in a newline (chat assistant turns). MLMs: the ``{mask}`` slot is filled with as many
    mask tokens as the word has and the per-mask log-probabilities are summed (one forward per
    word length). ``max_rows`` bounds texts x continued choices per decoder forward (memory of
    the vocabulary logits). ``legacy=True`` runs the earlier path (every choice continued, the
    batch cut to ``max_rows // n_choices`` texts); kept as the benchmark's baseline.
    ``prefix`` (decoders): the prompts' shared leading tokens run once per mask
    (:mod:`emostat.collect.prefix`); None (default) for float32/float64 models only, where
    the decisions are those of whole prompts; False runs every prompt whole; True also in
    reduced precision.

    Returns
    -------
    numpy.ndarray, float32, shape (n_texts, n_choices)
    """
    texts = check_texts(texts)
    choices = check_texts(choices, "choices")
    if len(set(choices)) != len(choices):
        raise InputError("choices: duplicated choice")
    prompt = DEFAULT_CHOICES[lm.kind] if prompt is None else prompt
    joined = ", ".join(choices)
    prompts = [format_prompt(lm, prompt, chat, text=t, choices=joined) for t in texts]
    m = rows_masks(masks, len(texts), lm.site.n_neurons)
    out = np.empty((len(texts), len(choices)), dtype=np.float32)
    if lm.kind == "causal":
        n_cont = len(choices) if legacy else max(1, _n_multi(lm, prompts, choices))
        batch_size = max(1, min(batch_size, max_rows // n_cont))
    store = store_for(lm, prefix,
                      lambda t: format_prompt(lm, prompt, chat, text=t, choices=joined))
    for lo, hi in _batches(len(texts), batch_size):
        mm = _slice(m, lo, hi)
        if lm.kind == "causal":
            out[lo:hi] = _choices_causal(lm, prompts[lo:hi], choices, mm, mode, means,
                                         only_multi=not legacy, store=store)
        else:
            out[lo:hi] = _choices_mlm(lm, prompts[lo:hi], choices, mm, mode, means, lo)
        if progress is not None:
            progress.update(hi - lo)
    return out


def _n_multi(lm, prompts, choices) -> int:
    """Number of choices that encode to more than one token (after any of the prompts)."""
    nls = {p.endswith("\n") for p in prompts}
    return max(sum(len(ids) > 1 for ids in _choice_ids(lm, choices, leading_space=not nl))
               for nl in nls)


def _choices_causal(lm, prompts, choices, m, mode, means, only_multi=True, store=None):
    ends_newline = [p.endswith("\n") for p in prompts]
    prompts = [p if nl else p.rstrip(" ") for p, nl in zip(prompts, ends_newline)]
    B, C = len(prompts), len(choices)
    cids = {nl: _choice_ids(lm, choices, leading_space=not nl) for nl in set(ends_newline)}
    # choices whose later tokens must run (all of them on the legacy path)
    cont_c = [c for c in range(C)
              if not only_multi or any(len(cids[nl][c]) > 1 for nl in cids)]
    enc = _encode(lm, prompts, "left")
    am = enc["attention_mask"]
    dev = _device(lm)
    need_cache = any(len(cids[nl][c]) > 1 for nl in cids for c in cont_c)
    with torch.no_grad(), _manipulated(lm, m, mode, means) as handle:
        res, am = prompt_forward(lm, enc, m, mode, means, handle, store, need_cache)
        first = torch.log_softmax(res.logits[:, -1].float(), -1)            # [B, V]
        scores = torch.stack([first[b, [cids[ends_newline[b]][c][0] for c in range(C)]]
                              for b in range(B)])                           # [B, C]
        # continuation rows (b, c): tokens 0..T-2 of choice c predict tokens 1..T-1
        C = len(cont_c)
        rows = [cids[ends_newline[b]][c] for b in range(B) for c in cont_c]
        T = max((len(r) for r in rows), default=1)
        if T > 1:
            pad = lm.tokenizer.pad_token_id or 0
            cont = torch.full((B * C, T - 1), pad, dtype=torch.long)
            cmask = torch.zeros((B * C, T - 1), dtype=torch.long)
            for r, ids in enumerate(rows):
                cont[r, :len(ids) - 1] = torch.tensor(ids[:-1])
                cmask[r, :len(ids) - 1] = 1
            cache = _cache_of(res)
            cache.batch_repeat_interleave(C)
            full_mask = torch.cat([am.repeat_interleave(C, 0), cmask], 1)
            pos = (full_mask.cumsum(-1) - 1).clamp(min=0)[:, am.shape[1]:]
            if handle is not None and m.shape[0] > 1:
                handle.set_masks(m.repeat_interleave(C, 0))
            logits = lm.model(input_ids=cont.to(dev), attention_mask=full_mask.to(dev),
                              position_ids=pos.to(dev), use_cache=False,
                              **{_cache_kwarg(lm.model): cache}).logits
            # log p(token) = logit - logsumexp(logits); no full log-softmax copy of [B*C, T-1, V]
            targets = torch.zeros((B * C, T - 1), dtype=torch.long)
            for r, ids in enumerate(rows):
                targets[r, :len(ids) - 1] = torch.tensor(ids[1:])
            lp = (logits.gather(-1, targets.to(logits.device)[..., None])[..., 0].float()
                  - torch.logsumexp(logits.float(), -1))                    # [B*C, T-1]
            extra = (lp * cmask.to(lp.device)).sum(1).cpu()
            scores[:, cont_c] += extra.reshape(B, C).to(scores.device)
    return scores.cpu().numpy()


def _choices_mlm(lm, prompts, choices, m, mode, means, lo):
    tok = lm.tokenizer
    if tok.mask_token is None:
        raise InputError(f"{lm.name}: a masked LM needs a mask token")
    cids = _choice_ids(lm, choices, leading_space=True)
    out = np.empty((len(prompts), len(choices)), dtype=np.float32)
    for length in sorted({len(c) for c in cids}):
        filled = []
        for i, p in enumerate(prompts):
            if p.count(tok.mask_token) != 1:
                raise InputError(f"prompt: row {lo + i} must hold the {{mask}} slot exactly once")
            filled.append(p.replace(tok.mask_token, tok.mask_token * length))
        enc = _encode(lm, filled, "right")
        with torch.no_grad(), _manipulated(lm, m, mode, means):
            logits = _forward(lm, enc["input_ids"], enc["attention_mask"]).logits
        lp = torch.log_softmax(logits.float(), -1)
        is_mask = enc["input_ids"] == tok.mask_token_id
        for i in range(len(prompts)):
            pos = is_mask[i].nonzero().flatten()
            if len(pos) != length:
                raise InputError(f"prompt: row {lo + i}: expected {length} mask tokens after "
                                 f"filling the slot, found {len(pos)}")
            for c, ids in enumerate(cids):
                if len(ids) == length:
                    out[i, c] = lp[i, pos, torch.tensor(ids)].sum().item()
    return out


# ---------------------------------------------------------------- generation

def generate(lm, texts, masks=None, max_new_tokens=12, prompt=None, batch_size=16, mode="zero",
             means=None, chat=None, choices=None, progress=None) -> list[str]:
    """Greedy continuation of each prompt (decoders only), at most ``max_new_tokens`` tokens.

    Parameters
    ----------
    prompt : template with {text} (and {choices} when ``choices`` is given) or callable.

    Returns
    -------
    list of str
        The generated text only (prompt removed, special tokens skipped, stripped).
    """
    texts = check_texts(texts)
    if lm.kind != "causal":
        raise InputError(f"generate: {lm.name} is a masked LM; free generation needs a decoder")
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise InputError(f"max_new_tokens: expected 1..{MAX_NEW_TOKENS}, got {max_new_tokens}")
    prompt = (DEFAULT_CHOICES["causal"] if choices else "{text}") if prompt is None else prompt
    fields = {"choices": ", ".join(choices)} if choices else {}
    prompts = [format_prompt(lm, prompt, chat, text=t, **fields) for t in texts]
    m = rows_masks(masks, len(texts), lm.site.n_neurons)
    tok = lm.tokenizer
    out = []
    for lo, hi in _batches(len(texts), batch_size):
        enc = _encode(lm, prompts[lo:hi], "left")
        dev = _device(lm)
        with torch.no_grad(), _manipulated(lm, _slice(m, lo, hi), mode, means):
            gen = lm.model.generate(input_ids=enc["input_ids"].to(dev),
                                    attention_mask=enc["attention_mask"].to(dev),
                                    max_new_tokens=int(max_new_tokens), do_sample=False,
                                    num_beams=1, pad_token_id=tok.pad_token_id,
                                    temperature=None, top_p=None, top_k=None)
        new = gen[:, enc["input_ids"].shape[1]:]
        out.extend(s.strip() for s in tok.batch_decode(new, skip_special_tokens=True))
        if progress is not None:
            progress.update(hi - lo)
    return out


def parse_label(text, choices) -> str | None:
    """The choice named first in ``text`` (whole word, any case; longest on ties), or None."""
    if not isinstance(text, str):
        return None
    best = None
    for c in choices:
        hit = re.search(r"(?<![A-Za-z])" + re.escape(c) + r"(?![A-Za-z])", text, re.IGNORECASE)
        if hit and (best is None or (hit.start(), -len(c)) < (best[0], -len(best[1]))):
            best = (hit.start(), c)
    return None if best is None else best[1]
