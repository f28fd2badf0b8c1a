"""BlockPCA: reduce one block of columns (e.g. a 256-d embedding) inside the fold."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._block_reduction import block_columns, component_names, fit_pca, flagged_absent, project

__all__ = ["BlockPCA"]

_MAX_AUTO_COMPONENTS = 32
_PATIENTS_PER_COMPONENT = 20


class BlockPCA(TransformerMixin, BaseEstimator):
    """Replace the columns of one block by their first principal components, fitted in ``fit``.

    A 256-dimensional embedding block is mostly distance noise for a few hundred patients: a
    nearest-neighbor graph on it links patients that are close in directions unrelated to the
    outcome. Fitted inside the training fold (in a :class:`~sklearn.pipeline.Pipeline`), this
    transformer standardizes the block's columns and keeps ``n_components`` principal
    components; the other columns of ``X`` pass through. The components are those of
    ``ClinicalPreprocessor(block_components=...)``, computed by the same code (an exact PCA,
    full SVD, of the rows that have the block); this transformer standardizes the block itself,
    where the preprocessor reduces its own imputed and scaled columns.

    Patients lacking the block (NaN in all of its columns, or 1 in ``"<block>:missing"`` as
    :class:`features.Cohort` writes it) are left out of the fit and keep NaN in the components:
    the output goes on to a next step (an imputer, :class:`features.ClinicalPreprocessor`, a
    model that takes NaN), and NaN keeps the absence visible there, also when ``X`` has no
    indicator column. (The preprocessor, whose output has no NaN, gives them 0 instead: the mean
    of the training patients' components.)

    Parameters
    ----------
    block : str
        The block's name: its columns are those named ``"<block>:..."``, except the indicator
        ``"<block>:missing"``.
    n_components : int, float or "auto", default="auto"
        An int keeps that many components; a float in (0, 1) keeps the fewest components that
        explain that share of the variance; ``"auto"`` keeps one component per 20 patients with
        the block, between 2 and 32 (and at most the number of columns).
    random_state : deprecated
        Has no effect: the components are exact (full SVD), with no random draw. It chose the
        draws of scikit-learn's randomized solver, which this transformer used on large blocks
        before it shared the preprocessor's code. Setting it gives a ``FutureWarning``; it will
        be removed.

    Notes
    -----
    Changed when BlockPCA came to share the preprocessor's code: the components are exact. On a
    block where scikit-learn's automatic choice was its randomized solver (more than 500 rows
    or columns, fewer rows than 10 per column, and an int ``n_components`` below 80% of the
    smaller of the two) they differ from the approximate ones of before, and ``fit`` says so
    with a ``FutureWarning``; on other blocks they agree to rounding.

    Attributes
    ----------
    columns_ : list of str
        The block's columns in ``fit``.
    n_components_ : int
        Components kept.
    explained_variance_ratio_ : ndarray of shape (n_components_,)
    pca_ : sklearn.decomposition.PCA
    scaler_ : sklearn.preprocessing.StandardScaler
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from features import BlockPCA
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(60, 16)), columns=[f"emb:{i}" for i in range(16)])
    >>> X.insert(0, "age", rng.normal(60, 10, 60))
    >>> out = BlockPCA(block="emb").fit_transform(X)
    >>> list(out.columns)
    ['age', 'emb:pc0', 'emb:pc1', 'emb:pc2']
    """

    def __init__(self, *, block, n_components="auto", random_state="deprecated"):
        self.block = block
        self.n_components = n_components
        self.random_state = random_state

    def _present(self, X: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """Rows that have the block: not all NaN, and not flagged by the indicator."""
        present = ~X[columns].isna().all(axis=1).to_numpy() & ~flagged_absent(X, self.block)
        partial = present & X[columns].isna().any(axis=1).to_numpy()
        if partial.any():
            raise ValueError(
                f"Block {self.block!r} has NaN in {int(partial.sum())} row(s) that have some of "
                "its values: a block is either whole or missing for a patient."
            )
        return present

    def _n_components(self, n_present: int, n_columns: int):
        """The ``n_components`` given to :func:`fit_pca` (which caps an int by the data)."""
        value = self.n_components
        if value == "auto":
            auto = n_present // _PATIENTS_PER_COMPONENT
            return int(min(n_present, n_columns, _MAX_AUTO_COMPONENTS, max(2, auto)))
        if isinstance(value, float) and 0.0 < value < 1.0:
            return value
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1:
            return int(value)
        raise ValueError(
            "The 'n_components' parameter of BlockPCA must be 'auto', an integer >= 1 or a "
            f"float in (0, 1); got {value!r}."
        )

    def fit(self, X, y=None):
        """Fit the scaler and the PCA on the rows that have the block.

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        self
        """
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"BlockPCA needs X as a pandas DataFrame; got {type(X).__name__}.")
        self._warn_random_state()
        columns = block_columns(X.columns, self.block)
        if not columns:
            raise ValueError(
                f"Block {self.block!r} (parameter 'block' of BlockPCA) has no column in X: "
                f"expected columns named '{self.block}:...'."
            )
        present = self._present(X, columns)
        if present.sum() < 2:
            raise ValueError(f"Block {self.block!r} is present for {int(present.sum())} row(s).")
        values = X.loc[present, columns].to_numpy(dtype=float)
        self.scaler_ = StandardScaler().fit(values)
        n_components = self._n_components(int(present.sum()), len(columns))
        self.pca_ = fit_pca(self.scaler_.transform(values), n_components)
        _warn_if_randomized_before(values.shape, n_components)
        self.n_components_ = int(self.pca_.n_components_)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self.columns_ = columns
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _warn_random_state(self) -> None:
        if not (isinstance(self.random_state, str) and self.random_state == "deprecated"):
            warnings.warn(
                "The 'random_state' parameter of BlockPCA has no effect: the components are "
                "exact (full SVD), as ClinicalPreprocessor(block_components=...) computes "
                "them. It will be removed; drop it.",
                FutureWarning,
                stacklevel=3,
            )

    def transform(self, X):
        """``X`` with the block's columns replaced by ``"<block>:pc0"``, ``"<block>:pc1"``...

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        pandas.DataFrame
            Same index; the components take the place of the block's first column; NaN in
            them for the patients without the block.
        """
        check_is_fitted(self, "pca_")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"BlockPCA needs X as a pandas DataFrame; got {type(X).__name__}.")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"Columns missing at transform time: {missing[:5]}.")
        present = self._present(X, self.columns_)
        # Rows without the block are scaled and projected as NaN, and stay NaN: the absence
        # stays visible to the next step (see the class docstring).
        scaled = self.scaler_.transform(X[self.columns_].to_numpy(dtype=float))
        components = project(scaled, self.pca_, present, absent=np.nan)
        at = list(X.columns).index(self.columns_[0])
        kept = X.drop(columns=self.columns_)
        before, after = kept.iloc[:, :at], kept.iloc[:, at:]
        names = component_names(self.block, self.n_components_)
        block = pd.DataFrame(components, index=X.index, columns=names)
        return pd.concat([before, block, after], axis=1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The input columns with the block's columns replaced by its components."""
        check_is_fitted(self, "pca_")
        names = list(self.feature_names_in_)
        at = names.index(str(self.columns_[0]))
        kept = [c for c in names if c not in set(map(str, self.columns_))]
        components = component_names(self.block, self.n_components_)
        return np.asarray(kept[:at] + components + kept[at:], dtype=object)


def _warn_if_randomized_before(shape: tuple[int, int], n_components) -> None:
    """Warn where the components differ from those of BlockPCA before it shared the
    preprocessor's code: on the blocks where scikit-learn's ``svd_solver="auto"`` (which it
    used) picks the randomized, approximate solver."""
    n, d = shape
    if isinstance(n_components, float) or (d <= 1_000 and n >= 10 * d) or max(n, d) <= 500:
        return
    if 1 <= n_components < 0.8 * min(n, d):
        warnings.warn(
            f"BlockPCA now computes exact principal components (full SVD), with the code of "
            f"ClinicalPreprocessor(block_components=...). On this block ({n} rows with it, {d} "
            f"columns, {n_components} components) it used scikit-learn's randomized solver "
            "before: its components were approximate and differ from these.",
            FutureWarning,
            stacklevel=3,
        )
