"""Column types of a clinical table: the table read, types inferred, values that are not numbers.

Used by :class:`features.tables.ClinicalPreprocessor` in ``fit`` (which type each column has,
and which columns cannot be used) and in ``transform`` (the values of a numeric or binary column
that are not finite numbers).
"""

from __future__ import annotations

import numbers
import re
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._common import named, value_forms

_MIN_ROWS_IDENTIFIER = 10  # below this, "unique per row" says too little to call a column an ID
_MAX_TEXT_SHARE_OF_NUMERIC = 0.2  # text column with at most this share of non-numbers: numeric
# Beyond this magnitude a value is no measurement, and squaring it (variance) overflows: such
# values are treated as infinite.
_MAX_MAGNITUDE = 1e100
_MIN_SHARE_LIKE = 0.8  # a text column is dates / decimal-comma numbers when this share looks so
_SAMPLE = 500  # distinct values looked at to call a text column dates

# A number written with a decimal comma ('56,8', '-0,5', ',5'); and a plain number.
_COMMA_NUMBER = re.compile(r"\s*[+-]?[0-9]*,[0-9]+\s*")
_PLAIN_NUMBER = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")
# Date-like text: 2019-03-05, 05/03/2019, 5.3.19, 5 Mar 2019, 05-Mar-2019, March 5, 2019; an
# optional time after it. pandas parses far more ('T2', '56,8', '2019'), so text must look so.
_TIME = r"([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*(Z|[+-][0-9]{2}:?[0-9]{2})?)?"
_DATE = re.compile(
    r"\s*([0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}"
    r"|[0-9]{1,2}[-/.][0-9]{1,2}[-/.]([0-9]{4}|[0-9]{2})"
    r"|[0-9]{1,2}[ -]?[A-Za-z]{3,9}\.?[ -]?,?[ ]?[0-9]{2,4}"
    r"|[A-Za-z]{3,9}\.? [0-9]{1,2},? [0-9]{4})" + _TIME + r"\s*"
)

#: Problems of :func:`infer_kind` that name what a column holds, each with its own remedy.
DECIMAL_COMMA = "numbers written with a decimal comma"
DATES = "dates"


