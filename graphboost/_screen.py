"""The cheap screening of every candidate graph in each boosting round.

Screening scores every candidate graph against the current boosting weights with the weighted
neighbor vote, each patient left out of its own vote. On one column every neighborhood is a
contiguous range of the sorted values, so prefix sums score all columns and all neighborhood
sizes in one vectorized pass, O(N * n_columns) per round. A block's neighbors are searched once,
at the largest ``n_neighbors`` asked for.
"""

from __future__ import annotations

import numpy as np

from ._graphs import GraphSpec, column_neighborhoods
from ._neighborhoods import BlockGraph, _padded_vote, vote_predict

# Memory bound of one chunk of columns scored together (floats of the prefix sums).
_CHUNK_FLOATS = 2_000_000


class CandidateScreen:
    """Every candidate graph of a training set, scored in one pass per boosting round.

    The screen also holds what the rounds of one fit share: which candidates are still active
    (``reuse_features=False`` retires a selected column or block) and the graphs fitted so far.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training matrix.
    candidates : list of Candidate
        The candidate graphs, in the order of their scores (ties go to the first).
    """

    def __init__(self, X, candidates):
        self.n_samples = n = X.shape[0]
        self.candidates = list(candidates)
        self.specs = [c.spec for c in candidates]
        self.active = np.ones(len(self.specs), dtype=bool)
        self._graphs = {}
        self._idx_dtype = np.int32 if n < 2**31 - 1 else np.int64
        self.sources = []  # per candidate: ("column", column position, range) or ("block", b, k)
        self.column_ranges = []  # per column: list of (lo, hi) in sorted positions
        self.blocks = []  # per block: neighbor array at the block's largest k
        orders, column_pos = [], {}
        k_max = _block_k_max(candidates)
        block_pos = {}
        for candidate in candidates:
            if candidate.spec.is_block:
                key = _block_key(candidate)
                if key not in block_pos:
                    block_pos[key] = len(self.blocks)
                    self.blocks.append(_block_neighbors(X, candidate, k_max[key]))
                self.sources.append(("block", block_pos[key], candidate.spec.n_neighbors))
                continue
            column = candidate.columns[0]
            if column not in column_pos:
                column_pos[column] = len(orders)
                orders.append(np.argsort(X[:, column].astype(np.float64), kind="stable"))
                self.column_ranges.append([])
            pos = column_pos[column]
            self.column_ranges[pos].append(self._ranges(X[:, column], candidate.spec, orders[pos]))
            self.sources.append(("column", pos, len(self.column_ranges[pos]) - 1))
        self.orders = np.asarray(orders, dtype=self._idx_dtype).reshape(len(orders), n)

    def _ranges(self, x, spec, order):
        """Neighborhood ranges ``[lo, hi)`` of the i-th sorted patient, in sorted positions."""
        _, lo, hi = column_neighborhoods(
            x.astype(np.float64), spec.rule, spec.n_neighbors, spec.threshold, order=order
        )
        return lo[order].astype(self._idx_dtype), hi[order].astype(self._idx_dtype)

    def __len__(self):
        return len(self.specs)

    def graph(self, i, X):
        """The fitted graph of candidate ``i`` on the training matrix ``X``, fitted once."""
        if i not in self._graphs:
            self._graphs[i] = self.candidates[i].fit_graph(X)
        return self._graphs[i]

    def retire(self, i):
        """Deactivate every candidate built on the columns of candidate ``i``."""
        chosen = self.specs[i].columns
        self.active &= np.array([spec.columns != chosen for spec in self.specs])

    def errors(self, sample_weight, y_codes, n_classes):
        """Weighted leave-self-out vote error of every candidate; ``inf`` where inactive."""
        active = self.active
        n = self.n_samples
        wy = np.zeros((n, n_classes))
        wy[np.arange(n), y_codes] = sample_weight
        prior = wy.sum(axis=0) / max(wy.sum(), 1e-300)
        errors = np.full(len(self.specs), np.inf)
        self._column_errors(errors, wy, prior, sample_weight, y_codes, active)
        for i, (kind, pos, k) in enumerate(self.sources):
            if kind == "block" and active[i]:
                vote = _padded_vote(wy, self.blocks[pos][:, :k])
                wrong = vote_predict(vote, prior) != y_codes
                errors[i] = sample_weight @ wrong
        return errors / max(sample_weight.sum(), 1e-300)

    def _column_errors(self, errors, wy, prior, sample_weight, y_codes, active):
        """Fill ``errors`` of the active column candidates, in chunks of bounded memory."""
        n, n_classes = wy.shape
        positions = {}
        for i, (kind, pos, sub) in enumerate(self.sources):
            if kind == "column" and active[i]:
                positions.setdefault(pos, []).append((sub, i))
        todo = sorted(positions)
        chunk = max(1, _CHUNK_FLOATS // max(1, n * n_classes))
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


def _block_key(candidate):
    return candidate.columns, candidate.indicator, candidate.spec.metric


def _block_k_max(candidates):
    k_max = {}
    for candidate in candidates:
        if candidate.spec.is_block:
            key = _block_key(candidate)
            k_max[key] = max(k_max.get(key, 0), candidate.spec.n_neighbors)
    return k_max


def _block_neighbors(X, candidate, k):
    spec = candidate.spec
    graph = BlockGraph.fit(
        GraphSpec(spec.name, spec.columns, "knn", k, metric=spec.metric),
        list(candidate.columns),
        X,
        candidate.indicator,
    )
    return graph.neighbors_train()
