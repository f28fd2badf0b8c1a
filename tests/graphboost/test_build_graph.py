"""build_graph: the one graph of a spec, against brute force and against what the estimator uses."""

import numpy as np
import pandas as pd
import pytest

from graphboost import GraphBoostClassifier, GraphSpec, build_graph


def _edges(edge_index):
    return {(int(s), int(t)) for s, t in edge_index.T}


def _brute_knn(Z, k, Z_query=None, metric="euclidean", linked=None, offset=0):
    """Edges (neighbor -> patient) of a kNN graph by a full distance matrix."""
    n = Z.shape[0]
    linked = np.ones(n, dtype=bool) if linked is None else linked
    query = Z if Z_query is None else Z_query
    if metric == "cosine":
        unit = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        unit_q = query / np.linalg.norm(query, axis=1, keepdims=True)
        D = 1.0 - unit_q @ unit.T
    else:
        D = np.linalg.norm(query[:, None, :] - Z[None, :, :], axis=2)
    D[:, ~linked] = np.inf
    if Z_query is None:
        np.fill_diagonal(D, np.inf)
    edges = set()
    for i in range(query.shape[0]):
        if Z_query is None and not linked[i]:
            continue
        edges |= {(int(j), i + offset) for j in np.argsort(D[i], kind="stable")[:k]}
    return edges


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(40, 4)), columns=["age", "bmi", "e0", "e1"])


@pytest.mark.parametrize("k", [1, 4])
def test_column_knn_graph_and_its_queries_match_brute_force(frame, k):
    graph = build_graph(GraphSpec("bmi", ("bmi",), "knn", n_neighbors=k), frame)
    x = frame[["bmi"]].to_numpy()
    edge_index = graph.edge_index()
    assert edge_index.dtype == np.int64 and edge_index.shape == (2, 40 * k)
    assert _edges(edge_index) == _brute_knn(x, k)
    query = np.random.default_rng(1).normal(size=(5, 4))
    expected = _brute_knn(x, k, query[:, [1]], offset=40)
    assert _edges(graph.query_edge_index(query)) == expected


@pytest.mark.parametrize("max_degree", [None, 3])
def test_threshold_graph_matches_brute_force(frame, max_degree):
    tau = 0.3
    spec = GraphSpec("age", ("age",), "threshold", quantile=0.1, threshold=tau)
    graph = build_graph(spec, frame)
    x = frame["age"].to_numpy()
    D = np.abs(x[:, None] - x[None, :])
    np.fill_diagonal(D, np.inf)
    expected = set()
    for i in range(40):
        within = np.flatnonzero(D[i] <= tau)
        nearest = within[np.argsort(D[i, within], kind="stable")][:max_degree]
        expected |= {(int(j), i) for j in nearest}
    assert _edges(graph.edge_index(max_degree)) == expected


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_block_graph_is_a_knn_graph_on_the_standardized_block(frame, metric):
    spec = GraphSpec("emb", ("e0", "e1"), "knn", n_neighbors=3, metric=metric)
    graph = build_graph(spec, frame)
    block = frame[["e0", "e1"]].to_numpy()
    mean, sd = block.mean(axis=0), block.std(axis=0)
    assert _edges(graph.edge_index()) == _brute_knn((block - mean) / sd, 3, metric=metric)
    query = np.random.default_rng(2).normal(size=(4, 4))
    expected = _brute_knn((block - mean) / sd, 3, (query[:, 2:] - mean) / sd, metric, offset=40)
    assert _edges(graph.query_edge_index(query)) == expected


def test_a_spec_over_every_column_is_the_population_graph(frame):
    """The baseline population GCN's graph: one kNN graph on all (standardized) columns."""
    X = frame.to_numpy()
    spec = GraphSpec("all", ("x0", "x1", "x2", "x3"), "knn", n_neighbors=5, metric="euclidean")
    graph = build_graph(spec, X)  # an array: the columns are named x0, x1, ...
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    assert graph.n_train == 40
    assert _edges(graph.edge_index()) == _brute_knn(Z, 5)
    named = GraphSpec("all", ("a", "b", "c", "d"), "knn", n_neighbors=5, metric="euclidean")
    by_names = build_graph(named, X, feature_names=["a", "b", "c", "d"])
    np.testing.assert_array_equal(by_names.edge_index(), graph.edge_index())


def test_patients_lacking_the_block_are_linked_through_none_of_its_edges(frame):
    """The '<block>:missing' column is honored exactly as the estimator honors it."""
    X = frame.copy()
    lacking = np.zeros(40, dtype=bool)
    lacking[::5] = True
    X.loc[lacking, ["e0", "e1"]] = 0.0  # imputed values: all alike
    X["emb:missing"] = lacking.astype(float)
    graph = build_graph(GraphSpec("emb", ("e0", "e1"), "knn", n_neighbors=3, metric="cosine"), X)
    block = X[["e0", "e1"]].to_numpy()
    present = block[~lacking]
    Z = (block - present.mean(axis=0)) / present.std(axis=0)
    edges = _edges(graph.edge_index())
    assert edges == _brute_knn(Z, 3, metric="cosine", linked=~lacking)
    assert not {(s, t) for s, t in edges if lacking[s] or lacking[t]}
    query = X.iloc[:10].to_numpy()  # rows 0 and 5 lack the block
    targets = {t - 40 for _, t in _edges(graph.query_edge_index(query))}
    assert targets == set(range(10)) - {0, 5}


