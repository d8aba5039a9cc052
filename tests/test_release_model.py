"""Tests of emostat.release.model (activation files -> Parquet) and emostat.analysis.neurons.activations."""

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emostat.analysis.neurons.activations import iter_activation_blocks, load_activation_array
from emostat.constants import ANALYSIS_ORDER, EMOTIONS
from emostat.errors import InputError
from emostat.io import read_provenance
from emostat.release import common
from emostat.release.model import (N_VALUES, activation_files, import_model,
                                   read_activation_file)


def _write(path, values, header=None, gz=False):
    header = header if header is not None else ",".join(map(str, range(len(values))))
    text = header + "\n" + ",".join(values) + "\n"
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def test_read_activation_file_parses_and_checks(tmp_path):
    vals = ["-0.00017867492", "1.5e-10", "0.7291588"]
    p = _write(tmp_path / "joy-1.csv.gz", vals, gz=True)
    np.testing.assert_array_equal(read_activation_file(p, n_values=3),
                                  [-0.00017867492, 1.5e-10, 0.7291588])
    with pytest.raises(InputError, match=r"joy-1.csv.gz.*3 values, expected 36864"):
        read_activation_file(p)
    bad = _write(tmp_path / "joy-2.csv", ["1", "x", "2"])
    with pytest.raises(InputError, match="joy-2.csv, row 2: non-numeric"):
        read_activation_file(bad, n_values=3)
    nan = _write(tmp_path / "joy-3.csv", ["1", "nan", "2"])
    with pytest.raises(InputError, match="non-finite"):
        read_activation_file(nan, n_values=3)


def _fake_release(tmp_path, seeds=("1", "3"), skip=(), extra=()):
    folder = tmp_path / common.ACTIVATIONS_DIR
    folder.mkdir(parents=True)
    for e in EMOTIONS:
        for s in seeds:
            if (e, s) not in skip:
                (folder / f"{e}-{s}.csv.gz").write_bytes(b"")
    for name in extra:
        (folder / name).write_bytes(b"")
    return tmp_path


def test_activation_files_checks_names_and_design(tmp_path):
    files = activation_files(_fake_release(tmp_path / "ok"))
    assert len(files) == 54 and files[("joy", "3")].name == "joy-3.csv.gz"
    with pytest.raises(InputError, match="unknown emotion 'happiness'"):
        activation_files(_fake_release(tmp_path / "a", extra=["happiness-1.csv.gz"]))
    with pytest.raises(InputError, match=r"1 activation file\(s\) missing.*grief-3"):
        activation_files(_fake_release(tmp_path / "b", skip=[("grief", "3")]))
    with pytest.raises(InputError, match="not <emotion>-<seed>"):
        activation_files(_fake_release(tmp_path / "c", extra=["notes.txt"]))


def _synthetic_table(rng, layer_sizes=(4, 6), concepts=ANALYSIS_ORDER[::-1],
                     templates=("10", "2", "1")):
    rows = []
    A = rng.normal(size=(len(templates), len(concepts), sum(layer_sizes)))
    off = 0
    for layer, units in enumerate(layer_sizes):
        for ci, c in enumerate(concepts):
            for ti, t in enumerate(templates):
                rows.append(("m", c, t, layer, A[ti, ci, off:off + units].tolist()))
        off += units
    df = pd.DataFrame(rows, columns=["model", "concept", "template", "layer", "values"])
    return pa.Table.from_pandas(df.sample(frac=1, random_state=0), preserve_index=False), A


def test_load_activation_array_orders_axes(tmp_path):
    table, A = _synthetic_table(np.random.default_rng(0))
    got, concepts, templates, sizes = load_activation_array(table)
    assert concepts == list(ANALYSIS_ORDER)       # emotions come in analysis order
    assert templates == ["1", "2", "10"]           # integer templates sorted numerically
    assert sizes == [4, 6]
    # A was built with concepts reversed and templates ("10", "2", "1")
    np.testing.assert_array_equal(got, A[::-1, ::-1])
    path = tmp_path / "act.parquet"
    pq.write_table(table, path, row_group_size=27)
    blocks = list(iter_activation_blocks(path, chunk_neurons=4))
    assert [(b.layer, b.unit_start, b.neuron_start, b.values.shape[2]) for b in blocks] == [
        (0, 0, 0, 4), (1, 0, 4, 4), (1, 4, 8, 2)]
    np.testing.assert_array_equal(np.concatenate([b.values for b in blocks], axis=2), got)


def test_load_activation_array_rejects_incomplete(tmp_path):
    table, _ = _synthetic_table(np.random.default_rng(1))
    with pytest.raises(InputError, match="expected 162"):
        load_activation_array(table.slice(1))
    with pytest.raises(InputError, match="lacks required column 'layer'"):
        load_activation_array(table.drop_columns(["layer"]))
    with pytest.raises(InputError, match="not found"):
        load_activation_array(tmp_path / "nope.parquet")


@pytest.mark.release
def test_import_model_release(release, tmp_path):
    out = import_model(release, tmp_path, quiet=True)
    pf = pq.ParquetFile(out["activations"])
    assert pf.metadata.num_rows == 324 * 12 and pf.metadata.num_row_groups == 12
    assert pf.schema_arrow.field("values").type.value_type == pa.float64()
    prov = read_provenance(out["activations"])
    assert len(prov["files"]) == 324 and prov["values_dtype"] == "float64"
    A, concepts, templates, sizes = load_activation_array(out["activations"])
    assert A.shape == (12, 27, N_VALUES) and sizes == [3072] * 12
    assert templates == ["1", "3", "5", "7", "9", "11", "13", "15", "17", "19", "42", "100"]
    # values equal a direct parse of the text (double reading), e.g. grief-42 and joy-7
    for e, s in [("grief", "42"), ("joy", "7")]:
        direct = read_activation_file(common.find(release, common.ACTIVATIONS_DIR / f"{e}-{s}.csv"))
        np.testing.assert_array_equal(A[templates.index(s), concepts.index(e)], direct)
    # admiration-1.csv.gz opens with -0.00017867492,-0.013294166 (first two values of the file)
    assert A[0, concepts.index("admiration"), :2].tolist() == [-0.00017867492, -0.013294166]
    acc = pd.read_parquet(out["accuracy"])
    assert (acc["condition"] == "none").sum() == 324
