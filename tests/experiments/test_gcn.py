"""The population GCN baseline: its graph, its training loop, its errors."""

import numpy as np
import pytest
import torch
from sklearn.neighbors import kneighbors_graph
from sklearn.utils.estimator_checks import parametrize_with_checks

from experiments import PopulationGCNClassifier


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)) * [1.0, 10.0, 0.1, 1.0]
    y = (X[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(int)
    return X, y


def test_graph_is_the_undirected_knn_graph_of_the_standardized_features(data):
    X, y = data
    clf = PopulationGCNClassifier(n_neighbors=4, max_epochs=2, random_state=0).fit(X, y)
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    adjacency = kneighbors_graph(z, 4, include_self=False)
    src, dst = (adjacency + adjacency.T).nonzero()
    expected = np.unique(np.vstack([src, dst]), axis=1)
    np.testing.assert_array_equal(clf.train_edge_index_, expected)


def test_new_patients_are_linked_only_from_training_patients(data):
    X, y = data
    clf = PopulationGCNClassifier(n_neighbors=4, max_epochs=2, random_state=0).fit(X[:40], y[:40])
    query = clf.graph_.query_edge_index(X[40:])
    assert (query[0] < 40).all() and (query[1] >= 40).all()
    np.testing.assert_array_equal(np.bincount(query[1] - 40), np.full(20, 4))


def test_training_stops_early_and_leaves_the_global_torch_state_alone(data):
    X, y = data
    before = torch.random.get_rng_state()
    clf = PopulationGCNClassifier(max_epochs=300, patience=3, lr=0.05, random_state=0).fit(X, y)
    assert torch.equal(before, torch.random.get_rng_state())
    assert clf.n_epochs_ < 300 and 0 <= clf.best_epoch_ < clf.n_epochs_
    assert clf.module_.num_layers == 2 and not clf.module_.training
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X)) <= {0, 1}


@parametrize_with_checks([PopulationGCNClassifier(n_neighbors=3, max_epochs=5, random_state=0)])
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_parameters_are_keyword_only():
    with pytest.raises(TypeError):
        PopulationGCNClassifier(10)


@pytest.mark.parametrize(
    ("params", "y_kind", "message"),
    [
        ({"n_neighbors": 50}, "binary", "n_neighbors=50 must be smaller than the number"),
        ({"lr": 0.0}, "binary", r"The 'lr' parameter of PopulationGCNClassifier must be"),
        ({}, "one class", r"at least two classes in y; got 1 class \(\[1\]\)"),
        ({}, "lone patient", r"at least 2 patients of each class .*; class 1 has 1"),
    ],
)
def test_errors(data, params, y_kind, message):
    X, y = data
    X, y = X[:40], y[:40].copy()
    if y_kind == "one class":
        y[:] = 1
    elif y_kind == "lone patient":
        y[:] = 0
        y[0] = 1
    with pytest.raises(ValueError, match=message):
        PopulationGCNClassifier(**params).fit(X, y)
