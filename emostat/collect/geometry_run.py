"""``emostat geometry``: concept vectors, RSA, PCA, probes and steering on one model.

Writes, under ``OUT/results/`` (Parquet with provenance): ``geometry_vectors``,
``geometry_layer_rsa``, ``geometry_pca``, ``geometry_probes``, ``geometry_probe_attributes``,
``geometry_steering`` (item x vector x scale) and ``geometry_steering_test`` (decoders);
``OUT/geometry_timing.json`` holds the time of each step. With ``sites=("residual", "ffn")``
the vectors, RSA and PCA are also computed from the FFN output (rows ``site = "ffn"``,
role ``supporting``: the residual stream's rows stay the record).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io
from emostat.analysis.geometry.layers import (attribute_rdms, concept_rdms, concept_vectors, layer_rsa,
                                       pca_attributes, pca_scores, vectors_table)
from emostat.analysis.geometry.attribute_probes import attribute_probes
from emostat.analysis.geometry.probes import probe_layers
from emostat.analysis.geometry.steering import steering_test
from emostat.collect.killhook import kill_for_test
from emostat.collect.steering_grid import steering_grid
from emostat.errors import InputError


@dataclass
class GeometryOptions:
    """What one geometry run does (defaults: the default profile; ``quick()`` the small one)."""

    n_perm: int = 999                 # concept-label permutations (RSA, PCA)
    n_perm_probe: int = 999           # within-group shuffles, each a full cross-validation
    probe_layers: int | None = None   # evenly spaced layers probed (None: all)
    logistic_layers: int = 10         # evenly spaced probed layers that get the logistic probe
    n_splits: int = 5
    position: str = "mean"
    steer_layer: int | None = None    # None: the middle layer, fixed before the data are seen
    scales: tuple = (0.25, 0.5, 1.0)  # x the residual norm at the answer position
    n_random: int = 20                # random directions on the data manifold
    n_isotropic: int = 5              # isotropic Gaussian directions (off the manifold)
    n_items: int | None = None        # held-out items, spread over concepts (None: 2/concept)
    metric: str = "correlation"       # or "cosine", "euclidean", "crossval" (cross-validated
    crossval_folds: int = 4           # squared distance over stimulus folds: unbiased, 0 = none)
    sites: tuple = ("residual",)      # + "ffn": vectors, RSA and PCA of the FFN output too
    attribute_probes: bool = True     # ridge regression probes of every attribute
    extra: dict = field(default_factory=dict)

    @classmethod
    def quick(cls, **kw):
        base = dict(probe_layers=10, logistic_layers=3, n_items=16, n_perm_probe=199)
        return cls(**{**base, **kw})


MIN_GROUPS = 2   # grouped folds need two groups at least (emostat.analysis.geometry.probes.group_folds)


def _usable(stimuli: pd.DataFrame, col: str) -> bool:
    """A filled column with at least :data:`MIN_GROUPS` values, not one value per stimulus."""
    if col not in stimuli.columns:
        return False
    v = stimuli[col].astype(str)
    return bool((v.str.len() > 0).all()) and MIN_GROUPS <= v.nunique() < len(v)


def stimulus_groups(stimuli: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """Groups for the probe folds and shuffles: ``source``, else ``setting`` (topic); (None,
    "none") without either (the probes then use plain folds and shuffles over all stimuli).

    A column is used only when it is filled and has at least :data:`MIN_GROUPS` distinct
    values, not one per stimulus (a space whose stimuli share one ``source`` has nothing to
    group by)."""
    for col in ("source", "setting"):
        if _usable(stimuli, col):
            return stimuli[col].astype(str).to_numpy(), col
    return None, "none"


def control_types(stimuli: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """Stimulus types of the probe's control task (a consistent random label per type):
    ``template``, else ``setting``, else ``source`` (the first that recurs); (None, "none")."""
    for col in ("template", "setting", "source"):
        if _usable(stimuli, col):
            return stimuli[col].astype(str).to_numpy(), col
    return None, "none"


def layer_rdms(X, labels, concepts, V, opt: GeometryOptions, seed) -> np.ndarray:
    """Concept RDMs per layer: of the concept vectors (``opt.metric``), or cross-validated over
    stimulus folds (``"crossval"``, :mod:`emostat.analysis.engines.crossnobis`)."""
    if opt.metric != "crossval":
        return concept_rdms(V, opt.metric)
    from emostat.analysis.engines.crossnobis import crossval_rdms, stratified_folds

    k = min(opt.crossval_folds, int(pd.Series(labels).value_counts().min()))
    return crossval_rdms(X, labels, stratified_folds(labels, k, seed or 0), concepts)


def run_geometry(out, model=None, stimuli: pd.DataFrame | None = None, means=None,
                 similarity=None, words=None, options: GeometryOptions | None = None,
                 seed: int | None = 0, quiet: bool = False, lm=None, tables_dir=None,
                 prov_extra: dict | None = None, record_root=None) -> dict:
    """Run the whole geometry on one model and write its tables; returns the headline numbers.

    Without ``tables_dir`` (``emostat geometry``) the tables and their claims are written into a
    staging folder that replaces ``out/results`` whole (:mod:`emostat.resultsdir`): a killed
    run leaves the earlier results or none, never some of the tables.

    Parameters
    ----------
    stimuli : DataFrame ``id, concept, text`` (optional ``source``/``setting``); default the
        shipped situations.
    means : DataFrame concepts x attributes (index = concepts in analysis order); default the
        shipped human means.
    similarity : array [n_pairs] of mean human dissimilarities (optional; tested like an
        attribute RDM under the name ``similarity``).
    words : concept -> word used in prompts (default: the concept name).
    tables_dir : folder of the tables (default ``out/results``); ``prov_extra`` is added to
        their provenance (a collection's run record); ``record_root`` (a collection's run
        folder) gets each table's record (:func:`emostat.io.write_table`).
    """
    kw = dict(model=model, stimuli=stimuli, means=means, similarity=similarity, words=words,
              options=options, seed=seed, quiet=quiet, lm=lm, prov_extra=prov_extra,
              record_root=record_root)
    if tables_dir is not None:
        return _geometry(out, Path(tables_dir), standalone=False, **kw)[0]
    from emostat.resultsdir import replace_results, staging

    io.check_writable(out)                                           # before any work
    with staging(out) as tmp:
        summary, prov = _geometry(out, tmp, standalone=True, **kw)
        claims = geometry_claims(tmp, prov)      # its claims, decided and stored beside them
        replace_results(tmp, Path(out) / "results", quiet=quiet)
    if not quiet:
        from emostat.console import headline as claims_text

        print(claims_text(claims))
        print(f"\nresults: {Path(out) / 'results'}  ({summary['timing_s']['total']:.0f} s)")
    return summary


def _geometry(out, res: Path, standalone: bool, model, stimuli, means, similarity, words,
              options, seed, quiet, lm, prov_extra, record_root) -> tuple[dict, dict]:
    """The geometry's tables written into ``res``; returns the headline numbers and the
    tables' provenance."""
    from emostat.collect.geometry import residual_states
    from emostat.collect.models import load_model

    opt = options or GeometryOptions()
    if not standalone:
        io.check_writable(res)                                       # before any work
    seed = 0 if seed is None else int(seed)
    t0 = time.perf_counter()
    timing = {}
    if stimuli is None or means is None:
        from emostat.analysis.human.humanspace import load_shipped_human
        from emostat.collect.stimuli import read_stimuli

        if stimuli is None:
            stimuli = read_stimuli().rename(columns={"emotion": "concept"})
        if means is None:
            hs = load_shipped_human()
            means, similarity = hs.means, hs.mean_rdm if similarity is None else similarity
    concepts = [str(c) for c in means.index]
    words = words or {c: c for c in concepts}
    stimuli = stimuli[stimuli["concept"].isin(concepts)].reset_index(drop=True)
    if stimuli.empty:
        raise InputError("stimuli: none of the stimuli belong to the space's concepts")
    lm = lm or load_model(model, tasks=())          # the residual stream needs no task head
    timing["load"] = time.perf_counter() - t0
    prov = io.provenance(**{"model": lm.identity, "seed": seed, **(prov_extra or {}),
                            "geometry": vars(opt) | {"extra": None},
                            "n_stimuli": len(stimuli), "concepts": len(concepts)})

    def write(df, name):
        io.write_table(df, res / f"{name}.parquet", prov=prov, dataset=name,
                       record_root=record_root)
        kill_for_test("geometry")

    unknown = sorted(set(opt.sites) - {"residual", "ffn"})
    if unknown or "residual" not in opt.sites:
        raise InputError(f"geometry sites: expected 'residual' and optionally 'ffn', got "
                         f"{list(opt.sites)}")
    t = time.perf_counter()
    X = residual_states(lm, stimuli["text"].tolist(), position=opt.position)
    timing["residuals"] = time.perf_counter() - t
    labels = stimuli["concept"].to_numpy()
    L = X.shape[0]

    t = time.perf_counter()
    human = attribute_rdms(means)
    if similarity is not None:
        human["similarity"] = np.asarray(similarity, dtype=float)
    vts, rsas, pcas = [], [], []
    for site in opt.sites:
        Xs = X if site == "residual" else residual_states(lm, stimuli["text"].tolist(),
                                                          position=opt.position, site=site)
        Vs = concept_vectors(Xs, labels, concepts)
        if site == "residual":
            V = Vs
        vt = vectors_table(Vs, concepts, stimuli["concept"].value_counts())
        vt.insert(0, "site", site)
        vts.append(vt)
        rsas.append(layer_rsa(layer_rdms(Xs, labels, concepts, Vs, opt, seed), human,
                              n_perm=opt.n_perm, seed=seed).assign(site=site))
        pcas.append(pca_attributes(Vs, means, n_perm=opt.n_perm, seed=seed + 1)
                    .assign(site=site))
    vt = pd.concat(vts, ignore_index=True)
    write(vt, "geometry_vectors")
    rsa, pca = (pd.concat(x, ignore_index=True).pipe(_site_roles) for x in (rsas, pcas))
    if standalone:        # its claims are decided here (default alpha), so its draws are too
        rsa, pca = _decided(vt, rsa, pca, means, similarity, seed, opt)
    write(rsa, "geometry_layer_rsa")
    timing["rsa"] = time.perf_counter() - t
    t = time.perf_counter()
    write(pca, "geometry_pca")
    S, _, ev = pca_scores(V, 2)
    scores = pd.DataFrame([dict(layer=la, concept=c, PC1=S[la, k, 0], PC2=S[la, k, 1],
                                explained1=ev[la, 0], explained2=ev[la, 1],
                                **{f"attribute:{a}": float(means.iloc[k][a])
                                   for a in means.columns})
                           for la in range(L) for k, c in enumerate(concepts)])
    write(scores, "geometry_pca_scores")
    timing["pca"] = time.perf_counter() - t

    t = time.perf_counter()
    groups, group_by = stimulus_groups(stimuli)
    types, type_by = control_types(stimuli)
    pl = (list(range(L)) if opt.probe_layers is None else
          sorted(set(np.linspace(0, L - 1, opt.probe_layers).round().astype(int).tolist())))
    ll = sorted(set(np.linspace(0, len(pl) - 1, min(opt.logistic_layers, len(pl)))
                    .round().astype(int).tolist()))
    probes = probe_layers(X[pl], labels, groups, n_splits=opt.n_splits,
                          n_perm=opt.n_perm_probe, seed=seed + 2, layers=pl, logistic_layers=ll,
                          types=types)
    probes["group_by"] = group_by
    probes["control_by"] = type_by
    probes["depth"] = probes["layer"] / max(L - 1, 1)
    write(probes, "geometry_probes")
    if opt.attribute_probes:
        att = attribute_probes(X[pl], labels, means, groups, n_splits=opt.n_splits,
                               n_perm=opt.n_perm_probe, seed=seed + 2, layers=pl)
        att["group_by"] = group_by
        att["depth"] = att["layer"] / max(L - 1, 1)
        write(att, "geometry_probe_attributes")
    timing["probes"] = time.perf_counter() - t

    t = time.perf_counter()
    test = None
    if lm.kind == "causal":                            # steering scores a decoder's choice
        layer = L // 2 if opt.steer_layer is None else int(opt.steer_layer)
        st = steering_grid(lm, X[layer], stimuli, concepts, words, layer, opt, seed)
        write(st, "geometry_steering")
        test = steering_test(st)
        test.insert(0, "layer", layer)
        write(test, "geometry_steering_test")
    timing["steering"] = time.perf_counter() - t
    timing["total"] = time.perf_counter() - t0
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "geometry_timing.json" if standalone else
     res / "timing.json").write_text(json.dumps(timing, indent=1))
    summary = headline(rsa, pca, probes, test, timing)
    if test is None:
        summary["steering"] = f"not run: {lm.name} is not a decoder"
    return summary, prov


