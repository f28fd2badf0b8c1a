"""Saving and loading fitted models in a safe format: JSON metadata plus a tensor file.

Nothing is pickled: ``arrays.pt`` is a flat dict of tensors read with
``torch.load(..., weights_only=True)``, and its SHA-256 is recorded in ``model.json`` so that a
corrupted or altered file is refused with a clear error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from ._gnn import GraphNet
from ._graphs import GraphSpec
from ._init_model import INIT_KINDS
from ._neighbourhoods import BlockGraph, ColumnGraph
from ._version import __version__
from ._weak import GraphWeakLearner

FORMAT = "graphboost.GraphBoostClassifier"
FORMAT_VERSION = 1
_META = "model.json"
_ARRAYS = "arrays.pt"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _params(model):
    params = model.get_params(deep=False)
    if params["init"] is not None and not isinstance(params["init"], str):
        model.init_.state()  # raises the explanatory error
    params["feature_groups"] = {
        name: [model._column_names()[i] for i in idx] for name, idx in model.feature_groups_.items()
    } or None
    for key, value in params.items():
        if isinstance(value, tuple | np.ndarray):
            params[key] = np.asarray(value).tolist()
        elif isinstance(value, np.generic):
            params[key] = value.item()
    if not isinstance(params["random_state"], int | type(None)):
        params["random_state"] = None
    return params


def save(model, path):
    """Write ``model`` to the folder ``path``; see :meth:`GraphBoostClassifier.save`."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(
            f"Cannot save the model to {str(path)!r}: it exists and is not an empty folder. "
            "Choose a new path; nothing was overwritten."
        )
    classes = model.classes_
    if classes.dtype.kind not in "biufUO" or not all(
        isinstance(c, str | int | float | bool | np.generic) for c in classes.tolist()
    ):
        raise ValueError(f"Class labels of dtype {classes.dtype} cannot be saved in JSON.")
    arrays = {}
    init_meta, init_arrays = model.init_.state()
    for name, value in init_arrays.items():
        arrays[f"init/{name}"] = value
    graph_ids, graphs, learners = {}, [], []
    y_codes = None
    for r, learner in enumerate(model.estimators_):
        graph = learner.graph_
        if id(graph) not in graph_ids:
            g = len(graphs)
            graph_ids[id(graph)] = g
            meta, g_arrays = graph.state()
            graphs.append(
                {
                    "kind": "block" if isinstance(graph, BlockGraph) else "column",
                    "spec": dataclasses.asdict(graph.spec),
                    "meta": meta,
                }
            )
            for name, value in g_arrays.items():
                arrays[f"graph/{g}/{name}"] = value
        if y_codes is None:
            y_codes = learner.y_codes_
        entry = {
            "graph": graph_ids[id(graph)],
            "params": {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in learner.get_params().items()
                if k != "random_state"
            },
        }
        arrays[f"learner/{r}/vote_weights"] = learner.vote_weights_
        if learner.conv != "vote":
            entry["in_channels"] = int(learner._x_train.shape[1])
            entry["state_keys"] = list(learner.module_.state_dict())
            for key, value in learner.module_.state_dict().items():
                arrays[f"learner/{r}/state/{key}"] = value
            arrays[f"learner/{r}/x_train"] = learner._x_train
            arrays[f"learner/{r}/edge_index"] = learner._edge_index_train
        learners.append(entry)
    if y_codes is not None:
        arrays["y_codes"] = y_codes
    tensors = {
        k: (torch.from_numpy(np.array(v, order="C", copy=True)) if isinstance(v, np.ndarray) else v)
        for k, v in arrays.items()
    }
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "graphboost_version": __version__,
        "params": _params(model),
        "classes": classes.tolist(),
        "classes_dtype": classes.dtype.str if classes.dtype.kind != "O" else "object",
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": (
            model.feature_names_in_.tolist() if hasattr(model, "feature_names_in_") else None
        ),
        "feature_groups": model.feature_groups_,
        "skipped_features": model.skipped_features_,
        "n_candidates": int(model.n_candidates_),
        "validation_scores": (
            None if model.validation_scores_ is None else model.validation_scores_.tolist()
        ),
        "device": model.device_,
        "boost_scale": model.boost_scale_,
        "init": init_meta,
        "graphs": graphs,
        "learners": learners,
        "estimator_weights": model.estimator_weights_.tolist(),
        "estimator_errors": model.estimator_errors_.tolist(),
    }
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".graphboost-", dir=parent))
    try:
        torch.save(tensors, tmp / _ARRAYS)
        meta["arrays_sha256"] = _sha256(tmp / _ARRAYS)
        (tmp / _META).write_text(json.dumps(meta, indent=1))
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _corrupt(path, why):
    return ValueError(f"{str(path)!r} is not a readable graphboost model: {why}.")


