"""Sphinx configuration of the graphboost documentation (``make docs``).

Two things are generated at every build, before Sphinx reads the sources (both are ignored by git):

- ``docs/api/*.rst``: one page per package, whose autosummary lists are taken from the package's
  ``__all__``, so the reference covers every public name and follows the packages when they change;
  autosummary then writes one page per class, function and constant under ``docs/api/generated/``.
- ``docs/notebooks/*.ipynb``: copies of the committed notebooks of ``notebooks/``, rendered by
  myst-nb from their saved outputs (``nb_execution_mode = "off"``: nothing is executed).
"""

import importlib
import inspect
import os
import re
import shutil
import sys
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
# Keep imports quiet and cheap: no GPU probing, one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")

project = "graphboost"
author = "graphboost developers"
copyright = "graphboost developers"

import graphboost  # noqa: E402

release = graphboost.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_templates", "**.ipynb_checkpoints", "api/generated/*.examples"]
templates_path = ["_templates"]
root_doc = "index"

# --- autodoc / autosummary / numpydoc ---
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_inherit_docstrings = False  # torch / scikit-learn docstrings are not ours to check
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

# --- MyST and notebooks ---
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # render the committed outputs; never run a notebook at build time
nb_merge_streams = True

# --- HTML ---
html_theme = "pydata_sphinx_theme"
html_title = "graphboost"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False

# No network at build time.
intersphinx_mapping = {}

# --- generated sources ---------------------------------------------------------------------------

# Each package documented by the API reference: (module, title, one-line summary).
API_MODULES = [
    (
        "graphboost",
        "graphboost: the model",
        "The estimator, its graphs, weak learners and helpers.",
    ),
    (
        "features",
        "features: tables, scans and cohorts",
        "Clinical tables, the preprocessor, cohorts, volumes, embeddings and dataset loaders.",
    ),
    (
        "experiments",
        "experiments: evaluation, clinical measures, tuning, benchmarks",
        "Cross-validation, metrics, calibration, conformal sets, decision curves, the benchmark "
        "runner and the Optuna searches.",
    ),
    (
        "experiments.workflows",
        "experiments.workflows: what a user does with a cohort",
        "Plain functions under the ``graphboost`` command line: load a cohort, cross-validate, "
        "fit and save a model folder, load it, predict and explain.",
    ),
    (
        "experiments.plots",
        "experiments.plots: figures",
        "The figures of the benchmark reports and the notebooks (matplotlib).",
    ),
]


def _kind(obj):
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


_SECTIONS = [("class", "Classes"), ("function", "Functions")]

# Constants whose defining module holds no attribute docstring for them.
_FALLBACK_DOCS = {
    "graphboost.__version__": "The version of the installed package.",
    "features.ENCODERS": "Names of the 3D CNN encoders :func:`build_encoder` builds.",
}


def _attribute_doc(package, modname, name, obj):
    """The docstring written under a constant's assignment, in whichever module of the package.

    autodata would show the docstring of the value's type (``dict``, ``str``) for a constant
    re-exported from a private module, so the package page documents constants itself.
    """
    from sphinx.pycode import ModuleAnalyzer

    for sub in sorted(k for k in sys.modules if k == package or k.startswith(package + ".")):
        module = sys.modules[sub]
        if module is None or getattr(module, name, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(sub).find_attr_docs()
        except Exception:  # a module without source (compiled, or built at run time)
            continue
        if ("", name) in docs:
            return [line for line in docs[("", name)] if line is not None]
    fallback = _FALLBACK_DOCS.get(f"{modname}.{name}")
    if fallback is None:
        raise RuntimeError(
            f"{modname}.{name} is public but has no docstring: write one under its assignment "
            f"(a string literal on the next line) or add it to _FALLBACK_DOCS in docs/conf.py"
        )
    return [fallback]


def _constants(modname, names):
    module = importlib.import_module(modname)
    package = modname.split(".")[0]
    lines = ["Constants", "---------", "", f".. currentmodule:: {modname}", ""]
    for name in names:
        obj = getattr(module, name)
        lines.append(f".. py:data:: {name}")
        value = repr(obj)
        if len(value) <= 70 and "\n" not in value:
            lines.append(f"   :value: {value}")
        lines.append("")
        doc = _attribute_doc(package, modname, name, obj)
        lines += [f"   {line}" if line.strip() else "" for line in doc]
        lines.append("")
    return lines


def _api_page(modname, title, summary, seen):
    """The reST of one package's reference page, from its ``__all__``.

    An object already documented under another public path (``seen``) is linked there instead of
    documented twice; a submodule in ``__all__`` is linked to its own page.
    """
    module = importlib.import_module(modname)
    names = list(getattr(module, "__all__", []))
    if not names:
        raise RuntimeError(f"{modname} has no __all__: the API reference is built from it")
    groups = {"class": [], "function": [], "data": []}
    submodules, aliases = [], []
    for name in names:
        obj = getattr(module, name)
        kind = _kind(obj)
        if kind == "module":
            submodules.append(obj.__name__)
            continue
        if kind == "data":
            # the same constant re-exported under the same name: documented once
            key = ("data", name, id(obj))
            if key in seen:
                aliases.append((name, kind, seen[key]))
            else:
                seen[key] = f"{modname}.{name}"
                groups[kind].append(name)
            continue
        if id(obj) in seen:
            aliases.append((name, kind, seen[id(obj)]))
            continue
        seen[id(obj)] = f"{modname}.{name}"
        groups[kind].append(name)
    lines = [
        f".. _api-{modname}:",
        "",
        title,
        "=" * len(title),
        "",
        f".. module:: {modname}",
        "",
        summary,
        "",
        f"Every name in ``{modname}.__all__`` ({len(names)} names).",
        "",
    ]
    for kind, heading in _SECTIONS:
        if not groups[kind]:
            continue
        lines += [heading, "-" * len(heading), "", f".. currentmodule:: {modname}", ""]
        lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in groups[kind]]
        lines.append("")
    if groups["data"]:
        lines += _constants(modname, groups["data"])
    if submodules or aliases:
        lines += ["Also public here", "----------------", ""]
        for sub in submodules:
            lines.append(f"- ``{modname}.{sub.rsplit('.', 1)[-1]}``: the module :mod:`{sub}`.")
        for name, kind, target in aliases:
            role = {"class": "class", "function": "func", "data": "data"}[kind]
            lines.append(f"- ``{modname}.{name}``: the same object as :{role}:`{target}`.")
        lines.append("")
    return "\n".join(lines)


def _write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _subpackages():
    """The public subpackages (no leading underscore, with an ``__all__``) not in API_MODULES.

    Their pages document the names of their ``__all__`` that no package above exports, and link
    the others to where they are documented.
    """
    import pkgutil

    listed = {modname for modname, _, _ in API_MODULES}
    found = []
    for top in ("graphboost", "features", "experiments"):
        package = importlib.import_module(top)
        for info in pkgutil.iter_modules(package.__path__):
            name = f"{top}.{info.name}"
            if info.name.startswith("_") or not info.ispkg or name in listed:
                continue
            module = importlib.import_module(name)
            if getattr(module, "__all__", None):
                doc = (inspect.getdoc(module) or name).split("\n\n")[0].replace("\n", " ")
                found.append((name, name, doc))
    return found


def _generate_api():
    seen = {}
    stale = set((DOCS / "api").glob("*.rst"))
    for modname, title, summary in API_MODULES + _subpackages():
        page = DOCS / "api" / f"{modname}.rst"
        _write_if_changed(page, _api_page(modname, title, summary, seen))
        stale.discard(page)
    for page in stale:
        page.unlink()
    # Pages of names that are no longer public (or moved) would be orphans: remove them.
    pages = {f"{path}.rst" for key, path in seen.items() if not isinstance(key, tuple)}
    for page in (DOCS / "api" / "generated").glob("*.rst"):
        if page.name not in pages:
            page.unlink()


def _copy_notebooks():
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for nb in sources:
        copy = target / nb.name
        if not copy.exists() or copy.read_bytes() != nb.read_bytes():
            shutil.copyfile(nb, copy)
    for stale in target.glob("*.ipynb"):
        if not (ROOT / "notebooks" / stale.name).exists():
            stale.unlink()


_generate_api()
_copy_notebooks()


_OUR_PACKAGES = ("graphboost", "features", "experiments")


def _skip_member(app, what, name, obj, skip, options):
    """Document a class's own methods and those of our mixins, not scikit-learn's or torch's.

    Classes are documented with inherited members (the estimator's prediction methods live in a
    mixin), so methods defined outside the three packages (``get_params``, ``nn.Module.forward``
    hooks, ``Exception.with_traceback``) and the ``set_*_request`` methods scikit-learn adds to
    every estimator are left out.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if what in ("class", "exception"):
        func = getattr(obj, "fget", obj)
        func = getattr(func, "__func__", func)
        if callable(func) or isinstance(obj, property):
            module = getattr(func, "__module__", None) or ""
            if module.split(".")[0] not in _OUR_PACKAGES:
                return True
    return None


# "name : type" lines of numpydoc sections,
# e.g. "feature_names_in_ : ndarray of shape (n_features_in_,)".
_PARAM_LINE = re.compile(r"^(\s*[\w*][\w*, ]* : )(.+)$")
_TRAILING_UNDERSCORE = re.compile(r"\b(\w+)_(?=[,)\s]|$)")


def _escape_type_underscores(app, what, name, obj, options, lines):
    """Escape the trailing underscore of fitted-attribute names in numpydoc type specs.

    scikit-learn's convention writes shapes as ``ndarray of shape (n_features_in_,)``; in reST a
    word ending in ``_`` is a link to a target of that name. Only the type part of a
    ``name : type`` line is touched (runs before numpydoc, which turns these lines into fields).
    """
    for i, line in enumerate(lines):
        match = _PARAM_LINE.match(line)
        if match and "`" not in match.group(2):
            lines[i] = match.group(1) + _TRAILING_UNDERSCORE.sub(r"\1\\_", match.group(2))


_NOTEBOOK_LINK = re.compile(r"\]\(\.\./notebooks/([\w-]+\.ipynb)")


def _notebook_links(app, docname, source):
    """Point the guide's links to ``../notebooks/<name>.ipynb`` at the rendered pages.

    The Markdown pages link the committed notebooks by their path in the repository, so that the
    links work when the pages are read on GitHub; the site renders the copies in docs/notebooks/.
    """
    if "/" not in docname:
        source[0] = _NOTEBOOK_LINK.sub(r"](notebooks/\1", source[0])


def setup(app):
    app.connect("source-read", _notebook_links)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _escape_type_underscores, priority=100)
