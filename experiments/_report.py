"""Run folders (never overwritten silently), plots and tables of a benchmark."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from ._data import InputError

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
        if self.path.exists():
            shutil.rmtree(self.path)
        self.staging.rename(self.path)
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


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_roc(path, y, probas_by_method, title):
    """ROC curves of the repeat-averaged out-of-fold probabilities (binary tasks)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, probas in probas_by_method.items():
        p = np.mean([q[:, 1] for q in probas], axis=0)
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set_xlabel("False positive rate (1 - specificity)")
    ax.set_ylabel("True positive rate (sensitivity)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_calibration(path, y, probas_by_method, title, n_bins=10):
    """Reliability diagram (quantile bins) of the repeat-averaged out-of-fold probabilities."""
    from sklearn.calibration import calibration_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, probas in probas_by_method.items():
        p = np.mean([q[:, 1] for q in probas], axis=0)
        frac, mean_pred = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
        ax.plot(mean_pred, frac, marker="o", ms=3, label=name)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set_xlabel("Mean predicted probability")
    ax.set_ylabel("Observed fraction of positives")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_boosting_curve(path, curve, title, reference=None):
    """Mean test-fold AUROC after each boosting round (with the fold spread)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    rounds = np.arange(curve.shape[1])  # staged_predict_proba starts with the init model alone
    mean = np.nanmean(curve, axis=0)
    sd = np.nanstd(curve, axis=0)
    ax.plot(rounds, mean, label="GraphBoostClassifier (mean over folds)")
    ax.fill_between(rounds, mean - sd, mean + sd, alpha=0.2, label="+/- 1 SD over folds")
    if reference is not None:
        name, value = reference
        ax.axhline(value, ls="--", c="grey", label=f"{name} (pooled AUROC)")
    ax.set_xlabel("Boosting round (0 = init model alone)")
    ax.set_ylabel("Test-fold AUROC")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
