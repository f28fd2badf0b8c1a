"""The candidate graphs of a :class:`~graphboost.GraphBoostClassifier`: the checks of
``n_neighbors`` and ``threshold_quantiles``, the resolution of ``feature_groups`` into column
indices, and the list of candidates (every non-constant column, then every block) that the
boosting screens each round.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._graphs import GraphSpec, threshold_from_differences
from ._neighborhoods import Candidate, block_indicator
from ._validation import format_names

#: Parameter constraints shared by both boosted estimators (the candidate graphs, the rounds'
#: shrinkage, the seed and the printing); each adds its own.
GRAPH_CONSTRAINTS = {
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "n_neighbors": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "threshold_quantiles": ["array-like"],
    "feature_groups": [dict, None],
    "metric": [StrOptions({"euclidean", "cosine"})],
    "reuse_features": ["boolean"],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def check_neighbors(n_neighbors, threshold_quantiles, n_samples):
    """Check ``n_neighbors`` (positive, smaller than ``n_samples``) and ``threshold_quantiles``
    (in (0, 1)); raise a ValueError naming the parameter otherwise."""
    ks = np.atleast_1d(np.asarray(n_neighbors))
    if ks.size == 0 or not np.issubdtype(ks.dtype, np.integer) or (ks < 1).any():
        raise ValueError(
            "The 'n_neighbors' parameter of GraphBoostClassifier must be a positive int or "
            f"a non-empty sequence of positive ints; got {n_neighbors!r}."
        )
    too_big = ks[ks >= n_samples]
    if too_big.size:
        raise ValueError(
            f"n_neighbors={int(too_big[0])} must be smaller than the number of training "
            f"patients (n_samples={n_samples}): each patient needs that many neighbors "
            "other than itself."
        )
    qs = np.asarray(threshold_quantiles, dtype=np.float64).ravel()
    if ((qs <= 0) | (qs >= 1)).any():
        raise ValueError(
            "The 'threshold_quantiles' parameter of GraphBoostClassifier must hold numbers "
            f"in (0, 1); got {threshold_quantiles!r}."
        )


def resolve_groups(feature_groups, frame, names):
    """``feature_groups`` as column indices; callables are called on the DataFrame ``frame``.

    Parameters
    ----------
    feature_groups : dict of str to list or callable, or None
        The estimator's parameter.
    frame : pandas.DataFrame or None
        The training table when ``X`` was a DataFrame.
    names : list of str
        The column names (``x0``, ``x1``... for an array).

    Returns
    -------
    groups : dict of str to list of int
    """
    groups = {}
    for group, members in (feature_groups or {}).items():
        if callable(members):
            if frame is None:
                raise ValueError(
                    f"feature_groups[{group!r}] is a callable, which needs X as a DataFrame; "
                    "got an array."
                )
            members = members(frame)
        members = list(members)
        if not members:
            raise ValueError(f"feature_groups[{group!r}] names no column.")
        groups[str(group)] = _group_indices(group, members, names)
    return groups


def candidate_graphs(X, names, n_neighbors, threshold_quantiles, groups, metric, columns=None):
    """Candidate graphs of every non-constant column, then of every block.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training patients.
    names : list of str
        The column names.
    n_neighbors, threshold_quantiles, metric
        The estimator's parameters.
    groups : dict of str to list of int
        The resolved blocks the model uses.
    columns : ndarray of int, optional
        The columns the model reads (``columns_used_``; None: all). The candidates, and the
        seed of each threshold, are those of the model fitted on ``X[:, columns]``.

    Returns
    -------
    candidates : list of Candidate
    constant : list of str
        The names of the constant columns, left out.
    """
    ks = sorted({int(k) for k in np.atleast_1d(n_neighbors)})
    quantiles = [float(q) for q in np.asarray(threshold_quantiles).ravel()]
    usable = np.arange(X.shape[1]) if columns is None else np.asarray(columns)
    constant = np.ptp(X[:, usable], axis=0) == 0
    candidates = []
    for position in np.flatnonzero(~constant):
        j = int(usable[position])
        name = names[j]
        for k in ks:
            candidates.append(Candidate(GraphSpec(name, (name,), "knn", n_neighbors=k), (j,)))
        for q in quantiles:
            tau = threshold_from_differences(X[:, j], q, random_state=int(position))
            spec = GraphSpec(name, (name,), "threshold", quantile=q, threshold=tau)
            candidates.append(Candidate(spec, (int(j),)))
    for group, indices in groups.items():
        cols = tuple(names[i] for i in indices)
        specs = [GraphSpec(group, cols, "knn", n_neighbors=k, metric=metric) for k in ks]
        indicator = block_indicator(specs[0], names)
        _check_block_size(X, group, indicator, max(ks))
        candidates.extend(Candidate(spec, tuple(indices), indicator) for spec in specs)
    return candidates, [names[int(usable[p])] for p in np.flatnonzero(constant)]


def _group_indices(group, members, names):
    """Column indices of a block named by column names or indices; an error names the rest."""
    lookup = {name: i for i, name in enumerate(names)}
    indices, missing = [], []
    for m in members:
        if isinstance(m, Integral) and not isinstance(m, bool):
            if 0 <= m < len(names):
                indices.append(int(m))
            else:
                missing.append(m)
        elif str(m) in lookup:
            indices.append(lookup[str(m)])
        else:
            missing.append(m)
    if missing:
        raise ValueError(
            f"feature_groups[{group!r}] names columns not in X: {format_names(missing)}."
        )
    return indices


def _check_block_size(X, group, indicator, k):
    """A block's kNN graph links only the patients having it: ``k`` must be smaller."""
    if indicator is None:
        return
    n_present = int((X[:, indicator] < 0.5).sum())
    if k >= n_present:
        raise ValueError(
            f"n_neighbors={k} must be smaller than the number of training patients having "
            f"block {group!r} ({n_present}, by column '{group}:missing')."
        )
