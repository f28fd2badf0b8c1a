"""Reading 3D volumes (NIfTI, DICOM series, NumPy) into a small :class:`Volume` container.

nibabel and pydicom are optional dependencies (``pip install 'graphboost[imaging]'``); they are
imported only when a file of their format is read (or, for nibabel, written by
:func:`write_nifti`).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "SUPPORTED_FORMATS",
    "Volume",
    "read_volume",
    "shape_features",
    "volume_shape",
    "write_nifti",
]

SUPPORTED_FORMATS = (".nii", ".nii.gz", ".npy", ".npz", "a DICOM series folder")

_IMAGING_EXTRA = "pip install 'graphboost[imaging]'"


def _require(module: str, doing: str = "Reading this file"):
    """Import an optional imaging dependency or raise an ImportError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            f"{doing} needs the optional package {module!r}: {_IMAGING_EXTRA}"
        ) from exc


@dataclass
class Volume:
    """A 3D image with its geometry.

    Parameters
    ----------
    array : numpy.ndarray
        float32 voxels, shape ``(X, Y, Z)`` or channel-first ``(C, X, Y, Z)``. The spatial axes
        are the voxel axes of the file (i, j, k); ``affine`` maps them to world coordinates.
    spacing : tuple of float
        Voxel size along the three spatial axes (millimetres for medical files, 1 for NumPy).
    affine : numpy.ndarray
        4x4 voxel-to-world matrix in the RAS+ convention used by nibabel and MONAI.
    source : pathlib.Path or None
        The file or folder the volume was read from.

    Examples
    --------
    >>> import numpy as np
    >>> v = Volume(np.zeros((4, 5, 6), dtype=np.float32))
    >>> v.shape, v.spacing, v.orientation
    ((4, 5, 6), (1.0, 1.0, 1.0), ('R', 'A', 'S'))
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    affine: np.ndarray = field(default=None)  # type: ignore[assignment]
    source: Path | None = None

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array, dtype=np.float32)
        if self.array.ndim not in (3, 4):
            raise ValueError(
                f"Volume array must be 3D (X, Y, Z) or channel-first 4D (C, X, Y, Z); "
                f"got shape {self.array.shape}"
            )
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        if len(self.spacing) != 3:
            raise ValueError(f"spacing must have 3 values, got {self.spacing}")
        if self.affine is None:
            self.affine = np.diag([*self.spacing, 1.0])
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got shape {self.affine.shape}")

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the spatial axes (the channel axis, if any, excluded)."""
        return tuple(self.array.shape[-3:])

    @property
    def orientation(self) -> tuple[str, str, str]:
        """Axis codes of the voxel axes, e.g. ``('R', 'A', 'S')`` (nibabel's convention)."""
        return _axcodes(self.affine)

    def channel_first(self) -> np.ndarray:
        """The voxels with a leading channel axis, shape ``(C, X, Y, Z)``."""
        return self.array if self.array.ndim == 4 else self.array[None]


def _axcodes(affine: np.ndarray) -> tuple[str, str, str]:
    labels = (("L", "R"), ("P", "A"), ("I", "S"))
    rot = np.asarray(affine)[:3, :3]
    codes = []
    used: set[int] = set()
    for col in range(3):
        vec = rot[:, col].copy()
        vec[list(used)] = 0.0
        axis = int(np.argmax(np.abs(vec)))
        used.add(axis)
        codes.append(labels[axis][1] if vec[axis] >= 0 else labels[axis][0])
    return tuple(codes)  # type: ignore[return-value]


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return path.suffix.lower()


