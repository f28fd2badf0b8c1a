"""A single-graph population GCN baseline (one kNN graph over all features).

This is the design of the population-graph papers (Parisot et al., MICCAI 2017 and MedIA 2018;
Kazi et al.): patients are nodes, one similarity graph links them, and a graph convolutional network
classifies the nodes. It is implemented here *inductively*: the network is trained on the graph of
the training patients only, and at prediction time each new patient is linked to its ``n_neighbors``
nearest training patients by directed edges (training -> new), so a new patient's prediction never
depends on the other rows passed with it, and training patients never receive messages from test
patients.
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted, validate_data


def _knn_edges(reference, query, k, exclude_self):
    """Directed edges (source = reference neighbour, target = query row) of a kNN graph."""
    k_eff = min(k + int(exclude_self), reference.shape[0])
    nn = NearestNeighbors(n_neighbors=k_eff).fit(reference)
    _, ind = nn.kneighbors(query)
    if exclude_self:
        rows = []
        for i, neigh in enumerate(ind):
            neigh = neigh[neigh != i][:k]
            rows.append(neigh)
        ind = np.asarray(rows)
    targets = np.repeat(np.arange(query.shape[0]), ind.shape[1])
    return ind.ravel(), targets


class PopulationGCNClassifier(ClassifierMixin, BaseEstimator):
    """GCN on one k-nearest-neighbour population graph of all features (inductive).

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours per patient in the Euclidean kNN graph (features should be scaled).
    hidden_channels : int, default=32
        Width of the hidden GCN layers.
    num_layers : int, default=2
        Number of ``GCNConv`` layers.
    dropout : float, default=0.5
        Dropout on node features between layers.
    lr : float, default=0.01
        Adam learning rate.
    weight_decay : float, default=5e-4
        Adam weight decay.
    max_epochs : int, default=200
        Upper bound on full-batch epochs.
    validation_fraction : float, default=0.2
        Stratified share of training patients held out to choose the epoch (early stopping with
        ``patience``); they stay in the graph as unlabeled-for-loss nodes.
    patience : int, default=20
        Epochs without improvement of the validation loss before stopping.
    random_state : int or None, default=None
        Seed of the split, the initialisation and dropout (a local ``torch.Generator`` state).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    best_epoch_ : int
    train_X_ : ndarray of shape (n_train, n_features_in_)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4)); y = (X[:, 0] > 0).astype(int)
    >>> clf = PopulationGCNClassifier(max_epochs=30, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    def __init__(
        self,
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

    def _build_model(self, n_in, n_out):
        import torch
        from torch_geometric.nn import GCNConv

        layers = torch.nn.ModuleList()
        dims = [n_in] + [self.hidden_channels] * (self.num_layers - 1) + [n_out]
        for a, b in itertools.pairwise(dims):
            layers.append(GCNConv(a, b, add_self_loops=True, normalize=True))
        return layers

    def _forward(self, layers, x, edge_index, training):
        import torch.nn.functional as F

        for i, conv in enumerate(layers):
            x = F.dropout(x, p=self.dropout, training=training)
            x = conv(x, edge_index)
            if i < len(layers) - 1:
                x = F.relu(x)
        return x

    def fit(self, X, y):
        """Build the training graph and train the network full-batch."""
        import torch
        import torch.nn.functional as F

        X, y = validate_data(self, X, y, dtype=np.float32)
        if int(self.n_neighbors) >= X.shape[0]:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} must be smaller than the number of training "
                f"patients ({X.shape[0]})."
            )
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        if self.classes_.size < 2:
            raise ValueError("PopulationGCNClassifier needs at least two classes in y.")
        y_enc = enc.transform(y)
        seed = 0 if self.random_state is None else int(self.random_state)
        idx = np.arange(X.shape[0])
        tr, va = train_test_split(
            idx, test_size=self.validation_fraction, stratify=y_enc, random_state=seed
        )
        src, dst = _knn_edges(X, X, self.n_neighbors, exclude_self=True)
        # Symmetrise the training graph (population graphs are undirected).
        edge_index = np.unique(np.c_[np.r_[src, dst], np.r_[dst, src]], axis=0).T
        state = torch.random.get_rng_state()  # restored below: global torch state is left alone
        try:
            torch.manual_seed(seed)
            layers = self._build_model(X.shape[1], self.classes_.size)
            x_t = torch.from_numpy(X)
            ei = torch.from_numpy(edge_index).long()
            y_t = torch.from_numpy(y_enc).long()
            tr_t, va_t = torch.from_numpy(tr), torch.from_numpy(va)
            opt = torch.optim.Adam(layers.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            best, best_state, best_epoch, waited = np.inf, None, 0, 0
            for epoch in range(int(self.max_epochs)):
                layers.train()
                opt.zero_grad()
                out = self._forward(layers, x_t, ei, training=True)
                loss = F.cross_entropy(out[tr_t], y_t[tr_t])
                loss.backward()
                opt.step()
                layers.eval()
                with torch.no_grad():
                    out = self._forward(layers, x_t, ei, training=False)
                    val = float(F.cross_entropy(out[va_t], y_t[va_t]))
                if val < best - 1e-6:
                    best, best_epoch, waited = val, epoch, 0
                    best_state = {k: v.clone() for k, v in layers.state_dict().items()}
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
            layers.load_state_dict(best_state)
        finally:
            torch.random.set_rng_state(state)
        self.module_ = layers
        self.best_epoch_ = best_epoch
        self.train_X_ = X
        self.train_edge_index_ = edge_index
        return self

    def predict_proba(self, X):
        """Class probabilities; each row is linked only to training patients."""
        import torch

        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        n_train = self.train_X_.shape[0]
        src, dst = _knn_edges(self.train_X_, X, self.n_neighbors, exclude_self=False)
        edges = np.c_[self.train_edge_index_, np.vstack([src, dst + n_train])]
        x_all = torch.from_numpy(np.vstack([self.train_X_, X]))
        self.module_.eval()
        with torch.no_grad():
            out = self._forward(self.module_, x_all, torch.from_numpy(edges).long(), False)
            proba = torch.softmax(out[n_train:], dim=1).numpy()
        return proba.astype(float)

    def predict(self, X):
        """Most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
