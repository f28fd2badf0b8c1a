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

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

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


# --------------------------------------------------------------------------------- graphs
def graph_layout(values, names=None, random_state=0):
    """2D positions of patients for drawing a graph built on ``values``.

    One column: the patient's value on the x axis and a small random jitter on the y axis (a
    column graph links patients that are close on that line). Two or more columns: the first
    two principal components of the standardized block.

    Parameters
    ----------
    values : array-like of shape (n_patients, n_columns)
        The column(s) the graph is built on.
    names : list of str, optional
        Column names, used in the axis labels.
    random_state : int, default=0
        Seed of the jitter.

    Returns
    -------
    coords : ndarray of shape (n_patients, 2)
    axis_labels : tuple of (str, str)
        Labels for the x and y axes, with units.

    Examples
    --------
    >>> coords, labels = graph_layout([[1.0], [2.0], [4.0]], names=["age (years)"])
    >>> coords.shape, labels[0]
    ((3, 2), 'age (years)')
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(
            f"values must be a (n_patients, n_columns) array with at least 2 patients; got shape "
            f"{values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("values contain NaN or infinite entries; impute them before drawing.")
    rng = np.random.default_rng(random_state)
    if values.shape[1] == 1:
        name = names[0] if names else "column value"
        jitter = rng.uniform(-1.0, 1.0, size=values.shape[0])
        return np.column_stack([values[:, 0], jitter]), (name, "random jitter (no unit)")
    from sklearn.decomposition import PCA

    z = values - values.mean(axis=0)
    sd = z.std(axis=0)
    z = z / np.where(sd > 0, sd, 1.0)
    pca = PCA(n_components=2, random_state=random_state).fit(z)
    share = pca.explained_variance_ratio_ * 100
    block = f" of {len(names)} columns" if names else ""
    return pca.transform(z), (
        f"PC 1{block} ({share[0]:.0f}% of variance, standardized units)",
        f"PC 2 ({share[1]:.0f}% of variance, standardized units)",
    )


def plot_patient_graph(
    edge_index,
    coords,
    labels,
    ax=None,
    title="Patient-similarity graph",
    axis_labels=("x", "y"),
    class_names=None,
    highlight=None,
    max_edges=5000,
    random_state=0,
):
    """Draw a patient-similarity graph, patients colored by label.

    Parameters
    ----------
    edge_index : array-like of shape (2, n_edges)
        Sources in row 0, targets in row 1 (graphboost's builders). Self-loops are not drawn.
    coords : array-like of shape (n_patients, 2)
        Position of each patient (see :func:`graph_layout`).
    labels : array-like of shape (n_patients,)
        Class of each patient (the color).
    ax : matplotlib Axes, optional
    title : str
    axis_labels : tuple of (str, str)
        Axis labels, with units.
    class_names : dict, optional
        Label value -> legend name, e.g. ``{0: "not TNBC", 1: "TNBC"}``.
    highlight : int, optional
        Index of one patient to mark (with its edges drawn darker).
    max_edges : int, default=5000
        Draw a random sample of at most this many edges (the legend says so).
    random_state : int, default=0

    Returns
    -------
    matplotlib Axes
    """
    coords, labels, edge_index = _graph_inputs(edge_index, coords, labels)
    ax = _axes(ax, figsize=(7, 5.5))
    _draw_edges(ax, edge_index, coords, max_edges, random_state)
    _scatter_classes(ax, coords, labels, class_names, s=14, edgecolors="white", linewidths=0.3)
    if highlight is not None:
        _mark_patient(ax, edge_index, coords, highlight)
    ax.autoscale()
    return _finish(ax, *axis_labels, title, legend_loc="best")


def _graph_inputs(edge_index, coords, labels):
    """Checked arrays of :func:`plot_patient_graph`."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must have shape (n_patients, 2); got {coords.shape}.")
    n = coords.shape[0]
    labels = _labels_array(labels, n)
    edge_index = np.asarray(edge_index)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, n_edges); got {edge_index.shape}.")
    if edge_index.size and (edge_index.min() < 0 or edge_index.max() >= n):
        raise ValueError(
            f"edge_index refers to patient {int(edge_index.max())} (or a negative index) but "
            f"coords has {n} patients (valid indices 0..{n - 1})."
        )
    return coords, labels, edge_index


