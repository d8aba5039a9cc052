"""Soft-prompt tuning per emotion binary task, as in the study (frozen backbone, trainable prompt).

Input layouts (``P`` = the trainable [n_tokens, hidden] prompt, ``E(.)`` = the model's embeddings):

- masked-LM encoders (the study): ``E(<mask>) + P + E(tokens of text)`` where the text tokens carry
  the tokenizer's own ``<s> ... </s>``; the verbalizer reads the MLM logits at position 0 for
  "negative"/"positive".
- decoders: ``P + E(text + question)``, left-padded; the verbalizer reads the next-token logits of
  "no"/"yes" at the last position.

The study reads a prompt's representation with the prompt alone (text = ``<s>``) at position 0:
:func:`prompt_activations`. For decoders the prompt alone is read at its last position.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from emostat.collect.hooks import ablate, capture
from emostat.collect.tasks import DEFAULT_VERBALIZER, check_texts, rows_masks, verbalizer_ids
from emostat.errors import InputError

DEFAULT_QUESTION = "\nQuestion: does this text express {emotion}? Answer yes or no.\nAnswer:"


def _embeddings(lm):
    return lm.model.get_input_embeddings()


def _mlm_head(model):
    """The MLM head as a module on hidden states, when the model has a single one."""
    for name in ("lm_head", "cls"):                   # RoBERTa-like, BERT-like
        head = getattr(model, name, None)
        if head is not None:
            return head
    return None


def _build(lm, prompts, texts, emotion, question):
    """inputs_embeds [B, S, H], attention_mask [B, S], answer position per row (int or -1).

    ``prompts`` is [n_tokens, H] (shared) or [B, n_tokens, H].
    """
    tok = lm.tokenizer
    emb = _embeddings(lm)
    dev = emb.weight.device
    B = len(texts)
    P = prompts if prompts.dim() == 3 else prompts[None].expand(B, -1, -1)
    P = P.to(dev, emb.weight.dtype)
    n = P.shape[1]
    if lm.kind == "mlm":
        if tok.mask_token_id is None:
            raise InputError(f"{lm.name}: prompt tuning of a masked LM needs a mask token")
        ids = [tok(t)["input_ids"] if isinstance(t, str) else list(t) for t in texts]
        width = max(len(i) for i in ids)
        pad = tok.pad_token_id or 0
        text_ids = torch.full((B, width), pad, dtype=torch.long)
        text_mask = torch.zeros((B, width), dtype=torch.long)
        for r, i in enumerate(ids):
            text_ids[r, :len(i)] = torch.tensor(i)
            text_mask[r, :len(i)] = 1
        mask_emb = emb(torch.full((B, 1), tok.mask_token_id, device=dev))
        x = torch.cat([mask_emb, P, emb(text_ids.to(dev))], 1)
        am = torch.cat([torch.ones((B, 1 + n), dtype=torch.long), text_mask], 1)
        return x, am.to(dev), 0
    # decoder: [pads] P text question  (left padding so the answer slot is the last position)
    q = [question.format(emotion=e) for e in emotion] if question else [""] * B
    ids = [tok((" " + t if t else "") + qq, add_special_tokens=False)["input_ids"]
           if isinstance(t, str) else list(t) for t, qq in zip(texts, q)]
    width = max(len(i) for i in ids)
    pad = tok.pad_token_id or 0
    text_ids = torch.full((B, width), pad, dtype=torch.long)
    am = torch.zeros((B, n + width), dtype=torch.long)
    for r, i in enumerate(ids):
        if i:
            text_ids[r, width - len(i):] = torch.tensor(i)
        am[r, width - len(i):] = 1
    # move each row's padding in front of the prompt: build row by row
    rows = []
    for r in range(B):
        k = width - len(ids[r])
        rows.append(torch.cat([emb(text_ids[r, :k].to(dev)), P[r], emb(text_ids[r, k:].to(dev))]))
    return torch.stack(rows), am.to(dev), -1


def _answer_logits(lm, x, am, where):
    """[B, vocab] logits at the answer slot."""
    if lm.kind == "mlm":
        head = _mlm_head(lm.model)
        if head is not None:                             # compute the head at position 0 only
            hidden = lm.model.base_model(inputs_embeds=x, attention_mask=am).last_hidden_state
            return head(hidden[:, where])
        return lm.model(inputs_embeds=x, attention_mask=am).logits[:, where]
    pos = (am.cumsum(-1) - 1).clamp(min=0)
    return lm.model(inputs_embeds=x, attention_mask=am, position_ids=pos,
                    logits_to_keep=1, use_cache=False).logits[:, -1]


def _verbalizer(lm, verbalizer):
    neg, pos = verbalizer or DEFAULT_VERBALIZER[lm.kind]
    return [verbalizer_ids(lm, neg), verbalizer_ids(lm, pos)]


def _two_logits(logits, ids):
    return torch.stack([torch.logsumexp(logits[:, i].float(), 1) for i in ids], 1)


def _emotions(emotion, n):
    if emotion is None or isinstance(emotion, str):
        return [emotion or ""] * n
    emotion = list(emotion)
    if len(emotion) != n:
        raise InputError(f"emotion: {len(emotion)} emotions for {n} texts")
    return emotion


def train_soft_prompt(lm, texts, labels, n_tokens=100, steps=300, lr=0.03, seed=0,
                      batch_size=16, emotion=None, question=DEFAULT_QUESTION, verbalizer=None,
                      weight_decay=0.0, history=None, progress=None) -> torch.Tensor:
    """Train one soft prompt for a binary task with the backbone frozen.

    Parameters
    ----------
    lm : LoadedModel
    texts : list of str
    labels : array-like of 0/1 (1 = the text carries the emotion)
    n_tokens : int
        Prompt length (the study: 100).
    steps, lr, batch_size, weight_decay : optimisation (AdamW on the prompt only; mini-batches
        drawn by a seeded shuffle; the model stays in eval mode, so no dropout).
    seed : int
        Seeds the initialisation (embeddings of random vocabulary tokens) and the batch order.
    emotion, question : decoders only: the question appended to each text (``{emotion}`` filled).
    verbalizer : (negative word, positive word), optional
    history : list, optional
        Receives the training loss of every step.

    Returns
    -------
    torch.Tensor, float32, shape (n_tokens, hidden), on the CPU
    """
    texts = check_texts(texts)
    y = torch.as_tensor(np.asarray(labels)).long().reshape(-1)
    if len(y) != len(texts):
        raise InputError(f"labels: {len(y)} labels for {len(texts)} texts")
    if not set(y.tolist()) <= {0, 1}:
        raise InputError("labels: expected 0/1")
    if n_tokens < 1 or steps < 0 or batch_size < 1:
        raise InputError("n_tokens, batch_size must be >= 1 and steps >= 0")
    emotions = _emotions(emotion, len(texts))
    ids = _verbalizer(lm, verbalizer)
    emb = _embeddings(lm)
    g = torch.Generator().manual_seed(int(seed))
    init_ids = torch.randint(0, emb.weight.shape[0], (n_tokens,), generator=g)
    prompt = torch.nn.Parameter(emb.weight[init_ids.to(emb.weight.device)].detach().float().clone())
    opt = torch.optim.AdamW([prompt], lr=lr, weight_decay=weight_decay)
    frozen = {p: p.requires_grad for p in lm.model.parameters()}
    was_training = lm.model.training
    try:
        for p in frozen:
            p.requires_grad_(False)
        lm.model.eval()
        order = torch.empty(0, dtype=torch.long)
        for _ in range(int(steps)):
            if len(order) < batch_size:
                order = torch.cat([order, torch.randperm(len(texts), generator=g)])
            idx, order = order[:batch_size], order[batch_size:]
            x, am, where = _build(lm, prompt, [texts[i] for i in idx],
                                  [emotions[i] for i in idx], question)
            logits = _two_logits(_answer_logits(lm, x, am, where), ids)
            loss = torch.nn.functional.cross_entropy(logits, y[idx].to(logits.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if history is not None:
                history.append(float(loss.detach()))
            if progress is not None:
                progress.update(1)
    finally:
        for p, flag in frozen.items():
            p.requires_grad_(flag)
        lm.model.train(was_training)
    return prompt.detach().float().cpu()


def soft_prompt_scores(lm, soft_prompt, texts, masks=None, mode="zero", means=None,
                       emotion=None, question=DEFAULT_QUESTION, verbalizer=None,
                       batch_size=16) -> np.ndarray:
    """Verbalizer logits of a trained soft prompt on texts, optionally with neurons silenced.

    Returns
    -------
    numpy.ndarray, float32, shape (n_texts, 2)
        Column 0: negative ("no"), column 1: positive ("yes").
    """
    texts = check_texts(texts)
    emotions = _emotions(emotion, len(texts))
    ids = _verbalizer(lm, verbalizer)
    m = rows_masks(masks, len(texts), lm.site.n_neurons)
    out = np.empty((len(texts), 2), dtype=np.float32)
    for lo in range(0, len(texts), batch_size):
        hi = min(len(texts), lo + batch_size)
        mm = None if m is None else (m if m.shape[0] == 1 else m[lo:hi])
        ctx = nullcontext() if mm is None else ablate(lm.model, lm.site, mm, mode=mode,
                                                     means=means)
        with torch.no_grad(), ctx:
            x, am, where = _build(lm, soft_prompt, texts[lo:hi], emotions[lo:hi], question)
            out[lo:hi] = _two_logits(_answer_logits(lm, x, am, where), ids).cpu().numpy()
    return out


def prompt_activations(lm, soft_prompt, text_ids=None) -> np.ndarray:
    """Neuron activations of soft prompt(s) read as in the study.

    MLM: input ``E(<mask>) + P + E(<s>)`` (the prompt alone, text = ``<s>``), read at position 0.
    Decoders: input ``P`` alone, read at its last position.

    Parameters
    ----------
    soft_prompt : Tensor [n_tokens, hidden] or [n_prompts, n_tokens, hidden]
    text_ids : list of int, optional
        Token ids standing for the text (default: ``[<s>]``, the BOS/CLS token).

    Returns
    -------
    numpy.ndarray, float32, shape (n_neurons,) or (n_prompts, n_neurons), layer-major.
    """
    P = torch.as_tensor(soft_prompt)
    single = P.dim() == 2
    P = P[None] if single else P
    tok = lm.tokenizer
    B = P.shape[0]
    with torch.no_grad():
        if lm.kind == "mlm":
            if text_ids is None:
                start = tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id
                text_ids = [start]
            x, am, where = _build(lm, P, [list(text_ids)] * B, None, None)
            pos = torch.full((B,), where, dtype=torch.long)
        else:
            emb = _embeddings(lm)
            x = P.to(emb.weight.device, emb.weight.dtype)
            am = torch.ones(x.shape[:2], dtype=torch.long, device=x.device)
            pos = torch.full((B,), x.shape[1] - 1, dtype=torch.long)
        with capture(lm.model, lm.site, positions=pos) as acts:
            if lm.kind == "mlm":
                lm.model.base_model(inputs_embeds=x, attention_mask=am)
            else:
                lm.model(inputs_embeds=x, attention_mask=am, logits_to_keep=1, use_cache=False)
    out = torch.cat([acts[i].float() for i in range(lm.site.n_layers)], 1).cpu().numpy()
    return out[0] if single else out
