"""Reading a patient table, and patient IDs as text (kept verbatim, compared as text)."""

from __future__ import annotations

import importlib.util
import numbers
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .._common import is_missing, named

__all__ = ["TABLE_FORMATS", "describe_id_format", "ids_as_text", "read_table"]

#: File extensions :func:`read_table` reads, and the reader of each.
TABLE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xls": "excel",
}
_ENGINES = {"parquet": ("pyarrow", "fastparquet"), "excel": ("openpyxl", "xlrd")}


def _supported() -> str:
    return ", ".join(TABLE_FORMATS)


# Over 60 lines only through its numpydoc docstring (31 lines of code).
def read_table(path: str | Path, id_column: str | None = None, **read_kwargs) -> pd.DataFrame:
    """Read a patient table from CSV, TSV, Parquet or Excel, chosen by the file extension.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``, ``.parquet``/``.pq`` or ``.xlsx``/``.xls`` file.
    id_column : str, optional
        Column of patient IDs. It is read as text and kept verbatim: ``"001"`` stays
        ``"001"`` (it is not turned into the number 1). From Parquet, numeric IDs become their
        text (``7`` -> ``"7"``).
    **read_kwargs
        Passed to :func:`pandas.read_csv`, :func:`pandas.read_parquet` or
        :func:`pandas.read_excel` (e.g. ``sheet_name=`` for Excel).

    Returns
    -------
    pandas.DataFrame
        At least one row.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        An unsupported extension (the message lists the supported formats), a file the reader
        cannot parse, a table without rows, or an ``id_column`` that is not in the table. The
        message names the path.
    ImportError
        Parquet or Excel without its reader installed; the message names the package.

    Examples
    --------
    >>> import os, tempfile
    >>> from features import read_table
    >>> path = os.path.join(tempfile.mkdtemp(), "clinical.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("patient_id,age\\n001,50\\n002,61\\n")
    >>> read_table(path, id_column="patient_id")["patient_id"].tolist()
    ['001', '002']
    >>> read_table(path)["patient_id"].tolist()
    [1, 2]
    """
    path = Path(path)
    kind = TABLE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(
            f"Cannot read '{path}': unsupported format {path.suffix or '(no extension)'!r} "
            f"(supported: {_supported()})."
        )
    if not path.is_file():
        raise FileNotFoundError(f"Table file not found: '{path}'.")
    _check_engine(path, kind)
    if id_column is not None and kind != "parquet":
        dtype = read_kwargs.get("dtype")
        if dtype is None or isinstance(dtype, dict):
            read_kwargs["dtype"] = {**(dtype or {}), id_column: str}
    table = _read(path, kind, read_kwargs)
    if table.shape[0] == 0:
        raise ValueError(
            f"'{path}' has no rows (only a header with {table.shape[1]} column(s)); a patient "
            "table needs one row per patient."
        )
    if id_column is not None:
        if id_column not in table.columns:
            raise ValueError(
                f"ID column {id_column!r} not found in '{path}'; columns: "
                f"{named([str(c) for c in table.columns])}."
            )
        if kind != "parquet" and table[id_column].isna().any():
            table[id_column] = _raw_ids(path, kind, id_column, table[id_column], read_kwargs)
        table[id_column] = ids_as_text(table[id_column])
    return table


def _raw_ids(path: Path, kind: str, id_column: str, ids: pd.Series, read_kwargs: dict):
    """IDs pandas read as missing ('NA', 'null', 'N/A') put back as written; empty stays NaN."""
    options = {k: v for k, v in read_kwargs.items() if k in ("sep", "sheet_name", "encoding")}
    options.update(usecols=[id_column], dtype=str, keep_default_na=False)
    if kind == "tsv":
        options.setdefault("sep", "\t")
    raw = _read(path, "excel" if kind == "excel" else "csv", options)[id_column]
    raw = raw.set_axis(ids.index).str.strip()
    return ids.where(ids.notna() | (raw == ""), raw)


