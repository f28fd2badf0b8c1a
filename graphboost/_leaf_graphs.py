"""Leaf graphs: the patients sharing a leaf of a shallow tree fitted to one round's gradient.

The candidate graphs of :class:`~graphboost.GraphBoostSurvivalAnalysis` are fixed before the
rounds (one column, or a block, each); their neighbor-mean steps add up to an additive model of
the columns plus block smooths. With ``interaction_depth > 0`` each round also proposes one graph
of its own: a regression tree of that depth, fitted on a random half of the patients to the
round's Newton working response (``-g / h`` weighted by ``h``, the fit of XGBoost's trees), links
every patient to the training patients in its leaf, a subgroup defined by up to
``interaction_depth`` conditions (for example more than 3 nodes and a low PGR). Its step is the
neighbor-mean Newton step of the other graphs, over the leaf.

The tree's splits saw the gradients of its half, so its gain there is optimistic. It is judged
on the other half: it is kept for the round when, on the patients that did not shape it, its
leave-self-out step lowers the second-order loss more than the step of the round's best fixed
graph does on the same patients (:func:`propose_leaf_graph`).
"""

from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeRegressor

from ._graphs import GraphSpec

# Hessians below this are raised to it for the working response -g / h (their weight stays ~0).
_TINY_HESSIAN = 1e-12


class LeafGraph:
    """The leaves of a fitted tree, as a graph: patients in one leaf are each other's neighbors.

    The tree is held as arrays (scikit-learn's ``tree_`` layout); a patient goes left at a node
    when its value, as float32, is at most the node's threshold, as scikit-learn's trees decide.
    A new patient is linked to the training patients of the leaf it falls in, whatever the other
    rows passed with it.

    Parameters
    ----------
    spec : GraphSpec
        ``rule="leaf"``, ``columns`` the columns the tree splits on.
    feature : ndarray of shape (n_nodes,)
        Column index (in ``X``) tested at each node; -1 at a leaf.
    threshold : ndarray of shape (n_nodes,)
    left, right : ndarray of shape (n_nodes,)
        Children of each node; -1 at a leaf.
    train_leaf : ndarray of shape (n_train,)
        Leaf number (0 .. n_leaves - 1) of every training patient.
    """

    def __init__(self, spec, feature, threshold, left, right, train_leaf):
        self.spec = spec
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.train_leaf = np.asarray(train_leaf, dtype=np.int64)
        is_leaf = self.left < 0
        self.leaf_number = np.full(is_leaf.shape[0], -1, dtype=np.int64)
        self.leaf_number[is_leaf] = np.arange(int(is_leaf.sum()))
        self.leaf_nodes = np.flatnonzero(is_leaf)

    @property
    def n_train(self):
        """Number of training patients."""
        return self.train_leaf.shape[0]

    @property
    def n_leaves(self):
        return self.leaf_nodes.shape[0]

    def leaves(self, X):
        """The leaf number of each row of ``X`` (n_samples, n_features)."""
        X = np.asarray(X)
        node = np.zeros(X.shape[0], dtype=np.int64)
        rows = np.arange(X.shape[0])
        while rows.size:
            f = self.feature[node[rows]]
            inner = f >= 0
            rows, f = rows[inner], f[inner]
            if not rows.size:
                break
            here = node[rows]
            values = X[rows, f].astype(np.float32).astype(np.float64)
            node[rows] = np.where(values <= self.threshold[here], self.left[here], self.right[here])
        return self.leaf_number[node]

    def leaf_sums(self, values):
        """Column sums of ``values`` (n_train, m) over the training patients of each leaf."""
        values = np.asarray(values, dtype=np.float64)
        out = np.zeros((self.n_leaves, values.shape[1]))
        np.add.at(out, self.train_leaf, values)
        return out

    def members(self, leaf):
        """Training positions of the patients in leaf number ``leaf``."""
        return np.flatnonzero(self.train_leaf == leaf)

    def rule(self, leaf, names):
        """The conditions that define leaf number ``leaf``, one per column, e.g.
        ``"nodes > 0.41, -1.2 < pgr <= -0.3"`` (values on the model's scale)."""
        bounds = {}  # column -> (lower bound, exclusive; upper bound, inclusive)
        for node, went_left in self._path_to(int(self.leaf_nodes[leaf])):
            column, t = int(self.feature[node]), float(self.threshold[node])
            low, high = bounds.get(column, (-np.inf, np.inf))
            bounds[column] = (low, min(high, t)) if went_left else (max(low, t), high)
        parts = []
        for column, (low, high) in bounds.items():
            name = names[column]
            if np.isfinite(low) and np.isfinite(high):
                parts.append(f"{low:.3g} < {name} <= {high:.3g}")
            elif np.isfinite(high):
                parts.append(f"{name} <= {high:.3g}")
            else:
                parts.append(f"{name} > {low:.3g}")
        return ", ".join(parts)

    def _path_to(self, target):
        """``(node, went_left)`` from the root down to node ``target``."""
        parent = {}
        for node in np.flatnonzero(self.left >= 0):
            parent[int(self.left[node])] = (int(node), True)
            parent[int(self.right[node])] = (int(node), False)
        path, node = [], int(target)
        while node in parent:
            node, went_left = parent[node]
            path.append((node, went_left))
        return path[::-1]

    # -- persistence -------------------------------------------------------------------------
    def state(self):
        return {}, {
            "feature": self.feature,
            "threshold": self.threshold,
            "left": self.left,
            "right": self.right,
            "train_leaf": self.train_leaf.astype(np.int32),
        }

    @classmethod
    def from_state(cls, spec, meta, arrays):
        return cls(
            spec,
            arrays["feature"],
            arrays["threshold"],
            arrays["left"],
            arrays["right"],
            arrays["train_leaf"],
        )


