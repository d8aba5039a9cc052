"""Linear mixed models (statsmodels MixedLM made robust) and the prompt-level masking model.

statsmodels' default optimiser chain can stop unconverged with wrong variances on random-slope
models, and its boundary warning uses an absolute threshold (0.01, in the data's units).
:func:`fit_lmm` therefore fits from a fresh start with several optimisers, keeps the highest
log-likelihood among the fits that pass an lme4-style convergence check, and judges the boundary
on the relative scale lme4 uses (random-effect SD / residual SD).

p-values are Wald z (normal reference), as statsmodels gives them; lme4 prints no p-values and
lmerTest would give Satterthwaite t tests instead. Every table says which in ``p_method``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from emostat.errors import InputError

OPTIMIZERS: tuple[str, ...] = ("lbfgs", "cg", "powell", "nm")
P_METHOD = "Wald z"
# lme4's tolerances: relative gradient (|H^-1 g| in the relative-Cholesky parameters, the same
# parameters statsmodels optimises with use_sqrt) and the singular-fit threshold on theta.
REL_GRAD_TOL = 2e-3
BOUNDARY_TOL = 1e-4


@dataclass
class LMMFit:
    """A fitted linear mixed model.

    Attributes
    ----------
    params, bse : pandas.Series
        Fixed-effect estimates and standard errors (statsmodels/patsy term names).
    cov_re : pandas.DataFrame
        Covariance matrix of the random effects of ``groups``.
    vcomp : pandas.Series
        Variances of the ``vc_formula`` components (empty when none).
    scale : float
        Residual variance.
    loglik : float
        Log-likelihood (REML criterion / -2 when ``reml``).
    converged, boundary : bool
        lme4-style convergence check passed; a random-effect SD is ~0 relative to the residual SD.
    optimizer : str
        The optimiser whose fit was kept.
    rel_grad : float
        max |H^-1 g| at the kept fit (lme4's relative gradient; converged when < 2e-3).
    attempts : pandas.DataFrame
        One row per optimiser tried: optimizer, converged, loglik, rel_grad, grad_norm, error.
    warnings : list of str
        Warnings raised while fitting the kept model, plus emostat's own.
    result : statsmodels MixedLMResults
        The kept statsmodels result (BLUPs, predictions, ...).
    """

    formula: str
    groups: str
    reml: bool
    params: pd.Series
    bse: pd.Series
    cov_re: pd.DataFrame
    vcomp: pd.Series
    scale: float
    loglik: float
    converged: bool
    boundary: bool
    optimizer: str
    rel_grad: float
    grad_norm: float
    nobs: int
    n_groups: dict
    attempts: pd.DataFrame
    result: object
    warnings: list = field(default_factory=list)
    re_formula: str | None = None
    vc_formula: dict | None = None

    # ---- tables -------------------------------------------------------------------------------
    @property
    def fixed(self) -> pd.DataFrame:
        """Fixed effects: term (R-style), estimate, std_error, statistic (z), p_value."""
        z = self.params / self.bse
        return pd.DataFrame({
            "term": [r_term(t) for t in self.params.index],
            "estimate": self.params.to_numpy(float),
            "std_error": self.bse.to_numpy(float),
            "statistic": z.to_numpy(float),
            "p_value": 2 * stats.norm.sf(np.abs(z.to_numpy(float))),
        })

    @property
    def random(self) -> pd.DataFrame:
        """Variance components like lme4's ``VarCorr``: group, term, variance, std_dev.

        One row per random effect of ``groups`` (its covariance matrix diagonal), one per
        ``vc_formula`` component, and ``Residual``. Correlations are in :attr:`cov_re`.
        """
        rows = []
        for name in self.cov_re.index:
            v = float(self.cov_re.loc[name, name])
            rows.append((self.groups, _re_term(name, self.groups), v))
        for name, v in self.vcomp.items():
            rows.append((name, "(Intercept)", float(v)))
        rows.append(("Residual", "", float(self.scale)))
        out = pd.DataFrame(rows, columns=["group", "term", "variance"])
        out["std_dev"] = np.sqrt(out["variance"].clip(lower=0))
        return out

    @property
    def sigma(self) -> float:
        return float(np.sqrt(self.scale))

    def tidy(self) -> pd.DataFrame:
        """broom.mixed-style table.

        Returns
        -------
        pandas.DataFrame
            effect ("fixed" | "ran_pars"), group ("" for fixed, the grouping factor or
            "Residual"), term (e.g. "(Intercept)", "sd__(Intercept)", "cor__(Intercept).Time",
            "sd__Observation"), estimate, std_error, statistic, p_value (NaN for ran_pars),
            p_method ("Wald z" on fixed rows, "" on ran_pars rows).
        """
        fx = self.fixed
        fx.insert(0, "group", "")
        fx.insert(0, "effect", "fixed")
        rows = []
        names = list(self.cov_re.index)
        sd = np.sqrt(np.clip(np.diag(self.cov_re.to_numpy(float)), 0, None))
        for i, a in enumerate(names):
            rows.append((self.groups, f"sd__{_re_term(a, self.groups)}", sd[i]))
        for i, a in enumerate(names):
            for j in range(i + 1, len(names)):
                c = self.cov_re.iloc[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else np.nan
                rows.append((self.groups, f"cor__{_re_term(a, self.groups)}."
                             f"{_re_term(names[j], self.groups)}", c))
        for name, v in self.vcomp.items():
            rows.append((name, "sd__(Intercept)", np.sqrt(max(float(v), 0.0))))
        rows.append(("Residual", "sd__Observation", self.sigma))
        rp = pd.DataFrame(rows, columns=["group", "term", "estimate"])
        rp.insert(0, "effect", "ran_pars")
        for c in ("std_error", "statistic", "p_value"):
            rp[c] = np.nan
        out = pd.concat([fx, rp], ignore_index=True)
        out["p_method"] = np.where(out["effect"] == "fixed", P_METHOD, "")
        return out

    @property
    def n_params(self) -> int:
        """Parameters counted as lme4 does: fixed + covariance parameters + residual SD."""
        k = len(self.cov_re)
        return len(self.params) + k * (k + 1) // 2 + len(self.vcomp) + 1

    def glance(self) -> pd.DataFrame:
        """One row: nobs, n_groups (of ``groups``), sigma, logLik, AIC, BIC (lme4's
        definitions, on the REML criterion when REML), REML, converged, boundary, optimizer,
        rel_grad."""
        aic = -2 * self.loglik + 2 * self.n_params
        bic = -2 * self.loglik + np.log(self.nobs) * self.n_params
        return pd.DataFrame([{
            "nobs": self.nobs, "n_groups": int(self.n_groups[self.groups]),
            "sigma": self.sigma, "logLik": self.loglik, "AIC": aic, "BIC": bic,
            "REML": self.reml, "converged": self.converged, "boundary": self.boundary,
            "optimizer": self.optimizer, "rel_grad": self.rel_grad,
        }])

    def summary(self, data_name: str = "data") -> str:
        """A text like lme4's ``summary(lmer(...))``, with Wald z p-values."""
        from emostat.summary import lmm_text

        return lmm_text(self, data_name=data_name)


# ---- helpers ------------------------------------------------------------------------------------
def r_term(name: str) -> str:
    """patsy term name -> R's: "Intercept" -> "(Intercept)", "x[T.b]" -> "xb"."""
    if name == "Intercept":
        return "(Intercept)"
    return re.sub(r"\[T\.([^\]]*)\]", r"\1", name)


def _re_term(name: str, groups: str) -> str:
    # statsmodels names the random intercept after the grouping factor
    return "(Intercept)" if name in (groups, "Intercept") else r_term(name)


def _gradient_check(model, packed: np.ndarray, free: np.ndarray) -> tuple[float, float]:
    """(max |H^-1 g|, |g|) of the profile log-likelihood over the free parameters.

    H by central differences of statsmodels' analytic score.
    """
    g = np.asarray(model.score(packed), float)
    gn = float(np.linalg.norm(g))
    idx = np.flatnonzero(free)
    if idx.size == 0:
        return 0.0, gn
    H = np.empty((idx.size, idx.size))
    for a, i in enumerate(idx):
        h = 1e-5 * max(1.0, abs(packed[i]))
        up, dn = packed.copy(), packed.copy()
        up[i] += h
        dn[i] -= h
        H[:, a] = (np.asarray(model.score(up))[idx] - np.asarray(model.score(dn))[idx]) / (2 * h)
    H = (H + H.T) / 2
    try:
        step = np.linalg.solve(H, g[idx])
    except np.linalg.LinAlgError:
        return float("inf"), gn
    return float(np.max(np.abs(step))), gn


def _theta_diag(model) -> np.ndarray:
    """Positions, in statsmodels' packed sqrt parameters, of the relative SDs: the diagonal of
    the Cholesky factor of cov_re / sigma^2, then sqrt(vc / sigma^2) (lme4's theta)."""
    k = model.k_re
    rows, cols = np.tril_indices(k)
    pos = [p for p, (r, c) in enumerate(zip(rows, cols)) if r == c]
    pos += list(range(len(rows), len(rows) + model.k_vc))
    return np.asarray(pos, dtype=int)


def _n_groups(model, groups: str) -> dict:
    out = {groups: len(model.group_labels)}
    if model.k_vc:
        for j, name in enumerate(model.exog_vc.names):
            out[name] = int(sum(int(np.any(m != 0, axis=0).sum()) for m in model.exog_vc.mats[j]))
    return out


def fit_lmm(data: pd.DataFrame, formula: str, groups: str, re_formula: str | None = None,
            vc_formula: dict | None = None, reml: bool = True,
            optimizers: tuple[str, ...] = OPTIMIZERS) -> LMMFit:
    """Fit a linear mixed model, trying several optimisers from a fresh start.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data; rows with missing values in the model's columns are dropped.
    formula : str
        Fixed-effects formula (patsy), e.g. ``"Weight ~ Time"``.
    groups : str
        Column of the top-level grouping factor.
    re_formula : str, optional
        Random effects of ``groups`` (default: random intercept); ``"1 + Time"`` for slopes.
    vc_formula : dict, optional
        Variance components nested in ``groups``, e.g. ``{"template:emotion": "0 + C(template)"}``
        gives ``(1 | emotion/template)``.
    reml : bool
        REML (default, as lme4) or ML.
    optimizers : tuple of str
        scipy optimisers to try, each from statsmodels' default start.

    Returns
    -------
    LMMFit
        The fit with the highest log-likelihood among those that converged (by statsmodels'
        flag and lme4's relative-gradient check, < 2e-3); if none converged, the best one,
        with ``converged=False`` and a warning.

    Examples
    --------
    >>> fit = fit_lmm(dietox, "Weight ~ Time", groups="Pig",
    ...               re_formula="1 + Time")  # doctest: +SKIP
    >>> fit.tidy()  # doctest: +SKIP
    """
    import statsmodels.formula.api as smf

    if groups not in data.columns:
        raise InputError(f"fit_lmm: grouping column {groups!r} not in data "
                         f"(has {list(data.columns)})")
    if not optimizers:
        raise ValueError("fit_lmm: give at least one optimiser")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(formula, data, groups=groups, re_formula=re_formula,
                            vc_formula=vc_formula, missing="drop")
    diag_pos = _theta_diag(model)
    attempts, fits = [], []
    for opt in optimizers:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, method=[opt])
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
                attempts.append(dict(optimizer=opt, converged=False, loglik=np.nan,
                                     rel_grad=np.nan, grad_norm=np.nan, error=str(exc)))
                continue
        packed = res.params_object.get_packed(use_sqrt=model.use_sqrt, has_fe=False)
        packed = np.asarray(packed, float)
        theta = np.abs(packed[diag_pos])
        free = np.ones(packed.size, bool)
        # like lme4, do not ask for a zero gradient at a boundary (singular) parameter
        free[diag_pos[theta < BOUNDARY_TOL]] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rel_grad, grad_norm = _gradient_check(model, packed, free)
        ok = bool(res.converged) and np.isfinite(res.llf) and rel_grad < REL_GRAD_TOL
        attempts.append(dict(optimizer=opt, converged=ok, loglik=float(res.llf),
                             rel_grad=rel_grad, grad_norm=grad_norm, error=""))
        fits.append((ok, float(res.llf), opt, res, theta, rel_grad, grad_norm,
                     [str(w.message) for w in caught]))
    attempts = pd.DataFrame(attempts)
    if not fits:
        raise InputError(f"fit_lmm: every optimiser failed for {formula!r}: "
                         f"{'; '.join(attempts['error'])}")
    good = [f for f in fits if f[0]] or fits
    ok, llf, opt, res, theta, rel_grad, grad_norm, msgs = max(good, key=lambda f: f[1])
    msgs = [m for m in msgs if "boundary of the parameter space" not in m]
    if not ok:
        msgs.append(f"no optimiser converged (best: {opt}, relative gradient {rel_grad:.3g})")
    boundary = bool(np.any(theta < BOUNDARY_TOL))
    if boundary:
        msgs.append("boundary (singular) fit: a random-effect SD is < 1e-4 x the residual SD")

    names = list(model.data.exog_re_names) if model.k_re else []
    cov_re = pd.DataFrame(np.asarray(res.cov_re, float), index=names, columns=names)
    vc_names = list(model.exog_vc.names) if model.k_vc else []
    vcomp = pd.Series(np.asarray(res.vcomp, float), index=vc_names, dtype=float)
    return LMMFit(
        formula=formula, groups=groups, reml=reml,
        params=pd.Series(np.asarray(res.fe_params, float), index=model.exog_names),
        bse=pd.Series(np.asarray(res.bse_fe, float), index=model.exog_names),
        cov_re=cov_re, vcomp=vcomp, scale=float(res.scale), loglik=llf, converged=ok,
        boundary=boundary, optimizer=opt, rel_grad=rel_grad, grad_norm=grad_norm,
        nobs=int(model.nobs), n_groups=_n_groups(model, groups), attempts=attempts,
        result=res, warnings=msgs, re_formula=re_formula, vc_formula=vc_formula,
    )


