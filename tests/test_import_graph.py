"""The shape of the package: emostat's internal imports form a DAG (imports inside functions
counted too), analysis never climbs to collect or report, and every module is under 500 lines.

The graph is built from the source with ``ast`` (nothing is imported): ``import emostat.x``
and ``from emostat.x import y`` are edges to ``emostat.x``, and to ``emostat.x.y`` when ``y`` is
a module; relative imports are resolved against the importing module's package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "emostat"
MAX_LINES = 500

def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The emostat modules ``name`` imports anywhere in its file (functions included)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
            sub = []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod]
            sub = [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets + sub:
            # `import emostat.a.b` depends on emostat.a.b; the nearest known module counts
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t.startswith("emostat") and t != name and t != "emostat":
                out.add(t)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {n: imports_of(n, p, known) for n, p in mods.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the components with more than one module (the cycles)."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def test_graph_builder_sees_function_level_and_submodule_imports(tmp_path):
    # a hand-made package: b imports a inside a function; c does `from pkg import a`
    known = {"emostat.pkg", "emostat.pkg.a", "emostat.pkg.b", "emostat.pkg.c"}
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from emostat.pkg.a import thing\n    return thing\n")
    c = tmp_path / "c.py"
    c.write_text("from emostat.pkg import a\nfrom . import b\n")
    assert imports_of("emostat.pkg.b", b, known) == {"emostat.pkg.a"}
    assert imports_of("emostat.pkg.c", c, known) == {"emostat.pkg", "emostat.pkg.a",
                                                     "emostat.pkg.b"}
    # a two-module cycle and a three-module one are found; a DAG has none
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [{"a", "b"}]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [{"a", "b", "c"}]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_real_graph_has_the_known_layout():
    g = import_graph()
    # the collect split: the driver imports the backends, which import the worker (not back)
    assert "emostat.collect.backends" in g["emostat.collect.driver"]
    assert "emostat.collect.worker" in g["emostat.collect.backends"]
    assert "emostat.collect.driver" not in g["emostat.collect.worker"]
    assert len(g) > 50


def cycles():
    return [frozenset(c) for c in strongly_connected(import_graph())]


def test_no_import_cycles():
    # analysis/human <-> release/human is broken (release readers in release/, analysis takes
    # tables); report figures/tables/text import one view module
    assert [sorted(c) for c in cycles()] == []


def climbs():
    return sorted((a, b) for a, deps in import_graph().items()
                  if a.startswith("emostat.analysis") for b in deps
                  if b.startswith(("emostat.collect", "emostat.report")))


def test_analysis_never_imports_collect_or_report():
    # the stimuli of a run come from its ConceptSpace (space.stimuli), not collect.stimuli
    assert climbs() == []


def private_imports() -> list[tuple[str, str]]:
    """(importing module, "module.name") for every ``from emostat.x import _name``."""
    out = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emostat"):
                out += [(name, f"{node.module}.{a.name}") for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
    return sorted(out)


def test_no_private_names_across_modules():
    assert private_imports() == []


def long_modules() -> dict[str, int]:
    return {n: len(p.read_text().splitlines()) for n, p in modules().items()
            if len(p.read_text().splitlines()) >= MAX_LINES}


def test_modules_are_under_500_lines():
    assert long_modules() == {}


STUDY_CONSTANTS = re.compile(r"\b(EMOTIONS|ATTRIBUTES|N_EMOTIONS|ANALYSIS_ORDER)\b")


def test_study_constants_only_in_constants_py():
    # names and counts come from the space or from the tables; the release's and GoEmotions'
    # file vocabularies carry their own names (release/vocab.py, collect/stimuli.py)
    assert STUDY_CONSTANTS.search("from emostat.constants import EMOTIONS")   # the check bites
    assert not STUDY_CONSTANTS.search("RELEASE_EMOTIONS, GOEMOTIONS_EMOTIONS")
    users = sorted(n for n, p in modules().items()
                   if n != "emostat.constants" and STUDY_CONSTANTS.search(p.read_text()))
    assert users == []


ANALYSIS_LEVELS = {"engines": 0, "human": 1, "neurons": 1, "masking": 1, "geometry": 1,
                   "rsa": 1, "claims": 2, "pipelines": 3}


def test_analysis_folders_import_only_downward():
    # emostat/analysis/ is four levels (docs/design.md, Layers): pipelines -> claims -> the
    # families (human, neurons, masking, geometry) -> engines. A family imports engines and its
    # own modules, never another family; nothing imports upward.
    g = import_graph()
    bad = []
    for mod, deps in g.items():
        parts = mod.split(".")
        if parts[:2] != ["emostat", "analysis"] or len(parts) < 3:
            continue
        here = parts[2]
        assert here in ANALYSIS_LEVELS, f"{mod}: analysis module outside the known folders"
        for d in deps:
            dp = d.split(".")
            if dp[:2] != ["emostat", "analysis"] or len(dp) < 3 or dp[2] == here:
                continue
            there = dp[2]
            lower = ANALYSIS_LEVELS[there] < ANALYSIS_LEVELS[here]
            if not lower:
                bad.append(f"{mod} -> {d}")
    assert not bad, bad