def read_volume(
    path: str | os.PathLike,
    *,
    spacing: tuple[float, float, float] | None = None,
    key: str | None = None,
) -> Volume:
    """Read a 3D volume from a NIfTI file, a DICOM series folder or a NumPy file.

    Parameters
    ----------
    path : str or path-like
        ``.nii`` / ``.nii.gz`` (nibabel), ``.npy`` / ``.npz`` (NumPy) or a folder holding one DICOM
        series (pydicom). A 4D NIfTI becomes channel-first ``(C, X, Y, Z)``.
    spacing : tuple of 3 floats, optional
        Voxel spacing for NumPy files (default 1, 1, 1). Ignored, with the file's own geometry
        used, for NIfTI and DICOM.
    key : str, optional
        Array name inside an ``.npz`` holding several arrays.

    Returns
    -------
    Volume

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        Unsupported extension (the message lists the supported formats), a corrupt or truncated
        file, a 2D image, NaN or infinite voxels, an empty folder, a DICOM folder with two series
        or missing slices. Every message names the file or folder.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "v.npy")
    >>> np.save(f, np.ones((8, 8, 8)))
    >>> read_volume(f, spacing=(2, 2, 2)).spacing
    (2.0, 2.0, 2.0)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Volume file or folder not found: '{path}'")
    if path.is_dir():
        vol = _read_dicom_series(path)
    else:
        suffix = _suffix(path)
        if suffix in (".nii", ".nii.gz"):
            vol = _read_nifti(path)
        elif suffix in (".npy", ".npz"):
            vol = _read_numpy(path, spacing=spacing, key=key)
        else:
            raise ValueError(
                f"Unsupported volume file '{path}' (extension {suffix or 'none'!r}); supported "
                f"formats: {', '.join(SUPPORTED_FORMATS)}"
            )
    _check_voxels(vol.array, path)
    return vol


def volume_shape(path: str | os.PathLike) -> tuple[int, ...] | None:
    """The array shape of a volume file from its header alone (no voxel is read), or None.

    NIfTI files give their header's shape (``(X, Y, Z)`` or ``(X, Y, Z, T)``: a 4D file has
    ``T`` frames), ``.npy`` files their array's shape; an ``.npz``, a DICOM folder, a file that
    cannot be opened or any other path give None (:func:`read_volume` then says what is wrong).
    Cheap enough to check every file of a folder before any work.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "v.npy")
    >>> np.save(f, np.ones((8, 8, 8, 3)))
    >>> volume_shape(f)
    (8, 8, 8, 3)
    """
    path = Path(path)
    if not path.is_file():
        return None
    suffix = _suffix(path)
    try:
        if suffix in (".nii", ".nii.gz"):
            nib = _require("nibabel")
            return tuple(int(s) for s in nib.load(str(path)).shape)
        if suffix == ".npy":
            return tuple(int(s) for s in np.load(path, mmap_mode="r", allow_pickle=False).shape)
    except Exception:  # a damaged file: read_volume names the problem when it is read
        return None
    return None


def write_nifti(path: str | Path, array: np.ndarray, affine: np.ndarray | None = None) -> Path:
    """Write a 3D array to a NIfTI file, reproducibly.

    A ``.nii.gz`` path is gzip-compressed with a fixed timestamp (and level 1), so the same
    array and affine give byte-identical files: caches keyed by file content stay valid when
    the file is written again. Any other path gets the uncompressed NIfTI bytes. The header's
    spatial unit is the millimetre. Needs nibabel (``pip install 'graphboost[imaging]'``).

    Parameters
    ----------
    path : str or Path
        The file to write (its folder must exist); usually ``"<name>.nii.gz"``.
    array : numpy.ndarray
        The voxels, shape ``(X, Y, Z)``; written with their dtype.
    affine : numpy.ndarray of shape (4, 4), optional
        Voxel-to-world matrix (RAS+, millimetres). Default: the identity.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = write_nifti(os.path.join(tempfile.mkdtemp(), "v.nii.gz"), np.ones((2, 3, 4)))
    >>> read_volume(path).shape
    (2, 3, 4)
    """
    nib = _require("nibabel", doing="Writing NIfTI files")
    path = Path(path)
    image = nib.Nifti1Image(array, np.eye(4) if affine is None else affine)
    image.header.set_xyzt_units("mm")
    data = image.to_bytes()
    if _suffix(path) == ".nii.gz":
        data = gzip.compress(data, compresslevel=1, mtime=0)
    path.write_bytes(data)
    return path


def _check_voxels(array: np.ndarray, path: Path) -> None:
    spatial = array.shape[-3:] if array.ndim >= 3 else array.shape
    if array.ndim < 3 or sum(s > 1 for s in spatial) < 3:
        raise ValueError(
            f"'{path}' holds a 2D image of shape {array.shape}; a 3D volume (X, Y, Z) with at "
            f"least 2 voxels along each axis is needed"
        )
    if array.ndim > 4:
        raise ValueError(f"'{path}' has {array.ndim} dimensions {array.shape}; expected 3 or 4")
    n_bad = int(np.count_nonzero(~np.isfinite(array)))
    if n_bad:
        n_nan = int(np.count_nonzero(np.isnan(array)))
        raise ValueError(
            f"'{path}' contains {n_nan} NaN and {n_bad - n_nan} infinite voxels; "
            f"clean or mask the volume before embedding it"
        )


def _read_nifti(path: Path) -> Volume:
    nib = _require("nibabel")
    try:
        img = nib.load(str(path))
        data = np.asarray(img.get_fdata(dtype=np.float32))
        zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:
        raise ValueError(
            f"Could not read NIfTI file '{path}' (truncated or corrupt?): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if data.ndim == 4:
        data = np.moveaxis(data, -1, 0)
    elif data.ndim > 4:
        data = np.squeeze(data)
    if data.ndim < 3 or data.ndim > 4:
        _check_voxels(data, path)
    zooms = tuple(zooms) + (1.0,) * (3 - len(zooms))
    return Volume(np.ascontiguousarray(data), spacing=zooms, affine=affine, source=path)


def _read_numpy(path: Path, *, spacing, key: str | None) -> Volume:
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(
            f"Could not read NumPy file '{path}': {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = list(loaded.files)
            if key is None:
                if len(names) != 1:
                    raise ValueError(
                        f"'{path}' holds {len(names)} arrays {names}; pass key= to choose one"
                    )
                key = names[0]
            if key not in names:
                raise ValueError(f"'{path}' has no array {key!r}; it holds {names}")
            data = loaded[key]
    else:
        data = loaded
    if not np.issubdtype(data.dtype, np.number) and data.dtype != bool:
        raise ValueError(f"'{path}' holds a {data.dtype} array; a numeric volume is expected")
    data = np.asarray(data, dtype=np.float32)
    _check_voxels(data, path)
    sp = (1.0, 1.0, 1.0) if spacing is None else tuple(spacing)
    return Volume(data, spacing=sp, source=path)


def _read_dicom_series(folder: Path) -> Volume:
    datasets = _read_dicom_files(folder)
    datasets, first_position, normal, median = _sorted_slices(datasets, folder)
    data = _stack_pixels(datasets, folder)  # (slice, row, column)
    iop = np.asarray(datasets[0][1].ImageOrientationPatient, dtype=np.float64)
    row_cos, col_cos = iop[:3], iop[3:]
    dy, dx = (float(v) for v in datasets[0][1].PixelSpacing)  # row spacing, column spacing
    dz = median
    # Array axes: 0 -> slice normal, 1 -> down the rows (column cosine), 2 -> along a row.
    lps = np.eye(4)
    lps[:3, 0] = normal * dz
    lps[:3, 1] = col_cos * dy
    lps[:3, 2] = row_cos * dx
    lps[:3, 3] = first_position
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # DICOM LPS -> RAS
    return Volume(data, spacing=(dz, dy, dx), affine=affine, source=folder)


def _read_dicom_files(folder: Path) -> list:
    """(path, dataset) of every file of the folder: one series, with the geometry tags."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"Folder '{folder}' is empty; expected the files of one DICOM series")
    pydicom = _require("pydicom")
    datasets = []
    for f in files:
        try:
            ds = pydicom.dcmread(str(f))
        except Exception as exc:  # InvalidDicomError and any parser error of a damaged file
            raise ValueError(
                f"'{f}' in DICOM folder '{folder}' is not a readable DICOM file: {exc}"
            ) from exc
        datasets.append((f, ds))
    series = {str(getattr(ds, "SeriesInstanceUID", "")) for _, ds in datasets}
    if len(series) > 1:
        raise ValueError(
            f"DICOM folder '{folder}' mixes {len(series)} series (SeriesInstanceUID); put one "
            f"series per folder"
        )
    for f, ds in datasets:
        for tag in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            if tag not in ds:
                raise ValueError(f"DICOM file '{f}' in '{folder}' lacks {tag}")
    if len(datasets) < 2:
        raise ValueError(
            f"DICOM folder '{folder}' holds a single slice (a 2D image); a 3D series is needed"
        )
    return datasets


