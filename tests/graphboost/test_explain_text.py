"""GraphBoostClassifier.explain in the order the score is built (issue 20, point 19): the risk
before and after each source, the neighborhood each graph's vote used (a tie group counted, not
listed), and patients named by the DataFrame's index."""

import numpy as np
import pandas as pd
import pytest

from graphboost import GraphBoostClassifier, modality_contributions


def _cohort(n=200, seed=0):
    """A binary column carrying the label, an integer age with ties, a bumpy continuous one."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "family_history": rng.integers(0, 2, n).astype(float),
            "age": rng.normal(60, 8, n).round(),
            "marker": rng.uniform(-2, 2, n),
        }
    )
    y = ((X.family_history == 1) & (rng.random(n) < 0.8)) | (np.abs(X.marker) > 1.5)
    X.index = [f"P{i:03d}" for i in range(n)]
    return X, y.astype(int).to_numpy()


@pytest.fixture(scope="module")
def fitted():
    X, y = _cohort()
    clf = GraphBoostClassifier(n_estimators=12, n_neighbors=(10,), random_state=0).fit(X, y)
    return clf, X, y


def test_rows_follow_the_order_the_score_is_built(fitted):
    clf, X, _ = fitted
    expl = clf.explain(X.iloc[:6])
    first_round = {}
    for round_, spec in enumerate(clf.selected_graphs_):
        first_round.setdefault(spec, round_)
    for _, rows in expl.groupby("patient", sort=False):
        assert rows["step"].tolist() == list(range(len(rows)))
        assert rows["graph"].iloc[0] == "init"
        assert rows["source"].iloc[0] == "linear model (all columns)"
        assert rows["rule"].iloc[1:].tolist() == [str(s) for s in first_round]


def test_risk_points_add_up_to_the_predicted_risk(fitted):
    clf, X, _ = fitted
    expl = clf.explain(X.iloc[:10])
    proba = pd.Series(clf.predict_proba(X.iloc[:10])[:, 1], index=X.index[:10])
    start = expl[expl.step == 0].set_index("patient")["risk_after"]
    assert expl[expl.step == 0]["risk_before"].isna().all()
    points = expl[expl.step > 0].groupby("patient")["risk_change_pp"].sum()
    np.testing.assert_allclose(start + points.reindex(start.index, fill_value=0) / 100, proba)
    # each step starts where the previous one ended, and the log-odds still sum to the score
    for _, rows in expl.groupby("patient"):
        np.testing.assert_allclose(rows.risk_before.iloc[1:], rows.risk_after.iloc[:-1])
    sums = expl.groupby("patient", sort=False)["log_odds"].sum()
    np.testing.assert_allclose(sums, clf.decision_function(X.iloc[:10]))
    np.testing.assert_array_equal(expl["log_odds"], expl["contribution"])


def test_a_binary_column_is_one_tie_group_counted_not_listed(fitted):
    clf, X, y = fitted
    assert "family_history" in {s.name for s in clf.selected_graphs_}
    expl = clf.explain(X.iloc[:8], n_neighbors=5)
    rows = expl[expl.graph == "family_history"]
    for row in rows.itertuples():
        value = X.loc[row.patient, "family_history"]
        group = X["family_history"].to_numpy() == value
        assert row.tie_group_size == row.neighborhood_size == group.sum() > 5
        assert row.neighbor_outcome_rate == pytest.approx(y[group].mean())
        assert row.value_low == row.value_high == row.value == value
        assert row.neighbors == [] and row.neighbor_labels == []  # not "the first rows"


def test_a_numeric_graph_counts_its_neighborhood_and_its_range(fitted):
    clf, X, y = fitted
    expl = clf.explain(X.iloc[:8], n_neighbors=4)
    rows = expl[(expl.graph == "marker") & (expl.step > 0)]
    assert not rows.empty
    train = X["marker"].to_numpy()
    for row in rows.itertuples():
        inside = (train >= row.value_low) & (train <= row.value_high)
        assert inside.sum() == row.neighborhood_size >= 10  # n_neighbors=10, ties kept
        assert row.neighbor_outcome_rate == pytest.approx(y[inside].mean())
        assert row.tie_group_size == 0 and len(row.neighbors) == 4
        assert inside[row.neighbors].all()


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_patients_are_named_by_the_dataframe_index(fitted):
    clf, X, _ = fitted
    picked = X.iloc[[5, 2, 9]]
    expl = clf.explain(picked)
    assert list(pd.unique(expl["patient"])) == ["P005", "P002", "P009"]
    parts = modality_contributions(expl)
    np.testing.assert_allclose(parts.sum(axis=1).loc[picked.index], clf.decision_function(picked))
    # an array: positions
    assert sorted(set(clf.explain(picked.to_numpy())["patient"])) == [0, 1, 2]
    with pytest.raises(ValueError, match="index of X repeats 1 label"):
        clf.explain(X.iloc[[1, 1]])


def test_a_patient_without_the_block_has_no_neighborhood():
    rng = np.random.default_rng(3)
    n = 120
    Z = rng.normal(size=(n, 2))
    X = pd.DataFrame({"e0": Z[:, 0], "e1": Z[:, 1], "mri:missing": 0.0, "age": rng.normal(size=n)})
    X.loc[:9, ["e0", "e1", "mri:missing"]] = [0.0, 0.0, 1.0]
    y = (Z[:, 0] * Z[:, 1] > 0).astype(int)  # the block carries it, neither column alone
    clf = GraphBoostClassifier(
        n_estimators=4, n_neighbors=(10,), feature_groups={"mri": ["e0", "e1"]}, random_state=0
    ).fit(X, y)
    assert "mri" in {s.name for s in clf.selected_graphs_}
    expl = clf.explain(X.iloc[[0, 50]], n_neighbors=3)
    block = expl[expl.graph == "mri"].set_index("patient")
    assert block.loc[0, "neighborhood_size"] == 0 and block.loc[0, "neighbors"] == []
    assert np.isnan(block.loc[0, "neighbor_outcome_rate"])
    assert block.loc[50, "neighborhood_size"] == 10 and len(block.loc[50, "neighbors"]) == 3
    assert np.isnan(block.loc[50, "value"])


def test_multiclass_risk_is_the_predicted_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 1], [-0.4, 0.4])]
    clf = GraphBoostClassifier(n_estimators=6, random_state=0).fit(X, y)
    expl = clf.explain(X[:5])
    final = expl.groupby("patient")["risk_after"].last().to_numpy()
    np.testing.assert_allclose(final, clf.predict_proba(X[:5]).max(axis=1))
    assert expl.attrs["outcome"] is None
