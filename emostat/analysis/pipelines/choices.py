"""The analysis choices that decide claims: alpha, the headline k and the permutation counts.

They arrive by three ways: a collect config (``alpha``, ``headline_k``, ``n_perm``,
``n_perm_count``, recorded in the run's manifest), the options of ``emostat analyse``,
``reproduce`` and ``run`` (``--alpha``, ``--headline-k``, ``--n-perm``, ``--n-perm-count``), and
the arguments of :func:`~emostat.analysis.pipelines.analyse.analyse_run` and
:func:`~emostat.analysis.pipelines.reproduce.reproduce`. An argument given (not None) wins over
the run's config, which wins over :data:`DEFAULTS`; every value is checked, the overridden ones
too, before any statistic runs (:func:`check_choices`). The alpha and headline-k rules are the
claims table's (:func:`emostat.analysis.claims.table.alpha`, ``headline_k``).

A permutation count is a minimum: a count above the default starts from the default doubled
until it reaches the count (:func:`first_draws`), so a run asking for more draws never gets
fewer, nor other ones, than the default run would have drawn; the doubling while a
Monte-Carlo interval holds alpha goes on from there, and each table's ``n_perm`` says what ran.
"""

from __future__ import annotations

from emostat.analysis.claims.table import DEFAULT_ALPHA, alpha, headline_k
from emostat.analysis.pipelines.steps import SEARCHLIGHT_PERM
from emostat.errors import InputError

DEFAULT_N_PERM = 10_000
ANALYSIS_SEED = 20241201            # the master seed of an analysis when none is given
DEFAULTS = {"alpha": DEFAULT_ALPHA, "headline_k": None, "n_perm": DEFAULT_N_PERM,
            "n_perm_count": SEARCHLIGHT_PERM["n_perm_count"]}
FIELDS = tuple(DEFAULTS)
# how each choice is named on the command line (for messages about options)
OPTIONS = {"alpha": "--alpha", "headline_k": "--headline-k", "n_perm": "--n-perm",
           "n_perm_count": "--n-perm-count"}
SMALLEST = {"n_perm": 1, "n_perm_count": 0}      # n_perm_count 0: no searchlight nulls


def first_draws(asked: int, base: int) -> int:
    """The draws a doubling permutation test starts from when ``asked`` draws are asked for:
    ``asked`` itself up to the default ``base``, above it ``base`` doubled until it reaches
    ``asked`` (399 of 199 -> 796), so the draws are ones the default run reaches too.

    >>> first_draws(200, 10_000), first_draws(10_000, 10_000), first_draws(15_000, 10_000)
    (200, 10000, 20000)
    """
    asked, base = int(asked), int(base)
    if asked <= base:
        return asked
    while base < asked:
        base *= 2
    return base


def check_choices(values: dict, ks=None, *, where: str, n_neurons: int | None = None,
                  names: dict | None = None) -> dict:
    """``values`` (None or absent: :data:`DEFAULTS`) checked, with the headline k resolved to
    a count where ``n_neurons`` is known (a fraction of the neurons otherwise kept as given).

    ``ks``: the run's k (counts, or a config's ks as written); ``where``: the file or command
    the values come from; ``names``: how each field is called there (default ``config field
    'x'``). Raises InputError, one line naming the field."""
    names = names or {f: f"config field {f!r}" for f in FIELDS}
    out = {f: DEFAULTS[f] if values.get(f) is None else values[f] for f in FIELDS}
    out["alpha"] = alpha({"alpha": out["alpha"]}, where, names["alpha"])
    for f, low in SMALLEST.items():
        v = out[f]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise InputError(f"{where}: {names[f]} must be an integer >= {low}, got {v!r}")
    if out["headline_k"] is not None:
        out["headline_k"] = headline_k({"ks": ks, "headline_k": out["headline_k"],
                                        "n_neurons": n_neurons}, where, names["headline_k"])
    return out


def run_choices(given: dict, config: dict, ks, *, config_where: str,
                given_where: str = "options", n_neurons=None) -> dict:
    """The choices of an analysis: ``given`` (arguments, None = not given) over ``config``
    (the run's recorded config, from ``config_where``) over the defaults. The config's own
    values are checked first, even those an argument overrides, then the result (an argument
    named as its option, e.g. ``--alpha``, in ``given_where``)."""
    recorded = {f: config.get(f) for f in FIELDS}
    check_choices(recorded, ks, where=config_where, n_neurons=n_neurons)
    merged = {f: given.get(f) if given.get(f) is not None else recorded[f] for f in FIELDS}
    if not any(given.get(f) is not None for f in FIELDS):
        return check_choices(merged, ks, where=config_where, n_neurons=n_neurons)
    names = {f: OPTIONS[f] if given.get(f) is not None else f"config field {f!r}"
             for f in FIELDS}
    return check_choices(merged, ks, where=given_where, n_neurons=n_neurons, names=names)


def analysis_choices(given: dict, config: dict, ks, *, config_where: str,
                     given_where: str = "options", n_neurons=None,
                     searchlight: dict | None = None) -> dict:
    """:func:`run_choices` with what ``analyse`` derives from them, in one place (``analyse``
    and the collection's searchlight precompute both call it): ``draws`` (the permutation
    draws to start from, :func:`first_draws`) and ``searchlight``, the options of
    :func:`~emostat.analysis.pipelines.steps.searchlight_tables` resolved over
    :data:`~emostat.analysis.pipelines.steps.SEARCHLIGHT_PERM` (``searchlight``'s values,
    None = not given), with the run's count, alpha and headline k (a count).

    >>> ch = analysis_choices({}, {}, [100, 200], config_where="config")
    >>> ch["draws"], ch["searchlight"]["headline_k"], ch["searchlight"]["n_perm_count"]
    (10000, 200, 199)
    """
    ch = run_choices(given, config, ks, config_where=config_where, given_where=given_where,
                     n_neurons=n_neurons)
    hk = headline_k({"ks": ks, "headline_k": ch["headline_k"]})
    sl = {**SEARCHLIGHT_PERM, **{k: v for k, v in (searchlight or {}).items() if v is not None},
          "n_perm_count": ch["n_perm_count"], "alpha": ch["alpha"], "headline_k": hk}
    return {**ch, "draws": first_draws(ch["n_perm"], DEFAULT_N_PERM), "searchlight": sl}


def searchlight_seed(seed: int) -> int:
    """The searchlight's seed in an analysis with master ``seed`` (its fourth child seed)."""
    from emostat.checks import child_seeds

    return child_seeds(seed, 5)[3]


def run_ks(config: dict, n_neurons: int) -> list[int]:
    """The k (counts) of a run collected with ``config`` on ``n_neurons`` neurons: its config's
    ks resolved, else the standard k that fit (a run without tasks analysed without ks)."""
    from emostat.constants import K_VALUES, k_count

    n = int(n_neurons)
    return (sorted({k_count(k, n) for k in config.get("ks") or []} - {0})
            or [k for k in K_VALUES if k <= n])
