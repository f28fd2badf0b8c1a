"""VolumeEmbedder: encoders, cache and resume, checkpoints, on_error, outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("monai")

from features import (
    VolumeEmbedder,
    VolumePreprocessor,
    build_encoder,
    load_encoder_weights,
)

TINY = {"channels": (4, 4, 8, 8)}


def _embedder(**kw):
    kw.setdefault("encoder_kwargs", TINY)
    kw.setdefault("preprocessor", VolumePreprocessor(shape=16))
    kw.setdefault("batch_size", 2)
    return VolumeEmbedder(**kw)


def _npy_files(tmp_path, n=5, size=12):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = tmp_path / f"vol{i}.npy"
        np.save(p, rng.random((size, size, size)).astype(np.float32))
        paths.append(p)
    return paths


def test_encoders_by_name_and_unknown():
    x = torch.zeros(2, 1, 16, 16, 16)
    assert build_encoder("small", **TINY)(x).shape == (2, 16)
    assert build_encoder("resnet10").eval()(x).shape == (2, 512)
    with pytest.raises(ValueError, match=r"encoder must be one of .*'small'.*got 'vgg'"):
        build_encoder("vgg")


def test_embeddings_are_deterministic_and_input_kinds_agree(tmp_path):
    paths = _npy_files(tmp_path, n=3)
    arrays = [np.load(p) for p in paths]
    a = _embedder().fit_transform(paths)
    b = _embedder().fit(None).transform(arrays)
    c = _embedder().fit().transform(np.stack(arrays))
    assert a.shape == (3, 16) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5)
    assert not np.allclose(a[0], a[1])
    other_seed = _embedder(random_state=1).fit_transform(paths)
    assert not np.allclose(a, other_seed)


def test_pandas_output_indexed_by_patient_id(tmp_path):
    paths = _npy_files(tmp_path, n=3)
    emb = _embedder(output="pandas", prefix="ct").fit()
    df = emb.transform(pd.Series(paths, index=["p1", "p2", "p3"]))
    assert list(df.index) == ["p1", "p2", "p3"]
    assert list(df.columns[:2]) == ["ct:0", "ct:1"] and df.shape == (3, 16)
    df2 = emb.transform(paths, ids=["a", "b", "c"])
    np.testing.assert_allclose(df.to_numpy(), df2.to_numpy())
    with pytest.raises(ValueError, match=r"ids are not unique: 1 repeated patient ID") as info:
        emb.transform(paths, ids=["a", "a", "c"])
    assert "'a'" not in str(info.value)  # IDs are never shown
    with pytest.raises(ValueError, match="ids has 2 entries for 3 volumes"):
        emb.transform(paths, ids=["a", "b"])


def test_cache_second_run_computes_nothing(tmp_path):
    paths = _npy_files(tmp_path, n=5)
    emb = _embedder(cache_dir=tmp_path / "cache").fit()
    first = emb.transform(paths)
    assert (emb.n_computed_, emb.n_from_cache_) == (5, 0)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 5
    assert not list((tmp_path / "cache").glob(".tmp-*"))
    second = emb.transform(paths)
    assert (emb.n_computed_, emb.n_from_cache_) == (0, 5)
    np.testing.assert_array_equal(first, second)
    # changed content -> recomputed; other configuration -> other keys
    np.save(paths[0], np.zeros((12, 12, 12), dtype=np.float32))
    emb.transform(paths)
    assert (emb.n_computed_, emb.n_from_cache_) == (1, 4)
    other = _embedder(cache_dir=tmp_path / "cache", random_state=3).fit()
    other.transform(paths)
    assert other.n_computed_ == 5


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    paths = _npy_files(tmp_path, n=6)
    reference = _embedder().fit_transform(paths)
    emb = _embedder(cache_dir=tmp_path / "cache", batch_size=1).fit()
    real_forward = emb.encoder_.forward
    calls = {"n": 0}

    def dying_forward(x):
        calls["n"] += 1
        if calls["n"] > 4:
            raise KeyboardInterrupt("simulated kill")
        return real_forward(x)

    monkeypatch.setattr(emb.encoder_, "forward", dying_forward)
    with pytest.raises(KeyboardInterrupt):
        emb.transform(paths)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 4
    monkeypatch.setattr(emb.encoder_, "forward", real_forward)
    resumed = emb.transform(paths)
    assert (emb.n_computed_, emb.n_from_cache_) == (2, 4)
    np.testing.assert_allclose(resumed, reference, rtol=1e-4, atol=1e-5)


def test_on_error_skip_keeps_the_rest(tmp_path):
    paths = _npy_files(tmp_path, n=4)
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"garbage")
    flat = tmp_path / "flat.npy"
    np.save(flat, np.ones((12, 12)))
    items = [paths[0], bad, paths[1], flat, paths[2]]
    with pytest.raises(ValueError, match=r"Cannot embed .*broken\.npy"):
        _embedder().fit_transform(items)
    emb = _embedder(on_error="skip", cache_dir=tmp_path / "cache").fit()
    with pytest.warns(UserWarning, match=r"skipped 2 of 5 volumes \(rows of NaN\)") as caught:
        out = emb.transform(items)
    assert [s["position"] for s in emb.skipped_] == [1, 3]
    assert "2D image" in emb.skipped_[1]["error"]
    # File names are patient IDs: in skipped_, never in the warning.
    assert not [w for w in caught if "broken" in str(w.message) or "flat" in str(w.message)]
    assert np.isnan(out[[1, 3]]).all() and np.isfinite(out[[0, 2, 4]]).all()
    reference = _embedder().fit_transform([paths[0], paths[1], paths[2]])
    np.testing.assert_allclose(out[[0, 2, 4]], reference, rtol=1e-4, atol=1e-5)
    nan_arr = np.ones((12, 12, 12))
    nan_arr[0, 0, 0] = np.nan
    with pytest.warns(UserWarning, match="skipped 1 of 2 volumes"):
        emb.transform([nan_arr, paths[0]])
    assert emb.skipped_[0]["source"] == "array at position 0"


def test_workers_give_same_embeddings(tmp_path):
    paths = _npy_files(tmp_path, n=4)
    a = _embedder().fit_transform(paths)
    b = _embedder(num_workers=2).fit_transform(paths)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # a volume that fails inside a worker is reported by the main process, in order
    nan_arr = np.ones((12, 12, 12))
    nan_arr[0, 0, 0] = np.nan
    emb = _embedder(num_workers=2, batch_size=2, on_error="skip").fit()
    with pytest.warns(UserWarning, match="skipped 1 of 5 volumes"):
        c = emb.transform([paths[0], paths[1], nan_arr, paths[2], paths[3]])
    assert [s["position"] for s in emb.skipped_] == [2] and np.isnan(c[2]).all()
    np.testing.assert_allclose(c[[0, 1, 3, 4]], a, rtol=1e-4, atol=1e-5)


def test_loader_with_workers_imports_monai_before_forking_them():
    """Forked workers inherit MONAI instead of each importing it (2.6 s per worker and loader)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from features.imaging._volume_data import VolumeDataset, volume_loader\n"
        "assert 'monai.transforms' not in sys.modules\n"
        "volume_loader(VolumeDataset([], [], None, None, None), batch_size=1, num_workers=0,"
        " device='cpu')\n"
        "assert 'monai.transforms' not in sys.modules\n"
        "volume_loader(VolumeDataset([], [], None, None, None), batch_size=1, num_workers=2,"
        " device='cpu')\n"
        "assert 'monai.transforms' in sys.modules and 'monai.data' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_medicalnet_style_checkpoint(tmp_path):
    enc = build_encoder("resnet10")
    state = {"module." + k: v.clone() + 0.01 for k, v in enc.state_dict().items()}
    state["module.conv_seg.0.weight"] = torch.zeros(3, 3, 1, 1, 1)
    ckpt = tmp_path / "medicalnet_resnet10.pt"
    torch.save({"state_dict": state, "epoch": 3}, ckpt)
    emb = VolumeEmbedder(
        encoder="resnet10", pretrained=ckpt, preprocessor=VolumePreprocessor(shape=16)
    ).fit()
    assert emb.ignored_checkpoint_keys_ == ["conv_seg.0.weight"]
    loaded = emb.encoder_.state_dict()["conv1.weight"]
    torch.testing.assert_close(loaded, state["module.conv1.weight"])
    assert emb.transform([np.random.default_rng(0).random((12, 12, 12))]).shape == (1, 512)


