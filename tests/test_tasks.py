"""Tasks: batched/padded results equal unbatched hand computations; per-row masks; bad input."""

import numpy as np
import pytest
import torch

from emostat.collect.hooks import ablate, capture, count_hooks
from emostat.collect.tasks import (concept_activations, generate, parse_label, score_binary,
                                   score_choices, verbalizer_ids)
from emostat.errors import InputError
from tiny_models import L, U, tiny_lm

TEXTS = ["the dog won the game today .", "she lost my old letter", "i felt joy",
         "after the rain the sun was here and it was a happy day"]


def _acts_alone(lm, prompt):
    """Neuron vectors [seq, n_neurons] of one prompt run alone (no padding)."""
    enc = lm.tokenizer(prompt, return_tensors="pt")
    with torch.no_grad(), capture(lm.model, lm.site) as acts:
        lm.model(**enc)
    return torch.cat([acts[i][0] for i in range(L)], -1), enc["input_ids"][0]


def _next_logits_alone(lm, prompt):
    enc = lm.tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        return lm.model(**enc).logits[0, -1]


@pytest.mark.parametrize("model_type", ["llama", "roberta", "gpt2"])
def test_last_position_activations_equal_unpadded_forward(model_type):
    lm = tiny_lm(model_type)
    got = concept_activations(lm, TEXTS, position="last", batch_size=3)
    assert got.shape == (4, L * U) and got.dtype == np.float32
    for i, t in enumerate(TEXTS):
        ref, _ = _acts_alone(lm, t)
        np.testing.assert_allclose(got[i], ref[-1].numpy(), rtol=1e-5, atol=1e-6)


def test_mask_and_word_positions():
    lm = tiny_lm("roberta")
    prompts = ["the admiration was <mask> .", "i feel <mask> when my friend is happy"]
    got = concept_activations(lm, prompts, position="mask")
    for i, p in enumerate(prompts):
        ref, ids = _acts_alone(lm, p)
        np.testing.assert_allclose(got[i], ref[(ids == 3).nonzero()[0, 0]].numpy(), rtol=1e-5,
                                   atol=1e-6)
    words = ["admiration", "happy"]                    # 3 tokens (ad ##mir ##ation) and 1 token
    got = concept_activations(lm, prompts, position="word", words=words)
    ref, _ = _acts_alone(lm, prompts[0])               # tokens: <s> the ad ##mir ##ation ...
    np.testing.assert_allclose(got[0], ref[2:5].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    ref, ids = _acts_alone(lm, prompts[1])
    happy = ids.tolist().index(lm.tokenizer.convert_tokens_to_ids("happy"))
    np.testing.assert_allclose(got[1], ref[happy].numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="row 1.*'grief'"):
        concept_activations(lm, prompts, position="word", words=["admiration", "grief"])
    with pytest.raises(InputError, match="exactly one mask"):
        concept_activations(lm, ["no mask here"], position="mask")


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "roberta"])
def test_score_binary_equals_verbalizer_logits(model_type):
    lm = tiny_lm(model_type)
    tmpl = ("{text} does this text express {emotion} ? {mask} ." if lm.kind == "mlm"
            else "{text} question : does this text express {emotion} ? answer :")
    got = score_binary(lm, TEXTS, "joy", prompt=tmpl, batch_size=3)
    neg, pos = ("negative", "positive") if lm.kind == "mlm" else ("no", "yes")
    for i, t in enumerate(TEXTS):
        p = tmpl.format(text=t, emotion="joy", mask="<mask>")
        if lm.kind == "mlm":
            enc = lm.tokenizer(p, return_tensors="pt")
            with torch.no_grad():
                logits = lm.model(**enc).logits[0, (enc["input_ids"][0] == 3).nonzero()[0, 0]]
        else:
            logits = _next_logits_alone(lm, p)
        # the tiny vocabulary holds "no"/"No" and "yes"/"Yes"; negative/positive only lower case
        want = [torch.logsumexp(logits[verbalizer_ids(lm, w)], 0).item() for w in (neg, pos)]
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)
    assert len(verbalizer_ids(lm, "yes")) == 2 and len(verbalizer_ids(lm, "positive")) == 1


def test_score_binary_per_row_masks_equal_separate_runs():
    lm = tiny_lm("llama")
    g = torch.Generator().manual_seed(3)
    masks = torch.rand(len(TEXTS), L * U, generator=g) < 0.5
    got = score_binary(lm, TEXTS, "fear", masks=masks, batch_size=4)
    for i in range(len(TEXTS)):
        one = score_binary(lm, TEXTS[i:i + 1], "fear", masks=masks[i])
        np.testing.assert_allclose(got[i], one[0], rtol=1e-5, atol=1e-5)
    plain = score_binary(lm, TEXTS, "fear")
    assert np.abs(got - plain).max() > 1e-4
    assert count_hooks(lm.model) == 0


