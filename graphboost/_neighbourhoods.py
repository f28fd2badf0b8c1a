"""Fitted patient-similarity graphs and the cheap screening of every candidate graph.

A fitted graph holds what was learned on the training patients (their values, a block's scaling,
the threshold ``tau``) and answers two questions: who are the neighbours of a training patient
(itself left out), and who are the training neighbours of a new patient. New patients are linked
only to training patients, so a prediction never depends on the other rows passed with it.

Screening scores every candidate graph against the current boosting weights with the weighted
neighbour vote, each patient left out of its own vote. On one column every neighbourhood is a
contiguous range of the sorted values, so prefix sums score all columns and all neighbourhood
sizes in one vectorised pass, O(N * n_columns) per round.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from ._graphs import (
    GraphSpec,
    column_neighbourhoods,
    column_neighbours,
)

# Tie-break of the neighbour vote: a tiny share of the overall class weights, so that an exact tie
# goes to the heavier class rather than to the first class.
_PRIOR_TIEBREAK = 1e-9


class ColumnGraph:
    """A graph on one column, fitted on the training values of that column."""

    def __init__(self, spec: GraphSpec, column_index: int, x_train):
        self.spec = spec
        self.column_index = int(column_index)
        self.x = np.asarray(x_train, dtype=np.float64)
        self.order = np.argsort(self.x, kind="stable")
        self.mean = float(self.x.mean())
        scale = float(self.x.std())
        self.scale = scale if scale > 0 else 1.0

    @property
    def n_train(self):
        return self.x.shape[0]

    def _rule(self):
        spec = self.spec
        return {"rule": spec.rule, "n_neighbors": spec.n_neighbors, "threshold": spec.threshold}

    def query_values(self, X):
        return np.asarray(X[:, self.column_index], dtype=np.float64)

    def vote_train(self, wy):
        """Leave-self-out weighted vote of the training patients, shape (n_train, n_classes)."""
        order, lo, hi = column_neighbourhoods(self.x, order=self.order, **self._rule())
        cs = _prefix(wy[order])
        return cs[hi] - cs[lo] - wy

    def vote_prefix(self, wy):
        """Prefix sums of ``wy`` in sorted order; a learner computes them once."""
        return _prefix(wy[self.order])

    def vote_query(self, X, wy, prefix=None):
        """Weighted vote of the training neighbours of new patients.

        With ``prefix`` (from :meth:`vote_prefix`) a query costs O(log N) per patient.
        """
        _, lo, hi = column_neighbourhoods(
            self.x, query=self.query_values(X), order=self.order, **self._rule()
        )
        cs = self.vote_prefix(wy) if prefix is None else prefix
        return cs[hi] - cs[lo]

    def neighbours_train(self, max_degree):
        """Nearest other training patients of each training patient, -1 padded."""
        return column_neighbours(self.x, max_degree=max_degree, order=self.order, **self._rule())

    def neighbours_query(self, X, max_degree):
        """Nearest training patients of each new patient, -1 padded."""
        return column_neighbours(
            self.x,
            max_degree=max_degree,
            query=self.query_values(X),
            order=self.order,
            **self._rule(),
        )

    def node_features_train(self):
        return ((self.x - self.mean) / self.scale)[:, None]

    def node_features_query(self, X):
        return ((self.query_values(X) - self.mean) / self.scale)[:, None]

    # -- persistence -------------------------------------------------------------------------
    def state(self):
        return {"column_index": self.column_index}, {"x": self.x}

    @classmethod
    def from_state(cls, spec, meta, arrays):
        return cls(spec, meta["column_index"], arrays["x"])


class BlockGraph:
    """A k-nearest-neighbour graph on a block of columns, scaled on the training patients.

    Patients flagged in ``present=False`` (they lack the modality, e.g. no scan) are not linked
    through this block: they are nobody's neighbour and have no neighbours here.
    """

    def __init__(
        self, spec: GraphSpec, column_indices, Z, mean, scale, present=None, indicator_index=None
    ):
        self.spec = spec
        self.column_indices = np.asarray(column_indices, dtype=np.int64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.Z = np.asarray(Z, dtype=np.float64)
        self.present = (
            np.ones(self.Z.shape[0], dtype=bool) if present is None else np.asarray(present, bool)
        )
        self.indicator_index = indicator_index
        self.members = np.flatnonzero(self.present)
        algorithm = "brute" if spec.metric == "cosine" else "auto"
        self.index = NearestNeighbors(metric=spec.metric, algorithm=algorithm).fit(
            self.Z[self.members]
        )
        self._train_neighbours = None

    @classmethod
    def fit(cls, spec, column_indices, X, indicator_index=None):
        """Standardise the block on the training patients that have it, and index them."""
        X_block = np.asarray(X[:, column_indices], dtype=np.float64)
        present = None if indicator_index is None else X[:, indicator_index] < 0.5
        rows = X_block if present is None else X_block[present]
        mean = rows.mean(axis=0)
        scale = rows.std(axis=0)
        scale[scale == 0] = 1.0
        return cls(
            spec, column_indices, (X_block - mean) / scale, mean, scale, present, indicator_index
        )

    @property
    def n_train(self):
        return self.Z.shape[0]

    def _scaled(self, X):
        return (np.asarray(X[:, self.column_indices], dtype=np.float64) - self.mean) / self.scale

    def _query_present(self, X):
        if self.indicator_index is None:
            return np.ones(X.shape[0], dtype=bool)
        return np.asarray(X[:, self.indicator_index], dtype=np.float64) < 0.5

    def neighbours_train(self, max_degree=None):
        """Nearest other training patients having the block, -1 padded, shape (n_train, k)."""
        if self._train_neighbours is None:
            out = np.full((self.n_train, self.spec.n_neighbors), -1, dtype=np.int64)
            found = self.index.kneighbors(n_neighbors=self.spec.n_neighbors, return_distance=False)
            out[self.members] = self.members[found]
            self._train_neighbours = out
        return self._train_neighbours

    def neighbours_query(self, X, max_degree=None):
        """Nearest training patients of new patients, -1 padded (all -1 without the block)."""
        present = self._query_present(X)
        out = np.full((X.shape[0], self.spec.n_neighbors), -1, dtype=np.int64)
        if present.any():
            found = self.index.kneighbors(
                self._scaled(X[present]),
                n_neighbors=self.spec.n_neighbors,
                return_distance=False,
            )
            out[present] = self.members[found]
        return out

    def vote_train(self, wy):
        return _padded_vote(wy, self.neighbours_train())

    def vote_prefix(self, wy):
        return None

    def vote_query(self, X, wy, prefix=None):
        return _padded_vote(wy, self.neighbours_query(X))

    def node_features_train(self):
        return np.where(self.present[:, None], self.Z, 0.0)

    def node_features_query(self, X):
        return np.where(self._query_present(X)[:, None], self._scaled(X), 0.0)

    def state(self):
        return (
            {
                "column_indices": self.column_indices.tolist(),
                "indicator_index": self.indicator_index,
            },
            {"Z": self.Z, "mean": self.mean, "scale": self.scale, "present": self.present},
        )

    @classmethod
    def from_state(cls, spec, meta, arrays):
        return cls(
            spec,
            meta["column_indices"],
            arrays["Z"],
            arrays["mean"],
            arrays["scale"],
            arrays["present"],
            meta["indicator_index"],
        )


def _padded_vote(wy, neighbours):
    """Sum of ``wy`` over each row's neighbours, ignoring -1 padding."""
    valid = neighbours >= 0
    return (wy[np.where(valid, neighbours, 0)] * valid[..., None]).sum(axis=1)


