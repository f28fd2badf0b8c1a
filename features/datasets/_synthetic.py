"""A synthetic cohort for demos and tests: NIfTI volumes with lesions plus a clinical table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..imaging import write_nifti

__all__ = ["SyntheticCohort", "make_synthetic_cohort"]

ID_COLUMN = "patient_id"
LABEL_COLUMN = "label"
_LESION_SIGNALS = ("morphology", "texture")


@dataclass
class SyntheticCohort:
    """Where :func:`make_synthetic_cohort` wrote the cohort, and what it holds.

    Attributes
    ----------
    output_dir : Path
        The cohort folder.
    scans_dir : Path
        ``<output_dir>/scans``: one ``<patient_id>.nii.gz`` per patient who has a scan.
    masks_dir : Path or None
        ``<output_dir>/masks``: the lesion masks (same names), when written.
    clinical_path : Path
        ``<output_dir>/clinical.csv``: ``patient_id``, ``label`` and the clinical columns.
    id_column, label_column : str
        ``"patient_id"`` and ``"label"``.
    patient_ids : list of str
        All patients, in the order of the CSV.
    scan_paths : dict of str to Path
        Patient ID -> scan file, for the patients who have one.
    missing_scans : list of str
        Patients without a scan (they are in the CSV but not in ``scans/``).
    clinical_columns : list of str
        The feature columns of the CSV (not the ID or the label).
    noise_columns : list of str
        Columns unrelated to the label (for checking that a model ignores them).
    spacing : tuple of float
        Voxel size in mm (x, y, z), as in the NIfTI affine.

    Notes
    -----
    Each scan (NIfTI, float32) shows one lesion in textured background tissue; the label shifts
    the lesion's size, shape (elongation, lobulation), margin (blur, spiculation) and enhancement
    (intensity, necrotic core), each with patient-level noise. The clinical columns have
    realistic types: ``age`` (float), ``menopause`` ("pre"/"post", some missing),
    ``family_history`` (0/1), ``histology`` (4 levels), ``crp_mg_l`` (a lab value, missing for
    about ``2 * missing_rate`` of the patients), ``marker_score`` (its similarity structure
    carries label signal: positives cluster at both ends, so a linear model gains little from it
    but a nearest-neighbor graph does), and the unrelated ``bmi``, ``systolic_bp``, ``scanner``.

    With ``make_synthetic_cohort(lesion_signal="texture")`` the scans carry the label only through
    the grain of the lesion's internal texture: fine for positives, coarse for negatives, centered
    and scaled inside the lesion so that its mean and spread there do not depend on the label. The
    lesions are twice as large as with ``"morphology"`` (the texture fills a good part of the
    volume); size, shape, margin, enhancement and the mask follow one distribution for both
    classes, so :func:`features.shape_features` of the masks carries no label signal while a
    model of the voxels can find it.
    """

    output_dir: Path
    scans_dir: Path
    masks_dir: Path | None
    clinical_path: Path
    id_column: str = ID_COLUMN
    label_column: str = LABEL_COLUMN
    patient_ids: list[str] = field(default_factory=list)
    scan_paths: dict[str, Path] = field(default_factory=dict)
    missing_scans: list[str] = field(default_factory=list)
    clinical_columns: list[str] = field(default_factory=list)
    noise_columns: list[str] = field(default_factory=list)
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def read_clinical(self) -> pd.DataFrame:
        """The clinical table, with the patient ID read as text."""
        return pd.read_csv(self.clinical_path, dtype={self.id_column: str})


def _check_params(
    n_patients, shape, missing_rate, scan_missing_rate, spacing, positive_rate, lesion_signal
):
    if lesion_signal not in _LESION_SIGNALS:
        raise ValueError(
            f"The 'lesion_signal' parameter of make_synthetic_cohort must be one of "
            f"{set(_LESION_SIGNALS)}; got {lesion_signal!r}."
        )
    if not 0.05 <= positive_rate <= 0.95:
        raise ValueError(f"positive_rate must be in [0.05, 0.95], got {positive_rate!r}.")
    if not isinstance(n_patients, int | np.integer) or n_patients < 10:
        raise ValueError(f"n_patients must be an integer >= 10, got {n_patients!r}.")
    shape = tuple(shape)
    if len(shape) != 3 or any(not isinstance(s, int | np.integer) or s < 8 for s in shape):
        raise ValueError(f"shape must be three integers >= 8, got {shape!r}.")
    for name, rate in (("missing_rate", missing_rate), ("scan_missing_rate", scan_missing_rate)):
        if not 0 <= rate < 0.5:
            raise ValueError(f"{name} must be in [0, 0.5), got {rate!r}.")
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 3 or any(s <= 0 for s in spacing):
        raise ValueError(f"spacing must be three positive numbers (mm), got {spacing!r}.")
    return tuple(int(s) for s in shape), spacing


def _clinical_table(rng: np.random.Generator, y: np.ndarray, missing_rate: float) -> pd.DataFrame:
    """Clinical columns of realistic types; the label shifts some of them, not all."""
    n = len(y)
    age = np.clip(rng.normal(58.0 - 5.0 * y, 11.0), 25, 90).round(1)
    post = rng.random(n) < 1 / (1 + np.exp(-(age - 51.0) / 3.0))
    menopause = np.where(post, "post", "pre").astype(object)
    family_history = (rng.random(n) < 0.12 + 0.20 * y).astype(int)
    histology = np.array(
        [
            rng.choice(
                ["ductal", "lobular", "mixed", "other"],
                p=[0.62, 0.18, 0.12, 0.08] if yi == 0 else [0.72, 0.06, 0.12, 0.10],
            )
            for yi in y
        ],
        dtype=object,
    )
    crp = np.round(rng.lognormal(np.log(3.0) + 0.40 * y, 0.6), 2)  # a lab value, mg/L
    # Carries signal in its similarity structure only: positives sit in two clusters at +-1.8
    # (two thirds of them), negatives around 0; its mean hardly differs between the classes.
    in_cluster = (y == 1) & (rng.random(n) < 0.6)
    marker = np.where(
        in_cluster,
        rng.choice([-1.8, 1.8], n) + rng.normal(0, 0.45, n),
        rng.normal(0, 0.9, n),
    ).round(3)
    table = pd.DataFrame(
        {
            "age": age,
            "menopause": menopause,
            "family_history": family_history,
            "histology": histology,
            "crp_mg_l": crp,
            "marker_score": marker,
            "bmi": np.round(rng.normal(27.0, 5.0, n), 1),
            "systolic_bp": np.round(rng.normal(128.0, 15.0, n)).astype(int),
            "scanner": rng.choice(["vendor_a", "vendor_b", "vendor_c"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    # Missing values: the lab value most often, a few menopause and BMI entries.
    for column, rate in (
        ("crp_mg_l", 2.0 * missing_rate),
        ("menopause", 0.5 * missing_rate),
        ("bmi", 0.5 * missing_rate),
    ):
        missing = rng.random(n) < rate
        table[column] = table[column].astype(object if column == "menopause" else float)
        table.loc[missing, column] = np.nan if column != "menopause" else None
    return table


class _Grid:
    """Voxel coordinates of a volume, centered, reused for every patient."""

    def __init__(self, shape: tuple[int, int, int]):
        axes = [np.arange(s, dtype=np.float32) - (s - 1) / 2 for s in shape]
        self.x, self.y, self.z = np.meshgrid(*axes, indexing="ij")
        self.shape = shape
        self.scale = min(shape) / 32.0  # lesion sizes are given for a 32^3 volume


def _lesion_volume(
    rng: np.random.Generator, grid: _Grid, label: int, signal: str = "morphology"
) -> tuple[np.ndarray, np.ndarray]:
    """One volume and its lesion mask. The label shifts size, shape, margin and enhancement
    (``signal="morphology"``), each effect with patient-level noise, so no single property gives
    the label away; or only the grain of the lesion's internal texture (``"texture"``)."""
    from scipy import ndimage

    s = grid.scale
    texture_label, label = (label, 0) if signal == "texture" else (0, label)
    # Position and size.
    center = rng.normal(0, 1.5 * s, 3)
    radius = max(2.0 * s, rng.normal((4.6 + 1.0 * label) * s, 1.1 * s))
    if signal == "texture":  # large, so the texture fills a good part of the volume
        radius *= 2.0
    # Shape: elongation (less spherical) and lobulation of the surface.
    elongation = np.clip(rng.normal(0.12 + 0.12 * label, 0.08), 0.0, 0.45)
    axes = radius * np.array([1 + elongation, 1.0, 1 / (1 + elongation)])
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    coords = np.stack([grid.x - center[0], grid.y - center[1], grid.z - center[2]], axis=-1)
    local = coords @ rotation
    dist = np.sqrt(((local / axes) ** 2).sum(axis=-1))
    r = np.linalg.norm(local, axis=-1) + 1e-6
    theta = np.arccos(np.clip(local[..., 2] / r, -1, 1))
    phi = np.arctan2(local[..., 1], local[..., 0])
    lobulation = np.clip(rng.normal(0.05 + 0.10 * label, 0.05), 0.0, 0.3)
    modulation = np.zeros_like(dist)
    for _ in range(3):
        k, m = rng.integers(2, 6, 2)
        modulation += np.cos(k * theta + rng.uniform(0, 2 * np.pi)) * np.sin(
            m * phi + rng.uniform(0, 2 * np.pi)
        )
    mask = dist < 1 + lobulation * modulation / 3
    lesion = mask.astype(np.float32)
    _add_spicules(rng, lesion, grid, center, radius, label)
    # Heterogeneous enhancement: a darker (necrotic) core, more often in positives.
    if rng.random() < 0.15 + 0.30 * label:
        lesion[dist < 0.45] *= 0.45
    # Margin: blur (ill-defined margins are blurrier).
    sigma = np.clip(rng.normal(0.7 + 0.35 * label, 0.25), 0.3, 1.8) * s
    lesion = ndimage.gaussian_filter(lesion, sigma)
    if signal == "texture":
        lesion = _textured(rng, lesion, mask, grid, texture_label)
    # Enhancement relative to the background tissue.
    contrast = max(0.2, rng.normal(1.0 + 0.25 * label, 0.25))
    # Background: smooth fibroglandular texture plus noise, MRI-like arbitrary units.
    texture = ndimage.gaussian_filter(rng.normal(size=grid.shape).astype(np.float32), 2.0 * s)
    texture *= 1.0 / (texture.std() + 1e-6)
    volume = 100.0 + 12.0 * texture + 80.0 * contrast * lesion
    volume += rng.normal(0, 6.0, grid.shape)
    return volume.astype(np.float32), mask.astype(np.uint8)


