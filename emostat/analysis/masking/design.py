"""The design table: what each masking design can decide, and what it costs (issue 24).

A design is items x attribute masks x random masks x k. Its tests of record and the
per-attribute verdict depend on it through the variance components that the run's record
GLMM measures (``item_glmm``: item, attribute-mask and random-mask variances on the log-odds
scale, the intercept and the contrast), so every candidate design is evaluated from the run's
own fit, in closed form (:mod:`emostat.analysis.engines.designpower`):

- **masking** (record, Wald z of ``attribute_vs_random``, two-sided, Holm over the run's tasks):
  a mask's estimated effect varies by its own variance plus the Bernoulli noise of its items,
  ``sigma^2_kind + 1 / (n_items I_kind)``, ``I = E[mu (1 - mu)]`` over the items' logits; the
  items are crossed with every mask, so their own effects cancel in the contrast, and
  ``SE^2 = (sigma^2_A + 1/(n I_A)) / A + (sigma^2_R + 1/(n I_R)) / R``. Detectable effect
  ``SE (z_{1 - alpha/2} + z_0.8)``; floor 0.
- **per-attribute verdict** (supporting, Crawford & Howell's t of one attribute mask against the
  random masks, one-sided, BH over attributes x k): controls of SD
  ``sqrt(sigma^2_R + 1/(n I_R))``, noncentral t on R - 1 df at level alpha / (A x k) (BH's
  first step, one attribute alone); floor 0. The rank p beside it has floor
  ``A k / (R + 1)`` after the same correction and gives no verdict.
- **link** (record, Pearson r over the A attributes, attribute-label permutation, two-sided):
  Fisher z at the run's alpha, the true r behind it divided by ``sqrt(reliability)``,
  ``reliability = sigma^2_A / (sigma^2_A + 1/(n I_A))`` (item noise in each attribute's drop);
  floor ``1 / (n_perm + 1)``. Needs 3 attributes.
- **above chance** (record, exact one-sided binomial): detectable accuracy; floor
  ``chance^n``.

Costs: rows = items x (1 + k x (A + R)) per task (the unmanipulated row once), GFLOP = rows x
the GFLOP per row the collection measured from its prompts' tokens (manifest ``cost``).
The table's ``best here`` is the design with the most record information per GFLOP
(``1 / (SE^2 GFLOP)``) among those where every test can reach its corrected alpha, whose
masking and per-attribute detectable effects are no larger than the design before issue 24
(all stimuli, 20 random masks), whose link loses at most 5% (:data:`NOT_WORSE`) and whose
chance test detects 15 points above chance. :data:`DEFAULT_DESIGN` is the ``best here`` of
the default run of the embedded model that measured the components (Dec 7: 10 stimuli per
concept x 30 random masks; docs/inference.md, "The design table").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emostat.analysis.engines import designpower as dp

__all__ = ["Components", "Setting", "components", "design_table", "evaluate", "DEFAULT_DESIGN",
           "BEFORE_DESIGN", "QUICK_DESIGN", "quick_items_per_concept", "quick_items_for_space",
           "METHOD"]

# The default before issue 24: every stimulus (15 per concept), 20 shared random masks.
BEFORE_DESIGN = {"items_per_concept": None, "n_random": 20}
# The default profile's masking design (emostat.collect.profiles reads it from here; None:
# every stimulus): the "best here" of the design table of the default run that measured the
# embedded model's components (Dec 7, 405 items x 14 + 20 masks at k = 2,304: item variance
# 2.876, attribute-mask 0.113, random-mask 0.172 log-odds^2, intercept -1.941, contrast 0.139;
# 7.379 GFLOP per row). MEASURED_COMPONENTS keeps them; tests/test_design.py recomputes the choice.
DEFAULT_DESIGN = {"items_per_concept": 10, "n_random": 30}
MEASURED_COMPONENTS = {"var_item": 2.875675, "var_attribute": 0.112533, "var_random": 0.171664,
                       "intercept": -1.941475, "contrast": 0.138723, "gflop_per_row": 7.379}
# The quick profile: 3 random masks, two of the study's attributes (all of another space's),
# items per concept from quick_items_per_concept.
QUICK_DESIGN = {"n_random": 3, "attributes": ["valence", "arousal"]}
POWER = 0.8
ITEMS_GRID = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30)
RANDOM_GRID = (5, 10, 20, 30, 40, 50, 60, 80, 100, 150, 200)
CHANCE_TARGET = 0.15     # quick: the chance test detects chance + 15 points with POWER
LINK_MIN = 3
METHOD = ("closed form from the record GLMM's variance components (docs/inference.md, "
          "emostat.analysis.masking.design); 80% power")


@dataclass(frozen=True)
class Components:
    """Variance components of the record GLMM (log-odds scale) and its fixed effects."""
    var_item: float
    var_attribute: float
    var_random: float
    intercept: float          # attribute masks' mean logit
    contrast: float           # random - attribute

    def information(self, kind: str) -> float:
        """Mean Bernoulli information of one item under a mask of ``kind``."""
        eta = self.intercept + (self.contrast if kind == "random" else 0.0)
        return dp.bernoulli_information(eta, self.var_item)

    def mask_variance(self, kind: str, n_items: int) -> float:
        """Variance of one mask's estimated effect over ``n_items`` items."""
        var = self.var_random if kind == "random" else self.var_attribute
        info = n_items * self.information(kind)
        return var + 1 / info if info > 0 else math.inf

    def contrast_se(self, n_items: int, n_attribute: int, n_random: int) -> float:
        """Standard error of the attribute-vs-random contrast."""
        return math.sqrt(self.mask_variance("attribute", n_items) / n_attribute
                         + self.mask_variance("random", n_items) / n_random)

    def points(self, delta: float) -> float:
        """A log-odds drop of the attribute masks below the random ones, in accuracy points
        (mean over the items' logits)."""
        eta = self.intercept + self.contrast
        return 100 * (dp.mean_logistic(eta, self.var_item)
                      - dp.mean_logistic(eta - delta, self.var_item))


