"""``emostat run --model A --model B``: one run folder per model, one comparison report.

Collection and analysis are replaced by fixture runs (report_fixtures.make_run; the real ones
are tested in test_runner and test_pipeline): this tests where the runs go and which report
is rendered from them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import report_fixtures  # noqa: E402


@pytest.mark.slow
def test_run_with_two_models_renders_one_comparison(tmp_path, monkeypatch):
    from emostat import workflow
    from emostat.analysis import pipelines as pipeline
    from emostat.collect import runner

    made = []

    def fake_collect(out, model=None, **kw):
        made.append((Path(out), model))
        report_fixtures.make_run(out, "experiment", seed=len(made), model=model,
                                 n_layers=4 * len(made))

    from emostat.analysis.pipelines import rsasteps

    compared = []
    monkeypatch.setattr(runner, "collect", fake_collect)
    monkeypatch.setattr(pipeline, "analyse_run", lambda d, **kw: None)
    # the paired whole-model RSA of the runs (fixture runs have no activations)
    monkeypatch.setattr(rsasteps, "compare_runs", lambda dirs, **kw: compared.append(dirs) or {})
    monkeypatch.setenv("EMOSTAT_OFFLINE_RENDER", "1")
    files = workflow.run(tmp_path / "out", models=["org/model-one", "/models/model-two/"],
                         to=["html"], quiet=True)
    assert compared == [[tmp_path / "out" / "model-one", tmp_path / "out" / "model-two"]]
    assert made == [(tmp_path / "out" / "model-one", "org/model-one"),
                    (tmp_path / "out" / "model-two", "/models/model-two/")]
    assert files == {"html": tmp_path / "out" / "report" / "comparison.html"}
    html = files["html"].read_text()
    assert "org/model-one" in html and "/models/model-two/" in html


def test_cli_accepts_repeated_models():
    from emostat.cli import build_parser

    a = build_parser().parse_args(["run", "--model", "a", "--model", "b", "--quick"])
    assert a.model == ["a", "b"]
    a = build_parser().parse_args(["report", "r1", "r2", "--kind", "comparison"])
    assert a.kind == "comparison" and len(a.results_dir) == 2