def _add_spicules(rng, lesion, grid, center, radius, label):
    """Spiculation, in place: thin lines radiating from the surface, more in positives."""
    n_spicules = rng.poisson(0.6 + 2.4 * label)
    for _ in range(n_spicules):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        length = rng.uniform(0.6, 1.3) * radius
        steps = np.arange(0.8 * radius, 0.8 * radius + length, 0.4)
        points = center + (np.asarray(grid.shape) - 1) / 2 + np.outer(steps, direction)
        idx = np.round(points).astype(int)
        inside = np.all((idx >= 0) & (idx < np.asarray(grid.shape)), axis=1)
        idx = idx[inside]
        lesion[idx[:, 0], idx[:, 1], idx[:, 2]] = np.maximum(
            lesion[idx[:, 0], idx[:, 1], idx[:, 2]], 0.8
        )


def _textured(
    rng: np.random.Generator, lesion: np.ndarray, mask: np.ndarray, grid: _Grid, label: int
) -> np.ndarray:
    """The lesion with an internal texture whose grain (not mean, not spread) follows the label.

    The lesion is multiplied by ``1 + 0.6 * field``, where ``field`` is a Gaussian random field
    centered and scaled inside the mask (mean 0, standard deviation 1 there), so neither the mask
    nor the mean and spread of the modulation inside it depend on the label; only the grain does:
    fine (correlation length 0.6 voxel at 32^3, scaled with the volume) for label 1, coarse
    (3 voxels) for label 0.
    """
    from scipy import ndimage

    grain = (0.6 if label else 3.0) * grid.scale
    field = ndimage.gaussian_filter(rng.normal(size=grid.shape).astype(np.float32), grain)
    inside = field[mask] if mask.sum() > 1 else field.ravel()
    field = (field - inside.mean()) / (inside.std() + 1e-6)
    return lesion * (1.0 + 0.6 * field)


