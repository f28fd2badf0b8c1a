"""The registry of every method a benchmark may name: the base methods and ``graphboost-tuned``.

The base methods are built in :mod:`experiments.methods._pipelines`; ``graphboost-tuned``
(:class:`experiments.TunedGraphBoostClassifier`) tunes the ``graphboost`` pipeline built there, so
it is added here, above both, instead of registering itself when its module is imported.
"""

from __future__ import annotations

from ..tuning._tuned import tuned_pipeline
from ._pipelines import BUILDERS as BASE_BUILDERS
from ._pipelines import METHODS, OWN_PREPROCESSOR, TUNED, check_methods
from ._pipelines import make_pipeline as _base_pipeline

REGISTRY = {**BASE_BUILDERS, TUNED: tuned_pipeline}
"""Method name -> builder ``(params, feature_groups, random_state, n_jobs[, preprocessor])``."""

assert set(REGISTRY) == set(METHODS), "every name of METHODS has one builder"


def make_pipeline(
    name, params=None, feature_groups=None, random_state=0, n_jobs=1, preprocessor=None
):
    """``features.ClinicalPreprocessor`` + the estimator of any method of :data:`METHODS`.

    Parameters
    ----------
    name : str
        One of :data:`METHODS`, ``"graphboost-tuned"`` included.
    params, feature_groups, random_state, n_jobs, preprocessor
        See :func:`experiments.methods._pipelines.make_pipeline`.

    Returns
    -------
    sklearn.pipeline.Pipeline or ModalitySelectionClassifier

    Examples
    --------
    >>> [step for step, _ in make_pipeline("logistic").steps]
    ['preprocess', 'model']
    >>> tuned = make_pipeline("graphboost-tuned", {"n_trials": 10}, random_state=3)
    >>> type(tuned.named_steps["model"]).__name__, tuned.named_steps["model"].n_trials
    ('TunedGraphBoostClassifier', 10)
    """
    check_methods([name])
    if name == TUNED:
        return tuned_pipeline(
            dict(params or {}), feature_groups, random_state, n_jobs, preprocessor
        )
    return _base_pipeline(name, params, feature_groups, random_state, n_jobs, preprocessor)


__all__ = ["METHODS", "OWN_PREPROCESSOR", "REGISTRY", "TUNED", "make_pipeline"]
