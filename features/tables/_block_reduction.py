"""One block of columns reduced to its first principal components: the one implementation.

A 256-column embedding block is mostly distance noise for a few hundred patients. Two public
transformers reduce such a block inside the training fold, and both do it here, with the same
math: :func:`block_columns` finds the block's columns (``"<block>:..."``, not the indicator
``"<block>:missing"``), :func:`fit_pca` fits an exact PCA (full SVD) on the rows that have the
block, and :func:`project` gives every row its components ``(values - mean) @ components.T``.

- ``ClinicalPreprocessor(block_components={"mri": 8})`` reduces the block after its own
  imputation and scaling, fitted on the rows whose ``"mri:missing"`` is not 1; the fitted values
  are plain arrays (mean and components), saved with the preprocessor's JSON
  (:func:`fit_block_pcas`, :func:`reduce_output`, :func:`state_of`, :func:`from_state`).
- :class:`features.tables.BlockPCA` standardizes the block itself (on the rows that have it)
  and reduces it in the same way, as a step of its own in a pipeline.

What a patient without the block gets is the one thing the two choose differently, each by the
contract of its output (:func:`project` takes it as ``absent``): the preprocessor's output has no
NaN, so such a patient gets 0 in every component, the mean of the training patients' components
(what mean imputation would give), and its ``"<block>:missing"`` column carries the absence;
``BlockPCA`` passes a table on to a next step and keeps NaN there, as its input had: it may have
no indicator column, and a 0 would make the absence invisible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from .._common import named


def indicator_of(block: str) -> str:
    """The name of the block's missing-block indicator column, ``"<block>:missing"``."""
    return f"{block}:missing"


def block_columns(columns, block: str) -> list:
    """The block's columns among ``columns``: named ``"<block>:..."``, except its indicator.

    Examples
    --------
    >>> block_columns(["age", "mri:0", "mri:1", "mri:missing"], "mri")
    ['mri:0', 'mri:1']
    """
    prefix, indicator = f"{block}:", indicator_of(block)
    return [c for c in columns if str(c).startswith(prefix) and c != indicator]


def flagged_absent(frame: pd.DataFrame, block: str) -> np.ndarray:
    """Rows whose indicator ``"<block>:missing"`` is 1 (none when ``frame`` has no indicator)."""
    indicator = indicator_of(block)
    if indicator not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[indicator].to_numpy() == 1


def fit_pca(values: np.ndarray, n_components) -> PCA:
    """An exact PCA (full SVD) of ``values``, the rows that have the block.

    ``n_components``: an int keeps that many components, at most one per row and per column; a
    float in (0, 1) keeps the fewest components explaining that share of the variance.

    Examples
    --------
    >>> import numpy as np
    >>> fit_pca(np.random.default_rng(0).normal(size=(5, 3)), 8).n_components_
    3
    """
    if isinstance(n_components, int | np.integer):
        n_components = int(min(n_components, values.shape[0], values.shape[1]))
    return PCA(n_components=n_components, svd_solver="full").fit(values)


def project(values: np.ndarray, fitted, present: np.ndarray, absent: float) -> np.ndarray:
    """Every row's components, ``(values - mean) @ components.T``; ``absent`` in the rows
    without the block (``present`` False).

    ``fitted`` is a :class:`~sklearn.decomposition.PCA` from :func:`fit_pca` or a record with
    its ``"mean"`` and ``"components"`` (as the preprocessor saves them).
    """
    if isinstance(fitted, PCA):
        mean, components = fitted.mean_, fitted.components_
    else:
        mean, components = fitted["mean"], fitted["components"]
    out = (values - mean) @ components.T
    out[~present] = absent
    return out


def component_names(block: str, k: int) -> list[str]:
    """``["<block>:pc0", ..., "<block>:pc<k-1>"]``."""
    return [f"{block}:pc{i}" for i in range(k)]


