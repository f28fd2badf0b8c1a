"""Experiments for graphboost: benchmark runner, metrics, Optuna searches and the command line.

The runner compares GraphBoostClassifier with strong baselines under repeated stratified (or
leave-one-group-out) cross-validation, with every fitted step inside the training folds::

    from experiments import run_benchmark, format_table
    res = run_benchmark("duke-tnbc", output="runs/tnbc-{timestamp}")
    print(format_table(res.table))

The same is available as ``graphboost benchmark --config duke-tnbc``.
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

__all__ = [
    "DATASETS",
    "METHODS",
    "METRICS",
    "BenchmarkResult",
    "Dataset",
    "GroupColumns",
    "InputError",
    "PopulationGCNClassifier",
    "TablePreprocessor",
    "bootstrap_metrics",
    "compute_metrics",
    "delong_test",
    "format_table",
    "load_config",
    "load_dataset",
    "make_pipeline",
    "paired_bootstrap",
    "read_table",
    "run_benchmark",
]
