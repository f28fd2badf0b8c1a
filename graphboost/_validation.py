"""Input checks whose messages name the parameter or column, what was expected and what came."""

from __future__ import annotations

import difflib

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError


def check_choice(value, name, choices, owner):
    """Raise if ``value`` is not one of ``choices``, suggesting the closest choice."""
    if isinstance(value, str) and value in choices:
        return value
    listed = "{" + ", ".join(repr(c) for c in sorted(choices)) + "}"
    msg = f"The '{name}' parameter of {owner} must be one of {listed}; got {value!r}."
    if isinstance(value, str):
        close = difflib.get_close_matches(value, list(choices), n=1)
        if close:
            msg += f" Did you mean {close[0]!r}?"
    raise InvalidParameterError(msg)


def format_names(names, limit=5):
    """At most ``limit`` names, then how many more."""
    names = [str(n) for n in names]
    shown = names[:limit]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{shown}{more}"


def check_finite(X, feature_names, owner):
    """Raise if ``X`` holds NaN or inf, naming the columns; the estimator does not impute."""
    bad = ~np.isfinite(X).all(axis=0)
    if bad.any():
        names = np.asarray(feature_names)[bad] if feature_names is not None else np.flatnonzero(bad)
        raise ValueError(
            f"Input X contains NaN or inf in columns {format_names(names)}. {owner} does not "
            "impute missing values: preprocess inside the training fold, for example with "
            "features.ClinicalPreprocessor or sklearn.impute.SimpleImputer in a Pipeline."
        )


def check_class_counts(counts, classes, minimum, purpose, owner):
    """Raise if a class has fewer than ``minimum`` patients, naming the class and the purpose."""
    for label, count in zip(classes, counts, strict=True):
        if count < minimum:
            raise ValueError(
                f"{owner} needs at least {minimum} patients in each class for {purpose}; "
                f"class {label!r} has {int(count)}."
            )
