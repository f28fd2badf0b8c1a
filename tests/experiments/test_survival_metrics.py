"""Survival metrics: checks, agreement with scikit-survival, calibration on a known model."""

import numpy as np
import pytest

sksurv = pytest.importorskip("sksurv", reason="pip install 'graphboost[survival]'")
from sksurv.metrics import concordance_index_censored  # noqa: E402
from sksurv.util import Surv  # noqa: E402

from experiments import InputError  # noqa: E402
from experiments.clinical import (  # noqa: E402
    check_survival_target,
    harrell_c,
    paired_survival_bootstrap,
    survival_calibration,
    survival_metrics,
    survival_net_benefit,
)


def exponential_cohort(n=2000, seed=0, censor=12.0):
    """Exponential times with log-hazard ``lp``: ``S_i(t) = exp(-exp(lp_i) t / 5)``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    lp = 0.8 * x
    rate = np.exp(lp) / 5.0
    t_event = rng.exponential(1.0 / rate)
    t_censor = rng.uniform(0, censor, size=n)
    time = np.minimum(t_event, t_censor)
    return Surv.from_arrays(t_event <= t_censor, time), lp, rate


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array([1.0, 2.0]), "structured array of two fields"),
        (Surv.from_arrays([False, False], [1.0, 2.0]), "no event"),
        (Surv.from_arrays([1, 0], [-1.0, 2.0]), r"finite and > 0; 1 of 2"),
        (
            np.array([(2, 1.0), (1, 2.0)], dtype=[("e", int), ("t", float)]),
            r"0/1 or bool.*\[1, 2\]",
        ),
    ],
)
def test_bad_targets_are_refused(y, match):
    with pytest.raises(InputError, match=match):
        check_survival_target(y)


def test_harrell_c_is_scikit_survivals():
    y, lp, _ = exponential_cohort(n=300)
    expected = concordance_index_censored(y["event"], y["time"], lp)[0]
    assert harrell_c(y, lp) == pytest.approx(expected)
    assert harrell_c(y, -lp) == pytest.approx(1 - expected, abs=1e-9)


def test_calibration_of_the_true_model_and_of_an_overfitted_one():
    """The true S(5) gives slope ~1 and O/E ~1; doubling the log-hazard halves the slope."""
    y, lp, rate = exponential_cohort()
    horizon = 5.0
    true = survival_calibration(y, np.exp(-rate * horizon), horizon)
    assert true["slope"] == pytest.approx(1.0, abs=0.15)
    assert true["observed_expected"] == pytest.approx(1.0, abs=0.08)
    table = true["table"]
    assert list(table.patients) == [400] * 5
    assert np.abs(table["predicted risk"] - table["observed risk"]).max() < 0.06
    extreme = survival_calibration(y, np.exp(-np.exp(2 * lp) / 5.0 * horizon), horizon)
    assert extreme["slope"] == pytest.approx(0.5, abs=0.1)


def test_net_benefit_at_a_horizon():
    y, _, rate = exponential_cohort(seed=1)
    risk = 1 - np.exp(-rate * 5.0)
    nb = survival_net_benefit(y, risk, 5.0, [0.01, 0.3, 0.6])
    assert nb.loc[0, "model"] == pytest.approx(nb.loc[0, "treat_all"])  # everyone is treated
    assert (nb.model.iloc[1:] > nb.treat_all.iloc[1:]).all()
    assert (nb.model.iloc[1:] > 0).all()
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        survival_net_benefit(y, risk, 5.0, [0.0])


def test_metrics_table_and_horizons_outside_follow_up():
    y_train, _, _ = exponential_cohort(n=600, seed=2)
    y, lp, rate = exponential_cohort(n=400, seed=3)
    times = np.array([1.0, 3.0, 5.0, 8.0])
    survival = np.exp(-np.outer(rate, times))
    table = survival_metrics(y_train, y, lp, [3.0, 5.0], survival, times, n_bootstrap=50)
    assert list(table.index) == ["harrell_c", "uno_c", "td_auc", "integrated_brier"]
    assert ((table.low <= table.estimate) & (table.estimate <= table.high)).all()
    assert 0.6 < table.loc["harrell_c", "estimate"] < 0.8
    with pytest.raises(InputError, match=r"horizons \[50.0\] are outside the follow-up"):
        survival_metrics(y_train, y, lp, [50.0], n_bootstrap=5)


def test_paired_bootstrap_of_the_same_risk_is_zero():
    y, lp, _ = exponential_cohort(n=300, seed=4)
    same = paired_survival_bootstrap(y, lp, lp, n_bootstrap=50)
    assert same["difference"] == same["low"] == same["high"] == 0.0
    better = paired_survival_bootstrap(y, lp, lp + np.random.default_rng(0).normal(size=300), 200)
    assert better["difference"] > 0 and better["p_better"] > 0.9
