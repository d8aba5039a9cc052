"""Sentences of the reports, built from results tables (every number formatted by
:mod:`emostat.format`, none typed by hand).

Each sentence states a result from the result and its test: direction, size, CI and the p of
record (docs/inference.md), worded by the decision ("lowers ... more" only when the test of
record says so). A statistic that cannot be computed gets a reason, never "NA". Each function
returns a Markdown string, empty when its table is absent (the report then leaves the section
out and says so once, in the method: :func:`left_out_line`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.report.figures import headline_k
from emostat.report.tables import Markdown

ALPHA_MASKING = 0.05  # the study's q < .05 for the masking tables
ALPHA_NEURON = 0.01   # the study's q < .01 for the searchlight


def pts(x, digits: int = 1) -> str:
    """A proportion difference as percentage points (``.081`` → ``8.1``)."""
    return fmt.fmt_num(100 * float(x), digits)


def listing(items) -> str:
    """``a, b and c``."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# Which task the single-task sections of the experiment report show, in order of preference:
# 27-way choice is the richer inference test (and the one above chance on small models);
# the study's binary task comes next. Tables without a task column are used as they are.
PRIMARY_TASKS = ("choice", "binary", "generate")


# tasks found not interpretable (at chance) by the run's task_chance table: see use_tasks
_NOT_INTERPRETABLE: set = set()


def use_tasks(chance: pd.DataFrame | None) -> None:
    """Remember which tasks ``task_chance`` marks not interpretable, so that the single-task
    sections never show one of them when an interpretable task exists."""
    _NOT_INTERPRETABLE.clear()
    if chance is not None and "interpretable" in chance:
        _NOT_INTERPRETABLE.update(chance.loc[~chance["interpretable"].astype(bool), "task"])


def primary_task(df: pd.DataFrame) -> str:
    """The task the report's single-task sections show: the first interpretable task in
    ``PRIMARY_TASKS`` order (see :func:`use_tasks`)."""
    present = list(dict.fromkeys(df["task"]))
    ok = [t for t in present if t not in _NOT_INTERPRETABLE] or present
    return next((t for t in PRIMARY_TASKS if t in ok), ok[0])


def task_choice_line(base: pd.DataFrame | None, chance: pd.DataFrame | None) -> Markdown:
    """Which task the single-task sections show and why; every task run is named."""
    tasks = list(dict.fromkeys(base["task"])) if base is not None and "task" in base else []
    if len(tasks) < 2:
        return Markdown("")
    shown = primary_task(base)
    others = [t for t in tasks if t != shown]
    why = ("the first interpretable task in the order choice, binary, generate"
           if chance is not None else "the first in the order choice, binary, generate")
    return Markdown(f"Tasks run: {listing(tasks)}. The masking sections show the {shown} task "
                    f"({why}); baseline accuracy covers all of them, and the "
                    f"{listing(others)} task{'s' if len(others) > 1 else ''} "
                    f"{'are' if len(others) > 1 else 'is'} in the results tables.")


def task_view(df: pd.DataFrame | None, task: str | None = None) -> pd.DataFrame | None:
    """Rows of one task when the table has a ``task`` column (default: :func:`primary_task`)."""
    if df is None or "task" not in df:
        return df
    task = primary_task(df) if task is None else task
    return df[df["task"] == task]


# ---------------------------------------------------------------------------------------------
# reading the contract's columns (docs/inference.md), tolerant of tables written before it


def extra_drop(df: pd.DataFrame) -> pd.Series:
    """The extra accuracy drop of a mask over its comparison (positive = the mask hurts more).

    Tables following docs/inference.md (they carry ``p_method``) store it as ``estimate``;
    older tables stored ``attribute − random`` (the study's ACC.diff), i.e. its negative.
    """
    est = df["estimate"].astype(float)
    return est if "p_method" in df else -est


def extra_drop_ci(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """``(low, high)`` of :func:`extra_drop` (bounds swap for the older sign)."""
    lo, hi = df["conf_low"].astype(float), df["conf_high"].astype(float)
    return (lo, hi) if "p_method" in df else (-hi, -lo)


def rows(df: pd.DataFrame | None, role: str | None = None, test: str | None = None):
    """Rows of one ``role`` and/or ``test`` (all rows when the table has no such column)."""
    if df is None:
        return None
    if role is not None and "role" in df:
        df = df[df["role"] == role]
    if test is not None and "test" in df:
        df = df[df["test"] == test]
    return df


def missing(x) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)) or (
        isinstance(x, float) and np.isnan(x))


def reason(row, default: str = "it cannot be computed from this run's data") -> str:
    """Why a statistic is missing: the row's ``message`` when it has one, else a reason read
    from what is there (no spread → no variance; too few units)."""
    msg = getattr(row, "message", None)
    if isinstance(msg, str) and msg.strip():
        return msg.strip().rstrip(".")
    n = getattr(row, "n", None)
    if not missing(n) and n is not None and float(n) < 2:
        return "fewer than two units: no variance"
    se = getattr(row, "std_error", None)
    if se is not None and (missing(se) or float(se) == 0) and not missing(
            getattr(row, "estimate", None)):
        if not missing(n) and n is not None:
            return f"its {int(n)} paired differences are all equal: no variance"
        return "the values do not vary between units: no variance"
    return default


