"""What a model folder keeps besides the model, so that a prediction comes with what a clinician
needs: recalibrated risks, the class at a chosen threshold, a conformal set, how typical the
patient is, and the model card.

Files (JSON, listed with their SHA-256 in ``manifest.json`` like every other file)::

    calibration.json   the recalibration (``graphboost fit --calibration sigmoid``): method and
                       the map of each member below
    calibration/member_<k>/   the members: copies of the pipeline fitted on the inner training
                       folds (preprocessor.json, estimator/); each member's map was fitted on
                       its held-out inner fold, and the probability is the members' mean
    threshold.json     the threshold chosen on out-of-fold risks (``--threshold-target``)
    conformal.json     calibration scores of the conformal sets: out-of-fold predictions of the
                       training patients (written whenever ``--cv K`` runs)
    MODEL_CARD.md      what was fitted, on what, how it validated, its limits

A file that the manifest does not list is never read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._base import InputError
from ..clinical._calibration import (
    DEFAULT_INNER_SPLITS,
    Recalibration,
    check_calibration_method,
    check_inner_splits,
    fitted_members,
    recalibrated,
)
from ..clinical._conformal import ClassConditionalConformal, check_alpha
from ..clinical._decision import choose_threshold, parse_threshold_target
from ._folder import _read_manifest, write_manifest

CALIBRATION_FILE = "calibration.json"
THRESHOLD_FILE = "threshold.json"
CONFORMAL_FILE = "conformal.json"
MODEL_CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class FitOptions:
    """The clinical options of a fit, checked before any work."""

    calibration: str | None = None
    inner_splits: int = DEFAULT_INNER_SPLITS
    threshold_target: tuple | None = None  # (target, value)

    @property
    def saved_method(self):
        """The cross-validated method that is the saved model."""
        return "graphboost" if self.calibration is None else f"graphboost+{self.calibration}"


def check_cv_folds(cv, name="cv"):
    """``cv`` if it is 0 (no cross-validation) or at least 2 folds, else :class:`InputError`
    naming ``name`` (``"--cv"`` on the command line)."""
    if cv == 1 or cv < 0:
        raise InputError(f"{name} must be 0 (no cross-validation) or at least 2; got {cv}.")
    return cv


def check_fit_options(
    calibration=None, threshold_target=None, cv=0, inner_splits=DEFAULT_INNER_SPLITS
):
    """Check ``cv``, ``calibration`` and ``threshold_target`` (which needs ``cv >= 2``).

    Examples
    --------
    >>> check_fit_options("sigmoid", "sensitivity:0.9", cv=5).saved_method
    'graphboost+sigmoid'
    """
    check_cv_folds(cv)
    if calibration is not None:
        check_calibration_method(calibration)
    check_inner_splits(inner_splits)
    target = None
    if threshold_target is not None:
        target = parse_threshold_target(threshold_target)
        if cv < 2:
            raise InputError(
                "A threshold target needs cross-validation (cv >= 2, `--cv K`): the threshold "
                f"is chosen on out-of-fold predictions of the training patients; got cv={cv}."
            )
    return FitOptions(calibration, inner_splits, target)


def check_binary(options, classes):
    """Recalibration and thresholds are for binary labels: an error naming the option."""
    used = [
        name
        for name, value in (
            ("calibration", options.calibration),
            ("threshold target", options.threshold_target),
        )
        if value is not None
    ]
    if used and len(classes) != 2:
        raise InputError(
            f"The {' and the '.join(used)} {'need' if len(used) > 1 else 'needs'} a binary "
            f"label; got {len(classes)} classes."
        )


@dataclass(frozen=True)
class RecalibratedEnsemble:
    """Recalibrated copies of a pipeline (``CalibratedClassifierCV`` with ``ensemble=True``).

    Attributes
    ----------
    method : {"isotonic", "sigmoid"}
    inner_splits : int
    members : list of (sklearn.pipeline.Pipeline, Recalibration)
        Each copy fitted on the other inner folds, its map on its own held-out fold.
    """

    method: str
    inner_splits: int
    members: list

    def predict_proba(self, X, invalid_values=None):
        """Mean of the members' recalibrated probabilities (binary, shape (n, 2)).

        ``invalid_values`` is set on each member's preprocessor for the call, as the folder's
        own preprocessor has it.
        """
        probas = []
        for pipe, calibration in self.members:
            pre = pipe.named_steps["preprocess"]
            if invalid_values is not None and "invalid_values" in pre.get_params():
                pre.set_params(invalid_values=invalid_values)
            probas.append(calibration.predict_proba(pipe.decision_function(X)))
        return np.mean(probas, axis=0)

    def to_dict(self):
        maps = [calibration.to_dict()["params"] for _, calibration in self.members]
        return {"method": self.method, "inner_splits": self.inner_splits, "maps": maps}


def fit_recalibrated(pipe, X, y, options, random_state):
    """Fit ``pipe`` on every patient and, when asked, its :class:`RecalibratedEnsemble`.

    Returns the fitted pipeline (explanations, typicality) and the ensemble (or None), whose
    mean probability is the folder's prediction.
    """
    from sklearn.base import clone

    if options.calibration is None:
        return pipe.fit(X, y), None
    kwargs = {"inner_splits": options.inner_splits, "ensemble": True, "random_state": random_state}
    members = fitted_members(recalibrated(clone(pipe), options.calibration, **kwargs).fit(X, y))
    return pipe.fit(X, y), RecalibratedEnsemble(options.calibration, options.inner_splits, members)


def folder_extras(cv, options, recalibration):
    """The JSON files of a model folder: ``{file name: JSON-safe dict}``."""
    files = {}
    if recalibration is not None:
        files[CALIBRATION_FILE] = recalibration.to_dict()
    if cv is None:
        return files
    proba = cv.probas[options.saved_method]
    conformal = ClassConditionalConformal().fit(proba, cv.y)
    source = f"out-of-fold predictions of {cv.n_splits}-fold cross-validation"
    files[CONFORMAL_FILE] = {**conformal.to_dict(), "source": source, "classes": cv.classes}
    if options.threshold_target is not None:
        target, value = options.threshold_target
        chosen = choose_threshold(cv.y, proba[:, 1], target, value)
        files[THRESHOLD_FILE] = {**chosen, "source": source, "classes": cv.classes}
    return files


def _member_folder(folder, k):
    return Path(folder) / "calibration" / f"member_{k}"


def write_extras(folder, files, card, recalibration=None):
    """Write the JSON files, the recalibrated members and ``MODEL_CARD.md`` into ``folder``,
    then its manifest again."""
    folder = Path(folder)
    for k, (pipe, _) in enumerate(recalibration.members if recalibration else []):
        member = _member_folder(folder, k)
        member.mkdir(parents=True)
        pipe.named_steps["preprocess"].save(member / "preprocessor.json")
        pipe.named_steps["model"].save(member / "estimator")
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2) + "\n")
    (folder / MODEL_CARD).write_text(card)
    write_manifest(folder)


@dataclass(frozen=True)
class ModelExtras:
    """The extras of a loaded model folder (each ``None`` when the folder has none)."""

    recalibration: RecalibratedEnsemble | None = None
    threshold: dict | None = None
    conformal: ClassConditionalConformal | None = None


def read_extras(path):
    """The extras of the model folder ``path`` (only files its manifest lists)."""
    path = Path(path)
    listed = _read_manifest(path) or {}

    def load(name):
        return json.loads((path / name).read_text()) if name in listed else None

    calibration, threshold, conformal = (
        load(n) for n in (CALIBRATION_FILE, THRESHOLD_FILE, CONFORMAL_FILE)
    )
    return ModelExtras(
        None if calibration is None else _read_ensemble(path, calibration),
        threshold,
        None if conformal is None else ClassConditionalConformal.from_dict(conformal),
    )


def _read_ensemble(path, record):
    """The :class:`RecalibratedEnsemble` of ``calibration.json`` and its member folders."""
    from sklearn.pipeline import Pipeline

    from features import load_preprocessor
    from graphboost import load

    method = check_calibration_method(record["method"])
    members = []
    for k, params in enumerate(record["maps"]):
        folder = _member_folder(path, k)
        pre = load_preprocessor(folder / "preprocessor.json").set_output(transform="pandas")
        pipe = Pipeline([("preprocess", pre), ("model", load(folder / "estimator"))])
        members.append((pipe, Recalibration.from_dict({"method": method, "params": params})))
    return RecalibratedEnsemble(method, int(record["inner_splits"]), members)


def check_predict_options(extras, alpha):
    """``alpha`` checked (or None), and present conformal scores when it is given."""
    if alpha is None:
        return None
    alpha = check_alpha(alpha)
    if extras.conformal is None:
        raise InputError(
            "alpha needs conformal calibration scores, which this model folder lacks: fit it "
            "with cross-validation (`graphboost fit --cv K`)."
        )
    return alpha


def probabilities(model, extras, X):
    """Class probabilities of the fitted pipeline, recalibrated when the folder says so."""
    if extras.recalibration is None:
        return model.predict_proba(X)
    invalid_values = model.named_steps["preprocess"].get_params().get("invalid_values")
    return extras.recalibration.predict_proba(X, invalid_values)


def add_threshold_and_set(out, classes, proba, extras, alpha):
    """Add ``predicted_at_threshold`` (when recorded) and, with ``alpha``, the conformal set."""
    names = np.asarray(classes, dtype=object)
    if extras.threshold is not None:
        above = proba[:, 1] >= extras.threshold["threshold"]
        out["predicted_at_threshold"] = names[above.astype(int)]
    if alpha is None:
        return
    sets = extras.conformal.predict_set(proba, alpha)
    out["prediction_set"] = ["|".join(names[row]) for row in sets]
    out["set_size"] = sets.sum(axis=1)
    out["uncertain"] = sets.sum(axis=1) > 1


def add_typicality(out, classes, clf, Xt):
    """Add :func:`neighbor_typicality`'s columns, the neighbors' majority as a class name."""
    from ..clinical._typicality import neighbor_typicality

    typ = neighbor_typicality(clf, Xt)
    names = np.asarray(classes, dtype=object)
    majority = typ.neighbor_majority
    typ["neighbor_majority"] = [None if m is None else names[int(m)] for m in majority]
    for column in typ.columns:
        out[column] = typ[column].to_numpy()
