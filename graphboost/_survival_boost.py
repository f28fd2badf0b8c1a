"""Newton boosting of the Cox partial likelihood with neighbor-mean weak learners.

Each round computes the gradient ``g`` and the diagonal Hessian ``h`` of the negative log
partial likelihood in the patients' current scores. Every candidate graph proposes the Newton
step of each patient's neighborhood, ``-sum(g) / (sum(h) + l2_regularization)`` over the
neighbors, the patient itself left out; on one column every neighborhood is a contiguous range
of the sorted values (whole tie groups), so one pass of prefix sums scores a column at all its
neighborhood sizes, O(N) per candidate and round. The candidate whose shrunken leave-self-out
step lowers the second-order approximation of the loss the most is kept. Every round is run:
a rule stopping when no leave-self-out step lowers the loss stopped after 17-24 rounds on
rotterdam, where the held-out partial likelihood of the inner folds kept improving over 100.
With ``interaction_depth > 0`` a round may instead take a leaf graph of its own, fitted to its
gradient and judged on the patients it did not see (:mod:`graphboost._leaf_graphs`).

:func:`choose_boost_scale` is the guard: the boosted score keeps a weight above zero only when
it beats the start out of fold, on held-out partial likelihood.
"""

from __future__ import annotations

import numpy as np

from ._cox import RiskSets
from ._graphs import sorted_ranges
from ._leaf_graphs import LeafGraph, propose_leaf_graph
from ._neighborhoods import BlockGraph, _padded_vote, _prefix
from ._screen import CandidateScreen

#: Weights of the boosted score tried by ``boost_scale="auto"``.
SURVIVAL_SCALES = (0.0, 0.25, 0.5, 1.0)


class NeighborStep:
    """The weak learner of one round: the neighbor mean Newton step on one graph.

    A new patient's step is ``-learning_rate * sum(g) / (sum(h) + l2)`` over its training
    neighbors in ``graph`` (new patients link only to training patients), computed from prefix
    sums in O(k + log N) per patient, whatever the other rows passed with it.

    Parameters
    ----------
    graph : ColumnGraph, BlockGraph or LeafGraph
        The fitted graph of the selected candidate, or the round's leaf graph.
    gh : ndarray of shape (n_train, 2)
        Gradient and Hessian of the training patients in this round.
    learning_rate, l2 : float
        Shrinkage and the ridge added to the Hessian sums.
    """

    def __init__(self, graph, gh, learning_rate, l2):
        self.graph = graph
        self.gh = np.ascontiguousarray(gh, dtype=np.float64)
        self.learning_rate = float(learning_rate)
        self.l2 = float(l2)
        self._prefix = None

    @property
    def spec(self):
        return self.graph.spec

    def predict(self, X):
        """The step of each new patient, shape (n_queries,)."""
        return self.predict_from(query_neighbors(self.graph, X))

    def predict_from(self, neighbors):
        """The step of new patients from their neighbors in ``graph`` (:func:`query_neighbors`),
        which the rounds on one graph share."""
        if isinstance(self.graph, BlockGraph):
            sums = _padded_vote(self.gh, neighbors)
        elif isinstance(self.graph, LeafGraph):
            if self._prefix is None:
                self._prefix = self.graph.leaf_sums(self.gh)  # per leaf
            sums = self._prefix[neighbors]
        else:
            if self._prefix is None:
                self._prefix = _prefix(self.gh[self.graph.order])  # in sorted order
            lo, hi = neighbors
            sums = self._prefix[hi] - self._prefix[lo]
        return -self.learning_rate * sums[:, 0] / (sums[:, 1] + self.l2)


def query_neighbors(graph, X):
    """The training neighbors of new patients in ``graph``: a column graph's ranges ``(lo, hi)``
    of sorted positions, a block graph's neighbor array (-1 padded), a leaf graph's leaves."""
    if isinstance(graph, BlockGraph):
        return graph.neighbors_query(X)
    if isinstance(graph, LeafGraph):
        return graph.leaves(X)
    spec = graph.spec
    return sorted_ranges(
        graph.sorted_x,
        spec.rule,
        spec.n_neighbors,
        spec.threshold,
        query=graph.query_values(X),
    )


