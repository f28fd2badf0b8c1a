"""A single-graph population GCN baseline (one kNN graph over all features).

This is the design of the population-graph papers (Parisot et al., MICCAI 2017 and MedIA 2018;
Kazi et al.): patients are nodes, one similarity graph links them, and a graph convolutional network
classifies the nodes. It is implemented here *inductively*: the network is trained on the graph of
the training patients only, and at prediction time each new patient is linked to its ``n_neighbors``
nearest training patients by directed edges (training -> new), so a new patient's prediction never
depends on the other rows passed with it, and training patients never receive messages from test
patients.

The graph is the one :func:`graphboost.build_graph` fits for a block spec over every column (the
block standardized on the training patients, Euclidean kNN), the network PyG's
:class:`~torch_geometric.nn.models.GCN`, and the training loop :func:`graphboost.train_gnn`, the
one the GNN weak learners of ``GraphBoostClassifier`` use.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class PopulationGCNClassifier(ClassifierMixin, BaseEstimator):
    """GCN on one k-nearest-neighbor population graph of all features (inductive).

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbors per patient in the Euclidean kNN graph of the standardized features; the
        training graph is made undirected.
    hidden_channels : int, default=32
        Width of the hidden GCN layers.
    num_layers : int, default=2
        Number of ``GCNConv`` layers.
    dropout : float, default=0.5
        Dropout on the hidden node features.
    lr : float, default=0.01
        Adam step size.
    weight_decay : float, default=5e-4
        Adam weight decay.
    max_epochs : int, default=200
        Upper bound on full-batch epochs.
    validation_fraction : float, default=0.2
        Stratified share of training patients held out to choose the epoch (early stopping with
        ``patience``); they stay in the graph as nodes that pass messages but add no loss.
    patience : int, default=20
        Epochs without improvement of the validation loss before stopping.
    random_state : int, RandomState instance or None, default=None
        Seed of the split, the initialization and dropout (torch's global random state is
        forked, never changed).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string column names.
    graph_ : fitted graph
        The population graph, from :func:`graphboost.build_graph`.
    train_edge_index_ : ndarray of shape (2, n_edges)
        Edges among the training patients (undirected: both directions).
    module_ : torch_geometric.nn.models.GCN
        The trained network.
    n_epochs_ : int
        Epochs run before the stop.
    best_epoch_ : int
        Epoch (0-based) whose parameters were kept.
    train_X_ : ndarray of shape (n_train, n_features_in_)

    See Also
    --------
    graphboost.GraphBoostClassifier : Boosted graphs, one per column or block.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4)); y = (X[:, 0] > 0).astype(int)
    >>> clf = PopulationGCNClassifier(max_epochs=30, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "hidden_channels": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_neighbors=10,
        hidden_channels=32,
        num_layers=2,
        dropout=0.5,
        lr=0.01,
        weight_decay=5e-4,
        max_epochs=200,
        validation_fraction=0.2,
        patience=20,
        random_state=None,
    ):
        self.n_neighbors = n_neighbors
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def fit(self, X, y):
        """Build the training graph and train the network full-batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features without missing values.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : PopulationGCNClassifier
        """
        import torch
        from torch_geometric.nn.models import GCN

        from graphboost import train_gnn

        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        y_codes = self._encode_labels(y)
        rng = check_random_state(self.random_state)
        val_mask = self._validation_mask(y_codes, rng)
        self.graph_ = self._build_graph(X)
        self.train_edge_index_ = _undirected(self.graph_.edge_index())
        with torch.random.fork_rng():
            torch.manual_seed(int(rng.randint(0, 2**31 - 1)))
            model = GCN(
                X.shape[1],
                self.hidden_channels,
                self.num_layers,
                out_channels=len(self.classes_),
                dropout=self.dropout,
            )
            result = train_gnn(
                model,
                torch.from_numpy(X),
                self.train_edge_index_,
                y_codes,
                None,
                ~val_mask,
                val_mask,
                lr=self.lr,
                weight_decay=self.weight_decay,
                max_epochs=self.max_epochs,
                patience=self.patience,
            )
        self.module_ = result.model
        self.n_epochs_ = result.n_epochs
        self.best_epoch_ = result.best_epoch
        self.train_X_ = X
        return self

    def _encode_labels(self, y):
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        if self.classes_.size < 2:
            raise ValueError(
                f"PopulationGCNClassifier needs at least two classes in y; got "
                f"{self.classes_.size} class ({self.classes_.tolist()[:5]})."
            )
        return enc.transform(y)

    def _validation_mask(self, y_codes, rng):
        """Boolean mask of the stratified validation patients (each class on both sides)."""
        counts = np.bincount(y_codes)
        if counts.min() < 2:
            raise ValueError(
                "PopulationGCNClassifier needs at least 2 patients of each class to hold out a "
                f"stratified validation split; class {self.classes_[counts.argmin()].item()!r} has "
                f"{counts.min()}."
            )
        idx = np.arange(y_codes.shape[0])
        _, val = train_test_split(
            idx, test_size=self.validation_fraction, stratify=y_codes, random_state=rng
        )
        mask = np.zeros(idx.size, dtype=bool)
        mask[val] = True
        return mask

    def _build_graph(self, X):
        from graphboost import GraphSpec, build_graph

        if self.n_neighbors >= X.shape[0]:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} must be smaller than the number of training "
                f"patients ({X.shape[0]})."
            )
        names = [f"x{i}" for i in range(X.shape[1])]
        spec = GraphSpec(
            name="population",
            columns=tuple(names),
            rule="knn",
            n_neighbors=int(self.n_neighbors),
            metric="euclidean",
        )
        return build_graph(spec, X, feature_names=names)

    def predict_proba(self, X):
        """Class probabilities; each row is linked only to training patients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        import torch

        x_all, edges = self._graph_with_queries(X)
        with torch.no_grad():
            out = self.module_(x_all, edges)[self.graph_.n_train :]
        return torch.softmax(out, dim=1).numpy().astype(np.float64)

    def _graph_with_queries(self, X):
        """Node features and edges: the training graph, each row of ``X`` linked into it."""
        import torch

        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        query_edges = self.graph_.query_edge_index(X)
        edges = np.concatenate([self.train_edge_index_, query_edges], axis=1)
        return torch.from_numpy(np.vstack([self.train_X_, X])), torch.from_numpy(edges).long()

    def predict(self, X):
        """Most probable class of each row of ``X`` (see :meth:`predict_proba`)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _undirected(edge_index):
    """Both directions of every edge, each edge once (population graphs are undirected)."""
    both = np.concatenate([edge_index, edge_index[::-1]], axis=1)
    return np.unique(both, axis=1)