def geometry_claims(res: Path, prov: dict) -> pd.DataFrame:
    """The claims rows of the geometry tables in ``res`` (as ``emostat analyse`` decides them),
    written to ``res/claims.parquet``."""
    from emostat.analysis.claims.table import build_claims, make_design
    from emostat.analysis.geometry.claims import run_geometry_tables

    from emostat.analysis.geometry.claims import CLAIMS

    claims = build_claims(run_geometry_tables(res.parent, res.name),
                          make_design("experiment", [], tasks=[]))
    claims = claims[claims["claim"].isin(CLAIMS)].reset_index(drop=True)
    io.write_table(claims, res / "claims.parquet", prov=prov, dataset="claims")
    return claims


def _decided(vt, rsa, pca, means, similarity, seed, opt) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The RSA and PCA tables with more draws where their test of record is undecided at the
    default alpha, as ``analyse`` does for a collection
    (:func:`emostat.analysis.geometry.refine.refine_geometry`)."""
    from emostat.analysis.claims.table import DEFAULT_ALPHA
    from emostat.analysis.geometry.refine import refine_geometry

    new = refine_geometry({"geometry_vectors": vt, "geometry_layer_rsa": rsa,
                           "geometry_pca": pca}, DEFAULT_ALPHA, means, similarity,
                          prov={"seed": seed, "geometry": {"n_perm": opt.n_perm,
                                                           "metric": opt.metric}})
    return new.get("geometry_layer_rsa", rsa), new.get("geometry_pca", pca)


def _site_roles(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of another site than the residual stream are supporting (one record per test)."""
    return df.assign(role=df["role"].where(df["site"] == "residual", "supporting"))