def _manual_choice_logprob(lm, prompt, word, mask=None):
    """Token-by-token sum of log p(word tokens | prompt + earlier word tokens), no cache."""
    p_ids = lm.tokenizer(prompt)["input_ids"]
    w_ids = lm.tokenizer(" " + word, add_special_tokens=False)["input_ids"]
    total = 0.0
    for k, tid in enumerate(w_ids):
        ids = torch.tensor([p_ids + w_ids[:k]])
        ctx = ablate(lm.model, lm.site, mask) if mask is not None else torch.no_grad()
        with torch.no_grad(), ctx:
            logits = lm.model(input_ids=ids).logits[0, -1]
        total += torch.log_softmax(logits, -1)[tid].item()
    return total, len(w_ids)


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "gemma"])
def test_score_choices_equals_token_by_token_sum(model_type):
    lm = tiny_lm(model_type)
    choices = ["joy", "admiration", "fear", "surprise"]  # 1, 3, 1 and 2 tokens
    tmpl = "{text} which emotion : {choices} ? emotion :"
    got = score_choices(lm, TEXTS, choices, prompt=tmpl, batch_size=3)
    assert got.shape == (4, 4)
    lengths = []
    for i, t in enumerate(TEXTS):
        for c, w in enumerate(choices):
            want, n = _manual_choice_logprob(lm, tmpl.format(text=t, choices=", ".join(choices)), w)
            lengths.append(n)
            assert got[i, c] == pytest.approx(want, abs=2e-4)
    assert set(lengths) == {1, 2, 3}


def test_score_choices_per_row_masks():
    lm = tiny_lm("llama")
    choices = ["admiration", "joy"]
    tmpl = "{text} emotion :"
    g = torch.Generator().manual_seed(9)
    masks = torch.rand(2, L * U, generator=g) < 0.4
    got = score_choices(lm, TEXTS[:2], choices, masks=masks, prompt=tmpl)
    # max_rows=2: one text (x 2 choices) per decoder forward; the mask rows must follow the texts
    np.testing.assert_allclose(score_choices(lm, TEXTS[:2], choices, masks=masks, prompt=tmpl,
                                             max_rows=2), got, rtol=1e-5, atol=1e-5)
    for i in range(2):
        for c, w in enumerate(choices):
            want, _ = _manual_choice_logprob(lm, tmpl.format(text=TEXTS[i]), w, masks[i])
            assert got[i, c] == pytest.approx(want, abs=2e-4)


@pytest.mark.parametrize("model_type", ["llama", "gpt2"])
def test_score_choices_fast_path_matches_legacy(model_type):
    # The fast path continues only multi-token choices; single-token choices come from the
    # prompt's forward alone. Same forward as the legacy path for the first token: equal to
    # the last bit there; multi-token sums differ only by batch shape (float rounding).
    lm = tiny_lm(model_type)
    choices = ["joy", "admiration", "fear", "surprise"]  # 1, 3, 1 and 2 tokens
    tmpl = "{text} which emotion : {choices} ? emotion :"
    g = torch.Generator().manual_seed(3)
    masks = torch.rand(4, L * U, generator=g) < 0.3
    new = score_choices(lm, TEXTS, choices, masks=masks, prompt=tmpl, batch_size=4)
    old = score_choices(lm, TEXTS, choices, masks=masks, prompt=tmpl, batch_size=4,
                        legacy=True, max_rows=16)
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-5)
    single = [0, 2]
    assert np.array_equal(new[:, single], old[:, single])
    # every choice a single token: one forward, no cache, equal to the legacy scores exactly
    one = ["joy", "fear"]
    np.testing.assert_array_equal(
        score_choices(lm, TEXTS, one, masks=masks, prompt=tmpl, batch_size=4),
        score_choices(lm, TEXTS, one, masks=masks, prompt=tmpl, batch_size=4, legacy=True))


def test_score_choices_mlm_sums_log_probs_over_masks():
    lm = tiny_lm("roberta")
    choices = ["admiration", "joy"]
    tmpl = "{text} the emotion here is {mask} ."
    got = score_choices(lm, TEXTS[:2], choices, prompt=tmpl)
    for i in range(2):
        p = tmpl.format(text=TEXTS[i], mask="<mask>" * 3)   # admiration = ad ##mir ##ation
        enc = lm.tokenizer(p, return_tensors="pt")
        with torch.no_grad():
            lp = torch.log_softmax(lm.model(**enc).logits[0], -1)
        pos = (enc["input_ids"][0] == 3).nonzero().flatten()
        want = sum(lp[q, t].item() for q, t in zip(pos, [57, 58, 59]))
        assert got[i, 0] == pytest.approx(want, abs=1e-4)


