"""Clinical table preprocessing: a scikit-learn transformer built from scikit-learn's own pieces.

The column types are inferred in :mod:`features.tables._column_types`; the fitted state is
written and read back by :mod:`features.tables._preprocessor_state`; embedding blocks are
reduced by :mod:`features.tables._block_reduction`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from .._common import MAX_NAMED, is_missing, named
from .._jsonfile import read_checked_json, write_checked_json
from ._block_reduction import (
    check_block_components,
    fit_block_pcas,
    reduce_output,
    reduced_names,
)
from ._column_types import (
    DECIMAL_COMMA,
    as_frame,
    as_numbers,
    category_label,
    forced_kinds,
    sort_columns,
    unusable_message,
    value_problems,
)
from ._preprocessor_state import FORMAT, FORMAT_VERSION, READ_VERSIONS, restore, state_of
from ._training_range import fit_ranges, outside

__all__ = ["ClinicalPreprocessor", "UnseenCategoryWarning", "load_preprocessor"]


class UnseenCategoryWarning(UserWarning):
    """A categorical (or binary) column holds, at transform time, a value not seen in fit."""


class ClinicalPreprocessor(TransformerMixin, BaseEstimator):
    """Impute, scale and one-hot encode a clinical table; keep track of the source columns.

    Built on scikit-learn: a :class:`~sklearn.compose.ColumnTransformer` with
    :class:`~sklearn.impute.SimpleImputer` + :class:`~sklearn.preprocessing.StandardScaler` for
    numeric columns, ``SimpleImputer`` for binary columns (coded 0/1: a 0/1 column keeps its
    values, any other two levels become 0 for the smaller and 1 for the larger), ``SimpleImputer``
    + :class:`~sklearn.preprocessing.OneHotEncoder` for categorical columns, and a
    :class:`~sklearn.impute.MissingIndicator` (behind ``SimpleImputer(add_indicator=True)``)
    for every column with missing values in ``fit``, kept apart so the indicators stay 0/1 and
    are not one-hot encoded or scaled. The output has no NaN.

    Column types are inferred, unless given by ``numeric``, ``binary`` and ``categorical``:

    - ``category`` dtype and text columns -> categorical;
    - ``bool`` columns and numeric columns with exactly two distinct values -> binary;
    - other numeric columns (also object columns holding only numbers) -> numeric. Coded nominal
      columns stored as numbers (e.g. 0 = GE, 1 = Siemens) are numeric unless listed in
      ``categorical`` or given the ``category`` dtype.

    Columns that cannot be used are reported by name:

    - all values missing;
    - identifier-like: no missing value, at least 10 rows, and every value distinct, where the
      values are text or integers forming a run of consecutive numbers (1..n in any order). Such
      a column cannot generalize to new patients. A numeric column given in ``numeric`` is never
      called an identifier;
    - mixed types: an object column holding numbers and text (or other objects) together, e.g.
      ``[1.2, "n/a", 3]``. Give it in ``numeric`` (text becomes an error) or ``categorical``
      (everything becomes text) to say what it is;
    - unsupported dtypes (dates, durations). Complex numbers always raise.

    With ``on_invalid="raise"`` (default) they raise a ValueError naming them; with ``"drop"``
    they are dropped with a warning naming them, and listed in ``dropped_columns_``.

    Values that are not numbers in a numeric or binary column (``"fifty"`` in ``age``,
    ``">180"`` in ``systolic_bp``, infinities), in ``fit`` or in ``transform``, are reported per
    column (count and examples). With ``invalid_values="raise"`` (default) that is a ValueError;
    with ``"missing"`` they are treated as missing values (imputed, and flagged in the
    ``"<col>:missing"`` indicator when the column has one), with a warning giving the same
    report. A text column of numbers with a few such values (at most 20%) is numeric:
    :meth:`find_invalid_values` shows which cells they are.

    Parameters
    ----------
    numeric, binary, categorical : list of str, optional
        Columns forced to a type (names of DataFrame columns, or ``"x0"``, ``"x1"``... for arrays).
        A column may appear in one list only.
    on_invalid : {"raise", "drop"}, default="raise"
        What to do with all-missing, identifier-like, mixed-type and unsupported columns.
    min_frequency : int or float, optional
        Passed to ``OneHotEncoder``: rarer categories are grouped into one ``infrequent`` column
        (and unseen categories go there too). Default: one column per category seen in ``fit``;
        unseen categories become all zeros.
    scale : bool, default=True
        Standardize numeric columns (zero mean, unit variance, fitted in ``fit``).
    skip_indicator : list of str, optional
        Columns that get no missing-value indicator (still imputed), e.g. the columns of an
        embedding block whose missingness one ``"<block>:missing"`` column already carries.
    invalid_values : {"raise", "missing"}, default="raise"
        What to do with values that are not finite numbers in a numeric or binary column:
        refuse them, or treat them as missing with a warning (the command line's
        ``graphboost predict --invalid-values missing``).
    block_components : dict of str to int, optional
        Embedding blocks to reduce: block name -> number of principal components. The block's
        columns (``"<block>:..."``, numeric, except ``"<block>:missing"``), imputed and scaled,
        are replaced by their first components ``"<block>:pc0"``, ``"<block>:pc1"``... (at
        most one per column, and per row that has the block), fitted in ``fit`` on the rows
        that have the block (not 1 in ``"<block>:missing"``); rows lacking it get 0 (the mean of
        the training patients' components: the output has no NaN, and the indicator carries the
        absence). A 256-column embedding is mostly distance noise for a few hundred patients.
        :class:`BlockPCA` computes the components with the same code, as a step of its own.
        Block columns not in ``skip_indicator`` keep their ``"<col>:missing"`` (in the block).

    Attributes
    ----------
    numeric_, binary_, categorical_ : list of str
        Source columns of each type, as used.
    dropped_columns_ : dict of str to str
        Column -> reason, for columns dropped with ``on_invalid="drop"``.
    categories_ : dict of str to list of str
        Categories seen in ``fit`` for each categorical column (as text).
    source_columns_ : dict of str to str
        Output column -> the source column it comes from.
    feature_groups_ : dict of str to list of str
        Source column -> its output columns (one-hot columns and missing indicator together), in
        the output order: one candidate block per source column. A block reduced by
        ``block_components`` is one entry, its name -> its components.
    block_pca_ : dict of str to dict
        Per reduced block: its source ``columns``, and the ``mean``, ``components`` and
        ``explained_variance_ratio`` of its principal components.
    training_ranges_ : dict of str to list of float, or None
        Numeric column -> its ``[lowest, highest]`` value in ``fit``; None when loaded from a
        file saved before they were recorded (format version 1).
    column_transformer_ : sklearn.compose.ColumnTransformer
        The fitted scikit-learn transformer doing the work.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (DataFrame input only).
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Notes
    -----
    Output names: a numeric or binary column keeps its name; a categorical column ``c`` gives
    ``"c=<category>"`` (and ``"c=infrequent"`` with ``min_frequency``); a missing-value indicator
    is ``"c:missing"``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from features import ClinicalPreprocessor
    >>> df = pd.DataFrame({"age": [50.0, np.nan, 61.0, 45.0],
    ...                    "menopause": ["pre", "post", "post", None],
    ...                    "smoker": [0, 1, 1, 0]})
    >>> pre = ClinicalPreprocessor().set_output(transform="pandas")
    >>> list(pre.fit_transform(df).columns)
    ['age', 'smoker', 'menopause=post', 'menopause=pre', 'age:missing', 'menopause:missing']
    >>> pre.feature_groups_["menopause"]
    ['menopause=post', 'menopause=pre', 'menopause:missing']
    """

    def __init__(
        self,
        *,
        numeric: Sequence[str] | None = None,
        binary: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        on_invalid: str = "raise",
        min_frequency: int | float | None = None,
        scale: bool = True,
        skip_indicator: Sequence[str] | None = None,
        invalid_values: str = "raise",
        block_components: dict[str, int] | None = None,
    ):
        self.numeric = numeric
        self.binary = binary
        self.categorical = categorical
        self.on_invalid = on_invalid
        self.min_frequency = min_frequency
        self.scale = scale
        self.skip_indicator = skip_indicator
        self.invalid_values = invalid_values
        self.block_components = block_components

    # ------------------------------------------------------------------ input handling

    def _prepare(self, frame: pd.DataFrame, fitting: bool) -> pd.DataFrame:
        """Coerce the used columns to what the scikit-learn pieces expect."""
        out = {}
        problems: list[str] = []
        for col in self.numeric_ + self.binary_:
            kind = "numeric" if col in self.numeric_ else "binary"
            out[col], not_numbers, infinite = as_numbers(frame[col])
            problems += value_problems(col, kind, frame[col], not_numbers, infinite)
        self._report_invalid(problems)
        for col in self.categorical_:
            series = frame[col]
            labels = [np.nan if is_missing(v) else category_label(v) for v in series]
            out[col] = pd.Series(labels, index=frame.index, dtype=object)
        prepared = pd.DataFrame(out, index=frame.index)
        if fitting:
            for col in self.binary_:
                levels = np.unique(prepared[col].dropna())
                if len(levels) > 2:
                    raise ValueError(
                        f"Column {col!r} is binary but has {len(levels)} distinct values: "
                        f"{named(levels.tolist())}."
                    )
                # 0/1 columns keep their values (both allowed later, even if one is absent in
                # fit); any other two levels are coded 0 (smaller) and 1 (larger).
                if set(levels.tolist()) <= {0.0, 1.0}:
                    levels = np.array([0.0, 1.0])
                self.binary_levels_[col] = levels.tolist()
        else:
            self._report_unseen(prepared)
        for col in self.binary_:
            codes = {level: float(i) for i, level in enumerate(self.binary_levels_[col])}
            prepared[col] = prepared[col].map(codes)  # NaN (and unseen, masked above) stay NaN
        return prepared[self._used]

    def _report_invalid(self, problems: list[str]) -> None:
        """Raise on values that are not numbers, or warn that they are treated as missing."""
        if not problems:
            return
        listed = "; ".join(problems[:MAX_NAMED])
        more = len(problems) - MAX_NAMED
        listed += f"; and {more} more" if more > 0 else ""
        if self.invalid_values == "raise":
            raise ValueError(
                f"{listed}. Correct them, or pass invalid_values='missing' to treat them as "
                "missing values (graphboost predict: --invalid-values missing)."
            )
        warnings.warn(
            f"Treated as missing values (invalid_values='missing'): {listed}.",
            UserWarning,
            stacklevel=4,
        )

    def _report_unseen(self, prepared: pd.DataFrame) -> None:
        unseen: dict[str, list[object]] = {}
        for col in self.binary_:
            known = set(self.binary_levels_[col])
            values = prepared[col]
            new = values.notna() & ~values.isin(known)
            if new.any():
                unseen[col] = pd.unique(values[new]).tolist()
                prepared[col] = values.mask(new)  # imputed like a missing value
        for col in self.categorical_:
            values = prepared[col]
            new = values.notna() & ~values.isin(set(self.categories_[col]))
            if new.any():
                unseen[col] = pd.unique(values[new]).tolist()
        if unseen:
            details = "; ".join(f"{c!r}: {named(v)}" for c, v in list(unseen.items())[:MAX_NAMED])
            more = len(unseen) - MAX_NAMED
            handling = (
                "encoded as all zeros"
                if self.min_frequency is None
                else "put in the infrequent category"
            )
            warnings.warn(
                f"Values not seen in fit ({handling} for categorical columns, imputed for binary "
                f"columns) in {len(unseen)} column(s): {details}"
                + (f" and {more} more column(s)" if more > 0 else "")
                + ".",
                UnseenCategoryWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ fit / transform

    def fit(self, X, y=None):
        """Infer column types and fit imputers, scalers and encoders on ``X``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            The clinical table (may hold NaN, text and categorical columns).
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then transform ``X`` (see :meth:`fit` and :meth:`transform`)."""
        prepared, out = self._fit(X)
        return self._output(prepared, out)

    def _output(self, prepared: pd.DataFrame, out: np.ndarray | None = None) -> np.ndarray:
        """The column transformer's output (``out`` when already computed), with the reduced
        blocks' components."""
        if out is None:
            out = self.column_transformer_.transform(prepared).astype(float)
        return reduce_output(self.block_pca_, self.numeric_, prepared, out)

    def _fit(self, X) -> tuple[pd.DataFrame, np.ndarray | None]:
        """Fit; the prepared frame, and the column transformer's output if it was computed."""
        frame = self._check_fit_input(X)
        kinds = self._column_kinds(frame)
        self.numeric_, self.binary_, self.categorical_ = (
            kinds["numeric"],
            kinds["binary"],
            kinds["categorical"],
        )
        self._used = self.numeric_ + self.binary_ + self.categorical_
        if not self._used:
            raise ValueError("No usable column left in X after dropping invalid columns.")
        sources = check_block_components(self.block_components, self.numeric_, frame.columns)
        self.binary_levels_: dict[str, list[float]] = {}
        prepared = self._prepare(frame, fitting=True)
        self.training_ranges_ = fit_ranges(prepared, self.numeric_)
        skip = set(self.skip_indicator or ())
        with_missing = [c for c in self._used if c not in skip and prepared[c].isna().any()]
        self._n_samples_fit = len(prepared)
        self.column_transformer_ = self._column_transformer(with_missing).fit(prepared)
        self.block_pca_, out = {}, None
        if sources:
            out = self.column_transformer_.transform(prepared).astype(float)
            n = {str(k): int(v) for k, v in self.block_components.items()}
            self.block_pca_ = fit_block_pcas(sources, n, self.numeric_, prepared, out)
        self._set_fitted_names(with_missing)
        return prepared, out

    def _check_fit_input(self, X) -> pd.DataFrame:
        if self.on_invalid not in ("raise", "drop"):
            raise ValueError(f"on_invalid must be 'raise' or 'drop', got {self.on_invalid!r}.")
        self._check_invalid_values()
        frame = as_frame(X)
        validate_data(self, X, reset=True, skip_check_array=True)
        if isinstance(self.skip_indicator, str):
            raise TypeError(
                f"skip_indicator must be a list of column names, got the string "
                f"{self.skip_indicator!r}."
            )
        unknown = [c for c in (self.skip_indicator or ()) if c not in frame.columns]
        if unknown:
            raise ValueError(f"Columns given in skip_indicator are not in X: {named(unknown)}.")
        return frame

    def _column_kinds(self, frame: pd.DataFrame) -> dict[str, list[str]]:
        """Sort the columns by type; report (raise, or drop with a warning) the unusable ones."""
        forced = forced_kinds(frame.columns, self.numeric, self.binary, self.categorical)
        kinds, problems = sort_columns(frame, forced, lenient=self.invalid_values == "missing")
        # numbers with a decimal comma are refused even with on_invalid="drop": not unusable
        commas = {c: p for c, p in problems.items() if p.startswith(DECIMAL_COMMA)}
        if problems and (self.on_invalid == "raise" or commas):
            lenient = any(p.startswith(("numeric column", "infinite")) for p in problems.values())
            listed = problems if self.on_invalid == "raise" else commas
            raise ValueError(unusable_message(listed, lenient) + ".")
        if problems:
            listed = "; ".join(f"{c!r}: {p}" for c, p in list(problems.items())[:MAX_NAMED])
            more = len(problems) - MAX_NAMED
            listed += f"; and {more} more" if more > 0 else ""
            warnings.warn(
                f"Dropping {len(problems)} column(s): {listed}.", UserWarning, stacklevel=4
            )
        self.dropped_columns_ = problems
        return kinds

    def _column_transformer(self, with_missing: list[str]) -> ColumnTransformer:
        """The (unfitted) scikit-learn transformer for the typed columns."""
        steps = []
        if self.numeric_:
            numeric_steps = [SimpleImputer(strategy="median")]
            if self.scale:
                numeric_steps.append(StandardScaler())
            steps.append(("numeric", make_pipeline(*numeric_steps), self.numeric_))
        if self.binary_:
            steps.append(("binary", SimpleImputer(strategy="most_frequent"), self.binary_))
        if self.categorical_:
            encoder = OneHotEncoder(
                handle_unknown="ignore" if self.min_frequency is None else "infrequent_if_exist",
                min_frequency=self.min_frequency,
                sparse_output=False,
            )
            imputer = SimpleImputer(strategy="most_frequent")
            steps.append(("categorical", make_pipeline(imputer, encoder), self.categorical_))
        if with_missing:
            indicator = MissingIndicator(features="all", error_on_new=False)
            steps.append(("missing", indicator, with_missing))
        return ColumnTransformer(steps, remainder="drop")

    def _set_fitted_names(self, with_missing: list[str]) -> None:
        self.categories_ = {}
        if self.categorical_:
            fitted = self.column_transformer_.named_transformers_["categorical"][-1]
            for col, cats in zip(self.categorical_, fitted.categories_, strict=True):
                self.categories_[col] = [str(c) for c in cats]
        self._build_names(with_missing)

    def _build_names(self, with_missing: list[str]) -> None:
        names: list[str] = []
        sources: list[str] = []
        for col in self.numeric_ + self.binary_:
            names.append(col)
            sources.append(col)
        if self.categorical_:
            encoder = self.column_transformer_.named_transformers_["categorical"][-1]
            positional = [f"c{i}" for i in range(len(self.categorical_))]
            for name in encoder.get_feature_names_out(positional):
                index, _, category = name.partition("_")
                col = self.categorical_[int(index[1:])]
                label = "infrequent" if category == "infrequent_sklearn" else category
                names.append(f"{col}={label}")
                sources.append(col)
        for col in with_missing:
            names.append(f"{col}:missing")
            sources.append(col)
        names, sources = reduced_names(self.block_pca_, names, sources)
        counts = pd.Series(names).value_counts()
        clashes = counts[counts > 1].index.tolist()
        if clashes:
            raise ValueError(
                f"Output column names clash: {named(clashes)}; rename the input columns."
            )
        self._feature_names_out = np.asarray(names, dtype=object)
        self.source_columns_ = dict(zip(names, sources, strict=True))
        reduced = {c for record in self.block_pca_.values() for c in record["columns"]}
        groups: dict[str, list[str]] = {col: [] for col in self._used if col not in reduced}
        groups.update({block: [] for block in self.block_pca_})
        for name, col in zip(names, sources, strict=True):
            groups[col].append(name)
        self.feature_groups_ = groups

    def transform(self, X):
        """Impute, scale and encode ``X`` with what was learned in :meth:`fit`.

        Categories (and binary values) not seen in ``fit`` give an
        :class:`UnseenCategoryWarning` naming the column and up to five values. Columns seen in
        ``fit`` must all be there, under the same names and in the same order.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            No NaN. A DataFrame with ``set_output(transform="pandas")``.
        """
        frame = self._checked_frame(X)
        prepared = self._prepare(frame, fitting=False)
        return self._output(prepared)

    def find_outside_training_range(self, X) -> pd.DataFrame:
        """Which cells of ``X`` hold a numeric value outside the column's training range.

        Outside: beyond the lowest or highest value seen in ``fit`` by more than 10% of the
        range (``features.tables._training_range``), such as an age in days for a model fitted
        on years. Missing values and values that are not numbers are never outside.

        Returns
        -------
        pandas.DataFrame of bool
            Same index as ``X``, one column per numeric column.

        Raises
        ------
        ValueError
            Loaded from a file saved before the ranges were recorded (``training_ranges_`` None).
        """
        frame = self._checked_frame(X)
        if self.training_ranges_ is None:
            raise ValueError(
                "This preprocessor was saved before training ranges were recorded (format "
                "version 1); fit it again to check new values against them."
            )
        numbers = {c: as_numbers(frame[c])[0] for c in self.training_ranges_}
        return outside(self.training_ranges_, pd.DataFrame(numbers, index=frame.index))

    def find_invalid_values(self, X) -> pd.DataFrame:
        """Which cells of ``X`` hold a value that is not a finite number in a numeric column.

        These are the values that :meth:`transform` refuses (``invalid_values="raise"``) or
        treats as missing (``"missing"``): text such as ``"fifty"`` or ``">180"`` and
        infinities, in the numeric and binary columns. Missing values are not invalid.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            As for :meth:`transform`.

        Returns
        -------
        pandas.DataFrame of bool
            Same index as ``X`` (a range for arrays), one column per numeric or binary column.

        Examples
        --------
        >>> import pandas as pd
        >>> from features import ClinicalPreprocessor
        >>> pre = ClinicalPreprocessor().fit(pd.DataFrame({"age": [50.0, 61.0, 45.0]}))
        >>> new = pd.DataFrame({"age": ["fifty", "70", None]})
        >>> pre.find_invalid_values(new)["age"].tolist()
        [True, False, False]
        """
        frame = self._checked_frame(X)
        masks = {}
        for col in self.numeric_ + self.binary_:
            _, not_numbers, infinite = as_numbers(frame[col])
            masks[col] = (not_numbers | infinite).to_numpy(dtype=bool)
        return pd.DataFrame(masks, index=frame.index, columns=self.numeric_ + self.binary_)

    def _checked_frame(self, X) -> pd.DataFrame:
        """``X`` as a DataFrame with the columns seen in fit (else an error naming them)."""
        check_is_fitted(self, "column_transformer_")
        self._check_invalid_values()
        frame = as_frame(X)
        try:
            validate_data(self, X, reset=False, skip_check_array=True)
        except ValueError as exc:
            raise ValueError(self._column_mismatch(frame) + str(exc)) from None
        names = getattr(self, "feature_names_in_", None)
        if names is not None and not isinstance(X, pd.DataFrame):
            # an array after a fit on a DataFrame: its columns are taken in the fitted order, as
            # scikit-learn does (validate_data has warned that X has no feature names)
            frame = frame.set_axis([str(c) for c in names], axis=1)
        return frame

    def _check_invalid_values(self) -> None:
        if self.invalid_values not in ("raise", "missing"):
            raise ValueError(
                "The 'invalid_values' parameter of ClinicalPreprocessor must be 'raise' or "
                f"'missing'; got {self.invalid_values!r}."
            )

    def _column_mismatch(self, frame: pd.DataFrame) -> str:
        """One line naming the missing and unexpected columns (empty when the names agree)."""
        expected = getattr(self, "feature_names_in_", None)
        if expected is None:
            return ""
        missing = [c for c in expected if c not in frame.columns]
        extra = [c for c in frame.columns if c not in set(expected)]
        parts = []
        if missing:
            parts.append(f"Columns missing at transform time: {named(missing)} (seen in fit)")
        if extra:
            parts.append(f"columns not seen in fit: {named(extra)}")
        return "; ".join(parts) + ".\n" if parts else ""

    # ------------------------------------------------------------------ save / load

    def save(self, path: str | Path) -> Path:
        """Write the fitted preprocessor to one JSON file (no pickle), with a checksum.

        The file holds every fitted value (medians, means and scales, binary codes,
        categories, infrequent categories, the columns with a missing-value indicator, the
        output format set by :meth:`set_output`), a format version and the SHA-256 of its
        content. :func:`load_preprocessor` reads it back; the loaded preprocessor transforms
        exactly (bit for bit) as this one does.

        Parameters
        ----------
        path : str or Path
            The file to write (its folder must exist); an existing file is replaced
            atomically.

        Returns
        -------
        pathlib.Path
            ``path``.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np, pandas as pd
        >>> from features import ClinicalPreprocessor, load_preprocessor
        >>> df = pd.DataFrame({"age": [50.0, np.nan, 61.0], "site": ["a", "b", "a"]})
        >>> pre = ClinicalPreprocessor().fit(df)
        >>> path = pre.save(os.path.join(tempfile.mkdtemp(), "preprocessor.json"))
        >>> bool(np.array_equal(load_preprocessor(path).transform(df), pre.transform(df)))
        True
        """
        check_is_fitted(self, "column_transformer_")
        return write_checked_json(path, kind=FORMAT, version=FORMAT_VERSION, payload=state_of(self))

    def get_feature_names_out(self, input_features=None):
        """Output column names (see Notes of the class)."""
        check_is_fitted(self, "column_transformer_")
        if input_features is not None:
            expected = getattr(self, "feature_names_in_", None)
            if expected is None:
                expected = np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
            if len(input_features) != len(expected) or not np.array_equal(
                np.asarray(input_features, dtype=object), expected
            ):
                raise ValueError("input_features is not equal to feature_names_in_")
        return self._feature_names_out.copy()

    def map_groups(self, groups: dict[str, Sequence[str]]) -> dict[str, list[str]]:
        """Translate groups of source columns into groups of output columns.

        Parameters
        ----------
        groups : dict of str to list of str
            Group name -> source column names (e.g. ``load_duke(...).feature_groups``).

        Returns
        -------
        dict of str to list of str
            Group name -> output column names of those sources (dropped sources are skipped;
            a group left empty is left out).

        Examples
        --------
        >>> import pandas as pd
        >>> from features import ClinicalPreprocessor
        >>> df = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": ["x", "y", "x"]})
        >>> ClinicalPreprocessor().fit(df).map_groups({"both": ["a", "b"]})
        {'both': ['a', 'b=x', 'b=y']}
        """
        check_is_fitted(self, "column_transformer_")
        block_of = {c: b for b, record in self.block_pca_.items() for c in record["columns"]}
        known = set(self.feature_groups_) | set(self.dropped_columns_) | set(block_of)
        unknown = [c for cols in groups.values() for c in cols if c not in known]
        if unknown:
            raise ValueError(f"Columns in groups are not columns of X: {named(unknown)}.")
        mapped = {
            name: list(
                dict.fromkeys(
                    out for c in cols for out in self.feature_groups_.get(block_of.get(c, c), [])
                )
            )
            for name, cols in groups.items()
        }
        return {name: cols for name, cols in mapped.items() if cols}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