def headline(rsa, pca, probes, test, timing) -> dict:
    """The numbers a note quotes: best RSA layer per valence/similarity with its max-over-layers
    p, PC1 vs valence, the probe against its control, the steering specificity and its
    components."""
    def rec(df, **eq):
        m = df["role"] == "record"
        for k, v in eq.items():
            m &= df[k] == v
        return df[m].iloc[0].to_dict() if m.any() else {}

    out = {"timing_s": {k: round(v, 1) for k, v in timing.items()}}
    for a in ("valence", "similarity"):
        r = rec(rsa, attribute=a)
        if r:
            out[f"rsa_{a}"] = {k: r[k] for k in ("layer", "estimate", "p_value", "p_mc_low",
                                                 "p_mc_high", "n_perm")}
    r = rec(pca, attribute="valence", component="PC1")
    if r:
        out["pc1_valence"] = {k: r[k] for k in ("layer", "estimate", "conf_low", "conf_high",
                                                "p_value")}
    r = rec(probes)
    out["probe"] = {k: r[k] for k in ("layer", "estimate", "conf_low", "conf_high",
                                      "control_accuracy", "chance", "p_value", "p_floor")}
    lg = probes[probes["test"] == "logistic_cv"]
    if len(lg):
        r = lg.loc[lg["estimate"].idxmax()]
        out["probe_logistic_best"] = {k: r[k] for k in ("layer", "estimate", "conf_low",
                                                        "conf_high", "control_accuracy")}
    if test is not None:
        r = test[test["role"] == "record"].iloc[0].to_dict()
        out["steering"] = {k: r[k] for k in ("estimate", "conf_low", "conf_high", "statistic",
                                             "df", "p_value", "status", "message")}
        comp = test[test["model"] == "component"]
        out["steering_components"] = {
            c.term: {k: getattr(c, k) for k in ("estimate", "conf_low", "conf_high", "n_vectors")}
            for c in comp.itertuples()}
    return out
