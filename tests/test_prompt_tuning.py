"""Prompt tuning mechanics on tiny random models: frozen backbone, study layout, loss falls."""

import numpy as np
import pytest
import torch

from emostat.collect.hooks import capture, count_hooks
from emostat.collect.prompt_tuning import (prompt_activations, soft_prompt_scores,
                                           train_soft_prompt)
from emostat.collect.tasks import verbalizer_ids
from emostat.errors import InputError
from tiny_models import L, tiny_lm

POS = ["i was happy today", "the sun was happy", "my friend felt joy", "joy after the game",
       "she was happy at home", "a happy dog"]
NEG = ["i was sad today", "the rain was sad", "my friend felt fear", "fear after the game",
       "she was sad at home", "a sad dog"]
TEXTS, LABELS = POS + NEG, [1] * len(POS) + [0] * len(NEG)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("model_type", ["roberta", "llama"])
def test_backbone_frozen_only_prompt_learns_and_loss_falls(model_type):
    # a wide init makes the tiny random net expressive enough for the prompt to read the text.
    # float64 backbone: the optimisation path no longer depends on the thread count's rounding
    # (in float32, 1 vs 2 threads ended at .54 vs .46 with 5 tokens, 60 steps, lr .1 -- the
    # fresh-clone failure); 10 tokens x 200 steps at lr .05 give a clear margin. Measured here
    # (float64, identical with 1 and 4 threads): final loss llama .099, roberta .008; backbone
    # seeds 1-3 at most .146.
    lm = tiny_lm(model_type, initializer_range=0.5)
    lm.model.double()
    before = _state(lm.model)
    flags = [p.requires_grad for p in lm.model.parameters()]
    losses = []
    prompt = train_soft_prompt(lm, TEXTS, LABELS, n_tokens=10, steps=200, lr=0.05, seed=0,
                               batch_size=12, emotion="joy", history=losses)
    assert prompt.shape == (10, 16) and prompt.dtype == torch.float32
    after = _state(lm.model)
    assert all(torch.equal(before[k], after[k]) for k in before)      # backbone unchanged
    assert all(p.grad is None for p in lm.model.parameters())         # no grads reached it
    assert [p.requires_grad for p in lm.model.parameters()] == flags  # flags restored
    assert count_hooks(lm.model) == 0
    # labels are balanced, so no text-independent prompt can beat ln 2 = 0.693; falling well
    # below it means the prompt learnt to make the mask/answer slot read the text
    assert len(losses) == 200
    assert np.mean(losses[-5:]) < 0.4 < np.log(2) < losses[0], (losses[0], losses[-5:])
    scores = soft_prompt_scores(lm, prompt, TEXTS, emotion="joy")
    acc = np.mean((scores[:, 1] > scores[:, 0]) == np.array(LABELS))
    assert acc >= 0.9


def test_same_seed_same_prompt():
    lm = tiny_lm("roberta")
    a = train_soft_prompt(lm, TEXTS, LABELS, n_tokens=3, steps=3, seed=4, batch_size=4)
    b = train_soft_prompt(lm, TEXTS, LABELS, n_tokens=3, steps=3, seed=4, batch_size=4)
    c = train_soft_prompt(lm, TEXTS, LABELS, n_tokens=3, steps=3, seed=5, batch_size=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_mlm_layout_is_mask_prompt_text():
    """Scores equal MLM logits at position 0 of E(<mask>) + P + E(<s> text </s>), built by hand."""
    lm = tiny_lm("roberta")
    P = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    got = soft_prompt_scores(lm, P, TEXTS[:3])
    emb = lm.model.get_input_embeddings()
    ids = [verbalizer_ids(lm, "negative"), verbalizer_ids(lm, "positive")]
    for i, t in enumerate(TEXTS[:3]):
        text_ids = lm.tokenizer(t)["input_ids"]
        assert text_ids[0] == lm.tokenizer.bos_token_id                   # <s> text </s>
        x = torch.cat([emb(torch.tensor([lm.tokenizer.mask_token_id])), P,
                       emb(torch.tensor(text_ids))])[None]
        with torch.no_grad():
            logits = lm.model(inputs_embeds=x).logits[0, 0]
        want = [torch.logsumexp(logits[j], 0).item() for j in ids]
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)


def test_prompt_activations_read_position_zero_of_prompt_alone():
    lm = tiny_lm("roberta")
    P = torch.randn(2, 4, 16, generator=torch.Generator().manual_seed(1))
    got = prompt_activations(lm, P)
    assert got.shape == (2, L * 24)
    emb = lm.model.get_input_embeddings()
    for r in range(2):
        x = torch.cat([emb(torch.tensor([lm.tokenizer.mask_token_id])), P[r],
                       emb(torch.tensor([lm.tokenizer.bos_token_id]))])[None]
        with torch.no_grad(), capture(lm.model, lm.site) as acts:
            lm.model(inputs_embeds=x)
        want = torch.cat([acts[i][0, 0] for i in range(L)]).numpy()
        np.testing.assert_allclose(got[r], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prompt_activations(lm, P[0]), got[0], rtol=1e-6)


def test_decoder_scores_with_padding_equal_single_rows():
    lm = tiny_lm("llama")
    P = torch.randn(3, 16, generator=torch.Generator().manual_seed(2))
    both = soft_prompt_scores(lm, P, ["a dog", "after the rain the sun was here"], emotion="joy")
    for i, t in enumerate(["a dog", "after the rain the sun was here"]):
        one = soft_prompt_scores(lm, P, [t], emotion="joy")
        np.testing.assert_allclose(both[i], one[0], rtol=1e-5, atol=1e-5)


def test_bad_labels():
    lm = tiny_lm("roberta")
    with pytest.raises(InputError, match="labels"):
        train_soft_prompt(lm, TEXTS, [0, 1], steps=1)
    with pytest.raises(InputError, match="0/1"):
        train_soft_prompt(lm, TEXTS, [2] * len(TEXTS), steps=1)