def p_of(row, col: str = "p_value") -> str:
    """``p = .023`` with the row's ``p_method`` in words where present."""
    p = getattr(row, col, None)
    return fmt.fmt_p(p)


def method_of(row) -> str:
    m = getattr(row, "p_method", None)
    return str(m) if isinstance(m, str) and m.strip() else ""


def k_text(k) -> str:
    return fmt.fmt_num(k, 0, big_mark=",")


def count_phrase(n: int, total: int, unit: str) -> str:
    """``none of the 27 emotions``, ``all 14 attributes``, ``3 of 27 emotions``."""
    if n == 0:
        return f"none of the {total} {unit}"
    if n == total:
        return f"all {total} {unit}" if total > 2 else f"both {unit}" if total == 2 else \
            f"the one {unit.rstrip('s')}"
    return f"{n} of {total} {unit}"


def short_list(names, limit: int = 8, rest: str = "others") -> str:
    names = list(names)
    if len(names) <= limit:
        return listing(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} {rest}"


# ---------------------------------------------------------------------------------------------
# sentences (each returns "" when its table is absent: the section is left out)


def importance_sentence(imp: pd.DataFrame | None) -> Markdown:
    """Top attributes of the human space; how many pass the Mantel test (the p of record),
    with the study's bootstrap share beside it when present."""
    if imp is None:
        return Markdown("")
    d = imp.sort_values("estimate", ascending=False)
    top = [f"{r.attribute} (τ = {fmt.fmt_stat(r.estimate, 3, bounded=True)}, 95% CI "
           f"{fmt.fmt_ci(r.conf_low, r.conf_high, 3, bounded=True)})"
           if not (missing(r.conf_low) or missing(r.conf_high)) else
           f"{r.attribute} (τ = {fmt.fmt_stat(r.estimate, 3, bounded=True)})"
           for r in d.head(3).itertuples()]
    out = f"The attributes that best match the human dissimilarity space are {listing(top)}."
    # p of record: Mantel (label permutation); older tables kept it in p_value_mantel
    pcol = "p_value_mantel" if "p_value_mantel" in d and "boot_share_le0" not in d \
        else "p_value"
    if pcol in d and d[pcol].notna().any():
        sig = d[d[pcol] < .05]
        nonsig = d[~(d[pcol] < .05)]["attribute"]
        out += (f" {count_phrase(len(sig), len(d), 'attributes').capitalize()} match it "
                f"better than relabelled emotions do (Mantel permutation p < .05)"
                + (f"; not {short_list(nonsig)}." if 0 < len(nonsig) < len(d) else "."))
    if "boot_share_le0" in d and d["boot_share_le0"].notna().any():
        n_study = int((d["boot_share_le0"] < .05).sum())
        out += (f" By the study's criterion (share of participant-bootstrap τ ≤ 0 below .05) "
                f"{count_phrase(n_study, len(d), 'attributes')} would count as important.")
    return Markdown(out)


def searchlight_sentence(counts: pd.DataFrame | None, rsa_n: int | None = None,
                         count_null: pd.DataFrame | None = None) -> Markdown:
    """Significant neurons per attribute (study rule and BH), and against the permutation
    null of the count when that table exists."""
    if counts is None:
        return Markdown("")
    d = counts.sort_values("n_significant", ascending=False)
    most, least = d.iloc[0], d.iloc[-1]
    total = f" of {fmt.fmt_num(rsa_n, 0, big_mark=',')} neurons" if rsa_n else ""
    out = (f"By the study's rule (q = p·N/rank(p) < .01 over all neuron × attribute tests, "
           f"asymptotic Kendall p), {most.attribute} has the most significant neurons "
           f"({fmt.fmt_num(most.n_significant, 0, big_mark=',')}{total}) and "
           f"{least.attribute} the fewest ({fmt.fmt_num(least.n_significant, 0, big_mark=',')})."
           f" With the Benjamini–Hochberg step-up at the same level the counts range from "
           f"{fmt.fmt_num(d['n_significant_bh'].min(), 0, big_mark=',')} to "
           f"{fmt.fmt_num(d['n_significant_bh'].max(), 0, big_mark=',')}.")
    if count_null is not None and "p_value" in count_null:
        bits = []
        kinds = (list(dict.fromkeys(count_null["count"])) if "count" in count_null
                 else ["selective"])
        for kind in kinds:
            c = count_null[count_null["count"] == kind] if "count" in count_null else count_null
            sig = c[c["p_value"] < .05]["attribute"]
            bits.append(f"{count_phrase(len(sig), len(c), 'attributes')} have more {kind} "
                        f"neurons than relabelled emotions give"
                        + (f" ({short_list(sig)})" if 0 < len(sig) < len(c) else ""))
        n = count_null["n_perm"].max() if "n_perm" in count_null else None
        floor = 1 / (n + 1) if n else None
        if floor is not None and floor >= .05:
            out += (f" The permutation null of these counts (all attribute RDMs relabelled "
                    f"together, the test of record) was run with {fmt.fmt_num(n, 0)} "
                    f"permutations: its smallest attainable p is {fmt.fmt_p(floor, None)}, too "
                    f"coarse to test at p < .05, so it neither confirms nor rejects the counts "
                    f"(observed counts beside the null means in the table below).")
        else:
            tail = (f"; with {fmt.fmt_num(n, 0, big_mark=',')} permutations no p can fall "
                    f"below {fmt.fmt_p(floor, None)}" if n else "")
            out += (" Against the permutation null of these counts (all attribute RDMs "
                    "relabelled together, the test of record), " + "; ".join(bits)
                    + f" (p < .05{tail}).")
    return Markdown(out)


