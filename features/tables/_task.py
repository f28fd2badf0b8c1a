"""One container for a prediction task: features, outcome, feature groups and patient IDs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Task"]


@dataclass
class Task:
    """A cohort's prediction task, ready for a model or a benchmark.

    Every dataset loader returns one (:func:`features.load_duke`,
    :func:`features.load_public_cohort`, :func:`features.load_survival_cohort`), and the benchmark
    runner cross-validates one (``experiments.Dataset`` is this class). A :class:`Cohort` is what
    joins a clinical table and embedding blocks by patient ID; a ``Task`` is what is passed on.

    Attributes
    ----------
    name : str
        The task's name (``"pcr"``, ``"gbsg"``, ``"duke:tnbc"``...).
    X : pandas.DataFrame
        Raw feature values (not imputed, not scaled; preprocessing happens inside the folds),
        NaN where missing, nominal columns as ``category``.
    y : pandas.Series or ndarray
        The outcome in the rows of ``X``: class labels, or for a censored time a structured
        array with the fields ``event`` (bool) and ``time`` (float), as
        ``sksurv.util.Surv.from_arrays`` makes.
    feature_groups : dict of str to list of str
        Named blocks of columns (an imaging embedding, the clinical columns), one candidate graph
        each for the model.
    groups : ndarray or None
        Site, scanner or source cohort of each patient, for leave-one-group-out evaluation.
    group_column : str or None
        The column ``groups`` was taken from.
    preprocessor : features.ClinicalPreprocessor or None
        The unfitted preprocessor suited to the columns (e.g. from
        :meth:`Cohort.make_preprocessor`); ``None`` means ``ClinicalPreprocessor()``.
    patient_ids : pandas.Series or None
        Patient IDs in the rows of ``X``; never a feature.
    description : str
        What the task is, its cohort and counts.
    source_columns : dict of str to tuple of str
        Output column -> where it was read from.
    preprocessor_params : dict
        Parameters of ``ClinicalPreprocessor`` the task is benchmarked with (empty: the defaults).

    Examples
    --------
    >>> import pandas as pd
    >>> task = Task("toy", pd.DataFrame({"age": [50.0, 61.0]}), pd.Series([0, 1]))
    >>> task.name, task.X.shape, task.is_survival
    ('toy', (2, 1), False)
    """

    name: str
    X: pd.DataFrame
    y: pd.Series | np.ndarray
    feature_groups: dict = field(default_factory=dict)
    groups: np.ndarray | None = None
    group_column: str | None = None
    preprocessor: object = None
    patient_ids: pd.Series | None = None
    description: str = ""
    source_columns: dict = field(default_factory=dict)
    preprocessor_params: dict = field(default_factory=dict)

    @property
    def task(self) -> str:
        """The task's name (the attribute of the former ``DukeDataset``)."""
        return self.name

    @property
    def is_survival(self) -> bool:
        """True when ``y`` is a censored time (a structured array of event and time)."""
        return getattr(getattr(self.y, "dtype", None), "names", None) is not None

    @property
    def event(self) -> np.ndarray:
        """The event indicator of a survival task (bool)."""
        return np.asarray(self._survival_field(0), dtype=bool)

    @property
    def time(self) -> np.ndarray:
        """The observed time of a survival task (float)."""
        return np.asarray(self._survival_field(1), dtype=float)

    def _survival_field(self, k):
        if not self.is_survival:
            raise AttributeError(f"Task {self.name!r} has class labels, not a censored time.")
        return self.y[self.y.dtype.names[k]]
