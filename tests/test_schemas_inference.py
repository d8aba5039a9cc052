"""The inference rules of emostat.schemas.validate for results tables (docs/inference.md)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from emostat import schemas
from emostat.errors import InputError


def _wm(**kw):
    row = {"estimate": 0.27, "conf_low": 0.26, "conf_high": 0.29, "p_value": 1e-4,
           "p_method": "Mantel", "unit": "concept label (27)", "role": "record",
           "comparator": "tau_b", "estimand": "mean_rdm", "ceiling_low": 0.90,
           "ceiling_high": 0.93, "ceiling_method": "split-half"}
    row.update(kw)
    return pa.Table.from_pandas(pd.DataFrame([row]), preserve_index=False)


def test_valid_row_passes():
    schemas.validate(_wm(), "whole_model_rsa")


@pytest.mark.parametrize("lo, hi", [(0.28, 0.29), (0.20, 0.26)])
def test_estimate_outside_its_interval_is_an_error(lo, hi):
    with pytest.raises(InputError, match="outside its interval"):
        schemas.validate(_wm(conf_low=lo, conf_high=hi), "whole_model_rsa", where="t.parquet")


def test_missing_interval_is_allowed():
    schemas.validate(_wm(conf_low=float("nan"), conf_high=float("nan")), "whole_model_rsa")


def test_p_value_without_p_method_is_an_error_for_listed_tables():
    assert "whole_model_rsa" in schemas.P_METHOD_REQUIRED
    with pytest.raises(InputError, match="p_value without p_method"):
        schemas.validate(_wm(p_method=None), "whole_model_rsa")
    # a NaN p needs no method
    schemas.validate(_wm(p_value=float("nan"), p_method=None), "whole_model_rsa")


def test_every_results_table_needs_p_method_with_its_p_value():
    assert schemas.P_METHOD_REQUIRED == schemas.RESULTS_TABLES
    row = {"k": [4000], "concept": ["joy"], "estimate": [0.02], "std_error": [0.01],
           "statistic": [2.0], "df": [10.0], "p_value": [0.03], "conf_low": [0.0],
           "conf_high": [0.04], "q_value": [0.1], "q_value_bh": [0.1], "p_value_perm": [0.04]}
    t = pa.Table.from_pandas(pd.DataFrame(row), preserve_index=False)
    with pytest.raises(InputError, match="p_method"):           # column missing
        schemas.validate(t, "masking_by_emotion")
    row.update(p_method=[None], p_method_perm=["sign-flip"], unit=["prompt (168)"],
               role=["study"], test=["study_t"])
    t = pa.Table.from_pandas(pd.DataFrame(row), preserve_index=False)
    with pytest.raises(InputError, match="p_value without p_method"):   # present but empty
        schemas.validate(t, "masking_by_emotion")