def _sorted_slices(datasets: list, folder: Path) -> tuple[list, np.ndarray, np.ndarray, float]:
    """Slices sorted along the normal; the first position, the normal and the median spacing.

    Two slices at one position, or a gap of more than 1.5 median spacings, raise.
    """
    iop = np.asarray(datasets[0][1].ImageOrientationPatient, dtype=np.float64)
    normal = np.cross(iop[:3], iop[3:])
    positions = np.array([np.asarray(ds.ImagePositionPatient, float) for _, ds in datasets])
    proj = positions @ normal
    order = np.argsort(proj, kind="stable")
    proj = proj[order]
    datasets = [datasets[i] for i in order]
    steps = np.diff(proj)
    if np.any(steps <= 1e-6):
        dup = [str(datasets[i + 1][0].name) for i in np.flatnonzero(steps <= 1e-6)][:5]
        raise ValueError(
            f"DICOM folder '{folder}' has several slices at the same position (files {dup})"
        )
    median = float(np.median(steps))
    gaps = np.flatnonzero(steps > 1.5 * median)
    if gaps.size:
        where = ", ".join(f"{proj[i]:.2f}->{proj[i + 1]:.2f} mm" for i in gaps[:5])
        raise ValueError(
            f"DICOM folder '{folder}' has missing slices: gap(s) at {where} with median slice "
            f"spacing {median:.2f} mm"
        )
    return datasets, positions[order[0]], normal, median


