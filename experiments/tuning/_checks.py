"""What a search is checked for before it starts, and what its study was created for.

Every option, the fixed parameters and the data are checked before the storage is opened, so a
bad input writes nothing (no SQLite file) and never reaches Optuna as a column of failed
trials. A study records a fingerprint of what it was created for (the data, the label, the fixed
parameters, the inner splits, the seed) in its user attributes; a search whose fingerprint
differs is refused instead of mixing its trials with the study's.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from .._base import InputError
from ..evaluation._dataset import check_labels

FINGERPRINT = "graphboost_fingerprint"
"""The study's user attribute that records what it was created for (:func:`study_fingerprint`)."""

_CLI = {
    "n_trials": "--n-trials",
    "n_workers": "--n-workers",
    "inner_splits": "--inner-splits",
    "timeout": "--timeout",
    "fixed": "--param",
}


def _name(key, cli):
    return _CLI[key] if cli else key


def _is_int(value):
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_search_options(n_trials, n_workers, inner_splits, timeout=None, fixed=None, cli=False):
    """Check the options of a search (no data needed); ``cli``: name the command's options.

    Raises
    ------
    InputError
        ``n_trials`` or ``n_workers`` under 1, ``inner_splits`` under 2, a ``timeout`` that is
        not a positive number, a fixed parameter GraphBoostClassifier does not have or takes no
        such value of (checked by its own parameter validation).
    """
    trials, workers = _name("n_trials", cli), _name("n_workers", cli)
    if not (_is_int(n_trials) and _is_int(n_workers)) or n_trials < 1 or n_workers < 1:
        raise InputError(f"{trials} and {workers} must be at least 1; got {n_trials}, {n_workers}.")
    splits = _name("inner_splits", cli)
    if not _is_int(inner_splits) or inner_splits < 2:
        raise InputError(
            f"{splits} must be a whole number of at least 2 (the folds of the inner "
            f"cross-validation that scores each trial); got {inner_splits!r}."
        )
    if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
        raise InputError(
            f"{_name('timeout', cli)} must be a positive number of seconds; got {timeout!r}."
        )
    check_fixed_params(fixed or {}, _name("fixed", cli))


def check_fixed_params(fixed, option="fixed"):
    """Refuse a fixed parameter that GraphBoostClassifier does not have or does not take.

    Examples
    --------
    >>> check_fixed_params({"n_estimators": 5})
    >>> try:
    ...     check_fixed_params({"n_estimator": 5})
    ... except ValueError as exc:
    ...     print(str(exc).split("; ")[1])
    did you mean 'n_estimators'?
    """
    import difflib

    from graphboost import GraphBoostClassifier

    valid = sorted(GraphBoostClassifier().get_params())
    for key in fixed:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"its parameters: {', '.join(valid)}."
            )
            raise InputError(
                f"{option} {key}: GraphBoostClassifier has no parameter {key!r}; {hint}"
            )
    try:
        GraphBoostClassifier(**fixed)._validate_params()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{option}: {' '.join(str(exc).split())}") from exc


def _kept(n, splits):
    """Patients of a class of ``n`` left in the smallest training fold of a ``splits``-fold CV."""
    return n - math.ceil(n / splits)


def check_search_data(y, inner_splits, fixed=None, cli=False):
    """Check the table for an inner ``inner_splits``-fold cross-validation before the search.

    Every inner validation fold needs a patient of each class (its AUROC scores the trial), and
    every inner training fold enough of each class for GraphBoostClassifier: 3 for the inner
    3-fold cross-validation of its linear start (``init='logistic'``, the default), else 2
    (the internal validation split of a GNN weak learner).
    """
    check_labels(y, 0)  # a label, with two or more classes written one way each
    values, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
    k = int(counts.argmin())
    smallest, n, label = int(counts[k]), len(y), str(values[k])
    need = 3 if (fixed or {}).get("init", "logistic") == "logistic" else 2
    splits = _name("inner_splits", cli)
    if smallest >= inner_splits and _kept(smallest, inner_splits) >= need:
        return
    fits = [s for s in range(2, inner_splits) if _kept(smallest, s) >= need]
    if fits:
        fix = f"use {splits} {fits[-1]} or fewer, or a larger table"
    else:
        least = next(m for m in range(2, 100) if _kept(m, 2) >= need)
        fix = f"the table is too small to tune on: each class needs {least} patients or more"
    raise InputError(
        f"{splits} {inner_splits}: class {label!r} has {smallest} of the {n} patients, too few "
        f"for an inner {inner_splits}-fold cross-validation: each inner fold must score a trial "
        f"on patients of every class and train on at least {need} of each "
        f"(GraphBoostClassifier's {_NEEDS[need]}); {fix}."
    )


