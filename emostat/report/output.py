"""The output step of the offline renderer: front matter, pandoc → HTML, pandoc → Typst →
PDF (the ``typst`` package). Split from :mod:`emostat.report.render`, which executes the
``.qmd`` chunks and assembles the Markdown.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import yaml

from emostat.errors import EmostatError
from emostat.paths import REPORTS_DIR

STYLES = REPORTS_DIR / "styles"   # report.css, report.typ (a copied project passes its own)


class RenderError(EmostatError):
    """A report could not be rendered (a chunk failed, pandoc or typst failed)."""


def merge_options(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_options(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def front_matter(meta: dict) -> str:
    keep = {k: meta[k] for k in ("title", "subtitle", "author", "date", "abstract", "lang")
            if k in meta}
    if str(keep.get("date", "")).lower() in ("today", "now", "last-modified"):
        keep["date"] = dt.date.today().isoformat()
    return "---\n" + yaml.safe_dump(keep, allow_unicode=True, sort_keys=False) + "---\n\n"


def run_pandoc(args: list[str], cwd: Path) -> None:
    import pypandoc

    res = subprocess.run([pypandoc.get_pandoc_path(), *args], cwd=cwd, capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise RenderError(f"pandoc {' '.join(args[:4])} ... failed: {res.stderr[-2000:]}")


def to_html(md_file: Path, html_file: Path, meta: dict, styles: Path = STYLES) -> Path:
    """pandoc → a standalone HTML with every resource embedded (no network at view time)."""
    args = [md_file.name, "-f", "markdown", "-t", "html5", "--standalone", "--embed-resources",
            "--mathml", "--resource-path", ".", "-o", str(html_file.resolve())]
    css = Path(styles) / "report.css"
    if css.exists():
        args += ["--css", str(css)]
    args += common_args(meta, "html")
    run_pandoc(args, md_file.parent)
    return html_file


def to_pdf(md_file: Path, pdf_file: Path, meta: dict, styles: Path = STYLES) -> Path:
    """pandoc → Typst, then the ``typst`` package → PDF."""
    import typst

    typ = md_file.with_suffix(".typ")
    args = [md_file.name, "-f", "markdown", "-t", "typst", "--standalone", "-o", typ.name]
    header = Path(styles) / "report.typ"
    if header.exists():
        args += ["--include-in-header", str(header)]
    args += common_args(meta, "pdf")
    run_pandoc(args, md_file.parent)
    try:
        typst.compile(str(typ), output=str(pdf_file.resolve()), root=str(md_file.parent))
    except Exception as exc:  # typst raises its own error types
        raise RenderError(f"typst could not compile {typ}: {exc}") from exc
    return pdf_file


def common_args(meta: dict, fmt: str) -> list[str]:
    fmeta = meta.get("format", {})
    fmeta = fmeta.get("html" if fmt == "html" else "typst", {}) if isinstance(fmeta, dict) else {}
    opts = merge_options({k: meta[k] for k in ("toc", "number-sections") if k in meta}, fmeta or {})
    args = []
    if opts.get("toc"):
        args += ["--toc", f"--toc-depth={int(opts.get('toc-depth', 2))}"]
    if opts.get("number-sections"):
        args.append("--number-sections")
    return args
