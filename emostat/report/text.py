"""Sentences of the reports that describe a run's results tables (every number formatted by
:mod:`emostat.format` or :mod:`emostat.report.view`, none typed by hand).

These sentences describe tables (means, counts at a stated threshold, the study's statistics);
the findings — a claim supported or not — are the rows of the claims table, rendered by
:mod:`emostat.report.findings`. A statistic that cannot be computed gets a reason, never "NA".
Each function returns a Markdown string, empty when its table is absent.
"""

from __future__ import annotations

import pandas as pd

from emostat import format as fmt
from emostat.analysis.claims.words import test_name
from emostat.report.view import (Markdown, ci_text, count_phrase, extra_drop, headline_k,
                                 k_text, listing, missing, num_text, primary_task, pts,
                                 short_list, text_or, uninterpretable)


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


def task_choice_line(base: pd.DataFrame | None, chance: pd.DataFrame | None) -> Markdown:
    """Which task the single-task sections show and why; every task run is named."""
    tasks = list(dict.fromkeys(base["task"])) if base is not None and "task" in base else []
    if len(tasks) < 2:
        return Markdown("")
    shown = primary_task(base, uninterpretable(chance))
    others = [t for t in tasks if t != shown]
    why = ("the first interpretable task in the order choice, binary, generate"
           if chance is not None else "the first in the order choice, binary, generate")
    return Markdown(f"Tasks run: {listing(tasks)}. The masking sections show the {shown} task "
                    f"({why}); baseline accuracy covers all of them, and the "
                    f"{listing(others)} task{'s' if len(others) > 1 else ''} "
                    f"{'are' if len(others) > 1 else 'is'} in the results tables.")


def importance_sentence(imp: pd.DataFrame | None, alpha: float = .05) -> Markdown:
    """Top attributes of the human space; how many have a Mantel p (the p of record) <= the
    run's ``alpha``, with the study's bootstrap share beside it when present."""
    if imp is None:
        return Markdown("")
    d = imp.sort_values("estimate", ascending=False)
    top = [f"{r.attribute} (τ = {fmt.fmt_stat(r.estimate, 3, bounded=True)}, 95% CI "
           f"{ci_text(r.conf_low, r.conf_high, 3, True)})"
           if not (missing(r.conf_low) or missing(r.conf_high)) else
           f"{r.attribute} (τ = {fmt.fmt_stat(r.estimate, 3, bounded=True)})"
           for r in d.head(3).itertuples()]
    out = f"The attributes that best match the human dissimilarity space are {listing(top)}."
    pcol = "p_value"   # the Mantel (concept-label permutation) p of the table
    if pcol in d and d[pcol].notna().any():
        sig = d[d[pcol] <= alpha]
        nonsig = d[~(d[pcol] <= alpha)]["attribute"]
        out += (f" {count_phrase(len(sig), len(d), 'attributes').capitalize()} match it "
                f"better than relabelled concepts do (Mantel permutation p ≤ "
                f"{f'{alpha:g}'.replace('0.', '.')}, uncorrected)"
                + (f"; not {short_list(nonsig)}." if 0 < len(nonsig) < len(d) else "."))
    if "boot_share_le0" in d and d["boot_share_le0"].notna().any():
        n_study = int((d["boot_share_le0"] < .05).sum())
        out += (f" By the study's criterion (share of participant-bootstrap τ ≤ 0 below .05) "
                f"{count_phrase(n_study, len(d), 'attributes')} would count as important.")
    return Markdown(out)


def searchlight_sentence(counts: pd.DataFrame | None, rsa_n: int | None = None) -> Markdown:
    """Significant neurons per attribute by the study's rule and by BH (the decision on the
    neurons claim is its claims row)."""
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
    return Markdown(out)


def alpha_text(alpha: float) -> str:
    """``.05`` for alpha = 0.05."""
    s = f"{float(alpha):f}".rstrip("0").rstrip(".")
    return s[1:] if s.startswith("0.") else s


