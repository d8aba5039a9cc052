"""Shard planning, pending detection, stray files and content hashes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from emostat import io
from emostat.collect import shards as sh
from emostat.errors import InputError


def test_blocks_and_inference_plan():
    assert sh.blocks(range(5), 2) == [(0, 1), (2, 3), (4,)]
    plan = sh.inference_shards("binary", [f"i{j}" for j in range(5)], ["none", "a", "b"],
                               items_per_shard=2, conditions_per_shard=2)
    # 3 item blocks x 2 condition blocks
    assert [s.id for s in plan] == ["binary-i0000-c0000", "binary-i0000-c0001",
                                    "binary-i0001-c0000", "binary-i0001-c0001",
                                    "binary-i0002-c0000", "binary-i0002-c0001"]
    # every (item, condition) pair exactly once
    pairs = [(i, c) for s in plan for i in s.items for c in s.conditions]
    assert len(pairs) == 15 and len(set(pairs)) == 15
    assert sum(s.n_units for s in plan) == 15


def test_pending_and_strays(tmp_path):
    plan = sh.activation_shards(["t01", "t02", "t03"])
    assert [s.id for s in plan] == ["t000", "t001", "t002"]
    io.write_table(pa.table({"x": [1]}), plan[1].path(tmp_path))
    assert [s.id for s in sh.pending(plan, tmp_path)] == ["t000", "t002"]
    sh.check_no_strays(plan, tmp_path, "activations")
    io.write_table(pa.table({"x": [2]}), sh.shard_path(tmp_path, "activations", "t999"))
    with pytest.raises(InputError, match="another run"):
        sh.check_no_strays(plan, tmp_path, "activations")


def test_content_hash_ignores_row_order_and_metadata(tmp_path):
    a = pa.table({"k": ["b", "a", "c"], "v": [2.0, 1.0, 3.0]})
    b = pa.table({"k": ["a", "c", "b"], "v": [1.0, 3.0, 2.0]}).replace_schema_metadata({"x": "y"})
    c = pa.table({"k": ["a", "c", "b"], "v": [1.0, 3.0, 2.5]})
    assert sh.content_hash(a, ["k"]) == sh.content_hash(b, ["k"])
    assert sh.content_hash(a, ["k"]) != sh.content_hash(c, ["k"])
    io.write_table(a.slice(0, 2), sh.shard_path(tmp_path, "d", "p0"))
    io.write_table(a.slice(2), sh.shard_path(tmp_path, "d", "p1"))
    assert sh.content_hash(sh.read_dataset(tmp_path, "d"), ["k"]) == sh.content_hash(a, ["k"])
