"""Issue 20, the imaging wing's side of the scans path (items 17, 18, 20, 25 and 28): an
embedding that does not depend on its batch, the shape of a file without reading it, the
encoder's smallest side, progress bars and a pretraining whose time limit is reported."""

import numpy as np
import pytest

from features import VolumeEmbedder, VolumePreprocessor, pretrain_encoder
from features.imaging import min_input_side, volume_shape

TINY = {"channels": (4, 8, 8, 16)}


def _volumes(n, side=20, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((side, side, side)).astype(np.float32) for _ in range(n)]


def test_an_embedding_is_the_same_bit_for_bit_alone_or_in_any_batch():
    """Issue 20 item 17: a scan's embedding moved by 4e-6 with the other scans of its batch
    (a convolution over a batch takes other kernels than over one volume)."""
    vols = _volumes(6)
    pre = VolumePreprocessor(shape=32)
    emb = VolumeEmbedder(preprocessor=pre, device="cpu", batch_size=8).fit()
    assert not emb.encoder_.training  # eval mode: GroupNorm only, no batch statistics
    alone = emb.transform(vols[:1])
    together = emb.transform(vols)
    shuffled = emb.transform([vols[3], vols[0], vols[5]])
    assert np.array_equal(alone[0], together[0])
    assert np.array_equal(together[[3, 0, 5]], shuffled)
    small_batches = VolumeEmbedder(preprocessor=pre, device="cpu", batch_size=2).fit()
    assert np.array_equal(small_batches.transform(vols), together)


def test_volume_shape_reads_the_header_only(tmp_path):
    nib = pytest.importorskip("nibabel")
    frames = np.zeros((8, 8, 8, 3), dtype=np.float32)
    nib.save(nib.Nifti1Image(frames, np.eye(4)), tmp_path / "a.nii.gz")
    np.save(tmp_path / "b.npy", np.zeros((9, 9, 9)))
    (tmp_path / "c.nii").write_bytes(b"not a NIfTI file")
    assert volume_shape(tmp_path / "a.nii.gz") == (8, 8, 8, 3)
    assert volume_shape(tmp_path / "b.npy") == (9, 9, 9)
    assert volume_shape(tmp_path / "c.nii") is None  # read_volume says what is wrong
    assert volume_shape(tmp_path) is None


def test_the_encoders_smallest_side_is_its_downsampling():
    """Issue 20 item 25: the minimum scan shape is computed from the encoder."""
    assert min_input_side("small") == 16 and min_input_side("small", TINY) == 16


def test_mixed_channels_in_a_batch_name_the_cause_not_a_python_setting():
    """Issue 20 item 20: "different shapes [...]; set VolumePreprocessor(shape=...)" for a 4D
    volume; now the channel counts and the remedy (no file named)."""
    vols = _volumes(2)
    vols.append(np.zeros((3, 20, 20, 20), dtype=np.float32))  # channel-first: 3 frames
    emb = VolumeEmbedder(
        encoder_kwargs=TINY, preprocessor=VolumePreprocessor(shape=16), device="cpu"
    ).fit()
    with pytest.raises(ValueError, match=r"different numbers of channels \(2 with 1, 1 with 3\)"):
        emb.transform(vols)


def test_pretraining_shows_progress_and_reports_its_time_limit(capsys):
    """Issue 20 items 18 and 28: progress bars on stderr; a limit hit is said, not silent."""
    X = (np.random.default_rng(0).random((6, 16, 16, 16)) > 0.6).astype(np.float32)
    kw = {"encoder_kwargs": TINY, "batch_size": 3, "patch_size": 4, "device": "cpu"}
    res = pretrain_encoder(X, epochs=2, progress=True, **kw)
    assert "pretraining" in capsys.readouterr().err
    assert len(res.history) == res.epochs_planned == 2 and not res.stopped_by_time
    again = pretrain_encoder(X, epochs=2, **kw)
    a, b = res.encoder.state_dict(), again.encoder.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)  # same epochs and seed: same weights
    assert capsys.readouterr().err == ""  # no progress unless asked
    short = pretrain_encoder(X, epochs=3, max_seconds=1e-6, **kw)
    assert short.stopped_by_time and len(short.history) == 1 and short.epochs_planned == 3