# ---- the masking model --------------------------------------------------------------------------
PROMPT = "template:emotion"


def masking_mixed_model(accuracy: pd.DataFrame, ks=None,
                        optimizers: tuple[str, ...] = OPTIMIZERS
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prompt-level LMM of attribute-specific vs random masking, per k.

    Model (lme4 notation): ``accuracy ~ condition + (1 | emotion/template)`` with condition
    "random" the reference level, so the ``conditionattribute`` estimate is the mean accuracy
    change of attribute-specific masking relative to random masking (a proportion; negative =
    attribute-specific hurts more). Fitted as statsmodels groups=emotion, random intercept,
    variance component ``template:emotion`` = ``0 + C(template)``.

    Rows used at each k: condition "attribute" and "random", one row per emotion x template x
    attribute x condition. Several random draws of one cell are averaged (the release has one,
    draw 0), so each prompt contributes 14 attribute-specific and 14 random rows.

    Parameters
    ----------
    accuracy : pandas.DataFrame
        Dataset "accuracy" (columns emotion, template, condition, attribute, k, draw, accuracy).
    ks : iterable of int, optional
        k values to fit (default: every k with attribute-specific rows).

    Returns
    -------
    tidy : pandas.DataFrame
        Schema "masking_mixed_model": k, effect, group, term, estimate, std_error, statistic,
        p_value, plus p_method ("Wald z").
    glance : pandas.DataFrame
        One row per k: k, nobs, n_groups, n_prompts, sigma, logLik, AIC, BIC, REML, converged,
        boundary, optimizer, rel_grad.
    """
    need = ["emotion", "template", "condition", "attribute", "k", "accuracy"]
    missing = [c for c in need if c not in accuracy.columns]
    if missing:
        raise InputError(f"masking_mixed_model: accuracy table lacks column(s) {missing}")
    acc = accuracy[accuracy["condition"].isin(["attribute", "random"])]
    if ks is None:
        ks = sorted(acc.loc[acc["condition"] == "attribute", "k"].unique())
    tidies, glances = [], []
    for k in ks:
        sub = acc[acc["k"] == k]
        have = set(sub["condition"])
        if have != {"attribute", "random"}:
            raise InputError(f"masking_mixed_model: k = {k} needs both attribute and random "
                             f"rows (has {sorted(have)})", )
        cells = (sub.groupby(["emotion", "template", "attribute", "condition"], observed=True)
                 ["accuracy"].mean().reset_index())
        cells["emotion"] = cells["emotion"].astype(str)
        cells["template"] = cells["template"].astype(str)
        cells["condition"] = pd.Categorical(cells["condition"], ["random", "attribute"])
        fit = fit_lmm(cells, "accuracy ~ condition", groups="emotion", re_formula="1",
                      vc_formula={PROMPT: "0 + C(template)"}, optimizers=optimizers)
        t = fit.tidy()
        t.insert(0, "k", int(k))
        tidies.append(t)
        g = fit.glance()
        g.insert(0, "k", int(k))
        g.insert(3, "n_prompts", fit.n_groups[PROMPT])
        glances.append(g)
    if not tidies:
        raise InputError("masking_mixed_model: no k with attribute-specific rows")
    return pd.concat(tidies, ignore_index=True), pd.concat(glances, ignore_index=True)
