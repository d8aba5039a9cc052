"""Read the release's model data: FFN activations of the 324 prompts and masking accuracies.

Activation files: ``Data/raw_data/PLM/prompt_tuning_RoBERTa/neurons_activation_before_relu/
<emotion>-<seed>.csv(.gz)``, one header row (0..36863) then ONE row of 36,864 values, layer-major
(neuron = layer * 3072 + unit): the FFN intermediate output (post-GELU) of roberta-base's 12
layers at position 0, for the soft prompt of that emotion and seed. The text holds float32
values printed as their shortest decimal; the study read them as double. Storing float32 loses
that double reading: recomputed searchlight ranks then equal the released ones for 95.4-98.7%
of neurons per attribute (min control), against 97.2-99.4% from the double values (checked
here; Spearman 1.0000 and top-4000 sets identical either way). So the dataset stores float64
(the ``activations`` schema accepts any float list).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from emostat.errors import input_error
from emostat.io import file_sha256, provenance, write_table
from emostat.progress import progress
import emostat.release.common as common
from emostat.schemas import schema
from emostat.release.vocab import RELEASE_ANALYSIS_ORDER, RELEASE_EMOTIONS

MODEL = "roberta-base-prompt-tuned"
N_LAYERS = 12
N_UNITS = 3072
N_VALUES = N_LAYERS * N_UNITS  # 36,864
_NAME = re.compile(r"(?P<emotion>[a-z]+)-(?P<seed>\d+)\.csv(\.gz)?")


def read_activation_file(path, n_values: int = N_VALUES) -> np.ndarray:
    """The values row of one activation file as float64 (header row checked and skipped).

    Parsing splits the text on commas (about 60x faster than pandas on this one-row shape).

    Raises
    ------
    InputError
        Unreadable file, a missing values row, a value that is not a number, non-finite
        values, or a count other than ``n_values`` (the message names the file and the count).
    """
    path = Path(path)
    lines = common.read_text(path).split("\n")
    rows = [ln for ln in lines[1:] if ln.strip()]
    if len(rows) != 1:
        raise input_error(path, f"expected a header row and one row of values, found "
                                f"{len(rows)} value rows")
    try:
        values = np.array(rows[0].rstrip("\r").split(","), dtype=np.float64)
    except ValueError as exc:
        raise input_error(path, f"non-numeric value in the values row ({exc})", row=2) from exc
    if values.size != n_values:
        raise input_error(path, f"{values.size} values, expected {n_values} "
                                f"({N_LAYERS} layers x {N_UNITS} units)", row=2)
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise input_error(path, "non-finite value", row=2, field=str(bad))
    return values


def activation_files(root) -> dict[tuple[str, str], Path]:
    """Map (emotion, seed) -> file, checking names, emotions and that every seed is complete.

    Raises
    ------
    InputError
        Missing folder, a file name not ``<emotion>-<seed>.csv(.gz)``, an unknown emotion, or
        an (emotion, seed) combination missing while other emotions have that seed.
    """
    folder = Path(root) / common.ACTIVATIONS_DIR
    if not folder.is_dir():
        raise input_error(folder, "activation folder not found")
    files: dict[tuple[str, str], Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.is_dir():
            continue
        if p.name.endswith("-all.csv") or p.name.endswith("-all.csv.gz"):
            continue  # the authors' per-emotion sums, not per-prompt activations
        m = _NAME.fullmatch(p.name)
        if not m:
            raise input_error(p, "file name is not <emotion>-<seed>.csv or .csv.gz")
        emotion, seed = m["emotion"], m["seed"]
        if emotion not in RELEASE_EMOTIONS:
            raise input_error(p, f"unknown emotion {emotion!r} in file name; expected one of "
                                 f"the 27 GoEmotions emotions")
        if (emotion, seed) in files and p.suffix == ".gz":
            continue  # prefer the plain .csv when both exist
        files[(emotion, seed)] = p
    if not files:
        raise input_error(folder, "no <emotion>-<seed>.csv(.gz) activation files")
    seeds = sorted({s for _, s in files}, key=int)
    missing = [f"{e}-{s}" for e in RELEASE_EMOTIONS for s in seeds if (e, s) not in files]
    if missing:
        raise input_error(folder, f"{len(missing)} activation file(s) missing for a complete "
                                  f"27 emotions x {len(seeds)} seeds design, e.g. {missing[:5]}")
    return files


def read_activations(root, quiet: bool = False) -> tuple[pa.Table, dict]:
    """The release's activations as an ``activations`` Arrow table (float64 values).

    Returns
    -------
    table : pyarrow.Table
        Columns ``model``, ``concept`` (emotion), ``template`` (seed as a string), ``layer``
        (0..11), ``values`` (list<double>, 3072 per row). One row per prompt x layer, sorted by
        layer, then emotion (analysis order), then seed: a layer is a contiguous block.
    hashes : dict
        Relative file path -> SHA-256 of every file read.
    """
    root = common.check_release(root)
    files = activation_files(root)
    seeds = sorted({s for _, s in files}, key=int)
    prompts = [(e, s) for e in RELEASE_ANALYSIS_ORDER for s in seeds]
    X = np.empty((len(prompts), N_VALUES))
    hashes = {}
    for k, (e, s) in enumerate(progress(prompts, desc="activations", quiet=quiet)):
        X[k] = read_activation_file(files[(e, s)])
        hashes[str(files[(e, s)].relative_to(root))] = file_sha256(files[(e, s)])
    blocks = X.reshape(len(prompts), N_LAYERS, N_UNITS).transpose(1, 0, 2)  # layer, prompt, unit
    values = pa.ListArray.from_arrays(
        pa.array(np.arange(0, blocks.size + 1, N_UNITS, dtype=np.int32)),
        pa.array(np.ascontiguousarray(blocks).ravel()))
    n = len(prompts)
    table = pa.table({
        "model": pa.array([MODEL] * (N_LAYERS * n)),
        "concept": pa.array([e for e, _ in prompts] * N_LAYERS),
        "template": pa.array([s for _, s in prompts] * N_LAYERS),
        "layer": pa.array(np.repeat(np.arange(N_LAYERS, dtype=np.int64), n)),
        "values": values,
    })
    return table, hashes


def import_model(root, out, quiet: bool = False) -> dict[str, Path]:
    """Write the release's model datasets under ``out``.

    Files: ``activations.parquet`` (schema ``activations``, float64 values, one row group per
    layer so that readers can stream neuron blocks) and ``accuracy.parquet`` (schema
    ``accuracy``: the per-prompt masking accuracies, from
    :func:`emostat.release.masking.read_masking_accuracy`). Each carries a provenance record
    with the source folder and the SHA-256 of every file read.

    Returns
    -------
    dict
        dataset name -> written path.
    """
    from emostat.release.masking import read_masking_accuracy

    root = common.check_release(root)
    out = Path(out)
    table, hashes = read_activations(root, quiet=quiet)
    n_prompts = table.num_rows // N_LAYERS
    act_schema = pa.schema([f if f.name != "values" else pa.field("values", pa.list_(pa.float64()))
                            for f in schema("activations")])
    prov = provenance(source=str(root), dataset="activations", model=MODEL,
                      activation="FFN intermediate output (post-GELU), position 0, prompt only",
                      layers=N_LAYERS, units_per_layer=N_UNITS, values_dtype="float64",
                      files=hashes)
    written = {"activations": write_table(table.cast(act_schema), out / "activations.parquet",
                                          prov=prov, row_group_size=n_prompts)}
    acc = read_masking_accuracy(root)
    acc_files = sorted((root / common.MASK_TOP_DIR).glob("*.json")) + sorted(
        (root / common.MASK_RANDOM_DIR).glob("*.json"))
    prov = provenance(source=str(root), dataset="accuracy", model=MODEL,
                      files={str(p.relative_to(root)): file_sha256(p) for p in acc_files})
    written["accuracy"] = write_table(acc, out / "accuracy.parquet", prov=prov,
                                      schema=schema("accuracy"))
    if not quiet:
        print(f"activations: {n_prompts} prompts x {N_LAYERS} layers x {N_UNITS} units; "
              f"accuracy: {len(acc)} rows")
    return written
