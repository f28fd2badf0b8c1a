"""AdrenalMNIST3D loader (real data from the shared folder) and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import features
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


@pytest.mark.slow
def test_compare_pretraining_same_seeds_no_test_volume_and_weights_loaded(tmp_path, monkeypatch):
    """--compare-pretraining: pretraining sees train + val volumes only; every supervised
    encoder of the mae / simclr starts is loaded with exactly the saved pretrained weights and
    the none start loads nothing; one JSON with the three starts."""
    import torch

    import features.imaging._supervised as supervised
    from experiments import adrenal_mnist3d as script

    ds = _fake_adrenal(tmp_path)
    monkeypatch.setattr(features, "load_adrenalmnist3d", lambda size: ds)
    seen, loaded = [], []
    real_pretrain, real_load = features.pretrain_encoder, supervised.load_encoder_weights

    def spy_pretrain(X, **kw):
        seen.append((kw["objective"], np.asarray(X)))
        return real_pretrain(X, **kw)

    def spy_load(encoder, state, **kw):
        out = real_load(encoder, state, **kw)
        saved = torch.load(state, weights_only=True)
        for name, value in encoder.state_dict().items():
            torch.testing.assert_close(value, saved[name])
        loaded.append(Path(state).name)
        return out

    monkeypatch.setattr(features, "pretrain_encoder", spy_pretrain)
    monkeypatch.setattr(supervised, "load_encoder_weights", spy_load)
    argv = ["--compare-pretraining", "--device", "cpu", "--size", "8", "--channels", "4,4,8,8"]
    argv += ["--cv", "2", "--max-epochs", "2", "--patience", "2", "--batch-size", "8"]
    argv += ["--pretrain-epochs", "1", "--seeds", "0,1", "--n-estimators", "3"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--json", str(tmp_path / "out.json")]
    summary = script.main(argv)

    pre = features.VolumePreprocessor(shape=8, orientation=None, intensity="minmax")
    test = np.stack([pre(v) for v in ds.X_test])
    assert [objective for objective, _ in seen] == ["mae", "simclr"]
    for _, X in seen:
        assert len(X) == len(ds.y_train) + len(ds.y_val)
        flat = X.reshape(len(X), -1)
        assert not any((flat == t.reshape(1, -1)).all(1).any() for t in test)
    # 2 fold encoders x 2 seeds per pretrained start; the none start loads nothing
    assert sorted(name.split("_")[1] for name in loaded) == ["mae"] * 4 + ["simclr"] * 4

    assert json.loads((tmp_path / "out.json").read_text()) == summary
    starts = summary["pretraining"]
    assert set(starts) == {"none", "mae", "simclr"} and summary["start"] in starts
    best_val = max(starts, key=lambda s: starts[s]["learned, val"])
    assert summary["start"] == best_val
    for key in ("learned", "shape", "shape+learned"):
        assert summary[key] == starts[summary["start"]][key]
    for res in starts.values():
        assert len(res["per_seed"]["learned"]) == 2 and len(res["training"]) == 2
        assert res["per_seed"]["shape"] == starts["none"]["per_seed"]["shape"]  # same seeds
    assert starts["none"]["pretrain_s"] == 0 < starts["mae"]["pretrain_s"]
    # different starts give different encoders: the learned figures are not all equal
    assert len({tuple(r["per_seed"]["learned, out-of-fold train"]) for r in starts.values()}) > 1