def test_generate_is_greedy_and_bounded():
    lm = tiny_lm("llama")
    texts = TEXTS[:3]
    g = torch.Generator().manual_seed(2)
    masks = torch.rand(3, L * U, generator=g) < 0.5
    got = generate(lm, texts, masks=masks, max_new_tokens=5, prompt="{text} :", batch_size=2)
    for i, t in enumerate(texts):
        ids = lm.tokenizer(t + " :", return_tensors="pt")["input_ids"]
        new = []
        with torch.no_grad(), ablate(lm.model, lm.site, masks[i]):
            for _ in range(5):
                nxt = lm.model(input_ids=ids).logits[0, -1].argmax().item()
                if nxt == lm.tokenizer.eos_token_id:
                    break
                new.append(nxt)
                ids = torch.cat([ids, torch.tensor([[nxt]])], 1)
        assert got[i] == lm.tokenizer.decode(new, skip_special_tokens=True).strip()
    with pytest.raises(InputError, match="max_new_tokens"):
        generate(lm, texts, max_new_tokens=0)
    with pytest.raises(InputError, match="masked LM"):
        generate(tiny_lm("roberta"), texts)


def test_parse_label():
    choices = ["joy", "fear", "surprise", "anger", "annoyance", "love"]
    assert parse_label("Fear, maybe joy", choices) == "fear"
    assert parse_label("I think: JOY.", choices) == "joy"
    assert parse_label("overjoyed", choices) is None          # whole words only
    assert parse_label("annoyance", choices) == "annoyance"
    assert parse_label("", choices) is None
    assert parse_label(None, choices) is None


def test_bad_input():
    lm = tiny_lm("llama")
    with pytest.raises(InputError, match="empty"):
        score_binary(lm, [], "joy")
    with pytest.raises(InputError, match="one string"):
        concept_activations(lm, "a single prompt")
    with pytest.raises(InputError, match="masks"):
        score_binary(lm, TEXTS, "joy", masks=np.zeros((2, L * U), bool))
    with pytest.raises(InputError, match="placeholder"):
        score_binary(lm, TEXTS, "joy", prompt="{text} {feeling}")
    with pytest.raises(InputError, match="position"):
        concept_activations(lm, TEXTS, position="first")
    with pytest.raises(InputError, match="duplicated"):
        score_choices(lm, TEXTS, ["joy", "joy"])


@pytest.mark.parametrize("model_type", ["llama", "qwen2"])
def test_onednn_kernel_same_scores_and_hooks(model_type):
    # oneDNN's prepacked fp32 linear is the same arithmetic as torch's up to rounding: scores,
    # ablation and captured neurons agree to 1e-5 with the plain model (fastcpu docstring).
    from emostat.collect.fastcpu import PackedLinear, onednn_available, prepare

    if not onednn_available():
        pytest.skip("torch without oneDNN")
    lm = tiny_lm(model_type)
    choices = ["joy", "admiration", "fear", "surprise"]
    tmpl = "{text} which emotion : {choices} ? emotion :"
    g = torch.Generator().manual_seed(5)
    masks = torch.rand(4, L * U, generator=g) < 0.3
    want = score_choices(lm, TEXTS, choices, masks=masks, prompt=tmpl)
    want_none = score_choices(lm, TEXTS, choices, prompt=tmpl)
    acts = concept_activations(lm, TEXTS)
    fast, rec = prepare(lm, "onednn")
    assert rec["kernel"] == "onednn" and rec["n_linear"] == L * 7   # q k v o gate up down
    assert sum(isinstance(m, PackedLinear) for m in fast.model.modules()) == L * 7
    # the caller's model is untouched (the geometry stage keeps using it: issue 21), and the
    # prepared one shares its weights (no copy)
    assert not any(isinstance(m, PackedLinear) for m in lm.model.modules())
    assert fast.model is not lm.model
    assert {id(p) for p in fast.model.parameters()} == {id(p) for p in lm.model.parameters()}
    np.testing.assert_array_equal(score_choices(lm, TEXTS, choices, masks=masks, prompt=tmpl),
                                  want)
    got = score_choices(fast, TEXTS, choices, masks=masks, prompt=tmpl)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert np.abs(got - want_none).max() > 1e-3          # the masks still act
    np.testing.assert_allclose(concept_activations(fast, TEXTS), acts, rtol=0, atol=1e-5)
    assert count_hooks(fast.model) == 0
    # preparing twice changes nothing more
    assert prepare(fast, "onednn")[1]["n_linear"] == L * 7


def test_int8_is_a_copy_and_approximate():
    from emostat.collect.fastcpu import prepare

    lm = tiny_lm("llama")
    tmpl = "{text} emotion :"
    want = score_choices(lm, TEXTS, ["joy", "fear"], prompt=tmpl)
    q, rec = prepare(lm, "torch", quantize="int8")
    assert rec["quantize"] == "int8" and rec["n_linear"] == L * 7 and q.model is not lm.model
    got = score_choices(q, TEXTS, ["joy", "fear"], prompt=tmpl)
    assert np.array_equal(score_choices(lm, TEXTS, ["joy", "fear"], prompt=tmpl), want)
    assert np.abs(got - want).max() < 0.5                 # close, not equal