def span_text(lo, hi) -> str:
    lo, hi = fmt.fmt_num(lo, 0, big_mark=","), fmt.fmt_num(hi, 0, big_mark=",")
    return lo if lo == hi else f"{lo}–{hi}"


def neuron_mantel_sentence(nm: pd.DataFrame | None, n_concepts: int | None = None) -> Markdown:
    """Chosen neurons tested one by one with concept-label permutations, beside the study's
    asymptotic p."""
    if nm is None or nm.empty:
        return Markdown("")
    n = len(nm)
    per = nm.groupby("attribute")["neuron"].nunique()
    sig = int((nm["p_value"] < .05).sum())
    asym = int((nm["p_asymptotic"] < .05).sum()) if "p_asymptotic" in nm else None
    np_ = nm["n_perm"].max() if "n_perm" in nm else None
    out = (f"Tested one by one by permuting the concept labels ({fmt.fmt_num(np_, 0, big_mark=',')}"
           f" permutations), "
           + (f"all {fmt.fmt_num(n, 0, big_mark=',')}" if sig == n else
              f"{fmt.fmt_num(sig, 0, big_mark=',')} of the {fmt.fmt_num(n, 0, big_mark=',')}")
           + f" chosen neuron × attribute pairs "
           f"({span_text(per.min(), per.max())} per attribute) have p < .05" if np_ else
           f"Tested one by one by permuting the concept labels, {sig} of the {n} chosen neuron "
           f"× attribute pairs have p < .05")
    if asym is not None:
        pairs = (f"the {fmt.fmt_num(n_concepts * (n_concepts - 1) // 2, 0, big_mark=',')} "
                 f"concept pairs" if n_concepts else "the concept pairs")
        out += (f"; the study's asymptotic p, which treats {pairs} as independent, "
                f"is below .05 for {fmt.fmt_num(asym, 0, big_mark=',')}")
    return Markdown(out + ".")


def masking_sentence(by_emotion: pd.DataFrame | None, k: int | None = None,
                     n_top: int = 3, alpha: float = .05) -> Markdown:
    """Grand means and the per-concept paired t-tests (the study's test) at k."""
    if by_emotion is None:
        return Markdown("")
    k = headline_k(by_emotion["k"]) if k is None else k
    d = by_emotion[by_emotion["k"] == k].assign(drop=lambda x: extra_drop(x))
    d = d.sort_values("drop", ascending=False)
    means = ""
    if {"acc_none", "acc_random", "acc_attribute"} <= set(d.columns):
        means = (f"Averaged over concepts, accuracy is {fmt.fmt_pct(d['acc_none'].mean(), 2)} "
                 f"without manipulation, {fmt.fmt_pct(d['acc_random'].mean(), 2)} with random "
                 f"masking and {fmt.fmt_pct(d['acc_attribute'].mean(), 2)} with "
                 f"attribute-specific masking (k = {k_text(k)}). ")
    ok = d[d["p_value"].notna()]
    if ok.empty:
        return Markdown(means + f"The per-concept paired t-tests cannot be computed: "
                        f"{reason(d.iloc[0])}.")
    sig = ok[(ok["q_value"] < alpha) & (ok["drop"] > 0)]
    nonsig = ok[~ok.index.isin(sig.index)]["concept"]
    n_ok = len(ok)
    out = means + (f"Attribute-specific masking lowers accuracy significantly more than random "
                   f"masking for {count_phrase(len(sig), n_ok, 'concepts')} (one-sided paired "
                   f"t per concept, the study's q < {alpha_text(alpha)})")
    if len(sig):
        largest = [f"{r.concept} {pts(r.drop)} points ({fmt.apa_t(r.statistic, r.df, r.p_value)})"
                   for r in sig.head(n_top).itertuples()]
        out += f"; the largest: {listing(largest)}"
        if 0 < len(nonsig) <= 10:
            out += f". Not significant: {listing(nonsig)}"
    out += "."
    if len(ok) < len(d):
        bad = d[d["p_value"].isna()]
        out += (f" For the other {len(bad)} concepts the test cannot be computed (e.g. "
                f"{bad.iloc[0].concept}: {reason(bad.iloc[0])}).")
    return Markdown(out)


