"""Package-level contracts: CLI help, analysis never imports torch, schemas and atomic I/O."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest

from emostat import __version__, io, schemas
from emostat.cli import build_parser
from emostat.constants import ANALYSIS_ORDER, EMOTIONS, N_PAIRS, pair_indices
from emostat.errors import InputError


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"import-release", "reproduce", "collect", "analyse", "report", "run"}
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0
        assert "usage: emostat" in capsys.readouterr().out


def test_analysis_and_report_never_import_torch():
    code = ("import sys, emostat.analysis.pipelines, emostat.analysis.human.humanspace, "
            "emostat.analysis.neurons.searchlight, emostat.analysis.masking.drops, emostat.analysis.engines.mixed, "
            "emostat.analysis.masking.link, emostat.analysis.engines.bca, emostat.stats, "
            "emostat.report.render, emostat.summary; "
            "print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_pair_order_is_r_dist_lower_triangle():
    # R: m <- matrix(0, 4, 4); which(lower.tri(m), arr.ind = TRUE) gives (row, col), 1-based:
    # (2,1) (3,1) (4,1) (3,2) (4,2) (4,3)
    i, j = pair_indices(4)
    assert list(zip(i + 1, j + 1)) == [(2, 1), (3, 1), (4, 1), (3, 2), (4, 2), (4, 3)]
    assert len(pair_indices()[0]) == N_PAIRS == 351
    assert sorted(ANALYSIS_ORDER) == list(EMOTIONS)


def test_write_table_is_atomic_and_carries_provenance(tmp_path):
    path = tmp_path / "t.parquet"
    io.write_table(pd.DataFrame({"a": [1, 2]}), path, prov=io.provenance(seed=7))
    prov = io.read_provenance(path)
    assert prov["emostat_version"] == __version__ and prov["seed"] == 7
    # a failing write leaves the old file intact and no temporary file behind
    with pytest.raises(Exception):
        io.write_table(pa.table({"a": [1]}), path, schema=pa.schema([("b", pa.string())]))
    assert pd.read_parquet(path)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_validate_names_file_and_column():
    table = pa.table({"concept": ["joy", "happiness"], "attribute": ["valence"] * 2})
    with pytest.raises(InputError, match=r"x\.parquet.*'estimate'"):
        schemas.validate(table, "human_means", where="x.parquet")
    table = table.append_column("estimate", pa.array([1.0, 2.0]))
    schemas.validate(table, "human_means", where="x.parquet")   # any space's names pass
    from emostat.space import load_space

    with pytest.raises(InputError, match="happiness"):             # not in the study space
        schemas.validate(table, "human_means", where="x.parquet",
                         concepts=load_space().concepts)