def make_synthetic_cohort(
    output_dir: str | Path,
    n_patients: int = 120,
    shape: tuple[int, int, int] = (32, 32, 32),
    random_state: int = 0,
    missing_rate: float = 0.1,
    scan_missing_rate: float = 0.05,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.5),
    positive_rate: float = 0.4,
    write_masks: bool = True,
    lesion_signal: str = "morphology",
) -> SyntheticCohort:
    """Write a synthetic cohort: 3D scans with lesions and a clinical table, with a hidden label.

    The label shifts each scan's lesion (size, shape, margin, enhancement, with patient-level
    noise) and some of the clinical columns, not all (see the Notes of :class:`SyntheticCohort`).
    Files: ``scans/<patient_id>.nii.gz``, ``masks/<patient_id>.nii.gz`` and ``clinical.csv``
    (``patient_id``, ``label``, then the clinical columns) in ``output_dir``. The same
    ``random_state`` writes byte-identical files.

    Parameters
    ----------
    output_dir : str or Path
        Folder to write to (created; existing cohort files in it are overwritten).
    n_patients : int, default=120
        Number of patients (at least 10).
    shape : tuple of 3 int, default=(32, 32, 32)
        Volume shape in voxels (each at least 8); lesion sizes scale with it.
    random_state : int, default=0
    missing_rate, scan_missing_rate : float, default=0.1 and 0.05
        Rate of missing clinical values (twice this for the lab value), and of patients without
        a scan (at least one when positive and ``n_patients >= 20``).
    spacing : tuple of 3 float, default=(1.0, 1.0, 1.5)
        Voxel size in mm, written in the affine.
    positive_rate : float, default=0.4
        Expected fraction of positive labels (at least 3 of each class are guaranteed).
    write_masks : bool, default=True
        Also write the lesion masks.
    lesion_signal : {"morphology", "texture"}, default="morphology"
        What of the lesion follows the label: its size, shape, margin and enhancement, or only
        the grain of its internal texture (see the Notes of :class:`SyntheticCohort`).

    Returns
    -------
    SyntheticCohort

    Examples
    --------
    >>> import tempfile
    >>> from features import make_synthetic_cohort
    >>> cohort = make_synthetic_cohort(tempfile.mkdtemp(), n_patients=20, shape=(8, 8, 8))
    >>> cohort.read_clinical().columns[:3].tolist()
    ['patient_id', 'label', 'age']
    """
    shape, spacing = _check_params(
        n_patients, shape, missing_rate, scan_missing_rate, spacing, positive_rate, lesion_signal
    )
    rng, n = np.random.default_rng(random_state), int(n_patients)
    y = _labels(rng, n, positive_rate)
    ids = [f"SYN{i + 1:0{max(4, len(str(n)))}d}" for i in range(n)]
    clinical = _clinical_table(rng, y, missing_rate)
    missing = _missing_scans(rng, n, scan_missing_rate)
    cohort = _cohort_files(Path(output_dir), ids, missing, clinical, spacing, write_masks)
    scans = _write_scans(cohort, y, set(missing), _Grid(shape), random_state, lesion_signal)
    cohort.scan_paths.update(scans)
    table = pd.DataFrame({ID_COLUMN: ids, LABEL_COLUMN: y})
    table.join(clinical.reset_index(drop=True)).to_csv(cohort.clinical_path, index=False)
    return cohort


