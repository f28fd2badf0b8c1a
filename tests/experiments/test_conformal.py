import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from experiments import InputError
from experiments.clinical._conformal import (
    ClassConditionalConformal,
    check_alpha,
    conformal_coverage,
)


def _scored(n, seed, n_classes=2):
    """Probabilities that carry some signal, and labels drawn from them."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(n_classes), size=n)
    y = np.array([rng.choice(n_classes, p=row) for row in proba])
    return proba, y


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, "a", None, True, float("nan")])
def test_alpha_outside_zero_one_is_refused(alpha):
    with pytest.raises(InputError, match=r"alpha .*must be a number in \(0, 1\).*got"):
        check_alpha(alpha)


def test_p_values_are_the_class_conditional_rank_formula():
    proba, y = _scored(120, 0)
    cp = ClassConditionalConformal().fit(proba, y)
    new, _ = _scored(15, 1)
    p = cp.p_values(new)
    for c in (0, 1):
        cal = 1 - proba[y == c, c]
        expected = [(np.sum(cal >= 1 - q[c]) + 1) / (cal.size + 1) for q in new]
        np.testing.assert_allclose(p[:, c], expected)
    sets = cp.predict_set(new, alpha=0.2)
    np.testing.assert_array_equal(sets, p > 0.2)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_coverage_holds_within_each_class(n_classes):
    """Calibrated and tested on exchangeable patients: at least 1 - alpha per class."""
    proba, y = _scored(6000, 2, n_classes)
    cp = ClassConditionalConformal().fit(proba[:3000], y[:3000])
    sets = cp.predict_set(proba[3000:], alpha=0.1)
    covered = sets[np.arange(3000), y[3000:]]
    for c in range(n_classes):
        assert 0.88 <= covered[y[3000:] == c].mean() <= 0.93
    assert sets.sum(axis=1).mean() < n_classes  # not the trivial set of every class


def test_state_round_trip_gives_the_same_sets():
    proba, y = _scored(200, 3)
    cp = ClassConditionalConformal().fit(proba, y)
    state = json.loads(json.dumps(cp.to_dict()))
    again = ClassConditionalConformal.from_dict(state)
    new, _ = _scored(40, 4)
    np.testing.assert_array_equal(again.p_values(new), cp.p_values(new))


def test_bad_calibration_inputs_and_tiny_alpha_are_named():
    proba, y = _scored(30, 5)
    with pytest.raises(InputError, match=r"Calibration patients lack class\(es\) \[1\]"):
        ClassConditionalConformal().fit(proba, np.zeros(30, dtype=int))
    with pytest.raises(InputError, match=r"proba must be of shape \(n_patients, n_classes\)"):
        ClassConditionalConformal().fit(proba[:10], y)
    cp = ClassConditionalConformal().fit(proba, y)
    with pytest.raises(InputError, match=r"proba must have 2 columns"):
        cp.p_values(np.ones((3, 3)) / 3)
    with pytest.warns(UserWarning, match=r"alpha=0.01 is below 1/\(n\+1\)"):
        sets = cp.predict_set(proba, alpha=0.01)
    assert sets.all()


def test_cross_conformal_coverage_on_held_out_folds():
    proba, y = _scored(1500, 6)
    folds = [list(StratifiedKFold(5, shuffle=True, random_state=r).split(proba, y)) for r in (0, 1)]
    res = conformal_coverage(y, [proba, proba], folds, alpha=0.1)
    assert 0.89 <= res["coverage"] <= 0.93
    assert 0.88 <= res["coverage_0"] <= 0.94 and 0.88 <= res["coverage_1"] <= 0.94
    assert 1 <= res["set_size"] < 2 and res["share_empty"] < 0.05
    # a useless model (the same probability for everyone): every set holds both classes
    flat = np.full((1500, 2), 0.5)
    res_flat = conformal_coverage(y, [flat], folds[:1], alpha=0.1)
    assert res_flat["coverage"] == 1.0 and res_flat["share_uncertain"] == 1.0


def test_importing_crepes_through_us_leaves_warning_filters_alone():
    """crepes calls warnings.simplefilter('always', UserWarning) at import; we undo it."""
    code = (
        "import sys, warnings\n"
        "import numpy as np\n"
        "from experiments.clinical._conformal import ClassConditionalConformal\n"
        "assert 'crepes' not in sys.modules\n"
        "before = list(warnings.filters)\n"
        "ClassConditionalConformal().fit(np.eye(2), [0, 1])  # imports crepes\n"
        "assert 'crepes' in sys.modules and warnings.filters == before, warnings.filters[:3]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
