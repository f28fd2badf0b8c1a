"""The learned block finds what hand-made shape features cannot: lesion texture.

A synthetic cohort whose scans carry the label only through the grain of the lesion's texture
(``make_synthetic_cohort(lesion_signal="texture")``): shape features of the lesion masks carry no
signal there, the cross-fitted SupervisedVolumeEmbedder does.
"""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("monai")

from features import (
    Cohort,
    SupervisedVolumeEmbedder,
    VolumePreprocessor,
    make_synthetic_cohort,
    shape_features,
)
from graphboost import GraphBoostClassifier


def _mask_shapes(cohort) -> pd.DataFrame:
    """shape_features of every lesion mask; constant columns dropped."""
    rows = {
        pid: shape_features(np.asarray(nib.load(cohort.masks_dir / f"{pid}.nii.gz").dataobj))
        for pid in cohort.scan_paths
    }
    shapes = pd.DataFrame.from_dict(rows, orient="index")
    return shapes.loc[:, shapes.nunique() > 1]


def _texture_cohort(tmp_path, n_patients):
    synthetic = make_synthetic_cohort(
        tmp_path, n_patients=n_patients, shape=(24, 24, 24), lesion_signal="texture"
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Patient IDs do not match across sources")
        cohort = Cohort(
            synthetic.read_clinical(), {"shape": _mask_shapes(synthetic)}, label="label"
        )
    scans = pd.Series({pid: str(path) for pid, path in synthetic.scan_paths.items()}, name="scan")
    return cohort, cohort.X.join(scans), cohort.y.to_numpy()


def test_texture_knob_leaves_the_masks_without_signal(tmp_path):
    """With lesion_signal="texture" the lesion masks do not depend on the label."""
    synthetic = make_synthetic_cohort(
        tmp_path, n_patients=80, shape=(12, 12, 12), lesion_signal="texture", random_state=1
    )
    shapes = _mask_shapes(synthetic)
    y = synthetic.read_clinical().set_index("patient_id").loc[shapes.index, "label"].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    proba = cross_val_predict(model, shapes, y, cv=cv, method="predict_proba")[:, 1]
    assert abs(roc_auc_score(y, proba) - 0.5) < 0.2
    with pytest.raises(ValueError, match=r"'lesion_signal' parameter .*got 'grain'"):
        make_synthetic_cohort(tmp_path, n_patients=10, shape=(8, 8, 8), lesion_signal="grain")


@pytest.mark.slow  # 200 scans of 24^3, three small CNNs trained on CPU: about 30-60 s
@pytest.mark.filterwarnings("ignore:Constant columns")
def test_learned_block_adds_auroc_over_clinical_and_shape_features(tmp_path):
    cohort, X, y = _texture_cohort(tmp_path, n_patients=200)
    train, test = train_test_split(np.arange(len(y)), test_size=0.4, stratify=y, random_state=0)
    shape_columns = cohort.feature_groups["shape"]

    def graphboost(**groups):
        return GraphBoostClassifier(n_estimators=20, feature_groups=groups, random_state=0)

    baseline = make_pipeline(
        cohort.make_preprocessor(), graphboost(shape=shape_columns)
    ).set_output(transform="pandas")
    baseline.fit(X.iloc[train].drop(columns="scan"), y[train])
    base_auc = roc_auc_score(
        y[test], baseline.predict_proba(X.iloc[test].drop(columns="scan"))[:, 1]
    )

    embedder = SupervisedVolumeEmbedder(
        encoder_kwargs={"channels": (4, 8, 8, 16)},
        preprocessor=VolumePreprocessor(shape=24, intensity="mri"),
        cv=3,
        max_epochs=30,
        validation_fraction=0.0,
        augment=0.0,  # flips only: affine resampling would smooth the fine texture away
        batch_size=16,
        device="cpu",
    )
    block = embedder.block_columns()
    full = make_pipeline(
        embedder,
        cohort.make_preprocessor(numeric=block, binary=["scan:missing"], skip_indicator=block),
        graphboost(shape=shape_columns, scan=block),
    ).set_output(transform="pandas")
    full.fit(X.iloc[train], y[train])
    full_auc = roc_auc_score(y[test], full.predict_proba(X.iloc[test])[:, 1])
    assert full_auc >= base_auc + 0.05, (base_auc, full_auc)
