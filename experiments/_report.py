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


def _agg():
    """Draw off-screen: the runner writes files and may run without a display."""
    import matplotlib

    matplotlib.use("Agg", force=True)


def _save(ax, path):
    """Write the figure of ``ax`` to ``path`` and close it."""
    import matplotlib.pyplot as plt

    fig = ax.figure
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_roc(path, y, probas_by_method, title):
    """ROC curves of the repeat-averaged out-of-fold probabilities (binary tasks)."""
    from .plots import plot_roc_curves

    _agg()

    _save(plot_roc_curves(y, probas_by_method, title=title), path)


def plot_calibration(path, y, probas_by_method, title, n_bins=10):
    """Reliability diagrams (quantile bins, Wilson 95% bands), one panel per method, of the
    repeat-averaged out-of-fold probabilities."""
    from .plots import plot_calibration_panels

    _agg()

    _save(plot_calibration_panels(y, probas_by_method, n_bins=n_bins, title=title).axes[0], path)


def plot_decision_curve(path, y, probas_by_method, title):
    """Net benefit against treat-all and treat-none (mean over repeats, binary tasks)."""
    from .plots import plot_decision_curves

    _agg()

    _save(plot_decision_curves(y, probas_by_method, title=title), path)


def plot_boosting_curve(path, curve, title, reference=None):
    """Mean test-fold AUROC after each boosting round (round 0: the init model alone)."""
    from .plots import plot_boosting_curve as plot_curve

    _agg()

    _save(plot_curve(curve, reference=reference, title=title), path)


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


# --------------------------------------------------------------------------- report sections
def dataset_lines(ds, y, meta):
    """The report's opening: dataset, classes and the evaluation scheme."""
    counts = dict(zip(meta["dataset"]["classes"], meta["dataset"]["class_counts"], strict=True))
    return [
        f"Dataset `{ds.name}`: {y.size} patients, {ds.X.shape[1]} feature columns, classes "
        f"{counts}.",
        f"Evaluation: {meta['scheme']}; every preprocessing step fitted inside the training "
        "folds. Each metric is the mean over repeats of the pooled out-of-fold predictions, with "
        f"a stratified bootstrap 95% CI over patients ({meta['config']['metrics']['n_bootstrap']} "
        "resamples). F1 and MCC at threshold 0.5.",
        "",
    ]


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


def format_ablation(table):
    """The Markdown table of a modality ablation (one row per method and arm).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`experiments._ablation.ablation_table`.

    Returns
    -------
    str
    """
    import pandas as pd

    won = [
        "-" if not np.isfinite(r.n_folds) else f"{int(r.folds_won)} / {int(r.n_folds)}"
        for r in table.itertuples()
    ]
    shown = pd.DataFrame(
        {
            "method": table.method,
            "arm": table.arm,
            "columns": table.n_columns,
            "AUROC (95% CI)": [
                format_ci(r.auroc, r.auroc_low, r.auroc_high) for r in table.itertuples()
            ],
            "fold AUROC mean (SD)": [
                f"{r.fold_auroc_mean:.3f} ({r.fold_auroc_sd:.3f})" for r in table.itertuples()
            ],
            "arm - all: AUROC (95% CI)": [
                format_ci(r.delta_vs_all, r.delta_low, r.delta_high, "{:+.3f}")
                for r in table.itertuples()
            ],
            "p": ["-" if not np.isfinite(v) else f"{v:.3f}" for v in table.p_value],
            "folds won": won,
        }
    )
    return markdown_table(shown)


def ablation_lines(table, modalities, config):
    """The section "Modality ablation" of ``results.md``."""
    described = "; ".join(
        f"`{name}`: {spec['n_columns']} columns (prefixes "
        + ", ".join(f"`{p}`" if p else "none (no `:` in the name)" for p in spec["prefixes"])
        + ")"
        for name, spec in modalities.items()
    )
    n_boot = config["metrics"]["n_bootstrap"]
    return [
        "## Modality ablation",
        "",
        f"Modalities: {described}. Arm `all`: every modality together. Each arm's pipeline "
        "starts by keeping the arm's source columns, so the preprocessor and the model are "
        "fitted on them alone, inside each training fold; every arm uses the same folds.",
        "",
        format_ablation(table),
        "",
        "`arm - all`: AUROC of the modality alone minus AUROC of every modality together (mean "
        "over repeats of the pooled out-of-fold AUROC), with a paired stratified bootstrap 95% "
        f"CI over patients (both arms scored on the same resampled patients, {n_boot} "
        "resamples) and its two-sided p-value. Folds won: folds (same test patients) where "
        "the modality alone has the higher AUROC.",
        "",
    ]


def modality_share_lines(summary, method="graphboost", where=None):
    """The section "Modality contributions" of ``results.md``."""
    shown = summary.rename(
        columns={
            "mean_share": "mean share",
            "fold_sd": "fold SD",
            "fold_min": "fold min",
            "fold_max": "fold max",
        }
    )
    scope = f" ({where})" if where else ""
    return [
        "## Modality contributions",
        "",
        f"Share of the {method} score from each modality{scope}: each fold's fitted model "
        "explains its test patients (`explain(..., n_neighbors=1)` on the preprocessed test "
        "rows) and `graphboost.modality_shares` gives each patient's share of the absolute "
        "contributions from the graphs on each modality's columns (`init`: the starting "
        "linear model on every column). Mean over every out-of-fold patient of every repeat; "
        "SD, min and max over the folds' means.",
        "",
        markdown_table(shown),
        "",
    ]


def modality_arm_lines(results):
    """The section "Modalities chosen inside the folds" of ``results.md``.

    Parameters
    ----------
    results : dict of str to MethodResult
        Methods whose ``arms`` (modality arm -> folds that chose it) are empty are left out.

    Returns
    -------
    list of str
        No lines when no method chose arms.

    Examples
    --------
    >>> from collections import Counter
    >>> from types import SimpleNamespace
    >>> res = SimpleNamespace(arms=Counter({"all": 3, "clinical": 1}), fit_seconds=[0.1] * 4)
    >>> print("\\n".join(modality_arm_lines({"graphboost_modalities": res})[4:]))
    | method | arm | folds |
    |---|---|---|
    | graphboost_modalities | all | 3 / 4 |
    | graphboost_modalities | clinical | 1 / 4 |
    <BLANKLINE>
    """
    import pandas as pd

    rows = [
        (name, arm, f"{k} / {len(res.fit_seconds)}")
        for name, res in results.items()
        for arm, k in res.arms.most_common()
    ]
    if not rows:
        return []
    return [
        "## Modalities chosen inside the folds",
        "",
        "The arm (one modality alone, or `all`: every modality) each fold's model chose by inner "
        "cross-validation on its training rows, and in how many of the folds.",
        "",
        markdown_table(pd.DataFrame(rows, columns=["method", "arm", "folds"])),
        "",
    ]
