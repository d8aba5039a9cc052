"""The decision rule of the claims table (docs/design.md §2): one function, :func:`decide`.

Kept apart from :mod:`emostat.analysis.claims.table` (which picks the rows of record) so that the rule
reads on its own; the claims table is its only caller in emostat.
"""

from __future__ import annotations

from emostat.analysis.engines.pcontract import missing
from emostat.format import fmt_p_alpha

__all__ = ["decide"]


def decide(p_value, *, alpha: float, p_floor=0.0, p_mc_low=None, p_mc_high=None,
           in_direction: bool = True, failed: str | None = None,
           at_chance: str | None = None) -> tuple[str, str]:
    """(decision, reason) of one test.

    ``not tested`` when ``at_chance`` (the reason why); ``failed`` when ``failed`` (why) or p is
    missing; ``too coarse to decide`` when the smallest attainable p exceeds alpha or the
    Monte-Carlo interval of p contains alpha; ``supported`` when p <= alpha and the estimate
    is in the claimed direction; else ``not supported``.

    >>> decide(0.05, alpha=0.05, p_floor=0.05, p_mc_low=0.0013, p_mc_high=0.25)[0]
    'too coarse to decide'
    >>> decide(0.01, alpha=0.05)[0], decide(0.01, alpha=0.05, in_direction=False)[0]
    ('supported', 'not supported')
    """
    if at_chance:
        return "not tested", at_chance
    if failed:
        return "failed", failed
    if missing(p_value):
        return "failed", "the test gave no p-value"
    p = float(p_value)
    floor = 0.0 if missing(p_floor) else float(p_floor)
    a_txt, p_txt = f"{alpha:g}", "p " + _num(p, alpha, eq=True)
    if floor > alpha:
        return ("too coarse to decide", f"the smallest attainable p ({_num(floor, alpha)}) is "
                f"above alpha ({a_txt}): the test cannot reject at this level")
    if not (missing(p_mc_low) or missing(p_mc_high)) and p_mc_low <= alpha <= p_mc_high:
        lo, hi = _bound(p_mc_low, alpha), _bound(p_mc_high, alpha)
        return ("too coarse to decide", f"the Monte-Carlo 95% interval of p [{lo}, {hi}] "
                f"contains alpha ({a_txt}): more permutations needed")
    if p <= alpha and in_direction:
        return "supported", f"{p_txt} <= alpha {a_txt}, in the claimed direction"
    if p <= alpha:
        return "not supported", (f"{p_txt} <= alpha {a_txt}, but the estimate is against the "
                                 "claimed direction")
    return "not supported", f"{p_txt} > alpha {a_txt}"


def _num(x: float, alpha: float, eq: bool = False) -> str:
    """A p-like number for a reason: never rounded across alpha (``= .04999``, ``< .001``)."""
    s = fmt_p_alpha(x, alpha, name=None)
    return (s if s[:1] in "<>=" else f"= {s}") if eq else s


def _bound(x: float, alpha: float) -> str:
    """An interval bound of p with 4 significant digits, more where that would print alpha."""
    s = f"{float(x):.4g}"
    return f"{float(x):.10g}" if float(s) == alpha and float(x) != alpha else s