class SurvivalBoosting:
    """The boosting rounds of one fit, on one training set.

    Parameters
    ----------
    candidates : list of Candidate
        The candidate graphs (:func:`graphboost._candidates.candidate_graphs`).
    n_estimators, learning_rate, l2, reuse_features
        The estimator's parameters.
    verbose : int, default=0
    interaction_depth : int, default=0
        Depth of the leaf graph each round proposes (0: none).
    min_leaf : int, default=1
        Fewest patients of the fitted half in a leaf.
    random_state : int, default=0
        Seeds the halves the leaf graphs are fitted on.
    names : list of str, optional
        Column names, for the leaf graphs' specs.
    """

    def __init__(
        self,
        candidates,
        n_estimators,
        learning_rate,
        l2,
        reuse_features,
        verbose=0,
        interaction_depth=0,
        min_leaf=1,
        random_state=0,
        names=None,
    ):
        self.candidates = candidates
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.l2 = l2
        self.reuse_features = reuse_features
        self.verbose = verbose
        self.interaction_depth = interaction_depth
        self.min_leaf = min_leaf
        self.random_state = random_state
        self.names = names

    def fit(self, X, risk_sets, start, X_held_out=None):
        """Boost from the start scores ``start``; sets ``learners_``, ``gains_``, ``train_boost_``.

        ``train_boost_`` is the boosted score of each training patient summed over the rounds,
        each round's step computed without the patient itself. With ``X_held_out`` (the guard's
        inner folds) the boosted score of those new patients is computed round by round
        instead, as ``held_out_score_``, and no learner is kept: the rounds' gradients (16
        bytes per patient and round) are never held all at once.
        """
        self.learners_, gains = [], []
        self.train_boost_ = np.zeros(X.shape[0])
        held_out = None if X_held_out is None else _HeldOutScore(X_held_out)
        self.held_out_score_ = None if held_out is None else held_out.total()
        if not self.candidates:
            self.gains_ = np.empty(0)
            return self
        screen = CandidateScreen(X, self.candidates)
        score = np.array(start, dtype=np.float64, copy=True)
        rng = np.random.RandomState(self.random_state)
        for r in range(self.n_estimators):
            g, h = risk_sets.gradient_hessian(score)
            all_gains = self._screen_gains(screen, g, h)
            best = int(np.argmin(all_gains))
            if not np.isfinite(all_gains[best]):
                break  # no candidate left
            gh = np.column_stack([g, h])
            step = self._leave_self_out_step(screen, best, gh)
            gain = float(all_gains[best])
            leaf = self._leaf_round(X, g, h, step, rng, r) if self.interaction_depth else None
            if leaf is not None:
                graph, step, gain = leaf
            else:
                graph = screen.graph(best, X)
                if not self.reuse_features:
                    screen.retire(best)
            step = self.learning_rate * step
            score += step
            self.train_boost_ += step
            learner = NeighborStep(graph, gh, self.learning_rate, self.l2)
            if held_out is None:
                self.learners_.append(learner)
            else:
                held_out.add(learner)
            gains.append(gain)
            if self.verbose:
                print(f"round {r + 1}: {graph.spec!r}, gain {gain:.5g}")
        self.gains_ = np.asarray(gains)
        if held_out is not None:
            self.held_out_score_ = held_out.total()
        return self

    def _step(self, G, H):
        return -G / (H + self.l2)

    def _terms(self, g, h, step):
        """Each patient's term of :meth:`_gain` for the step ``step`` (shrunken here)."""
        s = self.learning_rate * step
        return s * (g + 0.5 * h * s)

    def _leaf_round(self, X, g, h, best_step, rng, r):
        """``(graph, leave-self-out step, gain)`` of the round's leaf graph when it beats the
        best fixed graph's step ``best_step`` out of its half; else None."""
        names = self.names or [f"x{j}" for j in range(X.shape[1])]
        proposal = propose_leaf_graph(
            X, g, h, self._terms(g, h, best_step), lambda step: self._terms(g, h, step), self,
            rng, names, f"round {r + 1}",
        )  # fmt: skip
        if proposal is None:
            return None
        graph, step, terms = proposal
        return graph, step, float(np.sum(terms))

    def _gain(self, g, h, step):
        """Second-order change of the loss for the shrunken step ``learning_rate * step``."""
        s = self.learning_rate * step
        # Elementwise, not a BLAS dot product: BLAS threads waiting on busy cores made these two
        # products 90% of a fit on a shared machine.
        return float(np.sum(s * (g + 0.5 * h * s)))

    def _screen_gains(self, screen, g, h):
        """Leave-self-out gain of every active candidate; ``inf`` where inactive.

        Candidates of one column with the same neighborhoods (one shared copy in the screen,
        e.g. every ``n_neighbors`` of a 0/1 column) are scored once.
        """
        gains = np.full(len(screen.specs), np.inf)
        by_column = {}
        for i, (kind, pos, sub) in enumerate(screen.sources):
            if not screen.active[i]:
                continue
            if kind == "column":
                by_column.setdefault(pos, []).append((sub, i))
            else:
                sums = _padded_vote(np.column_stack([g, h]), screen.blocks[pos][:, :sub])
                gains[i] = self._gain(g, h, self._step(sums[:, 0], sums[:, 1]))
        for pos, members in by_column.items():
            column = _SortedColumn(g, h, screen.orders[pos])
            scored = {}
            for sub, i in members:
                ranges = screen.column_ranges[pos][sub]
                if id(ranges) not in scored:
                    terms = column.pass_over(ranges, self.learning_rate, self.l2)
                    scored[id(ranges)] = float(np.sum(terms))
                gains[i] = scored[id(ranges)]
        return gains

    def _leave_self_out_step(self, screen, i, gh):
        """Neighbor-mean step of each training patient on candidate ``i``, itself left out."""
        kind, pos, sub = screen.sources[i]
        if kind == "block":
            sums = _padded_vote(gh, screen.blocks[pos][:, :sub])
            return self._step(sums[:, 0], sums[:, 1])
        order = screen.orders[pos]
        column = _SortedColumn(gh[:, 0], gh[:, 1], order)
        out = np.empty(gh.shape[0])
        out[order] = column.pass_over(screen.column_ranges[pos][sub], None, self.l2)
        return out


