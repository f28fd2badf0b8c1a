"""The survival path of the command line: fit --time --event -> predict --horizon -> explain on a
subsample of a real cohort (gbsg), and the errors of point 4 of issue 21."""

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from experiments import InputError
from experiments.cli import main
from experiments.workflows import load_model_folder, load_survival_cohort_table
from experiments.workflows._survival_data import check_horizons, survival_columns

FIT = ["--time", "rfstime", "--event", "status", "--id-column", "patient_id"]
PARAMS = ["--param", "n_estimators=5", "--param", "n_neighbors=[20]"]


@pytest.fixture(scope="module")
def gbsg_csv(tmp_path_factory):
    """300 patients of the German Breast Cancer Study Group trial (recurrence-free survival)."""
    from features import load_survival_cohort

    task = load_survival_cohort("gbsg")
    table = task.X.copy()
    table["rfstime"], table["status"] = task.y["time"], task.y["event"].astype(int)
    table = table.reset_index().sample(300, random_state=0)
    path = tmp_path_factory.mktemp("gbsg") / "gbsg.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(gbsg_csv, tmp_path_factory):
    """The model folder of ``fit --time --event --cv 3`` and what the command printed."""
    out = tmp_path_factory.mktemp("sm") / "model"
    argv = ["fit", "--data", str(gbsg_csv), *FIT, *PARAMS, "--cv", "3"]
    argv += ["--horizon", "365", "--horizon", "1826", "--output", str(out)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return out, printed.getvalue()


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fit_predict_explain(fitted, gbsg_csv, tmp_path, capsys):
    model, out = fitted
    assert "Survival model written to" in out
    assert "3-fold CV GraphBoostSurvivalAnalysis: Harrell's C" in out and "ridge Cox" in out
    files = {p.name for p in model.iterdir()}
    assert {"estimator", "preprocessor.json", "cohort.json", "manifest.json"} <= files
    assert {"MODEL_CARD.md", "report.md", "cv_predictions.csv"} <= files
    spec = json.loads((model / "cohort.json").read_text())
    assert spec["task"] == "survival" and spec["horizons"] == [365.0, 1826.0]
    assert {"rfstime", "status", "patient_id"}.isdisjoint(spec["feature_columns"])
    card = (model / "MODEL_CARD.md").read_text()
    for text in (
        "Harrell's C",
        "Uno's C",
        "AUC at 1826",
        "integrated Brier",
        "Calibration at 1826",
    ):
        assert text in card
    assert "Patient identifiers: none" in card
    oof = pd.read_csv(model / "cv_predictions.csv")
    assert list(oof.columns[:3]) == ["row", "time", "event"]
    assert "graphboost_survival_at_1826" in oof.columns

    pred_path = tmp_path / "pred.csv"
    argv = ["predict", "--model", str(model), "--data", str(gbsg_csv), "--horizon", "1826"]
    code, out, err = _run([*argv, "--output", str(pred_path)], capsys)
    assert code == 0, err
    pred = pd.read_csv(pred_path, dtype={"patient_id": str})
    assert list(pred.columns) == ["patient_id", "risk", "risk_percentile", "survival_at_1826"]
    assert pred["survival_at_1826"].between(0, 1).all()
    assert pred["risk_percentile"].between(0, 100).all()
    # higher risk, lower survival; and the saved model's own survival function
    order = np.argsort(pred["risk"].to_numpy())
    assert np.all(np.diff(pred["survival_at_1826"].to_numpy()[order]) <= 1e-12)
    folder = load_model_folder(model)
    table = pd.read_csv(gbsg_csv, dtype={"patient_id": str})
    Xt = folder.model[:-1].transform(folder.features(table.set_index("patient_id")))
    expected = [f(1826.0) for f in folder.model[-1].predict_survival_function(Xt)]
    np.testing.assert_allclose(pred["survival_at_1826"], expected)
    truth = survival_columns(table, "rfstime", "status")
    from experiments.clinical import harrell_c

    assert harrell_c(truth, pred["risk"]) > 0.6  # training patients

    expl_path = tmp_path / "expl.csv"
    argv = ["explain", "--model", str(model), "--data", str(gbsg_csv), "--horizon", "1826"]
    code, out, err = _run([*argv, "--output", str(expl_path)], capsys)
    assert code == 0, err
    expl = pd.read_csv(expl_path, dtype={"patient_id": str})
    sums = expl.groupby("patient_id", sort=False)["log_hazard"].sum()
    np.testing.assert_allclose(sums.loc[pred["patient_id"]].to_numpy(), pred["risk"], atol=1e-9)
    assert (expl["horizon"] == 1826).all()
    text = (tmp_path / "expl.readable.txt").read_text()
    assert "higher than" in text and "of the training patients" in text
    assert "were event-free (status) at 1826 vs" in text and "in the cohort" in text


def test_predict_defaults_to_the_card_horizons(fitted, gbsg_csv, tmp_path, capsys):
    model, _ = fitted
    out = tmp_path / "p.csv"
    assert (
        main(["predict", "--model", str(model), "--data", str(gbsg_csv), "--output", str(out)]) == 0
    )
    assert list(pd.read_csv(out).columns)[-2:] == ["survival_at_365", "survival_at_1826"]


@pytest.mark.parametrize(
    ("horizon", "message"),
    [
        ("99999", "--horizon 99999 is beyond the training follow-up, which ends at"),
        ("-3", "--horizon must be a positive number"),
    ],
)
def test_predict_refuses_a_horizon_outside_the_follow_up(
    fitted, gbsg_csv, tmp_path, capsys, horizon, message
):
    model, _ = fitted
    out = tmp_path / "p.csv"
    argv = ["predict", "--model", str(model), "--data", str(gbsg_csv), f"--horizon={horizon}"]
    code, _, err = _run([*argv, "--output", str(out)], capsys)
    assert code == 2 and message in err and not out.exists()


def test_classifier_options_refused_for_a_survival_model(fitted, gbsg_csv, tmp_path, capsys):
    model, _ = fitted
    argv = ["predict", "--model", str(model), "--data", str(gbsg_csv), "--alpha", "0.1"]
    code, _, err = _run([*argv, "--output", str(tmp_path / "p.csv")], capsys)
    assert code == 2 and "--alpha goes with a classifier" in err


def _table(gbsg_csv, **changes):
    table = pd.read_csv(gbsg_csv).head(120)
    for column, (rows, value) in changes.items():
        table[column] = table[column].astype(object)
        table.loc[table.index[rows], column] = value
    return table


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rfstime": (slice(0, 3), -5.0)}, "has 3 negative times of 120"),
        ({"rfstime": (slice(0, 2), np.nan)}, "'rfstime' (--time) is missing for 2 of 120"),
        ({"rfstime": (slice(0, 1), 0.0)}, "has 1 times equal to 0 of 120"),
        ({"status": (slice(0, 4), 2)}, "must hold 0 (censored) or 1 (the event); 4 of 120"),
        ({"status": (slice(0, 4), "yes")}, "'status' (--event) must hold numbers; 4 of 120"),
        ({"status": (slice(0, 120), 0)}, "has no event: all 120 patients are censored"),
    ],
)
def test_bad_outcome_columns(gbsg_csv, tmp_path, capsys, changes, message):
    path = tmp_path / "bad.csv"
    _table(gbsg_csv, **changes).to_csv(path, index=False)
    out = tmp_path / "model"
    code, _, err = _run(["fit", "--data", str(path), *FIT, *PARAMS, "--output", str(out)], capsys)
    assert code == 2 and message in err, err
    assert "-5" not in err and "yes" not in err  # never a patient's value
    assert not out.exists()
    with pytest.raises(InputError, match=r"rfstime|status"):
        load_survival_cohort_table(path, time="rfstime", event="status", id_column="patient_id")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--label", "status", "--time", "rfstime", "--event", "status"], "either --label"),
        (["--time", "rfstime"], "--time needs --event"),
        (["--event", "status"], "--event needs --time"),
        ([], "fit needs the outcome: --label COL"),
        (["--time", "days", "--event", "status"], "The time column 'days' (--time) is not in"),
        (["--time", "rfstime", "--event", "died"], "The event column 'died' (--event) is not"),
        (["--time", "status", "--event", "status"], "both name the column 'status'"),
        (["--label", "status", "--horizon", "365"], "--horizon goes with a survival outcome"),
        (["--time", "rfstime", "--event", "status", "--horizon", "99999"], "outside the follow-up"),
        (
            ["--time", "rfstime", "--event", "status", "--calibration", "sigmoid"],
            "--calibration goes with a classifier",
        ),
    ],
)
def test_outcome_option_errors(gbsg_csv, tmp_path, capsys, argv, message):
    out = tmp_path / "model"
    code, _, err = _run(["fit", "--data", str(gbsg_csv), *argv, "--output", str(out)], capsys)
    assert code == 2 and message in err, err
    assert not out.exists()