def block_indicator(spec, column_names):
    """Index of the ``'<block>:missing'`` column of a block, if X has one (as Cohort writes)."""
    name = f"{spec.name}:missing"
    if name in column_names and name not in spec.columns:
        return column_names.index(name)
    return None


def fit_graph(spec: GraphSpec, X, column_indices, indicator_index=None):
    """Fit the graph described by ``spec`` on the training matrix ``X``."""
    if spec.is_block:
        return BlockGraph.fit(spec, column_indices, X, indicator_index)
    return ColumnGraph(spec, column_indices[0], X[:, column_indices[0]])


def vote_predict(vote, prior):
    """Class codes predicted by a weighted vote, exact ties going to the heavier class."""
    return np.argmax(vote + _PRIOR_TIEBREAK * prior, axis=-1)


def _prefix(a):
    """Prefix sums along axis 0 with a leading zero row."""
    out = np.zeros((a.shape[0] + 1, *a.shape[1:]), dtype=np.float64)
    np.cumsum(a, axis=0, out=out[1:])
    return out


class CandidateScreen:
    """Every candidate graph of a training set, scored in one pass per boosting round.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training matrix.
    column_specs : list of (column_index, list of GraphSpec)
        Candidate graphs of each single column.
    block_specs : list of (column_indices, indicator_index, list of GraphSpec)
        Candidate graphs of each block, with the column flagging patients who lack it.
    """

    def __init__(self, X, column_specs, block_specs):
        self.n_samples = X.shape[0]
        self.specs = []
        self.sources = []  # (kind, position in the kind's arrays)
        # Single columns: one sorted order per column, one range array per (column, spec).
        self.columns = np.array([c for c, _ in column_specs], dtype=np.int64)
        n = self.n_samples
        idx_dtype = np.int32 if n < 2**31 - 1 else np.int64
        self.orders = np.empty((len(self.columns), n), dtype=idx_dtype)
        self.column_ranges = []  # list over columns of list of (lo, hi) in sorted positions
        for pos, (c, specs) in enumerate(column_specs):
            x = X[:, c].astype(np.float64)
            order = np.argsort(x, kind="stable")
            self.orders[pos] = order
            ranges = []
            for spec in specs:
                _, lo, hi = column_neighbourhoods(
                    x, spec.rule, spec.n_neighbors, spec.threshold, order=order
                )
                # The screening works in sorted positions: the range of the i-th sorted patient.
                ranges.append((lo[order].astype(idx_dtype), hi[order].astype(idx_dtype)))
                self.specs.append(spec)
                self.sources.append(("column", pos, len(ranges) - 1))
            self.column_ranges.append(ranges)
        # Blocks: one neighbour array per block, at the largest k asked for.
        self.blocks = []
        for columns, indicator, specs in block_specs:
            k_max = max(s.n_neighbors for s in specs)
            metric = specs[0].metric
            graph = BlockGraph.fit(
                GraphSpec(specs[0].name, specs[0].columns, "knn", k_max, metric=metric),
                columns,
                X,
                indicator,
            )
            neighbours = graph.neighbours_train()
            self.blocks.append(neighbours)
            for spec in specs:
                self.specs.append(spec)
                self.sources.append(("block", len(self.blocks) - 1, spec.n_neighbors))
        self._spec_columns = [s.columns for s in self.specs]

    def __len__(self):
        return len(self.specs)

    def errors(self, sample_weight, y_codes, n_classes, active):
        """Weighted leave-self-out vote error of every candidate; ``inf`` where inactive."""
        n = self.n_samples
        wy = np.zeros((n, n_classes))
        wy[np.arange(n), y_codes] = sample_weight
        prior = wy.sum(axis=0) / max(wy.sum(), 1e-300)
        errors = np.full(len(self.specs), np.inf)
        # Columns, in chunks that keep memory bounded at a few tens of MB.
        positions = {}
        for i, (kind, pos, sub) in enumerate(self.sources):
            if kind == "column" and active[i]:
                positions.setdefault(pos, []).append((sub, i))
        todo = sorted(positions)
        chunk = max(1, 2_000_000 // max(1, n * n_classes))
        for start in range(0, len(todo), chunk):
            cols = todo[start : start + chunk]
            order = self.orders[cols]  # (c, n)
            ws = wy[order]  # (c, n, K)
            cs = np.zeros((len(cols), n + 1, n_classes))
            np.cumsum(ws, axis=1, out=cs[:, 1:])
            y_sorted = y_codes[order]
            w_sorted = sample_weight[order]
            for row, pos in enumerate(cols):
                for sub, i in positions[pos]:
                    lo, hi = self.column_ranges[pos][sub]
                    vote = cs[row, hi] - cs[row, lo] - ws[row]
                    wrong = vote_predict(vote, prior) != y_sorted[row]
                    errors[i] = w_sorted[row] @ wrong
        for i, (kind, pos, k) in enumerate(self.sources):
            if kind == "block" and active[i]:
                vote = _padded_vote(wy, self.blocks[pos][:, :k])
                wrong = vote_predict(vote, prior) != y_codes
                errors[i] = sample_weight @ wrong
        return errors / max(sample_weight.sum(), 1e-300)