def components(tidy: pd.DataFrame, glance: pd.DataFrame, task, k) -> Components | None:
    """The :class:`Components` of the record ``item_glmm`` fit at ``task`` x ``k`` (None when
    the fit is missing or failed)."""
    if tidy is None or glance is None or not len(tidy) or "model" not in tidy:
        return None
    sel = (tidy["model"] == "item_glmm") & (tidy["k"] == k)
    gsel = (glance["model"] == "item_glmm") & (glance["k"] == k)
    if task is not None and "task" in tidy:
        sel &= tidy["task"] == task
        gsel &= glance["task"] == task
    t, g = tidy[sel], glance[gsel]
    if not len(t) or not len(g) or (t["status"] == "failed").any():
        return None
    fixed = t[t["effect"] == "fixed"].set_index("term")["estimate"]
    item = t[(t["effect"] == "ran_pars") & (t["group"] == "item")
             & (t["term"] == "sd__(Intercept)")]["estimate"]
    gl = g.iloc[0]
    vals = dict(var_item=float(item.iloc[0]) ** 2 if len(item) else 0.0,
                var_attribute=float(gl["var_mask_attribute"]),
                var_random=float(gl["var_mask_random"]),
                intercept=float(fixed.get("(Intercept)", np.nan)),
                contrast=float(fixed.get("attribute_vs_random", np.nan)))
    if not all(np.isfinite(v) for v in vals.values()):
        return None
    return Components(**vals)


@dataclass(frozen=True)
class Setting:
    """What the tests of a run are judged at (fixed by the design, not by the data)."""
    alpha: float = 0.05
    n_tasks: int = 1
    n_k: int = 1
    n_perm_link: int = 10_000
    chance: float = 1 / 27
    items_per_unit: float = 1.0     # task items per stimulus (binary: a positive and a negative)
    counts: tuple = (15,) * 27      # stimuli of each concept in the space
    gflop_per_row: float = float("nan")

    def n_items(self, items_per_concept: int) -> int:
        """The task's items with at most ``items_per_concept`` stimuli of each concept."""
        n = sum(min(items_per_concept, c) for c in self.counts) * self.items_per_unit
        return max(1, int(round(n)))


