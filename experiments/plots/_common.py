"""Shared helpers of the plots: lazy Matplotlib, axes, labels and legends."""

from __future__ import annotations

import numpy as np

_CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize=(6, 4.5)):
    if ax is None:
        _, ax = _plt().subplots(figsize=figsize)
    return ax


def _labels_array(labels, n, what="labels"):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"{what} must be one-dimensional with one entry per patient ({n}); got shape "
            f"{labels.shape}."
        )
    return labels


def _class_legend_name(value, class_names):
    if class_names is not None and value in class_names:
        return f"{class_names[value]}"
    return f"label {value}"


def _finish(ax, xlabel, ylabel, title, legend_loc=None):
    """Axis labels and title; a legend (small font) when ``legend_loc`` is given."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend_loc is not None:
        ax.legend(fontsize=7, loc=legend_loc)
    return ax