def _draw_edges(ax, edge_index, coords, max_edges, random_state):
    """Grey segments of the edges (self-loops left out), a random sample of ``max_edges``."""
    from matplotlib.collections import LineCollection

    edges = edge_index[:, edge_index[0] != edge_index[1]]
    n_all = edges.shape[1]
    if n_all > max_edges:
        pick = np.random.default_rng(random_state).choice(n_all, max_edges, replace=False)
        edges = edges[:, pick]
    segments = np.stack([coords[edges[0]], coords[edges[1]]], axis=1)
    drawn = f", {edges.shape[1]} drawn" if n_all > edges.shape[1] else ""
    label = f"similarity edges ({n_all}{drawn})"
    ax.add_collection(
        LineCollection(segments, colors="0.6", linewidths=0.4, alpha=0.5, label=label)
    )


def _mark_patient(ax, edge_index, coords, patient):
    """Circle one patient and draw the edges into it in black."""
    from matplotlib.collections import LineCollection

    mine = edge_index[:, (edge_index[1] == patient) & (edge_index[0] != patient)]
    segments = np.stack([coords[mine[0]], coords[mine[1]]], axis=1)
    ax.add_collection(LineCollection(segments, colors="black", linewidths=1.0))
    ax.scatter(
        *coords[patient],
        s=120,
        facecolors="none",
        edgecolors="black",
        lw=1.5,
        label=f"patient {patient} and its neighbors",
        zorder=4,
    )


def _scatter_classes(ax, coords, labels, class_names, **style):
    """One scatter per class, colored in turn, with its size in the legend."""
    for k, value in enumerate(np.unique(labels)):
        m = labels == value
        ax.scatter(
            coords[m, 0],
            coords[m, 1],
            c=_CLASS_COLORS[k % len(_CLASS_COLORS)],
            label=f"{_class_legend_name(value, class_names)} (n={int(m.sum())})",
            zorder=3,
            **style,
        )


def selected_graph_edges(spec, X, max_degree=32):
    """The training graph of a selected :class:`graphboost.GraphSpec`, as the model built it.

    The graph is fitted by :func:`graphboost.build_graph`, the builder the estimator uses: a kNN
    graph on one column (ties broken by position), AdaMedGraph's threshold graph with the learned
    ``tau`` (at most ``max_degree`` neighbors), or a kNN graph on the block standardized over
    the training patients, in which patients flagged in the block's ``"<block>:missing"`` column
    have no edge.

    Parameters
    ----------
    spec : graphboost.GraphSpec
        An entry of ``GraphBoostClassifier.selected_graphs_``.
    X : pandas.DataFrame
        The matrix the model was fitted on (after preprocessing), holding ``spec.columns`` (and
        the block's ``"<block>:missing"`` column, when it had one).
    max_degree : int, default=32
        The model's ``max_degree`` (threshold graphs only).

    Returns
    -------
    edge_index : ndarray of shape (2, n_edges)
        Sources (neighbors) in row 0, targets in row 1; no self-loops.
    values : ndarray of shape (n_patients, n_columns)
        The column(s) the graph is built on (for :func:`graph_layout`).

    Examples
    --------
    >>> import pandas as pd
    >>> from graphboost import GraphSpec
    >>> X = pd.DataFrame({"age": [40.0, 41.0, 60.0, 62.0]})
    >>> edges, values = selected_graph_edges(GraphSpec("age", ("age",), "knn", n_neighbors=1), X)
    >>> edges
    array([[1, 0, 3, 2],
           [0, 1, 2, 3]])
    """
    from graphboost import build_graph

    if not hasattr(X, "columns"):
        raise ValueError(
            f"X must be a pandas DataFrame with the columns the model was fitted on; got "
            f"{type(X).__name__}."
        )
    graph = build_graph(spec, X)
    return graph.edge_index(max_degree=max_degree), X[list(spec.columns)].to_numpy(np.float64)


