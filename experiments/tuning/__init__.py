"""Optuna searches over GraphBoostClassifier's parameters (nested-CV objective, staged pruning,
SQLite or PostgreSQL storage) and the tuned estimator ``graphboost-tuned``; the searches over
GraphBoostSurvivalAnalysis's parameters (Harrell's C out of fold, ``run_survival_search``).
"""

from ._search import NestedCVObjective, create_study, open_storage, run_search, search_space
from ._survival_search import SurvivalCVObjective, run_survival_search, survival_search_space
from ._tuned import TunedGraphBoostClassifier

__all__ = [
    "NestedCVObjective",
    "SurvivalCVObjective",
    "TunedGraphBoostClassifier",
    "create_study",
    "open_storage",
    "run_search",
    "run_survival_search",
    "search_space",
    "survival_search_space",
]
