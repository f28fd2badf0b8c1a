import numpy as np
import pandas as pd
import pytest

from experiments.clinical._typicality import TYPICALITY_COLUMNS, neighbor_typicality
from graphboost import GraphBoostClassifier


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    y = (X.a + 0.3 * rng.normal(size=150) > 0).astype(int).to_numpy()
    clf = GraphBoostClassifier(n_estimators=8, n_neighbors=(10,), random_state=0).fit(X, y)
    return clf, X, y


def test_training_like_patients_are_rarely_flagged_and_far_ones_always(fitted):
    clf, X, _ = fitted
    rng = np.random.default_rng(1)
    new = pd.DataFrame(rng.normal(size=(400, 3)), columns=X.columns)  # same distribution
    typ = neighbor_typicality(clf, new)
    assert list(typ.columns) == list(TYPICALITY_COLUMNS)
    assert typ.unlike_training.mean() < 0.04
    far = new.iloc[:2].copy()
    graph = clf.selected_graphs_[0].name
    far[graph] = [25.0, -25.0]
    flagged = neighbor_typicality(clf, far)
    assert flagged.unlike_training.all() and (flagged.distance_rank == 1.0).all()
    assert all(graph in g.split(";") for g in flagged.unlike_graphs)


def test_neighbors_pool_explain_and_agree_with_the_label_structure(fitted):
    clf, _, _ = fitted
    probe = pd.DataFrame({"a": [2.5, -2.5, 0.0], "b": [0.0] * 3, "c": [0.0] * 3})
    typ = neighbor_typicality(clf, probe)
    expl = clf.explain(probe, n_neighbors=clf.max_degree)
    for i in range(3):
        found = set().union(*expl[(expl.patient == i) & (expl.graph != "init")].neighbors)
        assert typ.n_neighbors[i] == len(found) >= 10
    # far on either side of the boundary on 'a': neighbors agree, with the side's label
    assert typ.neighbor_majority[0] == 1 and typ.neighbor_majority[1] == 0
    assert typ.neighbor_agreement[0] > 0.6 and typ.neighbor_agreement[1] > 0.6
    assert 0.5 <= typ.neighbor_agreement.min() <= typ.neighbor_agreement.max() <= 1
    # the same patients as an array in the fitted column order give the same answer
    pd.testing.assert_frame_equal(neighbor_typicality(clf, probe.to_numpy()), typ)


def test_a_patient_without_the_block_is_not_judged_on_it():
    rng = np.random.default_rng(2)
    n = 120
    Z = rng.normal(size=(n, 2))
    y = (Z[:, 0] > 0).astype(int)
    X = pd.DataFrame(
        {"e0": Z[:, 0], "e1": Z[:, 1], "scans:missing": 0.0, "noise": rng.normal(size=n)}
    )
    X.loc[:9, ["e0", "e1", "scans:missing"]] = [0.0, 0.0, 1.0]
    clf = GraphBoostClassifier(
        n_estimators=4, feature_groups={"scans": ["e0", "e1"]}, random_state=0
    ).fit(X, y)
    assert "scans" in {g.name for g in clf.selected_graphs_}
    probe = pd.DataFrame({"e0": [0.0, 40.0], "e1": [0.0, 0.0], "scans:missing": [1.0, 0.0]})
    probe["noise"] = 0.0
    typ = neighbor_typicality(clf, probe)
    assert "scans" not in typ.unlike_graphs[0].split(";")
    assert "scans" in typ.unlike_graphs[1].split(";")
