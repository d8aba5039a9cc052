"""One vocabulary (issue 22 item 8): ``concept`` and ``participant`` in every table, old files
upgraded on reading (emostat.schemas version 2 steps), old names accepted by emostat.stats for
one release with a DeprecationWarning (emostat.vocabulary)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import emostat.stats as es
from emostat import io, schemas
from emostat.vocabulary import OLD_NAMES

OLD = {new: old for old, new in OLD_NAMES.items()}


def _value(field: pa.Field):
    t = field.type
    if pa.types.is_list(t):
        return [0.1, 0.2]
    if pa.types.is_boolean(t):
        return True
    if pa.types.is_integer(t):
        return 1
    if pa.types.is_floating(t):
        return 0.5
    return {"concept": "joy", "concept_a": "joy", "concept_b": "fear"}.get(field.name, "x")


def _old_frame(name: str) -> pd.DataFrame:
    """A version-1 table of ``name`` as the code before the rename wrote it, by hand."""
    row = {f.name: _value(f) for f in schemas.schema(name)}
    df = pd.DataFrame([row, row])
    old = {c: OLD[c] for c in df.columns if c in OLD}
    if name == "random_null":
        old["drop"] = "estimate"
    return df.rename(columns=old)


def test_no_table_keeps_an_old_column_name():
    # the contract: concept columns are `concept`, participants `participant`, everywhere
    for name in schemas.names():
        cols = {f.name for f in schemas.schema(name)}
        assert not cols & set(OLD_NAMES), name
        assert "n_emotions" not in cols, name


@pytest.mark.parametrize("name", schemas.VOCABULARY_V2)
def test_version_1_files_read_upgraded(tmp_path, name):
    v1 = _old_frame(name)
    assert set(v1.columns) & (set(OLD_NAMES) | {"estimate"}), name     # really the old names
    path = io.write_table(v1, tmp_path / f"{name}.parquet",
                          prov={"schema": name, "schema_version": 1})
    got = io.read_table(path, dataset=name)
    assert schemas.VERSIONS[name] == 2
    want = [f.name for f in schemas.schema(name)]
    assert [c for c in got.columns if c in want] == want
    assert not set(got.columns) & set(OLD_NAMES)
    if "concept" in got:
        assert got["concept"].tolist() == ["joy", "joy"]
    if name == "random_null":
        assert got["drop"].tolist() == [0.5, 0.5]
    # a file written now is read as it is
    again = io.read_table(io.write_table(got, tmp_path / "now.parquet", dataset=name),
                          dataset=name)
    pd.testing.assert_frame_equal(again, got)


def test_unversioned_masking_table_with_old_words_is_reworded(tmp_path):
    # a masking_by_emotion and a mixed-model table as the previous code wrote them (no
    # version in the provenance = version 1): column, unit, formula, group and test renamed
    by_emo = pd.DataFrame({"k": [4000, 4000], "emotion": ["joy", "fear"],
                           "estimate": [0.02, 0.01], "std_error": [0.01, 0.01],
                           "statistic": [2.0, 1.0], "df": [167.0, 167.0],
                           "p_value": [0.02, 0.16], "conf_low": [0.0, -0.01],
                           "conf_high": [0.04, 0.03], "q_value": [0.05, 0.2],
                           "q_value_bh": [0.04, 0.16], "p_value_perm": [0.02, 0.15],
                           "p_method": ["t"] * 2, "p_method_perm": ["sign-flip"] * 2,
                           "unit": ["attribute × template (168)"] * 2, "role": ["study"] * 2,
                           "test": ["study_t"] * 2})
    got = io.read_table(io.write_table(by_emo, tmp_path / "be.parquet"),
                        dataset="masking_by_emotion")
    assert got["concept"].tolist() == ["joy", "fear"] and "emotion" not in got
    mm = pd.DataFrame({"k": [4000] * 2, "model": ["study"] * 2,
                       "formula": ["accuracy ~ attribute_vs_random + (1 | emotion/prompt)",
                                   "accuracy ~ attribute_vs_random + (1 | emotion) + "
                                   "(1 | emotion:prompt)"],
                       "family": ["gaussian"] * 2, "outcome": ["accuracy"] * 2,
                       "role": ["study"] * 2, "effect": ["ran_pars"] * 2,
                       "group": ["emotion", "emotion:prompt"], "term": ["sd__(Intercept)"] * 2,
                       "estimate": [0.1, 0.2], "std_error": [np.nan] * 2,
                       "statistic": [np.nan] * 2, "df": [np.nan] * 2, "p_value": [np.nan] * 2,
                       "p_method": [None] * 2, "status": ["ok"] * 2, "message": [""] * 2,
                       "unit": ["emotion (27)", "emotion label (27)"]})
    got = io.read_table(io.write_table(mm, tmp_path / "mm.parquet"),
                        dataset="masking_mixed_model")
    assert got["formula"].tolist() == [
        "accuracy ~ attribute_vs_random + (1 | concept/prompt)",
        "accuracy ~ attribute_vs_random + (1 | concept) + (1 | concept:prompt)"]
    assert got["group"].tolist() == ["concept", "concept:prompt"]
    assert got["unit"].tolist() == ["concept (27)", "concept label (27)"]
    bst = _old_frame("bias_study_test").assign(test=["study_emotion_t", "study_cell_t"])
    got = io.read_table(io.write_table(bst, tmp_path / "b.parquet"), dataset="bias_study_test")
    assert got["test"].tolist() == ["study_concept_t", "study_cell_t"]


def _drops():
    rng = np.random.default_rng(5)
    imp = pd.Series(rng.normal(size=6), index=list("abcdef"))
    rows = [(4000, c, a, 0.5 * imp[a] + 0.3 * rng.normal())
            for c in ["joy", "fear", "love", "grief"] for a in imp.index]
    return pd.DataFrame(rows, columns=["k", "concept", "attribute", "drop"]), imp


def test_stats_accept_the_old_names_with_a_warning():
    drops, imp = _drops()
    new = es.link_test(drops, imp, n_perm="exact")
    with pytest.warns(DeprecationWarning, match="emotion"):
        old = es.link_test(drops.rename(columns={"concept": "emotion"}), imp, n_perm="exact")
    pd.testing.assert_frame_equal(old, new)
    by = es.link_by_concept(drops, imp)
    with pytest.warns(DeprecationWarning, match="link_by_concept"):
        pd.testing.assert_frame_equal(es.link_by_emotion(drops, imp), by)
    # a re-exported function, with a `by` that names the old column
    d = drops.assign(diff=-drops["drop"], acc_none=0.9, acc_random=0.8,
                     acc_attribute=0.8 - drops["drop"])
    want = es.paired_tests(d, ["k", "concept"])
    with pytest.warns(DeprecationWarning):
        got = es.paired_tests(d.rename(columns={"concept": "emotion"}), by=["k", "emotion"])
    pd.testing.assert_frame_equal(got, want)
    # participant_id in a similarity table (importance_test's default is now `participant`)
    from emostat.constants import pair_indices

    i, j = pair_indices(27)
    x = np.arange(27.0)
    sim = pd.DataFrame([(f"p{s}", p, abs(x[a] - x[b]) + 0.1 * s)
                        for s in range(3) for p, (a, b) in enumerate(zip(i, j))],
                       columns=["participant", "pair", "dissimilarity"])
    attr = pd.DataFrame({"dist": np.abs(x[i] - x[j])})
    want = es.importance_test(sim, attr, n_boot=50, n_perm=99)
    with pytest.warns(DeprecationWarning, match="participant_id"):
        got = es.importance_test(sim.rename(columns={"participant": "participant_id"}), attr,
                                 n_boot=50, n_perm=99)
    pd.testing.assert_frame_equal(got, want)


def test_upgrade_keeps_integer_columns_with_nulls(tmp_path):
    # an old accuracy table: k and draw are null on the unmanipulated rows (Arrow int64 with
    # nulls); the pandas round trip of the upgrade must not leave them float (validate refuses)
    acc = pa.table({"model": ["m", "m"], "emotion": ["joy", "joy"], "template": ["1", "1"],
                    "condition": ["none", "random"], "attribute": [None, None],
                    "k": pa.array([None, 4], pa.int64()), "draw": pa.array([None, 0], pa.int64()),
                    "accuracy": [0.9, 0.8]})
    path = tmp_path / "accuracy.parquet"
    io.write_table(acc, path)                                  # unversioned = version 1
    got = io.read_table(path, dataset="accuracy", as_pandas=False)
    assert got.schema.field("k").type == pa.int64() and got.column("k").to_pylist() == [None, 4]
    assert got.column("concept").to_pylist() == ["joy", "joy"]
