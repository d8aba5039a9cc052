"""The design section of the reports: where the run sits in its design table, and each test's
floor and detectable effect (issue 24). Reads the ``design`` and ``claims`` tables only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.report.findings import TITLES
from emostat.report.tables import pipe_table
from emostat.report.view import Markdown, k_text, listing, missing

# the tests of the design table, in the order the report shows them
TESTS = {"above_chance": "Above chance (record)", "masking": "Masking (record)",
         "link": "Drop–importance link (record)",
         "attribute_vs_null": "Attribute mask vs random masks (per attribute)",
         "attribute_vs_null_rank": "Rank among the random masks (per attribute, no verdict)"}
DESIGNS = ("this run", "default", "before", "quick", "best here")


def _at(design: pd.DataFrame | None, task, k) -> pd.DataFrame | None:
    if design is None or not len(design):
        return None
    d = design
    if task is not None and "task" in d and (d["task"] == task).any():
        d = d[d["task"] == task]
    if k is not None and (d["k"] == k).any():
        d = d[d["k"] == k]
    else:
        d = d[d["k"] == d["k"].max()]
    return d


def detectable_text(r) -> str:
    """A detectable effect in its scale: accuracy %, log-odds (and points), r."""
    d = r["detectable"]
    if missing(d):
        return "none (cannot reach alpha)" if r["role"] != "no verdict" else "–"
    if r["scale"] == "proportion":
        return f"accuracy {fmt.fmt_pct(d, 1)}"
    if r["scale"] == "r":
        return f"r = {fmt.fmt_stat(d, 3, bounded=True)}"
    pts = r.get("detectable_points")
    return (f"{fmt.fmt_num(d, 2)} log-odds"
            + (f" ({fmt.fmt_num(pts, 1)} points)" if not missing(pts) else ""))


def _floor(x) -> str:
    if missing(x):
        return "–"
    return "0 (analytic)" if float(x) == 0 else fmt.fmt_p(float(x), None, 4).replace("p ", "")


def design_rows(design: pd.DataFrame | None, task=None, k=None) -> pd.DataFrame:
    """One row per labelled design of the run's design table (this run, default, before,
    quick, best here)."""
    d = _at(design, task, k)
    if d is None:
        return pd.DataFrame()
    lab = d["label"].fillna("")
    keep = lab.map(lambda s: any(x in s.split(", ") for x in DESIGNS))
    return d[keep]


def design_table(design: pd.DataFrame | None, task=None, k=None) -> Markdown:
    """The labelled designs side by side: size, cost and each test's detectable effect."""
    d = design_rows(design, task, k)
    if not len(d):
        return Markdown("")
    key = ["label", "items_per_concept", "n_attribute_masks", "n_random_masks"]
    out = []
    for (lab, ipc, a, r), g in d.groupby(key, sort=False):
        t = g.set_index("test")
        first = g.iloc[0]
        cell = {"Design": lab, "Items": f"{fmt.fmt_int(first['n_items'])} ({fmt.fmt_int(ipc)}"
                                          "/concept)",
                "Masks (attr. + random)": f"{fmt.fmt_int(a)} + {fmt.fmt_int(r)}",
                # one column for the cost: ten columns overlapped in the PDF
                "Rows (GFLOP)": fmt.fmt_num(first["rows"], 0, big_mark=",") + (
                    "" if missing(first["gflop"])
                    else f" ({fmt.fmt_num(first['gflop'], 0, big_mark=',')})")}
        for test, name in (("masking", "Masking"), ("attribute_vs_null", "Per attribute"),
                           ("link", "Link"), ("above_chance", "Chance test")):
            cell[name] = detectable_text(t.loc[test]) if test in t.index else "–"
        cell["Decides all"] = "yes" if bool(first["feasible"]) else "no"
        out.append(cell)
    return pipe_table(pd.DataFrame(out))