def test_checkpoint_that_does_not_fit_lists_keys(tmp_path):
    enc = build_encoder("resnet10")
    state = {k: v for k, v in enc.state_dict().items() if not k.startswith("layer4")}
    state["conv1.weight"] = torch.zeros(64, 1, 3, 3, 3)
    state["extra.weight"] = torch.zeros(1)
    ckpt = tmp_path / "wrong.pt"
    torch.save(state, ckpt)
    with pytest.raises(ValueError, match=r"wrong\.pt' does not fit") as info:
        VolumeEmbedder(encoder="resnet10", pretrained=ckpt).fit()
    msg = str(info.value)
    assert "conv1.weight: checkpoint (64, 1, 3, 3, 3) vs model (64, 1, 7, 7, 7)" in msg
    assert "Missing keys (" in msg and "layer4.0.bn1.bias" in msg and "more" in msg
    assert "Unexpected keys (1): extra.weight" in msg
    with pytest.raises(ValueError, match="does not fit the SmallCNN3D"):
        load_encoder_weights(build_encoder("small", **TINY), ckpt)


class _Thing:  # an arbitrary object: loading it needs unpickling beyond weights_only
    pass


def test_unsafe_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path / "pickled.pt"

    torch.save({"obj": _Thing()}, ckpt)
    with pytest.raises(ValueError, match=r"pickled\.pt' with weights_only=True"):
        _embedder(pretrained=ckpt).fit()
    with pytest.raises(FileNotFoundError, match=r"nothere\.pt"):
        _embedder(pretrained=tmp_path / "nothere.pt").fit()