def check_block_components(block_components, numeric: list[str], columns) -> dict[str, list]:
    """Block -> its (numeric) source columns; a clear error for anything else.

    Examples
    --------
    >>> check_block_components({"mri": 2}, ["age", "mri:0", "mri:1"], ["age", "mri:0", "mri:1"])
    {'mri': ['mri:0', 'mri:1']}
    """
    if block_components is None:
        return {}
    if not isinstance(block_components, dict):
        raise TypeError(
            "block_components must be a dict of block name -> number of components, e.g. "
            f"{{'mri': 8}}; got {type(block_components).__name__}."
        )
    sources = {}
    for block, n in block_components.items():
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(
                f"block_components[{block!r}] must be a whole number of components >= 1; got {n!r}."
            )
        if str(block) in set(map(str, columns)):
            raise ValueError(
                f"block_components names block {block!r}, which is also a column of X: its "
                "components could not be told from that column."
            )
        found = block_columns(columns, block)
        if not found:
            raise ValueError(
                f"block_components names block {block!r}, but X has no column named '{block}:...'."
            )
        not_numeric = [c for c in found if c not in set(numeric)]
        if not_numeric:
            raise ValueError(
                f"Block {block!r} in block_components has columns that are not numeric: "
                f"{named(not_numeric)}."
            )
        sources[str(block)] = [str(c) for c in found]
    return sources


def _present(prepared: pd.DataFrame, block: str) -> np.ndarray:
    """Rows that have the block, for the preprocessor: not flagged by the indicator.

    The preprocessor imputes the block's values before reducing them, so the indicator (when X
    has one) is what says a patient lacks the block.
    """
    return ~flagged_absent(prepared, block)


def fit_block_pcas(sources, n_components, numeric, prepared, out) -> dict[str, dict]:
    """Block -> ``{"columns", "mean", "components", "explained_variance_ratio"}``.

    ``out`` is the column transformer's output, whose first columns are ``numeric`` (imputed
    and scaled), in that order.
    """
    fitted = {}
    for block, columns in sources.items():
        present = _present(prepared, block)
        if present.sum() < 2:
            raise ValueError(
                f"Block {block!r} in block_components is present for {int(present.sum())} "
                "row(s) of X; principal components need at least 2."
            )
        idx = [numeric.index(c) for c in columns]
        pca = fit_pca(out[present][:, idx], n_components[block])
        fitted[block] = {
            "columns": list(columns),
            "mean": pca.mean_,
            "components": pca.components_,
            "explained_variance_ratio": pca.explained_variance_ratio_,
        }
    return fitted


def reduce_output(fitted, numeric, prepared, out) -> np.ndarray:
    """``out`` with each block's columns replaced by its components (at its first column)."""
    if not fitted:
        return out
    first, members = {}, set()
    for block, record in fitted.items():
        idx = [numeric.index(c) for c in record["columns"]]
        first[min(idx)] = (block, idx)
        members.update(idx)
    columns = []
    for j in range(out.shape[1]):
        if j in first:
            block, idx = first[j]
            record = fitted[block]
            present = _present(prepared, block)
            # 0 for a patient without the block: the output has no NaN (see the module's notes)
            columns.append(project(out[:, idx], record, present, absent=0.0))
        elif j not in members:
            columns.append(out[:, j : j + 1])
    return np.concatenate(columns, axis=1)


def reduced_names(fitted, names, sources_of):
    """Output names, source of each, with each block's columns replaced by its components.

    A block column's own missing-value indicator (``"mri:0:missing"``, when the preprocessor
    gave it one: no ``skip_indicator``) stays, and belongs to the block.
    """
    by_column = {c: b for b, r in fitted.items() for c in r["columns"]}
    out_names, out_sources, done = [], [], set()
    for name, source in zip(names, sources_of, strict=True):
        block = by_column.get(name)
        if block is None:
            out_names.append(name)
            out_sources.append(by_column.get(source, source))
        elif block not in done:
            done.add(block)
            k = fitted[block]["components"].shape[0]
            out_names += component_names(block, k)
            out_sources += [block] * k
    return out_names, out_sources


def state_of(fitted) -> dict:
    """JSON data of the fitted blocks."""
    return {
        block: {
            "columns": list(r["columns"]),
            "mean": r["mean"].tolist(),
            "components": r["components"].tolist(),
            "explained_variance_ratio": r["explained_variance_ratio"].tolist(),
        }
        for block, r in fitted.items()
    }


def from_state(state) -> dict[str, dict]:
    """The fitted blocks from :func:`state_of` output."""
    return {
        str(block): {
            "columns": [str(c) for c in r["columns"]],
            "mean": np.asarray(r["mean"], dtype=float),
            "components": np.asarray(r["components"], dtype=float).reshape(-1, len(r["columns"])),
            "explained_variance_ratio": np.asarray(r["explained_variance_ratio"], dtype=float),
        }
        for block, r in (state or {}).items()
    }