def fdr_sentence(table: pd.DataFrame | None, key: str, k: int | None = None,
                 alpha: float = .05) -> Markdown:
    """How many rows are significant under the study's rule, BH and the permutation p."""
    if table is None:
        return Markdown("")
    k = headline_k(table["k"]) if k is None else k
    d = table[table["k"] == k]
    n_study = int((d["q_value"] < alpha).sum())
    n_bh = int((d["q_value_bh"] < alpha).sum())
    n_t = int((d["p_value"] < alpha).sum())
    perm = ""
    if "p_value_perm" in d and d["p_value_perm"].notna().any():
        perm = (f", and {int((d['p_value_perm'] < alpha).sum())} by the sign-flip "
                f"permutation p alone")
    unit = "concepts" if key == "concept" else "attributes"
    return Markdown(
        f"At k = {k_text(k)}, {n_study} of {len(d)} {unit} are "
        f"significant with the study's rule, {n_bh} with the Benjamini–Hochberg step-up "
        f"(both q < {alpha_text(alpha)} over the whole table, all k together), {n_t} by the uncorrected "
        f"t-test p{perm}.")


def null_sentence(vs: pd.DataFrame | None, k: int | None = None,
                  alpha: float = .05) -> Markdown:
    """Attribute masks against the population of random masks, one task (the caller picks it),
    at k: how many beat the random masks at BH q < alpha."""
    if vs is None or vs.empty:
        return Markdown("")
    k = headline_k(vs["k"]) if k is None else k
    d = vs[vs["k"] == k]
    sig = d[(d["q_value_bh"] < alpha) & (d["estimate"] > 0)].sort_values("p_value")["attribute"]
    verb = "lowers" if len(sig) == 1 and len(d) > 1 else "lower"
    out = (f"At k = {k_text(k)}, {count_phrase(len(sig), len(d), 'attribute masks')} {verb} "
           f"accuracy more than random masks of the same size (against the population of "
           f"random masks, BH q < {alpha_text(alpha)})"
           + (f": {short_list(sig)}." if len(sig) else "."))
    if "p_min_perm" in d and d["p_min_perm"].notna().any():
        out += (f" With the random draws of this run, no rank p can fall below "
                f"{fmt.fmt_p(d['p_min_perm'].min(), None)}.")
    return Markdown(out)


def chance_sentence(row) -> str:
    """One task against its chance rate, in the words the terminal prints
    (:func:`emostat.analysis.masking.experiment.chance_statement`, plain text).

    ``row`` has task, n_items, accuracy, chance, p_value, interpretable (``task_chance``).
    """
    from emostat.analysis.masking.experiment import chance_statement   # numpy/scipy only, no torch

    r = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return chance_statement(r)