def plot_selected_graph(spec, X, labels, ax=None, class_names=None, title=None, max_degree=32):
    """Draw one graph a GraphBoostClassifier selected, patients colored by label.

    Parameters
    ----------
    spec : graphboost.GraphSpec
        An entry of ``selected_graphs_``.
    X : pandas.DataFrame
        Preprocessed matrix the model was fitted on.
    labels : array-like of shape (n_patients,)
    ax : matplotlib Axes, optional
    class_names : dict, optional
    title : str, optional
        Default: the graph's rule and feature.
    max_degree : int, default=32
        The model's ``max_degree`` (threshold graphs only).

    Returns
    -------
    matplotlib Axes
    """
    edge_index, values = selected_graph_edges(spec, X, max_degree=max_degree)
    coords, axis_labels = graph_layout(values, names=list(spec.columns))
    if title is None:
        title = f"Selected graph: {spec}"
    return plot_patient_graph(
        edge_index,
        coords,
        labels,
        ax=ax,
        title=title,
        axis_labels=axis_labels,
        class_names=class_names,
    )


def plot_explanation(explanation, patient=0, ax=None, top=12, title=None):
    """Bars of each graph's contribution to one patient's score (from ``explain``).

    Parameters
    ----------
    explanation : pandas.DataFrame
        The output of ``GraphBoostClassifier.explain`` (columns ``patient``, ``graph``,
        ``contribution``...).
    patient : int, default=0
        Row position of the patient in the ``X`` given to ``explain``.
    ax : matplotlib Axes, optional
    top : int, default=12
        Largest contributions shown (by absolute value).
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    needed = {"patient", "graph", "contribution"}
    missing = sorted(needed - set(getattr(explanation, "columns", [])))
    if missing:
        raise ValueError(
            f"explanation lacks the column(s) {missing}; pass the DataFrame returned by "
            "GraphBoostClassifier.explain."
        )
    rows = explanation[explanation["patient"] == patient]
    if rows.empty:
        present = sorted(set(explanation["patient"].tolist()))
        raise ValueError(f"No rows for patient {patient!r}; the explanation has {present[:10]}.")
    rows = rows.reindex(rows["contribution"].abs().sort_values(ascending=False).index)[:top]
    rows = rows.iloc[::-1]
    ax = _axes(ax, figsize=(7, 0.35 * len(rows) + 1.5))
    colors = ["#d62728" if v > 0 else "#1f77b4" for v in rows["contribution"]]
    names = []
    for _, r in rows.iterrows():
        name = str(r["graph"])
        if "rule" in rows.columns and name != "init":
            # Two graphs on one feature (e.g. k=5 and k=10) need their rule to tell them apart.
            name = str(r["rule"]).removeprefix("GraphSpec(").removesuffix(")")
        names.append(name if len(name) <= 50 else name[:47] + "...")
    ax.barh(np.arange(len(names)), rows["contribution"].to_numpy(), color=colors)
    ax.set_yticks(np.arange(len(names)))
    ax.set_yticklabels(names)
    ax.axvline(0, c="black", lw=0.8)
    ax.tick_params(axis="y", labelsize=7)
    return _finish(
        ax,
        "Contribution to the score (log-odds; > 0 pushes towards the positive class)",
        "Source of the score (init model or graph)",
        title or f"Why patient {patient} got its score",
    )


# ------------------------------------------------------------------------- selections
def plot_selection_frequency(counts, n_folds, ax=None, top=20, title=None):
    """Horizontal bars: in what share of the CV folds each edge feature was selected.

    Parameters
    ----------
    counts : mapping or pandas.Series
        Graph name -> number of folds whose model selected it at least once (e.g. the
        ``selected`` counter of a benchmark's GraphBoostClassifier result).
    n_folds : int
        Number of fitted folds (the 100% mark).
    ax : matplotlib Axes, optional
    top : int, default=20
        Most frequent graphs shown.
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    items = sorted(dict(counts).items(), key=lambda kv: (-kv[1], str(kv[0])))[:top]
    if not items:
        raise ValueError("counts is empty: no graph was selected in any fold.")
    if int(n_folds) < 1 or max(v for _, v in items) > n_folds:
        raise ValueError(
            f"n_folds must be at least the largest count ({max(v for _, v in items)}); got "
            f"{n_folds!r}."
        )
    ax = _axes(ax, figsize=(7, 0.3 * len(items) + 1.5))
    names = [str(k) if len(str(k)) <= 45 else str(k)[:42] + "..." for k, _ in items][::-1]
    share = [100.0 * v / n_folds for _, v in items][::-1]
    ax.barh(names, share, color="#1f77b4")
    ax.set_xlim(0, 100)
    ax.tick_params(axis="y", labelsize=7)
    return _finish(
        ax,
        f"Folds in which the graph was selected (% of {n_folds})",
        "Edge feature (column or block)",
        title or "Stability of the selected edge features across folds",
    )


# -------------------------------------------------------------------------------- volumes
def plot_volume_slices(
    volumes, labels=None, class_names=None, axis=0, spacing=None, title=None, ncols=4, names=None
):
    """The middle slice of each volume, in a grid (one panel per volume).

    Parameters
    ----------
    volumes : sequence of arrays of shape (D, H, W)
    labels : array-like, optional
        Class of each volume, shown in the panel title.
    class_names : dict, optional
    axis : {0, 1, 2}, default=0
        Axis across which the middle slice is taken.
    spacing : tuple of 3 float, optional
        Voxel size in mm; axes are then in mm, else in voxels.
    title : str, optional
        Figure title.
    ncols : int, default=4
    names : list of str, optional
        Panel names (e.g. patient IDs); default ``volume 0``, ``volume 1``...

    Returns
    -------
    matplotlib Figure
    """
    vols = _volumes_inputs(volumes, axis, names)
    if labels is not None:
        labels = _labels_array(labels, len(vols))
    ncols = min(ncols, len(vols))
    nrows = int(np.ceil(len(vols) / ncols))
    fig, axes = _plt().subplots(
        nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows + 0.6), squeeze=False
    )
    for i, ax in enumerate(axes.ravel()):
        if i >= len(vols):
            ax.axis("off")
            continue
        name = str(names[i]) if names is not None else f"volume {i}"
        if labels is not None:
            name += f": {_class_legend_name(labels[i], class_names)}"
        _draw_middle_slice(ax, vols[i], axis, spacing, name)
    fig.suptitle(title or f"Middle slice across axis {axis} of each volume")
    fig.tight_layout()
    return fig


