"""A small tabular preprocessor with safe JSON persistence, and the preprocessing factory.

:class:`TablePreprocessor` imputes (median for numeric, most frequent for categorical, with a
missing-value indicator for every numeric column that had missing values in ``fit``), standardises
numeric columns and one-hot encodes categorical ones. Its fitted state is plain numbers and strings,
so a model folder written by the command line stores it as JSON (no pickle). Numeric columns keep
their names, so ``feature_groups`` written against the user's column names still apply after it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

_FORMAT = "graphboost-table-preprocessor/1"


def _is_numeric(series):
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


class TablePreprocessor(TransformerMixin, BaseEstimator):
    """Impute, scale and one-hot encode a clinical table; output a numeric DataFrame.

    Parameters
    ----------
    max_categories : int, default=30
        Categorical columns with more distinct values than this raise an error (usually an
        identifier or free text that should be excluded).
    scale : bool, default=True
        Standardise numeric columns (mean 0, unit variance on the training rows).

    Attributes
    ----------
    numeric_ : list of str
    categorical_ : dict of str to list of str
        Categories seen in ``fit`` per categorical column.
    indicators_ : list of str
        Numeric columns that get a ``<col>__missing`` indicator.
    source_columns_ : dict of str to str
        Output column -> input column it came from.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [50.0, None, 70.0], "site": ["a", "b", "a"]})
    >>> TablePreprocessor().fit_transform(df).columns.tolist()
    ['age', 'age__missing', 'site=a', 'site=b']
    """

    def __init__(self, max_categories=30, scale=True):
        self.max_categories = max_categories
        self.scale = scale

    def fit(self, X, y=None):
        """Learn imputation values, scales and categories from the training rows."""
        X = self._check_frame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.numeric_, self.categorical_, self.indicators_ = [], {}, []
        self.medians_, self.means_, self.scales_, self.fill_ = {}, {}, {}, {}
        all_missing = [c for c in X.columns if X[c].isna().all()]
        if all_missing:
            raise ValueError(
                f"Columns with no observed value cannot be used: {all_missing[:5]}. "
                "Exclude them (--exclude) or fill them."
            )
        for col in X.columns:
            s = X[col]
            if _is_numeric(s):
                values = s.to_numpy(dtype=float)
                med = float(np.nanmedian(values))
                filled = np.where(np.isnan(values), med, values)
                sd = float(filled.std()) if self.scale else 1.0
                self.numeric_.append(col)
                self.medians_[col] = med
                self.means_[col] = float(filled.mean()) if self.scale else 0.0
                self.scales_[col] = sd if sd > 0 else 1.0
                if s.isna().any():
                    self.indicators_.append(col)
            else:
                cats = sorted(s.dropna().astype(str).unique().tolist())
                if len(cats) > self.max_categories:
                    raise ValueError(
                        f"Column {col!r} has {len(cats)} distinct values (more than "
                        f"max_categories={self.max_categories}); it looks like an identifier or "
                        "free text. Exclude it or encode it as numbers."
                    )
                self.categorical_[col] = cats
                self.fill_[col] = str(s.dropna().astype(str).mode().iloc[0])
        self._set_names()
        return self

    def _set_names(self):
        names, sources = [], {}
        for col in self.numeric_:
            names.append(col)
            sources[col] = col
            if col in self.indicators_:
                names.append(f"{col}__missing")
                sources[f"{col}__missing"] = col
        for col, cats in self.categorical_.items():
            for cat in cats:
                names.append(f"{col}={cat}")
                sources[f"{col}={cat}"] = col
        self.source_columns_ = sources
        self._names_out = names

    @staticmethod
    def _check_frame(X):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"TablePreprocessor expects a pandas DataFrame; got {type(X).__name__}."
            )
        return X

    def transform(self, X):
        """Apply the fitted imputation, scaling and encoding."""
        check_is_fitted(self, "numeric_")
        X = self._check_frame(X)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"Columns missing at transform time: {missing[:5]}")
        out = {}
        for col in self.numeric_:
            values = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=float)
            nan = np.isnan(values)
            values = np.where(nan, self.medians_[col], values)
            out[col] = (values - self.means_[col]) / self.scales_[col]
            if col in self.indicators_:
                out[f"{col}__missing"] = nan.astype(float)
        unseen = {}
        for col, cats in self.categorical_.items():
            s = X[col].astype("string").fillna(self.fill_[col]).astype(str)
            new = sorted(set(s) - set(cats))
            if new:
                unseen[col] = new[:5]
            for cat in cats:
                out[f"{col}={cat}"] = (s == cat).to_numpy(dtype=float)
        if unseen:
            desc = "; ".join(f"{c!r}: {v}" for c, v in list(unseen.items())[:5])
            warnings.warn(
                f"Categories not seen in fit (encoded as all zeros) in {len(unseen)} column(s): "
                f"{desc}.",
                UserWarning,
                stacklevel=2,
            )
        return pd.DataFrame(out, index=X.index, columns=self._names_out)

    def get_feature_names_out(self, input_features=None):
        """Output column names."""
        check_is_fitted(self, "numeric_")
        return np.asarray(self._names_out, dtype=object)

    def to_dict(self):
        """Fitted state as JSON-serialisable data."""
        check_is_fitted(self, "numeric_")
        return {
            "format": _FORMAT,
            "params": self.get_params(),
            "feature_names_in": [str(c) for c in self.feature_names_in_],
            "numeric": self.numeric_,
            "categorical": self.categorical_,
            "indicators": self.indicators_,
            "medians": self.medians_,
            "means": self.means_,
            "scales": self.scales_,
            "fill": self.fill_,
        }

    @classmethod
    def from_dict(cls, state):
        """Rebuild a fitted preprocessor from :meth:`to_dict` output."""
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            found = state.get("format") if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"Not a graphboost table preprocessor state (expected format {_FORMAT!r}, "
                f"found {found!r})."
            )
        obj = cls(**state["params"])
        obj.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        obj.n_features_in_ = len(obj.feature_names_in_)
        obj.numeric_ = list(state["numeric"])
        obj.categorical_ = {k: list(v) for k, v in state["categorical"].items()}
        obj.indicators_ = list(state["indicators"])
        obj.medians_ = dict(state["medians"])
        obj.means_ = dict(state["means"])
        obj.scales_ = dict(state["scales"])
        obj.fill_ = dict(state["fill"])
        obj._set_names()
        return obj


class GroupColumns:
    """Picklable column selector for a ``feature_groups`` entry after preprocessing.

    Called with the preprocessed DataFrame, it returns the output columns that came from the given
    input columns (a numeric column keeps its name; one-hot and indicator columns are recognised by
    ``=`` and ``__missing`` / ``:missing`` suffixes of :class:`TablePreprocessor` and of
    ``features.ClinicalPreprocessor``, and by the ``<transformer>__`` prefixes of scikit-learn's
    ``ColumnTransformer``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame(columns=["e0", "e1", "age", "site=a"])
    >>> GroupColumns(["e0", "e1"])(df)
    ['e0', 'e1']
    """

    def __init__(self, columns):
        self.columns = list(columns)

    def __call__(self, X):
        wanted = set(map(str, self.columns))
        out = []
        for c in map(str, X.columns):
            base = c.split("=", 1)[0].removesuffix("__missing").removesuffix(":missing")
            if c in wanted or base in wanted or c.split("__", 1)[-1] in wanted:
                out.append(c)
        return out

    def __repr__(self):
        return f"GroupColumns({self.columns!r})"
