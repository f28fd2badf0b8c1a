"""graphboost: boosted graph learners over automatically chosen patient-similarity graphs.

The estimators (a classifier, and a survival model in scikit-survival's conventions) take a
numeric matrix and named column blocks; clinical preprocessing and imaging embeddings live in the
separate ``features`` package.
"""

from ._boosting import GraphBoostClassifier
from ._device import resolve_device, seeded_torch, torch_threads
from ._explain import (
    MODALITY_ALIASES,
    PLAIN_MODALITY,
    modality_contributions,
    modality_shares,
)
from ._gnn import train_gnn
from ._graphs import (
    GraphSpec,
    block_knn_graph,
    column_knn_graph,
    column_threshold_graph,
    threshold_from_differences,
)
from ._neighborhoods import build_graph
from ._survival import GraphBoostSurvivalAnalysis, load
from ._survival_metrics import StepFunction, concordance_index
from ._version import __version__
from ._weak import GraphWeakLearner

__all__ = [
    "MODALITY_ALIASES",
    "PLAIN_MODALITY",
    "GraphBoostClassifier",
    "GraphBoostSurvivalAnalysis",
    "GraphSpec",
    "GraphWeakLearner",
    "StepFunction",
    "__version__",
    "block_knn_graph",
    "build_graph",
    "column_knn_graph",
    "column_threshold_graph",
    "concordance_index",
    "load",
    "modality_contributions",
    "modality_shares",
    "resolve_device",
    "seeded_torch",
    "threshold_from_differences",
    "torch_threads",
    "train_gnn",
]
