"""Benchmark configs (TOML): reading, defaults and checks."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

from .._base import InputError
from ..clinical._conformal import check_alpha
from ..evaluation._clinical_report import (
    check_calibration_config,
)
from ..evaluation._dataset import DATASETS
from ..methods._modalities import ALL_ARM, _arm_preprocessor, default_modalities, modality_columns  # noqa: F401 (re-exported: tests and callers import them from here)
from ..methods._pipelines import (
    check_methods,
)

CONFIG_DIR = Path(__file__).parent / "configs"

_TOP_KEYS = {
    "name",
    "methods",
    "seed",
    "n_jobs",
    "dataset",
    "cv",
    "metrics",
    "params",
    "calibration",
    "ablation",
}
_CV_KEYS = {"n_splits", "n_repeats"}
_METRIC_KEYS = {"n_bootstrap", "conformal_alpha"}
_ABLATION_KEYS = {"modalities", "methods"}

ABLATION_METHODS = ("graphboost", "logistic")
"""Methods of a modality ablation when ``[ablation]`` names none (those the run has)."""


def default_config():
    """A complete config with every default filled in."""
    return {
        "name": "benchmark",
        "methods": [
            "logistic",
            "random_forest",
            "hist_gradient_boosting",
            "xgboost",
            "adaboost",
            "gcn",
            "graphboost",
        ],
        "seed": 0,
        "n_jobs": 1,
        "dataset": {},
        "cv": {"n_splits": 5, "n_repeats": 5},
        "metrics": {"n_bootstrap": 1000, "conformal_alpha": 0.1},
        "params": {},
        "calibration": {},  # e.g. {"method": "sigmoid"}: recalibrated twins (_clinical_report)
        "ablation": {},  # {"modalities": {name: [prefix, ...]}, "methods": [...]}
    }


def _read_config(source):
    """The raw config and a description of where it came from."""
    if isinstance(source, dict):
        return copy.deepcopy(source), "config"
    path = Path(source)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{source}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
        raise InputError(f"Config file not found: '{source}'. Shipped configs: {shipped}.")
    try:
        return tomllib.loads(path.read_text()), f"config '{path}'"
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"Config '{path}' is not valid TOML: {exc}") from exc


def _check_keys(found, allowed, where):
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise InputError(f"Unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}.")


def load_config(source):
    """Read and check a benchmark config: a TOML path, a shipped config's name, or a dict.

    Parameters
    ----------
    source : str, Path or dict
        ``"duke-tnbc"`` finds ``experiments/benchmark/configs/duke-tnbc.toml``.

    Returns
    -------
    dict
        The config with defaults filled in.

    Raises
    ------
    InputError
        Unknown keys, methods or dataset kinds (each listing the choices), bad fold numbers, or a
        file that is not valid TOML.

    Examples
    --------
    >>> load_config("duke-tnbc")["cv"]
    {'n_splits': 5, 'n_repeats': 5}
    """
    raw, where = _read_config(source)
    _check_keys(raw, _TOP_KEYS, where)
    cfg = default_config()
    for key, value in raw.items():
        is_table = isinstance(value, dict) and isinstance(cfg.get(key), dict)
        cfg[key] = {**cfg[key], **value} if is_table else value
    _check_keys(cfg["cv"], _CV_KEYS, "[cv]")
    _check_keys(cfg["metrics"], _METRIC_KEYS, "[metrics]")
    check_methods(cfg["methods"])
    unknown_params = sorted(set(cfg["params"]) - set(cfg["methods"]))
    if unknown_params:
        raise InputError(
            f"[params] names method(s) {unknown_params} that are not in methods={cfg['methods']}."
        )
    kind = cfg["dataset"].get("kind")
    if kind not in DATASETS:
        raise InputError(
            f"Unknown dataset kind {kind!r} in {where}; choose one of {list(DATASETS)}."
        )
    cfg["calibration"] = check_calibration_config(cfg["calibration"], cfg["methods"])
    check_ablation_config(cfg["ablation"], cfg["methods"])
    check_alpha(cfg["metrics"]["conformal_alpha"])
    for key, low in (("n_splits", 2), ("n_repeats", 1)):
        v = cfg["cv"][key]
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise InputError(f"[cv] {key} must be an integer >= {low}; got {v!r}.")
    return cfg


def check_ablation_config(ablation, methods):
    """Check the ``[ablation]`` table of a config (modalities and methods); raise InputError.

    ``modalities`` maps a name to a non-empty list of column prefixes; ``methods``, when given,
    is a non-empty subset of the run's ``methods``.

    Examples
    --------
    >>> check_ablation_config({"modalities": {"clinical": ["clin:"], "imaging": ["img:"]}},
    ...                       ["logistic", "graphboost"])
    >>> check_ablation_config({"methods": ["xgboost"]}, ["logistic"])
    Traceback (most recent call last):
    ...
    experiments._base.InputError: [ablation] methods ['xgboost'] are not in methods=['logistic'].
    """
    if not isinstance(ablation, dict):
        raise InputError(f"[ablation] must be a table; got {ablation!r}.")
    _check_keys(ablation, _ABLATION_KEYS, "[ablation]")
    modalities = ablation.get("modalities", {})
    if not isinstance(modalities, dict):
        raise InputError(
            "[ablation] modalities must be a table of name = [column prefixes]; "
            f"got {modalities!r}."
        )
    for name, prefixes in modalities.items():
        ok = isinstance(prefixes, list | tuple) and len(prefixes) > 0
        if not ok or not all(isinstance(p, str) and p for p in prefixes):
            raise InputError(
                f"[ablation] modality {name!r} must be a non-empty list of column prefixes "
                f"(text); got {prefixes!r}."
            )
        if name == ALL_ARM:
            raise InputError(
                f"[ablation] modality name {ALL_ARM!r} is taken by the arm with every modality; "
                "choose another name."
            )
    if "methods" in ablation:
        chosen = ablation["methods"]
        if not isinstance(chosen, list) or not chosen:
            raise InputError(f"[ablation] methods must be a non-empty list; got {chosen!r}.")
        missing = [m for m in chosen if m not in methods]
        if missing:
            raise InputError(f"[ablation] methods {missing} are not in methods={list(methods)}.")


def ablation_methods(cfg):
    """Methods of the ablation: ``[ablation] methods``, else graphboost and logistic (those the
    run has), else every method of the run."""
    chosen = cfg["ablation"].get("methods")
    if chosen:
        return list(chosen)
    return [m for m in ABLATION_METHODS if m in cfg["methods"]] or list(cfg["methods"])
