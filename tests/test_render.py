"""Rendering the reports offline (no quarto): HTML and PDF from fixture results.

The expected numbers are recomputed here from the fixture Parquet files with emostat.format, so
a test fails when the report prints a number that is not the table's.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from emostat import format as fmt
from emostat import paths
from emostat.errors import InputError
from emostat.report import render, view
from emostat.report.load import PARAMS_ENV, detect_kind, load_run, read_params
from emostat.report.render import Chunk, assemble, chunk_options, split_front_matter

sys.path.insert(0, str(Path(__file__).parent))
import report_fixtures  # noqa: E402

K = 4000

# figures and tables each report shows when every table is present (chunks with fig-cap /
# tbl-cap and figure divs in reports/*.qmd and the shared _*.qmd sections)
HUMAN_FIGS = ["fig-importance", "fig-human-space", "fig-loadings", "fig-rdms"]
SEARCH_FIGS = ["fig-tau", "fig-counts", "fig-layers", "fig-rank-map"]
MASK_FIGS = ["fig-masking", "fig-attribute-drops", "fig-link", "fig-drop-importance"]
REPRO_FIGS = HUMAN_FIGS + SEARCH_FIGS + MASK_FIGS
MASK_TBLS = ["tbl-masking-tests", "tbl-attribute-drops", "tbl-link", "tbl-mixed", "tbl-perm"]
REPRO_TBLS = (["tbl-claims", "tbl-published", "tbl-agreement", "tbl-importance", "tbl-icc",
               "tbl-neuron-tests", "tbl-whole-model-rsa", "tbl-count-null"]
              + MASK_TBLS
              + ["tbl-vs-null", "tbl-unimodality", "tbl-provenance"])
EXP_FIGS = ["fig-baseline"] + REPRO_FIGS + ["fig-null", "fig-qq-masking", "fig-qq-knowledge"]
EXP_TBLS = (["tbl-claims", "tbl-baseline", "tbl-importance", "tbl-icc", "tbl-neuron-tests",
             "tbl-whole-model-rsa", "tbl-count-null"] + MASK_TBLS
            + ["tbl-null", "tbl-knowledge-model", "tbl-bias", "tbl-generation",
               "tbl-provenance"])
REPRO_FIGS = REPRO_FIGS + ["fig-qq-masking"]          # the appendix of the mixed model


def _text(html: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    body = body.replace("\u00a0", " ").replace("&#160;", " ").replace("&nbsp;", " ")
    return re.sub(r"\s+", " ", body.replace("&lt;", "<").replace("&gt;", ">")
                  .replace("&amp;", "&"))


def _pdf_text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: cannot read the PDF's text")
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    out = re.sub(r"\s+", " ", out.replace("\u2212", "-").replace("\u00a0", " "))
    return re.sub(r"(?<=[a-z])- (?=[a-z])", "", out)   # words hyphenated at a line end


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Both reports rendered offline from fixture runs, and a comparison of two runs."""
    tmp = tmp_path_factory.mktemp("reports")
    rep = report_fixtures.make_run(tmp / "rep", "reproduction", seed=3)
    exp = report_fixtures.make_run(tmp / "exp", "experiment", seed=4, model="model-a")
    exp2 = report_fixtures.make_run(tmp / "exp2", "experiment", seed=5, model="model-b",
                                    n_layers=6)
    old = os.environ.get("EMOSTAT_OFFLINE_RENDER")
    os.environ["EMOSTAT_OFFLINE_RENDER"] = "1"   # even where a quarto binary exists
    try:
        r = render.render_report([rep], out=tmp / "out", quiet=True)
        e = render.render_report([exp], out=tmp / "out", quiet=True)
        c = render.render_report([exp, exp2], out=tmp / "out", quiet=True, kind="comparison")
    finally:
        if old is None:
            os.environ.pop("EMOSTAT_OFFLINE_RENDER")
    return {"reproduction": (rep, r), "experiment": (exp, e), "comparison": ([exp, exp2], c)}


# ---- end-to-end (one render per report, shared by the tests below) ---------------------------

def _divs(html: str, cls: str) -> list[str]:
    """The HTML of every ``<div class="cls">`` (nested divs balanced)."""
    out = []
    for m in re.finditer(rf'<div class="{cls}"[^>]*>', html):
        depth, pos = 1, m.end()
        for t in re.finditer(r"<div\b|</div>", html[pos:]):
            depth += 1 if t.group(0) == "<div" else -1
            if depth == 0:
                out.append(html[m.start():pos + t.end()])
                break
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind,n_blocks", [("reproduction", 1), ("experiment", 2),
                                           ("comparison", 2)])
