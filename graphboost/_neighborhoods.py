"""Fitted patient-similarity graphs: what the estimator, the plots and the baselines link.

A fitted graph holds what was learned on the training patients (their values, a block's scaling,
the threshold ``tau``) and answers two questions: who are the neighbors of a training patient
(itself left out), and who are the training neighbors of a new patient. New patients are linked
only to training patients, so a prediction never depends on the other rows passed with it.

:func:`build_graph` is the one way to fit the graph of a :class:`~graphboost.GraphSpec`; the
estimator goes through the same :class:`Candidate` (a spec with its resolved column indices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from ._graphs import (
    GraphSpec,
    _check_n_neighbors,
    neighbors_to_edge_index,
    sorted_neighbors,
    sorted_ranges,
    stable_argsort,
)
from ._validation import check_finite, format_names

# Tie-break of the neighbor vote: a tiny share of the overall class weights, so that an exact tie
# goes to the heavier class rather than to the first class.
_PRIOR_TIEBREAK = 1e-9


class _FittedGraph:
    """What every fitted graph offers: PyG-style edges among and into the training patients."""

    spec: GraphSpec

    def edge_index(self, max_degree=None):
        """Edges among the training patients, without self-loops.

        Parameters
        ----------
        max_degree : int, default=None
            Most neighbors kept per patient (nearest first) of a ``"threshold"`` graph; None
            keeps all. A kNN graph has ``spec.n_neighbors`` neighbors per patient.

        Returns
        -------
        edge_index : ndarray of shape (2, n_edges), dtype int64
            Sources (neighbors) in row 0, targets in row 1, numbered as the training rows.
        """
        return neighbors_to_edge_index(self.neighbors_train(max_degree), self_loops=False)

    def query_edge_index(self, X_query, max_degree=None):
        """Edges from the training patients into new patients, by the rule of the graph.

        Parameters
        ----------
        X_query : array-like of shape (n_queries, n_features)
            New patients, with the columns of the matrix the graph was fitted on, in its order.
        max_degree : int, default=None
            As in :meth:`edge_index`.

        Returns
        -------
        edge_index : ndarray of shape (2, n_edges), dtype int64
            Directed training -> query: sources are training rows, targets are query rows
            numbered after the training patients (query row ``i`` is node ``n_train + i``), so
            it can be appended to :meth:`edge_index` for a graph on the stacked features.
        """
        X_query = _as_matrix(X_query, "X_query")
        return neighbors_to_edge_index(
            self.neighbors_query(X_query, max_degree), self_loops=False, offset=self.n_train
        )


class ColumnGraph(_FittedGraph):
    """A graph on one column, fitted on the training values of that column.

    Returned by :func:`build_graph` for a column spec; ``spec`` is its :class:`GraphSpec`,
    ``column_index`` the position of the column in ``X``. The graph keeps the training values
    sorted, so that a new patient is placed among them by binary search, O(log N).
    """

    def __init__(self, spec: GraphSpec, column_index: int, x_train, order=None):
        self.spec = spec
        self.column_index = int(column_index)
        self.x = np.asarray(x_train, dtype=np.float64)
        # Its own copy of a given order: never a view that keeps a larger array alive.
        self.order = stable_argsort(self.x) if order is None else np.array(order, copy=True)
        self.sorted_x = self.x[self.order]
        self.mean = float(self.x.mean())
        scale = float(self.x.std())
        self.scale = scale if scale > 0 else 1.0
        self._train_ranges = None

    @property
    def n_train(self):
        """Number of training patients (nodes of the training graph)."""
        return self.x.shape[0]

    def _rule(self):
        spec = self.spec
        return {"rule": spec.rule, "n_neighbors": spec.n_neighbors, "threshold": spec.threshold}

    def query_values(self, X):
        return np.asarray(X[:, self.column_index], dtype=np.float64)

    def train_ranges(self):
        """Neighborhood ``[lo, hi)`` of each sorted training patient, in sorted positions."""
        if self._train_ranges is None:
            self._train_ranges = _pack_ranges(*sorted_ranges(self.sorted_x, **self._rule()))
        return _unpack_ranges(*self._train_ranges)

    def set_train_ranges(self, below, above):
        """Take the ranges of :meth:`train_ranges`, packed by :func:`_pack_ranges`, from a
        caller that computed them already."""
        self._train_ranges = (below, above)

    def vote_train(self, wy):
        """Leave-self-out weighted vote of the training patients, shape (n_train, n_classes)."""
        lo, hi = self.train_ranges()
        vote = np.empty(wy.shape, dtype=np.float64)
        for c in range(wy.shape[1]):  # one class at a time: 1-D gathers, O(N) memory
            w_sorted = wy[self.order, c]
            cs = _prefix(w_sorted)
            vote[self.order, c] = cs[hi] - cs[lo] - w_sorted
        return vote

    def vote_prefix(self, wy):
        """Prefix sums of ``wy`` in sorted order; a learner computes them once."""
        return _prefix(wy[self.order])

    def vote_query(self, X, wy, prefix=None):
        """Weighted vote of the training neighbors of new patients.

        With ``prefix`` (from :meth:`vote_prefix`) a query costs O(k + log N) per patient;
        without it the prefix sums are recomputed, O(N).
        """
        lo, hi = sorted_ranges(self.sorted_x, query=self.query_values(X), **self._rule())
        cs = self.vote_prefix(wy) if prefix is None else prefix
        return cs[hi] - cs[lo]

    def neighbors_train(self, max_degree=None):
        """Nearest other training patients of each training patient, -1 padded."""
        return sorted_neighbors(self.sorted_x, self.order, max_degree=max_degree, **self._rule())

    def neighbors_query(self, X, max_degree=None):
        """Nearest training patients of each new patient, -1 padded."""
        return sorted_neighbors(
            self.sorted_x,
            self.order,
            max_degree=max_degree,
            query=self.query_values(X),
            **self._rule(),
        )

    def node_features_train(self):
        return ((self.x - self.mean) / self.scale)[:, None]

    def node_features_query(self, X):
        return ((self.query_values(X) - self.mean) / self.scale)[:, None]

    # -- persistence -------------------------------------------------------------------------
    def state(self):
        return {"column_index": self.column_index}, {"x": self.x}

    @classmethod
    def from_state(cls, spec, meta, arrays):
        return cls(spec, meta["column_index"], arrays["x"])


class BlockGraph(_FittedGraph):
    """A k-nearest-neighbor graph on a block of columns, scaled on the training patients.

    Returned by :func:`build_graph` for a block spec. Patients flagged in ``present=False``
    (they lack the modality, e.g. no scan) are not linked through this block: they are nobody's
    neighbor and have no neighbors here.
    """

    def __init__(
        self, spec: GraphSpec, column_indices, Z, mean, scale, present=None, indicator_index=None
    ):
        self.spec = spec
        self.column_indices = np.asarray(column_indices, dtype=np.int64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.Z = np.asarray(Z, dtype=np.float64)
        self.present = (
            np.ones(self.Z.shape[0], dtype=bool) if present is None else np.asarray(present, bool)
        )
        self.indicator_index = indicator_index
        self.members = np.flatnonzero(self.present)
        algorithm = "brute" if spec.metric == "cosine" else "auto"
        self.index = NearestNeighbors(metric=spec.metric, algorithm=algorithm).fit(
            self.Z[self.members]
        )
        self._train_neighbors = None

    @classmethod
    def fit(cls, spec, column_indices, X, indicator_index=None):
        """Standardize the block on the training patients that have it, and index them."""
        X_block = np.asarray(X[:, column_indices], dtype=np.float64)
        present = None if indicator_index is None else X[:, indicator_index] < 0.5
        rows = X_block if present is None else X_block[present]
        mean = rows.mean(axis=0)
        scale = rows.std(axis=0)
        scale[scale == 0] = 1.0
        return cls(
            spec, column_indices, (X_block - mean) / scale, mean, scale, present, indicator_index
        )

    @property
    def n_train(self):
        """Number of training patients (nodes of the training graph)."""
        return self.Z.shape[0]

    def _scaled(self, X):
        return (np.asarray(X[:, self.column_indices], dtype=np.float64) - self.mean) / self.scale

    def _query_present(self, X):
        if self.indicator_index is None:
            return np.ones(X.shape[0], dtype=bool)
        return np.asarray(X[:, self.indicator_index], dtype=np.float64) < 0.5

    def neighbors_train(self, max_degree=None):
        """Nearest other training patients having the block, -1 padded, shape (n_train, k)."""
        if self._train_neighbors is None:
            out = np.full((self.n_train, self.spec.n_neighbors), -1, dtype=np.int64)
            found = self.index.kneighbors(n_neighbors=self.spec.n_neighbors, return_distance=False)
            out[self.members] = self.members[found]
            self._train_neighbors = out
        return self._train_neighbors

    def neighbors_query(self, X, max_degree=None):
        """Nearest training patients of new patients, -1 padded (all -1 without the block)."""
        present = self._query_present(X)
        out = np.full((X.shape[0], self.spec.n_neighbors), -1, dtype=np.int64)
        if present.any():
            found = self.index.kneighbors(
                self._scaled(X[present]),
                n_neighbors=self.spec.n_neighbors,
                return_distance=False,
            )
            out[present] = self.members[found]
        return out

    def vote_train(self, wy):
        return _padded_vote(wy, self.neighbors_train())

    def vote_prefix(self, wy):
        return None

    def vote_query(self, X, wy, prefix=None):
        return _padded_vote(wy, self.neighbors_query(X))

    def node_features_train(self):
        return np.where(self.present[:, None], self.Z, 0.0)

    def node_features_query(self, X):
        return np.where(self._query_present(X)[:, None], self._scaled(X), 0.0)

    def state(self):
        return (
            {
                "column_indices": self.column_indices.tolist(),
                "indicator_index": self.indicator_index,
            },
            {"Z": self.Z, "mean": self.mean, "scale": self.scale, "present": self.present},
        )

    @classmethod
    def from_state(cls, spec, meta, arrays):
        return cls(
            spec,
            meta["column_indices"],
            arrays["Z"],
            arrays["mean"],
            arrays["scale"],
            arrays["present"],
            meta["indicator_index"],
        )


def _padded_vote(wy, neighbors):
    """Sum of ``wy`` over each row's neighbors, ignoring -1 padding."""
    valid = neighbors >= 0
    return (wy[np.where(valid, neighbors, 0)] * valid[..., None]).sum(axis=1)


