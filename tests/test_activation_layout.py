"""The activations' layout on disk (issue 24 item 4): a collected part file holds one row group
per layer, and the readers give the same array from that layout, from the concept-major single
row group that earlier versions wrote, and layer by layer (streaming). The reference is the
array the rows were built from (exact float32 values)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emostat import io
from emostat.analysis.neurons.activations import iter_activation_blocks, load_activation_array
from emostat.collect.stages import activation_row_group, activation_table
from emostat.errors import InputError

SIZES = [5, 3, 4]
CONCEPTS = ["c1", "c2", "c3", "c4"]
TEMPLATES = ["t01", "t02"]


def _rows(seed=0):
    """A [rows, neurons] array, row r = CONCEPTS x TEMPLATES (template-major), and labels."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(len(TEMPLATES) * len(CONCEPTS), sum(SIZES))).astype(np.float32)
    concepts = CONCEPTS * len(TEMPLATES)
    templates = [t for t in TEMPLATES for _ in CONCEPTS]
    return A, concepts, templates


def _expected(A):
    """(templates, concepts, neurons) float64: the array every reader must return."""
    return A.reshape(len(TEMPLATES), len(CONCEPTS), -1).astype(np.float64)


def _old_layout(table: pa.Table) -> pa.Table:
    """The rows as versions before issue 24 wrote them: concept-major, layers inside."""
    order = sorted(range(table.num_rows), key=lambda r: (
        table.column("template")[r].as_py(), table.column("concept")[r].as_py(),
        table.column("layer")[r].as_py()))
    return table.take(pa.array(order))


def test_collected_file_has_one_row_group_per_layer(tmp_path):
    A, concepts, templates = _rows()
    t = activation_table("m", concepts, templates, A, SIZES)
    path = io.write_table(t, tmp_path / "part-t000.parquet", row_group_size=activation_row_group(t))
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == len(SIZES)
    for g in range(meta.num_row_groups):
        layers = pq.ParquetFile(path).read_row_group(g, columns=["layer"]).column(0).to_pylist()
        assert set(layers) == {g} and len(layers) == len(CONCEPTS) * len(TEMPLATES)


@pytest.mark.parametrize("layout", ["layer_groups", "old"])
def test_readers_give_the_rows_values(tmp_path, layout):
    A, concepts, templates = _rows(1)
    t = activation_table("m", concepts, templates, A, SIZES)
    folder = tmp_path / "activations"
    # two part files (one template each), as a collection writes them
    for k, tm in enumerate(TEMPLATES):
        part = t.filter(pa.compute.equal(t.column("template"), tm))
        if layout == "old":
            io.write_table(_old_layout(part), folder / f"part-t{k:03d}.parquet")
        else:
            io.write_table(part, folder / f"part-t{k:03d}.parquet",
                           row_group_size=activation_row_group(part))
    got, c, tmpl, sizes = load_activation_array(folder, concepts=CONCEPTS)
    np.testing.assert_array_equal(got, _expected(A))
    assert (c, tmpl, sizes) == (CONCEPTS, TEMPLATES, SIZES)
    blocks = list(iter_activation_blocks(folder, chunk_neurons=2, concepts=CONCEPTS))
    np.testing.assert_array_equal(np.concatenate([b.values for b in blocks], axis=2),
                                  _expected(A))
    # the table in memory reads the same
    np.testing.assert_array_equal(load_activation_array(t, concepts=CONCEPTS)[0], _expected(A))


def test_non_finite_value_is_named(tmp_path):
    A, concepts, templates = _rows(2)
    A[5, 6] = np.nan                      # row 5: concept c2, template t02; neuron 6: layer 1
    t = activation_table("m", concepts, templates, A, SIZES)
    path = io.write_table(t, tmp_path / "act.parquet")
    with pytest.raises(InputError, match=r"layer 1, concept 'c2', template 't02': non-finite"):
        load_activation_array(path, concepts=CONCEPTS)