def _range(lo, hi) -> str:
    lo, hi = fmt.fmt_num(lo, 0, big_mark=","), fmt.fmt_num(hi, 0, big_mark=",")
    return lo if lo == hi else f"{lo}–{hi}"


def neuron_mantel_sentence(nm: pd.DataFrame | None) -> Markdown:
    """Chosen neurons tested one by one with emotion-label permutations, beside the study's
    asymptotic p."""
    if nm is None or nm.empty:
        return Markdown("")
    n = len(nm)
    per = nm.groupby("attribute")["neuron"].nunique()
    sig = int((nm["p_value"] < .05).sum())
    asym = int((nm["p_asymptotic"] < .05).sum()) if "p_asymptotic" in nm else None
    np_ = nm["n_perm"].max() if "n_perm" in nm else None
    out = (f"Tested one by one by permuting the emotion labels ({fmt.fmt_num(np_, 0, big_mark=',')}"
           f" permutations), "
           + (f"all {fmt.fmt_num(n, 0, big_mark=',')}" if sig == n else
              f"{fmt.fmt_num(sig, 0, big_mark=',')} of the {fmt.fmt_num(n, 0, big_mark=',')}")
           + f" chosen neuron × attribute pairs "
           f"({_range(per.min(), per.max())} per attribute) have p < .05" if np_ else
           f"Tested one by one by permuting the emotion labels, {sig} of the {n} chosen neuron "
           f"× attribute pairs have p < .05")
    if asym is not None:
        out += (f"; the study's asymptotic p, which treats the 351 emotion pairs as independent, "
                f"is below .05 for {fmt.fmt_num(asym, 0, big_mark=',')}")
    return Markdown(out + ".")


def masking_sentence(by_emotion: pd.DataFrame | None, k: int | None = None,
                     n_top: int = 3) -> Markdown:
    """Grand means and the per-emotion paired t-tests (the study's test) at k."""
    if by_emotion is None:
        return Markdown("")
    k = headline_k(by_emotion["k"]) if k is None else k
    d = by_emotion[by_emotion["k"] == k].assign(drop=lambda x: extra_drop(x))
    d = d.sort_values("drop", ascending=False)
    means = ""
    if {"acc_none", "acc_random", "acc_attribute"} <= set(d.columns):
        means = (f"Averaged over emotions, accuracy is {fmt.fmt_pct(d['acc_none'].mean(), 2)} "
                 f"without manipulation, {fmt.fmt_pct(d['acc_random'].mean(), 2)} with random "
                 f"masking and {fmt.fmt_pct(d['acc_attribute'].mean(), 2)} with "
                 f"attribute-specific masking (k = {k_text(k)}). ")
    ok = d[d["p_value"].notna()]
    if ok.empty:
        return Markdown(means + f"The per-emotion paired t-tests cannot be computed: "
                        f"{reason(d.iloc[0])}.")
    sig = ok[(ok["q_value"] < ALPHA_MASKING) & (ok["drop"] > 0)]
    nonsig = ok[~ok.index.isin(sig.index)]["emotion"]
    n_ok = len(ok)
    out = means + (f"Attribute-specific masking lowers accuracy significantly more than random "
                   f"masking for {count_phrase(len(sig), n_ok, 'emotions')} (one-sided paired "
                   f"t per emotion, the study's q < .05)")
    if len(sig):
        largest = [f"{r.emotion} {pts(r.drop)} points ({fmt.apa_t(r.statistic, r.df, r.p_value)})"
                   for r in sig.head(n_top).itertuples()]
        out += f"; the largest: {listing(largest)}"
        if 0 < len(nonsig) <= 10:
            out += f". Not significant: {listing(nonsig)}"
    out += "."
    if len(ok) < len(d):
        bad = d[d["p_value"].isna()]
        out += (f" For the other {len(bad)} emotions the test cannot be computed (e.g. "
                f"{bad.iloc[0].emotion}: {reason(bad.iloc[0])}).")
    return Markdown(out)


def _mixed_fixed(mm: pd.DataFrame, k) -> pd.DataFrame:
    d = mm[mm["k"] == k] if "k" in mm else mm
    if "effect" in d:
        d = d[d["effect"].isin(["fixed", None]) | d["effect"].isna()]
    return d[d["term"].isin(["attribute_vs_random", "conditionattribute"])]