def load_preprocessor(path: str | Path) -> ClinicalPreprocessor:
    """Load a :class:`ClinicalPreprocessor` written by :meth:`ClinicalPreprocessor.save`.

    Only JSON is read; nothing in the file is run. The file's SHA-256 checksum and format
    version are checked first.

    Parameters
    ----------
    path : str or Path
        The JSON file written by ``save``.

    Returns
    -------
    ClinicalPreprocessor
        Fitted; its :meth:`~ClinicalPreprocessor.transform` gives, bit for bit, what the saved
        preprocessor gave.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    ValueError
        The file is not JSON, is not a saved ClinicalPreprocessor, has another format version,
        does not match its checksum (altered or damaged), or holds an inconsistent state. The
        message names the path.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from features import ClinicalPreprocessor, load_preprocessor
    >>> df = pd.DataFrame({"bmi": [21.0, 30.5, 25.0], "sex": ["f", "m", "f"]})
    >>> path = os.path.join(tempfile.mkdtemp(), "preprocessor.json")
    >>> _ = ClinicalPreprocessor().set_output(transform="pandas").fit(df).save(path)
    >>> list(load_preprocessor(path).transform(df).columns)
    ['bmi', 'sex=f', 'sex=m']
    """
    state = read_checked_json(path, kind=FORMAT, version=READ_VERSIONS, what="ClinicalPreprocessor")
    try:
        return restore(ClinicalPreprocessor(**state["params"]), state)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"'{path}' holds an inconsistent ClinicalPreprocessor state "
            f"({type(exc).__name__}: {exc}); save it again from the fitted object."
        ) from exc
