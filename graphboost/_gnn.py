"""The GNN model family of the weak learners: one class, the convolution chosen by name."""

from __future__ import annotations

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
        if conv == "appnp":
            self.mlp = MLP(
                in_channels=in_channels,
                hidden_channels=hidden_channels,
                out_channels=out_channels,
                num_layers=num_layers,
                dropout=dropout,
                norm=None,
            )
            self.propagate = APPNP(K=K, alpha=alpha)
        else:
            model = {"gcn": GCN, "sage": GraphSAGE, "gat": GAT}[conv]
            self.gnn = model(
                in_channels=in_channels,
                hidden_channels=hidden_channels,
                num_layers=num_layers,
                out_channels=out_channels,
                dropout=dropout,
            )

    def forward(self, x, edge_index):
        if self.conv == "appnp":
            return self.propagate(self.mlp(x), edge_index)
        return self.gnn(x, edge_index)
