"""Plain-text building blocks of the console summaries: aligned tables and R-style numbers."""

from __future__ import annotations

import math

import pandas as pd

from emostat.errors import InputError
from emostat.format import NA, fmt_num

# ---- small text helpers -------------------------------------------------------------------------
def text_table(header: list[str], rows: list[list[str]], left: int = 1, indent: str = " ") -> str:
    """Columns padded to a common width; the first ``left`` columns left-aligned (labels), the
    rest right-aligned (numbers), as R prints data frames."""
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[c]) for r in cells) for c in range(len(header))]
    lines = []
    for r in cells:
        parts = [r[c].ljust(widths[c]) if c < left else r[c].rjust(widths[c])
                 for c in range(len(header))]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def require(table: pd.DataFrame, cols, name: str) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise InputError(f"summary of {name!r}: table lacks column(s) {missing} "
                         f"(has {list(table.columns)})")


def pick_k(table: pd.DataFrame, k=None) -> int:
    ks = sorted(int(x) for x in pd.unique(table["k"].dropna()))
    if not ks:
        raise InputError("summary: the table has no k values")
    if k is not None:
        return int(k)
    return ks[-1]


def pts(x, digits: int = 1) -> str:
    """A proportion difference in percentage points."""
    return NA if is_nan(x) else fmt_num(100 * float(x), digits)


def is_nan(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def count(mask: pd.Series) -> int:
    return int(mask.fillna(False).astype(bool).sum())


# ---- R-style numbers ----------------------------------------------------------------------------
def fmt_pval_r(p) -> str:
    """p as R's ``format.pval(p, digits = 3)``: ``<2e-16`` below machine epsilon, otherwise
    3 significant digits, fixed or scientific whichever is shorter (``0.0234``, ``5.62e-38``)."""
    if is_nan(p):
        return NA
    p = float(p)
    if p < 2.220446e-16:
        return "<2e-16"
    sci = f"{p:.2e}"
    mant, exp = sci.split("e")
    sci = f"{mant.rstrip('0').rstrip('.')}e{exp[0]}{exp[1:].lstrip('0').rjust(2, '0')}"
    dec = max(0, 2 - int(math.floor(math.log10(p)))) if p > 0 else 0
    fixed = f"{p:.{dec}f}".rstrip("0").rstrip(".") if "." in f"{p:.{dec}f}" else f"{p:.{dec}f}"
    return fixed if len(fixed) <= len(sci) else sci


def col_decimals(values, sig: int, cap: int = 8, ref=min) -> int:
    """Decimals so that the ``ref`` (min, or e.g. np.median) non-zero |value| shows ``sig``
    significant digits."""
    v = [abs(float(x)) for x in values if not is_nan(x) and float(x) != 0]
    if not v:
        return 2
    return int(min(cap, max(0, sig - 1 - math.floor(math.log10(ref(v))))))


def fmt_col(values, sig: int = 5, ref=min) -> list[str]:
    """One number format for a whole column, as R prints a column."""
    d = col_decimals(values, sig, ref=ref)
    return [fmt_num(x, d) for x in values]
