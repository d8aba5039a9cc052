"""Read a run folder's results for a report: Parquet tables, provenance, manifest.

Reports read tables only (never a model, never torch). A missing table is not an error here:
:meth:`Run.get` returns ``None`` and the report leaves the section out (one line in the
method says why).

Report parameters reach the ``.qmd`` chunks through the environment variable
``EMOSTAT_REPORT_PARAMS`` (path of a JSON file ``{"results": [run dirs], "kind": ...}``) or
through Quarto's ``parameters`` cell (``results``), so no path is written in the sources.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from emostat.errors import InputError
from emostat.resultsdir import finished

PARAMS_ENV = "EMOSTAT_REPORT_PARAMS"
RESULTS = "results"


@dataclass
class Run:
    """One run folder: ``<root>/results/*.parquet`` plus provenance and manifest records.

    Attributes
    ----------
    root : Path
        The run folder.
    label : str
        A short name for model comparison (the model name if recorded, else the folder name).
    provenance : dict
        ``results/provenance.json`` (or ``provenance.json`` in the run folder); ``{}`` if none.
    manifest : dict
        ``manifest.json`` of a collected run; ``{}`` if none.
    """

    root: Path
    label: str = ""
    provenance: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def results(self) -> Path:
        return self.root / RESULTS

    def path(self, name: str) -> Path:
        return self.results / f"{name}.parquet"

    def has(self, name: str) -> bool:
        """Whether table ``name`` exists."""
        return self.path(name).exists()

    def get(self, name: str, columns=None) -> pd.DataFrame | None:
        """Table ``name`` as a DataFrame (validated against its schema), or None if absent."""
        if not self.has(name):
            return None
        key = (name, tuple(columns) if columns else None)
        if key not in self._cache:
            from emostat import io
            from emostat.schemas import names

            # a column subset cannot be checked against the full schema
            dataset = name if name in names() and columns is None else None
            self._cache[key] = io.read_table(self.path(name), columns=columns, dataset=dataset)
        return self._cache[key].copy()

    def item_texts(self) -> dict:
        """Appraisal item → wording, from the run's ``data/appraisal_responses.parquet`` (as
        ``emostat reproduce`` or ``import-release`` wrote it); ``{}`` when absent."""
        path = self.root / "data" / "appraisal_responses.parquet"
        if not path.exists():
            return {}
        import pyarrow.parquet as pq

        if "item_text" not in pq.read_schema(path).names:
            return {}
        d = pd.read_parquet(path, columns=["item", "item_text"]).drop_duplicates("item")
        return dict(zip(d["item"].astype(int), d["item_text"].astype(str)))

    def tables(self) -> list[str]:
        """Names of the tables present."""
        return sorted(p.stem for p in self.results.glob("*.parquet"))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from exc


def load_run(root) -> Run:
    """Open a run folder (the folder holding ``results/``, or ``results/`` itself)."""
    root = Path(root)
    if root.name == RESULTS and not (root / RESULTS).is_dir():
        root = root.parent
    if not (root / RESULTS).is_dir():
        raise InputError(f"{root}: no results/ folder (run `emostat reproduce` or "
                         "`emostat analyse` first)")
    if not finished(root / RESULTS):
        raise InputError(f"{root / RESULTS}: not a finished analysis (no claims.parquet and "
                         "provenance.json); rerun the `emostat analyse` or `reproduce` command "
                         "that wrote it")
    prov = _read_json(root / RESULTS / "provenance.json") or _read_json(root / "provenance.json")
    manifest = _read_json(root / "manifest.json") or _read_json(root / RESULTS / "manifest.json")
    label = _model_label(prov, manifest) or root.resolve().name
    return Run(root=root, label=label, provenance=prov, manifest=manifest)


def _model_label(prov: dict, manifest: dict) -> str:
    for rec in (manifest, prov):
        model = rec.get("model")
        if isinstance(model, dict):
            model = model.get("name") or model.get("id") or model.get("path")
        if model:
            return Path(str(model)).name if "/" in str(model) and Path(str(model)).exists() \
                else str(model)
    return ""


def is_release(run: Run) -> bool:
    """Whether the run's provenance says it reproduces the study's release."""
    prov = run.provenance
    for key in ("kind", "source_kind", "mode"):
        if str(prov.get(key, "")).lower() in ("reproduction", "release"):
            return True
    return str(prov.get("source", "")).lower() == "release"


def space_of(run: Run) -> tuple[str, str]:
    """``(name, digest)`` of the concept space a run studied, from its provenance or manifest
    (``("study", "")`` for a run that records none: before spaces the study's was the only)."""
    for rec in (run.provenance, run.manifest, run.provenance.get("collect_manifest") or {}):
        sp = rec.get("space") if isinstance(rec, dict) else None
        if isinstance(sp, dict) and sp.get("name"):
            return str(sp["name"]), str(sp.get("digest") or "")
        if isinstance(sp, str) and sp:
            return sp, ""
    return "study", ""


def check_same_space(runs: list[Run]) -> None:
    """Refuse to compare runs on different concept spaces (names, or digests where both
    record one): their concepts, attributes and claims are not the same quantities."""
    spaces = [space_of(r) for r in runs]
    first = spaces[0]
    differ = [(r, s) for r, s in zip(runs, spaces)
              if s[0] != first[0] or (s[1] and first[1] and s[1] != first[1])]
    if differ:
        seen = "; ".join(f"{r.root}: space {s[0]!r}" + (f" ({s[1][:12]})" if s[1] else "")
                         for r, s in zip(runs, spaces))
        raise InputError("comparison report: the runs studied different concept spaces, so "
                         "their concepts, attributes and claims are not comparable (" + seen
                         + "); compare runs collected on the same space")


def detect_kind(runs: list[Run]) -> str:
    """``comparison`` for several runs; ``reproduction`` for one release run with a
    searchlight table; else ``experiment``."""
    if len(runs) > 1:
        return "comparison"
    if len(runs) == 1 and runs[0].has("neuron_rsa") and is_release(runs[0]):
        return "reproduction"
    return "experiment"


def read_params(results=None) -> dict:
    """Report parameters: ``{"results": [Path, ...], "kind": str}``.

    ``results`` (a path, a list of paths or a JSON list string, e.g. from Quarto's
    ``-P results:...``) wins; otherwise the JSON file named by ``$EMOSTAT_REPORT_PARAMS``.
    """
    params: dict = {}
    env = os.environ.get(PARAMS_ENV)
    if env:
        params = _read_json(Path(env))
        if not params:
            raise InputError(f"{env}: report parameters file is missing or empty "
                             f"(named by ${PARAMS_ENV})")
    if results:
        if isinstance(results, str) and results.lstrip().startswith("["):
            results = json.loads(results)
        params["results"] = [results] if isinstance(results, (str, Path)) else list(results)
    if not params.get("results"):
        raise InputError(f"no results folder given: set ${PARAMS_ENV} to a JSON file "
                         '{"results": ["RUN_DIR"]} or pass -P results:RUN_DIR to quarto')
    params["results"] = [Path(p) for p in params["results"]]
    return params


def load_runs(results=None) -> list[Run]:
    """The runs named by the report parameters (see :func:`read_params`)."""
    return [load_run(p) for p in read_params(results)["results"]]