def _volumes_inputs(volumes, axis, names):
    """Checked float32 volumes of :func:`plot_volume_slices`."""
    vols = [np.asarray(v, dtype=np.float32) for v in volumes]
    if not vols:
        raise ValueError("volumes is empty; pass at least one 3D array.")
    bad = [i for i, v in enumerate(vols) if v.ndim != 3]
    if bad:
        raise ValueError(
            f"volumes must be 3D arrays (D, H, W); volume {bad[0]} has shape {vols[bad[0]].shape}."
        )
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2; got {axis!r}.")
    if names is not None and len(names) != len(vols):
        raise ValueError(f"names must have one entry per volume ({len(vols)}); got {len(names)}.")
    return vols


def _draw_middle_slice(ax, volume, axis, spacing, name):
    """The middle slice of one volume across ``axis``, in mm when ``spacing`` is known."""
    other = [a for a in (0, 1, 2) if a != axis]
    sl = np.take(volume, volume.shape[axis] // 2, axis=axis)
    if spacing is not None:
        extent = (0, sl.shape[1] * spacing[other[1]], sl.shape[0] * spacing[other[0]], 0)
        unit = "mm"
    else:
        extent, unit = None, "voxels"
    ax.imshow(sl, cmap="gray", extent=extent)
    ax.set_title(name, fontsize=8)
    ax.set_xlabel(f"axis {other[1]} ({unit})", fontsize=7)
    ax.set_ylabel(f"axis {other[0]} ({unit})", fontsize=7)
    ax.tick_params(labelsize=6)


def plot_embedding_2d(
    X,
    labels,
    ax=None,
    title="Embeddings, first two principal components",
    class_names=None,
    random_state=0,
):
    """Scatter of the first two principal components of embeddings, colored by label.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_dims)
    labels : array-like of shape (n_samples,)
    ax : matplotlib Axes, optional
    title : str
    class_names : dict, optional
    random_state : int, default=0

    Returns
    -------
    matplotlib Axes
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"X must be (n_samples, n_dims) with n_dims >= 2; got {X.shape}.")
    labels = _labels_array(labels, X.shape[0])
    coords, (xl, yl) = graph_layout(X, random_state=random_state)
    ax = _axes(ax, figsize=(5.5, 4.5))
    _scatter_classes(ax, coords, labels, class_names, s=10, alpha=0.7)
    return _finish(ax, xl.replace(f" of {X.shape[1]} columns", ""), yl, title, legend_loc="best")


# ------------------------------------------------------------------------------ curves
def _positive_scores(p, n):
    """Scores of the positive class: (n,), (n, 2) or a list of (n, 2) repeats (averaged)."""
    if isinstance(p, list | tuple):
        p = np.mean([np.asarray(q, dtype=np.float64) for q in p], axis=0)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2:
        if p.shape[1] != 2:
            raise ValueError(
                f"ROC and calibration curves need binary probabilities (n, 2); got {p.shape}."
            )
        p = p[:, 1]
    if p.shape != (n,):
        raise ValueError(f"Probabilities must have one row per patient ({n}); got {p.shape}.")
    return p


def _method_scores(y, probas_by_method):
    """Labels as an array and each method's positive-class scores (checked)."""
    if not isinstance(probas_by_method, Mapping) or not probas_by_method:
        raise ValueError(
            "probas_by_method must be a non-empty dict of method name -> probabilities."
        )
    y = np.asarray(y)
    return y, {name: _positive_scores(p, y.shape[0]) for name, p in probas_by_method.items()}


def _method_curves(y, probas_by_method, ax, draw, diagonal):
    """``draw(ax, name, y, scores)`` for each method, then the dashed diagonal ``y = x``."""
    y, scores = _method_scores(y, probas_by_method)
    ax = _axes(ax, figsize=(5.5, 5))
    for name, s in scores.items():
        draw(ax, name, y, s)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label=diagonal)
    return ax


