"""Patient-similarity graph builders.

Pure functions over NumPy arrays: they know nothing of torch models. Every builder works in
O(N log N) time (sorting, or a tree search for blocks) and O(N * k) memory; none builds an
N x N matrix. Edges follow PyG's ``source_to_target`` convention: column ``(j, i)`` of
``edge_index`` means patient ``j`` (a neighbor) sends a message to patient ``i``.

A graph over one column links each patient to its nearest patients on the sorted values of that
column (the *k*-nearest-neighbor rule) or to every patient within a distance ``tau`` (the
AdaMedGraph threshold rule, with ``tau`` a quantile of the pairwise *differences*, learned on the
training patients). A graph over a block of columns (for example an imaging embedding) links each
patient to its nearest patients in Euclidean or cosine distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

__all__ = [
    "GraphSpec",
    "block_knn_graph",
    "column_knn_graph",
    "column_threshold_graph",
    "threshold_from_differences",
]

# Relative slack when comparing recomputed distances with a radius, so that a neighbor exactly at
# the radius is never lost to floating-point rounding.
_RADIUS_SLACK = 1e-12

# Training patients per block of the range computation: a block's vectors stay in the CPU cache.
_BLOCK = 16_384
# Batches of new patients from this size on are sorted before their binary searches.
_SORTED_BATCH = 1_024
# From this many new patients on, their k-th nearest distances are found by 2k passes over them
# rather than in a patients x 2k window (same numbers; the window is faster for a few patients).
_MERGED_QUERIES = 64


@dataclass(frozen=True)
class GraphSpec:
    """Which feature defines a graph, by which rule, with which parameters.

    Parameters
    ----------
    name : str
        The column name, or the name of the column block given in ``feature_groups``.
    columns : tuple of str
        The input columns the graph is built on (one for a column graph).
    rule : {"knn", "threshold", "leaf"}
        ``"knn"`` links each patient to its ``n_neighbors`` nearest patients; ``"threshold"``
        links patients whose values differ by at most ``threshold``; ``"leaf"`` links the
        patients in one leaf of a tree on ``columns`` (a round's leaf graph of
        :class:`~graphboost.GraphBoostSurvivalAnalysis`, fitted by the boosting, not by
        :func:`build_graph`).
    n_neighbors : int or None
        Neighborhood size of the ``"knn"`` rule.
    quantile : float or None
        Quantile of the pairwise differences that gave ``threshold`` (``"threshold"`` rule).
    threshold : float or None
        The distance ``tau`` of the ``"threshold"`` rule, learned on the training patients.
    metric : str or None
        Distance between patients of a block: ``"euclidean"`` or ``"cosine"``.

    Examples
    --------
    >>> GraphSpec(name="age", columns=("age",), rule="knn", n_neighbors=10)
    GraphSpec(knn on 'age', n_neighbors=10)
    """

    name: str
    columns: tuple[str, ...]
    rule: str
    n_neighbors: int | None = None
    quantile: float | None = None
    threshold: float | None = None
    metric: str | None = None

    @property
    def is_block(self) -> bool:
        """Whether the graph is built on a block of columns rather than one column."""
        return self.metric is not None

    def __repr__(self) -> str:
        if self.rule == "knn":
            detail = f"n_neighbors={self.n_neighbors}"
        elif self.rule == "leaf":
            detail = f"tree on {len(self.columns)} column(s)"
        else:
            detail = f"quantile={self.quantile}, threshold={self.threshold:.4g}"
        if self.is_block:
            detail += f", metric={self.metric!r}, {len(self.columns)} columns"
        return f"GraphSpec({self.rule} on {self.name!r}, {detail})"

    __str__ = __repr__


def _as_1d(x, name="x"):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got an array of shape {x.shape}.")
    return x


def stable_argsort(x):
    """``np.argsort(x, kind="stable")`` of a finite 1-D float array, several times faster.

    numpy's default sort (SIMD where the CPU has it) orders the values; equal values are then
    put back in the order of their positions by one integer sort of (run of equal values,
    position), which is what a stable sort gives.
    """
    n = x.shape[0]
    order = np.argsort(x)
    sorted_values = x[order]
    tied = sorted_values[1:] == sorted_values[:-1]
    if n > 1 and tied.any():
        run = np.zeros(n, dtype=np.int64)
        np.cumsum(~tied, out=run[1:])
        order = np.sort(run * n + order) % n
    return order


def _kth_distance_sorted(sorted_values, n_neighbors, query_values=None):
    """Distance from each point to its ``n_neighbors``-th nearest point on a sorted line.

    Without ``query_values`` the points are ``sorted_values`` themselves and each one is left out
    of its own neighborhood. Only the ``n_neighbors`` positions on either side can hold the
    nearest points, so the work is O(N * k).
    """
    if query_values is None:
        return _kth_distance_training(sorted_values, n_neighbors)
    n = sorted_values.shape[0]
    k = n_neighbors
    positions = np.searchsorted(sorted_values, query_values)
    if query_values.shape[0] >= _MERGED_QUERIES:
        return _kth_distance_merged(_pad(sorted_values, k), k, positions + k, query_values)
    idx = positions[:, None] + np.arange(-k, k)[None, :]
    valid = (idx >= 0) & (idx < n)
    dist = np.abs(sorted_values[np.clip(idx, 0, n - 1)] - query_values[:, None])
    dist[~valid] = np.inf
    return np.partition(dist, k - 1, axis=1)[:, k - 1]


def _kth_distance_merged(padded, k, positions, values):
    """k-th nearest distance of each of ``values`` to the sorted points, without a
    queries x 2k array.

    ``positions`` are the insertion points of ``values`` in ``padded`` (:func:`_pad`). The
    m-th nearest point on the left is at ``position - m``, on the right at ``position + m - 1``,
    and the k-th smallest of the two sorted lists of distances is ``min_j max(L_j, R_{k - j})``
    (:func:`_kth_distance_block`): one of the distances, bit for bit what the partition of the
    2k window gives, in 2k passes over the queries.
    """

    def distance(offset, out):  # |v[position + offset] - value|, as the window computes it
        np.subtract(padded[positions + offset], values, out=out)
        return np.abs(out, out=out)

    kth = distance(k - 1, np.empty(values.shape[0]))  # R_k
    left, right = np.empty_like(kth), np.empty_like(kth)
    for j in range(1, k + 1):
        distance(-j, left)  # L_j
        if j < k:
            np.maximum(left, distance(k - j - 1, right), out=left)  # R_{k - j}
        np.minimum(kth, left, out=kth)
    return kth


def _kth_distance_training(sorted_values, k):
    """k-th nearest distance of each sorted point to the others (itself left out)."""
    padded = _pad(sorted_values, k)
    n = sorted_values.shape[0]
    blocks = [_kth_distance_block(padded, k, a, min(a + _BLOCK, n)) for a in range(0, n, _BLOCK)]
    return np.concatenate(blocks) if blocks else np.empty(0)


def _pad(sorted_values, k):
    """The sorted values between ``k`` times -inf and ``k`` times +inf (no neighbor there)."""
    return np.concatenate([np.full(k, -np.inf), sorted_values, np.full(k, np.inf)])


def _kth_distance_block(padded, k, start, stop):
    """k-th nearest distance of the sorted points ``start:stop`` to the others.

    The m-th nearest point on the left of point ``i`` is ``i - m``, at distance ``L_m``, on the
    right ``i + m`` at ``R_m``; both grow with ``m``. The k-th smallest of the two sorted lists is
    ``min_j max(L_j, R_{k - j})`` (``L_0 = R_0 = 0``): 2k passes over the block, never a
    block x 2k array. The result is one of the distances, bit for bit what a partition of all 2k
    gives; a padding infinity is a neighbor that does not exist.
    """
    center = padded[k + start : k + stop]

    def distance(m, out):  # |v[i + m] - v[i]|, as the query path computes it
        np.subtract(padded[k + start + m : k + stop + m], center, out=out)
        return np.abs(out, out=out)

    kth = distance(k, np.empty(stop - start))
    left, right = np.empty_like(kth), np.empty_like(kth)
    for j in range(1, k + 1):
        distance(-j, left)
        if j < k:
            np.maximum(left, distance(k - j, right), out=left)
        np.minimum(kth, left, out=kth)
    return kth


def _radius_ranges(sorted_values, values, radius):
    """Half-open ranges ``[lo, hi)`` of sorted positions within ``radius`` of each value."""
    slack = _RADIUS_SLACK * (np.abs(values) + np.abs(radius) + 1.0)
    lo = np.searchsorted(sorted_values, values - radius - slack, side="left")
    hi = np.searchsorted(sorted_values, values + radius + slack, side="right")
    return lo, hi


def _training_ranges(sorted_values, rule, n_neighbors, threshold):
    """:func:`_radius_ranges` of the sorted training points themselves, block by block.

    A block's values, radii and binary searches stay in the CPU cache: the searches run on the
    slice of ``sorted_values`` that the block's keys span, which gives the same positions as a
    search of the whole array since positions grow with the key.
    """
    n = sorted_values.shape[0]
    k = n_neighbors if rule == "knn" else 0
    padded = _pad(sorted_values, k) if rule == "knn" else None
    lo, hi = np.empty(n, dtype=np.intp), np.empty(n, dtype=np.intp)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        values = sorted_values[start:stop]
        radius = _kth_distance_block(padded, k, start, stop) if rule == "knn" else threshold
        slack = _RADIUS_SLACK * (np.abs(values) + np.abs(radius) + 1.0)
        lo[start:stop] = _search_within(sorted_values, values - radius - slack, "left")
        hi[start:stop] = _search_within(sorted_values, values + radius + slack, "right")
    return lo, hi


def _search_within(sorted_values, keys, side):
    """``np.searchsorted(sorted_values, keys, side)``, searching only where the keys can land."""
    first = np.searchsorted(sorted_values, keys.min(), side)
    last = np.searchsorted(sorted_values, keys.max(), side)
    return first + np.searchsorted(sorted_values[first:last], keys, side)


def column_neighborhoods(x, rule, n_neighbors=None, threshold=None, query=None, order=None):
    """Neighborhoods of one column as contiguous ranges of its sorted training values.

    On a line, the patients within a distance of a value form a contiguous range of the sorted
    values, so a whole neighborhood is two integers. Ties are kept: every patient at the
    ``n_neighbors``-th distance belongs to the neighborhood, so a binary column acts as a stump.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Values of the training patients.
    rule : {"knn", "threshold"}
        Neighborhood rule.
    n_neighbors : int, default=None
        Neighborhood size for ``"knn"``.
    threshold : float, default=None
        Radius for ``"threshold"``.
    query : array-like of shape (n_queries,), default=None
        New patients. Without it, the neighborhoods of the training patients themselves are
        returned, each range still holding the patient (callers leave it out of its own vote).
    order : ndarray of shape (n_samples,), default=None
        ``np.argsort(x, kind="stable")`` when the caller already has it.

    Returns
    -------
    order : ndarray of shape (n_samples,)
        Training patients in sorted order of ``x``.
    lo, hi : ndarray of shape (n_samples,) or (n_queries,)
        Range of sorted positions ``[lo, hi)`` of each neighborhood.
    """
    x = _as_1d(x)
    order = stable_argsort(x) if order is None else order
    lo, hi = sorted_ranges(x[order], rule, n_neighbors, threshold, query)
    if query is None:
        # Report ranges in the original order of the training patients.
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.shape[0])
        lo, hi = lo[inverse], hi[inverse]
    return order, lo, hi


def sorted_ranges(sorted_values, rule, n_neighbors=None, threshold=None, query=None):
    """:func:`column_neighborhoods` on the already sorted training values.

    Returns the ranges ``[lo, hi)`` of sorted positions: of each *sorted* training patient
    (without ``query``), or of each query. A query costs O(k + log N): nothing of size N is
    touched but by binary search, so the caller should keep ``sorted_values``.
    """
    if query is None:
        return _training_ranges(sorted_values, rule, n_neighbors, threshold)
    values = _as_1d(query, "query")
    if values.shape[0] < _SORTED_BATCH:
        return _query_ranges(sorted_values, rule, n_neighbors, threshold, values)
    # A large batch is searched in sorted blocks: the binary searches then walk the training
    # values in order and the block's arrays stay in the CPU cache. Same positions.
    lo, hi = np.empty(values.shape[0], dtype=np.intp), np.empty(values.shape[0], dtype=np.intp)
    by_value = np.argsort(values)  # any order of equal values gives the same positions
    for start in range(0, values.shape[0], _BLOCK):
        rows = by_value[start : start + _BLOCK]
        block = _query_ranges(sorted_values, rule, n_neighbors, threshold, values[rows])
        lo[rows], hi[rows] = block
    return lo, hi


def _query_ranges(sorted_values, rule, n_neighbors, threshold, values):
    """Ranges ``[lo, hi)`` of the neighborhoods of new patients, O(k + log N) each."""
    radius = (
        _kth_distance_sorted(sorted_values, n_neighbors, values) if rule == "knn" else threshold
    )
    return _radius_ranges(sorted_values, values, radius)


def _window_neighbors(sorted_values, values, positions, radius, max_neighbors, exclude):
    """The ``max_neighbors`` nearest sorted positions within ``radius`` of each value.

    Returns an array of shape (n_values, max_neighbors) of sorted positions, -1 where a
    neighborhood has fewer members. ``exclude`` gives a position to leave out per value (the
    patient itself), or None.
    """
    n = sorted_values.shape[0]
    m = max_neighbors
    offsets = np.arange(-m, m + 1)
    idx = positions[:, None] + offsets[None, :]
    valid = (idx >= 0) & (idx < n)
    if exclude is not None:
        valid &= idx != exclude[:, None]
    idx = np.clip(idx, 0, n - 1)
    dist = np.abs(sorted_values[idx] - values[:, None])
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), values.shape)
    slack = _RADIUS_SLACK * (np.abs(values) + np.abs(radius) + 1.0)
    valid &= dist <= (radius + slack)[:, None]
    dist = np.where(valid, dist, np.inf)
    # Stable order: nearest first, ties by position, so results never depend on the platform.
    pick = np.argsort(dist, axis=1, kind="stable")[:, :m]
    chosen = np.take_along_axis(idx, pick, axis=1)
    chosen_valid = np.take_along_axis(valid, pick, axis=1)
    return np.where(chosen_valid, chosen, -1)


def column_neighbors(
    x, rule, n_neighbors=None, threshold=None, max_degree=None, query=None, order=None
):
    """Indices of the nearest training patients of each patient on one column.

    Unlike :func:`column_neighborhoods` this breaks ties (by sorted position) so that every
    patient has at most ``n_neighbors`` (``"knn"``) or ``max_degree`` (``"threshold"``)
    neighbors, which bounds the number of edges of a graph handed to a GNN.

    Returns
    -------
    neighbors : ndarray of shape (n, m)
        Training indices (in the original order), -1 where a neighborhood is smaller than ``m``.
    """
    x = _as_1d(x)
    order = stable_argsort(x) if order is None else order
    return sorted_neighbors(x[order], order, rule, n_neighbors, threshold, max_degree, query)


def sorted_neighbors(
    sorted_values, order, rule, n_neighbors=None, threshold=None, max_degree=None, query=None
):
    """:func:`column_neighbors` on the already sorted training values ``x[order]``.

    With ``query`` the cost is O(m log m + log N) per query, for ``m`` neighbors.
    """
    n = sorted_values.shape[0]
    if rule == "knn":
        m = n_neighbors
    else:
        m = max_degree if max_degree is not None else n
    m = min(m, n)
    if query is None:
        values = sorted_values
        positions = np.arange(n)
        exclude = positions
        radius = _kth_distance_sorted(sorted_values, n_neighbors) if rule == "knn" else threshold
    else:
        values = _as_1d(query, "query")
        positions = np.searchsorted(sorted_values, values)
        exclude = None
        radius = (
            _kth_distance_sorted(sorted_values, n_neighbors, values) if rule == "knn" else threshold
        )
    chosen = _window_neighbors(sorted_values, values, positions, radius, m, exclude)
    neighbors = np.where(chosen >= 0, order[np.clip(chosen, 0, None)], -1)
    if query is None:
        inverse = np.empty_like(order)
        inverse[order] = np.arange(n)
        neighbors = neighbors[inverse]
    return neighbors


def neighbors_to_edge_index(neighbors, self_loops=True, offset=0):
    """Turn a padded neighbor array into a sparse ``edge_index`` of shape (2, n_edges).

    Row ``i`` of ``neighbors`` lists the sources of the edges into node ``i + offset``.
    """
    rows, slots = np.nonzero(neighbors >= 0)
    src = neighbors[rows, slots]
    dst = rows + offset
    if self_loops:
        loops = np.arange(neighbors.shape[0]) + offset
        src = np.concatenate([src, loops])
        dst = np.concatenate([dst, loops])
    return np.stack([src, dst]).astype(np.int64)


def column_knn_graph(x, n_neighbors, self_loops=True):
    """k-nearest-neighbor graph of the patients on one column.

    Each patient receives an edge from each of its ``n_neighbors`` nearest other patients
    (ties broken by sorted position). Built by sorting: O(N log N + N * k).

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        The column.
    n_neighbors : int
        Number of neighbors of each patient, at most ``n_samples - 1``.
    self_loops : bool, default=True
        Add an edge from each patient to itself.

    Returns
    -------
    edge_index : ndarray of shape (2, n_edges)
        Sources in row 0, targets in row 1.

    Examples
    --------
    >>> column_knn_graph([0.0, 0.1, 5.0], n_neighbors=1, self_loops=False)
    array([[1, 0, 1],
           [0, 1, 2]])
    """
    x = _as_1d(x)
    _check_n_neighbors(n_neighbors, x.shape[0])
    return neighbors_to_edge_index(column_neighbors(x, "knn", n_neighbors), self_loops)


def column_threshold_graph(x, threshold, max_degree=None, self_loops=True):
    """AdaMedGraph threshold graph: link patients whose values differ by at most ``threshold``.

    Computed by sorting, never with an N x N matrix. ``max_degree`` keeps only the nearest
    neighbors of a patient, so that a wide threshold cannot produce a dense graph.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        The column.
    threshold : float
        The distance ``tau``; see :func:`threshold_from_differences` to learn it.
    max_degree : int, default=None
        Largest number of neighbors kept per patient (nearest first); None keeps all.
    self_loops : bool, default=True
        Add an edge from each patient to itself.

    Returns
    -------
    edge_index : ndarray of shape (2, n_edges)

    Examples
    --------
    >>> column_threshold_graph([0.0, 0.1, 5.0], threshold=0.5, self_loops=False)
    array([[1, 0],
           [0, 1]])
    """
    x = _as_1d(x)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number >= 0; got {threshold!r}.")
    neighbors = column_neighbors(x, "threshold", threshold=threshold, max_degree=max_degree)
    return neighbors_to_edge_index(neighbors, self_loops)


def threshold_from_differences(x, quantile, n_pairs=200_000, random_state=None):
    """Learn ``tau`` as a quantile of the pairwise differences ``|x_i - x_j|``, i != j.

    The reference implementation took a quantile of the *values*, which made the median graph
    64% dense on Duke. Pairs are sampled, so the cost is O(n_pairs) whatever N is; with
    ``n_samples * (n_samples - 1) / 2 <= n_pairs`` every pair is used and the result is exact.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        The column, on the training patients only.
    quantile : float in (0, 1)
        Which quantile of the differences; 0.05 links each patient to about 5% of the others.
    n_pairs : int, default=200_000
        Number of random pairs when the cohort is too large to use every pair.
    random_state : int, RandomState instance or None, default=None
        Seed of the pair sampling.

    Returns
    -------
    tau : float

    Examples
    --------
    >>> threshold_from_differences([0.0, 1.0, 3.0], quantile=0.5)
    2.0
    """
    x = _as_1d(x)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"threshold_from_differences needs at least 2 patients; got {n}.")
    if n * (n - 1) // 2 <= n_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(
            random_state
            if not isinstance(random_state, np.random.RandomState)
            else random_state.randint(2**31)
        )
        i = rng.integers(0, n, size=n_pairs)
        j = (i + rng.integers(1, n, size=n_pairs)) % n
    return float(np.quantile(np.abs(x[i] - x[j]), quantile))


def block_knn_graph(X, n_neighbors, metric="euclidean", self_loops=True):
    """k-nearest-neighbor graph of the patients on a block of columns.

    Built with scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors` (a tree search for
    Euclidean distance), each patient left out of its own neighbors.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_block_columns)
        The block, already scaled as it should be compared.
    n_neighbors : int
        Number of neighbors of each patient, at most ``n_samples - 1``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between patients.
    self_loops : bool, default=True
        Add an edge from each patient to itself.

    Returns
    -------
    edge_index : ndarray of shape (2, n_edges)

    Examples
    --------
    >>> block_knn_graph([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0]], n_neighbors=1, self_loops=False)
    array([[1, 0, 1],
           [0, 1, 2]])
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be two-dimensional; got an array of shape {X.shape}.")
    _check_n_neighbors(n_neighbors, X.shape[0])
    neighbors = block_neighbors(X, n_neighbors, metric)
    return neighbors_to_edge_index(neighbors, self_loops)


def block_neighbors(X, n_neighbors, metric, query=None, index=None):
    """Indices of the ``n_neighbors`` nearest training patients on a block.

    Without ``query`` each training patient is left out of its own neighbors. ``index`` may be
    a fitted :class:`~sklearn.neighbors.NearestNeighbors` to reuse.
    """
    if index is None:
        algorithm = "brute" if metric == "cosine" else "auto"
        index = NearestNeighbors(metric=metric, algorithm=algorithm).fit(X)
    if query is None:
        return index.kneighbors(n_neighbors=n_neighbors, return_distance=False)
    return index.kneighbors(query, n_neighbors=n_neighbors, return_distance=False)


def _check_n_neighbors(n_neighbors, n_samples):
    if int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer; got {n_neighbors!r}.")
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be smaller than the number of training patients "
            f"(n_samples={n_samples}): each patient needs {n_neighbors} neighbors other than "
            "itself."
        )
