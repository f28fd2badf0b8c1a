"""Saving and loading a fitted :class:`~graphboost.GraphBoostSurvivalAnalysis`.

The folder is the classifier's (see :mod:`graphboost._persistence`): ``model.json`` (parameters,
fitted attributes, the graphs and the rounds), ``arrays.pt`` (a flat dict of tensors, read with
``torch.load(..., weights_only=True)``) and ``manifest.json`` (the SHA-256 of both, checked
before anything is used). Nothing is pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._cox import RidgeCox, ZeroStart
from ._persistence import (
    _arrays,
    _as_tensor,
    _check_version,
    _graph_entry,
    _load_checked,
    _read_json,
    _restore_graph,
    _verify_checksums,
    _write_folder,
)
from ._survival_boost import NeighborStep
from ._version import __version__

FORMAT = "graphboost.GraphBoostSurvivalAnalysis"
FORMAT_VERSION = 1
_META, _ARRAYS, _MANIFEST = "model.json", "arrays.pt", "manifest.json"
_STARTS = {"ridge": RidgeCox, "zero": ZeroStart}


def write_survival_model(model, path):
    """Write ``model`` to the new folder ``path``; see :meth:`GraphBoostSurvivalAnalysis.save`."""
    check_is_fitted(model)
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(
            f"Cannot save the model to {str(path)!r}: it exists and is not an empty folder. "
            "Choose a new path; nothing was overwritten."
        )
    init_meta, init_arrays = model.init_.state()
    init_meta["kind"] = "ridge" if isinstance(model.init_, RidgeCox) else "zero"
    arrays = {f"init/{name}": value for name, value in init_arrays.items()}
    arrays["unique_times"] = model.unique_times_
    arrays["cum_baseline_hazard"] = model.cum_baseline_hazard_.y
    if model.train_time_ is not None:
        arrays["train_time"] = model.train_time_
        arrays["train_event"] = model.train_event_
    graph_ids, graphs, learners = {}, [], []
    for r, learner in enumerate(model.estimators_):
        g = _graph_entry(learner.graph, graph_ids, graphs, arrays)
        arrays[f"learner/{r}/gh"] = learner.gh
        learners.append(
            {
                "graph": g,
                "learning_rate": learner.learning_rate,
                "l2": learner.l2,
            }
        )
    names = getattr(model, "feature_names_in_", None)
    scores = model.scale_scores_
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "graphboost_version": __version__,
        "params": _params(model),
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
        "feature_groups": model.feature_groups_,
        "skipped_features": list(model.skipped_features_),
        "n_candidates": int(model.n_candidates_),
        "boost_scale": float(model.boost_scale_),
        "train_gains": model.train_gains_.tolist(),
        "scale_scores": None if scores is None else scores.tolist(),
        "init": init_meta,
        "graphs": graphs,
        "learners": learners,
    }
    tensors = {key: _as_tensor(value) for key, value in arrays.items()}
    _write_folder(path, meta, tensors, FORMAT, FORMAT_VERSION)


def _params(model):
    """``get_params`` in JSON types; ``feature_groups`` as the resolved column names."""
    params = model.get_params(deep=False)
    names = model._column_names()
    params["feature_groups"] = {
        group: [names[i] for i in indices] for group, indices in model.feature_groups_.items()
    } or None
    for key, value in params.items():
        if isinstance(value, tuple | list | np.ndarray):
            params[key] = np.asarray(value).tolist()
        elif isinstance(value, np.generic):
            params[key] = value.item()
    if not isinstance(params["random_state"], int | type(None)):
        params["random_state"] = None
    return params


def read_survival_model(path, estimator_class):
    """Read the folder ``path`` (checksums first) as an ``estimator_class``."""
    path = Path(path)
    meta = _read_json(path, _META)
    _check_version(path, meta, FORMAT_VERSION, "survival model")
    _verify_checksums(path)
    return _load_checked(path, lambda tensors: _restore(estimator_class, meta, tensors))


def _restore(estimator_class, meta, tensors):
    params = dict(meta["params"])
    params.setdefault("interaction_depth", 0)  # written before the parameter: the additive model
    for key in ("n_neighbors", "threshold_quantiles"):
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    model = estimator_class(**params)
    model.n_features_in_ = meta["n_features_in"]
    if meta["feature_names_in"] is not None:
        model.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
    model.feature_groups_ = {k: list(v) for k, v in meta["feature_groups"].items()}
    model.skipped_features_ = list(meta["skipped_features"])
    model.n_candidates_ = meta["n_candidates"]
    model.boost_scale_ = float(meta["boost_scale"])
    model.train_gains_ = np.asarray(meta["train_gains"], dtype=np.float64)
    scores = meta["scale_scores"]
    model.scale_scores_ = None if scores is None else np.asarray(scores, dtype=np.float64)
    init_meta = meta["init"]
    model.init_ = _STARTS[init_meta["kind"]].from_state(init_meta, _arrays(tensors, "init/"))
    model.alpha_ = model.init_.alpha_
    graphs = [_restore_graph(g, entry, tensors) for g, entry in enumerate(meta["graphs"])]
    model.estimators_ = [
        NeighborStep(
            graphs[entry["graph"]],
            tensors[f"learner/{r}/gh"].numpy(),
            entry["learning_rate"],
            entry["l2"],
        )
        for r, entry in enumerate(meta["learners"])
    ]
    model.selected_graphs_ = [learner.spec for learner in model.estimators_]
    model.unique_times_ = tensors["unique_times"].numpy().astype(np.float64)
    model._set_baseline(tensors["cum_baseline_hazard"].numpy().astype(np.float64))
    # Kept since explanations (same format version): absent from a folder saved before them.
    if "train_time" in tensors:
        model.train_time_ = tensors["train_time"].numpy().astype(np.float64)
        model.train_event_ = tensors["train_event"].numpy().astype(bool)
    else:
        model.train_time_ = model.train_event_ = None
    model.feature_importances_ = model._importances()
    return model


def is_survival_folder(path):
    """Whether ``path`` holds a ``model.json`` written by :func:`write_survival_model`."""
    meta_file = Path(path) / _META
    return meta_file.is_file() and _format_of(meta_file) == FORMAT


def _format_of(meta_file):
    """The ``format`` written in a ``model.json``, or None when it cannot be read."""
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return meta.get("format") if isinstance(meta, dict) else None
