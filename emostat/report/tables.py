"""Report tables: results DataFrames → formatted Markdown pipe tables.

Pipe tables survive both output paths (pandoc → HTML and pandoc → Typst → PDF); raw HTML tables
do not reach the PDF. Numbers are formatted by :mod:`emostat.format` (APA rules). A
:class:`Markdown` object displays as ``text/markdown`` in a Jupyter kernel, so a chunk that ends
with one puts the table into the document (Quarto and the offline renderer alike).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.analysis.claims.words import test_name
from emostat.report.view import (Markdown, ci_text, extra_drop, headline_k, k_text, missing,
                                 order, p_text)

__all__ = ["Markdown", "apa_table", "pipe_table"]


def cell_text(x) -> str:
    s = "" if x is None else str(x)
    return s.replace("|", "\\|").replace("\n", " ")


WRAP = 28


def pipe_table(df: pd.DataFrame, align: str | None = None, caption: str | None = None,
               label: str | None = None, widths: dict | None = None) -> Markdown:
    """A DataFrame of (already formatted) cells as a Markdown pipe table.

    Parameters
    ----------
    df : DataFrame
        Cells are converted with ``str``; ``|`` is escaped; the column names are the header.
    align : str, optional
        One letter per column, ``l``/``r``/``c``; default: left for text columns, right else.
    caption, label : str, optional
        A pandoc table caption (``: caption {#tbl-label}``) below the table.
    widths : dict, optional
        Relative width (characters) of named columns, where the widest cell would mislead:
        a column of unbreakable cells (``t(1.44) = -0.99``) needs its cells' width plus the
        cell's padding, a column of wrapping text less than its longest cell.
    """
    cols = list(df.columns)
    if align is None:
        align = "".join("l" if is_text(df[c]) and not numeric_text(df[c]) else "r"
                        for c in cols)
    if len(align) != len(cols):
        raise ValueError(f"align has {len(align)} letters for {len(cols)} columns")
    # dashes proportional to the widest cell: pandoc uses them as relative column widths
    # when a row is longer than its line width (so long names do not wrap in the PDF)
    # a column of wrapping text counts at most WRAP characters, so that narrow number
    # columns keep room for their header (a header is never narrower than its longest word)
    cw = []
    for c in cols:
        cells = [cell_text(v) for v in df[c]]
        w = max([len(cell_text(c))] + [len(v) for v in cells])
        if w > WRAP and any(" " in v for v in cells):
            words = [len(x) for v in cells + [cell_text(c)] for x in v.split()]
            w = max(WRAP, max(words, default=0))
        cw.append(int((widths or {}).get(c, w)))
    rule = []
    for a, w in zip(align, cw):
        dashes = "-" * max(3, w)
        rule.append({"l": ":" + dashes, "r": dashes + ":", "c": ":" + dashes + ":"}[a])
    lines = ["| " + " | ".join(cell_text(c) for c in cols) + " |", "|" + "|".join(rule) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell_text(v) for v in row) + " |")
    out = "\n".join(lines) + "\n"
    if caption:
        out += f"\n: {caption}" + (f" {{#{label}}}" if label else "") + "\n"
    return Markdown(out)


def is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def numeric_text(s: pd.Series) -> bool:
    txt = s.dropna().astype(str).str.replace(r"^[<>=]\s*", "", regex=True)
    return len(txt) > 0 and bool(txt.str.fullmatch(r"-?\.?\d[\d,.]*%?|NA|-?Inf").all())


# column -> (header, formatter) for broom-style results
def bounded(digits=2):
    return lambda x: fmt.fmt_stat(x, digits, bounded=True)


def num(digits=2):
    return lambda x: fmt.fmt_num(x, digits)


def points(x) -> str:
    """A proportion difference in percentage points."""
    return fmt.fmt_num(100 * x, 1) if x is not None and np.isfinite(x) else fmt.NA


FORMATS: dict[str, tuple[str, Callable]] = {
    "estimate": ("Estimate", num(2)),
    "std_error": ("SE", num(3)),
    "statistic": ("Statistic", num(2)),
    "df": ("df", fmt.fmt_df),
    "p_value": ("p", lambda p: p_text(p, .05, None)),
    "p_value_perm": ("p (perm.)", lambda p: p_text(p, .05, None)),
    "q_value": ("q (study)", lambda p: p_text(p, .05, None)),
    "q_value_bh": ("q (BH)", lambda p: p_text(p, .05, None)),
    "n": ("n", fmt.fmt_int),
    "k": ("k", lambda k: fmt.fmt_num(k, 0, big_mark=",")),
}


def apa_table(df: pd.DataFrame, columns: list, headers: dict | None = None,
              formats: dict | None = None, ci: str | None = "95% CI", ci_digits: int = 2,
              ci_bounded: bool = False, caption: str | None = None,
              label: str | None = None) -> Markdown:
    """Format selected columns of a results table APA style and return a pipe table.

    Parameters
    ----------
    df : DataFrame
        A results table with broom column names.
    columns : list of str
        Columns to show, in order; the pseudo-column ``"ci"`` shows ``[conf_low, conf_high]``.
    headers, formats : dict, optional
        Override the header text or formatter (callable of one value) per column.
    ci : str, optional
        Header of the CI column. ``ci_bounded`` drops leading zeros (for r, tau).
    """
    headers, formats = headers or {}, formats or {}
    out = {}
    for col in columns:
        if col == "ci":
            out[headers.get("ci", ci)] = [ci_text(lo, hi, ci_digits, ci_bounded) or "–"
                                          for lo, hi in zip(df["conf_low"], df["conf_high"])]
            continue
        head, f = FORMATS.get(col, (col, None))
        head = headers.get(col, head)
        f = formats.get(col, f)
        vals = df[col]
        if col == "p_value" and "p_floor" in df and col not in formats:
            # a permutation p at its floor's resolution, never printed below it
            out[head] = [fmt.fmt_p_floor(v, None if missing(fl) else float(fl), .05, None)
                         for v, fl in zip(vals, df["p_floor"])]
        else:
            out[head] = [f(v) for v in vals] if f is not None else [str(v) for v in vals]
        # a value that cannot be computed is a dash in a table (never "NA")
        out[head] = ["–" if c == fmt.NA else c for c in out[head]]
    return pipe_table(pd.DataFrame(out), caption=caption, label=label)


def importance_table(imp: pd.DataFrame) -> Markdown:
    """Attribute importance: τ-b, 95% CI, the Mantel p of record, the study's bootstrap share."""
    d = imp.sort_values("estimate", ascending=False)
    mantel = "p_value"
    # no CI column where the space has no raters to resample (a column of dashes otherwise)
    has_ci = "conf_low" in d and d["conf_low"].notna().any()
    cols = ["attribute", "estimate", *(["ci"] if has_ci else []), mantel]
    heads = {"attribute": "Attribute", "estimate": "τ-b", mantel: "p (Mantel)"}
    forms = {"estimate": lambda x: fmt.fmt_stat(x, 3, bounded=True)}
    if "boot_share_le0" in d:
        cols.append("boot_share_le0")
        heads["boot_share_le0"] = "Share τ ≤ 0 (study)"
        forms["boot_share_le0"] = lambda p: p_text(p, .05, None)
    return apa_table(d, cols, headers=heads, formats=forms, ci_digits=3, ci_bounded=True)


def drop_table(d: pd.DataFrame, key: str) -> Markdown:
    """Per-concept or per-attribute masking rows: extra drop (points) with the study's t and
    q's and the sign-flip p. ``key`` is ``concept`` or ``attribute``."""
    d = d.assign(drop=extra_drop(d)).sort_values("drop", ascending=False)
    cols = [key, "drop", "statistic", "df", "p_value", "q_value", "q_value_bh"]
    if "p_value_perm" in d and d["p_value_perm"].notna().any():
        cols.append("p_value_perm")
    t_head = "t"
    return apa_table(d, cols, headers={key: key.capitalize(), "drop": "Extra drop (points)",
                                       "statistic": t_head, "p_value": "p (t)"},
                     formats={"drop": points})


def link_table(link: pd.DataFrame, claims: pd.DataFrame | None = None) -> Markdown:
    """The drop–importance link per k and test (long form), or the study's t per k: each test
    named in prose, its role (of record, the study's, supporting) and the headline k from the
    run's ``claims`` rows (the link table's own ``role`` without them), the statistic written
    with its symbol (``t(26) = 2.10``, ``mean z = 0.31``) and p never below its floor."""
    d = link.sort_values("k")
    r3 = (lambda x: fmt.fmt_stat(x, 3, bounded=True))
    if "test" not in d:
        return apa_table(d, ["k", "estimate", "ci", "statistic", "df", "p_value"],
                         headers={"estimate": "mean r", "statistic": "t"},
                         formats={"estimate": r3}, ci_digits=3, ci_bounded=True)
    roles, heads = _link_roles(d, claims)
    floors = d["p_floor"] if "p_floor" in d else pd.Series(float("nan"), index=d.index)
    d = d.assign(
        k=[k_text(k) + (" (headline)" if k in heads else "") for k in d["k"]],
        test=[test_name(t) for t in d["test"]], role=roles,
        statistic=[_stat_cell(r) for _, r in d.iterrows()],
        p_value=[fmt.fmt_p_floor(p, None if missing(f) else f, None, name=None)
                 for p, f in zip(d["p_value"], floors)])
    return apa_table(d, ["k", "test", "role", "estimate", "ci", "statistic", "p_value"],
                     headers={"k": "k", "test": "Test", "role": "Role", "estimate": "r",
                              "statistic": "Statistic", "p_value": "p"},
                     formats={"estimate": r3, "k": str, "test": str, "role": str,
                              "statistic": str, "p_value": str}, ci_digits=3, ci_bounded=True)


ROLE_WORDS = {"record": "of record", "study": "the study's", "supporting": "supporting",
              "extra": "supporting"}


def _link_roles(d: pd.DataFrame, claims: pd.DataFrame | None) -> tuple[list, set]:
    """Each row's role and the headline k, from the claims rows of the link (same task)."""
    c = None if claims is None else claims[claims["claim"] == "link"]
    if c is not None and "task" in d and d["task"].notna().any() and c["task"].notna().any():
        c = c[c["task"].isin(set(d["task"]))]
    if c is None or not len(c):
        own = d["role"] if "role" in d else pd.Series("", index=d.index)
        return [ROLE_WORDS.get(str(x), str(x)) for x in own], set()
    role = {(int(k), t): r for k, t, r in zip(c["k"], c["test"], c["role"]) if not missing(k)}
    heads = {int(k) for k, h in zip(c["k"], c["headline"]) if not missing(k) and bool(h)}
    return [ROLE_WORDS.get(role.get((int(k), t), ""), "–") for k, t in zip(d["k"], d["test"])
            ], heads


def _stat_cell(r) -> str:
    """The statistic the row's p comes from, with its symbol: t with its df, the mean Fisher z
    of a permutation test; "–" where the p is a permutation p of r (its t has another p)."""
    how = str(r.get("p_method", "")).lower()
    if missing(r.get("statistic")) or (not missing(r.get("df")) and "permutation" in how):
        return "–"
    if not missing(r.get("df")):
        return f"t({fmt.fmt_df(r['df'])}) = {fmt.fmt_num(r['statistic'], 2)}"
    if "fisher-z" in how:
        return f"mean z = {fmt.fmt_num(r['statistic'], 2)}"
    return fmt.fmt_num(r["statistic"], 2)


def agreement_table(ranks: pd.DataFrame) -> Markdown:
    """Per attribute: Spearman ρ, share of identical ranks, top-k overlap."""
    k = int(ranks["top_k"].iloc[0])
    return apa_table(ranks, ["attribute", "spearman", "identical_share", "top_k_overlap"],
                     headers={"attribute": "Attribute", "spearman": "Spearman ρ",
                              "identical_share": "Identical ranks",
                              "top_k_overlap": f"Top-{k:,} overlap"},
                     formats={"spearman": lambda x: fmt.fmt_stat(x, 4, bounded=True),
                              "identical_share": lambda x: fmt.fmt_pct(x, 1),
                              "top_k_overlap": lambda x: fmt.fmt_num(x, 0, big_mark=",")})


def null_table(vs: pd.DataFrame, k: int | None = None) -> Markdown:
    """Attribute masks against the random-mask population at k (one task): drop against no
    manipulation, the random masks' mean, the extra drop (``estimate``), its t, df, p, BH q
    and rank p (points)."""
    k = headline_k(vs["k"]) if k is None else k
    d = vs[vs["k"] == k]
    d = d.assign(drop=d["drop_attribute"] if "drop_attribute" in d else
                 d["estimate"] + d["null_mean"], null=d["null_mean"], extra=d["estimate"])
    cols = ["attribute", "drop", "null", "extra", "statistic", "df", "p_value", "q_value_bh",
            "p_value_perm"]
    d = d.sort_values("p_value")
    return apa_table(d, [c for c in cols if c in d or c in ("drop", "null", "extra")],
                     headers={"attribute": "Attribute", "drop": "Attribute mask",
                              "null": "Random masks (mean)", "extra": "Extra drop",
                              "p_value_perm": "p (rank)", "statistic": "t"},
                     formats={"drop": points, "null": points, "extra": points})


def count_null_table(cn: pd.DataFrame, alpha: float = .05) -> Markdown:
    """Observed neuron counts per attribute against their permutation null (wide by count);
    ``alpha``: the run's (p's never round across it)."""
    kinds = list(dict.fromkeys(cn["count"])) if "count" in cn else ["selective"]
    attrs = order(cn["attribute"])
    cols = [("Attribute", attrs)]
    for kind in kinds:
        d = (cn[cn["count"] == kind] if "count" in cn else cn).set_index("attribute").reindex(attrs)
        obs = d["statistic"] if "statistic" in d else d["estimate"]
        sd = d["null_sd"] if "null_sd" in d else pd.Series(np.nan, index=d.index)
        cols += [(kind.capitalize(), [fmt.fmt_num(x, 0, big_mark=",") for x in obs]),
                 (f"null ({kind})", [f"{fmt.fmt_num(m, 1, ',')} ± {fmt.fmt_num(v, 1, ',')}"
                                     if np.isfinite(v) else fmt.fmt_num(m, 1, ",")
                                     for m, v in zip(d["null_mean"], sd)]),
                 (f"p ({kind})", [p_text(p, alpha, None) for p in d["p_value"]])]
    return pipe_table(pd.DataFrame(dict(cols)))


def max_t_table(mt: pd.DataFrame, alpha: float = .05) -> Markdown:
    """Per attribute the best neuron's tau and its selection-safe p's (``neuron_max_t``): max-T
    over that attribute's neurons (Holm over attributes), the joint max-T over all neurons x
    attributes with its Monte-Carlo interval, and the min-P over attributes when present.
    ``alpha``: the run's (the claims table's); p's never round across it."""
    d = mt.set_index("attribute").reindex(order(mt["attribute"]))
    cols = {"Attribute": list(d.index), "Best τ": [fmt.fmt_num(x, 3) for x in d["estimate"]],
            "Layer": [fmt.fmt_int(x) for x in d["layer"]],
            f"n (p ≤ {alpha:g})".replace("0.", "."): [fmt.fmt_int(x)
                                                      for x in d["n_above_joint"]],
            "p Holm": [p_text(p, alpha, None) for p in d["p_adjusted"]],
            "p joint": [p_text(p, alpha, None) for p in d["p_fwer_joint"]],
            "MC 95%": [f"[{fmt.fmt_num(lo, 3)}, {fmt.fmt_num(hi, 3)}]"
                       if np.isfinite(lo) and np.isfinite(hi) else "exact"
                       for lo, hi in zip(d["p_fwer_joint_mc_low"], d["p_fwer_joint_mc_high"])]}
    if "p_minp_joint" in d and d["p_minp_joint"].notna().any():
        cols["p min-P"] = [p_text(p, alpha, None) for p in d["p_minp_joint"]]
    return pipe_table(pd.DataFrame(cols))
