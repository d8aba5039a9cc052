"""The answer-bias tables computed in a second process while the item-level models fit (issue
24: the analysis's two GLMM-bound steps on two cores) are the tables computed in one process."""

from __future__ import annotations

import json

import pandas as pd

from emostat.analysis.pipelines import beside
from test_runner import run_fake, write_config

def test_beside_runs_in_a_process_and_raises_there_as_here():
    import os

    with beside.Beside(os.getpid, parallel=True) as b:
        assert b.result() != os.getpid()                  # another process
    with beside.Beside(os.getpid, parallel=False) as b:
        assert b.result() == os.getpid()
    for parallel in (True, False):
        with beside.Beside(int, "x", parallel=parallel) as b:
            try:
                b.result()
            except ValueError as e:
                assert "invalid literal" in str(e)
            else:
                raise AssertionError("the function's error was not raised")
    assert beside.worth_a_process(beside.PARALLEL_ROWS) == ((os.cpu_count() or 1) > 1)
    assert not beside.worth_a_process(beside.PARALLEL_ROWS - 1)


def test_the_bias_tables_of_a_second_process_equal_one_process(tmp_path):
    from emostat import io
    from emostat.analysis.masking.bias import bias_tables
    from emostat.analysis.pipelines.runspace import run_space

    config = write_config(tmp_path / "run.toml", ks=[4], tasks=["choice"], n_random_draws=3,
                          attributes=["valence", "arousal"], items_per_emotion=2, n_folds=1)
    run_fake(tmp_path, config=config)
    run = tmp_path / "run"
    inference = io.read_table(run / "inference", dataset="inference")
    concepts = run_space(json.loads((run / "manifest.json").read_text())).concepts
    got = {}
    for parallel in (True, False):
        with beside.Beside(bias_tables, inference, concepts, tasks={"choice"}, n_perm=50,
                           seed=7, parallel=parallel) as b:
            got[parallel] = b.result()
    assert "knowledge_mixed_glance" in got[False] and "answer_bias" in got[False]
    assert list(got[True]) == list(got[False])
    for name, want in got[False].items():
        pd.testing.assert_frame_equal(got[True][name], want, check_exact=True)