def power_sentence(power: pd.DataFrame | None, record=None, k: int | None = None) -> Markdown:
    """Precision of the design that ran, at k (one task: the caller picks it): the smallest
    attribute-vs-random difference detectable with 80% power, the smallest attainable
    permutation p and, when the masking claim is not supported, the extra drop its record
    row's interval rules out (``record``: the claims row, in its own scale)."""
    if power is None or power.empty:
        return Markdown("")
    if "k" in power:
        power = power[power["k"] == (headline_k(power["k"]) if k is None else k)]
    parts = []
    for r in power.itertuples():
        bits = []
        mde = first_value(r, ("detectable",))
        if mde is not None:
            bits.append(f"the smallest extra drop detectable with 80% power is {pts(mde)} "
                        f"points")
        pmin = first_value(r, ("p_min_rank",))
        if pmin is not None:
            bits.append(f"the smallest attainable rank p is {fmt.fmt_p(pmin, None)}")
        if bits:
            parts.append("; ".join(bits) + (f" at k = {k_text(r.k)}" if hasattr(r, "k") else ""))
    out = ("Precision of this design: " + ". ".join(parts) + ".") if parts else ""
    if record is not None and str(record.get("decision")) == "not supported" and \
            not missing(record.get("conf_high")):
        scale = str(record.get("scale") or "")
        bound = (f"{num_text(record['conf_high'], 1)} points" if scale == "points" else
                 f"{num_text(record['conf_high'], 2)} in log-odds" if scale == "log-odds" else
                 f"{num_text(record['conf_high'], 3)} ({scale})")
        out += (f" An extra drop larger than {bound} is ruled out by the test of record "
                f"(upper bound of its 95% CI; test {record.get('test')}).")
    return Markdown(out.strip())


def first_value(row, names):
    for n in names:
        v = getattr(row, n, None)
        if v is not None and not missing(v):
            return float(v)
    return None


def baseline_sentence(base: pd.DataFrame | None, labels: dict | None = None) -> Markdown:
    """Unmanipulated accuracy per task: the mean, the best and the worst concept, each named
    by its word in the space (``labels``: id -> word; else its id)."""
    if base is None:
        return Markdown("")
    word = (lambda c: (labels or {}).get(str(c), str(c)))  # noqa: E731
    parts = []
    for task, d in base.groupby("task", sort=False):
        best, worst = d.loc[d["estimate"].idxmax()], d.loc[d["estimate"].idxmin()]
        parts.append(f"{task}: mean {fmt.fmt_pct(d['estimate'].mean(), 1)} (best "
                     f"{word(best.concept)} {fmt.fmt_pct(best.estimate, 1)}, worst "
                     f"{word(worst.concept)} {fmt.fmt_pct(worst.estimate, 1)})")
    return Markdown("Unmanipulated accuracy by task — " + "; ".join(parts) + ".")


def dip_sentence(dip: pd.DataFrame, k: int | None = None) -> Markdown:
    """Hartigan's dip test over the concepts' drops, per attribute at k."""
    k = headline_k(dip["k"]) if k is None or k not in set(dip["k"]) else k
    d = dip[dip["k"] == k]
    multi = d[d["p_value"] < .05]["attribute"]
    return Markdown(
        f"Hartigan's dip test finds the concepts' drops multimodal (p < .05) for "
        f"{count_phrase(len(multi), len(d), 'attributes')} at k = {k_text(k)}"
        + (f": {short_list(multi)}." if 0 < len(multi) < len(d) else "."))


def mixed_method(mm: pd.DataFrame, k: int | None = None) -> Markdown:
    """What the mixed models in the table are: formula, role and p-value method."""
    if "formula" not in mm:
        return Markdown(
            "A prompt-level linear mixed model, `accuracy ~ condition + (1 | concept/template)` "
            "(REML; condition attribute-specific vs random), estimates the masking effect with "
            "concepts and prompts as random effects instead of pooling them.")
    d = mm[mm["k"] == k] if k is not None and "k" in mm and k in set(mm["k"]) else mm
    bits = []
    for model, g in d.groupby("model", sort=False) if "model" in d else [("", d)]:
        r = g.iloc[0]
        role = {"record": "the test of record", "study": "the study's model",
                "extra": "supplementary"}.get(str(getattr(r, "role", "")), "")
        how = f"; p from {r.p_method}" if text_or(getattr(r, "p_method", None)) else ""
        name = test_name(str(model)) or str(model)     # prose name ("record" was a model's id)
        bits.append(f"- **{name}** ({role}): `{r.formula}`{how}."
                    if role else f"- **{name}**: `{r.formula}`{how}.")
    return Markdown("The mixed models fitted at each k:\n\n" + "\n".join(bits) + "\n")


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
