"""Self-supervised pretraining, fine-tuning and encoder save / load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("monai")

from features import (
    VolumeEmbedder,
    VolumePreprocessor,
    build_encoder,
    fine_tune,
    load_encoder,
    pretrain_encoder,
    save_encoder,
)

TINY = {"channels": (4, 4, 8, 8)}


def _blobs(n=12, size=16, seed=0):
    """Binary volumes: a small or a large ball at a random place (label = large)."""
    rng = np.random.default_rng(seed)
    grid = np.indices((size, size, size)).astype(np.float32)
    X, y = [], []
    for i in range(n):
        big = i % 2
        r = (5.0 if big else 2.5) + rng.random()
        c = rng.uniform(r, size - r, 3)
        d = np.sqrt(((grid - c[:, None, None, None]) ** 2).sum(0))
        X.append((d <= r).astype(np.float32))
        y.append(big)
    return np.stack(X), np.array(y)


@pytest.mark.parametrize("objective", ["mae", "simclr"])
def test_pretraining_reduces_loss_and_changes_weights(objective):
    X, _ = _blobs(12)
    torch.manual_seed(0)
    before = build_encoder("small", **TINY).state_dict()
    res = pretrain_encoder(
        X,
        encoder_kwargs=TINY,
        objective=objective,
        epochs=4,
        batch_size=6,
        patch_size=4,
        lr=5e-3,
        random_state=0,
    )
    assert len(res.history) == 4 and res.n_volumes == 12 and res.seconds > 0
    assert res.history[-1] < res.history[0]
    after = res.encoder.state_dict()
    assert not torch.equal(before["stages.0.0.weight"], after["stages.0.0.weight"])
    assert res.config["objective"] == objective


def test_save_load_round_trip_into_embedder(tmp_path):
    X, _ = _blobs(8)
    res = pretrain_encoder(X, encoder_kwargs=TINY, epochs=1, batch_size=4, patch_size=4)
    path = res.save(tmp_path / "enc" / "ssl.pt")
    assert path.is_file() and not list(path.parent.glob(".tmp-*"))
    state = torch.load(path, weights_only=True)
    assert all(torch.is_tensor(v) for v in state.values())
    enc = load_encoder(path, encoder_kwargs=TINY)
    x = torch.from_numpy(X[:2, None])
    torch.testing.assert_close(enc(x), res.encoder(x))
    emb = VolumeEmbedder(
        encoder_kwargs=TINY,
        pretrained=path,
        preprocessor=VolumePreprocessor(shape=16, intensity=None, orientation=None),
    ).fit()
    np.testing.assert_allclose(
        emb.transform(list(X[:2])), res.encoder(x).detach().numpy(), rtol=1e-4, atol=1e-5
    )
    with pytest.raises(ValueError, match=r"ssl\.pt' does not fit the SmallCNN3D"):
        load_encoder(path, encoder_kwargs={"channels": (8, 8, 8, 8)})


def test_fine_tune_in_pipeline_sees_training_fold_only():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = _blobs(16)
    emb = VolumeEmbedder(
        encoder_kwargs=TINY,
        preprocessor=VolumePreprocessor(shape=16, intensity=None),
        fine_tune_epochs=2,
    )
    pipe = make_pipeline(emb, LogisticRegression(max_iter=1000))
    pipe.fit(list(X[:12]), y[:12])
    fitted = pipe[0]
    untuned = VolumeEmbedder(encoder_kwargs=TINY).fit()
    assert fitted.weights_hash_ != untuned.weights_hash_
    assert pipe.predict_proba(list(X[12:])).shape == (4, 2)


def test_fine_tune_function_and_errors():
    X, y = _blobs(8)
    enc = build_encoder("small", **TINY)
    w0 = enc.stages[0][0].weight.detach().clone()
    fine_tune(enc, X, y, epochs=1, batch_size=4)
    assert not torch.equal(w0, enc.stages[0][0].weight)
    assert not enc.training
    with pytest.raises(ValueError, match="at least 2 classes"):
        fine_tune(enc, X, np.zeros(8), epochs=1)
    with pytest.raises(ValueError, match="y has 3 labels for 8 volumes"):
        fine_tune(enc, X, [0, 1, 0], epochs=1)


def test_pretrain_parameter_errors(tmp_path):
    X, _ = _blobs(4)
    with pytest.raises(ValueError, match="objective must be one of"):
        pretrain_encoder(X, objective="byol")
    with pytest.raises(ValueError, match="mask_ratio must be in"):
        pretrain_encoder(X, mask_ratio=1.5)
    with pytest.raises(ValueError, match="patch_size=5 must divide the volume size 16"):
        pretrain_encoder(X, patch_size=5, encoder_kwargs=TINY)
    with pytest.raises(ValueError, match="at least 2 volumes"):
        pretrain_encoder(X[:1], encoder_kwargs=TINY)
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pretrain_encoder(bad, encoder_kwargs=TINY, patch_size=4)
    enc = build_encoder("small", **TINY)
    p = save_encoder(enc, tmp_path / "w.pt")
    with pytest.raises(ValueError, match="encoder must be one of"):
        load_encoder(p, encoder="unet")
    two = np.stack([X, X], axis=1)  # (n, 2, 16, 16, 16): the encoder takes 2 channels
    with pytest.raises(ValueError, match=r"is 1 but the preprocessed volumes have 2"):
        pretrain_encoder(two, encoder_kwargs={**TINY, "in_channels": 1}, patch_size=4)
    res = pretrain_encoder(two, encoder_kwargs={**TINY, "in_channels": 2}, epochs=1, patch_size=4)
    assert res.n_volumes == 4


def test_max_seconds_stops_after_the_current_epoch():
    X, _ = _blobs(6)
    res = pretrain_encoder(
        X, encoder_kwargs=TINY, epochs=5, batch_size=3, patch_size=4, max_seconds=0.0
    )
    assert len(res.history) == 1 and res.config["epochs"] == 1


@pytest.mark.parametrize("objective", ["mae", "simclr"])
def test_pretraining_uses_only_local_random_state(objective):
    """Same random_state -> same weights, whatever torch's global RNG holds; the global RNG is
    neither read nor changed (regression: pretrain_encoder called torch.manual_seed)."""
    X, _ = _blobs(8)
    kwargs = {"encoder_kwargs": TINY, "objective": objective, "epochs": 2, "batch_size": 4}
    runs = []
    for global_seed in (0, 123):
        torch.manual_seed(global_seed)
        before = torch.random.get_rng_state()
        res = pretrain_encoder(X, patch_size=4, random_state=7, **kwargs)
        assert torch.equal(torch.random.get_rng_state(), before)
        runs.append(res)
    assert runs[0].history == runs[1].history
    for key, value in runs[0].encoder.state_dict().items():
        assert torch.equal(value, runs[1].encoder.state_dict()[key]), key
    other = pretrain_encoder(X, patch_size=4, random_state=8, **kwargs)
    assert other.history != runs[0].history


def test_fine_tune_uses_only_local_random_state():
    """The linear head's initial weights and the flips come from random_state alone."""
    X, y = _blobs(8)
    start = build_encoder("small", **TINY).state_dict()
    tuned = []
    for global_seed in (0, 123):
        encoder = build_encoder("small", **TINY)
        encoder.load_state_dict(start)
        torch.manual_seed(global_seed)
        before = torch.random.get_rng_state()
        fine_tune(encoder, X, y, epochs=2, batch_size=4, random_state=3)
        assert torch.equal(torch.random.get_rng_state(), before)
        tuned.append(encoder.state_dict())
    for key, value in tuned[0].items():
        assert torch.equal(value, tuned[1][key]), key
    assert not torch.equal(tuned[0]["stages.0.0.weight"], start["stages.0.0.weight"])


def test_unreadable_files_raise_or_are_skipped_and_listed(tmp_path):
    X, _ = _blobs(4)
    files = []
    for i, volume in enumerate(X):
        files.append(tmp_path / f"p{i}.npy")
        np.save(files[-1], volume)
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not a volume")
    paths = [str(p) for p in [*files[:2], broken, *files[2:]]]
    kw = {"encoder_kwargs": TINY, "epochs": 1, "patch_size": 4}
    kw["preprocessor"] = VolumePreprocessor(shape=16)
    with pytest.raises(ValueError, match=r"Cannot preprocess .*broken\.npy"):
        pretrain_encoder(paths, **kw)
    res = pretrain_encoder(paths, on_error="skip", **kw)
    assert res.n_volumes == 4
    assert [(s["position"], s["source"]) for s in res.skipped] == [(2, str(broken))]
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip', got 'ignore'"):
        pretrain_encoder(paths, on_error="ignore", **kw)
