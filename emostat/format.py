"""Number formatting for summaries and reports: APA style, R-like missing values.

Pure functions of numbers (no pandas). Conventions:

- missing values (None, NaN) print as ``NA`` (as R does); infinities as ``Inf``/``-Inf``;
- a value that rounds to zero prints without a sign (no ``-0.00``);
- ASCII hyphen-minus for negatives (safe in consoles, Markdown, Typst);
- bounded statistics (|x| <= 1: r, tau, proportions) drop the leading zero (APA 7, 6.36):
  ``.47``, ``-.05``; one that is not exactly +-1 but rounds to it prints ``> .99`` / ``< -.99``
  (to the digits asked), so a rounded value never claims a perfect correlation;
- p-values: three decimals without leading zero, ``p < .001`` below .001, ``p > .999`` above
  .999 (APA 7, 6.36).

Examples
--------
>>> apa_t(16.923, 26, 1.5e-15)
't(26) = 16.92, p < .001'
>>> apa_r(0.4741, 26, 0.023)
'r(26) = .47, p = .023'
>>> fmt_ci(0.424, 0.521, bounded=True)
'[.42, .52]'
"""

from __future__ import annotations

import math

NA = "NA"

# Named p-value methods: the key used in results tables' ``p_method`` (or a short alias) ->
# the sentence a report prints under a table.
P_METHODS: dict[str, str] = {
    "Wald z": "p-values from Wald z tests (estimate / SE against the standard normal), "
              "as statsmodels gives them; lme4 prints none, lmerTest would use Satterthwaite t.",
    "t": "p-values from t tests (Student t reference distribution).",
    "sign-flip permutation": "p-values from sign-flip permutation tests of the paired "
                             "differences ((b + 1) / (n + 1), b = permutations at least as "
                             "extreme).",
    "label permutation": "p-values from permutation of the concept labels (Mantel-type test).",
    "bootstrap": "uncertainty from resampling participants (percentile bootstrap).",
    "study FDR": "q-values by the study's rule q = p * N / rank(p) over the whole table "
                 "(not monotone; not the Benjamini-Hochberg step-up).",
    "BH q": "q-values by the Benjamini-Hochberg step-up procedure over the whole table.",
    "dip": "p-values of Hartigan's dip test of unimodality (interpolated from the null table).",
}
_P_ALIASES = {"wald": "Wald z", "wald_z": "Wald z", "z": "Wald z", "perm": "sign-flip permutation",
              "signflip": "sign-flip permutation", "sign_flip": "sign-flip permutation",
              "study_fdr": "study FDR", "authors": "study FDR", "bh": "BH q", "fdr_bh": "BH q",
              "mantel": "label permutation", "boot": "bootstrap"}


def _is_missing(x) -> bool:
    if x is None:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        raise TypeError(f"not a number: {x!r}") from None


