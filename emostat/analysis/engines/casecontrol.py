"""One case against a small control sample: Crawford & Howell's (1998) modified t.

Crawford, J. R., & Howell, D. C. (1998). Comparing an individual's test score against norms
derived from small samples. *The Clinical Neuropsychologist, 12*(4), 482-486.

``t = (case - mean(controls)) / (sd(controls) * sqrt(1 + 1/n))`` on ``n - 1`` df: the case is
treated as one draw from the controls' normal population, so the test asks whether a new
control would be as extreme (a prediction interval), not whether the means differ. Its p has
no floor set by ``n`` (unlike the rank of the case among the controls, floor ``1/(n + 1)``);
``n`` sets its df. It equals the pooled two-sample t with a group of one (Crawford &
Garthwaite 2012 show that the two are the same test and control the type I error).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["crawford_howell", "METHOD", "REFERENCE"]

REFERENCE = ("Crawford & Howell (1998), The Clinical Neuropsychologist 12:482-486")
METHOD = "Crawford & Howell's modified t (prediction interval), df = n_controls - 1"


def crawford_howell(case: float, controls, alternative: str = "greater",
                    level: float = 0.95) -> dict:
    """Crawford & Howell's test of ``case`` against ``controls``.

    Returns ``estimate`` (case - control mean), ``std_error`` (control SD x sqrt(1 + 1/n)),
    ``statistic`` (t), ``df`` (n - 1), ``p_value`` (``alternative``: greater | less |
    two-sided) and the two-sided ``level`` prediction interval of the difference
    ``conf_low, conf_high``; NaN with fewer than 2 controls or controls without spread.

    >>> r = crawford_howell(33.0, [50 - 10 * 7 ** 0.5] + [50.0] * 13 + [50 + 10 * 7 ** 0.5],
    ...                     alternative="less")
    >>> round(r["statistic"], 3), r["df"], round(r["p_value"], 3)
    (-1.646, 14.0, 0.061)
    """
    x = np.asarray(controls, dtype=float)
    n = x.size
    nan = dict(estimate=float(case - x.mean()) if n else np.nan, std_error=np.nan,
               statistic=np.nan, df=float(n - 1) if n > 1 else np.nan, p_value=np.nan,
               conf_low=np.nan, conf_high=np.nan)
    if n < 2:
        return nan
    sd = x.std(ddof=1)
    se = sd * np.sqrt(1 + 1 / n)
    if not se > 0:
        return nan
    est = float(case - x.mean())
    t, df = est / se, n - 1
    p = {"greater": stats.t.sf(t, df), "less": stats.t.cdf(t, df),
         "two-sided": 2 * stats.t.sf(abs(t), df)}[alternative]
    half = stats.t.ppf(0.5 + level / 2, df) * se
    return dict(estimate=est, std_error=float(se), statistic=float(t), df=float(df),
                p_value=float(p), conf_low=est - half, conf_high=est + half)
