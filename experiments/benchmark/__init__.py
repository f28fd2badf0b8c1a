"""The benchmark: configs, the runner that writes a results folder, the design suite with ranks
and the Friedman test, and the modality ablation. Research code: the user's path never imports
it.
"""

from ._ablation import AblationResult, run_ablation
from ._config import load_config
from ._runner import BenchmarkResult, run_benchmark
from ._suite import SUITES, SuiteResult, critical_difference, friedman_test, run_suite
from ._survival_suite import (
    SURVIVAL_TASKS,
    SurvivalSuiteResult,
    merge_survival_runs,
    run_survival_suite,
)

__all__ = [
    "SUITES",
    "SURVIVAL_TASKS",
    "AblationResult",
    "BenchmarkResult",
    "SuiteResult",
    "SurvivalSuiteResult",
    "critical_difference",
    "friedman_test",
    "load_config",
    "merge_survival_runs",
    "run_ablation",
    "run_benchmark",
    "run_suite",
    "run_survival_suite",
]