def mixed_sentence(mm: pd.DataFrame | None, k: int | None = None) -> Markdown:
    """The design-correct masking test (mixed model of record) at k, worded by its decision."""
    if mm is None:
        return Markdown("")
    k = headline_k(mm["k"]) if k is None and "k" in mm else k
    d = _mixed_fixed(mm, k)
    if d.empty:
        return Markdown("")
    rec = rows(d, role="record")
    r = (rec if rec is not None and len(rec) else d).iloc[0]
    model = getattr(r, "model", None)
    role = getattr(r, "role", None)
    what = ("the mixed model of record" if role == "record" else "the mixed model") + (
        f" ({model})" if isinstance(model, str) and model not in ("record", "study") else "")
    status = getattr(r, "status", "ok")
    if status == "failed" or missing(r.estimate):
        return Markdown(f"At k = {k_text(k)}, {what} gives no estimate: {reason(r, 'the fit failed')}.")
    new_sign = r.term == "attribute_vs_random"   # the contract's term; older: conditionattribute
    drop = float(r.estimate) if new_sign else -float(r.estimate)
    stat = float(r.statistic) if new_sign else -float(r.statistic)
    # a binomial GLMM's contrast is in log-odds, an LMM of accuracy's in proportions
    log_odds = getattr(r, "family", "gaussian") == "binomial"
    scale = (lambda x: float(x)) if log_odds else (lambda x: 100 * float(x))
    ci = ""
    if "conf_low" in d and not missing(getattr(r, "conf_low", None)):
        lo, hi = (r.conf_low, r.conf_high) if new_sign else (-r.conf_high, -r.conf_low)
        ci = f", 95% CI {fmt.fmt_ci(scale(lo), scale(hi), 2 if log_odds else 1)}"
    test = (fmt.apa_t(stat, r.df, r.p_value) if not missing(getattr(r, "df", None))
            else fmt.apa_z(stat, r.p_value))
    sig = not missing(r.p_value) and r.p_value < .05
    if sig and drop > 0:
        verdict = "lowers accuracy more than masking random neurons"
    elif sig:
        verdict = "lowers accuracy less than masking random neurons"
    else:
        verdict = "does not lower accuracy detectably more than masking random neurons"
    out = (f"At k = {k_text(k)}, by {what}, masking attribute-specific neurons {verdict}: "
           + (f"extra drop {fmt.fmt_num(drop, 2)} in log-odds of a correct answer (odds "
              f"x {fmt.fmt_num(float(np.exp(-drop)), 2)} under attribute masks){ci}, {test}."
              if log_odds else f"extra drop {pts(drop)} points{ci}, {test}."))
    if status == "singular":
        out += f" The fit was singular: {reason(r, 'a variance component is zero')}."
    return Markdown(out)


def link_sentence(link: pd.DataFrame | None, k: int | None = None,
                  n_attributes: int | None = None) -> Markdown:
    """Drop–importance link at k: the design-correct test decides the wording; the study's
    t over emotions is given beside it."""
    if link is None:
        return Markdown("")
    k = headline_k(link["k"]) if k is None else k
    at = link[link["k"] == k]
    rec = rows(at, role="record")
    perm = rows(at, test="attribute_permutation")
    r = (perm if perm is not None and len(perm) and "test" in at else
         rec if rec is not None and len(rec) else at).iloc[0]
    study = rows(at, test="study_t") if "test" in at else at
    kt = k_text(k)
    if missing(r.estimate):
        why = (f"only {n_attributes} attribute{'s were' if n_attributes != 1 else ' was'} "
               f"masked, and a correlation over attributes needs at least 3"
               if n_attributes is not None and n_attributes < 3 else reason(r))
        return Markdown(f"At k = {kt} the correlation between drop and importance cannot be "
                        f"computed: {why}.")
    src = r
    if missing(getattr(r, "conf_low", None)) and study is not None and len(study) and \
            abs(float(study.iloc[0].estimate) - float(r.estimate)) < 1e-12:
        src = study.iloc[0]          # the same mean r: its CI (Fisher-z) is in the study row
    ci = ("" if missing(getattr(src, "conf_low", None)) else
          f", 95% CI {fmt.fmt_ci(src.conf_low, src.conf_high, 3, bounded=True)}")
    sig = not missing(r.p_value) and r.p_value < .05
    if sig and r.estimate > 0:
        head = (f"Emotions lose more accuracy when the masked neurons track attributes that "
                f"matter more to humans")
    elif sig:
        head = (f"Emotions lose more accuracy when the masked neurons track attributes that "
                f"matter less to humans")
    else:
        head = ("The accuracy drops are not detectably related to how much an attribute "
                "matters to humans")
    test_name = {"attribute_permutation": "attribute-label permutation",
                 "attribute_level_r": "attribute-level r",
                 "study_t": "one-sample t over emotions"}.get(getattr(r, "test", ""), "")
    ptxt = fmt.fmt_p(r.p_value)
    out = (f"{head}: at k = {kt} the mean correlation between drop and importance is "
           f"r = {fmt.fmt_stat(r.estimate, 3, bounded=True)}{ci}, "
           + (f"{ptxt} ({test_name})" if test_name and test_name != "one-sample t over emotions"
              else fmt.apa_t(r.statistic, r.df, r.p_value)) + ".")
    if "test" in at and study is not None and len(study):
        s = study.iloc[0]
        if not missing(s.statistic):
            out += (f" The study's test, which treats the 27 emotions as independent, gives "
                    f"{fmt.apa_t(s.statistic, s.df, s.p_value)}.")
    lvl = rows(at, test="attribute_level_r") if "test" in at else None
    if lvl is not None and len(lvl) and not missing(lvl.iloc[0].estimate):
        x = lvl.iloc[0]
        out += (f" Over the attributes' mean drops, "
                f"{fmt.apa_r(x.estimate, x.df, x.p_value, 3)}.")
    # over k: only where there is more than one k
    pick = rows(link, test="attribute_permutation") if "test" in link else link
    if pick is not None and pick["k"].nunique() > 1:
        n = int(((pick["p_value"] < .05) & (pick["estimate"] > 0)).sum())
        nk = pick["k"].nunique()
        out += (f" It is positive with p < .05 at {count_phrase(n, nk, 'values of k')} "
                f"({fmt.fmt_num(pick['k'].min(), 0, big_mark=',')}–"
                f"{fmt.fmt_num(pick['k'].max(), 0, big_mark=',')}).")
    return Markdown(out)