def critical_values(max_t: pd.DataFrame | None) -> dict:
    """Claim -> the smallest estimate that can reject, where a results table has it: the
    neuron claim's joint max-T null quantile at 1 - alpha (``joint_null_q95``)."""
    if max_t is None or "joint_null_q95" not in max_t or not max_t["joint_null_q95"].notna().any():
        return {}
    q = float(max_t["joint_null_q95"].dropna().iloc[0])
    return {"neurons": f"a best τ above {fmt.fmt_stat(q, 3, bounded=True)} (the joint "
                       "permutation maximum's 1 − alpha quantile) rejects"}


def floors_table(design: pd.DataFrame | None, claims: pd.DataFrame | None, task=None,
                 k=None, critical: dict | None = None) -> Markdown:
    """This run's tests: each test of record (claims) and the per-attribute verdict with its
    smallest attainable p after its correction, the alpha it is judged at and the detectable
    effect at 80% power (from the design table where the design sets it; ``critical``: claim
    -> the smallest estimate that rejects, for tests the design does not set)."""
    rows = []
    d = design_rows(design, task, k)
    run = d[d["label"].str.split(", ").map(lambda x: "this run" in x)] if len(d) else d
    for _, r in (run.iterrows() if len(run) else []):
        rows.append({"Test": TESTS.get(r["test"], r["test"]), "Floor": _floor(r["p_floor"]),
                     "Judged at": fmt.fmt_p(r["alpha_corrected"], None, 4).replace("p ", ""),
                     "Detectable (80% power)": detectable_text(r),
                     "Can decide": "yes" if r["can_decide"] else "no"})
    shown = set(TESTS) & set(run["test"]) if len(run) else set()
    if claims is not None and len(claims):
        c = claims[(claims["role"] == "record") & claims["headline"].astype(bool)]
        for _, r in c.iterrows():
            if r["claim"] in shown or (r["claim"] == "above_chance" and "above_chance" in shown):
                continue
            a = r.get("alpha")
            name = TITLES.get(str(r["claim"]), str(r["claim"]).replace("_", " "))
            rows.append({"Test": f"{name} (record)",
                         "Floor": _floor(r.get("p_floor")),
                         "Judged at": "–" if missing(a) else fmt.fmt_p(a, None, 4)
                         .replace("p ", ""),
                         "Detectable (80% power)": (critical or {}).get(
                             r["claim"], "not set by the masking design"),
                         "Can decide": ("no" if str(r["decision"]) == "too coarse to decide"
                                        and "smallest attainable" in str(r["reason"])
                                        else "yes")})
    return pipe_table(pd.DataFrame(rows)) if rows else Markdown("")


def design_sentence(design: pd.DataFrame | None, task=None, k=None) -> Markdown:
    """Where this run sits in its design table, and what the chosen default costs."""
    d = design_rows(design, task, k)
    if not len(d):
        return Markdown("")
    first = d.iloc[0]

    def pick(name):
        g = d[d["label"].str.split(", ").map(lambda x: name in x)]
        return g.set_index("test") if len(g) else None

    run, best, before = pick("this run"), pick("best here"), pick("before")
    comp = (f"item variance {fmt.fmt_num(first['var_item'], 2)}, attribute-mask variance "
            f"{fmt.fmt_num(first['var_mask_attribute'], 2)}, random-mask variance "
            f"{fmt.fmt_num(first['var_mask_random'], 2)} (log-odds², the record GLMM at k = "
            f"{k_text(first['k'])})")
    out = [f"The design table is computed from this run's own variance components ({comp}), "
           "in closed form (docs/inference.md)."]
    if run is not None:
        m = run.iloc[0]
        out.append(f"This run: {fmt.fmt_int(m['n_items'])} items × "
                   f"{fmt.fmt_int(m['n_attribute_masks'])} attribute masks × "
                   f"{fmt.fmt_int(m['n_random_masks'])} random masks, "
                   f"{fmt.fmt_num(m['rows'], 0, big_mark=',')} rows; its masking test detects "
                   f"{detectable_text(run.loc['masking'])} with 80% power.")
    if best is not None:
        b = best.iloc[0]
        where = ("this run's own design" if run is not None and
                 tuple(b[["items_per_concept", "n_random_masks"]]) ==
                 tuple(run.iloc[0][["items_per_concept", "n_random_masks"]]) else
                 f"{fmt.fmt_int(b['items_per_concept'])} items per concept and "
                 f"{fmt.fmt_int(b['n_random_masks'])} random masks "
                 f"({fmt.fmt_num(b['rows'], 0, big_mark=',')} rows)")
        out.append("With these components the design with the most record information per "
                   f"GFLOP that can decide every test and detects no less than the design "
                   f"before (all stimuli, 20 random masks) is {where}.")
    elif before is not None:
        out.append("No candidate design can decide every test while detecting no less than "
                   "the design before (all stimuli, 20 random masks).")
    return Markdown(" ".join(out))


