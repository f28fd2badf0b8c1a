"""GraphBoostSurvivalAnalysis.explain and neighbor_survival: the parts sum to the risk score, the
Kaplan-Meier curves against scikit-survival, the neighbors' survival, index labels, batch
invariance, and the saved model (also one saved before the training times were kept)."""

import numpy as np
import pandas as pd
import pytest

from graphboost import GraphBoostSurvivalAnalysis, StepFunction, load
from graphboost._survival_explain import COLUMNS, NeighborSurvival
from graphboost._survival_metrics import kaplan_meier, kaplan_meier_function, survival_at

SURV_DTYPE = [("event", bool), ("time", np.float64)]


def surv(event, time):
    y = np.empty(len(time), dtype=SURV_DTYPE)
    y["event"], y["time"] = event, time
    return y


def cohort(n=240, seed=0):
    """Patients with ``early`` above 1 all have an event before time 0.2; ``bands`` drives the
    others' risk through a sine (seen by neighbors only); a binary column and noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "early": rng.normal(size=n),
            "bands": rng.normal(size=n),
            "binary": rng.integers(0, 2, n).astype(float),
            "noise": rng.normal(size=n),
        },
        index=[f"P{i:03d}" for i in range(n)],
    )
    t = rng.exponential(np.exp(-1.2 * np.sin(2.5 * X["bands"].to_numpy())))
    c = rng.exponential(2.0, size=n)
    early = X["early"].to_numpy() > 1.0
    t = np.where(early, rng.uniform(0.01, 0.2, n), t)
    c = np.where(early, 5.0, c)
    return X, surv(t <= c, np.round(np.minimum(t, c), 3) + 0.001)


@pytest.fixture(scope="module")
def data():
    return cohort()


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    return GraphBoostSurvivalAnalysis(
        # The fixed candidate graphs' explanations (leaf graphs': test_survival_leaf.py).
        n_estimators=30,
        n_neighbors=(10, 30),
        boost_scale=1.0,
        interaction_depth=0,
        random_state=0,
    ).fit(X.iloc[:200], y[:200])


@pytest.fixture(scope="module")
def table(model, data):
    return model.explain(data[0].iloc[200:])


# -- the parts of the score ---------------------------------------------------------------------
def test_columns_and_order(table, data):
    assert tuple(table.columns) == COLUMNS
    patients = data[0].index[200:]
    assert list(pd.unique(table["patient"])) == list(patients)  # index labels, in X's order
    for _, rows in table.groupby("patient", sort=False):
        assert rows["step"].tolist() == list(range(len(rows)))
        assert rows["graph"].iloc[0] == "init"
        assert rows["source"].iloc[0] == "ridge Cox model (all columns)"
    assert table.attrs["horizon"] == pytest.approx(np.median(data[1]["time"][:200]))


def test_contributions_sum_to_predict(model, table, data):
    X = data[0].iloc[200:]
    total = table.groupby("patient", sort=False)["log_hazard"].sum().to_numpy()
    np.testing.assert_allclose(total, model.predict(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(table["contribution"], table["log_hazard"])
    np.testing.assert_allclose(table["hazard_ratio"], np.exp(table["log_hazard"]))
    # Each source starts where the previous one ended; the last is the prediction.
    for _, rows in table.groupby("patient", sort=False):
        np.testing.assert_allclose(rows["risk_before"].iloc[1:], rows["risk_after"].iloc[:-1])
        assert rows["risk_before"].iloc[0] == 0.0
    last = table.groupby("patient", sort=False).tail(1)
    h = table.attrs["horizon"]
    expected = np.array([f(h) for f in model.predict_survival_function(X)])
    np.testing.assert_allclose(last["survival_after"], expected, rtol=1e-12)
    start = table[table["step"] == 0]
    np.testing.assert_allclose(start["survival_before"], model.baseline_survival_(h))
    np.testing.assert_allclose(
        table["survival_change_pp"], 100 * (table["survival_after"] - table["survival_before"])
    )


def test_zero_boost_scale_lists_graphs_with_zero_parts(data):
    X, y = data
    model = GraphBoostSurvivalAnalysis(
        n_estimators=5, n_neighbors=10, boost_scale=0.0, random_state=0
    ).fit(X.iloc[:200], y[:200])
    table = model.explain(X.iloc[200:210])
    assert (table.loc[table["step"] > 0, "log_hazard"] == 0).all()
    total = table.groupby("patient", sort=False)["log_hazard"].sum().to_numpy()
    np.testing.assert_allclose(total, model.predict(X.iloc[200:210]), rtol=0, atol=1e-12)


# -- Kaplan-Meier ---------------------------------------------------------------------------------
def test_kaplan_meier_matches_scikit_survival():
    nonparametric = pytest.importorskip("sksurv.nonparametric")
    rng = np.random.default_rng(1)
    for _ in range(40):
        n = int(rng.integers(1, 60))
        time = rng.integers(0, 10, n).astype(float)  # ties and a time 0
        event = rng.random(n) < 0.6
        times, survival = kaplan_meier(time, event)
        ref_times, ref_survival = nonparametric.kaplan_meier_estimator(event, time)
        np.testing.assert_array_equal(times, ref_times)
        np.testing.assert_allclose(survival, ref_survival, rtol=1e-12)


def test_neighborhood_curve_matches_scikit_survival(model, data):
    nonparametric = pytest.importorskip("sksurv.nonparametric")
    X, y = data
    train = y[:200]
    for step in (1, 2):
        curves = model.neighbor_survival(X.iloc[200:], "P205", step)
        rows = curves.neighborhood
        ref_times, ref_survival = nonparametric.kaplan_meier_estimator(
            train["event"][rows], train["time"][rows]
        )
        np.testing.assert_array_equal(curves.neighbors.x, ref_times)
        np.testing.assert_allclose(curves.neighbors.y, ref_survival, rtol=1e-12)
        ref_times, ref_survival = nonparametric.kaplan_meier_estimator(
            train["event"], train["time"]
        )
        np.testing.assert_allclose(curves.cohort.y, ref_survival, rtol=1e-12)


def test_survival_at_horizon_beyond_follow_up():
    still_at_risk = kaplan_meier_function([1.0, 2.0], [True, False])
    assert survival_at(still_at_risk, 1.5) == 0.5
    assert np.isnan(survival_at(still_at_risk, 3.0))  # follow-up ended before the horizon
    assert survival_at(kaplan_meier_function([1.0, 2.0], [True, True]), 3.0) == 0.0


def test_neighbors_with_early_events_fare_worse_than_the_cohort(model, data, table):
    X, y = data
    steps = table.loc[table["graph"] == "early", "step"].unique()
    assert steps.size, "the column whose high values mean early events was not selected"
    patient = X.index[200:][int(np.argmax(X["early"].to_numpy()[200:]))]
    curves = model.neighbor_survival(X.iloc[200:], patient, int(steps[0]))
    assert isinstance(curves, NeighborSurvival)
    assert isinstance(curves.neighbors, StepFunction)
    train = y[:200]
    assert train["event"][curves.neighborhood].all()
    assert train["time"][curves.neighborhood].max() < 0.21
    assert curves.neighbor_survival_at_horizon == 0.0
    assert curves.cohort_survival_at_horizon > 0.3
    end = float(curves.neighbors.x[-1])  # the neighbors' last event, before 0.21
    assert curves.neighbors(end) == 0.0 < curves.cohort(end)
    row = table[(table["patient"] == patient) & (table["step"] == steps[0])].iloc[0]
    assert row["neighbor_survival_at_horizon"] == curves.neighbor_survival_at_horizon
    assert row["cohort_survival_at_horizon"] == curves.cohort_survival_at_horizon
    assert row["neighborhood_events"] == row["neighborhood_size"]
    assert row["log_hazard"] > 0  # the graph raised the risk


def test_neighborhood_columns(model, table, data):
    X, y = data
    graphs = table[table["step"] > 0]
    assert (graphs["neighborhood_size"] >= 10).all()
    assert (graphs["neighborhood_events"] <= graphs["neighborhood_size"]).all()
    assert (graphs["value_low"] <= graphs["value_high"]).all()
    for _, row in graphs.head(20).iterrows():
        listed = np.asarray(row["neighbors"], dtype=int)
        assert len(listed) <= 5
        np.testing.assert_array_equal(row["neighbor_times"], y["time"][:200][listed])
        np.testing.assert_array_equal(row["neighbor_events"], y["event"][:200][listed])
        column = X[row["graph"]].to_numpy()[:200]
        assert ((column[listed] >= row["value_low"]) & (column[listed] <= row["value_high"])).all()
    start = table[table["step"] == 0]
    assert (start["neighborhood_size"] == 0).all()
    assert start["neighbor_survival_at_horizon"].isna().all()
    assert start["cohort_survival_at_horizon"].notna().all()


def test_tie_group_larger_than_listed_is_not_listed(data):
    X, y = data
    model = GraphBoostSurvivalAnalysis(
        n_estimators=3,
        n_neighbors=10,
        boost_scale=1.0,
        init=None,
        interaction_depth=0,
        random_state=0,
    ).fit(X[["binary"]].iloc[:200], y[:200])
    table = model.explain(X[["binary"]].iloc[200:210], n_neighbors=5)
    graph = table[table["step"] == 1]
    assert (graph["tie_group_size"] == graph["neighborhood_size"]).all()
    assert (graph["tie_group_size"] > 5).all()
    assert all(listed == [] for listed in graph["neighbors"])
    binary = X["binary"].to_numpy()[:200]
    for _, row in graph.iterrows():
        assert row["neighborhood_size"] == int((binary == row["value"]).sum())


def test_block_graph(data):
    X, y = data
    model = GraphBoostSurvivalAnalysis(
        n_estimators=5,
        n_neighbors=10,
        boost_scale=1.0,
        feature_groups={"both": ["early", "bands"]},
        interaction_depth=0,
        random_state=0,
    ).fit(X.iloc[:200], y[:200])
    table = model.explain(X.iloc[200:205])
    total = table.groupby("patient", sort=False)["log_hazard"].sum().to_numpy()
    np.testing.assert_allclose(total, model.predict(X.iloc[200:205]), rtol=0, atol=1e-12)
    assert table.attrs["feature_groups"] == {"both": ["early", "bands"]}
    assert table.loc[table["step"] == 1, "graph"].eq("both").all()
    curves = model.neighbor_survival(X.iloc[200:205], "P200", "both")
    assert curves.neighborhood.shape[0] == 10
    row = table[(table["patient"] == "P200") & (table["step"] == 1)].iloc[0]
    assert row["neighbors"] == curves.neighborhood[:5].tolist()
    assert row["neighbor_survival_at_horizon"] == curves.neighbor_survival_at_horizon
    assert np.isnan(row["value"])


# -- index labels, batch invariance, horizons, errors -------------------------------------------
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_positions_name_array_rows(model, data):
    X = data[0].iloc[200:204]
    table = model.explain(X.to_numpy())
    assert sorted(pd.unique(table["patient"])) == [0, 1, 2, 3]
    named = model.explain(X)
    pd.testing.assert_frame_equal(
        table.drop(columns="patient"), named.drop(columns="patient"), check_dtype=False
    )
    curves = model.neighbor_survival(X.to_numpy(), 2, 1)
    np.testing.assert_array_equal(
        curves.neighborhood, model.neighbor_survival(X, X.index[2], 1).neighborhood
    )


def test_batch_invariant(model, data, table):
    X = data[0].iloc[200:]
    for i in (0, 7, 39):
        alone = model.explain(X.iloc[[i]])
        in_batch = table[table["patient"] == X.index[i]].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, in_batch)


def test_given_horizon(model, data):
    X = data[0].iloc[200:210]
    table = model.explain(X, horizon=1.0)
    assert (table["horizon"] == 1.0).all() and table.attrs["horizon"] == 1.0
    last = table.groupby("patient", sort=False).tail(1)
    expected = [f(1.0) for f in model.predict_survival_function(X)]
    np.testing.assert_allclose(last["survival_after"], expected, rtol=1e-12)
    for bad in (-1.0, np.inf, 1e9, "soon"):
        with pytest.raises(ValueError, match="horizon"):
            model.explain(X, horizon=bad)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_errors(model, data):
    X = data[0].iloc[200:210]
    with pytest.raises(ValueError, match="n_neighbors"):
        model.explain(X, n_neighbors=0)
    with pytest.raises(ValueError, match="unique"):
        model.explain(pd.concat([X, X.iloc[:1]]))
    with pytest.raises(ValueError, match="selected graphs"):
        model.neighbor_survival(X, "P200", 999)
    with pytest.raises(ValueError, match="not a selected graph"):
        model.neighbor_survival(X, "P200", "no such column")
    with pytest.raises(KeyError, match="P999"):
        model.neighbor_survival(X, "P999", 1)
    with pytest.raises(IndexError):
        model.neighbor_survival(X.to_numpy(), 10, 1)


# -- saving -------------------------------------------------------------------------------------
def test_save_load_keeps_explain(model, data, table, tmp_path):
    model.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.train_time_, model.train_time_)
    np.testing.assert_array_equal(loaded.train_event_, model.train_event_)
    assert loaded.train_event_.dtype == bool
    X = data[0].iloc[200:]
    pd.testing.assert_frame_equal(loaded.explain(X), table)
    a, b = model.neighbor_survival(X, "P210", 2), loaded.neighbor_survival(X, "P210", 2)
    assert a.neighbors == b.neighbors and a.cohort == b.cohort
    np.testing.assert_array_equal(a.neighborhood, b.neighborhood)


def test_folder_saved_without_training_times_still_loads(model, data, tmp_path):
    """A folder of this format written before the training times were kept: it predicts and
    explains the score; the Kaplan-Meier columns are NaN and a horizon must be given."""
    X = data[0].iloc[200:210]
    old = GraphBoostSurvivalAnalysis(**model.get_params())
    old.__dict__.update(model.__dict__)
    old.train_time_ = old.train_event_ = None  # the writer then stores no times, as before
    old.save(tmp_path / "old")
    loaded = load(tmp_path / "old")
    assert loaded.train_time_ is None and loaded.train_event_ is None
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="horizon="):
        loaded.explain(X)
    table = loaded.explain(X, horizon=0.5)
    expected = model.explain(X, horizon=0.5)
    np.testing.assert_array_equal(table["log_hazard"], expected["log_hazard"])
    np.testing.assert_array_equal(table["survival_after"], expected["survival_after"])
    assert table["neighbor_survival_at_horizon"].isna().all()
    assert table["cohort_survival_at_horizon"].isna().all()
    curves = loaded.neighbor_survival(X, "P200", 1, horizon=0.5)
    assert curves.neighbors is None and curves.cohort is None


def test_modality_functions_read_the_survival_explanation(model, table, data):
    from graphboost import modality_contributions, modality_shares

    parts = modality_contributions(table)
    assert parts.columns.tolist() == ["init", "clinical"]
    X = data[0].iloc[200:]
    np.testing.assert_allclose(parts.loc[X.index].sum(axis=1), model.predict(X), atol=1e-12)
    np.testing.assert_allclose(modality_shares(table).sum(axis=1), 1.0)


def test_neighbor_lists_of_unequal_lengths(data):
    """A patient in a tie group larger than ``n_neighbors`` (none listed) beside one with
    listed neighbors in the same graph: the ragged lists make one frame (was a ValueError)."""
    X, y = data
    X = X[["early"]].copy()
    X.iloc[:120, 0] = 0.0  # a tie group of 120 training patients
    model = GraphBoostSurvivalAnalysis(
        n_estimators=3, n_neighbors=10, boost_scale=1.0, init=None, random_state=0
    ).fit(X.iloc[:200], y[:200])
    new = pd.DataFrame({"early": [0.0, 2.5]}, index=["tied", "far"])
    graph = model.explain(new, n_neighbors=5).query("step == 1").set_index("patient")
    assert graph.loc["tied", "neighbors"] == [] and len(graph.loc["far", "neighbors"]) == 5
