"""What a clinician asks of a model: discrimination with CIs, calibration, conformal sets,
net benefit and decision thresholds, typicality of a patient, and the model card.
"""

from ._block_report import block_guard_summary
from ._calibration import (
    CALIBRATION_METHODS,
    DEFAULT_INNER_SPLITS,
    Recalibration,
    brier_decomposition,
    calibration_curve_bands,
    calibration_slope_intercept,
    calibration_summary,
    recalibrated,
)
from ._conformal import ClassConditionalConformal, conformal_coverage
from ._decision import choose_threshold, decision_curve, mean_decision_curve, net_benefit
from ._explanations import explanation_text, explanation_words
from ._metrics import METRICS, bootstrap_metrics, compute_metrics, delong_test, paired_bootstrap
from ._model_card import model_card
from ._survival import (
    SURVIVAL_METRICS,
    check_survival_target,
    harrell_c,
    integrated_brier,
    paired_survival_bootstrap,
    survival_calibration,
    survival_metrics,
    survival_net_benefit,
    time_dependent_auc,
    uno_c,
)
from ._survival_card import survival_model_card
from ._survival_explanations import survival_explanation_text, survival_explanation_words
from ._typicality import neighbor_typicality

__all__ = [
    "CALIBRATION_METHODS",
    "DEFAULT_INNER_SPLITS",
    "METRICS",
    "SURVIVAL_METRICS",
    "ClassConditionalConformal",
    "Recalibration",
    "block_guard_summary",
    "bootstrap_metrics",
    "brier_decomposition",
    "calibration_curve_bands",
    "calibration_slope_intercept",
    "calibration_summary",
    "check_survival_target",
    "choose_threshold",
    "compute_metrics",
    "conformal_coverage",
    "decision_curve",
    "delong_test",
    "explanation_text",
    "explanation_words",
    "harrell_c",
    "integrated_brier",
    "mean_decision_curve",
    "model_card",
    "neighbor_typicality",
    "net_benefit",
    "paired_bootstrap",
    "paired_survival_bootstrap",
    "recalibrated",
    "survival_calibration",
    "survival_explanation_text",
    "survival_explanation_words",
    "survival_metrics",
    "survival_model_card",
    "survival_net_benefit",
    "time_dependent_auc",
    "uno_c",
]
