"""The benchmark: configs, the runner that writes a results folder, the design suite with ranks
and the Friedman test, the modality ablation, and the external validation of survival models.
Research code: the user's path never imports it.
"""

from ._ablation import AblationResult, run_ablation
from ._config import load_config
from ._external import (
    EXTERNAL_METHODS,
    EXTERNAL_PAIRS,
    HORIZON,
    ExternalResult,
    PublishedDesign,
    external_cohorts,
    format_external_table,
    run_external_validation,
)
from ._runner import BenchmarkResult, run_benchmark
from ._suite import SUITES, SuiteResult, critical_difference, friedman_test, run_suite
from ._survival_suite import (
    SURVIVAL_TASKS,
    SurvivalSuiteResult,
    merge_survival_runs,
    run_survival_suite,
)

__all__ = [
    "EXTERNAL_METHODS",
    "EXTERNAL_PAIRS",
    "HORIZON",
    "SUITES",
    "SURVIVAL_TASKS",
    "AblationResult",
    "BenchmarkResult",
    "ExternalResult",
    "PublishedDesign",
    "SuiteResult",
    "SurvivalSuiteResult",
    "critical_difference",
    "external_cohorts",
    "format_external_table",
    "friedman_test",
    "load_config",
    "merge_survival_runs",
    "run_ablation",
    "run_benchmark",
    "run_external_validation",
    "run_suite",
    "run_survival_suite",
]