def test_parameter_errors():
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip', got 'ignore'"):
        _embedder(on_error="ignore").fit()
    with pytest.raises(ValueError, match="output must be 'numpy' or 'pandas'"):
        _embedder(output="polars").fit()
    with pytest.raises(ValueError, match="not fitted yet"):
        _embedder().transform([np.zeros((8, 8, 8))])
    with pytest.raises(ValueError, match="wrap it in a list"):
        _embedder().fit().transform("scan.nii.gz")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'device' parameter is 'cuda' but torch sees no CUDA"):
            _embedder(device="cuda").fit()
        assert _embedder(device="auto").fit().device_.type == "cpu"


def test_sklearn_clone_and_feature_names():
    from sklearn.base import clone

    emb = _embedder(prefix="mri")
    params = clone(emb).get_params()
    assert params["prefix"] == "mri" and params["encoder_kwargs"] == TINY
    names = emb.fit().get_feature_names_out()
    assert names[0] == "mri:0" and len(names) == 16


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_mixed_precision_matches_cpu(tmp_path):
    paths = _npy_files(tmp_path, n=4)
    cpu = _embedder(device="cpu").fit_transform(paths)
    gpu_emb = _embedder(device="auto").fit()
    assert gpu_emb.device_.type == "cuda"
    gpu = gpu_emb.transform(paths)
    assert gpu.dtype == np.float32 and np.isfinite(gpu).all()
    np.testing.assert_allclose(gpu, cpu, rtol=0.05, atol=0.02)  # float16 autocast
    # the cache key separates mixed-precision embeddings from float32 ones
    _embedder(device="cpu", cache_dir=tmp_path / "c").fit_transform(paths)
    again = _embedder(device="cuda", cache_dir=tmp_path / "c").fit()
    again.transform(paths)
    assert again.n_computed_ == 4
    # workers stack the batches in shared memory, the loader pins them for the copy
    workers = _embedder(device="cuda", num_workers=2, batch_size=2).fit().transform(paths)
    np.testing.assert_allclose(workers, gpu, rtol=1e-3, atol=1e-3)


def test_volume_container_errors():
    from features import Volume

    with pytest.raises(ValueError, match=r"3D \(X, Y, Z\) or channel-first 4D"):
        Volume(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="spacing must have 3 values"):
        Volume(np.zeros((4, 4, 4)), spacing=(1, 1))
    with pytest.raises(ValueError, match="affine must be 4x4"):
        Volume(np.zeros((4, 4, 4)), affine=np.eye(3))


def test_embedder_uses_only_local_random_state(tmp_path):
    """Regression: fit called torch.manual_seed, and iterating the DataLoader drew its worker
    seed from torch's global RNG. Same random_state -> same embeddings, global RNG untouched."""
    paths = _npy_files(tmp_path, n=3)
    results = []
    for global_seed in (0, 123):
        torch.manual_seed(global_seed)
        before = torch.random.get_rng_state()
        results.append(_embedder(random_state=5).fit_transform(paths))
        assert torch.equal(torch.random.get_rng_state(), before)
    np.testing.assert_array_equal(results[0], results[1])
