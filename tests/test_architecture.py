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


# --- the layout of issue 18: subpackages by concern, scripts out of the wheel -------------------

USER_PATH = ("workflows", "modelfolder", "evaluation", "clinical", "methods", "tuning", "plots")
"""Subpackages of ``experiments`` on a user's fit/predict path: none reaches ``benchmark``."""
WINGS = ("tables", "imaging", "datasets")
HEAVY = {"torch", "torch_geometric", "monai", "nibabel", "pydicom"}
SCRIPTS = (
    "adrenal_mnist3d.py",
    "benchmark_embeddings.py",
    "benchmark_estimator.py",
    "benchmark_load.py",
    "benchmark_scaling.py",
    "gpu_embedding_check.sh",
)
MAX_LINES = 700


def _part(module, depth):
    parts = module.split(".")
    return parts[depth] if len(parts) > depth else ""


def _third_party(path):
    """Top-level names of every module an ``import`` in ``path`` names (inside functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        alias.name.split(".")[0]
        if isinstance(node, ast.Import)
        else (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0)
        for alias in node.names
    }


def test_the_user_path_never_reaches_the_benchmark(graph):
    """Transitively: nothing a user's path imports, at any depth, is a module of the benchmark."""
    starts = [m for m in graph if _part(m, 0) == "experiments" and _part(m, 1) in USER_PATH]
    starts += ["experiments._demo", "experiments._base"]
    assert len(starts) > 20, "the walk found the subpackages"
    reached = set().union(*(nx.descendants(graph, m) for m in starts))
    bad = sorted(m for m in reached if _part(m, 1) == "benchmark")
    assert not bad, f"the user's path imports the benchmark: {bad}"


def test_base_is_a_leaf_and_cli_is_the_top(graph):
    base = sorted(m for m in graph.successors("experiments._base") if m.startswith("experiments"))
    assert not base, f"experiments._base imports {base}"
    above_cli = sorted(
        src
        for src, dst in graph.edges
        if _part(dst, 1) == "cli" and _part(src, 1) != "cli" and src != "experiments"
    )
    assert not above_cli, f"only experiments/__init__ may import the CLI: {above_cli}"


def test_feature_wings_do_not_import_each_other(graph):
    """tables and imaging never import another wing; datasets only through their public names."""
    bad = []
    for src, dst in graph.edges:
        if _part(src, 0) != "features" or _part(dst, 0) != "features":
            continue
        a, b = _part(src, 1), _part(dst, 1)
        if a not in WINGS or b not in WINGS or a == b:
            continue
        if a == "datasets" and dst in {"features.tables", "features.imaging"}:
            continue
        bad.append(f"{src} -> {dst}")
    assert not bad, f"a features wing imports another wing's modules: {sorted(bad)}"


def test_only_imaging_imports_torch_monai_nibabel_pydicom():
    bad = sorted(
        f"{path.relative_to(ROOT)}: {sorted(_third_party(path) & HEAVY)}"
        for path in (ROOT / "features").rglob("*.py")
        if "imaging" not in path.relative_to(ROOT).parts and _third_party(path) & HEAVY
    )
    assert not bad, f"only features/imaging may import torch, MONAI, nibabel or pydicom: {bad}"


def test_no_script_inside_the_packages():
    found = sorted(
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*")
        if p.name in SCRIPTS or p.name == "run_notebooks.py" or p.suffix == ".sh"
    )
    assert not found, f"research scripts belong in benchmarks/ (or beside the notebooks): {found}"
    assert all((ROOT / "benchmarks" / name).is_file() for name in SCRIPTS)
    assert (ROOT / "notebooks" / "run_notebooks.py").is_file()


def test_scripts_use_public_names_only():
    """The scripts in benchmarks/ and the notebook runner import no private module of ours."""
    bad = []
    for path in [*(ROOT / "benchmarks").glob("*.py"), ROOT / "notebooks" / "run_notebooks.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                for name in names:
                    parts = name.split(".")
                    if parts[0] in PACKAGES and any(p.startswith("_") for p in parts[1:]):
                        bad.append(f"{path.name}: {name}")
                    if isinstance(node, ast.ImportFrom) and parts[0] in PACKAGES:
                        bad += [
                            f"{path.name}: {name}.{a.name}" for a in node.names if a.name[0] == "_"
                        ]
    assert not bad, f"scripts must use public names: {sorted(bad)}"


def test_no_module_over_700_lines():
    long = sorted(
        f"{p.relative_to(ROOT)} ({n})"
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    )
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.slow
def test_the_wheel_holds_no_script(tmp_path):
    """Build the wheel as pip would and look inside: the packages, their configs, no script."""
    import shutil
    import subprocess
    import sys
    import zipfile

    pytest.importorskip("setuptools")
    # build a copy: setuptools writes build/ and *.egg-info beside the sources it builds
    source = tmp_path / "source"
    skip = (".git", ".venv", "build", "dist", "*.egg-info", "_build", "__pycache__", "demo-output")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skip))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("graphboost-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "experiments/benchmark/configs/duke-pcr.toml" in names
    assert {"graphboost/__init__.py", "features/__init__.py", "experiments/cli/__init__.py"} <= set(
        names
    )
    scripts = [
        n for n in names if Path(n).name in SCRIPTS or n.endswith((".sh", "run_notebooks.py"))
    ]
    assert not scripts, f"the wheel holds scripts: {scripts}"
    assert not [n for n in names if n.startswith(("benchmarks/", "notebooks/", "tests/", "docs/"))]