def block_indicator(spec, column_names):
    """Index of the ``'<block>:missing'`` column of a block, if X has one (as Cohort writes)."""
    name = f"{spec.name}:missing"
    if name in column_names and name not in spec.columns:
        return column_names.index(name)
    return None


@dataclass(frozen=True)
class Candidate:
    """A candidate graph with its columns resolved: built once, fitted when needed.

    Parameters
    ----------
    spec : GraphSpec
        The graph's rule and parameters.
    columns : tuple of int
        Positions in ``X`` of ``spec.columns``.
    indicator : int or None, default=None
        Position of the block's ``"<block>:missing"`` column (1 for patients lacking the block,
        who are linked through no edge of it), or None.
    """

    spec: GraphSpec
    columns: tuple[int, ...]
    indicator: int | None = None

    @classmethod
    def from_spec(cls, spec, feature_names):
        """Resolve ``spec.columns`` (and a block's missing indicator) among ``feature_names``."""
        names = [str(name) for name in feature_names]
        lookup = {name: i for i, name in reversed(list(enumerate(names)))}
        absent = [c for c in spec.columns if c not in lookup]
        if absent:
            raise ValueError(
                f"X lacks the column(s) {format_names(absent)} of the graph {spec.name!r}; pass "
                "the (preprocessed) matrix the graph was fitted on, with its column names."
            )
        columns = tuple(lookup[c] for c in spec.columns)
        indicator = block_indicator(spec, names) if spec.is_block else None
        return cls(spec, columns, indicator)

    def fit_graph(self, X):
        """Fit the graph on the training matrix ``X`` (an ndarray holding ``columns``)."""
        if self.spec.is_block:
            return BlockGraph.fit(self.spec, list(self.columns), X, self.indicator)
        return ColumnGraph(self.spec, self.columns[0], X[:, self.columns[0]])