# Sorted patients per block of a column's pass: the block's vectors stay in the CPU cache.
_PASS_BLOCK = 8_192


class _SortedColumn:
    """The gradients and Hessians of one round in a column's sorted order, with their prefix
    sums, for the passes over that column's candidates.

    A pass computes, block by block into buffers that stay in the CPU cache, what
    ``SurvivalBoosting._gain`` and ``_step`` compute on whole vectors, operation for operation
    (the same numbers bit for bit): the sums over each patient's range ``[lo, hi)`` less its
    own value, the Newton step, and each patient's term of the second-order gain.
    """

    def __init__(self, g, h, order):
        self.gs, self.hs = g[order], h[order]
        self.cg, self.ch = _prefix(self.gs), _prefix(self.hs)
        self.half_h = 0.5 * self.hs
        n = self.gs.shape[0]
        self.positions = np.arange(n)
        size = min(_PASS_BLOCK, n)
        self.lo, self.hi = np.empty(size, dtype=np.intp), np.empty(size, dtype=np.intp)
        self.work = np.empty((3, size))

    def pass_over(self, ranges, learning_rate, l2):
        """Each sorted patient's gain term ``s * (g + h * s / 2)`` with ``s`` the shrunken
        step (``learning_rate`` given), else its step ``-G / (H + l2)``."""
        below, above = ranges
        n = self.gs.shape[0]
        out = np.empty(n)
        for a in range(0, n, _PASS_BLOCK):
            b = min(a + _PASS_BLOCK, n)
            self._block(below, above, a, b, learning_rate, l2, out[a:b])
        return out

    def _block(self, below, above, a, b, learning_rate, l2, out):
        m = b - a
        lo, hi = self.lo[:m], self.hi[:m]
        np.subtract(self.positions[a:b], below[a:b], out=lo)
        np.add(self.positions[a:b], above[a:b], out=hi)
        t1, t2, t3 = self.work[0, :m], self.work[1, :m], self.work[2, :m]
        _range_sum(self.cg, lo, hi, self.gs[a:b], t1, t3)  # G
        _range_sum(self.ch, lo, hi, self.hs[a:b], t2, t3)  # H
        np.add(t2, l2, out=t2)
        np.negative(t1, out=t1)
        if learning_rate is None:
            np.divide(t1, t2, out=out)  # -G / (H + l2)
            return
        np.divide(t1, t2, out=t1)
        np.multiply(learning_rate, t1, out=t1)  # s
        np.multiply(self.half_h[a:b], t1, out=t2)
        np.add(self.gs[a:b], t2, out=t2)
        np.multiply(t1, t2, out=out)  # s * (g + 0.5 * h * s)