def test_every_mixed_model_block_is_reported_in_full(rendered, kind, n_blocks):
    # issue 25 (Meteyard & Davies 2020): every mixed-model block of every report carries the
    # formula, the groups with their counts, the random- and fixed-effects tables, the 95% CI,
    # the df and its method, R²m/R²c, the ICC, the fit's singular/convergence status and a
    # reference to its QQ figure; and no mixed-model table is printed outside such a block
    from emostat.report.mixedblock import ITEMS

    html = rendered[kind][1]["html"].read_text()
    blocks = _divs(html, "mixed-model")
    assert len(blocks) == n_blocks
    for b in blocks:
        text = _text(b)
        assert [i for i in ITEMS if i not in text] == [], text[:300]
        assert re.search(r"groups: [\w:.]+, \d+(; [\w:.]+, \d+)*; log-lik", text)   # lme4
        assert re.search(r"\| ?df ?\||<th[^>]*>df</th>", b)            # a df column
        assert "df method: Satterthwaite" in text or "df method: none, Wald z" in text
        assert re.search(r"R²m = \.\d{3}", text) and re.search(r"ICC adjusted = \.\d{3}", text)
        assert re.search(r"Fit: (REML|Laplace)", text)
        ref = re.search(r'href="#(fig-[\w-]+)"', b)
        assert ref and f'id="{ref.group(1)}"' in html, "its QQ figure is in the report"
        assert "NA" not in text.split()
    outside = html
    for b in blocks:
        outside = outside.replace(b, "")
    assert "Random effects" not in _text(outside) and "Fixed effects" not in _text(outside)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["reproduction", "experiment", "comparison"])
def test_outputs_exist_and_are_named_by_kind(rendered, kind):
    run, files = rendered[kind]
    assert set(files) == {"html", "pdf"}
    assert files["html"].name == f"{kind}.html" and files["pdf"].name == f"{kind}.pdf"
    assert files["pdf"].read_bytes()[:5] == b"%PDF-"
    assert files["html"].read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["reproduction", "experiment", "comparison"])
def test_html_is_self_contained(rendered, kind):
    html = rendered[kind][1]["html"].read_text()
    assert not re.search(r"<script[^>]*\bsrc\s*=", html), "external script"
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", html), "external style"
    assert not re.search(r"\bsrc\s*=\s*[\"']?(https?:)?//", html), "external image/media"
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", html), "external url() in CSS"
    assert "<math" in html                      # MathML, not a MathJax CDN
    imgs = re.findall(r"<img[^>]*src=\"data:image/png;base64,([^\"]+)\"", html)
    assert imgs and all(base64.b64decode(b[:64])[:4] == b"\x89PNG" for b in imgs)


@pytest.mark.slow
@pytest.mark.parametrize("kind,figs,tbls", [("reproduction", REPRO_FIGS, REPRO_TBLS),
                                            ("experiment", EXP_FIGS, EXP_TBLS)])
def test_figures_and_tables_are_all_there(rendered, kind, figs, tbls):
    html = rendered[kind][1]["html"].read_text()
    for n, label in enumerate(figs, 1):     # numbered in document order, each with its image
        m = re.search(rf"<figure id=\"{label}\">\s*<img[^>]*>.*?Figure {n}\.", html, re.S)
        assert m, f"{label} missing or not Figure {n}"
    assert len(re.findall(r"<figure", html)) == len(figs)
    for n, label in enumerate(tbls, 1):
        assert re.search(rf"id=\"{label}\".*?Table {n}\.", html, re.S), f"{label} / Table {n}"
    # the mixed model prints two tables (random, fixed effects)
    assert len(re.findall(r"<table", html)) >= len(tbls) + 1
    pdf = _pdf_text(rendered[kind][1]["pdf"])
    for n in range(1, len(figs) + 1):
        assert f"Figure {n}." in pdf
    for n in range(1, len(tbls) + 1):
        assert f"Table {n}." in pdf


