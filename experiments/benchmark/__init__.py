"""The benchmark: configs, the runner that writes a results folder, the design suite with ranks
and the Friedman test, and the modality ablation. Research code: the user's path never imports
it.
"""

from ._ablation import AblationResult, run_ablation
from ._config import load_config
from ._runner import BenchmarkResult, run_benchmark
from ._suite import SUITES, SuiteResult, critical_difference, friedman_test, run_suite

__all__ = [
    "SUITES",
    "AblationResult",
    "BenchmarkResult",
    "SuiteResult",
    "critical_difference",
    "friedman_test",
    "load_config",
    "run_ablation",
    "run_benchmark",
    "run_suite",
]
