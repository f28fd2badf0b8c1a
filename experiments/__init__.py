"""Experiments for graphboost: workflows, benchmark runner, metrics, Optuna searches, the CLI.

:mod:`experiments.workflows` holds what a user does with a cohort, as plain functions: load a
cohort (table + scans -> ``features.Cohort``), cross-validate, fit and save a model folder, load
it, predict and explain. The runner compares GraphBoostClassifier with strong baselines under
repeated stratified (or leave-one-group-out) cross-validation, with every fitted step inside the
training folds::

    from experiments import run_benchmark, format_table
    res = run_benchmark("duke-tnbc", output="runs/tnbc-{timestamp}")
    print(format_table(res.table))

The same is available as ``graphboost benchmark --config duke-tnbc``. :func:`run_suite`
(``graphboost benchmark --suite design``) runs every method on the nine tasks of the design suite
and writes one table with mean ranks, the Friedman test and a critical-difference figure;
:class:`TunedGraphBoostClassifier` is GraphBoostClassifier tuned by Optuna inside each training
fold, the method ``graphboost-tuned`` of both (``graphboost benchmark --config <config> --methods
graphboost,graphboost-tuned`` gives a nested-CV estimate of the tuned model).
:func:`run_ablation` (``graphboost benchmark --config duke-pcr --ablation``) fits each
method on each modality alone (column prefixes, e.g. ``clin:`` and ``img:``) and on all of them,
on the same folds, with paired bootstrap CIs. ``graphboost tune`` runs Optuna searches
(:func:`run_search`, :class:`NestedCVObjective`, :func:`search_space`, :func:`create_study`).
:func:`run_external_validation` (``graphboost benchmark --external rotterdam:gbsg``) fits survival
models on one cohort and validates them on another, the published Cox model reproduced first.
"""

from . import workflows
from ._base import InputError
from .benchmark._ablation import AblationResult, run_ablation
from .benchmark._config import load_config
from .benchmark._external import EXTERNAL_PAIRS, ExternalResult, run_external_validation
from .benchmark._runner import BenchmarkResult, run_benchmark
from .benchmark._suite import SUITES, SuiteResult, critical_difference, friedman_test, run_suite
from .benchmark._survival_suite import (
    SURVIVAL_TASKS,
    SurvivalSuiteResult,
    merge_survival_runs,
    run_survival_suite,
)
from .clinical._calibration import (
    CALIBRATION_METHODS,
    Recalibration,
    brier_decomposition,
    calibration_curve_bands,
    calibration_slope_intercept,
    calibration_summary,
    recalibrated,
)
from .clinical._conformal import ClassConditionalConformal, conformal_coverage
from .clinical._decision import choose_threshold, decision_curve, mean_decision_curve, net_benefit
from .clinical._metrics import (
    METRICS,
    bootstrap_metrics,
    compute_metrics,
    delong_test,
    paired_bootstrap,
)
from .clinical._typicality import neighbor_typicality
from .evaluation._clinical_report import ClinicalResults
from .evaluation._cv import cross_validate
from .evaluation._dataset import DATASETS, load_dataset
from .evaluation._summary import format_table
from .methods._gcn import PopulationGCNClassifier
from .methods._modality_selection import ModalitySelectionClassifier
from .methods._registry import METHODS, make_pipeline
from .methods._survival_methods import SURVIVAL_METHODS, make_survival_pipeline
from .tuning._search import NestedCVObjective, create_study, open_storage, run_search, search_space
from .tuning._tuned import TunedGraphBoostClassifier

__all__ = [
    "CALIBRATION_METHODS",
    "DATASETS",
    "EXTERNAL_PAIRS",
    "METHODS",
    "METRICS",
    "SUITES",
    "SURVIVAL_METHODS",
    "SURVIVAL_TASKS",
    "AblationResult",
    "BenchmarkResult",
    "ClassConditionalConformal",
    "ClinicalResults",
    "Dataset",
    "ExternalResult",
    "InputError",
    "ModalitySelectionClassifier",
    "NestedCVObjective",
    "PopulationGCNClassifier",
    "Recalibration",
    "SuiteResult",
    "SurvivalSuiteResult",
    "TunedGraphBoostClassifier",
    "bootstrap_metrics",
    "brier_decomposition",
    "calibration_curve_bands",
    "calibration_slope_intercept",
    "calibration_summary",
    "choose_threshold",
    "compute_metrics",
    "conformal_coverage",
    "create_study",
    "critical_difference",
    "cross_validate",
    "decision_curve",
    "delong_test",
    "format_table",
    "friedman_test",
    "load_config",
    "load_dataset",
    "make_pipeline",
    "make_survival_pipeline",
    "mean_decision_curve",
    "merge_survival_runs",
    "neighbor_typicality",
    "net_benefit",
    "open_storage",
    "paired_bootstrap",
    "recalibrated",
    "run_ablation",
    "run_benchmark",
    "run_external_validation",
    "run_search",
    "run_suite",
    "run_survival_suite",
    "search_space",
    "workflows",
]


def __getattr__(name):
    """``experiments.Dataset`` is ``features.Task``, the one container of a task, resolved on first
    use so that ``import experiments`` (and ``graphboost --help``) does not import torch."""
    from .evaluation import _dataset

    return _dataset.__getattr__(name)
