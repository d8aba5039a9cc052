"""The collection config: one flat TOML file, validated into :class:`CollectConfig`.

Three built-in profiles give the starting values: ``default`` (the experiment on the embedded
model sized to finish in under 10 minutes on a 2-core CPU: the 27-way choice task on every
shipped situation), ``quick`` (the same pipeline, 1 situation per emotion, fewer attributes and
draws, about a minute) and ``full`` (every item, binary and 27-way choice, two k: for GPUs and
clusters). Measured times are in :data:`emostat.collect.profiles.PROFILES`.
A TOML file names its base with ``profile = "quick"`` (default ``"default"``)
and overrides any field below; an unknown key is an error. Example::

    profile = "default"
    model = "/models/Llama-3.2-1B"     # local path or cached Hugging Face id; "" = embedded
    device = "cuda"
    dtype = "bfloat16"
    ks = [0.005, 0.01, 0.02]           # fractions of all neurons, or counts (ints)
    n_random_draws = 100
    random_scheme = "layer_matched"

Relative paths in the file are resolved against the file's folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from emostat.analysis.masking.design import quick_items_for_space
from emostat.constants import k_count
from emostat.errors import InputError
from emostat.tasks import task_names

from emostat.space import load_space, require_complete
from emostat.collect.profiles import PROFILES, QUICK_ITEMS
from emostat.collect.slurm_options import DEFAULTS as SLURM_DEFAULTS, SlurmFields, validate_slurm

TASKS = task_names()
POSITIONS = ("last", "mask", "word")
SCHEMES = ("uniform", "layer_matched")
ABLATIONS = ("zero", "mean")
BACKENDS = ("local", "ray", "slurm")
CHOICE_PROMPTS = ("short", "options")
REPRESENTATIONS = ("zero_shot", "prompt_tuning")
PT_FIELDS = ("representation", "pt_tokens", "pt_steps", "pt_lr", "pt_seeds")
# the analysis choices that decide claims (emostat.analysis.pipelines.choices): recorded in the
# manifest for `emostat analyse`, not part of the run's identity (they change no dataset)
ANALYSIS_FIELDS = ("alpha", "headline_k", "n_perm", "n_perm_count")
GEOMETRY_FIELDS = ("geometry", "geometry_items", "geometry_random", "geometry_isotropic",
                   "geometry_per_concept", "geometry_probe_layers", "geometry_probe_perm",
                   "geometry_perm")
DTYPES = ("float32", "bfloat16", "float16", "auto")
# the guard of a reduced-precision run (emostat.collect.precision): not part of its identity
PRECISION_FIELDS = ("precision_check_items", "precision_min_agreement", "dtype_auto")
KERNELS = ("onednn", "torch")          # emostat.collect.fastcpu (no torch import here)
QUANTIZE = ("none", "int8")


@dataclass
class CollectConfig(SlurmFields):
    """Everything a collection run depends on (the run's identity is the hash of these fields).

    Attributes
    ----------
    model : str or None
        Local path or cached Hugging Face id; None or "" = the embedded SmolLM2-135M-Instruct.
    space : str or None
        The concept space (:func:`emostat.space.load_space`: a folder or a shipped name);
        None = the study's 27 emotions x 14 attributes. Its words fill the concept and task
        prompts, its stimuli are the items (unless ``stimuli`` names a file), its attributes
        are ablated.
    device, dtype : str
        Torch device (cpu | cuda | mps) and weight dtype (float32 | bfloat16 | float16 |
        auto: bfloat16 where native and checked, else float32; anything but float32 only
        after the precision check, below). ``dtype_auto``: set by emostat (auto chose ``dtype``).
    threads : int
        Torch intra-op threads per worker (1 is fastest on small shared CPUs).
    workers : int
        Local worker processes (``backend = "local"``), each with its own model copy and
        ``threads`` threads; shards are shared out between them (each shard written whole by
        one process, so resuming works as with one). 2 on a 2-core CPU: measured faster than
        1 process x 2 threads (benchmarks/results/throughput.json). Not part of the run's
        identity.
    cpu_kernel : str
        onednn | torch: matrix products of task scoring through oneDNN's prepacked fp32 kernels
        (same arithmetic up to rounding; ~2x faster on CPUs where torch's MKL takes its AVX2
        path, e.g. AMD) or torch's default (:mod:`emostat.collect.fastcpu`). Concept
        activations always use torch's default. Not part of the run's identity.
    quantize : str
        none | int8: int8 dynamic quantisation of the layers' linear modules for task scoring
        (CPU only; an approximation, off by default: only after the precision check).
    precision_check_items, precision_min_agreement : int, float
        With ``dtype`` not float32 or ``quantize = "int8"``, the run's items scored (seeded
        sample of this many, condition none) in float32 and as configured before anything is
        written; refused when the share of equal raw decisions is below the threshold (in
        [0, 1], default .95); agreement and margin r go into the manifest
        (:mod:`emostat.collect.precision`). Not part of the run's identity.
    templates : list of str or None
        Concept prompt templates (None = all shipped; the study's prompt-tuning seeds' role).
    position : str
        Token position read for concept activations: last (token) | mask (MLM encoders; the
        mask is put first, as in the study's layout) | word (mean over the emotion word).
    tasks : list of str
        Inference tasks: binary (the study's yes/no task per emotion), choice (27-way, summed
        log-probability of each emotion word), generate (free generation, decoders only).
        An empty list (CLI ``--activations-only``) collects concept activations only (for a
        checkpoint without a trained LM head: searchlight and RSA, no masking).
    stimuli : str
        "shipped" (the space's stimuli.csv) or a path to a situations file (``id, emotion,
        text``) whose emotions are the space's concepts.
    goemotions : str or None
        Optional GoEmotions-style CSV added to the items; ``max_goemotions`` caps its rows.
    items_per_emotion : int or None
        Cap on situations per emotion (None = all); the binary set of an emotion holds its
        positives plus as many seeded negatives.
    emotions : list of str or None
        Concepts whose tasks are run (None = all; concept activations cover every concept).
    attributes : list of str or None
        Attributes whose top-k sets are ablated (None = all of the space's).
    ks, n_random_draws : list of int or float, int
        Set sizes (ints: counts; floats in (0, 1): fractions of all neurons); seeded random
        sets per (attribute, k).
    random_scheme : str
        uniform | layer_matched (same count per layer as the attribute's set).
    binary_draw : str
        distinct (the binary set's negatives drawn without replacement from the items lacking
        the emotion: no stimulus twice) | study (the study's draw with replacement from all
        items; :func:`emostat.collect.stimuli.balanced_binary`).
    shared_random : bool
        With the uniform scheme, draw one pool of random sets per k shared by all attributes
        (the null distribution is the same for every attribute; 14x fewer forward passes).
    ablation : str
        zero | mean (mean = the neuron's mean over the concept prompts).
    n_folds : int
        Items of each emotion are split into this many fixed folds; a fold plays the role of the
        study's prompt (the ``template`` column of the accuracy table).
    batch_size, items_per_shard, conditions_per_shard, max_new_tokens : int
        Rows per forward pass; items and conditions per shard (one Parquet file each); the
        generate task's length bound.
    chat : bool or None
        Wrap task prompts in the model's chat template: None = when the tokenizer has one.
        (The short choice prompt is a completion prompt and is always sent raw.)
    choice_prompt : str
        Decoder prompt of the choice task: short ("Situation: ...\nThe emotion this person
        feels is", no option list; :func:`emostat.collect.templates.choice_prompt_short`) or
        options (the list of the 27 emotions, then the question;
        :func:`emostat.collect.templates.choice_prompt`). MLMs always use their mask prompt.
    calibrate : bool
        Decide on calibrated scores (:mod:`emostat.collect.calibration`: offsets per task and
        emotion from the unmanipulated condition, applied unchanged under every condition).
        False: raw decisions (yes when logit_yes > logit_no; argmax of the log-probs).
    calibration_folds : int
        Cross-fitting folds of the calibration (>= 2): each item is decided with offsets
        fitted on the items of the other folds.
    representation : str
        How concept representations are built: zero_shot (the concept templates, default) or
        prompt_tuning (:mod:`emostat.collect.prompt_mode`: a soft prompt trained per emotion x
        seed on the emotion's balanced binary items, read as in the study; the binary task is
        then scored with those prompts). The pt_* fields enter the run's identity only in
        prompt_tuning mode.
    pt_tokens, pt_steps, pt_lr : int, int, float
        Soft-prompt length (the study: 100), optimisation steps and AdamW learning rate.
    pt_seeds : list of int
        Prompt-tuning seeds; they play the role of templates (the study: 12 seeds).
    alpha, headline_k, n_perm, n_perm_count
        The analysis choices ``emostat analyse`` reads from the manifest (its options win):
        alpha of every claim (in (0, 1), default .05); the headline k, one of ``ks`` as
        written there (default the largest); the permutation counts (minimums: a count above
        the default starts from the default doubled; :mod:`emostat.analysis.pipelines.choices`).
        Not part of the run's identity.
    seed : int
        Master seed (negatives of binary sets, random draws, folds).
    backend : str
        local | ray | slurm.
    ray_num_cpus, ray_num_gpus, ray_memory_gb, ray_actors : number
        Resources declared per Ray actor and the number of actors.
    slurm_* :
        Where and how ``--backend slurm`` submits its job arrays
        (:mod:`emostat.collect.slurm_options`).
    """

    model: str | None = None
    space: str | None = None
    device: str = "cpu"
    dtype: str = "float32"
    dtype_auto: bool = False
    threads: int = 1
    workers: int = 1
    cpu_kernel: str = "onednn"
    quantize: str = "none"
    precision_check_items: int = 54
    precision_min_agreement: float = 0.95
    templates: list[str] | None = None
    position: str = "last"
    tasks: list[str] = field(default_factory=lambda: ["binary", "choice"])
    stimuli: str = "shipped"
    goemotions: str | None = None
    max_goemotions: int = 0
    items_per_emotion: int | None = None
    emotions: list[str] | None = None
    attributes: list[str] | None = None
    ks: list[float] = field(default_factory=lambda: [0.02, 0.05])
    n_random_draws: int = 20
    random_scheme: str = "uniform"
    shared_random: bool = True
    binary_draw: str = "distinct"
    ablation: str = "zero"
    n_folds: int = 4
    batch_size: int = 32
    items_per_shard: int = 64
    conditions_per_shard: int = 16
    max_new_tokens: int = 12
    chat: bool | None = None
    choice_prompt: str = "short"
    calibrate: bool = True
    calibration_folds: int = 5
    representation: str = "zero_shot"
    pt_tokens: int = 100
    pt_steps: int = 300
    pt_lr: float = 0.03
    pt_seeds: list[int] = field(default_factory=lambda: list(range(12)))
    seed: int = 20241201
    backend: str = "local"
    ray_num_cpus: float = 1
    ray_num_gpus: float = 0
    ray_memory_gb: float = 0
    ray_actors: int = 2
    geometry: bool = True
    geometry_items: int = 27
    geometry_random: int = 20         # steering: random directions on the data manifold
    geometry_isotropic: int = 5       # steering: isotropic Gaussian directions (off it)
    geometry_per_concept: int | None = None
    geometry_probe_layers: int | None = 10
    geometry_probe_perm: int = 199
    geometry_perm: int = 999
    alpha: float = 0.05
    headline_k: int | float | None = None
    n_perm: int = 10_000
    n_perm_count: int = 199

    # ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self, weights: str | None = None, space: str | None = None) -> str:
        """Hash of the fields that change the datasets (not device, backend or resources).

        The prompt-tuning fields count only when ``representation`` is not the default, so
        zero-shot runs keep the fingerprint they had before those fields existed. With
        ``weights`` (the SHA-256 of the model's weights) the model is identified by content,
        not by the path string; with ``space`` (its digest) the same holds for the space."""
        skip = {"device", "backend", "threads", "ray_num_cpus", "ray_num_gpus", "ray_memory_gb",
                "ray_actors", "workers", "cpu_kernel", *SLURM_DEFAULTS}
        if self.representation == "zero_shot":
            skip |= set(PT_FIELDS)
        skip |= set(GEOMETRY_FIELDS)        # the geometry tables record their own options
        skip |= set(ANALYSIS_FIELDS)        # read by `analyse`, no dataset depends on them
        skip |= set(PRECISION_FIELDS)       # a check before the run, no dataset depends on them
        if self.space is None:              # runs before the field existed keep their identity
            skip.add("space")
        d = {k: v for k, v in self.to_dict().items() if k not in skip}
        if self.dtype_auto:                 # what "auto" chose is not the run's identity
            d["dtype"] = "auto"
        if weights:
            d["model"] = f"sha256:{weights}"
        if space:
            d["space"] = f"sha256:{space}"
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def resolve_ks(self, n_neurons: int) -> list[int]:
        """The k values as counts for a model with ``n_neurons`` neurons (sorted, unique)."""
        out = []
        for k in self.ks:
            n = k_count(k, n_neurons)
            if n < 1:
                raise InputError(f"config field 'ks': {k!r} gives {n} neurons out of "
                                 f"{n_neurons}; use a larger fraction or a count")
            if n > n_neurons:
                raise InputError(f"config field 'ks': k = {k!r} is larger than the model's "
                                 f"{n_neurons} neurons")
            out.append(n)
        return sorted(set(out))


def resolve_quick_items(merged: dict) -> dict:
    """``items_per_emotion = "auto"`` (the quick profile) made a number for the run's space
    (:func:`emostat.analysis.masking.design.quick_items_for_space`)."""
    if merged.get("items_per_emotion") != QUICK_ITEMS:
        return merged
    a = merged.get("alpha", 0.05)
    a = a if isinstance(a, float) and 0 < a < 1 else 0.05
    return {**merged, "items_per_emotion": quick_items_for_space(
        cached_space(merged.get("space")), a)}


def _check(cond: bool, where: str, key: str, problem: str) -> None:
    if not cond:
        raise InputError(f"{where}: config field {key!r}: {problem}")


def validate_config(cfg: CollectConfig, where: str = "config") -> CollectConfig:
    """Check every field; raise :class:`InputError` naming the field. Returns ``cfg``."""
    c = _check
    c(cfg.dtype in DTYPES, where, "dtype", f"{cfg.dtype!r} is not one of {DTYPES}")
    c(not cfg.dtype_auto or cfg.dtype in ("float32", "bfloat16"), where, "dtype_auto",
      "set by emostat when dtype = \"auto\" chose float32 or bfloat16; leave it out")
    c(cfg.position in POSITIONS, where, "position", f"{cfg.position!r} not in {POSITIONS}")
    bad = [t for t in cfg.tasks if t not in TASKS]
    c(not bad, where, "tasks", f"unknown task(s) {bad}; known: {TASKS}")
    c(len(set(cfg.tasks)) == len(cfg.tasks), where, "tasks", "a task is listed twice")
    c(cfg.random_scheme in SCHEMES, where, "random_scheme", f"{cfg.random_scheme!r} not in {SCHEMES}")
    c(cfg.binary_draw in ("distinct", "study"), where, "binary_draw",
      f"{cfg.binary_draw!r} not in ('distinct', 'study')")
    c(cfg.ablation in ABLATIONS, where, "ablation", f"{cfg.ablation!r} not in {ABLATIONS}")
    c(cfg.choice_prompt in CHOICE_PROMPTS, where, "choice_prompt",
      f"{cfg.choice_prompt!r} not in {CHOICE_PROMPTS}")
    c(cfg.representation in REPRESENTATIONS, where, "representation",
      f"{cfg.representation!r} not in {REPRESENTATIONS}")
    for key in ("pt_tokens", "pt_steps"):
        v = getattr(cfg, key)
        c(isinstance(v, int) and not isinstance(v, bool) and v >= 1, where, key,
          f"expected a positive integer, got {v!r}")
    c(isinstance(cfg.pt_lr, (int, float)) and not isinstance(cfg.pt_lr, bool) and cfg.pt_lr > 0,
      where, "pt_lr", f"expected a positive number, got {cfg.pt_lr!r}")
    seeds = cfg.pt_seeds
    c(isinstance(seeds, list) and len(seeds) > 0 and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in seeds),
      where, "pt_seeds", f"expected a non-empty list of integers >= 0, got {seeds!r}")
    c(len(set(seeds)) == len(seeds), where, "pt_seeds", "a seed is listed twice")
    c(cfg.backend in BACKENDS, where, "backend", f"{cfg.backend!r} not in {BACKENDS}")
    validate_slurm(cfg, where)
    c(cfg.cpu_kernel in KERNELS, where, "cpu_kernel", f"{cfg.cpu_kernel!r} not in {KERNELS}")
    c(cfg.quantize in QUANTIZE, where, "quantize", f"{cfg.quantize!r} not in {QUANTIZE}")
    c(cfg.quantize == "none" or (cfg.device, cfg.dtype) == ("cpu", "float32"), where,
      "quantize", "int8 quantisation runs on the CPU on float32 weights only "
      "(device = \"cpu\", dtype = \"float32\")")
    v = cfg.precision_min_agreement
    c(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1, where,
      "precision_min_agreement", f"expected a share in [0, 1], got {v!r}")
    c(isinstance(cfg.calibration_folds, int) and not isinstance(cfg.calibration_folds, bool)
      and cfg.calibration_folds >= 2, where, "calibration_folds",
      f"expected an integer >= 2, got {cfg.calibration_folds!r}")
    for key in ("threads", "workers", "batch_size", "items_per_shard", "conditions_per_shard",
                "max_new_tokens", "n_folds", "ray_actors", "geometry_items", "geometry_random",
                "geometry_probe_perm", "geometry_perm", "precision_check_items"):
        v = getattr(cfg, key)
        c(isinstance(v, int) and not isinstance(v, bool) and v >= 1, where, key,
          f"expected a positive integer, got {v!r}")
    for key in ("n_random_draws", "geometry_isotropic"):
        v = getattr(cfg, key)
        c(isinstance(v, int) and not isinstance(v, bool) and v >= 0, where, key,
          f"expected an integer >= 0, got {v!r}")
    c(cfg.items_per_emotion is None or (isinstance(cfg.items_per_emotion, int)
                                        and cfg.items_per_emotion >= 1),
      where, "items_per_emotion", f"expected a positive integer, got {cfg.items_per_emotion!r}")
    for key in ("geometry_per_concept", "geometry_probe_layers"):
        v = getattr(cfg, key)
        c(v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 2), where, key,
          f"expected an integer >= 2 (or omit it), got {v!r}")
    c(isinstance(cfg.ks, list) and len(cfg.ks) > 0, where, "ks", "expected a non-empty list")
    for k in cfg.ks:
        ok = (isinstance(k, int) and not isinstance(k, bool) and k >= 1) or (
            isinstance(k, float) and 0 < k < 1)
        c(ok, where, "ks", f"{k!r} is neither a count >= 1 nor a fraction in (0, 1)")
    # concept and attribute names come from the space (read and validated here, before
    # anything is written)
    space = run_space(cfg)
    if cfg.emotions is not None:
        c(len(cfg.emotions) > 0, where, "emotions", "empty list (omit it for every concept)")
        unknown = [e for e in cfg.emotions if e not in space.concepts]
        c(not unknown, where, "emotions", f"unknown emotion name(s) {unknown}: not concepts of "
                                          f"space {space.name!r} ({list(space.concepts)[:3]} ...)")
    if cfg.attributes is not None:
        c(len(cfg.attributes) > 0, where, "attributes", "empty list (omit it for every "
                                                          "attribute)")
        unknown = [a for a in cfg.attributes if a not in space.attributes]
        c(not unknown, where, "attributes", f"unknown attribute(s) {unknown}: space "
                                            f"{space.name!r} has {list(space.attributes)}")
    if cfg.templates is not None:
        c(len(cfg.templates) > 0, where, "templates", "empty list (omit it for all templates)")
    c(cfg.stimuli == "shipped" or Path(cfg.stimuli).exists(), where, "stimuli",
      f"file {cfg.stimuli!r} not found (use \"shipped\" for data/stimuli/)")
    if cfg.goemotions:
        c(Path(cfg.goemotions).exists(), where, "goemotions", f"file {cfg.goemotions!r} not found")
    c(cfg.max_goemotions >= 0, where, "max_goemotions", "must be >= 0")
    c(isinstance(cfg.seed, int) and not isinstance(cfg.seed, bool) and cfg.seed >= 0, where,
      "seed", f"expected an integer >= 0, got {cfg.seed!r}")
    from emostat.analysis.pipelines.choices import check_choices

    check_choices({f: getattr(cfg, f) for f in ANALYSIS_FIELDS}, cfg.ks, where=where)
    if "generate" in cfg.tasks:
        pass  # decoders only: checked once the model is loaded
    return cfg


def run_space(cfg: CollectConfig):
    """The run's concept space (field ``space``; None = the study's), read once per process."""
    return cached_space(cfg.space)


@lru_cache(maxsize=4)
def cached_space(spec):
    """:func:`emostat.space.load_space` of ``spec``, cached (workers build items repeatedly),
    with every concept x attribute cell rated (the attribute RDMs of the searchlight need
    them): checked here, before a run writes anything."""
    return require_complete(load_space(spec))


def load_config(path=None, *, quick: bool = False, **overrides) -> CollectConfig:
    """Build a :class:`CollectConfig` from a profile, an optional TOML file and overrides.

    Parameters
    ----------
    path : path, optional
        TOML file (flat keys, see the module docstring). Its ``profile`` key picks the base.
    quick : bool
        Start from the ``quick`` profile (the command line's ``--quick``: it wins over a file's
        ``profile`` key).
    **overrides
        Field values that win over the file (None values are ignored), e.g. from the CLI.

    Raises
    ------
    InputError
        Unreadable file, unknown key, wrong type or value; the message names the file and key.
    """
    where = "config"
    values: dict = {}
    profile = file_profile = "quick" if quick else "default"
    if path is not None:
        path = Path(path)
        where = str(path)
        if not path.exists():
            raise InputError(f"{path}: config file not found")
        try:
            values = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a valid TOML file ({exc})") from None
        file_profile = values.pop("profile", "default")
        profile = "quick" if quick else file_profile
        for key in ("stimuli", "goemotions", "model", "space", "slurm_folder"):
            v = values.get(key)
            if isinstance(v, str) and v and v != "shipped":
                p = Path(v).expanduser()
                if not p.is_absolute() and (path.parent / p).exists():
                    values[key] = str((path.parent / p).resolve())
    for name in (file_profile, profile):       # the file's, even where --quick overrides it
        if not isinstance(name, str) or name not in PROFILES:
            raise InputError(f"{where}: config field 'profile': {name!r} not in "
                             f"{sorted(PROFILES)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if path is not None and (profile != file_profile or any(
            values.get(k, PROFILES[file_profile].get(k)) != v for k, v in given.items())):
        _build(where, file_profile, values)     # every value of the file, even overridden ones
    return _build(where, profile, {**values, **given})


def _build(where: str, profile: str, given: dict) -> CollectConfig:
    """The validated config of ``profile`` with ``given`` values (file and overrides)."""
    known = {f.name: f for f in dataclasses.fields(CollectConfig)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InputError(f"{where}: unknown config key(s) {unknown}; known keys: "
                         f"{sorted([*known, 'profile'])}")
    merged = dict(PROFILES[profile])
    if given.get("space") not in (None, "study") and "attributes" not in given:
        merged.pop("attributes", None)      # a profile's attribute names are the study's
    merged.update(given)
    merged = resolve_quick_items(merged)
    for key, v in merged.items():
        _check_type(where, key, v, known[key].type)
    if merged.get("model") == "":
        merged["model"] = None
    return validate_config(CollectConfig(**merged), where)


def _check_type(where: str, key: str, v, annot: str) -> None:
    """Light type check from the field annotation string."""
    ok = True
    if annot.startswith("list"):
        ok = v is None and "None" in annot or isinstance(v, list)
        if ok and isinstance(v, list) and "str" in annot:
            ok = all(isinstance(x, str) for x in v)
    elif annot in ("str", "str | None"):
        ok = isinstance(v, str) or (v is None and "None" in annot)
    elif annot in ("bool", "bool | None"):
        ok = isinstance(v, bool) or (v is None and "None" in annot)
    elif annot in ("int", "int | None"):
        ok = (isinstance(v, int) and not isinstance(v, bool)) or (v is None and "None" in annot)
    elif annot == "float":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    elif annot == "int | float | None":
        ok = v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
    if not ok:
        raise InputError(f"{where}: config field {key!r}: wrong type {type(v).__name__} "
                         f"(expected {annot})")
