"""Ablation hooks: zeroing a neuron equals editing the weights; per-row masks; no hook leaks."""

import copy

import pytest
import torch

from emostat.collect.hooks import ablate, capture, count_hooks
from emostat.collect.sites import site_for
from emostat.errors import InputError
from tiny_models import CASES, L, U, random_ids, tiny_model


def _zero_in_weights(model, site, neurons):
    """Copy of ``model`` with input column j of the neuron module's weight zeroed per neuron."""
    edited = copy.deepcopy(model)
    mods = site.modules(edited)
    with torch.no_grad():
        for n in neurons:
            layer, unit = divmod(int(n), site.n_units)
            w = mods[layer].weight
            if hasattr(mods[layer], "in_features"):     # nn.Linear: weight [out, in]
                w[:, unit] = 0
            else:                                       # GPT-2 Conv1D: weight [in, out]
                w[unit, :] = 0
    return edited


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("model_type", sorted(CASES))
def test_zeroing_neurons_equals_zeroing_weight_columns(model_type):
    model = tiny_model(model_type)
    site = site_for(model)
    ids = random_ids(model)
    neurons = [3, U + 10, 2 * U + 0, 2 * U + 23]        # units in every layer
    mask = torch.zeros(site.n_neurons, dtype=torch.bool)
    mask[neurons] = True
    with ablate(model, site, mask):
        hooked = _logits(model, ids)
    edited = _logits(_zero_in_weights(model, site, neurons), ids)
    plain = _logits(model, ids)
    torch.testing.assert_close(hooked, edited, rtol=1e-5, atol=1e-5)
    assert (hooked - plain).abs().max() > 1e-4          # the ablation changed something
    assert count_hooks(model) == 0


@pytest.mark.parametrize("model_type", ["roberta", "gpt2", "llama", "gemma2"])
def test_per_row_masks_equal_separate_forwards(model_type):
    model = tiny_model(model_type)
    site = site_for(model)
    g = torch.Generator().manual_seed(5)
    masks = torch.rand(4, site.n_neurons, generator=g) < 0.3
    masks[0] = False                                    # row 0: no manipulation
    ids = random_ids(model, batch=1, seq=6).expand(4, -1)
    with ablate(model, site, masks):
        batched = _logits(model, ids)
    for r in range(4):
        with ablate(model, site, masks[r]):
            single = _logits(model, ids[r:r + 1])
        torch.testing.assert_close(batched[r], single[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(batched[0], _logits(model, ids[:1])[0], rtol=1e-5, atol=1e-5)
    assert (batched[1] - batched[0]).abs().max() > 1e-4


def test_mean_mode_sets_neurons_to_means_at_every_position():
    model = tiny_model("llama")
    site = site_for(model)
    ids = random_ids(model, batch=2, seq=5)
    means = torch.linspace(-1, 1, site.n_neurons)
    mask = torch.zeros(site.n_neurons, dtype=torch.bool)
    mask[[0, 7, U + 1, 2 * U + 5]] = True
    with torch.no_grad(), ablate(model, site, mask, mode="mean", means=means), \
            capture(model, site) as acts:               # capture hooks run after the ablation's
        model(input_ids=ids)
    with torch.no_grad(), capture(model, site) as plain:
        model(input_ids=ids)
    flat = torch.cat([acts[i] for i in range(L)], dim=-1)       # [batch, seq, n_neurons]
    flat_plain = torch.cat([plain[i] for i in range(L)], dim=-1)
    torch.testing.assert_close(flat[..., mask], means[mask].expand(2, 5, -1))
    # unselected neurons in layer 0 (before any change propagates) are untouched
    torch.testing.assert_close(flat[..., 1:7], flat_plain[..., 1:7])


def test_set_masks_between_forwards_and_broadcast_row():
    model = tiny_model("gpt2")
    site = site_for(model)
    ids = random_ids(model, batch=3, seq=4)
    a = torch.zeros(site.n_neurons, dtype=torch.bool)
    a[:10] = True
    with ablate(model, site, torch.zeros(site.n_neurons, dtype=torch.bool)) as handle:
        first = _logits(model, ids)
        handle.set_masks(a)
        second = _logits(model, ids)
    torch.testing.assert_close(first, _logits(model, ids))
    torch.testing.assert_close(second, _logits(_zero_in_weights(model, site, range(10)), ids),
                               rtol=1e-5, atol=1e-5)


def test_no_hook_left_after_exception():
    model = tiny_model("roberta")
    site = site_for(model)
    assert count_hooks(model) == 0
    mask = torch.ones(site.n_neurons, dtype=torch.bool)
    with pytest.raises(RuntimeError, match="boom"):
        with ablate(model, site, mask):
            assert count_hooks(model) == L
            raise RuntimeError("boom")
    assert count_hooks(model) == 0
    with pytest.raises(RuntimeError, match="boom"):
        with capture(model, site):
            assert count_hooks(model) == L
            raise RuntimeError("boom")
    assert count_hooks(model) == 0
    # an error raised inside a hook during the forward (batch mismatch) also leaves nothing behind
    with pytest.raises(InputError, match="rows for a batch"):
        with ablate(model, site, torch.ones(3, site.n_neurons, dtype=torch.bool)):
            _logits(model, random_ids(model, batch=2))
    assert count_hooks(model) == 0


def test_bad_masks_and_modes():
    model = tiny_model("llama")
    site = site_for(model)
    with pytest.raises(InputError, match="n_neurons"):
        with ablate(model, site, torch.zeros(5, dtype=torch.bool)):
            pass
    with pytest.raises(InputError, match="bool"):
        with ablate(model, site, torch.zeros(site.n_neurons)):
            pass
    with pytest.raises(InputError, match="means"):
        with ablate(model, site, torch.zeros(site.n_neurons, dtype=torch.bool), mode="mean"):
            pass
    with pytest.raises(InputError, match="mode"):
        with ablate(model, site, torch.zeros(site.n_neurons, dtype=torch.bool), mode="half"):
            pass
    assert count_hooks(model) == 0