def build_graph(spec, X, feature_names=None):  # over 60 lines by its docstring; 12 of code
    """Fit the patient-similarity graph of ``spec`` on the training patients ``X``.

    This is the graph :class:`~graphboost.GraphBoostClassifier` builds for the same spec: a
    column's kNN or threshold graph on its sorted values (ties broken by position), or a block's
    kNN graph on its columns standardized over the training patients. When ``X`` has a column
    ``"<block>:missing"`` (as ``features.Cohort`` writes it), patients with a 1 there lack the
    block and are linked through none of its edges. A spec over every column of ``X`` (with a
    ``metric``) gives the one population graph of a population GCN.

    Parameters
    ----------
    spec : GraphSpec
        The graph: an entry of ``GraphBoostClassifier.selected_graphs_``, or one written by hand.
    X : array-like of shape (n_samples, n_features)
        Training patients (numeric, finite in the graph's columns): a DataFrame, or an array
        with ``feature_names``.
    feature_names : sequence of str, default=None
        Names of the columns of ``X``; default the DataFrame's columns, or ``"x0", "x1", ...``
        (the estimator's names for an array).

    Returns
    -------
    graph : ColumnGraph or BlockGraph
        The fitted graph: ``graph.edge_index(max_degree=None)`` gives the PyG-style edges among
        the training patients, ``graph.query_edge_index(X_query, max_degree=None)`` the edges
        linking new patients to them, ``graph.n_train`` the number of training patients.

    Raises
    ------
    ValueError
        When ``X`` lacks a column of the spec, holds NaN or inf there, or has too few patients
        (having the block) for ``spec.n_neighbors``.

    See Also
    --------
    GraphSpec : Which column or block, which rule, which parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from graphboost import GraphSpec, build_graph
    >>> X = np.array([[0.0, 1.0], [0.1, 1.0], [5.0, 0.0], [5.2, 0.0]])
    >>> spec = GraphSpec("x0", ("x0",), "knn", n_neighbors=1)
    >>> graph = build_graph(spec, X)
    >>> graph.edge_index()
    array([[1, 0, 3, 2],
           [0, 1, 2, 3]])
    >>> graph.query_edge_index([[4.9, 0.0]])
    array([[2],
           [4]])
    >>> everyone = GraphSpec("all", ("x0", "x1"), "knn", n_neighbors=1, metric="euclidean")
    >>> build_graph(everyone, X).edge_index().shape
    (2, 4)
    """
    matrix = _as_matrix(X, "X")
    names = _feature_names(X, feature_names, matrix.shape[1])
    _check_spec(spec)
    candidate = Candidate.from_spec(spec, names)
    check_finite(matrix[:, list(candidate.columns)], list(spec.columns), "build_graph")
    if spec.rule == "knn":
        n_linked = matrix.shape[0]
        if candidate.indicator is not None:
            n_linked = int((matrix[:, candidate.indicator] < 0.5).sum())
        _check_n_neighbors(spec.n_neighbors, n_linked)
    return candidate.fit_graph(matrix)