def _fixed(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    if float(s) == 0:  # no "-0.00"
        s = s.lstrip("-")
    return s


def fmt_num(x, digits: int = 2, big_mark: str = "") -> str:
    """``x`` rounded to ``digits`` decimals: ``fmt_num(3.14159) == "3.14"``.

    ``big_mark=","`` groups thousands (``12,345.68``). NaN/None -> ``NA``.
    """
    if _is_missing(x):
        return NA
    x = float(x)
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    s = _fixed(x, digits)
    if big_mark:
        sign = "-" if s.startswith("-") else ""
        whole, _, frac = s.lstrip("-").partition(".")
        whole = f"{int(whole):,}".replace(",", big_mark)
        s = sign + whole + ("." + frac if frac else "")
    return s


def fmt_int(x) -> str:
    """An integer count (``NA`` when missing); a float df like 26.0 prints ``26``."""
    if _is_missing(x):
        return NA
    return str(int(round(float(x))))


def fmt_stat(x, digits: int = 2, bounded: bool = False) -> str:
    """A statistic; ``bounded=True`` (|x| <= 1, e.g. r, tau, a proportion) drops the leading
    zero and never rounds a non-unit value to 1: ``fmt_stat(.9996, bounded=True) == "> .99"``."""
    if _is_missing(x):
        return NA
    x = float(x)
    if not bounded:
        return fmt_num(x, digits)
    if abs(x) > 1 + 1e-12:
        raise ValueError(f"bounded statistic out of [-1, 1]: {x}")
    if abs(x) >= 1:
        return ("-" if x < 0 else "") + "1." + "0" * digits
    s = _fixed(x, digits)
    if abs(float(s)) >= 1:  # rounds to 1 but is not 1
        top = "." + "9" * digits
        return f"> {top}" if x > 0 else f"< -{top}"
    return s.replace("0.", ".", 1)


def fmt_p(p, name: str | None = "p", digits: int = 3) -> str:
    """APA p-value: ``p = .023``, ``p < .001``, ``p > .999``; ``name=None`` gives the bare value
    (``.023``, ``< .001``) for table cells; ``name="q"`` for q-values."""
    if _is_missing(p):
        return f"{name} = {NA}" if name else NA
    p = float(p)
    if p < 0 or p > 1 + 1e-12:
        raise ValueError(f"p-value out of [0, 1]: {p}")
    floor = 10.0 ** -digits
    if p < floor:
        body = "< " + f"{floor:.{digits}f}".replace("0.", ".", 1)
    elif float(f"{p:.{digits}f}") >= 1:  # includes p = 1 (e.g. a permutation p)
        body = "> ." + "9" * digits
    else:
        body = "= " + f"{p:.{digits}f}".replace("0.", ".", 1)
    if name:
        return f"{name} {body}"
    return body[2:] if body.startswith("= ") else body


def fmt_ci(lo, hi, digits: int = 2, bounded: bool = False) -> str:
    """Confidence interval in APA brackets: ``[.42, .52]`` (bounded) or ``[-1.20, 3.40]``."""
    return f"[{fmt_stat(lo, digits, bounded)}, {fmt_stat(hi, digits, bounded)}]"


def fmt_pct(proportion, digits: int = 1) -> str:
    """A proportion as a percentage: ``fmt_pct(.8318) == "83.2%"``."""
    if _is_missing(proportion):
        return NA
    return fmt_num(100 * float(proportion), digits) + "%"


def fmt_df(df) -> str:
    """Degrees of freedom: integers as such (``26``), fractional (Welch, Satterthwaite) with two
    decimals (``167.34``)."""
    if _is_missing(df):
        return NA
    df = float(df)
    return fmt_int(df) if abs(df - round(df)) < 1e-9 else fmt_num(df, 2)


def _eq(s: str) -> str:
    # "= x" unless the formatted value already carries its relation ("> .99")
    return s if s[:1] in "<>" else f"= {s}"


def apa_t(t, df, p, digits: int = 2) -> str:
    """``t(26) = 16.92, p < .001``."""
    return f"t({fmt_df(df)}) {_eq(fmt_num(t, digits))}, {fmt_p(p)}"


def apa_r(r, df, p, digits: int = 2, symbol: str = "r") -> str:
    """``r(26) = .47, p < .001`` (``symbol="tau"`` etc. for other bounded coefficients;
    ``df=None`` drops the parentheses)."""
    head = symbol if _is_missing(df) else f"{symbol}({fmt_df(df)})"
    return f"{head} {_eq(fmt_stat(r, digits, bounded=True))}, {fmt_p(p)}"


def apa_z(z, p, digits: int = 2) -> str:
    """``z = -3.21, p = .001``."""
    return f"z {_eq(fmt_num(z, digits))}, {fmt_p(p)}"


def p_method_note(method: str) -> str:
    """The sentence naming how p (or q) values were computed, e.g. ``p_method_note("Wald z")``.

    Accepts the names in :data:`P_METHODS` or aliases (``"bh"``, ``"study_fdr"``, ``"perm"``);
    an unknown name is echoed as ``"p-values: <name>."`` rather than guessed.
    """
    key = method if method in P_METHODS else _P_ALIASES.get(str(method).lower().strip())
    if key is None:
        return f"p-values: {method}."
    return P_METHODS[key]


def _side(x: float, ref: float) -> int:
    return (x > ref) - (x < ref)


def fmt_p_alpha(p, alpha: float = 0.05, name: str | None = "p", digits: int = 3,
                max_digits: int = 8) -> str:
    """A p-value never rounded across ``alpha``: as :func:`fmt_p`, with more decimals where the
    rounded value would sit on the other side of alpha (or on it) than p does.

    >>> fmt_p_alpha(0.049995)            # fmt_p gives "p = .050", which reads as p = alpha
    'p = .04999'
    >>> fmt_p_alpha(0.0500001)
    'p = .0500001'
    >>> fmt_p_alpha(0.023), fmt_p_alpha(0.0001)
    ('p = .023', 'p < .001')
    """
    if _is_missing(p):
        return fmt_p(p, name, digits)
    p, alpha = float(p), float(alpha)
    want = _side(p, alpha)
    for d in range(digits, max_digits + 1):
        s = fmt_p(p, None, d)
        if s.startswith("<"):
            ok = want < 0 and 10.0 ** -d <= alpha
        elif s.startswith(">"):
            ok = want > 0
        else:
            ok = _side(float("0" + s), alpha) == want
        if ok:
            return f"{name} {_eq(s)}" if name else s
    rel = "<" if want < 0 else ">" if want > 0 else "="
    body = f"{rel} {fmt_stat(alpha, max_digits, bounded=True).rstrip('0')}"
    return f"{name} {body}" if name else body


def fmt_p_floor(p, floor=None, alpha: float | None = None, name: str | None = "p",
                digits: int = 3) -> str:
    """A p never printed below its floor (the smallest p its test can give) nor rounded across
    ``alpha``: where ``digits`` decimals would print a value under the floor (``.001`` for a
    floor of .0013), p gets the floor's resolution (two significant digits).

    >>> fmt_p_floor(1 / 750, 1 / 750), fmt_p(1 / 750)
    ('p = .0013', 'p = .001')
    >>> fmt_p_floor(0.244, 1 / 750, 0.05), fmt_p_floor(0.0001, 1e-4)
    ('p = .244', 'p < .001')
    """
    base = (fmt_p(p, name, digits) if alpha is None or _is_missing(alpha) else
            fmt_p_alpha(p, alpha, name, digits))
    if _is_missing(p) or floor is None or _is_missing(floor) or float(floor) <= 0:
        return base
    p, f = float(p), float(floor)
    body = base[len(name) + 1:] if name else base
    shown = float("0" + body.lstrip("=<> ")) if body.lstrip("=<> ")[:1] in ".0123456789" else p
    if f < 10.0 ** -digits or p < f or (shown >= f and not body.startswith("<")):
        return base
    d = max(digits, 1 - math.floor(math.log10(f)))
    for d in range(d, 9):
        v = max(round(p, d), round(f, d))          # as printed, never under the floor
        if alpha is None or _is_missing(alpha) or _side(v, float(alpha)) == _side(p, float(alpha)):
            break
    s = f"{v:.{d}f}".replace("0.", ".", 1)
    return f"{name} = {s}" if name else s


def fmt_bound(x, digits: int = 2, bounded: bool = False, max_extra: int = 4) -> str:
    """An interval bound never rounded across 0: a non-zero ``x`` that would print as zero gets
    more decimals (then scientific notation), so its sign shows.

    >>> fmt_bound(-0.0002, 3, bounded=True), fmt_stat(-0.0002, 3, bounded=True)
    ('-.0002', '.000')
    >>> fmt_bound(0.4241, 2, bounded=True)
    '.42'
    """
    if _is_missing(x):
        return NA
    x = float(x)
    for d in range(digits, digits + max_extra + 1):
        if x == 0 or float(f"{x:.{d}f}") != 0:
            return fmt_stat(x, d, bounded)
    return f"{x:.1e}"


def fmt_ci_bounds(lo, hi, digits: int = 2, bounded: bool = False) -> str:
    """:func:`fmt_ci` with :func:`fmt_bound` bounds: ``[-.0002, .41]``, never ``[.000, .41]``."""
    return f"[{fmt_bound(lo, digits, bounded)}, {fmt_bound(hi, digits, bounded)}]"
