"""MONAI preprocessing: reorientation, resampling, intensity, cropping, parameter errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("monai")

from features import Volume, VolumePreprocessor


def test_resize_and_zscore():
    rng = np.random.default_rng(0)
    vol = Volume(rng.random((20, 24, 18)) * 50 + 10)
    out = VolumePreprocessor(shape=16, intensity="mri")(vol)
    assert out.shape == (1, 16, 16, 16) and out.dtype == np.float32
    assert abs(out.mean()) < 1e-4 and abs(out.std() - 1) < 1e-3


def test_spacing_resampling_changes_shape():
    vol = Volume(np.ones((10, 10, 10)), spacing=(2.0, 1.0, 1.0))
    out = VolumePreprocessor(shape=None, spacing=1.0, intensity=None)(vol)
    assert out.shape[1:] == (19, 10, 10) or out.shape[1:] == (20, 10, 10)


def test_ct_window_clips_to_unit_range():
    arr = np.linspace(-2000, 2000, 8 * 8 * 8).reshape(8, 8, 8)
    out = VolumePreprocessor(shape=None, intensity="ct", window=(-100, 300))(Volume(arr))
    assert out.min() == 0.0 and out.max() == 1.0
    mid = VolumePreprocessor(shape=None, intensity="ct", window=(-100, 300))(
        Volume(np.full((4, 4, 4), 100.0))
    )
    np.testing.assert_allclose(mid, 0.5)


def test_reorientation_to_ras_flips_axis():
    arr = np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8)
    vol = Volume(arr, affine=np.diag([-1.0, 1.0, 1.0, 1.0]))
    assert vol.orientation == ("L", "A", "S")
    out = VolumePreprocessor(shape=None, intensity=None)(vol)
    np.testing.assert_array_equal(out[0], arr[::-1])
    kept = VolumePreprocessor(shape=None, intensity=None, orientation=None)(vol)
    np.testing.assert_array_equal(kept[0], arr)


def test_crop_around_mask_and_bbox():
    arr = np.zeros((30, 30, 30), dtype=np.float32)
    arr[10:14, 12:16, 5:9] = 1.0
    mask = arr > 0
    out = VolumePreprocessor(shape=None, intensity=None, crop="mask", margin=2)(arr, mask=mask)
    assert out.shape == (1, 8, 8, 8)
    assert out.sum() == 64  # the whole lesion is kept
    box = VolumePreprocessor(shape=12, intensity=None, crop="bbox", margin=0)(
        arr, bbox=((10, 14), (12, 16), (5, 9))
    )
    assert box.shape == (1, 12, 12, 12) and box.min() > 0.99


def test_bad_parameters_and_inputs():
    arr = np.zeros((8, 8, 8))
    with pytest.raises(ValueError, match="intensity must be one of"):
        VolumePreprocessor(intensity="pet")(arr)
    with pytest.raises(ValueError, match="crop must be one of"):
        VolumePreprocessor(crop="lesion")(arr)
    with pytest.raises(ValueError, match="window must be"):
        VolumePreprocessor(intensity="ct", window=(400, -1000))(arr)
    with pytest.raises(ValueError, match="shape must be a number or 3 numbers"):
        VolumePreprocessor(shape=(8, 8))(arr)
    with pytest.raises(ValueError, match="crop='mask' needs a mask"):
        VolumePreprocessor(crop="mask")(arr)
    with pytest.raises(ValueError, match="mask for the volume is empty"):
        VolumePreprocessor(crop="mask")(arr, mask=np.zeros((8, 8, 8)))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4, 4\) does not match"):
        VolumePreprocessor(crop="mask")(arr, mask=np.ones((4, 4, 4)))
    with pytest.raises(ValueError, match="bbox must be"):
        VolumePreprocessor(crop="bbox")(arr, bbox=((3, 1), (0, 2), (0, 2)))
    cfg = VolumePreprocessor(shape=16).config()
    assert cfg["shape"] == [16, 16, 16] and cfg["intensity"] == "minmax"


def test_distance_map_of_a_mask():
    from scipy import ndimage

    mask = np.zeros((20, 20, 20))
    mask[5:15, 6:12, 4:16] = 255  # any two levels: inside is above half of the maximum
    pre = VolumePreprocessor(shape=None, orientation=None, intensity="distance", distance_clip=4)
    out = pre(mask)[0]
    inside = mask > 0
    expected = ndimage.distance_transform_edt(inside) - ndimage.distance_transform_edt(~inside)
    np.testing.assert_allclose(out, np.clip(expected, -4, 4) / 4, atol=1e-6)
    assert (out[inside] > 0).all() and (out[~inside] < 0).all() and out.min() == -1.0
    # the distance map is taken on the full grid, then resized
    small = VolumePreprocessor(shape=10, orientation=None, intensity="distance")(mask)
    assert small.shape == (1, 10, 10, 10) and small.max() <= 1 and small.min() >= -1
    assert pre.config()["distance_clip"] == 4.0
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(pre))(mask)[0], out)  # built, pickled
    assert "distance_clip" not in VolumePreprocessor().config()  # earlier cache keys unchanged


def test_distance_map_errors():
    pre = VolumePreprocessor(shape=None, orientation=None, intensity="distance")
    with pytest.raises(ValueError, match=r"needs a mask with voxels inside and outside it; ch"):
        pre(np.zeros((8, 8, 8)))
    with pytest.raises(ValueError, match="channel 0 of the volume has 512 of 512 voxels inside"):
        pre(np.ones((8, 8, 8)))
    with pytest.raises(ValueError, match="distance_clip must be > 0, got 0"):
        VolumePreprocessor(intensity="distance", distance_clip=0)(np.ones((8, 8, 8)))