def _cohort_files(output_dir, ids, missing, clinical, spacing, write_masks) -> SyntheticCohort:
    """The cohort's description (where its files go), before any file is written."""
    return SyntheticCohort(
        output_dir=output_dir,
        scans_dir=output_dir / "scans",
        masks_dir=output_dir / "masks" if write_masks else None,
        clinical_path=output_dir / "clinical.csv",
        patient_ids=ids,
        scan_paths={},
        missing_scans=[ids[i] for i in missing],
        clinical_columns=list(clinical.columns),
        noise_columns=["bmi", "systolic_bp", "scanner"],
        spacing=spacing,
    )


def _labels(rng: np.random.Generator, n: int, positive_rate: float) -> np.ndarray:
    """Binary labels with at least three of each class, so any cross-validation split works."""
    y = (rng.random(n) < positive_rate).astype(int)
    for cls in (0, 1):
        if (y == cls).sum() < 3:
            y[rng.choice(np.flatnonzero(y != cls), 3 - (y == cls).sum(), replace=False)] = cls
    return y


def _missing_scans(rng: np.random.Generator, n: int, rate: float) -> list[int]:
    """Positions of the patients without a scan (at least one when rate > 0 and n >= 20)."""
    n_missing = round(rate * n)
    if rate > 0 and n >= 20:
        n_missing = max(1, n_missing)
    return sorted(rng.choice(n, n_missing, replace=False).tolist()) if n_missing else []


def _write_scans(
    cohort: SyntheticCohort,
    y: np.ndarray,
    missing: set[int],
    grid: _Grid,
    random_state: int,
    lesion_signal: str = "morphology",
) -> dict[str, Path]:
    """Write each patient's scan (and mask); remove stale files of patients without a scan."""
    scans_dir, masks_dir, ids = cohort.scans_dir, cohort.masks_dir, cohort.patient_ids
    spacing = cohort.spacing
    for folder in (scans_dir, masks_dir):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    shape = np.asarray(grid.shape)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -(shape - 1) / 2 * np.asarray(spacing)  # origin at the center
    scan_paths: dict[str, Path] = {}
    for i, pid in enumerate(ids):
        # One child generator per patient: a patient's scan does not depend on the others'.
        child = np.random.default_rng([random_state, i])
        volume, mask = _lesion_volume(child, grid, int(y[i]), lesion_signal)
        path = scans_dir / f"{pid}.nii.gz"
        mask_path = masks_dir / f"{pid}.nii.gz" if masks_dir is not None else None
        if i in missing:
            for stale in (path, mask_path):
                if stale is not None:
                    stale.unlink(missing_ok=True)
            continue
        write_nifti(path, volume, affine)
        if mask_path is not None:
            write_nifti(mask_path, mask, affine)
        scan_paths[pid] = path
    return scan_paths