def evaluate(c: Components, s: Setting, items_per_concept: int, n_attribute: int,
             n_random: int) -> list[dict]:
    """One design's rows of the design table (one per test)."""
    n = s.n_items(items_per_concept)
    rows_ = n * (1 + s.n_k * (n_attribute + n_random))
    se = c.contrast_se(n, n_attribute, n_random) if n_attribute and n_random else np.nan
    a_task = s.alpha / s.n_tasks
    m = n_attribute * s.n_k
    det = dp.wald_detectable(se, a_task)
    sd_r = math.sqrt(c.mask_variance("random", n))
    case = dp.case_detectable(sd_r, n_random, s.alpha / max(m, 1))
    rel = c.var_attribute / c.mask_variance("attribute", n) if c.var_attribute > 0 else 0.0
    _, link_r = (dp.correlation_detectable(n_attribute, a_task, POWER, rel)
                 if n_attribute >= LINK_MIN and rel > 0 else (np.nan, np.nan))
    link_floor = (1 / math.factorial(n_attribute) if math.factorial(n_attribute) <= s.n_perm_link
                  else 1 / (s.n_perm_link + 1))
    chance_det = dp.binomial_detectable(n, s.chance, s.alpha)
    gflop = rows_ * s.gflop_per_row
    base = dict(items_per_concept=int(items_per_concept), n_items=n,
                n_attribute_masks=int(n_attribute), n_random_masks=int(n_random), n_k=s.n_k,
                rows=int(rows_), gflop=gflop,
                info_per_gflop=1 / (se * se * gflop) if np.isfinite(se * gflop) else np.nan)
    tests = [
        ("above_chance", "record", "proportion", chance_det, np.nan,
         dp.binomial_floor(n, s.chance), s.alpha),
        ("masking", "record", "log-odds", det, c.points(det) if np.isfinite(det) else np.nan,
         0.0, a_task),
        ("link", "record", "r", link_r, np.nan, link_floor, a_task),
        ("attribute_vs_null", "supporting", "log-odds", case,
         c.points(case) if np.isfinite(case) else np.nan, 0.0, s.alpha / max(m, 1)),
        ("attribute_vs_null_rank", "no verdict", "log-odds", np.nan, np.nan,
         min(1.0, m / (n_random + 1)), s.alpha / max(m, 1))]
    out = []
    for test, role, scale, d, pts, floor, a in tests:
        ok = floor <= a and (np.isfinite(d) or role == "no verdict")
        if test == "link" and n_attribute < LINK_MIN:
            ok = False
        out.append(base | dict(test=test, role=role, scale=scale, detectable=d,
                               detectable_points=pts, p_floor=floor, alpha_corrected=a,
                               can_decide=bool(ok), se=se if test == "masking" else np.nan,
                               reliability=rel if test == "link" else np.nan))
    return out


def quick_items_for_space(space, alpha: float = 0.05) -> int:
    """:func:`quick_items_per_concept` of a concept space (its stimuli per concept; 1 for a
    space without stimuli)."""
    stim = getattr(space, "stimuli", None)
    if stim is None or not len(stim) or "concept" not in stim:
        return 1
    counts = stim.groupby("concept").size()
    return quick_items_per_concept(len(space.concepts), int(counts.max()), alpha)


def quick_items_per_concept(n_concepts: int, available: int, alpha: float = 0.05,
                            target: float = CHANCE_TARGET, power: float = POWER) -> int:
    """Items per concept of the quick profile: the fewest (at most ``available``) with which
    the exact chance test of the choice task (chance 1 / concepts) detects an accuracy
    ``target`` above chance with ``power``; all of them when even those cannot.

    >>> quick_items_per_concept(27, 15), quick_items_per_concept(10, 8)
    (2, 4)
    """
    chance = 1 / max(n_concepts, 2)
    want = min(1.0, chance + target)
    for ipc in range(1, max(1, available) + 1):
        n = ipc * n_concepts
        d = dp.binomial_detectable(n, chance, alpha, power)
        if np.isfinite(d) and d <= want:
            return ipc
    return max(1, available)


# How much larger than the design before issue 24 a candidate's detectable effect may be
# (relative). Masks set the masking test and the per-attribute verdict: not worse at all. Items
# alone set the link's reliability (its 14 attributes are fixed), so no design with fewer
# items keeps it exactly: at most 5% larger (an item noise that attenuates r by <= 5%). The
# chance test is a gate, judged by CHANCE_TARGET instead (docs/inference.md).
NOT_WORSE = {"masking": 0.0, "attribute_vs_null": 0.0, "link": 0.05}


