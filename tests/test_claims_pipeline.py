"""analyse_run writes the claims table (versioned) and prints it as the headline."""

from __future__ import annotations

import pytest

import emostat
from emostat import io
from emostat.analysis.pipelines import analyse_run


@pytest.mark.slow
def test_analyse_run_writes_and_prints_the_claims(tmp_path, capsys):
    from test_runner import run_fake, write_config

    cfg = write_config(tmp_path / "run.toml", shared_random=True, n_folds=1, ks=[4])
    run_fake(tmp_path, config=cfg)
    analyse_run(tmp_path / "run", seed=3, n_perm=200, quiet=False)
    printed = capsys.readouterr().out
    r = emostat.load(tmp_path / "run")
    claims = r.claims
    prov = io.read_provenance(tmp_path / "run" / "results" / "claims.parquet")
    assert prov["schema"] == "claims" and prov["schema_version"] == 1
    # the design records the alpha it decided at (the default); no headline k was declared
    assert prov["claims_design"] == {"kind": "experiment", "alpha": 0.05, "headline_k": None,
                                     "ks": [4], "tasks": ["binary", "choice", "generate"]}
    rec = claims[claims["role"] == "record"]
    assert not rec.duplicated(["claim", "task", "k"]).any()
    # one record per claim: neurons, importance, whole_model; per task above_chance, masking,
    # link and knowledge
    assert len(rec) == 3 + 3 * 4
    masking = rec[rec["claim"] == "masking"]
    assert set(masking["test"]) == {"item_glmm"} and set(masking["scale"]) == {"log-odds"}
    # the knowledge claim: its own GLMM on the recalibrated outcome where the task is decided
    # on scores; generation has no answer prior to re-fit (not tested, and says why)
    know = rec[rec["claim"] == "knowledge"].set_index("task")
    assert set(know["test"]) == {"knowledge_glmm"}
    assert know.loc["generate", "decision"] == "not tested"
    assert "only tasks decided on scores" in know.loc["generate", "reason"]
    tested = know[know["decision"] != "not tested"]
    assert len(tested) and tested["p_method"].str.contains("recalibrated outcome").all()
    # the printed headline is the rendering of the stored rows
    assert r.summary() in printed
    for _, row in rec.iterrows():
        assert row["decision"] in ("supported", "not supported", "too coarse to decide",
                                   "failed", "not tested")
