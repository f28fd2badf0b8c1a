"""Optuna searches over GraphBoostClassifier's parameters (nested-CV objective, staged pruning,
SQLite or PostgreSQL storage) and the tuned estimator ``graphboost-tuned``.
"""

from ._search import NestedCVObjective, create_study, open_storage, run_search, search_space
from ._tuned import TunedGraphBoostClassifier

__all__ = [
    "NestedCVObjective",
    "TunedGraphBoostClassifier",
    "create_study",
    "open_storage",
    "run_search",
    "search_space",
]