def quick_sentence(design: pd.DataFrame | None, task=None, k=None) -> Markdown:
    """What the quick profile's design could and could not decide with this run's components."""
    d = design_rows(design, task, k)
    if not len(d):
        return Markdown("")
    q = d[d["label"].str.split(", ").map(lambda x: "quick" in x)]
    if not len(q):
        return Markdown("")
    yes = [TESTS[t].split(" (")[0] for t in q.loc[q["can_decide"], "test"] if t in TESTS
           and q.set_index("test").loc[t, "role"] != "no verdict"]
    no = [TESTS[t].split(" (")[0] for t in q.loc[~q["can_decide"], "test"] if t in TESTS]
    m = q.iloc[0]
    mask = q.set_index("test").loc["masking"] if "masking" in set(q["test"]) else None
    det = ("" if mask is None or missing(mask["detectable"]) else
           f"; its masking test detects only {detectable_text(mask)}")
    return Markdown(
        f"The quick profile ({fmt.fmt_int(m['n_items'])} items, "
        f"{fmt.fmt_int(m['n_attribute_masks'])} attribute and {fmt.fmt_int(m['n_random_masks'])} "
        f"random masks, {fmt.fmt_num(m['rows'], 0, big_mark=',')} rows) can reach alpha on "
        f"{listing(yes) if yes else 'no test'}{det}; it cannot decide "
        f"{listing(no) if no else 'nothing'}.")


def any_design(design) -> bool:
    return design is not None and len(design) and np.isfinite(design["rows"]).any()


def verdict_note(design: pd.DataFrame | None, task=None, k=None) -> Markdown:
    """The per-attribute verdict's test, floor and detectable effect (this run's design)."""
    d = design_rows(design, task, k)
    run = d[d["label"].str.split(", ").map(lambda x: "this run" in x)] if len(d) else d
    if not len(run):
        return Markdown("")
    t = run.set_index("test")
    if "attribute_vs_null" not in t.index:
        return Markdown("")
    v, rank = t.loc["attribute_vs_null"], t.loc["attribute_vs_null_rank"]
    m = int(v["n_attribute_masks"] * v["n_k"])
    return Markdown(
        "The verdict per attribute is Crawford & Howell's (1998) modified t of the attribute "
        f"mask against the {fmt.fmt_int(v['n_random_masks'])} random masks (a prediction "
        "interval; its smallest p does not depend on the number of masks), Benjamini–Hochberg "
        f"over the {m} attribute masks × k: alone, an attribute is judged at "
        f"{fmt.fmt_p(v['alpha_corrected'], None, 4).replace('p ', '')}, and an extra drop of "
        f"{detectable_text(v)} is detected with 80% power. The rank among the random masks "
        f"is shown beside it without a verdict: its floor after the same correction is "
        f"{_floor(rank['p_floor'])}"
        + (" (too coarse to decide)." if not rank["can_decide"] else "."))
