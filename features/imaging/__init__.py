"""3D scans: reading and writing volumes, preprocessing, encoders and embeddings.

The imaging wing of :mod:`features`, and the only part of it that imports torch, MONAI,
nibabel or pydicom (MONAI, nibabel and pydicom lazily, where they are used). It imports
nothing from the other wings.

Functions
---------
read_volume, volume_shape, write_nifti
    Read a NIfTI, DICOM or NumPy volume (or only its shape); write a reproducible NIfTI file.
shape_features
    Size, shape and surface measures of a lesion mask.
build_encoder, load_encoder, load_encoder_weights, save_encoder, min_input_side
    3D encoders, their weights and the smallest volume side they can embed.
save_supervised_embedder, load_supervised_embedder
    A fitted SupervisedVolumeEmbedder in a folder (JSON and state dicts, no pickle).
pretrain_encoder, fine_tune
    Self-supervised pretraining (masked reconstruction, SimCLR) and supervised fine-tuning.
connect_scheduler
    A client of a Dask scheduler, to embed on a cluster (``VolumeEmbedder.transform``).

Classes
-------
Volume
    A 3D image with its geometry.
VolumePreprocessor
    Resample, reorient and normalize volumes.
VolumeEmbedder, SupervisedVolumeEmbedder
    Scans to a block of features (a frozen encoder; an encoder trained on the label).
SmallCNN3D, PretrainResult
    The small default encoder; the outcome of pretraining.
"""

from ._distributed import connect_scheduler
from ._embedding import VolumeEmbedder
from ._encoders import (
    ENCODERS,
    SmallCNN3D,
    build_encoder,
    load_encoder,
    load_encoder_weights,
    min_input_side,
    save_encoder,
)
from ._pretrain import PretrainResult, fine_tune, pretrain_encoder
from ._supervised import SupervisedVolumeEmbedder
from ._supervised_io import load_supervised_embedder, save_supervised_embedder
from ._transforms import VolumePreprocessor
from ._volumes import Volume, read_volume, shape_features, volume_shape, write_nifti

__all__ = [
    "ENCODERS",
    "PretrainResult",
    "SmallCNN3D",
    "SupervisedVolumeEmbedder",
    "Volume",
    "VolumeEmbedder",
    "VolumePreprocessor",
    "build_encoder",
    "connect_scheduler",
    "fine_tune",
    "load_encoder",
    "load_encoder_weights",
    "load_supervised_embedder",
    "min_input_side",
    "pretrain_encoder",
    "read_volume",
    "save_encoder",
    "save_supervised_embedder",
    "shape_features",
    "volume_shape",
    "write_nifti",
]