def _stack_pixels(datasets: list, folder: Path) -> np.ndarray:
    """Rescaled pixel values (RescaleSlope, RescaleIntercept) of the slices, stacked."""
    slices = []
    for f, ds in datasets:
        try:
            px = ds.pixel_array.astype(np.float32)
        except Exception as exc:  # decoders raise many types (missing codec, damaged data)
            raise ValueError(f"Could not decode pixel data of '{f}': {exc}") from exc
        slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
        intercept = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
        slices.append(px * slope + intercept)
    shapes = {s.shape for s in slices}
    if len(shapes) > 1:
        raise ValueError(f"DICOM folder '{folder}' has slices of different sizes {sorted(shapes)}")
    return np.stack(slices, axis=0)


def shape_features(volume, threshold: float = 0.5, spacing=None) -> dict[str, float]:
    """Hand-made shape and intensity statistics of a (segmented) 3D volume.

    The foreground is ``array > threshold`` (scaled to [0, 1] first when the maximum exceeds 1).
    Computed: voxel count and physical volume, surface area (exposed voxel faces), sphericity,
    bounding-box extents and fill ratio, principal axis lengths and their ratios (second moments),
    spread along each array axis, thickness (Euclidean distance to the background: maximum, mean,
    90th percentile, share of voxels at least two voxels deep),
    number of connected components and share of the largest, centroid offset from the center,
    mean/std intensity inside the foreground and the share of foreground voxels.

    Parameters
    ----------
    volume : Volume or numpy.ndarray
        3D array ``(X, Y, Z)`` or a :class:`Volume` (its spacing is used).
    threshold : float, default 0.5
        Foreground threshold on the [0, 1]-scaled intensities.
    spacing : tuple of 3 floats, optional
        Voxel size for plain arrays (default 1).

    Returns
    -------
    dict of str to float
        Always the same keys, in the same order (an empty foreground gives zeros).

    Examples
    --------
    >>> import numpy as np
    >>> cube = np.zeros((10, 10, 10)); cube[2:6, 2:6, 2:6] = 1
    >>> f = shape_features(cube)
    >>> f["voxels"], f["surface_area"], f["n_components"]
    (64.0, 96.0, 1.0)
    """
    arr, sp = _array_and_spacing(volume, spacing)
    vmax = float(arr.max()) if arr.size else 0.0
    mask = (arr / vmax if vmax > 1.0 else arr) > threshold
    n = int(mask.sum())
    out: dict[str, float] = {}
    out["voxels"] = float(n)
    out["volume"] = n * float(np.prod(sp))
    out["foreground_share"] = n / mask.size
    out.update(_surface_features(mask, sp, out["volume"]))
    coords = np.argwhere(mask) * sp
    out.update(_extent_features(mask, sp, coords))
    out.update(_thickness_features(mask, sp))
    out.update(_component_features(mask, sp, coords, arr))
    return out