def plot_roc_curves(y, probas_by_method, ax=None, title="ROC curves (out-of-fold)"):
    """ROC curve of each method, its AUROC in the legend.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary labels (0/1).
    probas_by_method : dict
        Method -> positive-class scores (n,), probabilities (n, 2), or a list of (n, 2) arrays
        (one per CV repeat; averaged).
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib Axes
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    def draw(ax, name, y, s):
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, lw=1.2, label=f"{name} (AUROC {roc_auc_score(y, s):.3f})")

    ax = _method_curves(y, probas_by_method, ax, draw, diagonal="chance")
    xlabel, ylabel = "False positive rate (1 - specificity)", "True positive rate (sensitivity)"
    return _finish(ax, xlabel, ylabel, title, legend_loc="lower right")


def plot_calibration_curves(
    y, probas_by_method, ax=None, n_bins=10, title="Calibration (out-of-fold, quantile bins)"
):
    """Reliability diagram of each method (quantile bins), with Wilson 95% bands.

    Parameters
    ----------
    y : array-like of shape (n,)
    probas_by_method : dict
        As in :func:`plot_roc_curves`.
    ax : matplotlib Axes, optional
    n_bins : int, default=10
    title : str

    Returns
    -------
    matplotlib Axes

    See Also
    --------
    experiments.calibration_curve_bands : The points and bands drawn.
    """
    from ._calibration import calibration_curve_bands

    def draw(ax, name, y, s):
        curve = calibration_curve_bands(y, s, n_bins=n_bins)
        line = ax.plot(curve.mean_predicted, curve.observed, marker="o", ms=3, lw=1, label=name)
        color = line[0].get_color()
        ax.fill_between(curve.mean_predicted, curve.low, curve.high, color=color, alpha=0.12)

    ax = _method_curves(y, probas_by_method, ax, draw, diagonal="perfect calibration")
    xlabel, ylabel = "Mean predicted probability", "Observed fraction of positives (95% CI)"
    return _finish(ax, xlabel, ylabel, title, legend_loc="upper left")


def plot_calibration_panels(
    y, probas_by_method, n_bins=10, ncols=4, title="Calibration (out-of-fold, quantile bins)"
):
    """One reliability diagram per method, with its Wilson 95% band, on shared axes.

    Easier to read than :func:`plot_calibration_curves` when many methods overlap.

    Parameters
    ----------
    y : array-like of shape (n,)
    probas_by_method : dict
        As in :func:`plot_roc_curves`.
    n_bins : int, default=10
    ncols : int, default=4
        Panels per row.
    title : str

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1] * 20)
    >>> p = np.linspace(0.1, 0.9, 40)
    >>> len(plot_calibration_panels(y, {"a": p, "b": 1 - p}).axes)
    2
    """
    y, scores = _method_scores(y, probas_by_method)
    ncols = min(ncols, len(scores))
    nrows = -(-len(scores) // ncols)
    fig, axes = _plt().subplots(
        nrows, ncols, figsize=(3.3 * ncols, 3.3 * nrows), sharex=True, sharey=True, squeeze=False
    )
    for ax, (name, s) in zip(axes.flat, scores.items(), strict=False):
        plot_calibration_curves(y, {name: s}, ax=ax, n_bins=n_bins, title=name)
        ax.get_legend().remove()
        ax.set_xlabel("Mean predicted risk")
        ax.set_ylabel("Observed share (95% CI)")
        ax.label_outer()
    for ax in axes.flat[len(scores) :]:
        ax.remove()
    fig.suptitle(title)
    return fig


def plot_decision_curves(
    y, probas_by_method, ax=None, thresholds=None, title="Decision curve (out-of-fold)"
):
    """Net benefit of each method against treating all and treating none (Vickers & Elkin 2006).

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary labels (0/1).
    probas_by_method : dict
        Method -> probabilities (n, 2) or a list of (n, 2) arrays (one per CV repeat: the
        net benefit is averaged over the repeats).
    ax : matplotlib Axes, optional
    thresholds : array-like, optional
        Risk thresholds; default 1% to 80%.
    title : str

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]])
    >>> plot_decision_curves([0, 0, 1, 1], {"model": p}).get_ylabel()
    'Net benefit'
    """
    from ._decision import mean_decision_curve

    if not isinstance(probas_by_method, Mapping) or not probas_by_method:
        raise ValueError(
            "probas_by_method must be a non-empty dict of method name -> probabilities."
        )
    ax = _axes(ax, figsize=(6, 4.5))
    curve = None
    for name, p in probas_by_method.items():
        curve = mean_decision_curve(y, p, thresholds)
        ax.plot(curve.threshold, curve.model, lw=1.2, label=name)
    ax.plot(curve.threshold, curve.treat_all, c="black", lw=1.5, ls=":", label="treat all")
    ax.axhline(0.0, c="black", lw=0.8, ls="--", label="treat none")
    prevalence = float(np.mean(np.asarray(y) == 1))
    top = max(prevalence, 0.05)
    ax.set_ylim(-0.3 * top, 1.1 * top)  # treat-all falls far below 0: show where it crosses
    xlabel = "Risk threshold (treat if the predicted risk is at least this)"
    return _finish(ax, xlabel, "Net benefit", title, legend_loc="upper right")


def plot_boosting_curve(
    curves, ax=None, reference=None, title="Test AUROC after each boosting round", first_round=0
):
    """AUROC after each boosting round (mean and spread over folds).

    Parameters
    ----------
    curves : array-like of shape (n_folds, n_stages) or list of lists
        AUROC at each stage, per fold (shorter curves keep their last value), e.g. from
        ``GraphBoostClassifier.staged_predict_proba``, whose first stage is the init model alone.
    ax : matplotlib Axes, optional
    reference : tuple of (str, float), optional
        A horizontal line, e.g. ``("logistic regression", 0.645)``.
    title : str
    first_round : int, default=0
        Round number of the first stage: 0 when the curve starts with the init model alone (as
        ``staged_predict_proba`` does), 1 when it starts after the first round.

    Returns
    -------
    matplotlib Axes
    """
    rows = [list(c) for c in curves] if not isinstance(curves, np.ndarray) else curves.tolist()
    rows = [r for r in rows if len(r)]
    if not rows:
        raise ValueError("curves is empty: no fold has a boosting round.")
    width = max(len(r) for r in rows)
    arr = np.array([r + [r[-1]] * (width - len(r)) for r in rows], dtype=np.float64)
    rounds = np.arange(first_round, first_round + width)
    mean, sd = np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)
    ax = _axes(ax)
    label = "mean over folds" if arr.shape[0] > 1 else "AUROC"
    ax.plot(rounds, mean, marker="." if width < 30 else None, label=label)
    if arr.shape[0] > 1:
        ax.fill_between(rounds, mean - sd, mean + sd, alpha=0.2, label="+/- 1 SD over folds")
    if reference is not None:
        ax.axhline(reference[1], ls="--", c="grey", label=f"{reference[0]} ({reference[1]:.3f})")
    xlabel = "Boosting round" + (" (0: the init model alone)" if first_round == 0 else "")
    return _finish(ax, xlabel, "AUROC", title, legend_loc="best")


def plot_reference_comparison(
    ours, references, ax=None, metric="AUROC", title="Our results beside the published figures"
):
    """Dot plot of our estimates (with 95% CIs) beside published reference figures.

    Parameters
    ----------
    ours : dict
        Label -> estimate, or ``(estimate, low, high)``.
    references : dict
        Label -> published figure, or ``(estimate, low, high)``.
    ax : matplotlib Axes, optional
    metric : str, default="AUROC"
    title : str

    Returns
    -------
    matplotlib Axes
    """
    rows = [(k, v, "ours") for k, v in dict(ours).items()]
    rows += [(k, v, "published") for k, v in dict(references).items()]
    if not rows:
        raise ValueError("Nothing to compare: ours and references are both empty.")
    ax = _axes(ax, figsize=(7, 0.35 * len(rows) + 1.5))
    colors = {"ours": "#d62728", "published": "#7f7f7f"}
    seen = set()
    for i, (_name, value, kind) in enumerate(rows[::-1]):
        est, lo, hi = (value, None, None) if np.isscalar(value) else tuple(value)
        label = None if kind in seen else ("this run" if kind == "ours" else "reference figure")
        seen.add(kind)
        if lo is not None:
            ax.errorbar(
                est,
                i,
                xerr=[[est - lo], [hi - est]],
                fmt="o",
                color=colors[kind],
                capsize=3,
                label=label,
            )
        else:
            ax.plot(est, i, "D" if kind == "published" else "o", color=colors[kind], label=label)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows[::-1]], fontsize=7)
    ax.axvline(0.5, ls=":", c="grey", lw=0.8)
    ax.set_xlabel(f"{metric} (dots; bars: 95% CI where known)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return ax


# ------------------------------------------------------------------------------ Optuna
def _completed(study):
    trials = [t for t in study.trials if t.state.name == "COMPLETE" and t.value is not None]
    if not trials:
        raise ValueError(f"Study {study.study_name!r} has no complete trial to plot.")
    return trials


def plot_optimization_history(study, ax=None, metric="inner-CV AUROC"):
    """Objective value of each complete trial and the best so far.

    Parameters
    ----------
    study : optuna.Study
        A maximising study.
    ax : matplotlib Axes, optional
    metric : str
        Name of the objective, for the axis label.

    Returns
    -------
    matplotlib Axes
    """
    trials = _completed(study)
    numbers = np.array([t.number for t in trials])
    values = np.array([t.value for t in trials])
    pruned = [t.number for t in study.trials if t.state.name == "PRUNED"]
    ax = _axes(ax)
    ax.scatter(numbers, values, s=18, label="complete trial")
    ax.step(numbers, np.maximum.accumulate(values), where="post", c="#d62728", label="best so far")
    if pruned:
        lo = np.nanmin(values)
        ax.scatter(
            pruned,
            [lo] * len(pruned),
            marker="x",
            c="grey",
            label=f"pruned trial ({len(pruned)}, drawn at the lowest value)",
        )
    title = f"Optimization history of study {study.study_name!r}"
    return _finish(ax, "Trial number", metric, title, legend_loc="best")


def plot_param_importances(study, ax=None, random_state=0):
    """Horizontal bars of Optuna's parameter importances (fANOVA) over complete trials.

    Parameters
    ----------
    study : optuna.Study
    ax : matplotlib Axes, optional
    random_state : int, default=0
        Seed of the importance evaluator.

    Returns
    -------
    matplotlib Axes
    """
    import optuna

    trials = _completed(study)
    if len(trials) < 2:
        raise ValueError(
            f"Parameter importances need at least 2 complete trials; study "
            f"{study.study_name!r} has {len(trials)}."
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=random_state)
    imp = optuna.importance.get_param_importances(study, evaluator=evaluator)
    names, values = list(imp)[::-1], [100.0 * v for v in list(imp.values())[::-1]]
    ax = _axes(ax, figsize=(6, 0.35 * max(len(names), 1) + 1.5))
    ax.barh(names, values, color="#1f77b4")
    return _finish(
        ax,
        "Importance (% of the objective's variance explained, fANOVA)",
        "Hyper-parameter",
        f"Parameter importances, {len(trials)} complete trials",
    )


def _cd_groups(ranks, critical_difference):
    """Maximal runs ``(first, last)`` of sorted mean ranks spanning less than the CD.

    Methods of one run do not differ significantly (Nemenyi); runs of one method are left out.

    Examples
    --------
    >>> _cd_groups([1.0, 2.0, 3.0, 4.0], 1.5)
    [(0, 1), (1, 2), (2, 3)]
    >>> _cd_groups([1.0, 2.0, 3.0, 4.0], 2.5)
    [(0, 2), (1, 3)]
    """
    groups, reach = [], -1
    for i in range(len(ranks)):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < critical_difference:
            j += 1
        if j > i and j > reach:  # not inside the previous run
            groups.append((i, j))
            reach = j
    return groups


def plot_critical_difference(mean_ranks, critical_difference, ax=None, title=None):
    """Critical-difference diagram of mean ranks over tasks (Demsar 2006).

    The axis shows mean ranks (1 = best, on the left); the better half of the methods is named on
    the left, the other half on the right. The bar labeled CD has the length of the critical
    difference; a thick line joins methods whose mean ranks differ by less than it (not
    significantly different by the Nemenyi test).

    Parameters
    ----------
    mean_ranks : Mapping of str to float
        Mean rank of each method (two or more).
    critical_difference : float
        Nemenyi's critical difference of mean ranks (``experiments.critical_difference``).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes

    References
    ----------
    J. Demsar, "Statistical comparisons of classifiers over multiple data sets", Journal of
    Machine Learning Research 7:1-30 (2006), Figures 1 and 2.

    Examples
    --------
    >>> ax = plot_critical_difference({"a": 1.4, "b": 2.1, "c": 2.5, "d": 4.0}, 1.25)
    >>> ax.get_title()
    'Critical difference diagram'
    """
    if not isinstance(mean_ranks, Mapping) or len(mean_ranks) < 2:
        raise ValueError("mean_ranks must be a dict of two or more method names -> mean rank.")
    if not np.isfinite(critical_difference) or critical_difference <= 0:
        raise ValueError(f"critical_difference must be positive; got {critical_difference!r}.")
    names = sorted(mean_ranks, key=lambda n: (mean_ranks[n], n))
    ranks = np.array([float(mean_ranks[n]) for n in names])
    k, half = len(names), (len(names) + 1) // 2
    ax = _axes(ax, figsize=(8, 1.6 + 0.3 * half))
    hi = max(k, int(np.ceil(ranks.max())))
    _draw_rank_axis(ax, hi, critical_difference)
    for i, (name, rank) in enumerate(zip(names, ranks, strict=True)):
        left = i < half
        y = -0.45 - 0.3 * (i if left else k - 1 - i)
        end = 0.5 if left else hi + 0.5
        ax.plot([rank, rank, end], [0, y, y], color="black", lw=0.8)
        label, ha = f"{name} ({rank:.2f})", "right" if left else "left"
        ax.text(end + (-0.05 if left else 0.05), y, label, fontsize=8, ha=ha, va="center")
    for j, (a, b) in enumerate(_cd_groups(ranks, critical_difference)):
        y = -0.15 - 0.08 * j
        ax.plot([ranks[a] - 0.03, ranks[b] + 0.03], [y, y], color="black", lw=3)
    ax.set_xlim(1 - 0.55 * hi, hi + 0.55 * hi)
    ax.set_ylim(-0.6 - 0.3 * half, 1.1)
    ax.axis("off")
    ax.set_title(title or "Critical difference diagram")
    return ax


def _draw_rank_axis(ax, hi, critical_difference):
    """The rank axis (1 to ``hi``) with its ticks, and the CD bar above it."""
    ax.plot([1, hi], [0, 0], color="black", lw=1)
    for t in range(1, hi + 1):
        ax.plot([t, t], [0, 0.08], color="black", lw=1)
        ax.text(t, 0.12, str(t), ha="center", va="bottom", fontsize=8)
    cd_y = 0.7
    ax.plot([1, 1 + critical_difference], [cd_y, cd_y], color="black", lw=1.5)
    ax.plot([1, 1], [cd_y - 0.06, cd_y + 0.06], color="black", lw=1)
    ax.plot([1 + critical_difference] * 2, [cd_y - 0.06, cd_y + 0.06], color="black", lw=1)
    label = f"CD = {critical_difference:.2f}"
    ax.text(1 + critical_difference / 2, cd_y + 0.08, label, ha="center", va="bottom", fontsize=8)
