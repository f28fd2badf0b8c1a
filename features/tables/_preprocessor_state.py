"""The fitted state of a ClinicalPreprocessor as JSON data, and back.

:meth:`features.tables.ClinicalPreprocessor.save` writes :func:`state_of` with a checksum;
:func:`features.tables.load_preprocessor` rebuilds the fitted preprocessor with :func:`restore`.
Only plain numbers and text are stored: nothing in a file is run when it is read.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from ._block_reduction import from_state as blocks_from_state
from ._block_reduction import state_of as blocks_state_of
from ._training_range import ranges_from_state, ranges_state

FORMAT = "features.ClinicalPreprocessor"
FORMAT_VERSION = 2
#: Versions :func:`features.tables.load_preprocessor` reads. Version 1 files have no training
#: ranges (``training_ranges_`` is None: new values are not checked against them).
READ_VERSIONS = (1, 2)


def _json_param(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json_param(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_param(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def state_of(pre) -> dict:
    """Every fitted value of the preprocessor ``pre`` as JSON data (plain numbers and text)."""
    fitted = pre.column_transformer_.named_transformers_
    names_in = getattr(pre, "feature_names_in_", None)
    state: dict = {
        "params": {k: _json_param(v) for k, v in pre.get_params(deep=False).items()},
        "output": getattr(pre, "_sklearn_output_config", {}).get("transform"),
        "feature_names_in": None if names_in is None else [str(c) for c in names_in],
        "n_features_in": int(pre.n_features_in_),
        "n_samples": int(pre._n_samples_fit),
        "dropped_columns": dict(pre.dropped_columns_),
        "numeric": [],
        "binary": [],
        "categorical": [],
        "missing_indicator": next(
            (
                list(cols)
                for name, _, cols in pre.column_transformer_.transformers_
                if name == "missing"
            ),
            [],
        ),
        "feature_names_out": [str(c) for c in pre._feature_names_out],
        "block_pca": blocks_state_of(pre.block_pca_),
        "training_ranges": ranges_state(pre.training_ranges_),
    }
    if pre.numeric_:
        imputer, scaler = fitted["numeric"][0], (fitted["numeric"][1] if pre.scale else None)
        for i, col in enumerate(pre.numeric_):
            record = {"column": col, "median": float(imputer.statistics_[i])}
            if scaler is not None:
                record.update(
                    mean=float(scaler.mean_[i]),
                    scale=float(scaler.scale_[i]),
                    var=float(scaler.var_[i]),
                )
            state["numeric"].append(record)
        if scaler is not None:
            state["n_samples_seen"] = _json_param(scaler.n_samples_seen_)
    for i, col in enumerate(pre.binary_):
        fill = float(fitted["binary"].statistics_[i])
        state["binary"].append({"column": col, "levels": pre.binary_levels_[col], "fill": fill})
    if pre.categorical_:
        imputer, encoder = fitted["categorical"][0], fitted["categorical"][-1]
        infrequent = getattr(encoder, "infrequent_categories_", None) if pre.min_frequency else None
        for i, col in enumerate(pre.categorical_):
            rare = None if infrequent is None or infrequent[i] is None else infrequent[i]
            state["categorical"].append(
                {
                    "column": col,
                    "categories": pre.categories_[col],
                    "infrequent": None if rare is None else [str(c) for c in rare],
                    "fill": str(imputer.statistics_[i]),
                }
            )
    return state


def _category_counts(record: dict, n: int, min_frequency) -> np.ndarray:
    """Counts per category, summing to ``n``, that give the saved frequent/infrequent split."""
    categories, rare = record["categories"], set(record["infrequent"] or ())
    if min_frequency is None:
        threshold = 1
    elif isinstance(min_frequency, numbers.Integral):
        threshold = math.ceil(min_frequency)
    else:
        threshold = math.ceil(n * min_frequency)
    counts = np.array([1 if c in rare else max(threshold, 1) for c in categories])
    rest = n - int(counts.sum())
    frequent = [i for i, c in enumerate(categories) if c not in rare]
    if rest < 0:
        raise ValueError(f"categories of column {record['column']!r} do not fit {n} samples")
    if frequent:
        counts[frequent[0]] += rest
    else:  # every category is infrequent: each stays below the threshold
        room = threshold - 1 - counts
        if rest > room.sum():
            raise ValueError(f"infrequent categories of {record['column']!r} are inconsistent")
        for i in range(len(counts)):
            add = min(rest, int(room[i]))
            counts[i] += add
            rest -= add
    return counts


def _design_frame(pre, state: dict) -> pd.DataFrame:
    """A table on which fitting gives the saved categories; learned numbers are set after."""
    records = state["categorical"]
    if pre.min_frequency is not None and records:
        n = int(state["n_samples"])
    else:
        n = max([2] + [len(r["categories"]) for r in records])
    columns: dict[str, object] = {c: np.arange(n, dtype=float) for c in pre.numeric_ + pre.binary_}
    for record in records:
        counts = _category_counts(record, n, pre.min_frequency)
        values = np.repeat(np.asarray(record["categories"], dtype=object), counts)
        columns[record["column"]] = values
    return pd.DataFrame(columns)[pre._used]


def _set_learned(pre, state: dict) -> None:
    """Put the saved medians, means, scales and fill values into the fitted pieces."""
    fitted = pre.column_transformer_.named_transformers_
    if pre.numeric_:
        fitted["numeric"][0].statistics_ = np.array([r["median"] for r in state["numeric"]])
        if pre.scale:
            scaler = fitted["numeric"][1]
            for key in ("mean", "scale", "var"):
                setattr(scaler, f"{key}_", np.array([float(r[key]) for r in state["numeric"]]))
            seen = state["n_samples_seen"]
            scaler.n_samples_seen_ = np.float64(seen) if isinstance(seen, float) else seen
    if pre.binary_:
        fitted["binary"].statistics_ = np.array([float(r["fill"]) for r in state["binary"]])
    if pre.categorical_:
        fills = [str(r["fill"]) for r in state["categorical"]]
        fitted["categorical"][0].statistics_ = np.array(fills, dtype=object)


def restore(pre, state: dict):
    """Make the unfitted preprocessor ``pre`` (built with ``state["params"]``) the fitted one
    of :func:`state_of` output, and return it; checks that the state is consistent."""
    if state["output"] is not None:
        pre.set_output(transform=state["output"])
    if state["feature_names_in"] is not None:
        pre.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
    pre.n_features_in_ = int(state["n_features_in"])
    pre._n_samples_fit = int(state["n_samples"])
    pre.dropped_columns_ = {str(k): str(v) for k, v in state["dropped_columns"].items()}
    pre.numeric_ = [str(r["column"]) for r in state["numeric"]]
    pre.binary_ = [str(r["column"]) for r in state["binary"]]
    pre.categorical_ = [str(r["column"]) for r in state["categorical"]]
    pre._used = pre.numeric_ + pre.binary_ + pre.categorical_
    pre.binary_levels_ = {r["column"]: [float(v) for v in r["levels"]] for r in state["binary"]}
    with_missing = [str(c) for c in state["missing_indicator"]]
    pre.block_pca_ = blocks_from_state(state.get("block_pca"))
    pre.training_ranges_ = ranges_from_state(state.get("training_ranges"))
    if pre.training_ranges_ is not None and set(pre.training_ranges_) != set(pre.numeric_):
        raise ValueError("the training ranges do not name the numeric columns")
    pre.column_transformer_ = pre._column_transformer(with_missing).fit(_design_frame(pre, state))
    _set_learned(pre, state)
    pre._set_fitted_names(with_missing)
    saved = {r["column"]: (r["categories"], r["infrequent"]) for r in state["categorical"]}
    restored = state_of(pre)
    rebuilt = {r["column"]: (r["categories"], r["infrequent"]) for r in restored["categorical"]}
    if rebuilt != saved or restored["feature_names_out"] != state["feature_names_out"]:
        raise ValueError("the categories or output columns do not agree with the saved ones")
    return pre
