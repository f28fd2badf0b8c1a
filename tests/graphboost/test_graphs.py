"""Graph builders against brute-force references on small inputs."""

import numpy as np
import pytest

from graphboost import (
    block_knn_graph,
    column_knn_graph,
    column_threshold_graph,
    threshold_from_differences,
)
from graphboost._graphs import column_neighborhoods


def _edges(edge_index):
    return {(int(s), int(t)) for s, t in edge_index.T}


def _brute_knn(D, k):
    """Edges (j -> i) from each patient's k nearest others by a full distance matrix."""
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    return {(int(j), i) for i in range(D.shape[0]) for j in np.argsort(D[i], kind="stable")[:k]}


@pytest.mark.parametrize("k", [1, 3, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_column_knn_graph_matches_brute_force(k, seed):
    x = np.random.default_rng(seed).normal(size=40)  # continuous: no ties
    expected = _brute_knn(np.abs(x[:, None] - x[None, :]), k)
    got = column_knn_graph(x, n_neighbors=k, self_loops=False)
    assert _edges(got) == expected
    assert got.shape[1] == 40 * k


def test_column_knn_graph_self_loops():
    x = np.arange(10.0)
    edges = _edges(column_knn_graph(x, 2, self_loops=True))
    assert all((i, i) in edges for i in range(10))


@pytest.mark.parametrize("k", [2, 5])
def test_column_neighborhoods_keep_ties(k):
    """The vote's neighborhood holds every patient within the k-th distance, ties included."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=50).astype(float)  # many ties
    order, lo, hi = column_neighborhoods(x, "knn", n_neighbors=k)
    D = np.abs(x[:, None] - x[None, :])
    np.fill_diagonal(D, np.inf)
    for i in range(50):
        radius = np.sort(D[i])[k - 1]
        expected = set(np.flatnonzero(D[i] <= radius))
        got = set(order[lo[i] : hi[i]].tolist()) - {i}
        assert got == expected


def test_binary_column_neighborhood_is_a_stump():
    x = np.array([0.0] * 10 + [1.0] * 10)
    order, lo, hi = column_neighborhoods(x, "knn", n_neighbors=3)
    for i in range(20):
        members = set(order[lo[i] : hi[i]].tolist())
        assert members == set(np.flatnonzero(x == x[i]).tolist())


@pytest.mark.parametrize("tau", [0.0, 0.25, 0.5])
def test_column_threshold_graph_matches_brute_force(tau):
    # Multiples of 1/4 are exact in binary, so distances equal to tau are compared exactly.
    x = np.round(4 * np.random.default_rng(1).normal(size=30)) / 4
    D = np.abs(x[:, None] - x[None, :])
    expected = {(j, i) for i in range(30) for j in range(30) if i != j and D[i, j] <= tau}
    assert _edges(column_threshold_graph(x, tau, self_loops=False)) == expected


def test_column_threshold_graph_degree_cap_keeps_nearest():
    x = np.random.default_rng(2).normal(size=60)
    capped = column_threshold_graph(x, 10.0, max_degree=4, self_loops=False)
    assert capped.shape[1] == 60 * 4
    assert _edges(capped) == _brute_knn(np.abs(x[:, None] - x[None, :]), 4)


def test_threshold_from_differences_exact_on_small_input():
    x = np.random.default_rng(0).normal(size=30)
    i, j = np.triu_indices(30, 1)
    assert threshold_from_differences(x, 0.1) == pytest.approx(
        np.quantile(np.abs(x[i] - x[j]), 0.1)
    )


def test_threshold_from_differences_sampled_on_large_input():
    x = np.random.default_rng(0).uniform(size=5000)
    # For two uniforms the difference |u - v| has median 1 - 1/sqrt(2).
    tau = threshold_from_differences(x, 0.5, n_pairs=50_000, random_state=0)
    assert tau == pytest.approx(1 - 1 / np.sqrt(2), abs=0.01)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_block_knn_graph_matches_brute_force(metric):
    X = np.random.default_rng(4).normal(size=(35, 5))
    if metric == "euclidean":
        D = np.linalg.norm(X[:, None] - X[None, :], axis=2)
    else:
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        D = 1 - U @ U.T
    assert _edges(block_knn_graph(X, 4, metric=metric, self_loops=False)) == _brute_knn(D, 4)


def test_builders_reject_bad_input():
    with pytest.raises(ValueError, match=r"n_neighbors=5 must be smaller .*n_samples=5"):
        column_knn_graph(np.arange(5.0), 5)
    with pytest.raises(ValueError, match="one-dimensional"):
        column_knn_graph(np.ones((3, 2)), 1)
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        column_threshold_graph(np.arange(5.0), -1.0)
    with pytest.raises(ValueError, match="two-dimensional"):
        block_knn_graph(np.arange(5.0), 1)
    with pytest.raises(ValueError, match="at least 2 patients"):
        threshold_from_differences([1.0], 0.5)


@pytest.mark.parametrize("kind", ["continuous", "counts", "rounded"])
def test_many_queries_get_the_kth_distance_of_the_window_bit_for_bit(kind, monkeypatch):
    """Batches of new patients take the 2k-pass path: the same distances as the window."""
    from graphboost import _graphs

    rng = np.random.default_rng(["continuous", "counts", "rounded"].index(kind))
    for _ in range(40):
        n = int(rng.integers(2, 200))
        x = {
            "continuous": rng.normal(size=n),
            "counts": rng.integers(0, 5, n).astype(float),
            "rounded": np.round(rng.lognormal(size=n), 1),
        }[kind]
        sorted_x, k = np.sort(x), int(rng.integers(1, n + 1))
        query = np.concatenate([3 * rng.normal(size=80), x[:40], [x.min() - 9, x.max() + 9]])
        monkeypatch.setattr(_graphs, "_MERGED_QUERIES", 10**9)
        window = _graphs._kth_distance_sorted(sorted_x, k, query)
        monkeypatch.setattr(_graphs, "_MERGED_QUERIES", 1)
        merged = _graphs._kth_distance_sorted(sorted_x, k, query)
        np.testing.assert_array_equal(merged, window)
        assert np.isfinite(merged).all()