_NEEDS = {
    3: "linear start, init='logistic', is chosen by an inner 3-fold cross-validation",
    2: "GNN weak learners keep a validation split",
}


def _sha(*chunks):
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk if isinstance(chunk, bytes) else str(chunk).encode())
        h.update(b"\0")
    return h.hexdigest()


def _front_settings(front):
    """The plain settings of a step placed before the preprocessor (numbers, text, flags,
    lists and tuples of them), as JSON text."""
    plain = (str, int, float, bool, type(None), tuple, list)
    params = front.get_params(deep=True)
    kept = {k: v for k, v in params.items() if isinstance(v, plain)}
    return json.dumps({"step": type(front).__name__, **kept}, sort_keys=True, default=str)


def study_fingerprint(dataset, inner_splits, fixed, random_state, front=None):
    """What a search's trials depend on: a dict of JSON-safe values, hashes for the data.

    ``data``: SHA-256 of the column names and the values (as CSV text); ``label``: of the
    labels; ``feature_groups`` and ``preprocessing``: of the blocks and the preprocessor's
    settings; ``fixed`` (JSON text), ``inner_splits`` and ``random_state`` (the inner folds)
    as given; with a step before the preprocessor (``front``: the supervised scan block),
    ``scan_block``: of its settings. Nothing of a patient is kept but hashes.
    """
    X = dataset.X
    pre = dataset.preprocessor
    settings = None if pre is None else pre.get_params(deep=False)
    fixed = {k: list(v) if isinstance(v, tuple) else v for k, v in (fixed or {}).items()}
    return {
        "data": _sha(json.dumps([str(c) for c in X.columns]), X.to_csv(index=False)),
        "label": _sha("\n".join(map(str, np.asarray(dataset.y).tolist()))),
        "feature_groups": _sha(json.dumps(dataset.feature_groups, sort_keys=True, default=str)),
        "preprocessing": _sha(json.dumps(settings, sort_keys=True, default=str)),
        "fixed": json.dumps(fixed, sort_keys=True, default=str),
        "inner_splits": int(inner_splits),
        "random_state": int(random_state),
        **({} if front is None else {"scan_block": _sha(_front_settings(front))}),
    }


def _difference(key, recorded, here):
    if key == "data":
        return "other data (the table's columns or values differ)"
    if key == "label":
        return "another label (the labels differ)"
    if key == "feature_groups":
        return "other feature groups (--group)"
    if key == "preprocessing":
        return "other preprocessing (--block-components)"
    if key == "scan_block":
        return "another scan block (--scan-embedder, --scan-shape or its recipe)"
    if key == "fixed":
        return f"other fixed parameters (--param: {recorded} there, {here} here)"
    option = {"inner_splits": "--inner-splits", "random_state": "--seed"}.get(key, key)
    return f"{option} {recorded} (here {here})"


_REMEDY = (
    "Pass --study-name NEW for a new study in the same storage (study_name=...), or another "
    "--storage."
)


def check_study_fingerprint(study, fingerprint, where):
    """Record ``fingerprint`` in a new study; refuse a study created for something else.

    Parameters
    ----------
    study : optuna.study.Study
    fingerprint : dict
        :func:`study_fingerprint` of this search.
    where : str
        The storage, for the message (password hidden).

    Raises
    ------
    InputError
        The study was created for other data, label, fixed parameters, inner splits or seed,
        or it holds trials with no fingerprint (an older graphboost): its trials and this
        search's would be mixed and the best trial could come from the other search.
    """
    recorded = study.user_attrs.get(FINGERPRINT)
    name = study.study_name
    if recorded is None:
        n = len(study.get_trials(deepcopy=False))
        if n:
            raise InputError(
                f"Study {name!r} in {where} holds {n} trials that recorded no fingerprint of "
                "their data (an older graphboost, or made by hand), so they cannot be told to be "
                f"of this search; they would be mixed with its trials. {_REMEDY}"
            )
        study.set_user_attr(FINGERPRINT, fingerprint)
        return
    differ = [k for k in fingerprint if recorded.get(k) != fingerprint[k]]
    if differ:
        what = "; ".join(_difference(k, recorded.get(k), fingerprint[k]) for k in differ)
        raise InputError(
            f"Study {name!r} in {where} was created for {what}; its trials would be mixed "
            f"with this search's and the best trial could come from the other search. {_REMEDY}"
        )
