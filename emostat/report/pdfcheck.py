"""Layout check of a rendered PDF: text lines that overlap, text that runs off the page,
pages left mostly blank.

Reads word and line boxes with poppler's ``pdftotext -bbox-layout`` (text only: figures are
images and are not checked). Used by the tests on both rendered reports and runnable by hand::

    python -m emostat.report.pdfcheck report.pdf [--margin 31]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = "{http://www.w3.org/1999/xhtml}"


@dataclass
class Box:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    def overlap(self, other: "Box") -> float:
        """Intersection area over the smaller box's area."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        if w <= 0 or h <= 0:
            return 0.0
        small = min((self.x1 - self.x0) * (self.y1 - self.y0),
                    (other.x1 - other.x0) * (other.y1 - other.y0))
        return w * h / small if small > 0 else 0.0


def available() -> bool:
    return shutil.which("pdftotext") is not None


def read_lines(pdf) -> tuple[list[tuple[float, float]], list[Box]]:
    """Page sizes and text lines (with their words joined) of ``pdf``."""
    out = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    root = ET.fromstring(out)
    sizes, lines = [], []
    for n, page in enumerate(root.iter(f"{NS}page"), start=1):
        sizes.append((float(page.get("width")), float(page.get("height"))))
        for line in page.iter(f"{NS}line"):
            words = " ".join(w.text or "" for w in line.iter(f"{NS}word"))
            lines.append(Box(n, float(line.get("xMin")), float(line.get("yMin")),
                             float(line.get("xMax")), float(line.get("yMax")), words))
    return sizes, lines


def problems(pdf, margin: float = 31.0, min_overlap: float = 0.25) -> list[str]:
    """Layout problems of ``pdf``: a line that reaches within ``margin`` points of the paper's
    edge (half the reports' 2.2 cm margin: a table or line that runs off the text area), and
    two lines of a page whose boxes overlap by more than ``min_overlap`` of the smaller one."""
    sizes, lines = read_lines(pdf)
    found = []
    for b in lines:
        w, h = sizes[b.page - 1]
        if b.x0 < margin or b.x1 > w - margin or b.y0 < margin / 2 or b.y1 > h - margin / 2:
            found.append(f"page {b.page}: off the text area at x {b.x0:.0f}–{b.x1:.0f} of "
                         f"{w:.0f}, y {b.y0:.0f}–{b.y1:.0f} of {h:.0f}: {b.text[:60]!r}")
    by_page: dict[int, list[Box]] = {}
    for b in lines:
        by_page.setdefault(b.page, []).append(b)
    for page, bs in by_page.items():
        bs.sort(key=lambda b: b.y0)
        for i, a in enumerate(bs):
            for b in bs[i + 1:]:
                if b.y0 >= a.y1:
                    break
                if a.overlap(b) > min_overlap:
                    found.append(f"page {page}: overlapping lines {a.text[:40]!r} and "
                                 f"{b.text[:40]!r}")
    return found


def blank_pages(pdf, max_blank: float = 2 / 3, dpi: int = 20) -> list[str]:
    """Pages (all but the last) whose longest empty vertical stretch inside the margins exceeds
    ``max_blank`` of the page body: a figure or table pushed on, leaving a page mostly blank.
    Renders the pages with poppler's ``pdftoppm`` (images count as ink, unlike pdftotext)."""
    import tempfile
    from pathlib import Path

    import numpy as np
    from PIL import Image

    found = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf),
                        str(Path(tmp) / "p")], check=True, capture_output=True)
        pages = sorted(Path(tmp).glob("p-*.png"), key=lambda f: int(f.stem.split("-")[-1]))
        for n, f in enumerate(pages[:-1], start=1):
            a = np.asarray(Image.open(f).convert("L"))
            body = a[int(a.shape[0] * 0.08):int(a.shape[0] * 0.92)]
            ink = (body < 200).any(axis=1)
            run = best = 0
            for r in ink:
                run = 0 if r else run + 1
                best = max(best, run)
            if best > max_blank * len(ink):
                found.append(f"page {n}: {best / len(ink):.0%} of the page is blank")
    return found


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pdf", nargs="+")
    p.add_argument("--margin", type=float, default=31.0)
    a = p.parse_args(argv)
    bad = 0
    for f in a.pdf:
        for msg in problems(f, a.margin) + blank_pages(f):
            print(f"{f}: {msg}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
