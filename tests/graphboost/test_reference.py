"""Predictions on the Duke tasks are those recorded before the issue-8 refactor, within 1e-9."""

import json

import numpy as np
import pytest

from tests.graphboost.reference_cases import CASES, REFERENCE_FILE, _make_model, predict_case

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE_FILE.read_text())


@pytest.fixture(scope="module")
def duke(duke_dir):
    from features import load_duke

    return {task: load_duke(task, duke_dir) for task in ("pcr", "tnbc")}


@pytest.mark.filterwarnings("ignore:Constant columns skipped")
@pytest.mark.filterwarnings("ignore::features.UnseenCategoryWarning")
@pytest.mark.parametrize("name", sorted(CASES))
def test_duke_predictions_match_frozen_reference(name, reference, duke):
    """Guards the refactor of issue 8: the same data and settings give the same probabilities."""
    task, _ = CASES[name]
    proba = predict_case(name, duke[task], _make_model)
    np.testing.assert_allclose(proba, reference[name], rtol=0, atol=1e-9)