def test_tune_searches_harrells_c_and_refits(gbsg_csv, tmp_path, capsys):
    """tune --time --event: an Optuna search scored by the inner-fold Harrell's C, the best
    trial refitted in a survival model folder whose card reports the search."""
    storage, out = tmp_path / "study.db", tmp_path / "tuned"
    argv = ["tune", "--data", str(gbsg_csv), *FIT, "--storage", f"sqlite:///{storage}"]
    argv += ["--n-trials", "2", "--param", "n_estimators=5", "--output", str(out)]
    code, printed, err = _run(argv, capsys)
    assert code == 0, err
    assert "Best inner-CV Harrell's C" in printed and "survival model written to" in printed
    card = (out / "MODEL_CARD.md").read_text()
    assert "Generated by `graphboost tune --time --event`" in card
    assert "chosen by an Optuna search" in card and "inner-CV Harrell's C" in card
    spec = json.loads((out / "cohort.json").read_text())
    assert spec["task"] == "survival" and spec["params"]["n_estimators"] == 5
    # the same study refuses another outcome (its fingerprint)
    other = tmp_path / "other.csv"
    pd.read_csv(gbsg_csv).assign(status=lambda t: 1 - t["status"]).to_csv(other, index=False)
    argv = ["tune", "--data", str(other), *FIT, "--storage", f"sqlite:///{storage}"]
    code, _, err = _run([*argv, "--n-trials", "1"], capsys)
    assert code == 2 and "--study-name NEW" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n-workers", "2"], "--n-workers 2: a survival search runs in one worker"),
        (["--param", "n_estimator=5"], "GraphBoostSurvivalAnalysis has no parameter"),
        (["--cv", "3"], "needs --output DIR"),
    ],
)
def test_tune_survival_option_errors(gbsg_csv, tmp_path, capsys, extra, message):
    storage = tmp_path / "study.db"
    argv = ["tune", "--data", str(gbsg_csv), *FIT, "--storage", f"sqlite:///{storage}"]
    code, _, err = _run([*argv, *extra], capsys)
    assert code == 2 and message in err, err
    assert not storage.exists()


