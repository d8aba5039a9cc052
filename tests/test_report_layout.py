"""The PDF layout check itself (emostat.report.pdfcheck) and the release-agreement tables.

The check must fail on a page with overlapping lines and on a table that runs off the page:
both are built here with Typst (the reports' own PDF engine), so the test does not depend on
the reports happening to have a fault.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from emostat.report import pdfcheck

def _typst_pdf(tmp_path, body: str) -> Path:
    typst = pytest.importorskip("typst")
    src = tmp_path / "t.typ"
    src.write_text('#set page(paper: "a4", margin: 2.2cm)\n' + body)
    out = tmp_path / "t.pdf"
    typst.compile(str(src), output=str(out))
    return out


@pytest.fixture(autouse=True)
def _need_poppler():
    if not pdfcheck.available():
        pytest.skip("pdftotext (poppler-utils) is not installed: cannot check a PDF's layout")


def test_clean_page_passes(tmp_path):
    pdf = _typst_pdf(tmp_path, "Some text.\n\n" + "A second paragraph that wraps. " * 20)
    assert pdfcheck.problems(pdf) == []


def test_overlapping_lines_are_found(tmp_path):
    pdf = _typst_pdf(tmp_path, "#place(dx: 0pt, dy: 0pt)[Overlapping words here]\n"
                               "#place(dx: 4pt, dy: 2pt)[Another line on top]\n")
    found = pdfcheck.problems(pdf)
    assert found and all("overlapping lines" in f and "page 1" in f for f in found)


def test_table_running_off_the_page_is_found(tmp_path):
    cells = ", ".join(f"[{'x' * 12}{i}]" for i in range(12))
    pdf = _typst_pdf(tmp_path, f"#table(columns: 12, {cells})\n")
    found = pdfcheck.problems(pdf)
    assert any("off the text area" in f for f in found)   # (its cells also overlap)


def test_rank_agreement_counts():
    from emostat.release.agreement import rank_agreement

    # 5 neurons; attribute b has one pair of ranks swapped
    rsa = pd.DataFrame({"neuron": list(range(5)) * 2, "attribute": ["a"] * 5 + ["b"] * 5,
                        "rank": [1, 2, 3, 4, 5, 1, 2, 3, 5, 4]})
    rel = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [1, 2, 3, 4, 5]})
    t = rank_agreement(rsa, rel, top_k=3).set_index("attribute")
    assert t.loc["a", "spearman"] == pytest.approx(1.0) and t.loc["a", "identical_share"] == 1.0
    # scipy: spearmanr([1,2,3,5,4], [1,2,3,4,5]) = 1 - 6*2/(5*24) = .9
    assert t.loc["b", "spearman"] == pytest.approx(0.9)
    assert t.loc["b", "identical_share"] == 0.6 and t.loc["b", "top_k_overlap"] == 3


def test_mostly_blank_page_is_found(tmp_path):
    # a short paragraph, then a forced page break: page 1 is almost all white
    pdf = _typst_pdf(tmp_path, "One line.\n#pagebreak()\n" + "Text. " * 400)
    found = pdfcheck.blank_pages(pdf)
    assert len(found) == 1 and found[0].startswith("page 1:")
    full = _typst_pdf(tmp_path, "Text. " * 900)
    assert pdfcheck.blank_pages(full) == []
