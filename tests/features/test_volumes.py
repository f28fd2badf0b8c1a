"""Reading NIfTI, DICOM series and NumPy volumes; bad-input errors; shape features."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from features import Volume, read_volume, shape_features

nib = pytest.importorskip("nibabel")
pydicom = pytest.importorskip("pydicom")


def _write_nifti(path, array, affine=None):
    affine = np.diag([1.5, 2.0, 3.0, 1.0]) if affine is None else affine
    nib.save(nib.Nifti1Image(np.asarray(array, dtype=np.float32), affine), str(path))
    return path


def _write_dicom_series(
    folder,
    n_slices=6,
    rows=5,
    cols=4,
    spacing=2.5,
    pixel_spacing=(0.8, 0.7),
    slope=2.0,
    intercept=-1024.0,
    series_uid=None,
    skip=(),
    shuffle=True,
    start=10.0,
):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    rng = np.random.default_rng(0)
    order = rng.permutation(n_slices) if shuffle else np.arange(n_slices)
    stored = {}
    for k in order:
        if k in skip:
            continue
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        fname = folder / f"img{int(rng.integers(1e6)):07d}_{int(start)}_{k}.dcm"
        ds = FileDataset(str(fname), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.Modality = "CT"
        ds.Rows, ds.Columns = rows, cols
        ds.PixelSpacing = list(pixel_spacing)
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, start + k * spacing]
        ds.SliceThickness = spacing
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        px = (np.arange(rows * cols, dtype=np.uint16).reshape(rows, cols) + 100 * k).astype(
            np.uint16
        )
        stored[k] = px
        ds.PixelData = px.tobytes()
        ds.save_as(str(fname), enforce_file_format=True)
    return stored


def test_nifti_keeps_spacing_and_orientation(tmp_path):
    arr = np.random.default_rng(0).random((6, 7, 8)).astype(np.float32)
    affine = np.diag([-1.5, 2.0, 3.0, 1.0])
    f = _write_nifti(tmp_path / "a.nii.gz", arr, affine)
    vol = read_volume(f)
    assert isinstance(vol, Volume)
    np.testing.assert_allclose(vol.array, arr, rtol=1e-6)
    assert vol.spacing == (1.5, 2.0, 3.0)
    assert vol.orientation == ("L", "A", "S")
    np.testing.assert_allclose(vol.affine, affine)
    assert vol.source == f


def test_nifti_4d_becomes_channel_first(tmp_path):
    arr = np.random.default_rng(0).random((6, 7, 8, 2)).astype(np.float32)
    vol = read_volume(_write_nifti(tmp_path / "b.nii", arr))
    assert vol.array.shape == (2, 6, 7, 8)
    assert vol.shape == (6, 7, 8)


def test_truncated_nifti_names_file(tmp_path):
    f = _write_nifti(tmp_path / "full.nii.gz", np.ones((16, 16, 16)))
    raw = gzip.decompress(f.read_bytes())
    bad = tmp_path / "trunc.nii.gz"
    bad.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(ValueError, match=r"Could not read NIfTI file '.*trunc\.nii\.gz'"):
        read_volume(bad)
    junk = tmp_path / "junk.nii"
    junk.write_bytes(b"not a nifti at all")
    with pytest.raises(ValueError, match=r"junk\.nii.*truncated or corrupt"):
        read_volume(junk)


def test_2d_nan_and_unsupported(tmp_path):
    f2 = _write_nifti(tmp_path / "flat.nii.gz", np.ones((8, 8, 1)))
    with pytest.raises(ValueError, match=r"flat\.nii\.gz' holds a 2D image"):
        read_volume(f2)
    npy2 = tmp_path / "flat.npy"
    np.save(npy2, np.ones((8, 8)))
    with pytest.raises(ValueError, match=r"flat\.npy' holds a 2D image"):
        read_volume(npy2)
    arr = np.ones((4, 4, 4), dtype=np.float32)
    arr[1, 2, 3] = np.nan
    fn = _write_nifti(tmp_path / "nan.nii.gz", arr)
    with pytest.raises(ValueError, match=r"nan\.nii\.gz' contains 1 NaN"):
        read_volume(fn)
    other = tmp_path / "scan.mha"
    other.write_bytes(b"x")
    with pytest.raises(
        ValueError, match=r"Unsupported volume file '.*scan\.mha'.*\.nii\.gz.*DICOM"
    ):
        read_volume(other)
    with pytest.raises(FileNotFoundError, match=r"missing\.nii"):
        read_volume(tmp_path / "missing.nii")


def test_numpy_npy_and_npz(tmp_path):
    arr = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    np.save(tmp_path / "v.npy", arr)
    vol = read_volume(tmp_path / "v.npy")
    assert vol.spacing == (1.0, 1.0, 1.0) and vol.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array, arr)
    np.savez(tmp_path / "one.npz", image=arr)
    assert read_volume(tmp_path / "one.npz", spacing=(2, 2, 1)).spacing == (2.0, 2.0, 1.0)
    np.savez(tmp_path / "two.npz", a=arr, b=arr)
    with pytest.raises(ValueError, match=r"two\.npz' holds 2 arrays"):
        read_volume(tmp_path / "two.npz")
    assert read_volume(tmp_path / "two.npz", key="b").shape == (3, 4, 5)


def test_dicom_series_sorted_and_rescaled(tmp_path):
    stored = _write_dicom_series(tmp_path / "ct", n_slices=6, slope=2.0, intercept=-1024.0)
    vol = read_volume(tmp_path / "ct")
    assert vol.array.shape == (6, 5, 4)
    for k in range(6):
        np.testing.assert_allclose(vol.array[k], stored[k] * 2.0 - 1024.0)
    assert vol.spacing == pytest.approx((2.5, 0.8, 0.7))
    # LPS (0, 0, 10) -> RAS (0, 0, 10); slice axis points superior
    np.testing.assert_allclose(vol.affine[:3, 3], [0.0, 0.0, 10.0])
    assert vol.orientation[0] == "S"


def test_dicom_two_series_and_missing_slices(tmp_path):
    _write_dicom_series(tmp_path / "mixed", n_slices=3)
    _write_dicom_series(tmp_path / "mixed", n_slices=3, start=100.0)
    with pytest.raises(ValueError, match=r"'.*mixed' mixes 2 series"):
        read_volume(tmp_path / "mixed")
    _write_dicom_series(tmp_path / "gappy", n_slices=8, skip=(4,))
    with pytest.raises(ValueError, match=r"'.*gappy' has missing slices"):
        read_volume(tmp_path / "gappy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"Folder '.*empty' is empty"):
        read_volume(tmp_path / "empty")
    (tmp_path / "notdicom").mkdir()
    (tmp_path / "notdicom" / "readme.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"readme\.txt' in DICOM folder"):
        read_volume(tmp_path / "notdicom")


def test_shape_features_cube_and_thin_plate():
    cube = np.zeros((12, 12, 12))
    cube[2:8, 2:8, 2:8] = 255
    f = shape_features(cube)
    assert f["voxels"] == 216 and f["surface_area"] == 6 * 36
    assert f["extent_0"] == 6 and f["bbox_fill"] == 1.0 and f["n_components"] == 1
    assert f["thickness_max"] == 3.0
    plate = np.zeros((12, 12, 12))
    plate[1:11, 1:11, 5] = 1
    g = shape_features(Volume(plate, spacing=(1, 1, 2)))
    assert g["thickness_max"] == 2.0 < f["thickness_max"]  # mm: one 2-mm slice thick
    assert g["flatness"] < 0.1 < f["flatness"]
    assert g["volume"] == 200.0
    empty = shape_features(np.zeros((5, 5, 5)))
    assert list(empty) == list(f) and empty["voxels"] == 0
    with pytest.raises(ValueError, match="needs a 3D volume"):
        shape_features(np.zeros((5, 5)))


def test_dicom_folder_embeds_and_caches(tmp_path):
    pytest.importorskip("monai")
    from features import VolumeEmbedder, VolumePreprocessor

    _write_dicom_series(tmp_path / "p1", n_slices=8, rows=8, cols=8)
    _write_dicom_series(tmp_path / "p2", n_slices=8, rows=8, cols=8, slope=1.0)
    emb = VolumeEmbedder(
        encoder_kwargs={"channels": (4, 4, 8, 8)},
        preprocessor=VolumePreprocessor(shape=16, intensity="ct", window=(-1100, 1000)),
        cache_dir=tmp_path / "cache",
    ).fit()
    first = emb.transform([tmp_path / "p1", tmp_path / "p2"])
    assert first.shape == (2, 16) and not np.allclose(first[0], first[1])
    second = emb.transform([tmp_path / "p1", tmp_path / "p2"])
    assert (emb.n_computed_, emb.n_from_cache_) == (0, 2)
    np.testing.assert_array_equal(first, second)
