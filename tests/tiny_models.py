"""Tiny random models built from configs (no download) for the collect tests, one per family.

Each entry: model_type -> (config class name, model class name, config kwargs, hand-computed FFN).
The hand-computed FFN takes the module that owns the FFN of a layer (found with ``ffn_owner``) and
its input, and returns the neuron vector written out from the architecture's definition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import transformers as T

H, U, L, V = 16, 24, 3, 120

_ATT = dict(num_attention_heads=2, num_hidden_layers=L, hidden_size=H, intermediate_size=U,
            vocab_size=V, max_position_embeddings=64)
_DEC = dict(_ATT, num_key_value_heads=1, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def _gated(act):
    return lambda mlp, x: act(mlp.gate_proj(x)) * mlp.up_proj(x)


def _phi3(mlp, x):
    gate, up = mlp.gate_up_proj(x).chunk(2, dim=-1)
    return up * F.silu(gate)


# model_type: (config class, model class, kwargs, path of FFN owner within a layer, hand FFN)
CASES = {
    "bert": ("BertConfig", "BertForMaskedLM", dict(_ATT, hidden_act="gelu"),
             "intermediate", lambda m, x: F.gelu(m.dense(x))),
    "roberta": ("RobertaConfig", "RobertaForMaskedLM",
                dict(_ATT, hidden_act="gelu", pad_token_id=0),
                "intermediate", lambda m, x: F.gelu(m.dense(x))),
    "distilbert": ("DistilBertConfig", "DistilBertForMaskedLM",
                   dict(dim=H, hidden_dim=U, n_layers=L, n_heads=2, vocab_size=V,
                        max_position_embeddings=64, activation="gelu"),
                   "ffn", lambda m, x: F.gelu(m.lin1(x))),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel",
             dict(n_embd=H, n_inner=U, n_layer=L, n_head=2, vocab_size=V, n_positions=64,
                  activation_function="gelu_new", bos_token_id=1, eos_token_id=2),
             "mlp", lambda m, x: F.gelu(m.c_fc(x), approximate="tanh")),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", dict(_DEC, hidden_act="gelu"),
                 "mlp", lambda m, x: F.gelu(m.dense_h_to_4h(x))),
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(_DEC, hidden_act="silu"), "mlp",
              _gated(F.silu)),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(_DEC, hidden_act="silu"), "mlp",
                _gated(F.silu)),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(_DEC, hidden_act="silu"), "mlp",
              _gated(F.silu)),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(_DEC, hidden_act="silu", head_dim=8), "mlp",
              _gated(F.silu)),
    "gemma": ("GemmaConfig", "GemmaForCausalLM",
              dict(_DEC, head_dim=8, hidden_activation="gelu_pytorch_tanh"), "mlp",
              _gated(lambda t: F.gelu(t, approximate="tanh"))),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM",
               dict(_DEC, head_dim=8, hidden_activation="gelu_pytorch_tanh"), "mlp",
               _gated(lambda t: F.gelu(t, approximate="tanh"))),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(_DEC, hidden_act="silu"), "mlp", _phi3),
}


def tiny_model(model_type: str, seed: int = 0, **overrides):
    """A tiny random model of ``model_type`` in eval mode (deterministic given ``seed``)."""
    cfg_cls, model_cls, kwargs, _, _ = CASES[model_type]
    torch.manual_seed(seed)
    cfg = getattr(T, cfg_cls)(**{**kwargs, **overrides})
    model = getattr(T, model_cls)(cfg).eval()
    # random init leaves some biases at zero; perturb every parameter so no term is trivially 0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def ffn_owner(model, model_type: str, layer: int):
    """The module whose input feeds the hand-computed FFN of ``layer``."""
    from emostat.collect.sites import site_for

    site = site_for(model)
    obj = model.base_model
    for part in site.layers.split("."):
        obj = getattr(obj, part)
    obj = obj[layer]
    for part in CASES[model_type][3].split("."):
        obj = getattr(obj, part)
    return obj


def hand_ffn(model_type: str):
    return CASES[model_type][4]


def random_ids(model, batch=2, seq=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, V, (batch, seq), generator=g)


SPECIALS = ["<pad>", "<s>", "</s>", "<mask>", "<unk>"]     # ids 0..4 (pad/bos/eos as configs)
WORDS = ("the a i you she he it was is this text does express feel felt my friend when after "
         "today won lost game dog rain sun happy sad day night gift letter old home work "
         "question answer yes no positive negative Yes No emotion which one of choose here "
         "joy fear anger ad ##mir ##ation sur ##prise . , ? : !").split()


def tiny_tokenizer(mlm: bool):
    """A WordPiece tokenizer over ~70 words: 'admiration' -> ad ##mir ##ation, 'surprise' -> 2.

    MLM tokenizers wrap texts as <s> ... </s>; decoder tokenizers add nothing.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    assert len(vocab) <= V
    tk = Tokenizer(models.WordPiece(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.decoder = decoders.WordPiece()
    if mlm:
        tk.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", mask_token="<mask>", unk_token="<unk>")


def tiny_lm(model_type: str, seed: int = 0, **overrides):
    """A LoadedModel around a tiny random model and the tiny tokenizer."""
    from emostat.collect.models import wrap_model

    model = tiny_model(model_type, seed, **overrides)
    return wrap_model(model, tiny_tokenizer(mlm=model_type in ("bert", "roberta", "distilbert")),
                      name=f"tiny-{model_type}")
