"""Saving and loading fitted models in a safe format: JSON metadata, a tensor file, a manifest.

A model folder holds three files:

- ``model.json``: the parameters, the fitted attributes and the description of every graph and
  learner;
- ``arrays.pt``: a flat dict of tensors (training values of the graphs' columns, network
  weights), read with ``torch.load(..., weights_only=True)``: nothing is unpickled;
- ``manifest.json``: the SHA-256 of the two others. A corrupted or edited file is refused with
  a clear error before anything in it is used.

The estimator class is passed in by the caller, so this module does not import the estimator.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._gnn import GraphNet
from ._graphs import GraphSpec
from ._init_model import INIT_KINDS
from ._leaf_graphs import LeafGraph
from ._neighborhoods import BlockGraph, ColumnGraph
from ._version import __version__
from ._weak import GraphWeakLearner

FORMAT = "graphboost.GraphBoostClassifier"
#: Version 2: parameters ``gnn_lr`` (was ``gnn_learning_rate``) and ``lr`` of the weak learners
#: (was ``learning_rate``); checksums of every file in ``manifest.json``.
FORMAT_VERSION = 2
_META = "model.json"
_ARRAYS = "arrays.pt"
_MANIFEST = "manifest.json"
# The "kind" of a graph in model.json, and its class.
_GRAPH_KINDS = {"block": BlockGraph, "leaf": LeafGraph, "column": ColumnGraph}


# -- save ------------------------------------------------------------------------------------
def write_model(model, path):
    """Write ``model`` to the new folder ``path``; see :meth:`GraphBoostClassifier.save`."""
    check_is_fitted(model)
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(
            f"Cannot save the model to {str(path)!r}: it exists and is not an empty folder. "
            "Choose a new path; nothing was overwritten."
        )
    _check_classes(model.classes_)
    init_meta, init_arrays = model.init_.state()
    arrays = {f"init/{name}": value for name, value in init_arrays.items()}
    graphs, learners = _graph_and_learner_entries(model, arrays)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "graphboost_version": __version__,
        "params": _params(model),
        **_fitted_attributes(model),
        "init": init_meta,
        "graphs": graphs,
        "learners": learners,
    }
    _write_folder(path, meta, {key: _as_tensor(value) for key, value in arrays.items()})


def _check_classes(classes):
    if classes.dtype.kind not in "biufUO" or not all(
        isinstance(c, str | int | float | bool | np.generic) for c in classes.tolist()
    ):
        raise ValueError(f"Class labels of dtype {classes.dtype} cannot be saved in JSON.")


def _params(model):
    """``get_params`` in JSON types; ``feature_groups`` as the resolved column names."""
    params = model.get_params(deep=False)
    if params["init"] is not None and not isinstance(params["init"], str):
        model.init_.state()  # raises the explanatory error
    names = model._column_names()
    params["feature_groups"] = {
        group: [names[i] for i in indices] for group, indices in model.feature_groups_.items()
    } or None
    for key, value in params.items():
        if isinstance(value, tuple | np.ndarray):
            params[key] = np.asarray(value).tolist()
        elif isinstance(value, np.generic):
            params[key] = value.item()
    params["device"] = str(params["device"])
    if not isinstance(params["random_state"], int | type(None)):
        params["random_state"] = None
    return params


def _fitted_attributes(model):
    names = getattr(model, "feature_names_in_", None)
    scores = model.validation_scores_
    return {
        "classes": model.classes_.tolist(),
        "classes_dtype": model.classes_.dtype.str if model.classes_.dtype.kind != "O" else "object",
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": None if names is None else names.tolist(),
        "feature_groups": model.feature_groups_,
        "skipped_features": model.skipped_features_,
        "n_candidates": int(model.n_candidates_),
        "validation_scores": None if scores is None else scores.tolist(),
        "device": model.device_,
        "boost_scale": model.boost_scale_,
        "boost_scale_guard": getattr(model, "boost_scale_guard_", None),
        "boost_offset": model.boost_offset_.tolist(),
        "block_guard": getattr(model, "block_guard_", None),
        "estimator_weights": model.estimator_weights_.tolist(),
        "estimator_errors": model.estimator_errors_.tolist(),
    }


def _graph_and_learner_entries(model, arrays):
    """JSON entries of the distinct graphs and of every learner; their arrays go to ``arrays``."""
    graph_ids, graphs, learners = {}, [], []
    for r, learner in enumerate(model.estimators_):
        g = _graph_entry(learner.graph_, graph_ids, graphs, arrays)
        arrays.setdefault("y_codes", learner.y_codes_)
        learners.append(_learner_entry(learner, g, r, arrays))
    return graphs, learners


def _graph_entry(graph, graph_ids, graphs, arrays):
    """The index of ``graph`` in ``graphs``, its JSON entry and arrays written the first time."""
    if id(graph) not in graph_ids:
        graph_ids[id(graph)] = g = len(graphs)
        meta, graph_arrays = graph.state()
        kind = next(k for k, cls in _GRAPH_KINDS.items() if isinstance(graph, cls))
        graphs.append({"kind": kind, "spec": dataclasses.asdict(graph.spec), "meta": meta})
        arrays.update({f"graph/{g}/{name}": value for name, value in graph_arrays.items()})
    return graph_ids[id(graph)]


def _learner_entry(learner, graph_id, r, arrays):
    params = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in learner.get_params().items()
        if key != "random_state"
    }
    params["device"] = str(params["device"])
    entry = {"graph": graph_id, "params": params}
    arrays[f"learner/{r}/vote_weights"] = learner.vote_weights_
    if learner.conv != "vote":
        state = learner.module_.state_dict()
        entry["in_channels"] = int(learner._x_train.shape[1])
        entry["state_keys"] = list(state)
        arrays.update({f"learner/{r}/state/{key}": value for key, value in state.items()})
        arrays[f"learner/{r}/x_train"] = learner._x_train
        arrays[f"learner/{r}/edge_index"] = learner._edge_index_train
    return entry


def _as_tensor(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, order="C", copy=True))
    return value


def _write_folder(path, meta, tensors, fmt=FORMAT, version=FORMAT_VERSION):
    """Write the three files into a temporary folder, then move it to ``path`` at once."""
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".graphboost-", dir=parent))
    try:
        torch.save(tensors, tmp / _ARRAYS)
        (tmp / _META).write_text(json.dumps(meta, indent=1))
        manifest = {
            "format": fmt,
            "format_version": version,
            "sha256": {name: _sha256(tmp / name) for name in (_META, _ARRAYS)},
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1))
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- load ------------------------------------------------------------------------------------
def read_model(path, estimator_class):
    """Read the folder ``path`` as an ``estimator_class``; see :func:`graphboost.load`."""
    path = Path(path)
    if not (path / _META).is_file():
        raise FileNotFoundError(
            f"No graphboost model at {str(path)!r}: expected a folder holding {_META}, "
            f"{_ARRAYS} and {_MANIFEST}, as written by GraphBoostClassifier.save."
        )
    meta = _read_json(path, _META)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _corrupt(path, f"{_META} does not describe a {FORMAT} model")
    _check_version(path, meta)
    _verify_checksums(path)
    return _load_checked(path, lambda tensors: _restore(estimator_class, meta, tensors))


def _load_checked(path, restore):
    """``restore(tensors)`` of a folder whose checksums were verified; tensors only, no pickle."""
    try:
        tensors = torch.load(path / _ARRAYS, weights_only=True, map_location="cpu")
        return restore(tensors)
    except pickle.UnpicklingError:  # not torch's advice to retry with weights_only=False
        raise _corrupt(
            path,
            f"{_ARRAYS} holds Python objects, not tensors: it is not a model this library "
            "saved, and it was refused without running any of it",
        ) from None
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise _corrupt(path, f"its content is inconsistent ({type(exc).__name__}: {exc})") from exc


def _corrupt(path, why):
    return ValueError(f"{str(path)!r} is not a readable graphboost model: {why}.")


def _read_json(path, name):
    try:
        return json.loads((path / name).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _corrupt(path, f"{name} is not valid JSON ({exc})") from None


def _check_version(path, meta, version=FORMAT_VERSION, what="model"):
    if meta.get("format_version") != version:
        raise ValueError(
            f"The model at {str(path)!r} was written in {what} format version "
            f"{meta.get('format_version')!r} by graphboost {meta.get('graphboost_version')}; "
            f"this is graphboost {__version__}, which reads format version {version}. "
            "Refit the model, or load it with the graphboost version that wrote it."
        )


def _verify_checksums(path):
    """Refuse the folder unless every file matches its SHA-256 in the manifest."""
    if not (path / _MANIFEST).is_file():
        raise _corrupt(path, f"{_MANIFEST} is missing")
    manifest = _read_json(path, _MANIFEST)
    checksums = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(checksums, dict) or set(checksums) != {_META, _ARRAYS}:
        raise _corrupt(path, f"{_MANIFEST} must list the SHA-256 of {_META} and {_ARRAYS}")
    for name in (_META, _ARRAYS):
        if not (path / name).is_file():
            raise _corrupt(path, f"{name} is missing")
        if _sha256(path / name) != checksums[name]:
            raise _corrupt(
                path, f"{name} does not match its checksum in {_MANIFEST} (corrupted or altered)"
            )


def _restore(estimator_class, meta, tensors):
    """The fitted estimator described by ``meta`` and ``tensors``."""
    params = dict(meta["params"])
    for key in ("n_neighbors", "threshold_quantiles"):
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    model = estimator_class(**params)
    _restore_attributes(model, meta)
    init_meta = meta["init"]
    model.init_ = INIT_KINDS[init_meta["kind"]].from_state(init_meta, _arrays(tensors, "init/"))
    model.init_.columns_ = model.columns_used_
    graphs = [_restore_graph(g, entry, tensors) for g, entry in enumerate(meta["graphs"])]
    y_codes = tensors["y_codes"].numpy() if "y_codes" in tensors else None
    model.estimators_ = [
        _restore_learner(r, entry, graphs[entry["graph"]], model, y_codes, tensors)
        for r, entry in enumerate(meta["learners"])
    ]
    model.selected_graphs_ = [learner.graph_spec_ for learner in model.estimators_]
    model.feature_importances_ = model._importances()
    return model


def _restore_attributes(model, meta):
    dtype = object if meta["classes_dtype"] == "object" else np.dtype(meta["classes_dtype"])
    model.classes_ = np.array(meta["classes"], dtype=dtype)
    model.n_classes_ = len(model.classes_)
    model.n_features_in_ = meta["n_features_in"]
    if meta["feature_names_in"] is not None:
        model.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
    model.feature_groups_ = {k: list(v) for k, v in meta["feature_groups"].items()}
    model.skipped_features_ = list(meta["skipped_features"])
    model.n_candidates_ = meta["n_candidates"]
    scores = meta["validation_scores"]
    model.validation_scores_ = None if scores is None else np.asarray(scores)
    model.device_ = meta["device"]
    model.boost_scale_ = float(meta["boost_scale"])
    model.boost_scale_guard_ = meta.get("boost_scale_guard")  # absent before issue 19
    # Absent before the boosted score was recalibrated: such a model predicts as it was saved.
    offset = meta.get("boost_offset", [0.0] * model.n_classes_)
    model.boost_offset_ = np.asarray(offset, dtype=np.float64)
    model._drop_blocks(meta.get("block_guard"))  # absent before issue 19's block guard
    model.estimator_weights_ = np.asarray(meta["estimator_weights"], dtype=np.float64)
    model.estimator_errors_ = np.asarray(meta["estimator_errors"], dtype=np.float64)


def _arrays(tensors, prefix):
    """The arrays under ``prefix``, keyed by the rest of their name."""
    return {k[len(prefix) :]: v.numpy() for k, v in tensors.items() if k.startswith(prefix)}


def _restore_graph(g, entry, tensors):
    spec = GraphSpec(**{**entry["spec"], "columns": tuple(entry["spec"]["columns"])})
    graph_class = _GRAPH_KINDS.get(entry["kind"], ColumnGraph)
    return graph_class.from_state(spec, entry["meta"], _arrays(tensors, f"graph/{g}/"))


def _restore_learner(r, entry, graph, model, y_codes, tensors):
    learner = GraphWeakLearner(**entry["params"])
    learner.classes_ = model.classes_
    learner.graph_spec_ = graph.spec
    learner.graph_ = graph
    learner.y_codes_ = y_codes
    learner.vote_weights_ = tensors[f"learner/{r}/vote_weights"].numpy()
    learner.prior_ = learner.vote_weights_.sum(axis=0)
    learner._vote_prefix = graph.vote_prefix(learner.vote_weights_)
    if learner.conv != "vote":
        module = GraphNet(
            entry["in_channels"],
            learner.hidden_channels,
            model.n_classes_,
            learner.num_layers,
            learner.conv,
            learner.dropout,
        )
        prefix = f"learner/{r}/state/"
        module.load_state_dict({k: tensors[prefix + k] for k in entry["state_keys"]})
        module.eval()
        learner.module_ = module
        learner._x_train = tensors[f"learner/{r}/x_train"]
        learner._edge_index_train = tensors[f"learner/{r}/edge_index"]
    return learner
