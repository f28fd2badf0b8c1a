"""Model folders written by ``graphboost fit`` / ``tune``: the fitted pipeline, its cohort spec,
the manifest of checksums, and the extras a prediction needs (calibration, threshold, sets).
"""

from ._extras import ModelExtras, read_extras
from ._folder import ModelFolder, load_model_folder, save_model_folder

__all__ = [
    "ModelExtras",
    "ModelFolder",
    "load_model_folder",
    "read_extras",
    "save_model_folder",
]
