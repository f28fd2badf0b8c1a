"""The out-of-fold guard of the blocks (``block_guard=True``): a named feature group enters the
model only when it earns its place on held-out patients.

Every block of ``feature_groups`` reaches the model three ways: its columns in the linear start,
each of its columns as a candidate graph, and the block as one graph. A block is *dropped* by
removing all three, and its ``"<block>:missing"`` indicator: the model is then exactly the model
fitted without the block's columns (:func:`used_columns` says which columns stay).

:func:`guard_blocks` decides, for each block, on the same stratified inner folds: the whole fit
with every block, and the whole fit without that block, on each inner training part, scored on
the held-out part; the block is kept when the mean paired AUROC gain exceeds ``BLOCK_GAIN_SE``
standard errors of that mean.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_random_state

from ._boost_scale import auroc

#: Inner folds of the block guard.
BLOCK_SPLITS = 5
#: Margin of the block guard: the mean paired inner-fold AUROC gain of the model with the block
#: over the model without it must exceed this many standard errors of that mean.
BLOCK_GAIN_SE = 1.0
#: Fitted attributes an inner fit takes over from the outer model (what ``fit`` resolved).
_RESOLVED = ("classes_", "n_classes_", "n_features_in_", "feature_groups_", "device_")


def used_columns(names, groups, dropped):
    """Indices of the columns a model without the blocks ``dropped`` reads; None for all.

    A dropped block takes its columns and its ``"<block>:missing"`` indicator with it; a column
    that also belongs to a kept block stays.

    Parameters
    ----------
    names : list of str
        The column names of ``X``.
    groups : dict of str to list of int
        The resolved blocks (``feature_groups_``).
    dropped : iterable of str
        The blocks to leave out.

    Returns
    -------
    columns : ndarray of int or None

    Examples
    --------
    >>> used_columns(["age", "scan:pc0", "scan:pc1", "scan:missing"], {"scan": [1, 2]}, ["scan"])
    array([0])
    >>> used_columns(["age", "x"], {"scan": [1]}, []) is None
    True
    """
    dropped = list(dropped)
    if not dropped:
        return None
    lookup = {name: i for i, name in enumerate(names)}
    kept = {i for g, idx in groups.items() if g not in dropped for i in idx}
    out = set()
    for group in dropped:
        out.update(groups[group])
        if f"{group}:missing" in lookup:
            out.add(lookup[f"{group}:missing"])
    out -= kept
    return np.array([j for j in range(len(names)) if j not in out], dtype=np.intp)


def guard_blocks(model, X, y_codes, sample_weight, seed):
    """For each block of the model: keep it, or drop it, from paired inner-fold AUROCs.

    On each of ``BLOCK_SPLITS`` stratified inner folds the whole fit (init model, boosting and
    the choice of ``boost_scale_``; ``"guarded"`` is refitted as ``"auto"`` inside) is refitted on
    the training part with every block, and once without each block, with the same seed; each
    is scored on the held-out part. A block is kept when the mean of the paired differences
    (with minus without) exceeds ``BLOCK_GAIN_SE`` standard errors of that mean. A block whose
    removal would leave no column is kept; when a class has fewer than ``BLOCK_SPLITS``
    patients, or an inner fit fails, every block is dropped (its ``reason`` says why).

    Parameters
    ----------
    model : GraphBoostClassifier
        The model being fitted, its input resolved (``feature_groups_`` and the rest).
    X, y_codes, sample_weight : ndarray
        The training patients, as ``fit`` validated them.
    seed : int
        Seed of the inner folds and of the inner fits.

    Returns
    -------
    figures : dict of str to dict
        Per block: ``kept``; ``fold_auroc_with`` and ``fold_auroc_without`` (one per inner
        fold), ``gain`` and ``gain_se`` (mean paired difference and its standard error),
        ``margin_se``; or a ``reason`` where the guard could not compare.
    """
    groups = list(model.feature_groups_)
    names = model._column_names()
    figures = {g: {"kept": False} for g in groups}
    alone = [g for g in groups if len(used_columns(names, model.feature_groups_, [g])) == 0]
    for g in alone:
        figures[g] = {"kept": True, "reason": "the model has no other column"}
    tested = [g for g in groups if g not in alone]
    if not tested:
        return figures
    counts = np.bincount(y_codes, minlength=model.n_classes_)
    if counts.min() < BLOCK_SPLITS:
        for g in tested:
            figures[g]["reason"] = f"a class has fewer than {BLOCK_SPLITS} patients"
        return figures
    try:
        with_block, without = _inner_aurocs(model, X, y_codes, sample_weight, tested, seed)
    except ValueError as err:  # an inner training part too small for the model's settings
        for g in tested:
            figures[g]["reason"] = f"an inner fit failed: {err}"
        return figures
    for g in tested:
        figures[g] = _decision(with_block, without[g])
    return figures


def _decision(with_block, without):
    gain = with_block - without
    se = float(np.std(gain, ddof=1) / np.sqrt(len(gain)))
    mean = float(gain.mean())
    return {
        "kept": bool(mean > BLOCK_GAIN_SE * se),
        "gain": mean,
        "gain_se": se,
        "margin_se": BLOCK_GAIN_SE,
        "fold_auroc_with": with_block.tolist(),
        "fold_auroc_without": without.tolist(),
    }


def _inner_aurocs(model, X, y_codes, sample_weight, tested, seed):
    """Held-out AUROC, per inner fold, of the whole fit with every block and without each."""
    rng = check_random_state(seed)
    folds = StratifiedKFold(BLOCK_SPLITS, shuffle=True, random_state=rng.randint(2**31 - 1))
    with_block, without = [], {g: [] for g in tested}
    for train, test in folds.split(X, y_codes):
        fold_seed = rng.randint(2**31 - 1)
        parts = (X[train], y_codes[train], sample_weight[train])
        scored = (y_codes[test], sample_weight[test])
        with_block.append(_held_out_auroc(model, (), parts, X[test], scored, fold_seed))
        for g in tested:
            without[g].append(_held_out_auroc(model, (g,), parts, X[test], scored, fold_seed))
    return np.asarray(with_block), {g: np.asarray(v) for g, v in without.items()}


def _held_out_auroc(model, dropped, parts, X_test, scored, seed):
    """AUROC on the held-out patients of the whole fit without the blocks ``dropped``."""
    inner = inner_model(model, dropped)
    inner._fit_resolved(*parts, check_random_state(seed))
    y_test, w_test = scored
    return auroc(y_test, inner._logits(X_test), w_test)


def inner_model(model, dropped):
    """An unfitted copy of ``model`` that knows what ``fit`` resolved, without the blocks
    ``dropped``, ready for ``_fit_resolved``; no block guard of its own, ``"guarded"`` as
    ``"auto"``."""
    boost_scale = "auto" if model.boost_scale == "guarded" else model.boost_scale
    inner = clone(model).set_params(verbose=0, block_guard=False, boost_scale=boost_scale)
    for name in _RESOLVED:
        setattr(inner, name, getattr(model, name))
    if hasattr(model, "feature_names_in_"):
        inner.feature_names_in_ = model.feature_names_in_
    inner._drop_blocks({g: {"kept": False} for g in dropped})
    return inner
