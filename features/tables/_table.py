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
def read_table(
    path: str | Path, id_column: str | None = None, *, decimal: str = ".", **read_kwargs
) -> pd.DataFrame:
    """Read a patient table from CSV, TSV, Parquet or Excel, chosen by the file extension.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``, ``.parquet``/``.pq`` or ``.xlsx``/``.xls`` file.
    id_column : str, optional
        Column of patient IDs. It is read as text and kept verbatim: ``"001"`` stays
        ``"001"`` (it is not turned into the number 1). From Parquet, numeric IDs become their
        text (``7`` -> ``"7"``).
    decimal : str, default="."
        The decimal mark of numbers written as text, passed to the CSV, TSV or Excel reader:
        ``decimal=","`` reads ``56,8`` as 56.8 (the command line's ``--decimal ,``). A column of
        such numbers read with ``"."`` is refused later, by
        :class:`~features.tables.ClinicalPreprocessor`, rather than taken as categories.
        Parquet stores numbers as numbers: there it must stay ``"."``.
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
        cannot parse, a table without rows, a name given to two columns (pandas would rename
        the second ``age`` to ``age.1``), or an ``id_column`` that is not in the table. The
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
    if decimal != ".":
        if kind == "parquet":
            raise ValueError(
                f"decimal={decimal!r} does not apply to '{path}': Parquet stores numbers as "
                "numbers; leave the decimal mark at '.'."
            )
        read_kwargs["decimal"] = decimal
    if id_column is not None and kind != "parquet":
        dtype = read_kwargs.get("dtype")
        if dtype is None or isinstance(dtype, dict):
            read_kwargs["dtype"] = {**(dtype or {}), id_column: str}
    table = _read(path, kind, read_kwargs)
    _check_unique_names(path, kind, table, read_kwargs)
    if decimal != ".":
        _check_one_decimal_mark(path, table, decimal, id_column)
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


_DOTTED_NUMBER = re.compile(r"\s*[+-]?[0-9]*\.[0-9]+([eE][+-]?[0-9]+)?\s*")


def _check_one_decimal_mark(path: Path, table: pd.DataFrame, decimal: str, id_column) -> None:
    """Refuse columns of numbers written with '.' in a table read with another decimal mark.

    Read with ``decimal=","``, ``1.5`` stays text: it may be 1.5 or (with '.' separating
    thousands) 15; the table must use one decimal mark.
    """
    dotted = []
    for col in table.columns:
        values = table[col].dropna()
        if col == id_column or values.empty or pd.api.types.is_numeric_dtype(values.dtype):
            continue
        text = values.astype(str)
        if text.map(lambda t: bool(_DOTTED_NUMBER.fullmatch(t))).all():
            dotted.append(str(col))
    if dotted:
        raise ValueError(
            f"'{path}' was read with {decimal!r} as the decimal mark, but {len(dotted)} "
            f"column(s) hold numbers written with '.': {named(dotted)}. A '.' could be a decimal "
            "mark or separate thousands; write every number of the table with one decimal mark."
        )


_HEADER_OPTIONS = ("sep", "delimiter", "sheet_name", "encoding", "skiprows", "comment", "quotechar")


def _check_unique_names(path: Path, kind: str, table: pd.DataFrame, read_kwargs: dict) -> None:
    """Refuse a header that gives one name to two columns.

    pandas renames the second ``age`` to ``age.1`` when it reads a CSV or Excel file: the table
    would silently have a column the user never named. When a name ``X.<n>`` sits beside ``X``,
    the header row is read again as written, to tell such a copy from a real ``X.1`` column.
    """
    names = [str(c) for c in table.columns]
    written = names
    copies = [n for n in names if re.fullmatch(r".+\.[0-9]+", n) and n.rsplit(".", 1)[0] in names]
    if copies and kind != "parquet" and "names" not in read_kwargs:
        header = read_kwargs.get("header", 0)
        if not isinstance(header, int) or isinstance(header, bool):
            return  # no header row, or a header of several rows: pandas' names stand
        options = {k: v for k, v in read_kwargs.items() if k in _HEADER_OPTIONS}
        options.update(header=None, nrows=header + 1, dtype=str, keep_default_na=False)
        if kind == "tsv":
            options.setdefault("sep", "\t")
        raw = _read(path, "excel" if kind == "excel" else "csv", options)
        if len(raw):
            written = [str(v) for v in raw.iloc[-1].tolist() if str(v) != ""]
    repeated = {n: k for n, k in Counter(written).items() if k > 1}
    if repeated:
        listed = ", ".join(f"{n!r} ({k} columns)" for n, k in list(repeated.items())[:5])
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        first = next(iter(repeated))
        raise ValueError(
            f"'{path}' gives one name to more than one column: {listed}{more}. A column could "
            f"not be told from its copy (pandas would silently rename the copy {first!r} to "
            f"'{first}.1'); rename or remove the copies so that each column has its own name."
        )


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
