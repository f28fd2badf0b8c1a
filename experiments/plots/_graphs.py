"""Patient graphs and explanations: layouts, selected graphs, contributions."""

from __future__ import annotations

import numpy as np

from ._common import _CLASS_COLORS, _axes, _class_legend_name, _finish, _labels_array


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
    """Bars of each source's part of one patient's score (from ``explain``), with the change
    of risk in percentage points beside each bar.

    Parameters
    ----------
    explanation : pandas.DataFrame
        The output of ``GraphBoostClassifier.explain`` (columns ``patient``, ``graph``,
        ``contribution``...; ``source`` and ``risk_change_pp`` when present label the bars).
    patient : label, default=0
        The patient as in the ``patient`` column: its index label in the DataFrame given to
        ``explain`` (its position when that was an array).
    ax : matplotlib Axes, optional
    top : int, default=12
        Largest contributions shown (by absolute value).
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        When the explanation lacks a column, or has no row of ``patient``.
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
        n = explanation["patient"].nunique()
        raise ValueError(
            f"No rows for that patient ({type(patient).__name__}) among the {n} patients of the "
            "explanation: give the patient's index label in the DataFrame given to explain (its "
            "position when that was an array), as in the explanation's 'patient' column."
        )
    rows = rows.reindex(rows["contribution"].abs().sort_values(ascending=False).index)[:top]
    rows = rows.iloc[::-1]
    ax = _axes(ax, figsize=(7, 0.35 * len(rows) + 1.5))
    values = rows["contribution"].to_numpy(dtype=float)
    colors = ["#d62728" if v > 0 else "#1f77b4" for v in values]
    names = [_source_label(r, rows.columns) for _, r in rows.iterrows()]
    ax.barh(np.arange(len(names)), values, color=colors)
    ax.set_yticks(np.arange(len(names)))
    ax.set_yticklabels(names)
    ax.axvline(0, c="black", lw=0.8)
    ax.tick_params(axis="y", labelsize=7)
    if "risk_change_pp" in rows.columns:
        for y, (v, row) in enumerate(zip(values, rows.itertuples(index=False), strict=True)):
            label = (
                f"risk {row.risk_after:.1%}"
                if not np.isfinite(row.risk_change_pp)
                else f"{row.risk_change_pp:+.1f} pts"
            )
            ax.annotate(
                label,
                (v, y),
                xytext=(3 if v >= 0 else -3, 0),
                textcoords="offset points",
                ha="left" if v >= 0 else "right",
                va="center",
                fontsize=7,
            )
        ax.margins(x=0.25)
    return _finish(
        ax,
        "Contribution to the score (log-odds; > 0 pushes towards the positive class); "
        "beside: change of risk (percentage points)",
        "Source of the score (linear start or graph)",
        title or f"Why patient {patient} got its score",
    )


def _source_label(row, columns):
    """A bar's name: the explanation's ``source``, else the graph and its rule."""
    if "source" in columns and isinstance(row["source"], str):
        name = row["source"]
    else:
        name = str(row["graph"])
        if "rule" in columns and name != "init":
            # Two graphs on one feature (e.g. k=5 and k=10) need their rule to tell them apart.
            name = str(row["rule"]).removeprefix("GraphSpec(").removesuffix(")")
    return name if len(name) <= 50 else name[:47] + "..."


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
