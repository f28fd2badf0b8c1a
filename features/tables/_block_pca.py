"""BlockPCA: reduce one block of columns (e.g. a 256-d embedding) inside the fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["BlockPCA"]

_MAX_AUTO_COMPONENTS = 32
_PATIENTS_PER_COMPONENT = 20


class BlockPCA(TransformerMixin, BaseEstimator):
    """Replace the columns of one block by their first principal components, fitted in ``fit``.

    A 256-dimensional embedding block is mostly distance noise for a few hundred patients: a
    nearest-neighbor graph on it links patients that are close in directions unrelated to the
    outcome. Fitted inside the training fold (in a :class:`~sklearn.pipeline.Pipeline`), this
    transformer standardizes the block's columns and keeps ``n_components`` principal
    components; the other columns of ``X`` pass through. Patients lacking the block (NaN in all
    of its columns, or 1 in ``"<block>:missing"`` as :class:`features.Cohort` writes it) are left
    out of the fit and keep NaN in the components.

    Parameters
    ----------
    block : str
        The block's name: its columns are those named ``"<block>:..."``, except the indicator
        ``"<block>:missing"``.
    n_components : int, float or "auto", default="auto"
        An int keeps that many components; a float in (0, 1) keeps the fewest components that
        explain that share of the variance; ``"auto"`` keeps one component per 20 patients with
        the block, between 2 and 32 (and at most the number of columns).
    random_state : int, default=0
        Passed to :class:`~sklearn.decomposition.PCA` (randomized solver on large blocks).

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

    def __init__(self, *, block, n_components="auto", random_state=0):
        self.block = block
        self.n_components = n_components
        self.random_state = random_state

    def _indicator(self) -> str:
        return f"{self.block}:missing"

    def _block_columns(self, X: pd.DataFrame) -> list[str]:
        prefix = f"{self.block}:"
        return [c for c in X.columns if str(c).startswith(prefix) and c != self._indicator()]

    def _present(self, X: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """Rows that have the block: not all NaN, and not flagged by the indicator."""
        present = ~X[columns].isna().all(axis=1).to_numpy()
        if self._indicator() in X.columns:
            present &= X[self._indicator()].to_numpy() != 1
        partial = present & X[columns].isna().any(axis=1).to_numpy()
        if partial.any():
            raise ValueError(
                f"Block {self.block!r} has NaN in {int(partial.sum())} row(s) that have some of "
                "its values: a block is either whole or missing for a patient."
            )
        return present

    def _n_components(self, n_present: int, n_columns: int):
        limit = min(n_present, n_columns)
        value = self.n_components
        if value == "auto":
            auto = n_present // _PATIENTS_PER_COMPONENT
            return int(min(limit, _MAX_AUTO_COMPONENTS, max(2, auto)))
        if isinstance(value, float) and 0.0 < value < 1.0:
            return value
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1:
            return int(min(value, limit))
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
        columns = self._block_columns(X)
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
        self.pca_ = PCA(n_components=n_components, random_state=self.random_state)
        self.pca_.fit(self.scaler_.transform(values))
        self.n_components_ = int(self.pca_.n_components_)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self.columns_ = columns
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """``X`` with the block's columns replaced by ``"<block>:pc0"``, ``"<block>:pc1"``...

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        pandas.DataFrame
            Same index; the components take the place of the block's first column.
        """
        check_is_fitted(self, "pca_")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"BlockPCA needs X as a pandas DataFrame; got {type(X).__name__}.")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"Columns missing at transform time: {missing[:5]}.")
        present = self._present(X, self.columns_)
        components = np.full((len(X), self.n_components_), np.nan)
        if present.any():
            values = X.loc[present, self.columns_].to_numpy(dtype=float)
            components[present] = self.pca_.transform(self.scaler_.transform(values))
        names = self._component_names()
        at = list(X.columns).index(self.columns_[0])
        kept = X.drop(columns=self.columns_)
        before, after = kept.iloc[:, :at], kept.iloc[:, at:]
        block = pd.DataFrame(components, index=X.index, columns=names)
        return pd.concat([before, block, after], axis=1)

    def _component_names(self) -> list[str]:
        return [f"{self.block}:pc{i}" for i in range(self.n_components_)]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The input columns with the block's columns replaced by its components."""
        check_is_fitted(self, "pca_")
        names = list(self.feature_names_in_)
        at = names.index(str(self.columns_[0]))
        kept = [c for c in names if c not in set(map(str, self.columns_))]
        return np.asarray(kept[:at] + self._component_names() + kept[at:], dtype=object)
