"""Render the Quarto reports (``reports/*.qmd``) of one or more run folders to HTML and PDF.

With a ``quarto`` binary on PATH, :func:`render_report` calls ``quarto render``. Without one
(offline machines) it renders the same ``.qmd`` sources itself. Either works on a temporary
copy of the shipped project (``_quarto.yml``, ``reports/``; :mod:`emostat.paths`), never beside
the sources (read-only in an installed package). The offline renderer:

1. front matter (YAML, merged over ``_quarto.yml``) and ```` ```{python} ```` chunks are read
   with jupytext (its R Markdown reader); ``#|`` chunk options are parsed as YAML;
2. the chunks, and the inline expressions `` `{python} expr` `` of the text, are executed in a
   Jupyter kernel of the current interpreter (nbclient; the kernel spec lives in a temporary
   folder, nothing is installed globally);
3. outputs become Markdown: Markdown outputs verbatim, figures as PNG files with captions,
   ``@fig-``/``@tbl-`` references numbered, text output as code blocks;
4. pandoc (pypandoc-binary) writes a self-contained HTML (``--embed-resources``, MathML, no
   CDN) and a Typst file, which the ``typst`` package compiles to PDF.

Honoured chunk options: ``echo``, ``eval``, ``include``, ``output`` (``false`` | ``asis``),
``warning``, ``label``, ``fig-cap``, ``tbl-cap``. Report parameters reach the chunks through
``$EMOSTAT_REPORT_PARAMS`` (a JSON file) and, under Quarto, also ``-P results:...``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from emostat import io
from emostat.errors import InputError
from emostat.paths import PROJECT_FILE, REPORTS_DIR, copy_project
from emostat.report.load import PARAMS_ENV, check_same_space, detect_kind, load_run
from emostat.report.output import RenderError, front_matter, merge_options, to_html, to_pdf

KINDS = ("reproduction", "experiment", "comparison")
FORMATS = ("html", "pdf")
KERNEL_NAME = "emostat-python"
PACKAGE_PARENT = Path(__file__).resolve().parents[2]   # the folder emostat was imported from
INLINE = re.compile(r"`\{python\}\s+([^`]+?)`")
XREF = re.compile(r"@((?:fig|tbl)-[A-Za-z0-9_-]+)")
INCLUDE = re.compile(r"\{\{<\s*include\s+(\S+)\s*>\}\}")
# a statistic's symbol, relation and value: joined by no-break spaces
KEEP = re.compile(r"((?<![\w|])[pqtrzτ]|\)) ([<=>]) (?=[-.\d])")
OPTION = re.compile(r"^#\|\s?(.*)$")
CAPTION = re.compile(r"^<!-- caption: (.*?) -->[ \t]*\n?")


# ---------------------------------------------------------------------------------------------
# public entry point


def render_report(results_dirs, to=("html", "pdf"), out=None, kind: str = "auto",
                  quiet: bool = False) -> dict[str, Path]:
    """Render the report of one or more run folders.

    Parameters
    ----------
    results_dirs : path or list of paths
        Run folders, each holding ``results/*.parquet`` (and ``provenance.json``). Several
        folders give the model-comparison report.
    to : sequence of {"html", "pdf"} or comma-separated str
    out : path, optional
        Output folder; default ``<first run folder>/report``.
    kind : {"auto", "reproduction", "experiment", "comparison"}
        ``auto``: comparison for several runs; reproduction when a single run has
        ``neuron_rsa`` and its provenance says it reproduces the study's release; else
        experiment.
    quiet : bool
        No progress messages.

    Returns
    -------
    dict
        Format (``html``, ``pdf``) → path of the rendered file, ``<out>/<kind>.<ext>``.
    """
    dirs = [results_dirs] if isinstance(results_dirs, (str, os.PathLike)) else list(results_dirs)
    if not dirs:
        raise InputError("render_report: no results folder given")
    out = Path(out) if out is not None else Path(dirs[0]) / "report"
    io.check_writable(out, "report folder")                   # before any work
    runs = [load_run(d) for d in dirs]
    if kind == "auto":
        kind = detect_kind(runs)
    if kind not in KINDS:
        raise InputError(f"report kind {kind!r}: expected auto, reproduction, experiment or "
                         "comparison")
    if kind == "comparison":
        check_same_space(runs)
    to = [t.strip().lower() for t in (to.split(",") if isinstance(to, str) else to) if t.strip()]
    bad = sorted(set(to) - set(FORMATS))
    if bad or not to:
        raise InputError(f"--to {','.join(to)}: expected a comma list of html, pdf")
    out.mkdir(parents=True, exist_ok=True)
    params = {"results": [str(Path(d).resolve()) for d in dirs], "kind": kind}
    params_file = out / f".{kind}-params.json"
    params_file.write_text(json.dumps(params, indent=2))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="emostat-report-") as tmp:
        qmd = copy_project(Path(tmp)) / REPORTS_DIR.name / f"{kind}.qmd"
        if shutil.which("quarto") and not os.environ.get("EMOSTAT_OFFLINE_RENDER"):
            files = render_with_quarto(qmd, params, params_file, out, to, quiet)
        else:
            files = render_offline(qmd, params_file, out, to, quiet=quiet)
    if not quiet:
        print(f"rendered {kind} report in {time.perf_counter() - t0:.0f} s", flush=True)
    return files


# ---------------------------------------------------------------------------------------------
# quarto


def render_with_quarto(qmd: Path, params: dict, params_file: Path, out: Path, to,
                       quiet: bool = False) -> dict[str, Path]:
    """``quarto render`` each format (PDF through Quarto's Typst format) into ``out``."""
    env = {**os.environ, PARAMS_ENV: str(params_file.resolve())}
    files = {}
    for fmt in to:
        qfmt = "html" if fmt == "html" else "typst"
        cmd = ["quarto", "render", str(qmd), "--to", qfmt, "--output-dir", str(out.resolve()),
               "-P", f"results:{json.dumps(params['results'])}", "-P", f"kind:{params['kind']}"]
        if quiet:
            cmd.append("--quiet")
        res = subprocess.run(cmd, cwd=project_file(qmd).parent, env=env, capture_output=quiet,
                             text=True)
        if res.returncode != 0:
            raise RenderError(f"quarto render {qmd.name} --to {qfmt} failed "
                              f"(exit {res.returncode}): {(res.stderr or '')[-2000:]}")
        files[fmt] = out / f"{qmd.stem}.{fmt}"
    return files


# ---------------------------------------------------------------------------------------------
# reading .qmd


@dataclass
class Chunk:
    """One cell of a .qmd: markdown text or a python chunk with its ``#|`` options."""

    kind: str                      # "markdown" | "code"
    source: str
    options: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    inline: list = field(default_factory=list)   # evaluated inline expressions (markdown)


def split_front_matter(text: str) -> tuple[dict, str]:
    """``(metadata, body)`` of a document starting with a ``---`` YAML block."""
    if not text.startswith("---"):
        return {}, text
    end = re.search(r"^(---|\.\.\.)\s*$", text[3:], flags=re.M)
    if end is None:
        raise InputError("front matter: no closing '---'")
    meta = yaml.safe_load(text[3:3 + end.start()]) or {}
    return meta, text[3 + end.end():].lstrip("\n")


def chunk_options(source: str, where: str = "") -> tuple[dict, str]:
    """Split the leading ``#| key: value`` lines (YAML) off a chunk's source."""
    lines = source.splitlines()
    opts, n = [], 0
    for line in lines:
        m = OPTION.match(line)
        if not m:
            break
        opts.append(m.group(1))
        n += 1
    try:
        options = yaml.safe_load("\n".join(opts)) or {} if opts else {}
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: bad chunk options ({exc})") from exc
    return options, "\n".join(lines[n:])


def expand_includes(text: str, base: Path, depth: int = 0) -> str:
    """Replace Quarto's ``{{< include FILE >}}`` shortcodes by the file (relative to ``base``)."""
    if depth > 10:
        raise InputError(f"{base}: includes nested more than 10 deep")

    def sub(m):
        f = base / m.group(1)
        if not f.exists():
            raise InputError(f"{f}: included file not found")
        return expand_includes(f.read_text(encoding="utf-8"), f.parent, depth + 1)

    return INCLUDE.sub(sub, text)


def project_file(qmd: Path) -> Path | None:
    """The ``_quarto.yml`` of the project holding ``qmd`` (the nearest folder above that has
    one, as Quarto looks for it), or None."""
    for folder in Path(qmd).resolve().parents:
        if (folder / PROJECT_FILE).is_file():
            return folder / PROJECT_FILE
    return None


def read_qmd(path: Path) -> tuple[dict, list[Chunk]]:
    """Front matter (merged over the project's ``_quarto.yml``) and chunks of a .qmd file."""
    import jupytext

    meta, body = split_front_matter(Path(path).read_text(encoding="utf-8"))
    body = expand_includes(body, Path(path).parent)
    project = project_file(path)
    if project is not None:
        meta = merge_options(yaml.safe_load(project.read_text()) or {}, meta)
    nb = jupytext.reads(body, fmt="Rmd")
    chunks = []
    for n, cell in enumerate(nb.cells):
        lang = str(cell.metadata.get("language", ""))
        if cell.cell_type == "code" and lang.startswith("="):
            # a raw block (```{=html}): text for pandoc, not code
            chunks.append(Chunk("markdown", f"```{{{lang}}}\n{cell.source}\n```"))
        elif cell.cell_type == "code":
            opts, src = chunk_options(cell.source, f"{path}, chunk {n + 1}")
            chunks.append(Chunk("code", src, opts))
        else:
            chunks.append(Chunk("markdown", cell.source))
    return meta, chunks


# ---------------------------------------------------------------------------------------------
# execution


def _kernel_spec_dir(tmp: Path) -> Path:
    kdir = tmp / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "emostat (current Python)", "language": "python"}))
    return tmp / "kernels"


def execute(chunks: list[Chunk], defaults: dict, params_file: Path, cwd: Path,
            name: str = "report", timeout: int = 600) -> None:
    """Run the code chunks (and inline expressions) in a fresh kernel; fill ``outputs``."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook()
    owners = []  # (chunk, "code"|"inline")
    for ch in chunks:
        if ch.kind == "code" and _opt(ch, defaults, "eval", True):
            nb.cells.append(nbformat.v4.new_code_cell(ch.source))
            owners.append((ch, "code"))
        elif ch.kind == "markdown":
            exprs = INLINE.findall(ch.source)
            if exprs:
                code = "import json as _j\n_inl = []\n" + "".join(
                    f"_inl.append(str({e}))\n" for e in exprs) + "print(_j.dumps(_inl))"
                nb.cells.append(nbformat.v4.new_code_cell(code))
                owners.append((ch, "inline"))
    env = {**os.environ, PARAMS_ENV: str(Path(params_file).resolve()),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           # the kernel imports the emostat this process runs (an installed or a source copy)
           "PYTHONPATH": os.pathsep.join([str(PACKAGE_PARENT)] + ([os.environ["PYTHONPATH"]]
                                                        if os.environ.get("PYTHONPATH") else [])),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with tempfile.TemporaryDirectory(prefix="emostat-kernel-") as tmp:
        ksm = KernelSpecManager(kernel_dirs=[str(_kernel_spec_dir(Path(tmp)))])
        km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name=KERNEL_NAME,
                                resources={"metadata": {"path": str(cwd)}},
                                allow_errors=False, record_timing=True,
                                # the kernel's own log (e.g. its TCP notice) is not report output
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
        try:
            # cleanup_kc: shut the kernel down even though we made its manager
            client.execute(env=env, cleanup_kc=True)
        except CellExecutionError as exc:
            msg = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
            raise RenderError(f"{name}: a chunk failed while rendering:\n{msg[-3000:]}") from None
    for cell, (ch, role) in zip(nb.cells, owners):
        if role == "code":
            ch.outputs = list(cell.get("outputs", []))
        else:
            text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                           if o.get("output_type") == "stream" and o.get("name") == "stdout")
            ch.inline = json.loads(text.strip().splitlines()[-1])


def _opt(ch: Chunk, defaults: dict, key: str, fallback):
    return ch.options.get(key, defaults.get(key, fallback))


# ---------------------------------------------------------------------------------------------
# outputs -> markdown


def _png_width_in(data: bytes, dpi_default: float = 200.0, max_in: float = 6.5,
                  max_height_in: float = 8.3) -> float:
    """Display width of a PNG in inches from its pixel width and pHYs resolution, narrowed
    so that the image is at most ``max_height_in`` tall (an A4 page's text height less room
    for a caption): a tall figure never runs off the page."""
    import io as _io

    from PIL import Image

    with Image.open(_io.BytesIO(data)) as im:
        dpi = im.info.get("dpi", (dpi_default,))[0] or dpi_default
        width = min(im.width / float(dpi), max_in)
        return min(width, max_height_in * im.width / im.height)


def assemble(chunks: list[Chunk], defaults: dict, fig_dir: Path) -> tuple[str, dict]:
    """Markdown of the executed document and the cross-reference numbers ``{label: text}``."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    numbers: dict[str, str] = {}
    nfig = ntbl = 0
    parts: list[str] = []
    for i, ch in enumerate(chunks):
        if ch.kind == "markdown":
            values = iter(ch.inline)
            parts.append(INLINE.sub(lambda m: next(values), ch.source))
            continue
        if not _opt(ch, defaults, "include", True):
            continue
        if _opt(ch, defaults, "echo", False):
            parts.append("```python\n" + ch.source.strip("\n") + "\n```")
        output = _opt(ch, defaults, "output", True)
        if output is False or not ch.outputs:
            continue
        label = ch.options.get("label") or f"chunk-{i + 1}"
        fig_cap, tbl_cap = ch.options.get("fig-cap"), ch.options.get("tbl-cap")
        body: list[str] = []
        nimg = 0
        for o in ch.outputs:
            kind = o.get("output_type")
            if kind == "stream":
                if o.get("name") == "stderr" and not _opt(ch, defaults, "warning", False):
                    continue
                text = o.get("text", "")
                body.append(text if output == "asis" else "```\n" + text.rstrip() + "\n```")
            elif kind in ("display_data", "execute_result"):
                data = o.get("data", {})
                if "text/markdown" in data:
                    body.append(data["text/markdown"])
                elif "image/png" in data:
                    png = base64.b64decode(data["image/png"])
                    nimg += 1
                    fname = f"{label}{'' if nimg == 1 else f'-{nimg}'}.png"
                    (fig_dir / fname).write_bytes(png)
                    width = _png_width_in(png)
                    rel = f"{fig_dir.name}/{fname}"
                    if fig_cap and nimg == 1:
                        ident = label if label.startswith("fig-") else f"fig-{label}"
                        body.append(f"![{FIGMARK}{fig_cap}]({rel}){{#{ident} "
                                    f"width={width:.2f}in}}")
                    else:
                        # no caption: a plain image (a backslash keeps it out of a figure)
                        body.append(f"![]({rel}){{width={width:.2f}in}}\\")
                elif "text/plain" in data and output == "asis":
                    body.append(data["text/plain"])
                elif "text/plain" in data:
                    body.append("```\n" + data["text/plain"] + "\n```")
        text = "\n\n".join(b.strip("\n") for b in body if b.strip())
        m = CAPTION.match(text)
        if m:   # a caption the chunk computed from the data (view.caption_marker)
            tbl_cap, text = m.group(1), text[m.end():].lstrip("\n")
        if tbl_cap and text:
            ntbl += 1
            ident = label if label.startswith("tbl-") else f"tbl-{label}"
            numbers[ident] = f"Table {ntbl}"
            text = _caption_table(text, f"**Table {ntbl}.** *{tbl_cap}*", ident)
        if text:
            parts.append(text)
    md = "\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"
    md = FIGDIV.sub(_figure_div, md)
    for m in re.finditer(r"!\[" + FIGMARK + r".*?\{#(fig-[\w-]+) ", md):
        nfig += 1
        numbers[m.group(1)] = f"Figure {nfig}"
    count = iter(range(1, nfig + 1))
    md = re.sub(re.escape(f"![{FIGMARK}"), lambda m: f"![**Figure {next(count)}.** ", md)
    md = KEEP.sub("\\1\u00a0\\2\u00a0", md)   # "p < .001" never breaks across lines
    md = XREF.sub(lambda m: f"[{numbers[m.group(1)]}](#{m.group(1)})"
                  if m.group(1) in numbers else m.group(0), md)
    return md, numbers


# A Quarto figure div: ``::: {#fig-x}``, the chunk's image, the caption paragraph, ``:::``
# (the caption may hold inline expressions, so it can say what the figure shows)
FIGMARK = "\u2063"   # invisible separator: marks a captioned figure until it is numbered
FIGDIV = re.compile(r"^::: \{#(fig-[\w-]+)\}[ \t]*\n(.*?)\n:::[ \t]*$", re.M | re.S)
IMAGE = re.compile(r"!\[\]\((\S+?)\)\{width=([\d.]+in)\}\\?")


def _figure_div(m: re.Match) -> str:
    """A figure div → one captioned image (or nothing when the chunk drew no figure)."""
    ident, inner = m.group(1), m.group(2)
    img = IMAGE.search(inner)
    if img is None:
        return ""
    caption = " ".join((inner[:img.start()] + inner[img.end():]).split())
    if not caption:
        return img.group(0)
    return f"![{FIGMARK}{caption}]({img.group(1)}){{#{ident} width={img.group(2)}}}"


def _table_blocks(md: str) -> int:
    """Number of pipe tables (runs of lines starting with ``|``) in ``md``."""
    n, inside = 0, False
    for line in md.splitlines():
        is_row = line.startswith("|")
        n += is_row and not inside
        inside = is_row
    return n


SHORT_TABLE = 12   # rows: a longer table may break (header repeated), never leave a page half empty
SHORT_CHARS = 1600  # ... and so may a short table of long, wrapping cells


def _caption_table(md: str, caption: str, ident: str) -> str:
    """Attach a numbered caption to a chunk's table output.

    One pipe table: a pandoc table caption (HTML ``<caption>``, a Typst table figure, kept on
    one page with its table). Several parts (e.g. the mixed model): a caption paragraph above,
    the whole kept on one page in the PDF by an unbreakable Typst block.
    """
    if _table_blocks(md) == 1 and md.lstrip().startswith("|"):
        lines = md.rstrip().splitlines()
        last = max(i for i, line in enumerate(lines) if line.startswith("|"))
        lines.insert(last + 1, f"\n: {caption}\n")
        out = f"::: {{#{ident}}}\n" + "\n".join(lines) + "\n:::"
        rows = [line for line in lines if line.startswith("|")]
        if len(rows) <= SHORT_TABLE + 2 and sum(len(r) for r in rows) <= SHORT_CHARS:
            # a short table is never split across pages (long ones break, header repeated)
            out = ("```{=typst}\n#block(breakable: false)[\n```\n\n" + out
                   + "\n\n```{=typst}\n]\n```")
        return out
    return ("```{=typst}\n#block(breakable: false)[\n```\n\n"
            f"::: {{#{ident} .table-block}}\n{caption}\n\n{md}\n:::\n\n"
            "```{=typst}\n]\n```")


def render_offline(qmd: Path, params_file: Path, out: Path, to=FORMATS,
                   quiet: bool = False) -> dict[str, Path]:
    """Render ``qmd`` without Quarto (see the module docstring); returns format → file."""
    t0 = time.perf_counter()
    meta, chunks = read_qmd(qmd)
    defaults = meta.get("execute", {}) or {}
    work = out / f".{qmd.stem}_work"
    work.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"executing {qmd.name} ...", flush=True)
    execute(chunks, defaults, params_file, cwd=work, name=qmd.name)
    md, _ = assemble(chunks, defaults, work / f"{qmd.stem}_files")
    md_file = work / f"{qmd.stem}.md"
    md_file.write_text(front_matter(meta) + md, encoding="utf-8")
    if not quiet:
        print(f"  executed in {time.perf_counter() - t0:.0f} s; writing {', '.join(to)}",
              flush=True)
    files = {}
    if "html" in to:
        files["html"] = to_html(md_file, out / f"{qmd.stem}.html", meta, qmd.parent / "styles")
    if "pdf" in to:
        files["pdf"] = to_pdf(md_file, out / f"{qmd.stem}.pdf", meta, qmd.parent / "styles")
    return files