def _array_and_spacing(volume, spacing) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(volume, Volume):
        arr = volume.array
        sp = np.asarray(volume.spacing, dtype=np.float64)
    else:
        arr = np.asarray(volume, dtype=np.float32)
        sp = np.ones(3) if spacing is None else np.asarray(spacing, dtype=np.float64)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3:
        raise ValueError(f"shape_features needs a 3D volume, got shape {arr.shape}")
    return arr.astype(np.float32), sp


def _surface_features(mask: np.ndarray, sp: np.ndarray, volume: float) -> dict[str, float]:
    """Surface area (exposed voxel faces), surface-to-volume ratio and sphericity."""
    face_areas = (sp[1] * sp[2], sp[0] * sp[2], sp[0] * sp[1])
    padded = np.pad(mask, 1)
    area = 0.0
    for axis in range(3):
        area += face_areas[axis] * float(np.count_nonzero(np.diff(padded, axis=axis)))
    nonempty = mask.any()
    return {
        "surface_area": float(area),
        "surface_to_volume": float(area / volume) if nonempty else 0.0,
        "sphericity": (
            float(np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area) if nonempty else 0.0
        ),
    }


def _extent_features(mask: np.ndarray, sp: np.ndarray, coords: np.ndarray) -> dict[str, float]:
    """Bounding box and its fill, principal axis lengths and ratios, spread along each axis."""
    n = len(coords)
    ext, axes_len, var_axes = np.zeros(3), np.zeros(3), np.zeros(3)
    if n:
        idx = np.argwhere(mask)
        ext = (idx.max(0) - idx.min(0) + 1) * sp
        cov = np.cov(coords.T) if n > 1 else np.zeros((3, 3))
        eig = np.sort(np.clip(np.linalg.eigvalsh(cov), 0, None))[::-1]
        axes_len = 4.0 * np.sqrt(eig)
        var_axes = coords.var(0)
    out = {f"extent_{i}": float(e) for i, e in enumerate(ext)}
    out["bbox_fill"] = n * float(np.prod(sp)) / float(np.prod(ext)) if n else 0.0
    out.update({f"axis_{i}": float(a) for i, a in enumerate(axes_len)})
    out["elongation"] = float(axes_len[1] / axes_len[0]) if axes_len[0] > 0 else 0.0
    out["flatness"] = float(axes_len[2] / axes_len[0]) if axes_len[0] > 0 else 0.0
    out.update({f"spread_{i}": float(np.sqrt(v)) for i, v in enumerate(var_axes)})
    return out


def _thickness_features(mask: np.ndarray, sp: np.ndarray) -> dict[str, float]:
    """Euclidean distance to the background: maximum, mean, 90th percentile, core share."""
    from scipy import ndimage

    keys = ("thickness_max", "thickness_mean", "thickness_p90", "core_share")
    if not mask.any():
        return dict.fromkeys(keys, 0.0)
    dist = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=sp)[1:-1, 1:-1, 1:-1]
    thick = dist[mask]
    values = (
        float(thick.max()),
        float(thick.mean()),
        float(np.percentile(thick, 90)),
        float(np.mean(thick >= 2.0 * float(sp.min()))),
    )
    return dict(zip(keys, values, strict=True))


def _component_features(mask, sp, coords, arr) -> dict[str, float]:
    """Connected components, centroid offset from the center, intensity inside the foreground."""
    from scipy import ndimage

    n = len(coords)
    n_comp, sizes, inside, offset = 0, np.array([0]), np.array([0.0]), 0.0
    if n:
        labels, n_comp = ndimage.label(mask)
        sizes = np.bincount(labels.ravel())[1:]
        inside = arr[mask]
        center = (np.asarray(mask.shape) - 1) / 2 * sp
        offset = float(np.linalg.norm(coords.mean(0) - center))
    return {
        "n_components": float(n_comp),
        "largest_component_share": float(sizes.max() / n) if n else 0.0,
        "centroid_offset": offset,
        "intensity_mean": float(inside.mean()),
        "intensity_std": float(inside.std()),
    }
