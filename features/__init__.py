"""Turn clinical tables and 3D scans into model-ready patient features for graphboost.

Public API (implementations live in private modules and are re-exported here).
"""

from ._adrenal import AdrenalMNIST3D, load_adrenalmnist3d
from ._block_pca import BlockPCA
from ._clinical import ClinicalPreprocessor, UnseenCategoryWarning, load_preprocessor
from ._cohort import Cohort
from ._data import shared_data_dir
from ._duke import DukeDataset, load_duke
from ._embedding import VolumeEmbedder
from ._encoders import (
    ENCODERS,
    SmallCNN3D,
    build_encoder,
    load_encoder,
    load_encoder_weights,
    save_encoder,
)
from ._pretrain import PretrainResult, fine_tune, pretrain_encoder
from ._public_cohorts import PUBLIC_COHORTS, load_public_cohort
from ._supervised import SupervisedVolumeEmbedder
from ._synthetic import SyntheticCohort, make_synthetic_cohort
from ._table import read_table
from ._transforms import VolumePreprocessor
from ._volumes import Volume, read_volume, shape_features

__all__ = [
    "ENCODERS",
    "PUBLIC_COHORTS",
    "AdrenalMNIST3D",
    "BlockPCA",
    "ClinicalPreprocessor",
    "Cohort",
    "DukeDataset",
    "PretrainResult",
    "SmallCNN3D",
    "SupervisedVolumeEmbedder",
    "SyntheticCohort",
    "UnseenCategoryWarning",
    "Volume",
    "VolumeEmbedder",
    "VolumePreprocessor",
    "build_encoder",
    "fine_tune",
    "load_adrenalmnist3d",
    "load_duke",
    "load_encoder",
    "load_encoder_weights",
    "load_preprocessor",
    "load_public_cohort",
    "make_synthetic_cohort",
    "pretrain_encoder",
    "read_table",
    "read_volume",
    "save_encoder",
    "shape_features",
    "shared_data_dir",
]