def as_numbers(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """``series`` as floats, with the masks of its text that is not a number and its infinities.

    Returns ``(numbers, not_numbers, infinite)``: ``numbers`` holds NaN where the value is
    missing, is not a number (``"fifty"``, ``">180"``) or is infinite (or beyond 1e100 in
    magnitude); the masks say which.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    converted = pd.to_numeric(series, errors="coerce").astype(float)
    not_numbers = series.notna() & converted.isna()
    infinite = pd.Series(np.abs(converted.to_numpy()) > _MAX_MAGNITUDE, index=series.index)
    return converted.mask(infinite), not_numbers, infinite


def value_problems(col: str, kind: str, series: pd.Series, not_numbers, infinite) -> list[str]:
    """What is wrong with the values of one numeric or binary column (empty: nothing)."""
    problems = []
    n = len(series)
    commas = series[not_numbers].astype(str).map(lambda t: bool(_COMMA_NUMBER.fullmatch(t)))
    if not_numbers.any() and commas.all():  # the form, not the values
        problems.append(
            f"Column {col!r} is {kind} but holds {DECIMAL_COMMA} ({int(not_numbers.sum())} of "
            f"{n}, written like '99,9'): read the table with ',' as the decimal mark "
            "(read_table(path, decimal=','); graphboost predict: --decimal ,)"
        )
    elif not_numbers.any():
        problems.append(
            f"Column {col!r} is {kind} but holds non-numeric values ({int(not_numbers.sum())} "
            f"of {n}), written like {value_forms(pd.unique(series[not_numbers]))}"
        )
    if infinite.any():
        problems.append(
            f"Column {col!r} holds infinite values (or beyond 1e100) ({int(infinite.sum())} of {n})"
        )
    return problems


def _decimal_comma(values: pd.Series) -> str | None:
    """For text that reads as numbers once ``,`` is the decimal mark: what it is, else None.

    ``56,8`` is no category: read as text, such a column would become one category per value.
    The message gives counts and the form, never a value.
    """
    text = [str(v) for v in values]
    comma = sum(bool(_COMMA_NUMBER.fullmatch(t)) for t in text)
    plain = sum(bool(_PLAIN_NUMBER.fullmatch(t)) for t in text)
    if comma == 0 or comma + plain < _MIN_SHARE_LIKE * len(text):
        return None
    return f"{DECIMAL_COMMA} ({comma} of {len(text)} values, written like '99,9')"


def _dates(values: pd.Series) -> str | None:
    """For text that is mostly dates (``2019-03-05``, ``05/03/2019``, ``5 Mar 2019``): what it
    is, else None. Numbers are never dates here; a date must look like one and parse as one."""
    sample = pd.Series(pd.unique(values.astype(str))[:_SAMPLE], dtype=object)
    looks = sample.map(lambda t: bool(_DATE.fullmatch(t))).to_numpy(dtype=bool)
    if looks.mean() < _MIN_SHARE_LIKE:
        return None
    with warnings.catch_warnings():  # dateutil's notes on ambiguous formats: the check is a guess
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample[looks], errors="coerce", format="mixed")
    if parsed.notna().sum() < _MIN_SHARE_LIKE * len(sample):
        return None
    n_dates = int(values.astype(str).map(lambda t: bool(_DATE.fullmatch(t))).sum())
    return f"{DATES} ({n_dates} of {len(values)} values look like dates)"


def _numbers_with_text(values: pd.Series) -> str | None:
    """For text mostly made of numbers ('12.5', '<5', '8'): what is wrong, else None.

    A numeric column with a few entries that are not numbers (``"<5"``, ``">180"``) is read as
    text; it is neither categorical nor an identifier, and the entries need a decision.
    """
    bad = pd.to_numeric(values, errors="coerce").isna()
    if not bad.any() or bad.mean() > _MAX_TEXT_SHARE_OF_NUMERIC:
        return None
    return (
        f"numeric column with {int(bad.sum())} value(s) that are not numbers, written like "
        f"{value_forms(pd.unique(values[bad]))}"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool | np.bool_)


def category_label(value: object) -> str:
    """Text of a category: integral numbers lose their '.0' so 1 and 1.0 are one category."""
    if _is_number(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def as_frame(X) -> pd.DataFrame:
    """``X`` as a DataFrame with text column names (``"x0"``, ``"x1"``... for an array).

    Refuses, naming the problem, what ClinicalPreprocessor cannot read: sparse or empty input,
    arrays that are not 2D, duplicate column names, complex numbers.
    """
    if sp.issparse(X):
        raise TypeError(
            "ClinicalPreprocessor got a sparse matrix, but sparse input is not supported; "
            "pass a pandas DataFrame or a dense array."
        )
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        array = np.asarray(X) if not isinstance(X, np.ndarray) else X
        if array.ndim != 2:
            raise ValueError(
                f"Expected 2D array, got {array.ndim}D array instead. Reshape your data, "
                "e.g. X.reshape(-1, 1) for a single feature."
            )
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(
            f"Found array with {frame.shape[0]} sample(s) and {frame.shape[1]} feature(s) "
            f"(shape={frame.shape}) while a minimum of 1 is required."
        )
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    if not frame.columns.is_unique:
        dupes = frame.columns[frame.columns.duplicated()].unique()
        raise ValueError(f"Duplicate column names in X: {named(dupes)}.")
    complex_cols = [c for c in frame.columns if pd.api.types.is_complex_dtype(frame[c].dtype)]
    if complex_cols:
        raise ValueError(f"Complex data not supported (columns {named(complex_cols)}).")
    return frame


def unusable_message(problems: dict[str, str], lenient_hint: bool) -> str:
    """The error for columns that cannot be used: each with its reason, then the remedies.

    Dates and numbers with a decimal comma get their own remedies (the command line's
    ``--exclude`` and ``--decimal``), the others the general one.
    """
    listed = "; ".join(f"{c!r}: {p}" for c, p in list(problems.items())[:5])
    more = len(problems) - 5
    listed += f"; and {more} more" if more > 0 else ""
    remedies = []
    commas = [c for c, p in problems.items() if p.startswith(DECIMAL_COMMA)]
    dates = [c for c, p in problems.items() if p.startswith(DATES) or p.endswith(f": {DATES}")]
    others = [c for c in problems if c not in commas and c not in dates]
    if commas:
        remedies.append(
            f"{named(commas)}: read the table with ',' as the decimal mark "
            "(read_table(path, decimal=','); graphboost: --decimal ,), or write the numbers "
            "with '.'"
        )
    if dates:
        remedies.append(
            f"{named(dates)}: a date is no feature as it is; leave the column out "
            f"(graphboost: --exclude {dates[0]}) or turn it into a number first, such as the "
            "days since a reference date (docs: Cohorts and scans, Dates)"
        )
    if others:
        hint = " (or invalid_values='missing': such values become missing)" if lenient_hint else ""
        remedies.append(
            "remove them (graphboost: --exclude COL), give their type in "
            f"numeric/binary/categorical, or pass on_invalid='drop'{hint}"
        )
    return f"{len(problems)} column(s) cannot be used: {listed}. Remedy: " + "; ".join(remedies)


def forced_kinds(columns, numeric, binary, categorical) -> dict[str, str]:
    """Column -> type for the columns given in ``numeric``, ``binary`` or ``categorical``.

    Examples
    --------
    >>> forced_kinds(["age", "site"], ["age"], None, ["site"])
    {'age': 'numeric', 'site': 'categorical'}
    """
    given: dict[str, str] = {}
    for kind, names in (("numeric", numeric), ("binary", binary), ("categorical", categorical)):
        if names is None:
            continue
        if isinstance(names, str):
            raise TypeError(f"{kind} must be a list of column names, got the string {names!r}.")
        for name in names:
            if name in given:
                raise ValueError(
                    f"Column {name!r} is given in both {given[name]!r} and {kind!r}; "
                    "give each column one type."
                )
            given[name] = kind
    unknown = [n for n in given if n not in columns]
    if unknown:
        raise ValueError(
            f"Columns given in numeric/binary/categorical are not in X: {named(unknown)}."
        )
    return given


def sort_columns(
    frame: pd.DataFrame, forced: dict[str, str], lenient: bool
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The columns of each type, and the unusable columns with what is wrong with each.

    Returns ``(kinds, problems)``: ``kinds`` maps ``"numeric"``, ``"binary"`` and
    ``"categorical"`` to their columns, in the order of ``frame``; ``problems`` maps each
    column that cannot be used to its reason. ``forced`` is :func:`forced_kinds` output;
    ``lenient`` as in :func:`infer_kind`.
    """
    kinds: dict[str, list[str]] = {"numeric": [], "binary": [], "categorical": []}
    problems: dict[str, str] = {}
    for col in frame.columns:
        kind, problem = infer_kind(frame[col], forced.get(col), lenient)
        if problem is not None:
            problems[col] = problem
        else:
            kinds[kind].append(col)
    return kinds, problems


def infer_kind(
    series: pd.Series, forced: str | None, lenient: bool = False
) -> tuple[str, str | None]:
    """Return (kind, problem) for one column; kind in numeric/binary/categorical/invalid.

    ``lenient`` (``invalid_values="missing"``): a column of numbers with a few values that
    are not numbers, or with infinities, is numeric (or binary); those values are missing.
    """
    values = series.dropna()
    if values.empty:
        return "invalid", "all values missing"
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "invalid", f"unsupported dtype {dtype}: {DATES}"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "invalid", f"unsupported dtype {dtype}"
    if forced is not None:
        return forced, None
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical", None
    if pd.api.types.is_bool_dtype(dtype):
        return "binary", None
    if pd.api.types.is_numeric_dtype(dtype):
        return _kind_of_numbers(values.to_numpy(dtype=float), len(series), lenient)
    verdict, numbers_ = _kind_of_objects(series, values, lenient)
    if verdict is not None:
        return verdict
    return _kind_of_numbers(numbers_, len(series), lenient)


def _kind_of_objects(series: pd.Series, values: pd.Series, lenient: bool):
    """(verdict, None) for an object column that is not numbers, else (None, its numbers)."""
    kinds = {
        "number"
        if _is_number(v)
        else "text"
        if isinstance(v, str)
        else "bool"
        if isinstance(v, bool | np.bool_)
        else type(v).__name__
        for v in values
    }
    if "text" in kinds and kinds <= {"number", "text"}:
        written = _decimal_comma(values) or (_dates(values) if kinds == {"text"} else None)
        if written is not None:
            return ("invalid", written), None
    not_numbers = _numbers_with_text(values) if kinds <= {"number", "text"} else None
    if not_numbers is not None and not lenient:
        return ("invalid", not_numbers), None
    if not_numbers is not None:
        return None, pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if kinds == {"text"}:
        n = len(series)
        if n >= _MIN_ROWS_IDENTIFIER and not series.isna().any() and values.is_unique:
            return ("invalid", "identifier-like (a distinct text value in every row)"), None
        return ("categorical", None), None
    if kinds == {"bool"}:
        return ("binary", None), None
    if kinds != {"number"}:
        return ("invalid", f"mixed types ({', '.join(sorted(kinds))})"), None
    return None, values.to_numpy(dtype=float)


def _kind_of_numbers(numbers_: np.ndarray, n: int, lenient: bool) -> tuple[str, str | None]:
    """Numeric, binary or invalid (huge values, an identifier) from a column's observed numbers."""
    huge = np.abs(numbers_) > _MAX_MAGNITUDE
    if huge.any():
        if not lenient:
            return "invalid", "infinite values (or beyond 1e100)"
        numbers_ = numbers_[~huge]
        if numbers_.size == 0:
            return "invalid", "no finite value"
    if (
        n >= _MIN_ROWS_IDENTIFIER
        and len(numbers_) == n
        and np.all(numbers_ == np.round(numbers_))
        and len(np.unique(numbers_)) == n
        and numbers_.max() - numbers_.min() == n - 1
    ):
        return "invalid", "identifier-like (consecutive distinct integers, one per row)"
    if len(np.unique(numbers_)) == 2:
        return "binary", None
    return "numeric", None