def whole_model_sentence(w: pd.DataFrame | None) -> Markdown:
    if w is None:
        return Markdown("")
    r = w.iloc[0]
    ci = ("" if missing(r.conf_low) else
          f", 95% CI {fmt.fmt_ci(r.conf_low, r.conf_high, 3, bounded=True)}")
    how = f" ({method_of(r).split(':')[0]})" if method_of(r) else ""
    if missing(r.estimate):
        return Markdown(f"The whole-model RSA cannot be computed: {reason(r)}.")
    sig = not missing(r.p_value) and r.p_value < .05
    verdict = ("correlates with the human one" if sig and r.estimate > 0 else
               "is not detectably related to the human one")
    return Markdown(
        f"Over all neurons at once, the model's emotion RDM {verdict}: "
        f"τ = {fmt.fmt_stat(r.estimate, 3, bounded=True)}{ci}, {fmt.fmt_p(r.p_value)}{how}.")


def fdr_sentence(table: pd.DataFrame | None, key: str, k: int | None = None) -> Markdown:
    """How many rows are significant under the study's rule, BH and the permutation p."""
    if table is None:
        return Markdown("")
    k = headline_k(table["k"]) if k is None else k
    d = table[table["k"] == k]
    n_study = int((d["q_value"] < ALPHA_MASKING).sum())
    n_bh = int((d["q_value_bh"] < ALPHA_MASKING).sum())
    n_t = int((d["p_value"] < ALPHA_MASKING).sum())
    perm = ""
    if "p_value_perm" in d and d["p_value_perm"].notna().any():
        perm = (f", and {int((d['p_value_perm'] < ALPHA_MASKING).sum())} by the sign-flip "
                f"permutation p alone")
    unit = "emotions" if key == "emotion" else "attributes"
    return Markdown(
        f"At k = {k_text(k)}, {n_study} of {len(d)} {unit} are "
        f"significant with the study's rule, {n_bh} with the Benjamini–Hochberg step-up "
        f"(both q < .05 over the whole table, all k together), {n_t} by the uncorrected "
        f"t-test p{perm}.")


def null_sentence(vs: pd.DataFrame | None, k: int | None = None) -> Markdown:
    """Attribute masks against the population of random masks (experiment runs)."""
    if vs is None:
        return Markdown("")
    vs = task_view(vs)
    k = headline_k(vs["k"]) if k is None else k
    new = "p_min_perm" in vs     # the contract: estimate = extra drop over the random masks' mean
    d = vs[vs["k"] == k].assign(drop=lambda x: x["estimate"] if new else
                                x["estimate"] - x["null_mean"])
    if new:                      # record test (prediction t), BH over attributes
        sig = d[(d["q_value_bh"] < .05) & (d["drop"] > 0)].sort_values("p_value")["attribute"]
        how = "against the population of random masks, BH q < .05"
    else:
        pcol = "p_value_perm" if "p_value_perm" in d else "p_value"
        sig = d[(d[pcol] < .05)].sort_values(pcol)["attribute"]
        how = "permutation p < .05"
    verb = "lowers" if len(sig) == 1 and len(d) > 1 else "lower"
    out = (f"At k = {k_text(k)}, {count_phrase(len(sig), len(d), 'attribute masks')} {verb} "
           f"accuracy more than random masks of the same size ({how})"
           + (f": {short_list(sig)}." if len(sig) else "."))
    pmin = (d["p_min_perm"].min() if "p_min_perm" in d and d["p_min_perm"].notna().any()
            else 1 / (1 + d["n_draws"].max()) if "n_draws" in d and d["n_draws"].notna().any()
            else 1 / (1 + d["n_null"].max()) if "n_null" in d and d["n_null"].notna().any()
            else None)
    if pmin is not None:
        out += (f" With the random draws of this run, no permutation p can fall below "
                f"{fmt.fmt_p(pmin, None)}.")
    return Markdown(out)


def chance_sentence(row) -> str:
    """One task against its chance rate, in the words the terminal prints
    (:func:`emostat.analysis.experiment.chance_statement`, plain text).

    ``row`` has task, n_items, accuracy, chance, p_value, interpretable (``task_chance``).
    """
    from emostat.analysis.experiment import chance_statement   # numpy/scipy only, no torch

    r = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return chance_statement(r)


