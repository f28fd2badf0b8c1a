"""The leaf of the experiments package: the input error, run folders, JSON and table formatting."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
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
    "catboost",
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


NAME_MAX = 255
"""The longest file name assumed where the file system does not say (``os.pathconf``)."""


def _name_max(folder):
    """The longest file name allowed in ``folder`` (or its nearest existing parent)."""
    folder = Path(os.path.abspath(folder))
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no such variable
        return NAME_MAX


def _short(name, keep=24):
    return name if len(name) <= keep + 3 else f"{name[:keep]}..."


def check_name_lengths(path, derived=(), what="Output"):
    """Refuse ``path`` when one of its names, or a name derived from it, is too long to write.

    Parameters
    ----------
    path : str or Path
    derived : sequence of str
        Names written beside ``path`` while working (a staging folder, a lock, a side file).
    what : str
        The option or thing named in the message (``"--output"``).

    Raises
    ------
    InputError
        Before any work: a name of ``path`` or of ``derived`` over the file system's limit
        (``os.pathconf(folder, "PC_NAME_MAX")``, else :data:`NAME_MAX` bytes).
    """
    path = Path(os.path.abspath(path))
    for part in (path, *path.parents):
        if part.name:
            limit = _name_max(part.parent)
            n = len(os.fsencode(part.name))
            if n > limit:
                raise InputError(
                    f"{what} '{_short(str(path), 60)}': the name '{_short(part.name)}' has {n} "
                    f"characters (bytes); the file system allows {limit}. Choose a shorter name."
                )
    limit = _name_max(path.parent)
    name = len(os.fsencode(path.name))
    for other in derived:
        n = len(os.fsencode(other))
        if n > limit:
            raise InputError(
                f"{what} '{_short(str(path), 60)}': graphboost also writes '{_short(other)}' "
                f"beside it ({n} characters; the file system allows {limit}), so the name may "
                f"have at most {limit - (n - name)} characters. Choose a shorter name."
            )


def run_folder_names(path):
    """The names :class:`RunFolder` writes beside ``path``: staging, old copy, lock."""
    name, ns = Path(path).name, "0" * 19  # time.time_ns() has 19 digits until the year 2286
    return [f".{name}.partial-{ns}", f".{name}.old-{ns}", f".{name}.lock"]


class RunFolder:
    """Write a results folder atomically: into a hidden staging folder, renamed at the end.

    One writer at a time: entering takes a lock beside the folder (``.<name>.lock``, removed
    on release); a second run writing the same folder at the same moment fails with
    :class:`InputError` instead of silently replacing the first one's results. The existence
    check is done again under the lock, just before the rename, so a folder another run wrote
    meanwhile is never replaced without ``overwrite``.

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
        if self._occupied() and not overwrite:
            raise InputError(
                f"Output folder '{self.path}' already exists and is not empty; pass --overwrite "
                "to replace it or choose another folder."
            )
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            raise InputError(f"Cannot create '{self.path}': '{parent}' is not a folder.")
        check_name_lengths(self.path, run_folder_names(self.path), "Output folder")
        self.staging = parent / f".{self.path.name}.partial-{time.time_ns()}"
        self._lock = None

    def _occupied(self):
        return self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir()))

    def _acquire(self):
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(self.path.parent / f".{self.path.name}.lock", timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            self._lock = None
            raise InputError(
                f"Another graphboost run is writing '{self.path}' right now; nothing was "
                "written. Wait for it to finish, or choose another output folder."
            ) from None

    def __enter__(self):
        self._acquire()
        try:
            self.staging.mkdir(parents=True)
        except BaseException:
            self._release()
            raise
        return self

    def _release(self):
        if self._lock is not None:
            # Removed while held: a run that opened it meanwhile finds an unlinked file, which
            # filelock never takes for a lock; so no lock file is left beside the folder.
            with contextlib.suppress(OSError):
                Path(self._lock.lock_file).unlink()
            self._lock.release()
            self._lock = None

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
                return False
            self._swap_in()
            return False
        finally:
            self._release()

    def _swap_in(self):
        """Rename the staging folder into place (under the lock), the existence checked again."""
        if self._occupied() and not self.overwrite:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise InputError(
                f"Output folder '{self.path}' was written by another run while this one was "
                "working; nothing was written. Pass --overwrite to replace it, or choose another "
                "folder."
            )
        if not self.path.exists():
            self.staging.rename(self.path)
            return
        # Old aside, new in, old deleted: at every moment one complete folder exists.
        old = self.path.parent / f".{self.path.name}.old-{time.time_ns()}"
        self.path.rename(old)
        try:
            self.staging.rename(self.path)
        except OSError:
            old.rename(self.path)
            raise
        shutil.rmtree(old, ignore_errors=True)


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
