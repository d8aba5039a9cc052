"""The shared prompt prefix run once per mask (emostat.collect.prefix): the scores equal those
of whole prompts up to float rounding, for every decoder family; the prefix path really runs
(computed and reused counts); a stored entry does not depend on the batch that first needed it;
a model whose cache cannot be read falls back to whole prompts."""

import numpy as np
import pytest
import torch

from emostat.collect import prefix as px
from emostat.collect.prefix import PrefixCache, shared_prefix
from emostat.collect.tasks import score_binary, score_choices
from tiny_models import L, U, tiny_lm

DECODERS = ["llama", "gpt2", "gpt_neox", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"]
TEXTS = ["the dog won the game today .", "she lost my old letter", "i felt joy",
         "after the rain the sun was here and it was a happy day", "my friend was sad"]
TMPL = "question : {text} which emotion ? {choices} emotion :"   # "question :" is shared
CHOICES = ["joy", "admiration", "fear", "surprise"]               # 1, 3, 1 and 2 tokens


def _masks(n, seed=4):
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(3, L * U, generator=g) < 0.3
    return m[torch.arange(n) % 3]                 # 3 distinct masks over n rows


def test_shared_prefix_leaves_every_row_a_token():
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert shared_prefix([[1, 2], [1, 2, 3]]) == 1          # the shorter row keeps one token
    assert shared_prefix([[7], [7]]) == 0
    assert shared_prefix([[1, 2], [3, 2]]) == 0
    assert shared_prefix([]) == 0


@pytest.mark.parametrize("model_type", DECODERS)
def test_choice_scores_equal_whole_prompts(model_type):
    lm = tiny_lm(model_type)
    texts = TEXTS * 2
    m = _masks(len(texts))
    whole = score_choices(lm, texts, CHOICES, masks=m, prompt=TMPL, batch_size=4, prefix=False)
    lm.prefix_cache = PrefixCache()
    part = score_choices(lm, texts, CHOICES, masks=m, prompt=TMPL, batch_size=4)
    np.testing.assert_allclose(part, whole, rtol=0, atol=2e-5)
    assert (part.argmax(1) == whole.argmax(1)).all()
    # 3 masks computed once each (3 batches of 4, 4, 2 rows), every other row reused
    assert (lm.prefix_cache.computed, lm.prefix_cache.reused) == (3, len(texts) - 3)


@pytest.mark.parametrize("model_type", ["llama", "gpt2"])
def test_binary_and_mean_ablation_equal_whole_prompts(model_type):
    lm = tiny_lm(model_type)
    m = _masks(len(TEXTS))
    means = torch.linspace(-1, 1, L * U)
    tmpl = "question : {text} does this text express {emotion} ? answer :"
    for mode, kw in (("zero", {}), ("mean", {"means": means})):
        whole = score_binary(lm, TEXTS, "joy", masks=m, prompt=tmpl, batch_size=2, mode=mode,
                             prefix=False, **kw)
        part = score_binary(lm, TEXTS, "joy", masks=m, prompt=tmpl, batch_size=2, mode=mode, **kw)
        np.testing.assert_allclose(part, whole, rtol=0, atol=2e-5)
    # the means are part of the key: other means, other numbers
    other = score_binary(lm, TEXTS, "joy", masks=m, prompt=tmpl, mode="mean", means=-means)
    assert np.abs(other - part).max() > 1e-3


def test_an_entry_does_not_depend_on_the_batch_that_computed_it():
    # the resume property: a run that starts elsewhere fills the store in another order
    lm = tiny_lm("llama")
    m = _masks(len(TEXTS))
    lm.prefix_cache = PrefixCache()
    first = score_choices(lm, TEXTS, CHOICES, masks=m, prompt=TMPL, batch_size=5)
    lm.prefix_cache = PrefixCache()
    score_choices(lm, TEXTS[::-1], CHOICES, masks=m.flip(0), prompt=TMPL, batch_size=1)
    again = score_choices(lm, TEXTS, CHOICES, masks=m, prompt=TMPL, batch_size=5)
    np.testing.assert_array_equal(again, first)


def test_unmasked_rows_and_other_models_do_not_share_entries():
    lm = tiny_lm("llama")
    lm.prefix_cache = store = PrefixCache()
    plain = score_choices(lm, TEXTS, CHOICES, prompt=TMPL)
    masked = score_choices(lm, TEXTS, CHOICES, masks=_masks(len(TEXTS)), prompt=TMPL)
    assert np.abs(plain - masked).max() > 1e-3
    other = tiny_lm("llama", seed=1)
    other.prefix_cache = store                           # the same store, another model
    np.testing.assert_allclose(score_choices(other, TEXTS, CHOICES, prompt=TMPL),
                               score_choices(other, TEXTS, CHOICES, prompt=TMPL, prefix=False),
                               rtol=0, atol=2e-5)


def test_an_unreadable_cache_runs_whole_prompts(monkeypatch):
    lm = tiny_lm("llama")
    m = _masks(len(TEXTS))
    whole = score_choices(lm, TEXTS, CHOICES, masks=m, prompt=TMPL, prefix=False)
    monkeypatch.setattr("emostat.collect.prefix.layers_of", lambda cache: None)
    np.testing.assert_array_equal(score_choices(lm, TEXTS, CHOICES, masks=m, prompt=TMPL), whole)


def test_the_store_is_bounded():
    lm = tiny_lm("llama")
    lm.prefix_cache = store = PrefixCache(max_entries=2)
    score_choices(lm, TEXTS, CHOICES, masks=_masks(len(TEXTS)), prompt=TMPL, batch_size=5)
    assert len(store.entries) == 2 and store.computed == 3
    assert px.digest(None) == "none"


def test_a_batch_of_one_text_keys_the_store_as_the_others():
    # one text under 3 masks shares all but the last token; the template's prefix bounds it
    lm = tiny_lm("llama")
    lm.prefix_cache = store = PrefixCache()
    m = _masks(3)
    one = score_choices(lm, [TEXTS[0]] * 3, CHOICES, masks=m, prompt=TMPL)
    score_choices(lm, TEXTS[1:4], CHOICES, masks=m, prompt=TMPL)
    assert (store.computed, store.reused) == (3, 3)
    assert {k[0] for k in store.entries} == {tuple(lm.tokenizer("question :")["input_ids"])}
    np.testing.assert_allclose(
        one, score_choices(lm, [TEXTS[0]] * 3, CHOICES, masks=m, prompt=TMPL, prefix=False),
        rtol=0, atol=2e-5)


def test_prompts_without_a_common_start_run_whole():
    lm = tiny_lm("llama")
    lm.prefix_cache = store = PrefixCache()
    score_choices(lm, TEXTS, CHOICES, masks=_masks(len(TEXTS)), prompt="{text} emotion :")
    assert store.computed == store.reused == 0


def test_reduced_precision_runs_whole_prompts_unless_asked():
    lm = tiny_lm("llama")
    lm.model.to(torch.bfloat16)
    lm.prefix_cache = store = PrefixCache()
    m = _masks(len(TEXTS))
    auto = score_choices(lm, TEXTS, CHOICES, masks=m, prompt=TMPL)
    assert store.computed == 0
    np.testing.assert_array_equal(
        auto, score_choices(lm, TEXTS, CHOICES, masks=m, prompt=TMPL, prefix=False))
    score_choices(lm, TEXTS, CHOICES, masks=m, prompt=TMPL, prefix=True)
    assert store.computed == 3