def power_sentence(power: pd.DataFrame | None, found: bool | None = None) -> Markdown:
    """Precision of the design that ran, at the headline k: the smallest attribute-vs-random
    difference detectable with 80% power, the smallest attainable permutation p and, when no
    effect was found, the extra drop the record estimate rules out."""
    if power is None or power.empty:
        return Markdown("")
    power = task_view(power)
    if "k" in power:
        power = power[power["k"] == headline_k(power["k"])]
    parts = []
    for r in power.itertuples():
        bits = []
        task = f"{r.task}: " if isinstance(getattr(r, "task", None), str) else ""
        mde = _first(r, ("detectable", "mde", "detectable_difference"))
        if mde is not None:
            bits.append(f"the smallest extra drop detectable with 80% power is {pts(mde)} "
                        f"points")
        pmin = _first(r, ("p_min_rank", "p_perm_min", "p_min"))
        if pmin is not None:
            bits.append(f"the smallest attainable permutation p is {fmt.fmt_p(pmin, None)}")
        ruled = _first(r, ("ruled_out", "effect_ruled_out"))
        if ruled is not None and found is not True:
            bits.append(f"an extra drop larger than {pts(ruled)} points is ruled out (95% "
                        f"upper bound of the record estimate)")
        if bits:
            k = f" at k = {k_text(r.k)}" if hasattr(r, "k") else ""
            parts.append(task + "; ".join(bits) + k)
    if not parts:
        return Markdown("")
    return Markdown("Precision of this design: " + ". ".join(parts) + ".")


def _first(row, names):
    for n in names:
        v = getattr(row, n, None)
        if v is not None and not missing(v):
            return float(v)
    return None


def baseline_sentence(base: pd.DataFrame | None) -> Markdown:
    if base is None:
        return Markdown("")
    parts = []
    for task, d in base.groupby("task", sort=False):
        best, worst = d.loc[d["estimate"].idxmax()], d.loc[d["estimate"].idxmin()]
        parts.append(f"{task}: mean {fmt.fmt_pct(d['estimate'].mean(), 1)} (best "
                     f"{best.emotion} {fmt.fmt_pct(best.estimate, 1)}, worst {worst.emotion} "
                     f"{fmt.fmt_pct(worst.estimate, 1)})")
    return Markdown("Unmanipulated accuracy by task — " + "; ".join(parts) + ".")


def compact_list(v, limit: int = 12) -> str:
    """A list in run-length / range notation: ``[1536]*30`` → ``1536 × 30``,
    ``[0, 1, ..., 11]`` → ``0–11``; long irregular lists are cut with their length."""
    v = list(v)
    if not v:
        return "none"
    ints = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v)
    if ints and len(v) >= 3 and all(b - a == 1 for a, b in zip(v, v[1:])):
        return f"{v[0]}–{v[-1]}"
    runs: list[list] = []
    for x in v:
        if runs and runs[-1][0] == x:
            runs[-1][1] += 1
        else:
            runs.append([x, 1])
    parts = [f"{x} × {n}" if n > 2 else ", ".join([str(x)] * n) for x, n in runs]
    if len(parts) > limit:
        return ", ".join(parts[:limit]) + f", … ({len(v)} values)"
    return ", ".join(parts)


HEX = re.compile(r"\b[0-9a-f]{32,}\b")


def breakable(s: str) -> str:
    """A provenance value fit for a narrow table cell: SHA-256 digests shortened to their first
    16 hex digits (the full ones are in provenance.json), long paths given break points after
    ``/`` (zero-width spaces), so that no cell runs off a PDF page."""
    s = HEX.sub(lambda m: m.group(0)[:16] + "…", str(s))
    return s.replace("/", "/\u200b") if len(s) > 40 else s


def model_line(prov: dict, manifest: dict | None = None) -> str:
    """The model with its weights' format: ``SmolLM2-135M-Instruct (GGUF Q4_1, dequantised to
    float32)``; a plain ``name (dtype)`` otherwise."""
    for rec in (manifest or {}, prov):
        m = rec.get("model")
        if isinstance(m, dict):
            name = m.get("name") or Path(str(m.get("source") or "model")).stem
            dtype = m.get("dtype") or rec.get("dtype")
            src = str(m.get("source") or "")
            q = re.search(r"\.((?:I?Q\d\w*)|F16|BF16|F32)\.gguf$", src, flags=re.I)
            if src.lower().endswith(".gguf"):
                quant = f"GGUF {q.group(1).upper()}" if q else "GGUF"
                return f"{name} ({quant}, dequantised to {dtype or 'float32'})"
            return f"{name} ({dtype})" if dtype else str(name)
        if m:
            return str(m)
    return ""


def json_value(v) -> str:
    import json

    return json.dumps(v, sort_keys=True, default=str)