def test_horizon_refused_for_a_classifier(cohort_csv, tmp_path, capsys):
    model = tmp_path / "clf"
    argv = ["fit", "--data", str(cohort_csv), "--label", "y", "--id-column", "pid"]
    argv += ["--param", "n_estimators=2"]
    assert main([*argv, "--output", str(model)]) == 0
    argv = ["predict", "--model", str(model), "--data", str(cohort_csv), "--horizon", "30"]
    code, _, err = _run([*argv, "--output", str(tmp_path / "p.csv")], capsys)
    assert code == 2 and "--horizon goes with a survival model" in err


def test_check_horizons():
    time = np.array([30.0, 400, 900, 1200])
    assert check_horizons([365, 730], time).tolist() == [365.0, 730.0]
    with pytest.raises(InputError, match="given twice"):
        check_horizons([365, 365], time)
    with pytest.raises(
        InputError, match=r"--horizon 10 is outside the follow-up.*first time \(30\)"
    ):
        check_horizons([10], time)


def test_survival_folder_with_groups_and_ids(gbsg_csv, tmp_path):
    """--group makes a block graph; --keep-ids names the similar patients by ID in explain; the
    classifier's workflows refuse the folder with the survival functions as remedy."""
    from experiments import workflows

    out = tmp_path / "model"
    argv = ["fit", "--data", str(gbsg_csv), *FIT, *PARAMS, "--group", "receptors=pgr,er"]
    argv += ["--cv", "2", "--keep-ids", "--output", str(out)]
    assert main(argv) == 0
    spec = json.loads((out / "cohort.json").read_text())
    assert spec["feature_groups"] == {"receptors": ["pgr", "er"]}
    assert "patient_id" in pd.read_csv(out / "cv_predictions.csv").columns
    assert "`cv_predictions.csv`: each patient's ID" in (out / "MODEL_CARD.md").read_text()
    table = pd.read_csv(gbsg_csv, dtype={"patient_id": str}).head(4)
    expl = workflows.explain_survival(out, table, horizon=365)
    ids = set(table["patient_id"]) | set(pd.read_csv(gbsg_csv, dtype=str)["patient_id"])
    named = {n for cell in expl["similar_patients"] if cell for n in cell.split("; ")}
    assert named and named <= ids
    with pytest.raises(InputError, match=r"holds a survival model.*predict_survival"):
        workflows.predict(out, table)