def _check_engine(path: Path, kind: str) -> None:
    engines = _ENGINES.get(kind)
    if engines and not any(importlib.util.find_spec(e) for e in engines):
        raise ImportError(
            f"Reading '{path}' ({kind}) needs {engines[0]}: pip install 'graphboost[benchmarks]'"
        )


def _read(path: Path, kind: str, read_kwargs: dict) -> pd.DataFrame:
    try:
        if kind == "csv":
            return pd.read_csv(path, **read_kwargs)
        if kind == "tsv":
            return pd.read_csv(path, **{"sep": "\t", **read_kwargs})
        if kind == "parquet":
            return pd.read_parquet(path, **read_kwargs)
        return pd.read_excel(path, **read_kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"'{path}' is empty: no header and no rows.") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        # parser errors differ by format and engine; report them in one line with the path
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"Cannot read '{path}' as {kind}: {reason}") from exc


def _id_text(value: object) -> object:
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if np.isnan(value):
            return np.nan
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return value if is_missing(value) else str(value)


def ids_as_text(values: Iterable[object]) -> pd.Series:
    """Patient IDs as text: text verbatim, integers (and whole floats) as their digits.

    Missing IDs stay missing, so they can be reported.

    Examples
    --------
    >>> from features.tables._table import ids_as_text
    >>> ids_as_text(["007", 7, 7.0, None]).tolist()
    ['007', '7', '7', None]
    """
    index = values.index if isinstance(values, pd.Series) else None
    name = values.name if isinstance(values, pd.Series) else None
    return pd.Series([_id_text(v) for v in values], index=index, name=name, dtype=object)


def _shape(text: str) -> str:
    return re.sub(r"[a-z]", "a", re.sub(r"[A-Z]", "A", re.sub(r"[0-9]", "9", text)))


def _describe_text(texts: list[str]) -> str:
    digits = [t for t in texts if t.isascii() and t.isdigit()]
    if len(digits) == len(texts):
        padded = [t for t in digits if len(t) > 1 and t.startswith("0")]
        if padded:
            width = Counter(len(t) for t in padded).most_common(1)[0][0]
            return f"zero-padded digit text like {'0' * (width - 1) + '1'!r}"
        return "digit text without leading zeros like '1', '2'"
    shapes = Counter(_shape(t) for t in texts).most_common()
    shown = ", ".join(repr(s) for s, _ in shapes[:3])
    more = f" and {len(shapes) - 3} other shape(s)" if len(shapes) > 3 else ""
    spaces = " (some with spaces around them)" if any(t != t.strip() for t in texts) else ""
    return f"text shaped like {shown}{more}{spaces} (A, a = letter, 9 = digit)"


def describe_id_format(values: Iterable[object]) -> str:
    """How a set of patient IDs is written, without showing any ID.

    Parameters
    ----------
    values : iterable
        The IDs as they came (numbers or text).

    Returns
    -------
    str
        E.g. ``"integers like 1, 2 (60 IDs)"`` or ``"zero-padded digit text like '001' (60 IDs)"``;
        the examples are made up from the format, not taken from the IDs.

    Examples
    --------
    >>> from features.tables._table import describe_id_format
    >>> describe_id_format([1, 2, 3])
    'integers like 1, 2 (3 IDs)'
    >>> describe_id_format(["007", "012"])
    "zero-padded digit text like '001' (2 IDs)"
    >>> describe_id_format(["P-12", "P-13"])
    "text shaped like 'A-99' (A, a = letter, 9 = digit) (2 IDs)"
    """
    present = [v for v in values if not is_missing(v)]
    if not present:
        return "no IDs"
    kinds = {
        "text"
        if isinstance(v, str)
        else "integer"
        if isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)
        else "number"
        if isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)
        else "other"
        for v in present
    }
    if kinds == {"text"}:
        what = _describe_text([str(v) for v in present])
    elif kinds == {"integer"}:
        what = "integers like 1, 2"
    elif kinds <= {"integer", "number"}:
        whole = all(float(v).is_integer() for v in present)
        what = "whole decimal numbers like 1.0, 2.0" if whole else "decimal numbers like 1.5"
    else:
        what = f"a mix of {', '.join(sorted(kinds))} values"
    return f"{what} ({len(present)} IDs)"
