"""The GNN model family of the weak learners, and the one early-stopping trainer of GNNs."""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import nn
from torch_geometric.nn import APPNP
from torch_geometric.nn.models import GAT, GCN, MLP, GraphSAGE

CONVS = ("appnp", "gat", "gcn", "sage")


class GraphNet(nn.Module):
    """A small node classifier with a choice of graph convolution.

    ``"appnp"`` is AdaMedGraph's learner: an MLP on each patient's own features, then personalised
    PageRank propagation along the graph (Gasteiger et al., ICLR 2019). ``"gcn"``, ``"sage"`` and
    ``"gat"`` are PyG's :class:`~torch_geometric.nn.models.basic_gnn.BasicGNN` models.

    Parameters
    ----------
    in_channels : int
        Node features per patient.
    hidden_channels : int
        Width of the hidden layers.
    out_channels : int
        Number of classes.
    num_layers : int
        Number of layers (MLP layers for ``"appnp"``).
    conv : {"appnp", "gat", "gcn", "sage"}
        Convolution.
    dropout : float
        Dropout between layers.
    K : int, default=10
        Propagation steps of ``"appnp"``.
    alpha : float, default=0.1
        Teleport probability of ``"appnp"``.
    """

    def __init__(
        self, in_channels, hidden_channels, out_channels, num_layers, conv, dropout, K=10, alpha=0.1
    ):
        super().__init__()
        self.conv = conv
        sizes = {
            "in_channels": in_channels,
            "hidden_channels": hidden_channels,
            "out_channels": out_channels,
            "num_layers": num_layers,
            "dropout": dropout,
        }
        if conv == "appnp":
            self.mlp = MLP(**sizes, norm=None)
            self.propagate = APPNP(K=K, alpha=alpha)
        else:
            self.gnn = {"gcn": GCN, "sage": GraphSAGE, "gat": GAT}[conv](**sizes)

    def forward(self, x, edge_index):
        if self.conv == "appnp":
            return self.propagate(self.mlp(x), edge_index)
        return self.gnn(x, edge_index)


class TrainedGNN(NamedTuple):
    """What :func:`train_gnn` returns."""

    model: nn.Module
    """The trained model, in eval mode, holding the parameters of the best validation epoch."""
    n_epochs: int
    """Epochs run before the stop."""
    best_epoch: int | None
    """Epoch (0-based) whose parameters were kept; None if every validation loss was NaN."""
    best_val_loss: float
    """Weighted validation loss of that epoch."""


# Over 60 lines by its numpydoc docstring (12 parameters); the code is 12 lines.
def train_gnn(
    model,
    x,
    edge_index,
    y,
    sample_weight,
    train_mask,
    val_mask,
    *,
    lr=0.01,
    weight_decay=5e-4,
    max_epochs=100,
    patience=10,
):
    """Train a node classifier full-batch with Adam, stopping early on a validation mask.

    Each epoch takes one Adam step on the weighted cross-entropy of the training nodes (weights
    normalized by their sum), then scores the validation nodes alike in eval mode; after
    ``patience`` epochs without an improvement of 1e-6 it stops and restores the best epoch.
    Dropout draws from torch's global generator: to seed a fit and leave the caller's state
    alone, build the model and call this inside :func:`~graphboost.seeded_torch`.

    Parameters
    ----------
    model : torch.nn.Module
        ``model(x, edge_index)`` gives logits of shape (n_nodes, n_classes); on ``x``'s device.
    x : torch.Tensor of shape (n_nodes, in_channels)
        Node features.
    edge_index : torch.Tensor or ndarray of shape (2, n_edges)
        Edges, PyG style (sources in row 0, targets in row 1).
    y : torch.Tensor or ndarray of shape (n_nodes,)
        Class codes of the nodes, in ``range(n_classes)``.
    sample_weight : torch.Tensor, ndarray of shape (n_nodes,) or None
        Weights of the nodes in the loss; uniform when None.
    train_mask, val_mask : torch.Tensor or ndarray of shape (n_nodes,), dtype bool
        Nodes whose loss is minimized, and nodes whose loss chooses the epoch; each must hold
        at least one node. Other nodes only pass messages.
    lr : float, default=0.01
        Adam step size.
    weight_decay : float, default=5e-4
        Adam's L2 penalty.
    max_epochs : int, default=100
        Most epochs.
    patience : int, default=10
        Epochs without improvement of the validation loss before the stop.

    Returns
    -------
    result : TrainedGNN
        ``(model, n_epochs, best_epoch, best_val_loss)``; the model is in eval mode.

    Examples
    --------
    >>> import torch
    >>> from torch_geometric.nn.models import GCN
    >>> from graphboost import seeded_torch, train_gnn
    >>> x = torch.arange(8, dtype=torch.float32)[:, None]
    >>> edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7], [1, 0, 3, 2, 5, 4, 7, 6]])
    >>> y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    >>> val = torch.tensor([False, True, False, False, False, False, True, False])
    >>> with seeded_torch(0):
    ...     model = GCN(1, 8, num_layers=2, out_channels=2)
    ...     result = train_gnn(model, x, edge_index, y, None, ~val, val, max_epochs=5)
    >>> result.n_epochs <= 5 and not result.model.training
    True
    """
    device = x.device
    y = torch.as_tensor(y, dtype=torch.long, device=device)
    if sample_weight is None:
        sample_weight = torch.ones(x.shape[0], dtype=torch.float32, device=device)
    w = torch.as_tensor(sample_weight, dtype=torch.float32, device=device)
    edge_index = torch.as_tensor(edge_index, dtype=torch.long, device=device)
    masks = (
        _check_mask(train_mask, "train_mask", x.shape[0], device),
        _check_mask(val_mask, "val_mask", x.shape[0], device),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    return _train_epochs(model, optimizer, (x, edge_index, y, w), masks, max_epochs, patience)


def _train_epochs(model, optimizer, data, masks, max_epochs, patience):
    """The epochs of :func:`train_gnn`: one step, then the validation loss, until the stop."""
    x, edge_index, y, w = data
    train_mask, val_mask = masks
    best, best_state, best_epoch, waited, n_epochs = float("inf"), None, None, 0, 0
    for epoch in range(max_epochs):
        model.train()
        optimizer.zero_grad()
        _weighted_ce(model(x, edge_index), y, w, train_mask).backward()
        optimizer.step()
        n_epochs += 1
        model.eval()
        with torch.no_grad():
            val_loss = float(_weighted_ce(model(x, edge_index), y, w, val_mask))
        if val_loss < best - 1e-6:
            best, best_epoch, waited = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= patience:
                break
    if best_state is not None:  # None only if every validation loss was NaN
        model.load_state_dict(best_state)
    model.eval()
    return TrainedGNN(model, n_epochs, best_epoch, best)


def _weighted_ce(out, y, w, mask):
    """Cross-entropy of the masked nodes, weighted by ``w`` normalized over the mask."""
    losses = torch.nn.functional.cross_entropy(out[mask], y[mask], reduction="none")
    return (losses * w[mask]).sum() / w[mask].sum().clamp_min(1e-12)


def _check_mask(mask, name, n_nodes, device):
    mask = torch.as_tensor(mask, device=device)
    if mask.dtype != torch.bool or mask.shape != (n_nodes,):
        raise ValueError(
            f"{name} must be a boolean mask of shape ({n_nodes},); got dtype {mask.dtype} "
            f"and shape {tuple(mask.shape)}."
        )
    if not bool(mask.any()):
        raise ValueError(f"{name} selects no node; it must hold at least one.")
    return mask