def test_leaf_graphs_are_explained_as_subgroups_in_the_tables_units(gbsg_csv, tmp_path, capsys):
    """With interaction_depth, a leaf graph's sentence names the patient's subgroup by its
    conditions on the table's columns, in their units (the model sees them standardized)."""
    model = tmp_path / "model"
    argv = ["fit", "--data", str(gbsg_csv), *FIT, "--param", "n_estimators=15"]
    argv += ["--param", "interaction_depth=2", "--param", "boost_scale=1", "--output", str(model)]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    out = tmp_path / "expl.csv"
    argv = ["explain", "--model", str(model), "--data", str(gbsg_csv), "--horizon", "1826"]
    code, _, err = _run([*argv, "--output", str(out)], capsys)
    assert code == 0, err
    expl = pd.read_csv(out, dtype={"patient_id": str})
    leaves = expl[expl["rule"].str.startswith("GraphSpec(leaf")]
    assert len(leaves) > 0
    assert leaves["source"].str.contains(r": same leaf \(.+\)$").all()
    assert leaves["text"].str.startswith("of the ").all()
    assert leaves["text"].str.contains(r"training patients in the same subgroup \(").all()
    folder = load_model_folder(model)
    table = pd.read_csv(gbsg_csv, dtype={"patient_id": str}).set_index("patient_id")
    row = leaves.iloc[0]
    patient = table.loc[[row["patient_id"]]]
    (graph,) = {e.graph for e in folder.model[-1].estimators_ if e.spec.name == row["graph"]}
    Xt = folder.model[:-1].transform(folder.features(patient))
    leaf = int(graph.leaves(np.asarray(Xt, dtype=float))[0])
    # every stated bound holds for the patient's own values, in the table's units
    conditions = row["text"].split("same subgroup (", 1)[1].split("), ", 1)[0].split(", ")
    assert len(conditions) == len(graph.rule(leaf, list(Xt.columns)).split(", "))
    for condition in conditions:
        parts = condition.split(" ")
        if len(parts) == 5:
            low, column, high = float(parts[0]), parts[2], float(parts[4])
            assert low < float(patient[column].iloc[0]) <= high
        elif parts[1] in ("<=", ">"):
            value, bound = float(patient[parts[0]].iloc[0]), float(parts[2])
            assert value <= bound if parts[1] == "<=" else value > bound