def design_table(c: Components, s: Setting, *, run: tuple[int, int, int],
                 available: int, quick: tuple[int, int, int] | None = None,
                 task=None, k=None, not_worse: dict | None = None) -> pd.DataFrame:
    """The design table of one task x k: every candidate design (items per concept in
    :data:`ITEMS_GRID` up to ``available``, random masks in :data:`RANDOM_GRID`, this run's
    attribute masks), this run's design ``run`` = (items per concept, attribute masks, random
    masks), the design before issue 24 (``available`` items per concept, 20 random masks),
    the quick profile's ``quick`` and :data:`DEFAULT_DESIGN`, one row per design x test.

    ``feasible``: every test with a verdict can reach its corrected alpha (floor <= alpha,
    detectable effect finite), no detectable effect is larger than the before-design's
    (relative tolerance ``not_worse``, default :data:`NOT_WORSE`) and the chance test detects
    an accuracy :data:`CHANCE_TARGET` above chance. ``chosen``: the feasible
    candidate with the most record information per GFLOP (per row when the GFLOP per row is
    unknown). ``label`` names the special designs (``this run``, ``before``, ``default``,
    ``quick``, ``best here``); a design can carry several.
    """
    tol = NOT_WORSE if not_worse is None else not_worse
    ipc_run, n_att, r_run = run
    designs = {(i, n_att, r): set() for i in ITEMS_GRID if i <= available for r in RANDOM_GRID}
    special = {"this run": (ipc_run, n_att, r_run),
               "before": (available, n_att, BEFORE_DESIGN["n_random"]),
               "default": (min(DEFAULT_DESIGN["items_per_concept"] or available, available),
                           n_att, DEFAULT_DESIGN["n_random"])}
    if quick is not None:
        special["quick"] = quick
    for name, key in special.items():
        designs.setdefault(key, set()).add(name)
    rows = []
    for (i, a, r), names in designs.items():
        for row in evaluate(c, s, i, a, r):
            rows.append(row | dict(label=", ".join(sorted(names))))
    out = pd.DataFrame(rows)
    key = ["items_per_concept", "n_attribute_masks", "n_random_masks"]
    before = out[out["label"].str.contains("before")].set_index("test")["detectable"]
    worse = pd.Series(False, index=out.index)
    for test, t in tol.items():
        if test in before.index and np.isfinite(before[test]):
            sel = out["test"] == test
            worse |= sel & ~(out["detectable"] <= before[test] * (1 + t) + 1e-12)
    gate = out["test"] == "above_chance"       # the chance test detects chance + 15 points
    worse |= gate & ~(out["detectable"] <= s.chance + CHANCE_TARGET)
    bad = (~out["can_decide"] & (out["role"] != "no verdict")) | worse
    infeasible = set(map(tuple, out.loc[bad, key].to_numpy()))
    out["feasible"] = [tuple(x) not in infeasible for x in out[key].to_numpy()]
    rec = out[(out["test"] == "masking") & out["feasible"]
              & (out["n_attribute_masks"] == n_att)]
    score = rec["info_per_gflop"] if rec["info_per_gflop"].notna().any() else \
        1 / (rec["se"] ** 2 * rec["rows"])
    best = tuple(rec.loc[score.idxmax(), key]) if len(rec) else None
    out["chosen"] = [tuple(x) == best for x in out[key].to_numpy()]
    out.loc[out["chosen"], "label"] = [("best here" if not lab else f"{lab}, best here")
                                       for lab in out.loc[out["chosen"], "label"]]
    comp = dict(var_item=c.var_item, var_mask_attribute=c.var_attribute,
                var_mask_random=c.var_random, intercept=c.intercept, contrast=c.contrast)
    out = out.assign(task=task, k=k, alpha=s.alpha, power=POWER, method=METHOD, **comp)
    first = ["task", "k", "label", "chosen", "feasible"] + key
    out = out[first + [c_ for c_ in out.columns if c_ not in first]]
    return out.sort_values(key + ["test"], kind="stable").reset_index(drop=True)
