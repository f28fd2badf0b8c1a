import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from experiments import InputError
from experiments.clinical._decision import (
    beats_both,
    choose_threshold,
    decision_curve,
    mean_decision_curve,
    net_benefit,
    parse_threshold_target,
    useful_range,
)


def _calibrated(n, seed):
    rng = np.random.default_rng(seed)
    p = expit(rng.normal(-1.2, 1.3, n))
    return (rng.uniform(size=n) < p).astype(int), p


def test_net_benefit_by_hand_and_treat_all_formula():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.4, 0.35, 0.3, 0.2, 0.1, 0.1, 0.05, 0.0])
    # at 0.3: treated rows 0-4 -> TP 2, FP 3
    assert net_benefit(y, p, [0.3])[0] == pytest.approx(2 / 10 - 3 / 10 * 0.3 / 0.7)
    curve = decision_curve(y, p, [0.1, 0.3, 0.6])
    prevalence = 0.3
    expected = prevalence - (1 - prevalence) * curve.threshold / (1 - curve.threshold)
    np.testing.assert_allclose(curve.treat_all, expected)
    assert (curve.treat_none == 0).all()


def test_mean_decision_curve_averages_the_repeats():
    y, p = _calibrated(300, 0)
    q = np.clip(p + 0.1, 0, 1)
    mean = mean_decision_curve(y, [np.c_[1 - p, p], np.c_[1 - q, q]])
    a, b = decision_curve(y, p).model, decision_curve(y, q).model
    np.testing.assert_allclose(mean.model, (a + b) / 2)


def test_a_calibrated_informative_model_is_useful_over_a_range():
    y, p = _calibrated(5000, 1)
    span = useful_range(decision_curve(y, p))
    assert span is not None and span[0] <= 0.1 and span[1] >= 0.6
    assert beats_both(decision_curve(y, p)).mean() > 0.9
    noise = np.random.default_rng(2).uniform(size=5000)
    assert useful_range(decision_curve(y, np.full(5000, y.mean()))) is None
    assert useful_range(decision_curve(y, noise * 0 + 0.01)) is None


def test_choose_threshold_meets_each_target():
    y, p = _calibrated(3000, 3)
    sens = choose_threshold(y, p, "sensitivity", 0.8)
    assert sens["sensitivity"] >= 0.8
    above = p[p > sens["threshold"]].min()  # the next higher cut-off falls short
    assert np.mean(p[y == 1] >= above) < 0.8
    spec = choose_threshold(y, p, "specificity", 0.9)
    assert spec["specificity"] >= 0.9
    below = p[p < spec["threshold"]].max()
    assert np.mean(p[y == 0] < below) < 0.9
    nb = choose_threshold(y, p, "net-benefit", 0.2)
    assert nb["threshold"] == pytest.approx(0.2, abs=0.05)  # calibrated risks: near pt itself
    assert nb["net_benefit"] >= nb["net_benefit_treat_all"] and nb["net_benefit"] > 0
    assert set(sens) >= {"threshold", "sensitivity", "specificity", "ppv", "npv", "target"}


@pytest.mark.parametrize(
    "text", ["recall:0.9", "sensitivity:1.5", "sensitivity", "sensitivity:abc", "specificity:0"]
)
def test_unknown_threshold_target_is_refused(text):
    with pytest.raises(InputError, match=r"threshold target must be 'TARGET:VALUE'.*got"):
        parse_threshold_target(text)


def test_parse_and_one_class_error():
    assert parse_threshold_target("net-benefit:0.15") == ("net-benefit", 0.15)
    with pytest.raises(InputError, match=r"needs patients of both classes"):
        choose_threshold([1, 1, 1], [0.2, 0.5, 0.7], "sensitivity", 0.9)


def test_useful_range_is_the_longest_run_and_beats_both_counts_every_threshold():
    t = np.round(np.arange(0.1, 0.8, 0.1), 1)
    model = np.array([0.5, -1, 0.5, 0.5, 0.5, -1, 0.5])
    curve = pd.DataFrame({"threshold": t, "model": model, "treat_all": 0.0, "treat_none": 0.0})
    assert useful_range(curve) == (0.3, 0.5)
    assert beats_both(curve).sum() == 5
