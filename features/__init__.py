"""Turn clinical tables and 3D scans into model-ready patient features for graphboost.

Public API, re-exported from three wings (each a package with its own public names) and the
shared leaves beside them:

- :mod:`features.tables`: clinical tables, their preprocessing and the cohort;
- :mod:`features.imaging`: 3D scans, encoders and embeddings (the only wing importing torch,
  MONAI, nibabel or pydicom);
- :mod:`features.datasets`: loaders of real and synthetic cohorts (using the other two wings
  only through their public names);
- shared leaves: ``_common`` (messages), ``_jsonfile`` (checked JSON files) and ``_data``
  (:func:`shared_data_dir`).

The implementations live in private modules inside the wings.
"""

from ._data import shared_data_dir
from .datasets import (
    PUBLIC_COHORTS,
    SURVIVAL_COHORTS,
    AdrenalMNIST3D,
    SyntheticCohort,
    load_adrenalmnist3d,
    load_duke,
    load_public_cohort,
    load_survival_cohort,
    make_synthetic_cohort,
    survival_target,
)
from .imaging import (
    ENCODERS,
    PretrainResult,
    SmallCNN3D,
    SupervisedVolumeEmbedder,
    Volume,
    VolumeEmbedder,
    VolumePreprocessor,
    build_encoder,
    fine_tune,
    load_encoder,
    load_encoder_weights,
    load_supervised_embedder,
    pretrain_encoder,
    read_volume,
    save_encoder,
    save_supervised_embedder,
    shape_features,
)
from .tables import (
    BlockPCA,
    ClinicalPreprocessor,
    Cohort,
    Task,
    UnseenCategoryWarning,
    load_preprocessor,
    read_table,
)

__all__ = [
    "ENCODERS",
    "PUBLIC_COHORTS",
    "SURVIVAL_COHORTS",
    "AdrenalMNIST3D",
    "BlockPCA",
    "ClinicalPreprocessor",
    "Cohort",
    "PretrainResult",
    "SmallCNN3D",
    "SupervisedVolumeEmbedder",
    "SyntheticCohort",
    "Task",
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
    "load_supervised_embedder",
    "load_survival_cohort",
    "make_synthetic_cohort",
    "pretrain_encoder",
    "read_table",
    "read_volume",
    "save_encoder",
    "save_supervised_embedder",
    "shape_features",
    "shared_data_dir",
    "survival_target",
]


def __getattr__(name):
    """Deprecated names: ``DukeDataset`` and ``SurvivalDataset`` are :class:`Task` now."""
    if name in ("DukeDataset", "SurvivalDataset"):
        from . import datasets

        return datasets.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