def _range_sum(prefix, lo, hi, own, out, work):
    """``prefix[hi] - prefix[lo] - own`` into ``out`` (the sum over ``[lo, hi)`` less ``own``)."""
    np.take(prefix, hi, out=out)
    np.take(prefix, lo, out=work)
    np.subtract(out, work, out=out)
    np.subtract(out, own, out=out)


# Rows predicted at a time by StackedSteps (bounds its temporaries to a few MB).
_PREDICT_ROWS = 4_096


class StackedSteps:
    """The rounds grouped by graph, for prediction: the gradients and Hessians of the rounds on
    one graph side by side, so that a new patient's neighbors are found once per graph and all
    its rounds read in one gather (a new patient in about a millisecond).

    Each row's score is computed on its own, so it does not depend on the other rows.
    """

    def __init__(self, learners):
        groups = {}
        for learner in learners:
            groups.setdefault(id(learner.graph), (learner.graph, []))[1].append(learner)
        self.groups = []
        for graph, members in groups.values():
            self.groups.append(
                (
                    graph,
                    _stacked_values(graph, members),
                    np.array([m.learning_rate for m in members]),
                    np.array([m.l2 for m in members]),
                )
            )

    def predict(self, X):
        """The boosted score of each row, computed ``_PREDICT_ROWS`` rows at a time (a graph's
        rounds for all the training patients at once would take 48 bytes per row and round)."""
        total = np.zeros(X.shape[0])
        for graph, values, rate, l2 in self.groups:
            neighbors = query_neighbors(graph, X)
            for start in range(0, X.shape[0], _PREDICT_ROWS):
                rows = slice(start, start + _PREDICT_ROWS)
                if isinstance(graph, BlockGraph):
                    sums = _padded_vote(values, neighbors[rows])
                    sums = sums.reshape(sums.shape[0], -1, 2)
                elif isinstance(graph, LeafGraph):
                    sums = values[neighbors[rows]]
                else:
                    sums = values[neighbors[1][rows]] - values[neighbors[0][rows]]
                steps = -rate * sums[..., 0] / (sums[..., 1] + l2)
                part = total[rows]  # a view: the rows' totals
                for j in range(steps.shape[1]):  # elementwise: the same sum whatever the rows
                    part += steps[:, j]
        return total


