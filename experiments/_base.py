"""The leaf of the experiments package: the input error, run folders, JSON and table formatting."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import shutil
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """Bad user input (file, column, label, config); the CLI prints it as one line."""


_PACKAGES = (
    "graphboost",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "torch",
    "torch-geometric",
    "xgboost",
    "optuna",
    "monai",
)


def package_versions():
    """Versions of the packages a result depends on (``None`` when not installed)."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


class RunFolder:
    """Write a results folder atomically: into a hidden staging folder, renamed at the end.

    Parameters
    ----------
    path : str or Path
        Final folder. If it exists and is not empty, :class:`InputError` is raised unless
        ``overwrite=True``. A path ending in ``{timestamp}`` gets the current time instead.
    overwrite : bool, default=False
        Replace an existing folder (only once the new results are complete).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with RunFolder(root / "run") as rf:
    ...     _ = (rf.staging / "x.txt").write_text("1")
    >>> sorted(p.name for p in (root / "run").iterdir())
    ['x.txt']
    """

    def __init__(self, path, overwrite=False):
        path = str(path)
        if "{timestamp}" in path:
            path = path.replace("{timestamp}", time.strftime("%Y%m%d-%H%M%S"))
        self.path = Path(path)
        self.overwrite = overwrite
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"Output path '{self.path}' exists and is not a folder.")
        if self.path.is_dir() and any(self.path.iterdir()) and not overwrite:
            raise InputError(
                f"Output folder '{self.path}' already exists and is not empty; pass --overwrite "
                "to replace it or choose another folder."
            )
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            raise InputError(f"Cannot create '{self.path}': '{parent}' is not a folder.")
        self.staging = parent / f".{self.path.name}.partial-{time.time_ns()}"

    def __enter__(self):
        self.staging.mkdir(parents=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return False
        if not self.path.exists():
            self.staging.rename(self.path)
            return False
        # Old aside, new in, old deleted: at every moment one complete folder exists.
        old = self.path.parent / f".{self.path.name}.old-{time.time_ns()}"
        self.path.rename(old)
        try:
            self.staging.rename(self.path)
        except OSError:
            old.rename(self.path)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return False


def write_json(path, obj):
    """Write JSON with NumPy scalars converted."""

    def default(o):
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        return str(o)

    Path(path).write_text(json.dumps(obj, indent=2, default=default) + "\n")


def markdown_table(df, floatfmt="{:.3f}"):
    """A pandas DataFrame as a GitHub Markdown table (no tabulate dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                cells.append(floatfmt.format(v) if np.isfinite(v) else "-")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_ci(value, low, high, fmt="{:.3f}"):
    """``"value (low to high)"`` in ``fmt``; ``"-"`` for a missing or non-finite value.

    Examples
    --------
    >>> format_ci(0.5, 0.4, 0.61), format_ci(-0.02, -0.1, 0.05, "{:+.2f}"), format_ci(None, 0, 1)
    ('0.500 (0.400 to 0.610)', '-0.02 (-0.10 to +0.05)', '-')
    """
    if value is None or not np.isfinite(value):
        return "-"
    return f"{fmt.format(value)} ({fmt.format(low)} to {fmt.format(high)})"


# Warnings that every fold of a cross-validation repeats and that say nothing about the result:
# a rare category or binary value absent from one training fold, a rare column constant in one.
# Filtered by message inside the folds only; every other warning (such as "No candidate graph
# beat chance") reaches the user.
FOLD_NOISE = ("Values not seen in fit", "Constant columns skipped")


@contextmanager
def filter_fold_noise():
    """Filter the per-fold noise of :data:`FOLD_NOISE` by message; let the rest through."""
    with warnings.catch_warnings():
        for message in FOLD_NOISE:
            warnings.filterwarnings("ignore", message=re.escape(message))
        yield