def _expected_numbers(run_dir: Path) -> list[str]:
    """Strings the text must contain, recomputed from the Parquet files."""
    res = run_dir / "results"
    be = pd.read_parquet(res / "masking_by_emotion.parquet")
    if "task" in be:
        be = be[be["task"] == "choice"]
    be = be[be["k"] == K]
    link = pd.read_parquet(res / "importance_link.parquet")
    link = link[link["k"] == K].set_index("test")
    imp = pd.read_parquet(res / "attribute_importance.parquet").sort_values("estimate")
    top = imp.iloc[-1]
    n_sig = int(((be["q_value"] < .05) & (be["estimate"] > 0)).sum())
    worst = be[(be["q_value"] < .05) & (be["estimate"] > 0)].sort_values("estimate").iloc[-1]
    whole = pd.read_parquet(res / "whole_model_rsa.parquet").iloc[0]
    mm = pd.read_parquet(res / "masking_mixed_model.parquet")
    rec = mm[(mm["k"] == K) & (mm["term"] == "attribute_vs_random") & (mm["role"] == "record")]
    rec = rec.iloc[0]
    st, perm = link.loc["study_t"], link.loc["attribute_permutation"]
    return [
        fmt.fmt_pct(be["acc_none"].mean(), 2), fmt.fmt_pct(be["acc_random"].mean(), 2),
        fmt.fmt_pct(be["acc_attribute"].mean(), 2),
        f"for {n_sig} of {be['concept'].nunique()} concepts",
        f"{worst['concept']} {fmt.fmt_num(100 * worst['estimate'], 1)} points "
        f"({fmt.apa_t(worst['statistic'], worst['df'], worst['p_value'])})",
        # the claims rows (report_fixtures.claims_from_tables): record = the permutation
        # one APA sentence each (issue 25): no method after the p
        f"— r = {fmt.fmt_stat(perm['estimate'], 3, bounded=True)}, "
        f"{view.p_text(perm['p_value'])}.",
        # the study's t: a cell of the link's table of every test (tbl-link)
        fmt.apa_t(st["statistic"], st["df"], st["p_value"]).split(", p ")[0],
        f"{top['attribute']} (τ = {fmt.fmt_stat(top['estimate'], 3, bounded=True)}",
        f"τ = {fmt.fmt_stat(whole['estimate'], 3, bounded=True)}",
        f"{fmt.fmt_num(100 * rec['estimate'], 1)} points, 95% CI",
        fmt.apa_t(rec["statistic"], rec["df"], rec["p_value"]),
        fmt.fmt_num(rec["estimate"], 4),      # mixed-model table cell
    ]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["reproduction", "experiment"])
def test_numbers_in_text_equal_the_parquet_values(rendered, kind):
    run_dir, files = rendered[kind]
    html = _text(files["html"].read_text())
    pdf = _pdf_text(files["pdf"])
    for s in _expected_numbers(run_dir):
        assert s in html, f"HTML lacks {s!r}"
        assert s in pdf, f"PDF lacks {s!r}"


