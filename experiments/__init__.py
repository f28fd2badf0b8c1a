"""Experiments for graphboost: benchmark runner, metrics, Optuna searches and the command line.

The runner compares GraphBoostClassifier with strong baselines under repeated stratified (or
leave-one-group-out) cross-validation, with every fitted step inside the training folds::

    from experiments import run_benchmark, format_table
    res = run_benchmark("duke-tnbc", output="runs/tnbc-{timestamp}")
    print(format_table(res.table))

The same is available as ``graphboost benchmark --config duke-tnbc``; ``graphboost tune`` runs
Optuna searches (:class:`NestedCVObjective`, :func:`search_space`, :func:`create_study`).
"""

from ._data import DATASETS, Dataset, InputError, load_dataset, read_table
from ._gcn import PopulationGCNClassifier
from ._methods import METHODS, make_pipeline
from ._metrics import (
    METRICS,
    bootstrap_metrics,
    compute_metrics,
    delong_test,
    paired_bootstrap,
)
from ._preprocess import GroupColumns, TablePreprocessor
from ._runner import BenchmarkResult, format_table, load_config, run_benchmark
from ._tuning import NestedCVObjective, create_study, open_storage, search_space

__all__ = [
    "DATASETS",
    "METHODS",
    "METRICS",
    "BenchmarkResult",
    "Dataset",
    "GroupColumns",
    "InputError",
    "NestedCVObjective",
    "PopulationGCNClassifier",
    "TablePreprocessor",
    "bootstrap_metrics",
    "compute_metrics",
    "create_study",
    "delong_test",
    "format_table",
    "load_config",
    "load_dataset",
    "make_pipeline",
    "open_storage",
    "paired_bootstrap",
    "read_table",
    "run_benchmark",
    "search_space",
]
