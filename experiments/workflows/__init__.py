"""What the command line, the demo, tuning and the notebooks do, as plain functions.

Each function takes explicit arguments and returns a result; none reads the command line or the
environment. The ``graphboost`` command only parses its arguments and calls these.

Data flow: a table (+ a folder of scans, embedded) -> :func:`load_cohort` (a ``features.Cohort``:
a patient without a scan is marked in ``"scans:missing"`` and linked through no imaging graph)
-> :func:`cross_validate` and :func:`fit_model_folder` (``features.ClinicalPreprocessor`` +
``GraphBoostClassifier`` in one Pipeline) -> :func:`load_model_folder` -> :func:`predict` and
:func:`explain` on new patients. A censored outcome (a follow-up time and an event column) takes
:func:`load_survival_cohort_table` -> :func:`fit_survival_model_folder`
(``GraphBoostSurvivalAnalysis``) -> :func:`predict_survival` and :func:`explain_survival`.

Examples
--------
>>> from experiments import workflows
>>> cohort = workflows.load_cohort("cohort.csv", label="outcome", id_column="patient_id")
... # doctest: +SKIP
>>> fitted = workflows.fit_model_folder(cohort, "model", params={"n_estimators": 30}, cv=5)
... # doctest: +SKIP
>>> workflows.predict(workflows.load_model_folder("model"), "new.csv")  # doctest: +SKIP
"""

from ..modelfolder._folder import ModelFolder, load_model_folder
from ._cohort import SCAN_ENCODER, SCANS_BLOCK, SKIPPED_SCANS, embed_scans, load_cohort
from ._cv import CrossValidation, cohort_task, cross_validate, with_scan_step
from ._fit import FittedModel, fit_model_folder
from ._predict import NO_OBSERVED, explain, predict
from ._scans import (
    PRETRAIN_EPOCHS,
    PRETRAIN_SECONDS,
    UNMATCHED_SCANS,
    UNREADABLE_SCANS,
    ScanListError,
)
from ._supervised_scans import (
    DEFAULT_SCAN_EMBEDDER,
    SCAN_EMBEDDERS,
    SCAN_FILE_COLUMN,
    SUPERVISED_EMBEDDER,
    SUPERVISED_RECIPES,
    CrossFittedScanBlock,
    supervised_recipe,
)
from ._survival_data import load_survival_cohort_table
from ._survival_fit import FittedSurvivalModel, SurvivalCrossValidation, fit_survival_model_folder
from ._survival_predict import explain_survival, predict_survival

__all__ = [
    "DEFAULT_SCAN_EMBEDDER",
    "NO_OBSERVED",
    "PRETRAIN_EPOCHS",
    "PRETRAIN_SECONDS",
    "SCANS_BLOCK",
    "SCAN_EMBEDDERS",
    "SCAN_ENCODER",
    "SCAN_FILE_COLUMN",
    "SKIPPED_SCANS",
    "SUPERVISED_EMBEDDER",
    "SUPERVISED_RECIPES",
    "UNMATCHED_SCANS",
    "UNREADABLE_SCANS",
    "CrossFittedScanBlock",
    "CrossValidation",
    "FittedModel",
    "FittedSurvivalModel",
    "ModelFolder",
    "ScanListError",
    "SurvivalCrossValidation",
    "cohort_task",
    "cross_validate",
    "embed_scans",
    "explain",
    "explain_survival",
    "fit_model_folder",
    "fit_survival_model_folder",
    "load_cohort",
    "load_model_folder",
    "load_survival_cohort_table",
    "predict",
    "predict_survival",
    "supervised_recipe",
    "with_scan_step",
]