def load(path):
    """Load a model saved with :meth:`GraphBoostClassifier.save`.

    Only JSON and tensors are read (``torch.load(..., weights_only=True)``); no code from the
    file is run. The loaded model predicts exactly what the saved one did.

    Parameters
    ----------
    path : str or path-like
        The folder written by ``save``.

    Returns
    -------
    model : GraphBoostClassifier

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from graphboost import GraphBoostClassifier, load
    >>> X = np.random.default_rng(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
    >>> clf = GraphBoostClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> folder = os.path.join(tempfile.mkdtemp(), "model")
    >>> clf.save(folder)
    >>> bool(np.array_equal(load(folder).predict_proba(X), clf.predict_proba(X)))
    True
    """
    from ._boosting import GraphBoostClassifier

    path = Path(path)
    if not (path / _META).is_file():
        raise FileNotFoundError(
            f"No graphboost model at {str(path)!r}: expected a folder holding {_META} and "
            f"{_ARRAYS}, as written by GraphBoostClassifier.save."
        )
    try:
        meta = json.loads((path / _META).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _corrupt(path, f"{_META} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _corrupt(path, f"{_META} does not describe a {FORMAT} model")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"The model at {str(path)!r} was written in model format version "
            f"{meta.get('format_version')!r} by graphboost {meta.get('graphboost_version')}; "
            f"this is graphboost {__version__}, which reads format version {FORMAT_VERSION}. "
            "Refit the model, or load it with the graphboost version that wrote it."
        )
    arrays_path = path / _ARRAYS
    if not arrays_path.is_file():
        raise _corrupt(path, f"{_ARRAYS} is missing")
    if _sha256(arrays_path) != meta.get("arrays_sha256"):
        raise _corrupt(
            path, f"{_ARRAYS} does not match the checksum in {_META} (corrupted or altered)"
        )
    try:
        tensors = torch.load(arrays_path, weights_only=True, map_location="cpu")
        return _restore(GraphBoostClassifier, meta, tensors)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise _corrupt(path, f"its content is inconsistent ({type(exc).__name__}: {exc})") from exc


def _restore(cls, meta, tensors):
    def arr(key):
        return tensors[key].numpy()

    params = dict(meta["params"])
    for key in ("n_neighbors", "threshold_quantiles"):
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    model = cls(**params)
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
    init_meta = meta["init"]
    init_cls = INIT_KINDS[init_meta["kind"]]
    prefix = "init/"
    model.init_ = init_cls.from_state(
        init_meta, {k[len(prefix) :]: arr(k) for k in tensors if k.startswith(prefix)}
    )
    graphs = []
    for g, entry in enumerate(meta["graphs"]):
        spec = GraphSpec(**{**entry["spec"], "columns": tuple(entry["spec"]["columns"])})
        prefix = f"graph/{g}/"
        g_arrays = {k[len(prefix) :]: arr(k) for k in tensors if k.startswith(prefix)}
        graph_cls = BlockGraph if entry["kind"] == "block" else ColumnGraph
        graphs.append(graph_cls.from_state(spec, entry["meta"], g_arrays))
    y_codes = arr("y_codes") if "y_codes" in tensors else None
    learners = []
    for r, entry in enumerate(meta["learners"]):
        learner = GraphWeakLearner(**entry["params"])
        graph = graphs[entry["graph"]]
        learner.classes_ = model.classes_
        learner.graph_spec_ = graph.spec
        learner.graph_ = graph
        learner.y_codes_ = y_codes
        learner.vote_weights_ = arr(f"learner/{r}/vote_weights")
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
        learners.append(learner)
    model.estimators_ = learners
    model.estimator_weights_ = np.asarray(meta["estimator_weights"], dtype=np.float64)
    model.estimator_errors_ = np.asarray(meta["estimator_errors"], dtype=np.float64)
    model.selected_graphs_ = [learner.graph_spec_ for learner in learners]
    model.feature_importances_ = model._importances()
    return model
