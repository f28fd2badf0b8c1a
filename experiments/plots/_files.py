"""Figures of a run written to files (PNG), through :mod:`experiments.plots`."""

from __future__ import annotations

from ._curves import (
    plot_boosting_curve as plot_curve,
)
from ._curves import plot_calibration_panels, plot_decision_curves, plot_roc_curves


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
    _agg()
    _save(plot_roc_curves(y, probas_by_method, title=title), path)


def plot_calibration(path, y, probas_by_method, title, n_bins=10):
    """Reliability diagrams (quantile bins, Wilson 95% bands), one panel per method, of the
    repeat-averaged out-of-fold probabilities."""
    _agg()
    _save(plot_calibration_panels(y, probas_by_method, n_bins=n_bins, title=title).axes[0], path)


def plot_decision_curve(path, y, probas_by_method, title):
    """Net benefit against treat-all and treat-none (mean over repeats, binary tasks)."""
    _agg()
    _save(plot_decision_curves(y, probas_by_method, title=title), path)


def plot_boosting_curve(path, curve, title, reference=None):
    """Mean test-fold AUROC after each boosting round (round 0: the init model alone)."""
    _agg()
    _save(plot_curve(curve, reference=reference, title=title), path)