def provenance_rows(prov: dict, max_files: int = 12) -> pd.DataFrame:
    """Provenance record → a compact two-column (Item, Value) frame.

    Nested dicts are flattened (``config: device``); lists in run-length / range notation
    (:func:`compact_list`); ``None`` values and the prompt-tuning ``pt_*`` settings of a run
    that did not prompt-tune are dropped; a dict of more than ``max_files`` path → hash
    entries is summarised as its count and one SHA-256 over the sorted ``path  hash`` lines
    (as ``sha256sum`` would list them); a dict of templates as their count and ids.
    """
    rows = []
    nested = [v for v in prov.values() if isinstance(v, dict) and isinstance(v.get("config"), dict)]
    cfg = prov.get("config") if isinstance(prov.get("config"), dict) else (
        nested[0]["config"] if nested else {})
    prompt_tuned = str(cfg.get("representation", prov.get("representation", ""))) == \
        "prompt_tuning"
    uses_ray = str(cfg.get("backend", "")) == "ray"
    # a nested record (e.g. the collection manifest inside the analysis provenance) repeats
    # much of the outer one: a leaf equal to the outer leaf of the same name is shown once
    outer = {str(k): json_value(v) for k, v in prov.items()}
    seen = set()

    def walk(prefix, key, v, depth=0):
        if v is None or (not prompt_tuned and str(key).startswith("pt_")) or (
                not uses_ray and str(key).startswith("ray_")) or key in ("out", "complete"):
            return
        if depth == 1 and outer.get(str(key)) == json_value(v):
            return
        if isinstance(v, (str, int, float, bool)) and (str(key), str(v)) in seen:
            return
        if isinstance(v, (str, int, float, bool)) and depth <= 1:
            seen.add((str(key), str(v)))
        if key == "package_versions" and isinstance(v, dict):
            rows.append((prefix, ", ".join(f"{k2} {v2}" for k2, v2 in v.items())))
        elif key == "templates" and isinstance(v, dict):
            rows.append((prefix, f"{len(v)} ({compact_list(list(v))})"))
        elif isinstance(v, dict) and len(v) > max_files and all(
                isinstance(x, str) for x in v.values()):
            import hashlib

            lines = "".join(f"{k2}  {v2}\n" for k2, v2 in sorted(v.items()))
            digest = hashlib.sha256(lines.encode()).hexdigest()
            rows.append((prefix, f"{len(v)} files; SHA-256 over their sorted hashes: {digest}"))
        elif isinstance(v, dict) and prefix and len(v) >= 3 and all(
                x is None or isinstance(x, (str, int, float, bool, list, tuple))
                for x in v.values()):
            # a record of plain settings: one row "key value; key value" (it wraps)
            parts = []
            for k2, v2 in v.items():
                if v2 is None or (not prompt_tuned and str(k2).startswith("pt_")) or (
                        not uses_ray and str(k2).startswith("ray_")) or (
                        depth + 1 == 1 and outer.get(str(k2)) == json_value(v2)):
                    continue
                val = compact_list(v2) if isinstance(v2, (list, tuple)) else str(v2)
                parts.append(f"{str(k2).replace('_', ' ')} {val}")
            if parts:
                rows.append((prefix, "; ".join(parts)))
        elif isinstance(v, dict):
            for k2, v2 in v.items():
                # spaces, not dots, between levels: a long key can wrap in a PDF table cell
                name = str(k2).replace("_", " ")
                if name == "collect manifest":
                    name = "collection"
                walk(f"{prefix}: {name}" if prefix else name, k2, v2,
                     depth + (1 if prefix else 0) if isinstance(v2, dict) else depth + 1)
        elif isinstance(v, (list, tuple)):
            rows.append((prefix, compact_list(v)))
        else:
            rows.append((prefix, str(v)))

    walk("", "", prov, -1)
    return pd.DataFrame(rows, columns=["Item", "Value"])


def nan_to_na(x) -> str:
    return fmt.NA if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)


# ---------------------------------------------------------------------------------------------
# sections that are left out


def left_out(run, parts: dict) -> list:
    """``[(name, tables)]`` of the report parts none of whose tables ``run`` has.

    ``parts`` maps a part's name (a section or figure) to the tables it is drawn from.
    """
    return [(name, tuple(tabs)) for name, tabs in parts.items()
            if not any(run.has(t) for t in tabs)]


def left_out_line(items) -> Markdown:
    """The one line of the method that says which parts are left out and why ("" if none)."""
    if not items:
        return Markdown("")
    bits = [f"{name} (this run has no {' or '.join(f'`{t}`' for t in tabs)} table)"
            for name, tabs in items]
    return Markdown("Left out for lack of their results tables: " + "; ".join(bits) + ".")


def heading(title: str, run, tables, level: int = 1) -> Markdown:
    """A section heading when ``run`` has any of ``tables`` ("" otherwise)."""
    return Markdown(f"{'#' * level} {title}\n") if any(run.has(t) for t in tables) \
        else Markdown("")


def dip_sentence(dip: pd.DataFrame, k: int | None = None) -> Markdown:
    """Hartigan's dip test over the emotions' drops, per attribute at k."""
    k = headline_k(dip["k"]) if k is None or k not in set(dip["k"]) else k
    d = dip[dip["k"] == k]
    multi = d[d["p_value"] < .05]["attribute"]
    return Markdown(
        f"Hartigan's dip test finds the emotions' drops multimodal (p < .05) for "
        f"{count_phrase(len(multi), len(d), 'attributes')} at k = {k_text(k)}"
        + (f": {short_list(multi)}." if 0 < len(multi) < len(d) else "."))


