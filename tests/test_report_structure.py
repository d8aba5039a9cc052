"""The report package is a DAG with emostat.report.view at the bottom: no import cycle (imports
inside functions counted), no private name used across modules, no study constant, no module
over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import emostat.report

PKG = Path(emostat.report.__file__).parent


def modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text()) for p in PKG.glob("*.py") if p.stem != "__init__"}


def report_imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(report module, names) for every import of emostat.report.* anywhere in the file."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("emostat.report."):
                out.append((node.module.split(".")[2], [a.name for a in node.names]))
            elif node.module == "emostat.report":
                out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name.split(".")[2], []) for a in node.names
                    if a.name.startswith("emostat.report.")]
    return out


def test_no_cycle_and_view_at_the_bottom():
    graph = {m: {d for d, _ in report_imports(t)} for m, t in modules().items()}
    assert graph["view"] == set()            # the bottom imports no report module
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError(f"import cycle: {' -> '.join(path + [m])}")
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in graph.get(m, ()):
            visit(d, path + [m])
        state[m] = 2

    for m in graph:
        visit(m, [])
    # the modules that read tables and render findings all stand on view
    for m in ("text", "findings", "tables", "method", "compare", "published", "captions"):
        assert "view" in graph[m], m


def test_no_private_names_across_modules_and_no_study_constants():
    mods = modules()              # parsed once (per attribute node it took minutes on CI)
    for m, tree in mods.items():
        for dep, names in report_imports(tree):
            assert not [n for n in names if n.startswith("_")], (m, dep, names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in mods and node.attr.startswith("_"):
                raise AssertionError(f"{m}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "emostat.constants":
                raise AssertionError(f"{m} imports emostat.constants")


def test_no_module_level_state_filled_from_a_cell():
    # the old text.use_tasks filled a module-level set from a .qmd cell (the comparison report
    # never set it): no report module has a `global` statement or clears a module container
    for m, tree in modules().items():
        assert not any(isinstance(n, ast.Global) for n in ast.walk(tree)), m
    from emostat.report import text

    assert not hasattr(text, "use_tasks")


def test_every_module_under_500_lines():
    for p in PKG.glob("*.py"):
        assert len(p.read_text().splitlines()) < 500, p.name
