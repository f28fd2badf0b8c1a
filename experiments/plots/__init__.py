"""Plotting helpers for the analysis notebooks: graphs, selections, volumes, curves, studies.

Every function draws on a Matplotlib ``Axes`` (a new figure when ``ax`` is None), sets a title
and labeled axes with units, and returns the ``Axes`` (or the ``Figure`` for multi-panel
plots), so that notebooks only choose *what* to show. Matplotlib is imported lazily.

Examples
--------
>>> import numpy as np
>>> from graphboost import column_knn_graph
>>> from experiments.plots import graph_layout, plot_patient_graph
>>> x = np.array([0.1, 0.2, 0.25, 3.0, 3.1, 3.3])
>>> coords, axis_labels = graph_layout(x[:, None], names=["marker"])
>>> ax = plot_patient_graph(column_knn_graph(x, 2), coords, [0, 0, 0, 1, 1, 1],
...                         axis_labels=axis_labels)
>>> ax.get_title()
'Patient-similarity graph'
"""

from ._curves import (
    plot_boosting_curve,
    plot_calibration_curves,
    plot_calibration_panels,
    plot_decision_curves,
    plot_reference_comparison,
    plot_roc_curves,
)
from ._graphs import (
    graph_layout,
    plot_explanation,
    plot_patient_graph,
    plot_selected_graph,
    plot_selection_frequency,
    selected_graph_edges,
)
from ._imaging import plot_embedding_2d, plot_volume_slices
from ._studies import plot_critical_difference, plot_optimization_history, plot_param_importances

__all__ = [
    "graph_layout",
    "plot_boosting_curve",
    "plot_calibration_curves",
    "plot_calibration_panels",
    "plot_critical_difference",
    "plot_decision_curves",
    "plot_embedding_2d",
    "plot_explanation",
    "plot_optimization_history",
    "plot_param_importances",
    "plot_patient_graph",
    "plot_reference_comparison",
    "plot_roc_curves",
    "plot_selected_graph",
    "plot_selection_frequency",
    "plot_volume_slices",
    "selected_graph_edges",
]
