"""Mixed models (lme4 port ``mixedlm``); the masking models built on them are in
:mod:`emostat.analysis.masking.models`.

:func:`fit_mixed` fits an lme4-style formula as an LMM (``lmer``, REML, Satterthwaite df for the
fixed effects) or a binomial GLMM (``glmer``, Laplace, Wald z). It never raises for a model that
cannot be fitted as asked:

- a grouping factor with one level, or with the same groups as another factor of the model (one
  fold: prompt = concept), is dropped before fitting;
- a singular fit is refitted without its non-identifiable part (a random slope, or a term whose
  SD is 0), repeatedly; the result has ``status = "singular"`` and says what was dropped;
- a fit whose tests had to fall back (the Satterthwaite df step failing after the fit: Wald z;
  a GLMM whose Hessian SE fails: the information-matrix SE) has ``status = "fallback"`` (unless
  singular) and the message says why; ``p_method`` names the method used;
- a fit that still fails gives ``status = "failed"`` with the reason, and NaN estimates.

What a reader needs beside the coefficients (groups, R², ICC, QQ data) is in
:mod:`emostat.analysis.engines.mixedreport`; formula handling in
:mod:`emostat.analysis.engines.mixedformula`.

GLMMs are fitted from several optimisers and starts and the highest log-likelihood is kept: on a
crossed binomial model mixedlm's default optimiser can stop short of lme4's optimum
(``../shared/docs/environment.md``). GLMM standard errors are lme4's default (``se =
"hessian"``: the inverse finite-difference Hessian of the Laplace deviance over theta and beta,
:mod:`emostat.analysis.engines.glmm_hessian`); ``se = "information"`` is lme4's ``use.hessian = FALSE``
(mixedlm's own ``vcov``). ``p_method`` and ``conf_method`` name which.

Several terms may share a grouping factor, e.g. separate variances for two kinds of mask:
``(0 + is_attribute | mask) + (0 + is_random | mask)`` (numeric 0/1 columns); their tidy rows
are groups ``mask`` and ``mask.1``, as lme4 names them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from emostat.analysis.engines import mixedformula as mf
from emostat.analysis.engines import mixedreport
from emostat.analysis.engines.laplace_path import mode_solve
from emostat.errors import InputError

__all__ = ["MixedFit", "fit_mixed", "CONTRAST", "SE_METHODS"]

P_METHOD = {"gaussian": "Satterthwaite t", "binomial": "Wald z"}
SE_METHODS = {
    "hessian": "SE from the Hessian of the Laplace deviance over theta and beta, lme4 default",
    "information": "SE from the fixed-effect information given theta, lme4 use.hessian = FALSE"}
# GLMM starts: (optimizer, nAGQ0initStep, mode solve). The third breaks a disagreement of the
# first two on mixedlm's Python conditional-mode solve (emostat.analysis.engines.laplace_path):
# the native one can stop short of the optimum, and there its starts disagree (by 3-13
# log-likelihood units on the default run's item GLMMs, where the Python start reaches
# lme4's optimum). The Python solve is slower per evaluation, so it runs only then, and not
# when neither native start converged: on the test suite's fake runs (random answers, near
# separation) the Python start did not converge either and found no higher likelihood.
GLMM_STARTS = (("COBYQA", True, "native"), ("bobyqa", False, "native"),
               ("bobyqa", False, "python"))
PYTHON_SOLVE = "(Python mode solve)"     # the attempts' and the fit's optimizer label
# Two converged starts whose log-likelihoods differ by less than this settle a GLMM.
LOGLIK_AGREE = 1e-4
SINGULAR_TOL = 1e-4          # lme4's isSingular tolerance on the relative Cholesky diagonal
CONTRAST = "attribute_vs_random"   # 1 = random mask, 0 = attribute mask: coef = random − attribute
TIDY = ["effect", "group", "term", "estimate", "std_error", "statistic", "df", "p_value",
        "conf_low", "conf_high", "p_method", "conf_method", "status", "message"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# ---- the fit ------------------------------------------------------------------------------------
@dataclass
class MixedFit:
    """A mixed model fitted by :func:`fit_mixed`.

    Attributes
    ----------
    formula : str
        The model asked for.
    fitted_formula : str
        The model actually fitted (differs when a term was dropped).
    family : {"gaussian", "binomial"}
    reml : bool
    status : {"ok", "singular", "fallback", "failed"}
    message : str
        What was dropped, which method a test fell back to, or why the fit failed.
    result : mixedlm result or None
        The kept ``LmerResult``/``GlmerResult`` (None when failed).
    attempts : pandas.DataFrame
        One row per fit tried: formula, optimizer, logLik, converged, singular, error.
    bars, data
        The random terms fitted and the rows they were fitted on (for the effect sizes and
        the QQ data).
    """

    formula: str
    fitted_formula: str
    family: str
    reml: bool
    status: str
    message: str
    result: object = None
    attempts: pd.DataFrame = field(default_factory=pd.DataFrame)
    optimizer: str = ""
    fixed_terms: list = field(default_factory=list)
    se: str = "hessian"
    bars: list = field(default_factory=list, repr=False)
    data: pd.DataFrame | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def _solve(self):
        """The mode solve of the start that gave the fit (its Hessian is evaluated on it)."""
        return mode_solve(str(self.optimizer or "").endswith(PYTHON_SOLVE))

    def vcov(self, se: str | None = None) -> tuple[np.ndarray, str, str]:
        """(vcov of the fixed effects, the SE method used, a note). GLMM: ``se`` "hessian"
        (lme4's default; falls back to "information", saying why, when the Hessian is not
        positive definite) or "information" (lme4 ``use.hessian = FALSE``); LMM: the fit's."""
        se = self.se if se is None else se
        if se not in SE_METHODS:
            raise ValueError(f"se must be one of {sorted(SE_METHODS)}, got {se!r}")
        if self.result is None:
            raise ValueError("vcov: the fit failed")
        if self.family == "gaussian" or se == "information":
            with self._solve():
                return np.asarray(self.result.vcov(), float), se, ""
        if se not in self._cache:
            from emostat.analysis.engines.glmm_hessian import hessian_vcov

            try:
                with self._solve():
                    self._cache[se] = hessian_vcov(self.result)
            except Exception as exc:   # noqa: BLE001 - a failed Hessian is a note
                self._cache[se] = (None, f"Hessian failed ({_first_line(exc)})")
        V, note = self._cache[se]
        if V is None:
            with self._solve():
                info = np.asarray(self.result.vcov(), float)
            return info, "information", f"{note}: SE from the information matrix"
        return V, se, ""

    def tidy(self, level: float = 0.95, unit: str = "") -> pd.DataFrame:
        """broom.mixed columns plus ``df``, ``conf_low/high``, ``p_method``, ``conf_method``,
        status, message.

        Fixed rows: Satterthwaite t (LMM; ``df`` = Satterthwaite df) or Wald z (GLMM; ``df``
        NaN; SE per :meth:`vcov`, named in ``p_method``); the CI is estimate ± the two-sided
        ``level`` quantile of that reference × SE, from the same fit (``conf_method`` says so
        and names ``unit``, the random units of the p). ran_pars rows: ``sd__<term>`` /
        ``cor__<a>.<b>`` per group, ``sd__Observation`` for the residual (LMM). A failed fit
        gives one NaN row per fixed term asked for.
        """
        status, message, method = self.status, self.message, P_METHOD[self.family]
        out = None
        if self.result is not None:
            out, note = self._rows()
            if out is None:
                status = "failed"
            elif note:
                method, status = P_METHOD["binomial"], "fallback" if status == "ok" else status
            message = _join(message, note)
        if out is not None and self.family == "binomial":
            out, method, note = self._with_se(out)
            message = _join(message, note)
        if out is None:
            out = pd.DataFrame({"effect": "fixed", "group": "", "term": self.fixed_terms})
            for c in TIDY[3:10]:
                out[c] = np.nan
        fx = out["effect"] == "fixed"
        if method.startswith(P_METHOD["binomial"]):
            out["df"] = np.where(fx, np.nan, out["df"])
            q = stats.norm.ppf(0.5 + level / 2)
        else:
            q = stats.t.ppf(0.5 + level / 2, out["df"].astype(float))
        half = np.where(fx, q * out["std_error"].astype(float), np.nan)
        out["conf_low"] = out["estimate"] - half
        out["conf_high"] = out["estimate"] + half
        out["p_method"] = np.where(fx, method + ", two-sided", "")
        ci = (f"{100 * level:g}% Wald z interval" if method.startswith("Wald")
              else f"{100 * level:g}% {method} interval")
        where = f"same fit as the p, random units {unit}" if unit else "same fit as the p"
        out["conf_method"] = np.where(fx, f"{ci}, estimate ± quantile × SE ({where})", "")
        out["status"], out["message"] = status, message
        return out[TIDY].reset_index(drop=True).astype({c: float for c in TIDY[3:10]})

    def _rows(self) -> tuple[pd.DataFrame | None, str]:
        """(rows, note), computed once: the fit's tidy rows (Satterthwaite df for LMMs); Wald z
        rows from the fit's vcov when the df step fails after the fit (the note says so); None
        when both fail."""
        if "rows" not in self._cache:
            try:
                self._cache["rows"] = (self._tidy_result(), "")
            except Exception as exc:   # noqa: BLE001 - the df step can fail after the fit
                note = f"Satterthwaite df failed ({_first_line(exc)}): Wald z"
                try:
                    rows = self._tidy_wald()
                except Exception as exc2:  # noqa: BLE001
                    rows, note = None, (f"tidy failed after the fit ({_first_line(exc)}; Wald: "
                                        f"{_first_line(exc2)})")
                self._cache["rows"] = (rows, note)
        rows, note = self._cache["rows"]
        return (None if rows is None else rows.copy()), note

    def _tidy_result(self) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = self.result.tidy(effects=["fixed", "ran_pars"])
        out = raw.rename(columns={"std.error": "std_error", "p.value": "p_value"})
        out["group"] = out["group"].where(out["effect"] != "fixed", "").fillna("")
        for c in ("statistic", "df"):
            if c not in out.columns:
                out[c] = np.nan
        return out

    def _with_se(self, out: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
        """GLMM fixed rows with the SE of :meth:`vcov`; (rows, p method, note)."""
        V, used, note = self.vcov()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = list(pd.Series(self.result.fixef(), dtype=float).index)
        se = pd.Series(np.sqrt(np.diag(V)), index=names)
        fx = out["effect"] == "fixed"
        out = out.copy()
        out.loc[fx, "std_error"] = out.loc[fx, "term"].map(se).to_numpy(float)
        z = out.loc[fx, "estimate"].astype(float) / out.loc[fx, "std_error"].astype(float)
        out.loc[fx, "statistic"] = z
        out.loc[fx, "p_value"] = 2 * stats.norm.sf(np.abs(z))
        return out, f"{P_METHOD['binomial']} ({SE_METHODS[used]})", note

    def _tidy_wald(self) -> pd.DataFrame:
        """Fixed effects with Wald z from the fit's own vcov (when a df method fails)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fe = pd.Series(self.result.fixef(), dtype=float)
            se = np.sqrt(np.diag(np.asarray(self.result.vcov(), dtype=float)))
        z = fe.to_numpy() / se
        return pd.DataFrame({"effect": "fixed", "group": "", "term": list(fe.index),
                             "estimate": fe.to_numpy(), "std_error": se, "statistic": z,
                             "df": np.nan, "p_value": 2 * stats.norm.sf(np.abs(z))})

    def glance(self) -> pd.DataFrame:
        """One row: nobs, groups (lme4's "item, 60; mask, 16"), logLik, AIC, BIC, REML,
        converged, singular, optimizer, fitted_formula, status, message, and the effect sizes of
        :func:`emostat.analysis.engines.mixedreport.effect_sizes` (``r2_marginal,
        r2_conditional, icc_adjusted, icc_conditional, var_fixed, var_random, var_residual,
        r2_method``)."""
        row = dict(nobs=0, groups="", logLik=np.nan, AIC=np.nan, BIC=np.nan,
                   REML=self.reml and self.family == "gaussian", converged=False,
                   singular=False, optimizer=self.optimizer, fitted_formula=self.fitted_formula,
                   status=self.status, message=self.message)
        if self.result is not None:
            r = self.result
            try:
                g = r.glance().iloc[0]
                row.update(nobs=int(g["nobs"]), logLik=float(g["log_lik"]),
                           AIC=float(g["AIC"]), BIC=float(g["BIC"]),
                           converged=bool(g["converged"]), singular=bool(g["singular"]),
                           groups=mixedreport.group_counts(self))
            except Exception as exc:   # noqa: BLE001 - a glance step failing is a message
                row["message"] = "; ".join(m for m in (self.message,
                                                       f"glance failed: {_first_line(exc)}")
                                           if m)
        row.update(mixedreport.effect_sizes(self))
        return pd.DataFrame([row])

    def qq(self, seed: int = 0) -> pd.DataFrame:
        """Normal QQ points of the residuals and of each random term's modes
        (:func:`emostat.analysis.engines.mixedreport.qq_data`)."""
        return mixedreport.qq_data(self, seed=seed)

    def summary(self) -> str:
        """lme4-style text from mixedlm (Satterthwaite df for LMMs), then the Nakagawa R² and
        ICC, and the status."""
        head = f"status: {self.status}" + (f" ({self.message})" if self.message else "")
        if self.result is None:
            return head
        g = self.glance().iloc[0]
        r2 = (f"R2 marginal {g['r2_marginal']:.4f}, conditional {g['r2_conditional']:.4f}; "
              f"ICC adjusted {g['icc_adjusted']:.4f}, conditional {g['icc_conditional']:.4f} "
              f"({g['r2_method']})" if np.isfinite(g["r2_marginal"]) else g["r2_method"])
        return f"{self.result.summary()}\n{r2}\n{head}"


def _singular_part(result, bars: list[mf.Bar], family: str) -> tuple[int, list[str]] | None:
    """(index of a bar, its components to drop) for the most degenerate term, or None.

    Components are judged on lme4's scale: the diagonal of the Cholesky factor of each term's
    covariance relative to the residual SD (GLMM: to 1), below 1e-4 = non-identifiable.
    """
    vc = result.VarCorr()
    sigma = float(result.sigma) if family == "gaussian" else 1.0
    worst = None
    for i, b in enumerate(bars):
        try:
            cov = np.atleast_2d(np.asarray(mf.vc_group(vc, b).cov, float))
        except (KeyError, ValueError, AttributeError):
            continue
        names = (["(Intercept)"] if b.intercept else []) + b.slopes
        d = []
        for j in range(len(cov)):               # conditional variance given the earlier ones
            c = cov[j, :j]
            cond = cov[j, j] - (c @ np.linalg.pinv(cov[:j, :j]) @ c if j else 0.0)
            d.append(np.sqrt(max(cond, 0.0)) / sigma)
        d = np.asarray(d)
        bad = [n for n, x in zip(names, d) if x < SINGULAR_TOL]
        if bad and (worst is None or d.min() < worst[2]):
            worst = (i, bad, d.min())
    return None if worst is None else (worst[0], worst[1])


def _fit_once(formula: str, data: pd.DataFrame, family: str, reml: bool):
    """Best mixedlm fit over the starts (one for LMMs; GLMMs stop once two converged starts
    agree, :data:`LOGLIK_AGREE`, see :data:`GLMM_STARTS`) and the attempts table rows."""
    import mixedlm

    rows, best = [], None
    starts = GLMM_STARTS if family == "binomial" else (("auto", None, "native"),)
    for opt, init, solve in starts:
        if solve == "python" and not any(r["converged"] for r in rows):
            break               # nothing converged to improve on (see GLMM_STARTS)
        label = f" {PYTHON_SOLVE}" if solve == "python" else ""
        with warnings.catch_warnings(), mode_solve(solve == "python", warm=True):
            warnings.simplefilter("ignore")
            try:
                if family == "binomial":
                    res = mixedlm.glmer(formula, data, family=mixedlm.families.Binomial(),
                                        control=mixedlm.glmerControl(optimizer=opt,
                                                                     nAGQ0initStep=init))
                else:
                    res = mixedlm.lmer(formula, data, REML=reml)
                ll = float(res.glance().iloc[0]["log_lik"])
                rows.append(dict(formula=formula,
                                 optimizer=str(getattr(res, "optimizer", opt)) + label,
                                 logLik=ll, converged=bool(res.converged),
                                 singular=bool(res.is_singular()), error=""))
                if np.isfinite(ll) and (best is None or ll > best[1]):
                    best = (res, ll, rows[-1]["optimizer"])
            except Exception as exc:   # noqa: BLE001 - any failure becomes a "failed" row
                rows.append(dict(formula=formula, optimizer=opt + label, logLik=np.nan,
                                 converged=False, singular=False,
                                 error=f"{type(exc).__name__}: {exc}"))
        ok = [r["logLik"] for r in rows if r["converged"] and np.isfinite(r["logLik"])]
        if len(ok) >= 2 and max(ok) - min(ok) < LOGLIK_AGREE:
            break
    return best, rows


def fit_mixed(data: pd.DataFrame, formula: str, family: str = "gaussian",
              reml: bool = True, se: str = "hessian") -> MixedFit:
    """Fit an lme4-style mixed model; never raises for a model that cannot be fitted as asked.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data; rows with missing values in the model's columns are dropped.
    formula : str
        lme4 formula, e.g. ``"y ~ x + (1 | item) + (1 + x | mask)"``; ``(1 | a/b)`` nesting is
        expanded to ``(1 | a) + (1 | a:b)``. Use numeric (0/1) predictors to name terms.
    family : {"gaussian", "binomial"}
        LMM (``lmer``) or binomial GLMM with logit link (``glmer``, Laplace).
    reml : bool
        REML for LMMs (default, as lme4).
    se : {"hessian", "information"}
        GLMM standard errors: lme4's default (inverse Hessian of the Laplace deviance over
        theta and beta) or lme4's ``use.hessian = FALSE`` (the fixed-effect information
        given theta). Ignored for LMMs.

    Returns
    -------
    MixedFit
        ``tidy()`` and ``glance()`` tables; ``status`` ok | singular | failed.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(10), 20)
    >>> x = np.tile([0.0, 1.0], 100)
    >>> d = pd.DataFrame({"g": g, "x": x,
    ...                   "y": 1 + 0.5 * x + rng.normal(0, 1, 10)[g] + rng.normal(0, 1, 200)})
    >>> fit = fit_mixed(d, "y ~ x + (1 | g)")
    >>> fit.status
    'ok'
    >>> t = fit.tidy().set_index("term")
    >>> t.loc["x", "p_method"], bool(t.loc["x", "df"] > 150)
    ('Satterthwaite t, two-sided', True)
    """
    if family not in P_METHOD:
        raise ValueError(f"family must be gaussian or binomial, got {family!r}")
    if se not in SE_METHODS:
        raise ValueError(f"se must be one of {sorted(SE_METHODS)}, got {se!r}")
    if "||" in formula:
        raise InputError(f"fit_mixed: {formula!r} has '||' (uncorrelated random effects), "
                         "which this engine cannot fit as such; write separate terms, e.g. "
                         "(1 | g) + (0 + x | g)")
    lhs, fixed, bars = mf.parse(formula)
    if "(" in fixed or ")" in fixed:
        raise InputError(f"fit_mixed: {formula!r}: function calls in the fixed part (e.g. "
                         "dummy(), C()) are not supported; add numeric 0/1 columns instead")
    unknown = [c for c in re.split(r"[^\w.]+", fixed)
               if c and not c.isdigit() and c not in data.columns]
    if unknown:
        raise InputError(f"fit_mixed: fixed effect(s) {unknown} of {formula!r} are not columns "
                         f"of the data (has {list(data.columns)})")
    used = [lhs] + [c for c in re.split(r"[^\w.]+", fixed) if c in data.columns]
    used += [c.strip() for b in bars for c in b.group.split(":") + b.slopes]
    missing = [c for c in dict.fromkeys(used) if c and c not in data.columns]
    if missing:
        raise InputError(f"fit_mixed: column(s) {missing} of {formula!r} not in data "
                         f"(has {list(data.columns)})")
    data = data.dropna(subset=list(dict.fromkeys(used))).reset_index(drop=True)
    fit = MixedFit(formula=formula, fitted_formula=formula, family=family, reml=reml,
                   status="failed", message="", fixed_terms=mf.fixed_terms(fixed), se=se)
    if data.empty:
        fit.message = "no complete rows"
        return fit
    bars, notes = mf.identifiable(data, bars)
    attempts = []
    while True:
        if not bars:
            fit.message = "; ".join(notes + ["no identifiable random effect left"])
            break
        current = mf.formula_text(lhs, fixed, bars)
        best, rows = _fit_once(current, data, family, reml)
        attempts += rows
        if best is None:
            fit.message = "; ".join(notes + [f"{current}: {rows[-1]['error']}"])
            break
        res, _, opt = best
        part = _singular_part(res, bars, family) if res.is_singular() else None
        if part is None:
            fit.result, fit.optimizer, fit.fitted_formula = res, opt, current
            if res.is_singular():
                notes.append("singular fit (no single term to drop)")
            fit.status = "singular" if notes else "ok"
            if not res.converged:
                notes.append("optimizer did not report convergence")
            fit.message = "; ".join(notes)
            break
        i, comps = part
        b = bars[i]
        if len(bars) == 1 and len(comps) == len(b.slopes) + b.intercept:
            # nothing would be left to fit: keep the boundary fit (fixed effects = OLS)
            fit.result, fit.optimizer, fit.fitted_formula = res, opt, current
            fit.status = "singular"
            fit.message = "; ".join(notes + [f"singular: {b.text()} has variance 0 (kept)"])
            break
        keep = [c for c in (["1"] if b.intercept else []) + b.slopes
                if not (c == "1" and "(Intercept)" in comps) and c not in comps]
        if keep:
            expr = keep if "1" in keep else ["0"] + keep
            bars[i] = mf.Bar(expr, b.group)
            notes.append(f"singular: {b.text()} refitted as {bars[i].text()}")
        else:
            bars.pop(i)
            notes.append(f"singular: dropped {b.text()} (variance 0)")
    fit.attempts = pd.DataFrame(attempts)
    if fit.result is not None:
        fit.bars, fit.data = list(bars), data
        _settle(fit)
    return fit


def _settle(fit: MixedFit) -> None:
    """Status and message that say what the fit's tests rest on: a df step failing after the
    fit (Wald z instead of Satterthwaite t) or a GLMM whose Hessian SE fails (the
    information-matrix SE instead) is ``fallback`` (``singular`` stays), and the message says
    why; tidy rows that cannot be computed at all make the fit ``failed``."""
    rows, note = fit._rows()
    if rows is None:
        fit.status = "failed"
    if fit.family == "binomial" and fit.se == "hessian" and rows is not None:
        _, used, se_note = fit.vcov()
        note = _join(note, se_note if used != fit.se else "")
    if note and fit.status == "ok":
        fit.status = "fallback"
    fit.message = _join(fit.message, note)


def _join(message: str, note: str) -> str:
    """``message; note`` (note left out when empty or already said)."""
    if not note or note in message:
        return message
    return f"{message}; {note}" if message else note