def test_the_estimator_links_patients_by_the_same_graphs(frame):
    rng = np.random.default_rng(3)
    X = frame.assign(signal=rng.uniform(-2, 2, 40))
    y = (np.sin(2.5 * X["signal"]) > 0).astype(int).to_numpy()
    X["emb:missing"] = (rng.uniform(size=40) < 0.2).astype(float)
    clf = GraphBoostClassifier(
        n_estimators=5,
        n_neighbors=(3, 5),
        threshold_quantiles=(0.1,),
        feature_groups={"emb": ["e0", "e1"]},
        init=None,
        random_state=0,
    ).fit(X, y)
    query = X.iloc[:7].to_numpy() + 0.01
    # Every candidate graph the estimator would fit, then the graphs of the selected learners.
    candidates, _ = clf._candidates(X.to_numpy())
    fitted = [(c.spec, c.fit_graph(X.to_numpy())) for c in candidates]
    fitted += [(learner.graph_spec_, learner.graph_) for learner in clf.estimators_]
    kinds = {"block" if spec.is_block else spec.rule for spec, _ in fitted}
    assert kinds == {"knn", "threshold", "block"}
    for spec, used in fitted:
        graph = build_graph(spec, X)
        np.testing.assert_array_equal(
            graph.edge_index(clf.max_degree), used.edge_index(clf.max_degree)
        )
        np.testing.assert_array_equal(
            graph.query_edge_index(query, clf.max_degree),
            used.query_edge_index(query, clf.max_degree),
        )


def test_a_gnn_learner_trains_on_the_graph_build_graph_gives(small_cohort):
    X, y = small_cohort
    clf = GraphBoostClassifier(
        conv="gcn", n_estimators=2, n_neighbors=5, n_screen=1, max_epochs=3, random_state=0
    ).fit(X, y)
    for learner in clf.estimators_:
        edges = build_graph(learner.graph_spec_, X).edge_index(clf.max_degree)
        np.testing.assert_array_equal(learner._edge_index_train.numpy(), edges)


# -- bad input ------------------------------------------------------------------------------
def test_errors_name_what_is_wrong(frame):
    knn = GraphSpec("bmi", ("bmi",), "knn", n_neighbors=3)
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['z'\] of the graph 'z'"):
        build_graph(GraphSpec("z", ("z",), "knn", n_neighbors=2), frame)
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['bmi'\]"):
        build_graph(knn, frame.to_numpy())  # an array's columns are x0, x1, ...
    with pytest.raises(ValueError, match="feature_names must name the 4 columns of X; got 2"):
        build_graph(knn, frame.to_numpy(), feature_names=["age", "bmi"])
    with pytest.raises(ValueError, match=r"NaN or inf in columns \['bmi'\]"):
        build_graph(knn, frame.assign(bmi=np.nan))
    with pytest.raises(ValueError, match=r"n_neighbors=40 must be smaller .*n_samples=40"):
        build_graph(GraphSpec("bmi", ("bmi",), "knn", n_neighbors=40), frame)
    with pytest.raises(ValueError, match="needs one column and its learned threshold"):
        build_graph(GraphSpec("bmi", ("bmi",), "threshold", quantile=0.1), frame)
    with pytest.raises(ValueError, match="rule of a GraphSpec must be 'knn' or 'threshold'"):
        build_graph(GraphSpec("bmi", ("bmi",), "radius"), frame)
    with pytest.raises(ValueError, match="metric of a block GraphSpec must be 'euclidean'"):
        build_graph(GraphSpec("e", ("e0", "e1"), "knn", n_neighbors=2, metric="l1"), frame)
    with pytest.raises(TypeError, match=r"spec must be a graphboost\.GraphSpec; got dict"):
        build_graph({"name": "bmi"}, frame)
    with pytest.raises(ValueError, match=r"X must be two-dimensional; got .* shape \(40,\)"):
        build_graph(knn, frame["bmi"].to_numpy())
    with pytest.raises(ValueError, match=r"X_query must be two-dimensional"):
        build_graph(knn, frame).query_edge_index([1.0, 2.0])


def test_k_counts_only_the_patients_having_the_block(frame):
    X = frame.assign(**{"emb:missing": (np.arange(40) < 37).astype(float)})
    spec = GraphSpec("emb", ("e0", "e1"), "knn", n_neighbors=3, metric="euclidean")
    with pytest.raises(ValueError, match=r"n_neighbors=3 must be smaller .*n_samples=3"):
        build_graph(spec, X)
