"""Model folders written by ``graphboost fit`` / ``tune``: the fitted pipeline and its cohort spec.

Layout (no pickle anywhere)::

    model/
      manifest.json       format, and the SHA-256 of every other file (checked on load)
      cohort.json         label, ID column, feature columns and groups, classes, scans settings
      preprocessor.json   the fitted features.ClinicalPreprocessor (ClinicalPreprocessor.save)
      estimator/          the fitted GraphBoostClassifier (GraphBoostClassifier.save)
      report.md           what was fitted, on what, with which result
      cv_predictions.csv  out-of-fold probabilities (with cross-validation only)
      scan_encoder.pt     the scan encoder of the self-supervised scans block (with --scans)
      scan_embedder/      the supervised scans block (--scan-embedder supervised): embedder.json
                          and the state_dict of each fold encoder (weights_only=True)

``manifest.json`` is also the marker by which ``--overwrite`` recognizes a folder this library
wrote: no other folder is ever replaced.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .._base import InputError

FORMAT = "graphboost-model-folder/2"
MANIFEST = "manifest.json"


def _sha256(path):
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _files(folder):
    """Every file under ``folder`` but the manifest, as sorted POSIX relative paths."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST
    )


def write_manifest(folder):
    """Write ``manifest.json``: the format and the SHA-256 of every file of ``folder``."""
    folder = Path(folder)
    files = {name: _sha256(folder / name) for name in _files(folder)}
    text = json.dumps({"format": FORMAT, "files": files}, indent=2)
    (folder / MANIFEST).write_text(text + "\n")


def _read_manifest(folder):
    """The manifest's file checksums, or ``None`` when ``folder`` is not a model folder."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    files = manifest.get("files")
    return files if isinstance(files, dict) else None


def verify_manifest(folder):
    """Check every file listed in the manifest against its SHA-256; raise on any difference."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Model folder not found: '{folder}'.")
    files = _read_manifest(folder)
    if files is None:
        raise InputError(
            f"'{folder}' is not a graphboost model folder (no valid {MANIFEST}); create one "
            "with `graphboost fit`."
        )
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise InputError(f"Model folder '{folder}' is incomplete: '{name}' is missing.")
        if _sha256(path) != expected:
            raise InputError(
                f"Model folder '{folder}' was altered or damaged: '{name}' does not match its "
                f"checksum in {MANIFEST}. Fit the model again."
            )


def model_folder_of(path):
    """The model folder that is ``path`` or holds it (nearest first), else ``None``.

    Examples
    --------
    >>> model_folder_of("/no/such/place/predictions.csv") is None
    True
    """
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        if folder.is_dir() and _read_manifest(folder) is not None:
            return folder
    return None


def check_replaceable(path, overwrite):
    """Refuse an output folder that holds anything but a model folder written by this library.

    An empty or absent folder is always fine; a non-empty one needs ``overwrite`` and must be a
    model folder (valid manifest) with no file the manifest does not list.
    """
    path = Path(path)
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not overwrite:
        raise InputError(
            f"Output folder '{path}' already exists and is not empty; pass --overwrite to "
            "replace it or choose another folder."
        )
    files = _read_manifest(path)
    foreign = None if files is None else sorted(set(_files(path)) - set(files))
    if files is None or foreign:
        what = f"files it did not write: {foreign[:5]}" if foreign else f"no valid {MANIFEST}"
        raise InputError(
            f"Refusing to overwrite '{path}': it is not a model folder written by graphboost "
            f"({what}). Choose an empty or new folder."
        )


@dataclass
class ModelFolder:
    """A model folder loaded back (see :func:`load_model_folder`).

    Attributes
    ----------
    path : pathlib.Path
    model : sklearn.pipeline.Pipeline
        The fitted ``ClinicalPreprocessor`` (step ``"preprocess"``) and
        ``GraphBoostClassifier`` (step ``"model"``).
    spec : dict
        The content of ``cohort.json``: ``label``, ``id_column``, ``feature_columns``,
        ``feature_groups``, ``classes``, ``params``, ``random_state``, ``scans``.
    """

    path: Path
    model: object
    spec: dict

    @property
    def classes(self):
        """Class labels as text, in the order of the probability columns."""
        return list(self.spec["classes"])

    def features(self, X):
        """The model's feature columns of ``X`` (checked by name, in the fitted order)."""
        cols = self.spec["feature_columns"]
        missing = [c for c in cols if c not in X.columns]
        if missing:
            more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
            raise InputError(
                f"Columns missing from the cohort table: {missing[:5]}{more}; the model was "
                "fitted with them."
            )
        return X[cols]


def save_model_folder(folder, model, spec, report, extra=None):
    """Write a model folder into the fresh (empty) folder ``folder``.

    Parameters
    ----------
    folder : Path
        An empty folder (a staging folder, renamed into place by the caller).
    model : sklearn.pipeline.Pipeline
        Fitted, with steps ``"preprocess"`` (ClinicalPreprocessor) and ``"model"``.
    spec : dict
        JSON-safe cohort spec (see :class:`ModelFolder`).
    report : str
        Markdown report.
    extra : dict of str to pandas.DataFrame, optional
        More CSV files to write (e.g. ``{"cv_predictions.csv": frame}``).
    """
    folder = Path(folder)
    model.named_steps["preprocess"].save(folder / "preprocessor.json")
    model.named_steps["model"].save(folder / "estimator")
    (folder / "cohort.json").write_text(json.dumps(spec, indent=2) + "\n")
    (folder / "report.md").write_text(report)
    for name, frame in (extra or {}).items():
        frame.to_csv(folder / name, index=False)
    write_manifest(folder)


def load_model_folder(path):
    """Load a model folder after checking every file against the manifest.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ModelFolder

    Raises
    ------
    InputError
        Not a model folder, a file missing, altered or damaged.
    """
    from sklearn.pipeline import Pipeline

    from features import load_preprocessor
    from graphboost import load

    path = Path(path)
    verify_manifest(path)
    spec = json.loads((path / "cohort.json").read_text())
    try:
        pre = load_preprocessor(path / "preprocessor.json").set_output(transform="pandas")
        clf = load(path / "estimator")
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot load the model in '{path}': {exc}") from exc
    return ModelFolder(path, Pipeline([("preprocess", pre), ("model", clf)]), spec)
