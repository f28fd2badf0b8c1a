"""AdrenalMNIST3D loader (real data from the shared folder) and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from features import load_adrenalmnist3d, shape_features, shared_data_dir

ADRENAL = shared_data_dir(must_exist=False) / "adrenalmnist3d"
needs_data = pytest.mark.skipif(
    not (ADRENAL / "adrenalmnist3d.npz").is_file(),
    reason=f"AdrenalMNIST3D not found in {ADRENAL} (set GRAPHBOOST_DATA_DIR)",
)


@pytest.mark.data
@needs_data
def test_official_splits_28():
    ds = load_adrenalmnist3d(size=28)
    assert ds.X_train.shape == (1188, 28, 28, 28)
    assert ds.X_val.shape == (98, 28, 28, 28) and ds.X_test.shape == (298, 28, 28, 28)
    assert ds.y_train.shape == (1188,) and int(ds.y_train.sum()) == 259
    assert set(np.unique(ds.y_test)) == {0, 1}
    X, y = ds.split("val")
    assert X is ds.X_val and y is ds.y_val
    f = shape_features(ds.X_train[0])
    assert f["voxels"] > 0 and f["n_components"] >= 1
    with pytest.raises(ValueError, match="split must be one of"):
        ds.split("holdout")


@pytest.mark.data
@pytest.mark.slow
@needs_data
def test_official_splits_64_explicit_folder():
    ds = load_adrenalmnist3d(size=64, data_dir=ADRENAL)
    assert ds.X_test.shape == (298, 64, 64, 64) and ds.size == 64
    assert ds.path.name == "adrenalmnist3d_64.npz"


def test_loader_errors(tmp_path):
    with pytest.raises(ValueError, match="size must be 28 or 64, got 32"):
        load_adrenalmnist3d(size=32, data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"adrenalmnist3d\.npz"):
        load_adrenalmnist3d(size=28, data_dir=tmp_path)
    np.savez(tmp_path / "adrenalmnist3d.npz", train_images=np.zeros((2, 28, 28, 28)))
    with pytest.raises(ValueError, match="lacks the array 'train_labels'"):
        load_adrenalmnist3d(size=28, data_dir=tmp_path)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = np.zeros((2, 28, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = np.zeros((3, 1), dtype=np.uint8)
    np.savez(tmp_path / "adrenalmnist3d.npz", **arrays)
    with pytest.raises(ValueError, match=r"train_images has shape \(2, 28, 28, 28\)"):
        load_adrenalmnist3d(size=28, data_dir=tmp_path)


def _fake_adrenal(tmp_path, n=(40, 24, 24), side=16, seed=0):
    """A small AdrenalMNIST3D look-alike: a blob per volume whose size grows with the label;
    every volume differs (a random voxel pattern inside the blob)."""
    from features.datasets._adrenal import AdrenalMNIST3D

    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in zip(("train", "val", "test"), n, strict=True):
        y = np.array([0, 1] * (count // 2), dtype=np.int64)
        X = np.zeros((count, side, side, side), dtype=np.uint8)
        for i, label in enumerate(y):
            r = 3 + 2 * label
            c = side // 2
            blob = rng.random((2 * r, 2 * r, 2 * r)) > 0.2
            X[i, c - r : c + r, c - r : c + r, c - r : c + r] = 255 * blob
        arrays[f"X_{split}"], arrays[f"y_{split}"] = X, y
    path = tmp_path / "fake.npz"
    path.write_bytes(b"fake")
    return AdrenalMNIST3D(**arrays, size=side, path=path)