def mixed_method(mm: pd.DataFrame, k: int | None = None) -> Markdown:
    """What the mixed models in the table are: formula, role and p-value method."""
    if "formula" not in mm:
        return Markdown(
            "A prompt-level linear mixed model, `accuracy ~ condition + (1 | emotion/template)` "
            "(REML; condition attribute-specific vs random), estimates the masking effect with "
            "emotions and prompts as random effects instead of pooling them.")
    d = mm[mm["k"] == k] if k is not None and "k" in mm and k in set(mm["k"]) else mm
    bits = []
    for model, g in d.groupby("model", sort=False) if "model" in d else [("", d)]:
        r = g.iloc[0]
        role = {"record": "the test of record", "study": "the study's model",
                "extra": "supplementary"}.get(str(getattr(r, "role", "")), "")
        how = f"; p from {r.p_method}" if method_of(r) else ""
        bits.append(f"- **{model}** ({role}): `{r.formula}`{how}."
                    if role else f"- **{model}**: `{r.formula}`{how}.")
    return Markdown("The mixed models fitted at each k:\n\n" + "\n".join(bits) + "\n")


def settings_list(prov: dict, manifest: dict | None = None, ks=()) -> Markdown:
    """The run's settings as a short Markdown list (never a dumped dict); templates listed
    with the emotion word shown as {emotion}."""
    manifest = manifest or {}
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    items = []
    line = model_line(prov, manifest)
    if line:
        items.append(f"Model: {line}")
    for key, label in (("seed", "Master seed"), ("n_boot", "Bootstrap resamples"),
                       ("n_perm", "Permutations")):
        if key in prov:
            v = prov[key]
            items.append(f"{label}: {v if key == 'seed' else fmt.fmt_num(v, 0, big_mark=',')}")
    if ks:
        items.append("k: " + ", ".join(k_text(k) for k in ks))
    for key, label in (("tasks", "Tasks"), ("items_per_emotion", "Items per emotion"),
                       ("attributes", "Attributes masked"), ("n_random_draws", "Random masks"),
                       ("device", "Device"), ("representation", "Representation")):
        v = cfg.get(key, manifest.get(key))
        if v is not None and v != []:
            items.append(f"{label}: {compact_list(v) if isinstance(v, list) else v}")
    out = "\n".join(f"- {i}" for i in items)
    tpl = manifest.get("templates")
    if isinstance(tpl, dict) and tpl:
        shown = []
        for tid, t in tpl.items():
            t = re.sub(r"\badmiration\b", "{emotion}", str(t))
            shown.append(f"{tid}: “{t}”")
        out += (f"\n- Templates ({len(tpl)}, shown for the first emotion with its name as "
                f"{{emotion}}): " + "; ".join(shown))
    return Markdown(out + "\n" if out else "")


def agreement_sentence(ranks: pd.DataFrame | None, unimod: pd.DataFrame | None) -> Markdown:
    """How closely the reproduction matches the release's rank and unimodality files."""
    out = []
    if ranks is not None and len(ranks):
        k = int(ranks["top_k"].iloc[0])
        lo_rho = fmt.fmt_stat(ranks["spearman"].min(), 4, bounded=True)
        rho = (f"ρ {lo_rho} for every attribute" if lo_rho.startswith((">", "1"))
               else f"ρ ≥ {lo_rho}")
        ov_lo, ov_hi = int(ranks["top_k_overlap"].min()), int(ranks["top_k_overlap"].max())
        overlap = (f"all {k_text(k)} of their neurons" if ov_lo == k else
                   f"{k_text(ov_lo)} to {k_text(ov_hi)} of their {k_text(k)} neurons")
        out.append(
            f"Over the {len(ranks)} attributes, emostat's neuron ranks correlate with the "
            f"release's at Spearman {rho}; "
            f"{fmt.fmt_pct(ranks['identical_share'].min(), 1)} to "
            f"{fmt.fmt_pct(ranks['identical_share'].max(), 1)} of the "
            f"{fmt.fmt_num(ranks['n_neurons'].iloc[0], 0, big_mark=',')} neurons have the identical "
            f"rank (the rest differ by tie and floating-point order), and the top-{k_text(k)} "
            f"sets share {overlap}.")
    if unimod is not None and len(unimod):
        dd = (unimod["statistic"] - unimod["statistic_release"]).abs().max()
        dp = (unimod["p_value"] - unimod["p_value_release"]).abs().max()
        same = dd <= 5e-5 + 1e-12 and dp <= 5e-4 + 1e-12
        out.append(
            f"emostat's dip tests of the {len(unimod)} attribute × k rows in the release's "
            f"unimodality file "
            + ("equal the release's to its printed precision (D to 4, p to 3 decimals)."
               if same else
               f"differ from the release's by up to {fmt.fmt_num(dd, 4)} in D and "
               f"{fmt.fmt_num(dp, 3)} in p."))
    return Markdown(" ".join(out))