def fit_leaf_graph(X, g, h, rows, depth, min_leaf, seed, names, label):
    """A :class:`LeafGraph` from a tree fitted on ``X[rows]`` to the working response ``-g / h``
    with weights ``h``; None when the tree does not split.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training patients (every one gets its leaf).
    g, h : ndarray of shape (n_samples,)
        The round's gradient and Hessian.
    rows : ndarray of int
        The patients the tree is fitted on.
    depth, min_leaf : int
        The tree's ``max_depth`` and ``min_samples_leaf``.
    seed : int
        The tree's ``random_state`` (the order it tries the columns in).
    names : list of str
        Column names, for the spec.
    label : str
        Appended to the graph's name (the round).
    """
    weight = np.maximum(h[rows], _TINY_HESSIAN)
    tree = DecisionTreeRegressor(max_depth=depth, min_samples_leaf=min_leaf, random_state=seed)
    tree.fit(X[rows], -g[rows] / weight, sample_weight=weight)
    t = tree.tree_
    if t.node_count < 3:
        return None
    feature = np.where(t.children_left >= 0, t.feature, -1)
    used = list(dict.fromkeys(int(f) for f in feature if f >= 0))
    columns = tuple(names[j] for j in used)
    spec = GraphSpec(f"{' x '.join(columns)} ({label})", columns, "leaf")
    graph = LeafGraph(spec, feature, t.threshold, t.children_left, t.children_right, [])
    graph.train_leaf = graph.leaves(X)
    return graph


def propose_leaf_graph(X, g, h, best_terms, step_terms, boosting, rng, names, label):
    """The round's leaf graph and its leave-self-out step, or None when the round's best fixed
    graph does better on the patients the tree did not see.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    g, h : ndarray of shape (n_samples,)
        The round's gradient and Hessian.
    best_terms : ndarray of shape (n_samples,)
        Each patient's term of the second-order loss change under the best fixed graph's
        shrunken leave-self-out step.
    step_terms : callable
        ``step_terms(step)``: the patients' terms of a (not yet shrunken) step.
    boosting : SurvivalBoosting
        Gives ``interaction_depth``, ``min_leaf`` and ``l2``.
    rng : numpy.random.RandomState
        Draws the half the tree is fitted on, and its seed.
    names : list of str
    label : str

    Returns
    -------
    (LeafGraph, ndarray of shape (n_samples,), ndarray) or None
        The graph, each training patient's leave-self-out step and the loss terms.
    """
    n = X.shape[0]
    fitted = rng.rand(n) < 0.5
    rows = np.flatnonzero(fitted)
    held_out = ~fitted
    if rows.size < 2 * boosting.min_leaf or not held_out.any():
        return None
    graph = fit_leaf_graph(
        X, g, h, rows, boosting.interaction_depth, boosting.min_leaf, rng.randint(2**31 - 1),
        names, label,
    )  # fmt: skip
    if graph is None:
        return None
    sums = graph.leaf_sums(np.column_stack([g, h]))[graph.train_leaf]
    step = -(sums[:, 0] - g) / (sums[:, 1] - h + boosting.l2)
    terms = step_terms(step)
    if np.sum(terms[held_out]) >= np.sum(best_terms[held_out]):
        return None
    return graph, step, terms