def _prose(html: str) -> str:
    """The HTML's text outside tables, figures' images and code."""
    body = re.sub(r"<(table|pre|code)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return _text(body)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["reproduction", "experiment", "comparison"])
def test_no_na_and_no_unavailable_sections(rendered, kind):
    html = rendered[kind][1]["html"].read_text()
    prose = _prose(html)
    assert not re.search(r"\bNA\b", prose), re.search(r".{60}\bNA\b.{60}", prose).group(0)
    assert "not available" not in prose
    assert not re.search(r"\bNA\b", _text(html))       # tables print a dash instead
    assert "{'" not in prose and "': '" not in prose    # no dumped Python dict


@pytest.mark.slow
def test_experiment_numbers(rendered):
    run_dir, files = rendered["experiment"]
    html = _text(files["html"].read_text())
    base = pd.read_parquet(run_dir / "results" / "baseline_accuracy.parquet")
    b = base[base["task"] == "binary"]
    assert f"binary: mean {fmt.fmt_pct(b['estimate'].mean(), 1)}" in html
    # the binary task is at chance in the fixture: said once, in the terminal's words
    from emostat.report import text

    chance = pd.read_parquet(run_dir / "results" / "task_chance.parquet")
    assert text.chance_sentence(next(chance.itertuples())) in html
    assert "not interpretable" in html
    vs = pd.read_parquet(run_dir / "results" / "attribute_vs_null.parquet")
    v = vs[(vs["task"] == "choice") & (vs["k"] == K)]
    n = int(((v["q_value_bh"] < .05) & (v["estimate"] > 0)).sum())
    assert f"{n} of 14 attribute masks" in html or (n == 0 and "none of the 14 attribute" in html)
    assert "no rank p can fall below .020" in html          # 1 / (50 + 1)
    # knowledge or answer bias (bias_summary, bias_study_test of the fixture): attribute
    # masks drop 12.0 points with the run's calibration, 3.0 per condition, 9.0 prior shift
    html = html.replace("\u2019", "'")                    # pandoc's typographic apostrophe
    assert ("attribute masks lower accuracy by 12.0 points under the run's decisions and by "
            "3.0 with each condition calibrated on its own items") in html
    # read as bounds, with the asymmetric-loss caveat (benchmarks/sim_asymmetric_loss.py)
    assert "These are bounds, not a decomposition" in html
    assert "for attribute masks at most 9.0 of the 12.0 points are a shift of the answer" in html
    assert "that share was 12% when a mask removed all of the evidence" in html
    # the knowledge claim's sentence, from its claims row (report_fixtures: choice, k = 4000)
    claims = pd.read_parquet(run_dir / "results" / "claims.parquet")
    kn = claims[(claims["claim"] == "knowledge") & (claims["k"] == K)].iloc[0]
    # one APA sentence (issue 25): the GLMM is named in the table note, not after the p
    assert f"{view.p_text(kn['p_value'], .05)}." in html
    assert "binomial GLMM of the recalibrated outcome" in html
    # 27 concepts at p = .01 on the run's accuracy, none at p = .3 under per-condition
    assert "27 of 27 concepts at p < .05 on the run's accuracy; 0 of 27" in html
    assert "14 rows per concept hold 1 random comparison" in html
    assert "SmolLM2" not in html and "model-a" in html
    assert ("the smallest extra drop detectable with 80% power is 4.2 points; the smallest "
            "attainable rank p is .020") in html


@pytest.mark.slow
def test_missing_tables_are_left_out_with_a_reason(tmp_path):
    dropped = ("masking_mixed_model", "random_null", "attribute_vs_null", "neuron_rsa",
               "generation_examples", "appraisal_loadings", "bias_summary", "bias_study_test")
    run = report_fixtures.make_run(tmp_path / "run", "experiment", drop=dropped)
    os.environ["EMOSTAT_OFFLINE_RENDER"] = "1"
    try:
        files = render.render_report([run], to="html", quiet=True)
    finally:
        os.environ.pop("EMOSTAT_OFFLINE_RENDER")
    assert set(files) == {"html"} and files["html"].parent == run / "report"
    html = files["html"].read_text()
    text_ = _text(html)
    assert "Left out for lack of their results tables:" in text_
    for table in ("masking_mixed_model", "random_null", "generation_examples",
                  "appraisal_loadings"):
        assert f"no {table}" in text_ or f"no random_null or attribute_vs_null" in text_, table
    assert "not available" not in text_
    assert "Random-mask null distributions" not in text_     # no empty section
    assert "Generation examples" not in text_
    assert "Knowledge or answer bias" not in text_ and "no bias_summary" in text_
    assert not re.search(r"<h[12][^>]*>[^<]*(<[^>]+>)*[^<]*Mixed model", html)


# ---- quarto path (a stand-in binary records how it is called) -------------------------------

def test_quarto_is_called_with_params(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "results").mkdir(parents=True)
    (run / "results" / "provenance.json").write_text(json.dumps({"kind": "experiment"}))
    (run / "results" / "claims.parquet").write_bytes(b"")   # report refuses a folder without it
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.jsonl"
    fake = bindir / "quarto"
    fake.write_text(f"""#!{sys.executable}
import json, os, sys
a = sys.argv[1:]
with open({str(log)!r}, "a") as f:
    f.write(json.dumps({{"argv": a, "env": os.environ.get({PARAMS_ENV!r}), "cwd": os.getcwd(),
                        "project": os.path.isfile("_quarto.yml")}}) + "\\n")
out = a[a.index("--output-dir") + 1]
ext = "pdf" if a[a.index("--to") + 1] == "typst" else "html"
open(os.path.join(out, "experiment." + ext), "w").write("x")
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("EMOSTAT_OFFLINE_RENDER", raising=False)
    files = render.render_report([run], to=("html", "pdf"), out=tmp_path / "o", quiet=True)
    assert files == {"html": tmp_path / "o" / "experiment.html",
                     "pdf": tmp_path / "o" / "experiment.pdf"}
    calls = [json.loads(x) for x in log.read_text().splitlines()]
    assert [c["argv"][c["argv"].index("--to") + 1] for c in calls] == ["html", "typst"]
    for c in calls:
        a = c["argv"]
        assert a[0] == "render" and a[1].endswith("reports/experiment.qmd")
        assert f"results:{json.dumps([str(run.resolve())])}" in a
        assert json.loads(Path(c["env"]).read_text())["results"] == [str(run.resolve())]
        # quarto works in a temporary copy of the project (it writes beside its sources, which
        # may be read-only in site-packages), removed afterwards
        assert c["project"] and Path(c["cwd"]) != paths.SHIPPED and not Path(c["cwd"]).exists()
        assert Path(a[1]).is_relative_to(c["cwd"])


# ---- pieces ---------------------------------------------------------------------------------

def test_front_matter_and_chunk_options():
    meta, body = split_front_matter("---\ntitle: A\nparams:\n  results: ''\n---\n\n# H\n")
    assert meta == {"title": "A", "params": {"results": ""}} and body == "# H\n"
    opts, src = chunk_options("#| label: fig-x\n#| fig-cap: \"A: b\"\n#| echo: true\nx = 1")
    assert opts == {"label": "fig-x", "fig-cap": "A: b", "echo": True} and src == "x = 1"
    with pytest.raises(InputError):
        split_front_matter("---\ntitle: A\n")


def test_read_qmd_expands_includes_and_merges_project_options():
    meta, chunks = render.read_qmd(render.REPORTS_DIR / "reproduction.qmd")
    assert meta["execute"]["echo"] is False            # from _quarto.yml
    assert meta["title"].startswith("Emotion-concept")  # from the document
    labels = [c.options.get("label") for c in chunks if c.kind == "code"]
    # figure divs (captions built from the data) carry their label on the div
    labels += [m for c in chunks if c.kind == "markdown"
               for m in re.findall(r"^::: \{#((?:fig|tbl)-[\w-]+)\}", c.source, re.M)]
    for label in REPRO_FIGS + REPRO_TBLS:               # sections pulled in by includes
        assert labels.count(label) == 1, label
    assert not any("{{<" in c.source for c in chunks)


def _png() -> str:
    import io

    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots(figsize=(3, 2), dpi=100)
    b = io.BytesIO()
    fig.savefig(b, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(b.getvalue()).decode()


def test_assemble_honours_chunk_options(tmp_path):
    png = {"output_type": "display_data", "data": {"image/png": _png(), "text/plain": "<Fig>"}}
    md_out = {"output_type": "display_data",
              "data": {"text/markdown": "| a |\n|---:|\n| 1 |\n", "text/plain": "x"}}
    err = {"output_type": "stream", "name": "stderr", "text": "a warning"}
    chunks = [
        Chunk("markdown", "See @fig-one and @tbl-one; value `{python} x`.", inline=["42"]),
        Chunk("code", "plot()", {"label": "fig-one", "fig-cap": "First"}, [png, err]),
        Chunk("code", "hidden()", {"include": False}, [png]),
        Chunk("code", "tab()", {"label": "tbl-one", "tbl-cap": "A table", "echo": True},
              [md_out]),
        Chunk("code", "print('**raw**')", {"output": "asis"},
              [{"output_type": "stream", "name": "stdout", "text": "**raw**\n"}]),
        Chunk("code", "quiet()", {"output": False}, [png]),
        Chunk("code", "warn()", {"warning": True}, [err]),
    ]
    md, numbers = assemble(chunks, {"echo": False}, tmp_path / "figs")
    assert numbers == {"fig-one": "Figure 1", "tbl-one": "Table 1"}
    assert "See [Figure 1](#fig-one) and [Table 1](#tbl-one); value 42." in md
    assert "![**Figure 1.** First](figs/fig-one.png){#fig-one width=3.00in}" in md
    assert (tmp_path / "figs" / "fig-one.png").exists()
    assert md.count("![") == 1                    # include: false and output: false dropped
    assert md.count("a warning") == 1             # stderr only where warning: true
    assert "```python\ntab()\n```" in md and "plot()" not in md   # echo per chunk
    assert "| 1 |\n\n: **Table 1.** *A table*" in md and "::: {#tbl-one}" in md
    assert "\n**raw**\n" in f"\n{md}"             # asis: raw markdown, not a code block


def test_params_and_kind(tmp_path, monkeypatch):
    rep = report_fixtures.make_run(tmp_path / "rep", "reproduction", ks=[4000])
    exp = report_fixtures.make_run(tmp_path / "exp", "experiment", ks=[4000])
    assert detect_kind([load_run(rep)]) == "reproduction"
    assert detect_kind([load_run(exp)]) == "experiment"
    assert detect_kind([load_run(rep), load_run(exp)]) == "comparison"   # several runs
    assert load_run(rep / "results").root == rep
    p = tmp_path / "params.json"
    p.write_text(json.dumps({"results": [str(rep)], "kind": "reproduction"}))
    monkeypatch.setenv(PARAMS_ENV, str(p))
    assert read_params()["results"] == [rep]
    assert read_params(json.dumps([str(exp)]))["results"] == [exp]   # quarto -P wins
    monkeypatch.delenv(PARAMS_ENV)
    with pytest.raises(InputError, match=PARAMS_ENV):
        read_params()
    with pytest.raises(InputError, match="no results/ folder"):
        load_run(tmp_path)
    with pytest.raises(InputError, match="html, pdf"):
        render.render_report([rep], to="docx")


def test_report_package_never_imports_torch():
    code = ("import sys, emostat.report.render, emostat.report.figures, emostat.report.tables, "
            "emostat.report.text, emostat.report.load, emostat.report.compare, "
            "emostat.report.maskfigures, emostat.report.findings, emostat.report.method; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- page layout of the rendered PDFs --------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["reproduction", "experiment", "comparison"])
def test_pdf_has_no_overlapping_lines_and_nothing_off_the_page(rendered, kind):
    from emostat.report import pdfcheck

    if not pdfcheck.available():
        pytest.skip("pdftotext (poppler-utils) is not installed: cannot check the PDF layout")
    assert pdfcheck.problems(rendered[kind][1]["pdf"]) == []
    assert pdfcheck.blank_pages(rendered[kind][1]["pdf"]) == []


@pytest.mark.slow
def test_comparison_report_sets_models_side_by_side(rendered):
    runs, files = rendered["comparison"]
    html = _text(files["html"].read_text())
    for name in ("model-a", "model-b"):
        assert name in html
    # depth normalised: model-b has 6 layers, model-a 12 (report_fixtures.make_run)
    assert "model-a: 12 layers, model-b: 6 layers" in html
    # the whole-model RSA rows in words, each beside its own ceiling (reproduction report)
    rep = rendered["reproduction"]
    ev = pd.read_parquet(rep[0] / "results" / "rsa_evaluation.parquet")
    rtext = _text(rep[1]["html"].read_text())
    rec = ev[ev["role"] == "record"].iloc[0]
    assert (f"is {view.num_text(rec['estimate'], 3, True)}, 95% CI "
            f"{view.ci_text(rec['conf_low'], rec['conf_high'], 3, True)}, against a noise ceiling "
            f"of {view.ci_text(rec['ceiling_low'], rec['ceiling_high'], 3, True)}") in rtext
    # whole-model RSA of each run, read from its own table
    for run in runs:
        w = pd.read_parquet(run / "results" / "whole_model_rsa.parquet").iloc[0]
        assert fmt.fmt_ci(w["conf_low"], w["conf_high"], 3, bounded=True) in html
    # fractions, not counts: model-b's neurons are 6 x 48
    counts = pd.read_parquet(runs[1] / "results" / "neuron_counts.parquet")
    assert counts["n_significant"].max() <= 6 * 48
    assert "Drop–importance link" in html and "Attribute-specific against random masks" in html
    # the masking claim of each run: the same cells the experiment report prints for its rows
    from emostat.report import findings
    from emostat.report.load import load_run

    for run in runs:
        r = findings.record(findings.claims_of(load_run(run)), "masking")
        assert findings.claim_sentence(r).replace("**", "") in html
        assert findings.estimate_text(r) in html


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["reproduction", "experiment"])
def test_terms_are_defined_in_the_method(rendered, kind):
    # issue 25: max-T, Holm, min-P and the Monte-Carlo interval were used without a word of
    # definition; the Method section defines them (reports/_terms.qmd)
    pdf = _pdf_text(rendered[kind][1]["pdf"])
    at = pdf.index("Terms used in this report")
    for term in ("Monte-Carlo 95%", "floor", "max-T", "min-P", "Holm", "test of record"):
        assert term in pdf[at:at + 3000], term
