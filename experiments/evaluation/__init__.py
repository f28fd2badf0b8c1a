"""Honest evaluation: the task container, splits, fitting a fold, cross-validation on the same
folds for every method, summary tables with paired comparisons, and clinical results.
"""

from ._clinical_report import ClinicalResults
from ._cv import MethodResult, cross_validate, make_splits
from ._dataset import DATASETS, dataset_from_cohort, load_dataset, read_cohort
from ._summary import format_table, summary_table

__all__ = [
    "DATASETS",
    "ClinicalResults",
    "Dataset",
    "MethodResult",
    "cross_validate",
    "dataset_from_cohort",
    "format_table",
    "load_dataset",
    "make_splits",
    "read_cohort",
    "summary_table",
]


def __getattr__(name):
    """``Dataset`` is ``features.Task`` (resolved on first use: features imports torch)."""
    from . import _dataset

    return _dataset.__getattr__(name)
