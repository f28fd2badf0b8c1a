"""The methods a benchmark compares (GraphBoostClassifier and strong baselines, each a
scikit-learn Pipeline), the population GCN, modalities and in-fold modality selection.
"""

from ._gcn import PopulationGCNClassifier
from ._modalities import default_modalities, modality_columns
from ._modality_selection import ModalitySelectionClassifier
from ._pipelines import BASELINES, make_estimator
from ._registry import METHODS, REGISTRY, TUNED, make_pipeline
from ._survival_methods import (
    SURVIVAL_BASELINES,
    SURVIVAL_METHODS,
    CoxnetCV,
    InnerCVSurvival,
    KNeighborsSurvival,
    XGBoostCoxSurvival,
    make_survival_pipeline,
)

__all__ = [
    "BASELINES",
    "METHODS",
    "REGISTRY",
    "SURVIVAL_BASELINES",
    "SURVIVAL_METHODS",
    "TUNED",
    "CoxnetCV",
    "InnerCVSurvival",
    "KNeighborsSurvival",
    "ModalitySelectionClassifier",
    "PopulationGCNClassifier",
    "XGBoostCoxSurvival",
    "default_modalities",
    "make_estimator",
    "make_pipeline",
    "make_survival_pipeline",
    "modality_columns",
]