class _HeldOutScore:
    """The boosted score of new patients added round by round, for the guard's inner folds.

    Each round's step is :meth:`NeighborStep.predict_from` (the neighbors found once per
    graph), and :meth:`total` adds the steps graph by graph in the order of
    :meth:`StackedSteps.predict`: the same sum as ``boosted_score(learners, X)`` without
    keeping the learners.
    """

    def __init__(self, X):
        self.X = X
        # id of the graph -> (the graph, neighbors of the new patients, steps). The graph is
        # kept so that its id stays its own: a round's leaf graph is held by nothing else, and
        # a later graph could get the id of a freed one.
        self.groups = {}

    def add(self, learner):
        key = id(learner.graph)
        if key not in self.groups:
            self.groups[key] = (learner.graph, query_neighbors(learner.graph, self.X), [])
        _, neighbors, steps = self.groups[key]
        steps.append(learner.predict_from(neighbors))

    def total(self):
        total = np.zeros(self.X.shape[0])
        for _, _, steps in self.groups.values():
            for step in steps:
                total += step
        return total


def _stacked_values(graph, members):
    """The rounds' gradients and Hessians side by side: a block graph's as they are, shape
    (n_train, 2 * n_rounds); a leaf graph's summed per leaf, shape (n_leaves, n_rounds, 2); a
    column graph's as prefix sums in its sorted order, shape (n_train + 1, n_rounds, 2), filled
    round by round (no full-size temporary copies)."""
    n = members[0].gh.shape[0]
    if isinstance(graph, BlockGraph):
        return np.stack([m.gh for m in members], axis=1).reshape(n, -1)
    if isinstance(graph, LeafGraph):
        return np.stack([graph.leaf_sums(m.gh) for m in members], axis=1)
    values = np.zeros((n + 1, len(members), 2))
    for j, member in enumerate(members):
        np.cumsum(member.gh[graph.order], axis=0, out=values[1:, j])
    return values


def boosted_score(learners, X):
    """Sum of the rounds' steps for the patients ``X`` (see :class:`StackedSteps`)."""
    return StackedSteps(learners).predict(X)


def choose_boost_scale(X, time, event, start, folds, make_boosting, ties, scales=SURVIVAL_SCALES):
    """The weight of the boosted score: the best of ``scales`` out of fold, or 0.

    In each inner fold the start is refitted on the training part (at the chosen penalty), the
    boosting rerun from it, and the held-out patients scored by their own log partial
    likelihood per event, at every scale, of the start plus the scaled boosted score and of the
    scaled boosted score alone. The best scale ``s`` of the sum is kept only when both paired
    gains exceed one standard error of their fold differences: the sum over the start alone
    (the graphs add to the start), and the boosted score alone over no score at all (the
    graphs carry signal of their own, not only a correction of an overfitted start: on pure
    noise a small scale can beat the start by cancelling part of its fitted noise).

    Returns
    -------
    scale : float
    scores : ndarray of shape (n_folds, 2, n_scales)
        Held-out log partial likelihood per event of each fold and scale: ``[:, 0]`` of the
        start plus the scaled boosted score, ``[:, 1]`` of the scaled boosted score alone.
    """
    rows = []
    for train, test in folds:
        start_k = start.refit(X[train], time[train], event[train], ties)
        boosting = make_boosting(X[train], train.shape[0])
        risk_train = RiskSets(time[train], event[train], ties)
        boosting.fit(X[train], risk_train, start_k.decision_function(X[train]), X[test])
        base = start_k.decision_function(X[test])
        boost = boosting.held_out_score_
        held_out = RiskSets(time[test], event[test], ties)
        per_event = max(held_out.n_events, 1)
        rows.append(
            [
                [held_out.loglik(base + s * boost) / per_event for s in scales],
                [held_out.loglik(s * boost) / per_event for s in scales],
            ]
        )
    scores = np.asarray(rows)
    gains = scores - scores[:, :, :1]
    mean = gains.mean(axis=0)
    se = gains.std(axis=0, ddof=1) / np.sqrt(gains.shape[0]) if gains.shape[0] > 1 else 0 * mean
    best = int(np.argmax(mean[0]))
    if best == 0 or not (mean[:, best] > se[:, best]).all():
        return 0.0, scores
    return float(scales[best]), scores
