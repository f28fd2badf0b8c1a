"""The training range of each numeric column, and which new values fall outside it.

A model extrapolates for a value far from every training value: an age given in days instead of
years (20 000 "years") gets a risk of 0.0 from the linear start, and the neighbor graphs alone
do not notice. :class:`features.tables.ClinicalPreprocessor` records, in ``fit``, the lowest and
highest value of each numeric column (:func:`fit_ranges`, saved in its JSON since format
version 2) and :meth:`~features.tables.ClinicalPreprocessor.find_outside_training_range` says
which values of a new table lie beyond them by more than :data:`RANGE_MARGIN` of the range
(:func:`outside`): a patient a little older than the oldest training patient is not flagged, an
age in days is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RANGE_MARGIN = 0.1
"""A value is outside the training range when it is beyond the lowest or the highest training
value by more than this share of the range (highest - lowest)."""


def fit_ranges(prepared: pd.DataFrame, numeric: list[str]) -> dict[str, list[float]]:
    """Column -> ``[lowest, highest]`` observed value, for each numeric column (missing values
    and values that are not numbers left out)."""
    ranges = {}
    for col in numeric:
        values = prepared[col].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            ranges[col] = [float(values.min()), float(values.max())]
    return ranges


def outside(ranges: dict[str, list[float]], prepared: pd.DataFrame) -> pd.DataFrame:
    """Per numeric column with a range: True where the value is outside it (see
    :data:`RANGE_MARGIN`); a missing value is never outside.

    Examples
    --------
    >>> import pandas as pd
    >>> new = pd.DataFrame({"age": [55.0, 84.0, 20000.0, None]})
    >>> outside({"age": [30.0, 80.0]}, new)["age"].tolist()
    [False, False, True, False]
    """
    flags = {}
    for col, (low, high) in ranges.items():
        margin = RANGE_MARGIN * (high - low)
        values = prepared[col].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            flags[col] = (values < low - margin) | (values > high + margin)
    return pd.DataFrame(flags, index=prepared.index, columns=list(ranges))


def ranges_state(ranges: dict[str, list[float]] | None) -> dict | None:
    """JSON data of the ranges (``None``: a preprocessor loaded from a file without them)."""
    if ranges is None:
        return None
    return {col: [float(low), float(high)] for col, (low, high) in ranges.items()}


def ranges_from_state(state: dict | None) -> dict[str, list[float]] | None:
    """The ranges from :func:`ranges_state` output; ``None`` for a file written before format
    version 2, which did not record them."""
    if state is None:
        return None
    return {str(col): [float(low), float(high)] for col, (low, high) in state.items()}
