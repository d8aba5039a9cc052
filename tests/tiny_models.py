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


MLM_TYPES = ("bert", "roberta", "distilbert")


def tiny_lm(model_type: str, seed: int = 0, **overrides):
    """A LoadedModel around a tiny random model and the tiny tokenizer."""
    from emostat.collect.models import wrap_model

    model = tiny_model(model_type, seed, **overrides)
    return wrap_model(model, tiny_tokenizer(mlm=model_type in MLM_TYPES),
                      name=f"tiny-{model_type}")


def save_tiny(folder, model_type: str):
    """A tiny random model and its tokenizer saved as a Hugging Face folder (a model path for
    ``emostat collect --model``); returns the folder."""
    tiny_model(model_type).save_pretrained(folder)
    tiny_tokenizer(mlm=model_type in MLM_TYPES).save_pretrained(folder)
    return folder


# ---------------------------------------------------------------------------------------------
# a tiny random Llama written as a GGUF file (not the embedded model): tensors + tokenizer


def _byte_alphabet() -> list[str]:
    """The byte-level BPE alphabet: printable bytes stand for themselves, the others are
    shifted to code points 256, 257, ... in byte order (the GPT-2 convention)."""
    keep = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    out, n = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + n))
            n += 1
    return out


def write_tiny_gguf(path, seed: int = 0, hidden: int = H, units: int = U, layers: int = L):
    """Write a random LlamaForCausalLM (2 heads, 1 KV head) with a byte-level BPE tokenizer
    as an F32 GGUF file at ``path``, using the ``gguf`` package's writer."""
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    merges = ["Ġ t", "h e", "Ġt he", "o y", "j oy", "e a", "Ġ a"]
    tokens = ["<|pad|>", "<|bos|>", "<|eos|>"] + _byte_alphabet() + [
        "Ġt", "he", "Ġthe", "oy", "joy", "ea", "Ġa"]
    vocab, heads, kv = len(tokens), 2, 1
    hd = hidden // heads
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-gguf-llama")
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(units)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 3] + [1] * (vocab - 3))         # 3 = control, 1 = normal
    w.add_token_scores([0.0] * vocab)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(0)

    def f(*shape, scale=0.5):
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    w.add_tensor("token_embd.weight", f(vocab, hidden))
    for i in range(layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", 1 + f(hidden, scale=0.1))
        w.add_tensor(f"blk.{i}.attn_q.weight", f(hidden, hidden))
        w.add_tensor(f"blk.{i}.attn_k.weight", f(kv * hd, hidden))
        w.add_tensor(f"blk.{i}.attn_v.weight", f(kv * hd, hidden))
        w.add_tensor(f"blk.{i}.attn_output.weight", f(hidden, hidden))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", 1 + f(hidden, scale=0.1))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", f(units, hidden))
        w.add_tensor(f"blk.{i}.ffn_up.weight", f(units, hidden))
        w.add_tensor(f"blk.{i}.ffn_down.weight", f(hidden, units))
    w.add_tensor("output_norm.weight", 1 + f(hidden, scale=0.1))
    w.add_tensor("output.weight", f(vocab, hidden))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# ---------------------------------------------------------------------------------------------
# a tiny decoder whose output for concept c is raised by adding c's vector (steering tests)


def plant_steering(lm, texts, labels, concepts, words, layer: int, beta: float):
    """Make adding concept c's vector at ``layer`` raise the logit of c's word: the output row
    of each word's first token gets ``beta`` x the unit concept vector (mean residual over c's
    texts minus the mean over all, :mod:`emostat.collect.geometry`). ``beta = 0`` leaves the
    model as it is (no concept's vector is tied to its word). Returns the unit vectors."""
    import numpy as np

    from emostat.analysis.geometry.layers import concept_vectors
    from emostat.collect.geometry import residual_states

    X = residual_states(lm, texts, layers=[layer])
    V = concept_vectors(X, np.asarray(labels), list(concepts))[0]
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    head = lm.model.get_output_embeddings().weight
    assert head.data_ptr() != lm.model.get_input_embeddings().weight.data_ptr()  # not tied
    scale = float(head.detach().norm(dim=1).mean())
    with torch.no_grad():
        for c, v in zip(concepts, V):
            tok = lm.tokenizer(" " + words[c], add_special_tokens=False)["input_ids"][0]
            head[tok] += beta * scale * torch.as_tensor(v, dtype=head.dtype)
    return V
