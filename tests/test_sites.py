"""Neuron-site adapters: each family finds its FFN neurons; captures equal a hand forward."""

import pytest
import torch

from emostat.collect.hooks import capture
from emostat.collect.sites import FAMILIES, UnsupportedModelError, site_for
from emostat.errors import InputError
from tiny_models import CASES, L, U, ffn_owner, hand_ffn, random_ids, tiny_model

EXPECTED_FAMILY = {"bert": "bert", "roberta": "bert", "distilbert": "distilbert", "gpt2": "gpt2",
                   "gpt_neox": "gpt_neox"}


@pytest.mark.parametrize("model_type", sorted(CASES))
def test_site_shape_and_family(model_type):
    model = tiny_model(model_type)
    site = site_for(model)
    assert site.family == EXPECTED_FAMILY.get(model_type, "gated")
    assert (site.n_layers, site.n_units, site.n_neurons) == (L, U, L * U)
    assert site.kind == ("mlm" if model_type in ("bert", "roberta", "distilbert") else "causal")
    assert len(site.modules(model)) == L


@pytest.mark.parametrize("model_type", sorted(CASES))
def test_capture_equals_hand_computed_ffn(model_type):
    """The captured neuron vector equals the FFN written out from the module's own input."""
    model = tiny_model(model_type)
    site = site_for(model)
    ids = random_ids(model)
    ffn_inputs = {}
    handles = [ffn_owner(model, model_type, i).register_forward_pre_hook(
        lambda m, a, i=i: ffn_inputs.__setitem__(i, a[0].detach())) for i in range(L)]
    try:
        with torch.no_grad(), capture(model, site) as acts:
            model(input_ids=ids)
    finally:
        for h in handles:
            h.remove()
    assert sorted(acts) == list(range(L))
    for i in range(L):
        owner = ffn_owner(model, model_type, i)
        with torch.no_grad():
            expected = hand_ffn(model_type)(owner, ffn_inputs[i])
        assert acts[i].shape == (2, 7, U)
        assert expected.abs().max() > 1e-3          # not a degenerate all-zero comparison
        torch.testing.assert_close(acts[i], expected, rtol=1e-5, atol=1e-6)


def test_capture_positions_and_weights():
    model = tiny_model("llama")
    site = site_for(model)
    ids = random_ids(model, batch=3, seq=6)
    with torch.no_grad(), capture(model, site) as full:
        model(input_ids=ids)
    pos = torch.tensor([5, 0, 3])
    with torch.no_grad(), capture(model, site, positions=pos, layers=[1]) as one:
        model(input_ids=ids)
    assert sorted(one) == [1]
    torch.testing.assert_close(one[1], full[1][torch.arange(3), pos])
    w = torch.zeros(3, 6)
    w[0, 1:3] = 0.5
    w[1, 4] = 1.0
    w[2, :] = 1 / 6
    with torch.no_grad(), capture(model, site, positions=w) as mean:
        model(input_ids=ids)
    torch.testing.assert_close(mean[0][0], full[0][0, 1:3].mean(0))
    torch.testing.assert_close(mean[0][2], full[0][2].mean(0))
    with pytest.raises(InputError, match="positions"):
        with torch.no_grad(), capture(model, site, positions=torch.tensor([0, 1])):
            model(input_ids=ids)


def test_unsupported_architecture_error():
    import transformers as T

    cfg = T.T5Config(vocab_size=50, d_model=16, d_kv=8, d_ff=24, num_layers=1, num_heads=2)
    model = T.T5ForConditionalGeneration(cfg)
    with pytest.raises(UnsupportedModelError, match="t5") as err:
        site_for(model)
    msg = str(err.value)
    assert "llama" in msg and "FAMILIES" in msg     # lists families and how to add one
    assert isinstance(err.value, InputError)


def test_families_table_is_declarative():
    types = [t for f in FAMILIES for t in f.model_types]
    assert len(types) == len(set(types))            # each model type in one family
    assert {f.kind for f in FAMILIES} <= {"mlm", "causal"}