def _check_spec(spec):
    if not isinstance(spec, GraphSpec):
        raise TypeError(f"spec must be a graphboost.GraphSpec; got {type(spec).__name__}.")
    if spec.rule not in ("knn", "threshold"):
        raise ValueError(
            f"The rule of a GraphSpec must be 'knn' or 'threshold'; got {spec.rule!r}."
        )
    if spec.rule == "threshold" and (spec.is_block or spec.threshold is None):
        raise ValueError(
            "A 'threshold' GraphSpec needs one column and its learned threshold; got "
            f"{len(spec.columns)} column(s) and threshold={spec.threshold!r}."
        )
    if spec.is_block and spec.metric not in ("euclidean", "cosine"):
        raise ValueError(
            f"The metric of a block GraphSpec must be 'euclidean' or 'cosine'; got {spec.metric!r}."
        )


def _as_matrix(X, name):
    matrix = np.asarray(X, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional; got an array of shape {matrix.shape}.")
    return matrix


def _feature_names(X, feature_names, n_features):
    if feature_names is None:
        if hasattr(X, "columns"):
            return [str(c) for c in X.columns]
        return [f"x{i}" for i in range(n_features)]
    names = [str(c) for c in feature_names]
    if len(names) != n_features:
        raise ValueError(
            f"feature_names must name the {n_features} columns of X; got {len(names)} names."
        )
    return names


def vote_predict(vote, prior):
    """Class codes predicted by a weighted vote, exact ties going to the heavier class."""
    return np.argmax(vote + _PRIOR_TIEBREAK * prior, axis=-1)


def _pack_ranges(lo, hi):
    """Ranges ``[lo, hi)`` of the sorted patients as offsets from each one's own position.

    A patient belongs to its own range, so ``position - lo`` and ``hi - position`` are
    non-negative and, on a column without many ties, below ``2 * n_neighbors``: they are kept in
    the smallest unsigned type that holds them (one byte each on a continuous column, against
    eight for two int32 positions).
    """
    positions = np.arange(lo.shape[0])
    below, above = positions - lo, hi - positions
    largest = max(int(below.max(initial=0)), int(above.max(initial=0)))
    dtype = next((t for t in (np.uint8, np.uint16, np.uint32) if largest <= np.iinfo(t).max), None)
    dtype = dtype or np.int64
    return below.astype(dtype), above.astype(dtype)


def _unpack_ranges(below, above, start=0, stop=None):
    """Positions ``lo, hi`` of the sorted patients ``start:stop`` from :func:`_pack_ranges`."""
    stop = below.shape[0] if stop is None else stop
    positions = np.arange(start, stop)
    return positions - below[start:stop], positions + above[start:stop]


def _prefix(a):
    """Prefix sums along axis 0 with a leading zero row."""
    out = np.zeros((a.shape[0] + 1, *a.shape[1:]), dtype=np.float64)
    np.cumsum(a, axis=0, out=out[1:])
    return out
