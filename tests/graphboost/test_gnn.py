"""train_gnn, the one early-stopping trainer, and the weak learner's local torch randomness."""

import numpy as np
import pytest
import torch
from torch_geometric.nn.models import GCN

from graphboost import GraphBoostClassifier, GraphWeakLearner, seeded_torch, train_gnn
from graphboost._gnn import _weighted_ce


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    n = 40
    y = np.repeat([0, 1], n // 2)
    x = torch.as_tensor(rng.normal(size=(n, 3)) + y[:, None], dtype=torch.float32)
    src = rng.integers(0, n, size=4 * n)
    dst = rng.integers(0, n, size=4 * n)
    edge_index = torch.as_tensor(np.stack([src, dst]))
    val = np.zeros(n, dtype=bool)
    val[::4] = True
    return x, edge_index, torch.as_tensor(y), torch.as_tensor(val)


def _train(graph, seed=0, sample_weight=None, train_mask=None, **kw):
    x, edge_index, y, val = graph
    train_mask = ~val if train_mask is None else train_mask
    params = {"lr": 0.05, "max_epochs": 30, "patience": 5, **kw}
    with seeded_torch(seed):
        model = GCN(3, 8, num_layers=2, out_channels=2, dropout=0.3)
        return train_gnn(model, x, edge_index, y, sample_weight, train_mask, val, **params)


def test_the_best_validation_epoch_is_restored(graph):
    x, edge_index, y, val = graph
    result = _train(graph)
    assert not result.model.training
    assert 1 <= result.n_epochs <= 30 and 0 <= result.best_epoch < result.n_epochs
    with torch.no_grad():
        loss = _weighted_ce(result.model(x, edge_index), y, torch.ones(len(y)), val)
    assert float(loss) == pytest.approx(result.best_val_loss, rel=1e-6)


def test_training_stops_after_patience_epochs_without_improvement(graph):
    result = _train(graph, lr=0.0, weight_decay=0.0, patience=3)  # parameters never move
    assert result.best_epoch == 0
    assert result.n_epochs == 4


def test_weights_enter_the_loss_normalized_by_their_sum(graph):
    n = graph[0].shape[0]
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=n)
    a = _train(graph, sample_weight=weights)
    b = _train(graph, sample_weight=weights * 1000.0)
    assert a.n_epochs == b.n_epochs
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
    unweighted = _train(graph)
    uniform = _train(graph, sample_weight=np.full(n, 3.0))
    for p, q in zip(unweighted.model.parameters(), uniform.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_a_node_of_weight_zero_is_as_good_as_left_out_of_the_training_mask(graph):
    val = graph[3]
    weights = np.ones(val.shape[0])
    weights[1:8:2] = 0.0
    mask = ~val.clone()
    mask[1:8:2] = False
    a = _train(graph, sample_weight=weights)
    b = _train(graph, train_mask=mask)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_masks_are_checked(graph):
    x, edge_index, y, val = graph
    model = GCN(3, 4, num_layers=1, out_channels=2)
    with pytest.raises(ValueError, match=r"train_mask must be a boolean mask of shape \(40,\)"):
        train_gnn(model, x, edge_index, y, None, np.arange(40), val)
    with pytest.raises(ValueError, match=r"val_mask must be a boolean mask of shape \(40,\)"):
        train_gnn(model, x, edge_index, y, None, ~val, val[:10])
    with pytest.raises(ValueError, match="val_mask selects no node"):
        train_gnn(model, x, edge_index, y, None, ~val, torch.zeros(40, dtype=torch.bool))


def test_seeded_torch_repeats_draws_and_restores_the_callers_state():
    before = torch.random.get_rng_state()
    with seeded_torch(3):
        a = torch.rand(3)
    with seeded_torch(3, torch.device("cpu")):
        b = torch.rand(3)
    torch.testing.assert_close(a, b)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("conv", ["gcn", "appnp"])
def test_fitting_gnn_learners_leaves_torch_global_random_state_alone(conv, small_cohort):
    """Hidden state: a seeded fit must not reseed (or advance) the caller's torch generator."""
    X, y = small_cohort
    before = torch.random.get_rng_state()
    GraphWeakLearner(conv=conv, n_neighbors=5, max_epochs=3, random_state=0).fit(X, y)
    GraphBoostClassifier(
        conv=conv, n_estimators=2, n_neighbors=5, n_screen=1, max_epochs=3, random_state=0
    ).fit(X, y)
    assert torch.equal(before, torch.random.get_rng_state())


def test_the_weak_learner_trains_through_train_gnn(small_cohort):
    """The learner's epoch count is train_gnn's, with its lr and patience."""
    X, y = small_cohort
    fast = GraphWeakLearner(conv="gcn", n_neighbors=5, max_epochs=50, lr=0.0, patience=2)
    assert fast.fit(X, y).n_epochs_ == 3  # no step moves the parameters: stop after patience
