"""A run's results for notebooks: ``emostat.load(run_dir)`` (fitting apart from presenting).

>>> import tempfile, pandas as pd
>>> from emostat.analysis.pipelines import write_results
>>> from emostat.analysis.claims.table import build_claims
>>> wm = pd.DataFrame({"estimate": [0.151], "conf_low": [float("nan")],
...                    "conf_high": [float("nan")], "p_value": [1e-4],
...                    "p_method": ["Mantel, one-sided"], "unit": ["concept label (27)"],
...                    "role": ["record"], "n_perm": [9999], "comparator": ["tau_b"],
...                    "estimand": ["mean_rdm"], "ceiling_low": [0.6], "ceiling_high": [0.8],
...                    "ceiling_method": ["split-half"]})
>>> design = {"kind": "experiment", "ks": [], "tasks": []}
>>> out = tempfile.mkdtemp()
>>> _ = write_results({"whole_model_rsa": wm, "claims": build_claims({"whole_model_rsa": wm},
...                    design)}, out, {"kind": "experiment"})
>>> r = load(out)
>>> r
<emostat results of an experiment run: 2 tables (claims, whole_model_rsa)>
>>> r["whole_model_rsa"]["estimate"].iloc[0]
np.float64(0.151)
>>> r.claims.query("claim == 'whole_model' and role == 'supporting'")["decision"].iloc[0]
'supported'
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from emostat import io
from emostat.errors import InputError
from emostat.schemas import names

RESULTS = "results"


class Results:
    """The tables, claims and provenance of one run's ``results/`` folder.

    ``tables`` lists the table names; ``r[name]`` or ``r.table(name)`` reads one (upgraded
    to the current schema version and validated, then cached); ``claims`` is the claims table;
    ``provenance`` the run's provenance.json; ``summary()`` the headline text.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self._cache: dict[str, pd.DataFrame] = {}
        self.tables = sorted(p.stem for p in self.folder.glob("*.parquet"))
        path = self.folder / "provenance.json"
        try:
            self.provenance = json.loads(path.read_text()) if path.exists() else {}
        except ValueError as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None

    def table(self, name: str) -> pd.DataFrame:
        """Results table ``name`` as a DataFrame."""
        if name not in self.tables:
            raise InputError(f"{self.folder}: no results table {name!r} "
                             f"(has {', '.join(self.tables)})")
        if name not in self._cache:
            self._cache[name] = io.read_table(self.folder / f"{name}.parquet",
                                              dataset=name if name in names() else None)
        return self._cache[name]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.table(name)

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    @property
    def claims(self) -> pd.DataFrame:
        """The claims table (one decision per claim x task x k; ``role == "record"``)."""
        return self.table("claims")

    def summary(self, task: str | None = None, all_k: bool = False) -> str:
        """The headline block (:func:`emostat.console.headline`) of the claims table."""
        from emostat.console import headline

        return headline(self.claims, task=task, all_k=all_k)

    def __repr__(self) -> str:
        kind = self.provenance.get("kind", "unknown")
        article = "an" if kind[:1] in "aeiou" else "a"
        return (f"<emostat results of {article} {kind} run: {len(self.tables)} tables "
                f"({', '.join(self.tables)})>")


def load(run_dir) -> Results:
    """The results of ``run_dir``: the ``--out`` folder of ``emostat reproduce`` / ``analyse``
    (holding ``results/``) or that ``results/`` folder itself."""
    run_dir = Path(run_dir)
    folder = run_dir / RESULTS if (run_dir / RESULTS).is_dir() else run_dir
    if not any(folder.glob("*.parquet")):
        raise InputError(f"{run_dir}: no results tables (run `emostat reproduce` or "
                         "`emostat analyse` first)")
    return Results(folder)
