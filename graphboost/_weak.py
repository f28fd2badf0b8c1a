"""The weak learner of the boosting: a classifier on one patient-similarity graph."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    validate_data,
)

from ._device import resolve_device, seeded_torch, torch_threads
from ._gnn import CONVS, GraphNet, train_gnn
from ._graphs import GraphSpec, _check_n_neighbors
from ._graphs import threshold_from_differences as _tau
from ._neighborhoods import Candidate, vote_predict
from ._validation import check_choice, check_class_counts

WEAK_LEARNERS = (*CONVS, "vote")


def _normalize(vote, prior):
    total = vote.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    out = np.where(total > 0, vote / np.where(total > 0, total, 1.0), 0.0)
    out[empty] = prior
    return out


class GraphWeakLearner(ClassifierMixin, BaseEstimator):
    """Classifier on one patient-similarity graph: a weighted neighbor vote or a small GNN.

    The graph links patients by one column (or one block of columns); see
    :class:`~graphboost.GraphSpec`. With ``conv="vote"`` a patient's class is the weighted vote of
    its neighbors (label propagation along the graph, one step), with no parameters to train.
    With a GNN ``conv`` the node features are the graph's own column(s) and the neighbor vote,
    the sample weights enter the loss (normalized by their sum), and training stops early on a
    stratified internal validation split.

    New patients are linked only to training patients, by the same rule as the training graph,
    so a prediction never depends on the other rows passed with it.

    Parameters
    ----------
    columns : tuple of int, default=(0,)
        Columns of ``X`` that define the graph: one column, or a block when ``metric`` is set.
    rule : {"knn", "threshold"}, default="knn"
        Graph rule; ``"threshold"`` is for one column only.
    n_neighbors : int, default=10
        Neighborhood size of the ``"knn"`` rule.
    quantile : float, default=0.05
        Quantile of the pairwise differences that sets ``tau`` for the ``"threshold"`` rule.
    metric : {"euclidean", "cosine"} or None, default=None
        Distance between patients of a block; None for a single column.
    conv : {"vote", "appnp", "gat", "gcn", "sage"}, default="vote"
        The learner: the neighbor vote, or a GNN with that convolution.
    hidden_channels : int, default=16
        Hidden width of the GNN.
    num_layers : int, default=2
        Layers of the GNN.
    dropout : float, default=0.0
        Dropout of the GNN.
    max_epochs : int, default=100
        Most training epochs of the GNN.
    lr : float, default=0.01
        Adam step size of the GNN.
    weight_decay : float, default=5e-4
        L2 penalty of the GNN.
    patience : int, default=10
        Epochs without improvement of the validation loss before training stops.
    validation_fraction : float, default=0.2
        Share of the training patients held out (stratified) for early stopping of the GNN.
    max_degree : int, default=32
        Most neighbors per patient in the graph given to the GNN (``"threshold"`` rule).
    device : {"auto", "cpu", "cuda"}, "cuda:N" or torch.device, default="auto"
        Where the GNN trains (see :func:`~graphboost.resolve_device`).
    random_state : int, RandomState instance or None, default=None
        Seed of the validation split and of the GNN's initialization and dropout.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    graph_spec_ : GraphSpec
        The fitted graph's description.
    graph_ : ColumnGraph or BlockGraph
        The fitted graph (see :func:`~graphboost.build_graph`).
    n_epochs_ : int
        Epochs the GNN trained (GNN ``conv`` only).
    device_ : str
        Device the GNN trained on (GNN ``conv`` only).
    train_predictions_ : ndarray of shape (n_samples,)
        In-sample predictions: the leave-self-out vote, or the GNN on the training graph. The
        boosting reweights patients with these.

    Examples
    --------
    >>> import numpy as np
    >>> from graphboost import GraphWeakLearner
    >>> X = np.arange(20, dtype=float).reshape(-1, 1)
    >>> y = (X[:, 0] >= 10).astype(int)
    >>> GraphWeakLearner(n_neighbors=3).fit(X, y).predict([[2.0], [17.0]])
    array([0, 1])
    """

    def __init__(
        self,
        *,
        columns=(0,),
        rule="knn",
        n_neighbors=10,
        quantile=0.05,
        metric=None,
        conv="vote",
        hidden_channels=16,
        num_layers=2,
        dropout=0.0,
        max_epochs=100,
        lr=0.01,
        weight_decay=5e-4,
        patience=10,
        validation_fraction=0.2,
        max_degree=32,
        device="auto",
        random_state=None,
    ):
        self.columns = columns
        self.rule = rule
        self.n_neighbors = n_neighbors
        self.quantile = quantile
        self.metric = metric
        self.conv = conv
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.max_degree = max_degree
        self.device = device
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Build the graph on ``X`` and train the learner.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training patients.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights in the vote and in the GNN loss; uniform when None.

        Returns
        -------
        self : GraphWeakLearner
        """
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        check_choice(self.conv, "conv", WEAK_LEARNERS, type(self).__name__)
        check_choice(self.rule, "rule", ("knn", "threshold"), type(self).__name__)
        classes, y_codes = np.unique(y, return_inverse=True)
        columns = tuple(int(c) for c in self.columns)
        names = tuple(f"x{c}" for c in columns)
        if self.rule == "knn":
            _check_n_neighbors(self.n_neighbors, X.shape[0])
            spec = GraphSpec(
                names[0] if len(names) == 1 else "block",
                names,
                "knn",
                n_neighbors=int(self.n_neighbors),
                metric=self.metric,
            )
        else:
            tau = _tau(X[:, columns[0]], self.quantile, random_state=self.random_state)
            spec = GraphSpec(names[0], names, "threshold", quantile=self.quantile, threshold=tau)
        graph = Candidate(spec, columns).fit_graph(X)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        self._fit_graph(graph, X, classes, y_codes, sample_weight)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A weak learner sees one column or block, not all of X.
        tags.classifier_tags.poor_score = True
        return tags

    def _fit_graph(self, graph, X, classes, y_codes, sample_weight):
        """Train on an already fitted graph (the boosting reuses graphs across rounds)."""
        self.classes_ = classes
        self.graph_spec_ = graph.spec
        self.graph_ = graph
        n_classes = len(classes)
        n = y_codes.shape[0]
        w = sample_weight / sample_weight.sum()
        wy = np.zeros((n, n_classes))
        wy[np.arange(n), y_codes] = w
        self.vote_weights_ = wy
        self._vote_prefix = graph.vote_prefix(wy)  # O(log N) votes for new patients
        self.y_codes_ = y_codes
        self.prior_ = wy.sum(axis=0)
        vote = graph.vote_train(wy)
        if self.conv == "vote":
            self.train_predictions_ = vote_predict(vote, self.prior_)
        else:
            self._fit_gnn(graph, _normalize(vote, self.prior_), y_codes, w)
        return self

    # -- GNN ---------------------------------------------------------------------------------
    def _node_features(self, base, vote_fraction):
        return torch.as_tensor(np.hstack([base, vote_fraction]), dtype=torch.float32)

    def _fit_gnn(self, graph, vote_fraction, y_codes, w):
        n_classes = len(self.classes_)
        check_class_counts(
            np.bincount(y_codes, minlength=n_classes),
            self.classes_,
            2,
            "the internal stratified validation split of the GNN",
            type(self).__name__,
        )
        rng = check_random_state(self.random_state)
        val_mask = _stratified_mask(y_codes, self.validation_fraction, rng)
        device = resolve_device(self.device)
        self.device_ = str(device)
        x = self._node_features(graph.node_features_train(), vote_fraction).to(device)
        edge_index = torch.as_tensor(graph.edge_index(self.max_degree)).to(device)
        seed = int(rng.randint(0, 2**31 - 1))
        with seeded_torch(seed, device), torch_threads(x.shape[0], device):
            model = GraphNet(
                x.shape[1],
                self.hidden_channels,
                n_classes,
                self.num_layers,
                self.conv,
                self.dropout,
            ).to(device)
            trained = train_gnn(
                model,
                x,
                edge_index,
                y_codes,
                w,
                ~val_mask,
                val_mask,
                lr=self.lr,
                weight_decay=self.weight_decay,
                max_epochs=self.max_epochs,
                patience=self.patience,
            )
            with torch.no_grad():
                proba = torch.softmax(model(x, edge_index), dim=1).cpu().numpy()
        self.n_epochs_ = trained.n_epochs
        self.module_ = model.cpu()
        self._x_train = x.cpu()
        self._edge_index_train = edge_index.cpu()
        self.train_predictions_ = proba.argmax(axis=1)

    def _gnn_query_proba(self, X):
        graph = self.graph_
        n = graph.n_train
        vote = _normalize(self._vote_query(X), self.prior_)
        xq = self._node_features(graph.node_features_query(X), vote)
        query_edges = graph.query_edge_index(X, self.max_degree)
        x_all = torch.cat([self._x_train, xq])
        edges = torch.cat([self._edge_index_train, torch.as_tensor(query_edges)], dim=1)
        with torch.no_grad(), torch_threads(x_all.shape[0], torch.device("cpu")):
            out = self.module_(x_all, edges)[n:]
        return torch.softmax(out, dim=1).numpy().astype(np.float64)

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, X):
        """Class probabilities of new patients, linked only to the training patients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._proba(X)

    def _vote_query(self, X):
        return self.graph_.vote_query(X, self.vote_weights_, self._vote_prefix)

    def _proba(self, X):
        if self.conv == "vote":
            return _normalize(self._vote_query(X), self.prior_)
        return self._gnn_query_proba(X)

    def _predict_codes(self, X):
        if self.conv == "vote":
            return vote_predict(self._vote_query(X), self.prior_)
        return self._gnn_query_proba(X).argmax(axis=1)

    def predict(self, X):
        """Predicted class of new patients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.classes_[self._predict_codes(X)]


def _stratified_mask(y_codes, fraction, rng):
    """Boolean mask of a stratified validation split with at least one patient per class."""
    mask = np.zeros(y_codes.shape[0], dtype=bool)
    for c in np.unique(y_codes):
        members = np.flatnonzero(y_codes == c)
        n_val = min(max(1, round(fraction * members.size)), members.size - 1)
        mask[rng.choice(members, size=n_val, replace=False)] = True
    return mask
