"""Turn clinical tables and 3D scans into model-ready patient features for graphboost.

Public API (implementations live in private modules and are re-exported here).
"""

from ._clinical import ClinicalPreprocessor, UnseenCategoryWarning
from ._data import shared_data_dir
from ._duke import DukeDataset, load_duke

__all__ = [
    "ClinicalPreprocessor",
    "DukeDataset",
    "UnseenCategoryWarning",
    "load_duke",
    "shared_data_dir",
]
