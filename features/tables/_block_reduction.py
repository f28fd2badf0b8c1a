"""Embedding blocks reduced to principal components inside ``ClinicalPreprocessor.fit``.

A 256-column embedding block is mostly distance noise for a few hundred patients. With
``ClinicalPreprocessor(block_components={"mri": 8})`` the block's columns (``"mri:..."``, after
imputation and scaling) are replaced by their first 8 principal components, ``"mri:pc0"`` ...
``"mri:pc7"``, fitted on the rows that have the block (``"mri:missing"`` not 1). Rows lacking it
get 0 in every component: the mean, as the imputed columns would give. The fitted values are plain
arrays (mean and components), saved with the preprocessor's JSON.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from .._common import named


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
        indicator = f"{block}:missing"
        found = [c for c in columns if str(c).startswith(f"{block}:") and c != indicator]
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
    """Rows that have the block (its indicator, when X has one, is not 1)."""
    indicator = f"{block}:missing"
    if indicator not in prepared.columns:
        return np.ones(len(prepared), dtype=bool)
    return prepared[indicator].to_numpy() != 1


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
        values = out[present][:, idx]
        k = int(min(n_components[block], present.sum(), len(columns)))
        pca = PCA(n_components=k, svd_solver="full").fit(values)
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
            components = (out[:, idx] - record["mean"]) @ record["components"].T
            components[~_present(prepared, block)] = 0.0
            columns.append(components)
        elif j not in members:
            columns.append(out[:, j : j + 1])
    return np.concatenate(columns, axis=1)


def reduced_names(fitted, names, sources_of):
    """Output names, source of each, with each block's columns replaced by its components."""
    by_column = {c: b for b, r in fitted.items() for c in r["columns"]}
    out_names, out_sources, done = [], [], set()
    for name, source in zip(names, sources_of, strict=True):
        block = by_column.get(name)
        if block is None:
            out_names.append(name)
            out_sources.append(source)
        elif block not in done:
            done.add(block)
            k = fitted[block]["components"].shape[0]
            out_names += [f"{block}:pc{i}" for i in range(k)]
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
