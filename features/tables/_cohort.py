"""A patient cohort: a clinical table joined with embedding blocks by patient ID."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .._common import named
from ._clinical import ClinicalPreprocessor
from ._table import describe_id_format, ids_as_text, read_table

__all__ = ["Cohort"]

_MIN_MATCHED_SHARE = 0.1  # a block matching fewer IDs than this share is a format mismatch


def _ids(values: pd.Index | pd.Series, where: str) -> pd.Index:
    """Patient IDs as text (so 7 and "7" match, "007" stays "007"); missing or duplicates raise.

    Messages give counts only: patient IDs are never put in messages or logs.
    """
    ids = pd.Index(ids_as_text(values), dtype=object, name="patient_id")
    if ids.isna().any():
        raise ValueError(f"{where} has {int(ids.isna().sum())} missing patient ID(s).")
    if not ids.is_unique:
        n_dupes = int(ids.duplicated(keep=False).sum())
        raise ValueError(
            f"{where} has {n_dupes} rows whose patient ID is not unique ("
            f"{ids[ids.duplicated()].nunique()} ID(s) repeated); each patient needs one row."
        )
    return ids


def _check_overlap(
    name: str, ids: pd.Index, block_ids: pd.Index, raw_ids: Sequence[object], raw_block: pd.Index
) -> None:
    """A block sharing (almost) no ID with the clinical table is an error showing both formats."""
    if len(block_ids) == 0:
        return
    matched = int(block_ids.isin(ids).sum())
    needed = max(1.0, _MIN_MATCHED_SHARE * min(len(ids), len(block_ids)))
    if matched >= needed:
        return
    raise ValueError(
        f"Block {name!r} shares {matched} of its {len(block_ids)} patient IDs with the "
        f"{len(ids)} of the clinical table: the IDs seem to be written differently. "
        f"Clinical table: {describe_id_format(raw_ids)}; block {name!r}: "
        f"{describe_id_format(raw_block)}. IDs are matched as text ('7' matches 7, not '007'); "
        "write them the same way on both sides, e.g. read the table with "
        "read_table(path, id_column=...) so zero-padded IDs keep their zeros."
    )


class Cohort:
    """Join a clinical table and embedding blocks (e.g. from scans) by patient ID.

    The clinical table defines the cohort: every patient in it is kept, in its order. For each
    block, patients of the clinical table that lack it (absent from the block, or listed with only
    NaN) keep NaN in all of the block's columns and
    get 1 in the indicator column ``"<block>:missing"`` (added when at least one patient lacks
    the block). Nothing is imputed here: imputation is learned from data and must be fitted
    inside the training folds (e.g. by :meth:`make_preprocessor` in a pipeline). Patients who are
    in a block but not in the clinical table cannot be used (no label, no clinical values); they
    are left out. Both kinds of mismatch are reported by count in a warning (IDs are never put in
    messages or logs) and listed in :attr:`unmatched_ids`.

    Parameters
    ----------
    clinical : pandas.DataFrame
        One row per patient.
    blocks : mapping of str to pandas.DataFrame, optional
        Block name -> numeric table indexed by patient ID (e.g. scan embeddings). Its columns
        become ``"<block>:<column>"`` in :attr:`X` and the entry ``feature_groups[<block>]``.
    id_column : str or None, default="patient_id"
        Column of ``clinical`` holding the patient ID; ``None`` uses its index. IDs are matched as
        text, verbatim (``7`` matches ``"7"``, not ``"007"``).
    label : str, optional
        Column of ``clinical`` holding the outcome; it becomes :attr:`y`, not a feature.
    exclude : list of str, optional
        Columns of ``clinical`` that are not features (dates, free text, other outcomes...).

    Attributes
    ----------
    X : pandas.DataFrame
        Features, indexed by patient ID: clinical columns, then per block its indicator (if any
        patient lacks it) and its columns. Raw values with NaN.
    y : pandas.Series or None
        The label, same index as ``X``.
    feature_groups : dict of str to list of str
        ``"clinical"`` -> clinical feature columns; ``<block>`` -> the block's columns.
    missing_indicators : dict of str to str
        Block -> name of its ``"<block>:missing"`` column (only blocks that some patient lacks).
    unmatched_counts : dict of str to dict of str to int
        Block -> ``{"not_in_block": n, "empty_rows": k, "not_in_clinical": m}``; ``empty_rows``
        counts patients listed in the block with only NaN (e.g. a scan the embedder skipped),
        who are treated as lacking the block.
    unmatched_ids : dict of str to dict of str to list of str
        The same, with the IDs themselves.

    Raises
    ------
    ValueError
        Among others: a block that shares (almost) no patient ID with the clinical table (fewer
        than 10% of the smaller side, at least one), which means the IDs are written differently
        on the two sides; the message describes the two ID formats side by side (e.g. "integers
        like 1, 2" against "zero-padded digit text like '001'"), never the IDs themselves.

    Notes
    -----
    A patient without a block has NaN in every column of that block. A similarity graph built on
    that block must not link such a patient through imputed values (all patients lacking the
    block would share the same imputed vector and look alike); use ``X[missing_indicators[b]]``
    to leave them out of block ``b``'s graph.

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> from features import Cohort
    >>> clinical = pd.DataFrame({"patient_id": ["a", "b", "c"], "age": [50, 60, 70],
    ...                          "label": [0, 1, 1]})
    >>> mri = pd.DataFrame({"e0": [0.1, 0.3], "e1": [1.0, 0.0]}, index=["a", "c"])
    >>> with warnings.catch_warnings(record=True) as caught:  # "b" has no MRI: a warning says so
    ...     warnings.simplefilter("always")
    ...     cohort = Cohort(clinical, {"mri": mri}, label="label")
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    Patient IDs do not match across sources: 1 patient(s) of the clinical table lack block 'mri'...
    >>> list(cohort.X.columns)
    ['age', 'mri:missing', 'mri:e0', 'mri:e1']
    >>> cohort.feature_groups
    {'clinical': ['age'], 'mri': ['mri:e0', 'mri:e1']}
    """

    def __init__(
        self,
        clinical: pd.DataFrame,
        blocks: Mapping[str, pd.DataFrame] | None = None,
        *,
        id_column: str | None = "patient_id",
        label: str | None = None,
        exclude: Sequence[str] = (),
    ):
        if not isinstance(clinical, pd.DataFrame):
            raise TypeError(
                f"clinical must be a pandas DataFrame, got {type(clinical).__name__}; "
                "use Cohort.from_file for a file."
            )
        if isinstance(exclude, str):
            raise TypeError(f"exclude must be a list of column names, got the string {exclude!r}.")
        self.id_column = id_column
        self.label = label
        self.exclude = list(exclude)
        raw_ids, ids = self._patient_ids(clinical)
        self.y = None if label is None else self._label(clinical, label, ids)
        features = self._clinical_features(clinical, ids)
        parts = [features]
        self.feature_groups: dict[str, list[str]] = {}
        if features.shape[1]:
            self.feature_groups["clinical"] = list(features.columns)
        self.missing_indicators: dict[str, str] = {}
        self.unmatched_counts: dict[str, dict[str, int]] = {}
        self.unmatched_ids: dict[str, dict[str, list[str]]] = {}
        for name, block in dict(blocks or {}).items():
            parts.extend(self._join_block(str(name), block, ids, raw_ids))
        X = pd.concat(parts, axis=1)
        clashes = X.columns[X.columns.duplicated()].unique().tolist()
        if clashes:
            raise ValueError(f"Column names clash after the join: {named(clashes)}.")
        X.index.name = "patient_id"
        self.X = X
        self._report()

    def _patient_ids(self, clinical: pd.DataFrame) -> tuple[Sequence[object], pd.Index]:
        """The IDs as given (for messages about their format) and as text."""
        if self.id_column is None:
            return clinical.index, _ids(clinical.index, "the clinical table's index")
        if self.id_column not in clinical.columns:
            raise ValueError(
                f"id_column {self.id_column!r} is not a column of the clinical table; columns: "
                f"{named(clinical.columns.tolist())}. Pass id_column=None to use the index."
            )
        raw = clinical[self.id_column]
        return raw, _ids(raw, f"the clinical column {self.id_column!r}")

    def _clinical_features(self, clinical: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
        """The clinical columns that are features (not the ID, label or excluded columns)."""
        unknown = [c for c in self.exclude if c not in clinical.columns]
        if unknown:
            raise ValueError(f"Columns in exclude are not in the clinical table: {named(unknown)}.")
        drop = set(self.exclude) | {c for c in (self.id_column, self.label) if c is not None}
        features = clinical.drop(columns=[c for c in clinical.columns if c in drop])
        features = features.set_axis(ids, axis=0)
        features.columns = [str(c) for c in features.columns]
        return features

    @staticmethod
    def _label(clinical: pd.DataFrame, label: str, ids: pd.Index) -> pd.Series:
        if label not in clinical.columns:
            raise ValueError(
                f"Label column {label!r} not found in the clinical table; columns: "
                f"{named(clinical.columns.tolist())}."
            )
        y = clinical[label].set_axis(ids)
        if y.isna().any():
            raise ValueError(
                f"Label column {label!r} is missing for {int(y.isna().sum())} of {len(y)} "
                "patients; drop those patients (or impute the label) first."
            )
        if y.nunique() < 2:
            raise ValueError(
                f"Label column {label!r} is constant (every patient has {y.iloc[0]}); a model "
                "needs at least two classes."
            )
        y.index.name = "patient_id"
        return y

    def _join_block(
        self, name: str, block: pd.DataFrame, ids: pd.Index, clinical_ids: Sequence[object]
    ) -> list[pd.DataFrame]:
        if not isinstance(block, pd.DataFrame):
            raise TypeError(
                f"Block {name!r} must be a pandas DataFrame indexed by patient ID, got "
                f"{type(block).__name__}."
            )
        if name == "clinical" or ":" in name or not name:
            raise ValueError(
                f"Block name {name!r} is not allowed (empty, 'clinical', or containing ':')."
            )
        block_ids = _ids(block.index, f"block {name!r}")
        _check_overlap(name, ids, block_ids, clinical_ids, block.index)
        non_numeric = [c for c in block.columns if not pd.api.types.is_numeric_dtype(block[c])]
        if non_numeric:
            raise ValueError(f"Block {name!r} has non-numeric columns: {named(non_numeric)}.")
        if block.shape[1] == 0:
            raise ValueError(f"Block {name!r} has no columns.")
        block = block.set_axis(block_ids, axis=0)
        block.columns = [f"{name}:{c}" for c in block.columns]
        joined = block.reindex(ids).astype(float)
        listed = ids.isin(block_ids)
        # A listed patient whose row is all NaN (e.g. a scan the embedder skipped) lacks the block.
        empty = listed & joined.isna().all(axis=1).to_numpy()
        present = listed & ~empty
        not_in_block = ids[~listed].tolist()
        empty_rows = ids[empty].tolist()
        not_in_clinical = block_ids[~block_ids.isin(ids)].tolist()
        self.unmatched_counts[name] = {
            "not_in_block": len(not_in_block),
            "empty_rows": len(empty_rows),
            "not_in_clinical": len(not_in_clinical),
        }
        self.unmatched_ids[name] = {
            "not_in_block": not_in_block,
            "empty_rows": empty_rows,
            "not_in_clinical": not_in_clinical,
        }
        self.feature_groups[name] = list(joined.columns)
        parts = []
        if not present.all():
            indicator = f"{name}:missing"
            self.missing_indicators[name] = indicator
            parts.append(pd.DataFrame({indicator: (~present).astype(float)}, index=ids))
        parts.append(joined)
        return parts

    def _report(self) -> None:
        lines = []
        for name, counts in self.unmatched_counts.items():
            if counts["not_in_block"]:
                lines.append(
                    f"{counts['not_in_block']} patient(s) of the clinical table lack block "
                    f"{name!r} (kept, with NaN and '{name}:missing' = 1)"
                )
            if counts["empty_rows"]:
                lines.append(
                    f"{counts['empty_rows']} patient(s) have an all-NaN row in block {name!r} "
                    f"(treated as lacking it: '{name}:missing' = 1)"
                )
            if counts["not_in_clinical"]:
                lines.append(
                    f"{counts['not_in_clinical']} patient(s) of block {name!r} are not in the "
                    "clinical table (left out)"
                )
        if lines:
            warnings.warn(
                "Patient IDs do not match across sources: "
                + "; ".join(lines)
                + ". The IDs are in Cohort.unmatched_ids.",
                UserWarning,
                stacklevel=3,
            )

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        blocks: Mapping[str, pd.DataFrame] | None = None,
        *,
        id_column: str | None = "patient_id",
        label: str | None = None,
        exclude: Sequence[str] = (),
        **read_kwargs,
    ) -> Cohort:
        """Build a cohort from a clinical table in a CSV, Parquet or Excel file.

        Parameters
        ----------
        path : str or Path
            The clinical table (see :func:`read_table`).
        blocks, id_column, label, exclude
            As for :class:`Cohort`.
        **read_kwargs
            Passed to the pandas reader (e.g. ``sheet_name=`` for Excel). The ID column is read
            as text, so ``"007"`` keeps its zeros.

        Returns
        -------
        Cohort
        """
        table = read_table(path, id_column=id_column, **read_kwargs)
        return cls(table, blocks, id_column=id_column, label=label, exclude=exclude)

    @property
    def patient_ids(self) -> pd.Index:
        """Patient IDs (as text), in the order of :attr:`X`."""
        return self.X.index

    @property
    def block_columns(self) -> list[str]:
        """Columns of all blocks (embeddings), without the missing indicators."""
        return [c for name, cols in self.feature_groups.items() if name != "clinical" for c in cols]

    def to_frame(self) -> pd.DataFrame:
        """``X`` with the label as its last column (when a label was given)."""
        if self.y is None:
            return self.X.copy()
        return self.X.assign(**{str(self.label): self.y})

    def make_preprocessor(self, **kwargs) -> ClinicalPreprocessor:
        """A :class:`ClinicalPreprocessor` suited to this cohort's columns (not fitted).

        Block columns are declared numeric and get no per-column missing indicators (the
        block's single ``"<block>:missing"`` column carries that information); the indicators are
        declared binary. Fit it inside the training folds, e.g. in a pipeline.

        Parameters
        ----------
        **kwargs
            Other ``ClinicalPreprocessor`` parameters (``categorical=``, ``on_invalid=``...).

        Returns
        -------
        ClinicalPreprocessor
        """
        numeric = list(kwargs.pop("numeric", None) or []) + self.block_columns
        binary = list(kwargs.pop("binary", None) or []) + list(self.missing_indicators.values())
        skip = list(kwargs.pop("skip_indicator", None) or []) + self.block_columns
        return ClinicalPreprocessor(numeric=numeric, binary=binary, skip_indicator=skip, **kwargs)

    def __repr__(self) -> str:
        blocks = [n for n in self.feature_groups if n != "clinical"]
        label = f", label={self.label!r}" if self.label is not None else ""
        return (
            f"Cohort({self.X.shape[0]} patients, {self.X.shape[1]} columns, blocks={blocks}{label})"
        )
