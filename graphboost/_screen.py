"""The cheap screening of every candidate graph in each boosting round.

Screening scores every candidate graph against the current boosting weights with the weighted
neighbor vote, each patient left out of its own vote. On one column every neighborhood is a
contiguous range of the sorted values, so one pass of prefix sums per column scores all its
neighborhood sizes: O(N) time and memory per candidate and round. The ranges are found once per
fit and kept as small offsets (one byte per patient on a continuous column). A block's neighbors
are searched once, at the largest ``n_neighbors`` asked for.
"""

from __future__ import annotations

import numpy as np

from ._graphs import GraphSpec, sorted_ranges, stable_argsort
from ._neighborhoods import (
    _PRIOR_TIEBREAK,
    BlockGraph,
    ColumnGraph,
    _pack_ranges,
    _padded_vote,
    _prefix,
    _unpack_ranges,
    vote_predict,
)

# Patients per block of the vote: a block's vectors stay in the CPU cache.
_BLOCK = 65_536


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
        self._labels_of, self._sorted_y = None, {}
        idx_dtype = np.int32 if n < 2**31 - 1 else np.int64
        self.sources = []  # per candidate: ("column", column position, range) or ("block", b, k)
        self.column_ranges = []  # per column: list of packed ranges (see _pack_ranges)
        self.blocks = []  # per block: neighbor array at the block's largest k
        columns = list(dict.fromkeys(c.columns[0] for c in candidates if not c.spec.is_block))
        column_pos = {column: pos for pos, column in enumerate(columns)}
        self.orders = np.empty((len(columns), n), dtype=idx_dtype)
        self.column_ranges = [[] for _ in columns]
        k_max = _block_k_max(candidates)
        block_pos = {}
        sorted_column = (None, None)  # (position, sorted values) of the last column seen
        for candidate in candidates:
            if candidate.spec.is_block:
                key = _block_key(candidate)
                if key not in block_pos:
                    block_pos[key] = len(self.blocks)
                    self.blocks.append(_block_neighbors(X, candidate, k_max[key]))
                self.sources.append(("block", block_pos[key], candidate.spec.n_neighbors))
                continue
            pos = column_pos[candidate.columns[0]]
            if sorted_column[0] != pos:
                sorted_column = (pos, self._sort_column(X, columns[pos], pos))
            self.column_ranges[pos].append(
                _shared(self._ranges(sorted_column[1], candidate.spec), self.column_ranges[pos])
            )
            self.sources.append(("column", pos, len(self.column_ranges[pos]) - 1))

    def _sort_column(self, X, column, pos):
        """Store the stable sort order of a column (the first time); its sorted values."""
        x = np.asarray(X[:, column], dtype=np.float64)
        order = self.orders[pos]
        if not self.column_ranges[pos]:
            order[:] = stable_argsort(x)
        return x[order]

    def _ranges(self, sorted_values, spec):
        """Neighborhood ranges of the sorted patients, as offsets (see :func:`_pack_ranges`)."""
        return _pack_ranges(
            *sorted_ranges(sorted_values, spec.rule, spec.n_neighbors, spec.threshold)
        )

    def __len__(self):
        return len(self.specs)

    def graph(self, i, X):
        """The fitted graph of candidate ``i`` on the training matrix ``X``, fitted once.

        A column's graph gets the sort order and neighborhoods the screen computed already.
        """
        if i not in self._graphs:
            kind, pos, sub = self.sources[i]
            if kind == "column":
                column = self.candidates[i].columns[0]
                graph = ColumnGraph(self.specs[i], column, X[:, column], order=self.orders[pos])
                graph.set_train_ranges(*self.column_ranges[pos][sub])
            else:
                graph = self.candidates[i].fit_graph(X)
            self._graphs[i] = graph
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
        self._column_errors(errors, prior, sample_weight, y_codes, active)
        for i, (kind, pos, k) in enumerate(self.sources):
            if kind == "block" and active[i]:
                vote = _padded_vote(wy, self.blocks[pos][:, :k])
                wrong = vote_predict(vote, prior) != y_codes
                errors[i] = sample_weight @ wrong
        return errors / max(sample_weight.sum(), 1e-300)

    def _column_errors(self, errors, prior, sample_weight, y_codes, active):
        """Fill ``errors`` of the active column candidates, one column at a time.

        Everything is a vector of the N patients in the column's sorted order, one per class:
        O(N * n_classes) memory whatever the number of columns.
        """
        positions = {}
        for i, (kind, pos, sub) in enumerate(self.sources):
            if kind == "column" and active[i]:
                positions.setdefault(pos, []).append((sub, i))
        tiebreak = _PRIOR_TIEBREAK * prior  # as vote_predict adds it
        for pos in sorted(positions):
            y_sorted = self._sorted_labels(pos, y_codes)
            w_sorted = sample_weight[self.orders[pos]]
            # w * (y == c): w where the patient is of class c, else 0, as wy[order] holds.
            ws = [np.multiply(w_sorted, y_sorted == c) for c in range(prior.shape[0])]
            cs = [_prefix(w) for w in ws]
            for sub, i in positions[pos]:
                wrong = _vote_wrong(cs, ws, tiebreak, *self.column_ranges[pos][sub], y_sorted)
                errors[i] = w_sorted @ wrong

    def _sorted_labels(self, pos, y_codes):
        """``y_codes`` in the sorted order of column ``pos``, kept for the rounds of one fit."""
        if self._labels_of is not y_codes:  # the same labels array every round of a fit
            self._labels_of, self._sorted_y = y_codes, {}
        if pos not in self._sorted_y:
            dtype = np.int8 if y_codes.max(initial=0) < 127 else np.intp
            self._sorted_y[pos] = y_codes[self.orders[pos]].astype(dtype)
        return self._sorted_y[pos]


def _shared(ranges, earlier):
    """``ranges``, or the equal ranges of an earlier candidate on the same column (the very
    same arrays): on a 0/1 column every ``n_neighbors`` keeps the whole tie group, so its
    candidates share one copy, and a screen may score them once (``is``)."""
    for other in earlier:
        pairs = zip(ranges, other, strict=True)
        if all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in pairs):
            return other
    return ranges


def _vote_wrong(cs, ws, tiebreak, below, above, y_sorted):
    """Whether the leave-self-out vote over its range misses each sorted patient's class.

    Computed in blocks whose vectors stay in the CPU cache; with ``[lo, hi)`` the range (from
    ``below`` and ``above``, see :func:`_pack_ranges`) the vote of class ``c`` is
    ``cs[c][hi] - cs[c][lo] - ws[c] + tiebreak[c]``, as :func:`vote_predict` computes it.
    """
    n = y_sorted.shape[0]
    wrong = np.empty(n, dtype=bool)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        lo_, h = _unpack_ranges(below, above, start, stop)
        scores = [cs[c][h] - cs[c][lo_] - ws[c][start:stop] + tiebreak[c] for c in range(len(cs))]
        np.not_equal(_first_argmax(scores), y_sorted[start:stop], out=wrong[start:stop])
    return wrong


def _first_argmax(scores):
    """``np.argmax`` over a list of equal-length vectors (first maximum wins), without stacking."""
    if len(scores) == 2:
        return scores[1] > scores[0]
    best = scores[0]
    codes = np.zeros(best.shape[0], dtype=np.intp)
    for c in range(1, len(scores)):
        better = scores[c] > best
        codes[better] = c
        best = np.where(better, scores[c], best)
    return codes


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
