"""features.Task: the one container of a task (what loaders return, what the runner runs)."""

import numpy as np
import pandas as pd
import pytest

import features


def test_former_container_names_resolve_to_task():
    with pytest.warns(DeprecationWarning, match="features.DukeDataset is now features.Task"):
        assert features.DukeDataset is features.Task
    with pytest.warns(DeprecationWarning, match="features.SurvivalDataset is now features.Task"):
        assert features.SurvivalDataset is features.Task
    import experiments

    assert experiments.Dataset is features.Task
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        features.Nothing  # noqa: B018


def test_task_holds_labels_or_a_censored_time():
    X = pd.DataFrame({"age": [50.0, 61.0, 70.0]})
    labels = features.Task("toy", X, pd.Series([0, 1, 0]))
    assert labels.task == "toy" and not labels.is_survival
    with pytest.raises(AttributeError, match="has class labels, not a censored time"):
        labels.event  # noqa: B018
    y = np.array([(True, 5.0), (False, 2.0), (True, 1.0)], dtype=[("event", bool), ("time", float)])
    survival = features.Task("toy-survival", X, y, patient_ids=pd.Series(["a", "b", "c"]))
    assert survival.is_survival
    assert survival.event.tolist() == [True, False, True]
    assert survival.time.tolist() == [5.0, 2.0, 1.0]
