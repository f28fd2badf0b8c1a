"""Small helpers shared by the feature modules: naming a few items in a message, missing values,
the ``on_error`` choice of the volume readers."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

__all__ = ["MAX_NAMED", "check_on_error", "is_missing", "named", "value_forms"]

MAX_NAMED = 5  # at most this many column names / values in a message


def check_on_error(value: object) -> None:
    """What an unreadable volume does: ``"raise"`` or ``"skip"``, else a ValueError.

    Examples
    --------
    >>> check_on_error("skip")
    >>> check_on_error("ignore")
    Traceback (most recent call last):
    ...
    ValueError: on_error must be 'raise' or 'skip', got 'ignore'
    """
    if value not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {value!r}")


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


def value_forms(values: Sequence[object]) -> str:
    """The forms of some values, never the values: digits read 9 and runs of letters 'abc'.

    For messages about a patient's entries (a number written as text): the user learns what
    kind of text is there (``'>999'``, ``'abc'``, ``'99 abc'``) without the message showing a
    patient's value.

    Examples
    --------
    >>> value_forms(["fifty", ">180", "<5", "12 mg", ">170"])
    "'abc', '>999', '<9', '99 abc'"
    """
    forms = dict.fromkeys(re.sub(r"[^\W\d_]+", "abc", re.sub(r"\d", "9", str(v))) for v in values)
    return named(list(forms))
