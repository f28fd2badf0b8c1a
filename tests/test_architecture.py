"""The dependency rules of ARCHITECTURE.md, checked on the source with ``ast`` (nothing is run).

- no import cycle among the modules of ``graphboost``, ``features`` and ``experiments``, counting
  imports inside functions (a cycle hidden behind a function-level import is still a cycle);
- ``graphboost`` imports neither ``features`` nor ``experiments``; ``features`` never imports
  ``experiments``;
- the graph builders (``graphboost/_graphs.py``) know nothing of torch models.
"""

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graphboost", "features", "experiments")
# Which packages each package may import (its own included).
ALLOWED = {
    "graphboost": {"graphboost"},
    "features": {"features", "graphboost"},
    "experiments": {"experiments", "features", "graphboost"},
}


def module_name(path, root=ROOT):
    """'graphboost/_graphs.py' -> 'graphboost._graphs'; a package's __init__ -> the package."""
    name = ".".join(path.relative_to(root).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imported_names(module, is_package, node):
    """Absolute names an ``import`` or ``from ... import`` statement refers to."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        parts = module.split(".")
        base = parts if is_package else parts[:-1]
        base = base[: len(base) - (node.level - 1)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    return [stem] + [f"{stem}.{alias.name}" for alias in node.names]


def import_graph(root=ROOT):
    """Directed graph: module -> project modules it imports (anywhere in its body)."""
    files = {module_name(p, root): p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in imported_names(module, path.name == "__init__.py", node):
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph.add_edge(module, target)
    return graph


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_graph_covers_the_packages(graph):
    """The walk finds the modules and their imports (else the other tests prove nothing)."""
    assert {"graphboost", "features", "experiments", "graphboost._graphs"} <= set(graph)
    assert graph.has_edge("graphboost", "graphboost._graphs")


def test_a_cycle_behind_a_function_level_import_is_found(tmp_path):
    """The detector itself: two modules importing each other, one of them inside a function."""
    (tmp_path / "graphboost").mkdir()
    (tmp_path / "graphboost" / "__init__.py").write_text("")
    (tmp_path / "graphboost" / "_a.py").write_text("from ._b import g\n")
    (tmp_path / "graphboost" / "_b.py").write_text("def g():\n    from graphboost._a import f\n")
    for pkg in PACKAGES[1:]:
        (tmp_path / pkg).mkdir()
    graph = import_graph(tmp_path)
    assert graph.has_edge("graphboost._a", "graphboost._b")
    assert graph.has_edge("graphboost._b", "graphboost._a")


def test_no_import_cycle(graph):
    # A package's __init__ re-exports its modules: an edge into an __init__ from a module of the
    # same package is the cycle "module -> package -> module" and is reported as such.
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(graph, package):
    upward = sorted(
        f"{src} -> {dst}"
        for src, dst in graph.edges
        if src.split(".")[0] == package and dst.split(".")[0] not in ALLOWED[package]
    )
    assert not upward, f"{package} imports a package it must not: {upward}"


def test_graph_builders_know_nothing_of_torch():
    tree = ast.parse((ROOT / "graphboost" / "_graphs.py").read_text(encoding="utf-8"))
    names = [
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in imported_names("graphboost._graphs", False, node)
    ]
    assert not [n for n in names if n.split(".")[0] in {"torch", "torch_geometric"}]
    assert not [n for n in names if n.startswith("graphboost._gnn")]
