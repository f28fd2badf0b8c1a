"""Small helpers shared by the table modules: naming a few items in a message, missing values."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["MAX_NAMED", "is_missing", "named"]

MAX_NAMED = 5  # at most this many column names / values in a message


def named(items: Sequence[object]) -> str:
    """The first five items, quoted, and how many more there are.

    Examples
    --------
    >>> from features._common import named
    >>> named(["age", "bmi"])
    "'age', 'bmi'"
    >>> named(range(7))
    '0, 1, 2, 3, 4 and 2 more'
    """
    items = list(items)
    shown = ", ".join(repr(i) for i in items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def is_missing(value: object) -> bool:
    """Whether one value is missing (None, NaN, NaT, pd.NA); False when pandas cannot tell."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
