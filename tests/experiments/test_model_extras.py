"""Recalibrated risks, thresholds, conformal sets, typicality and the model card of a model
folder, from the command line and from experiments.workflows."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from experiments import InputError, workflows
from experiments.cli import main
from experiments.clinical._calibration import recalibrated
from experiments.clinical._conformal import ClassConditionalConformal
from experiments.methods._pipelines import make_pipeline

FIT = ["--label", "y", "--id-column", "pid", "--param", "n_estimators=5"]


@pytest.fixture(scope="module")
def calibrated_dir(cohort_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "model"
    argv = ["fit", "--data", str(cohort_csv), *FIT, "--output", str(out), "--cv", "3"]
    argv += ["--calibration", "sigmoid", "--threshold-target", "sensitivity:0.8"]
    assert main(argv) == 0
    return out


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fit_writes_card_map_threshold_and_conformal_scores_in_the_manifest(calibrated_dir, capsys):
    names = {p.name for p in calibrated_dir.iterdir()}
    extras = {"MODEL_CARD.md", "calibration.json", "threshold.json", "conformal.json"}
    assert extras <= names
    manifest = json.loads((calibrated_dir / "manifest.json").read_text())["files"]
    for name in extras:
        assert manifest[name] == _sha256(calibrated_dir / name)
    calibration = json.loads((calibrated_dir / "calibration.json").read_text())
    assert calibration["method"] == "sigmoid" and calibration["inner_splits"] == 10
    assert len(calibration["maps"]) == 10 and all(set(m) == {"a", "b"} for m in calibration["maps"])
    for k in range(10):  # each member's pipeline, checksummed like every file
        assert f"calibration/member_{k}/preprocessor.json" in manifest
        assert any(name.startswith(f"calibration/member_{k}/estimator/") for name in manifest)
    threshold = json.loads((calibrated_dir / "threshold.json").read_text())
    assert threshold["target"] == "sensitivity" and threshold["sensitivity"] >= 0.8


def test_saved_recalibration_predicts_what_calibrated_classifier_cv_does(calibrated_dir, cohort_df):
    pred = workflows.predict(calibrated_dir, cohort_df)
    X = cohort_df.drop(columns=["pid", "y"])
    pipe = make_pipeline("graphboost", {"n_estimators": 5}, random_state=0)
    reference = recalibrated(pipe, "sigmoid", inner_splits=10, random_state=0).fit(X, cohort_df.y)
    np.testing.assert_allclose(
        pred[["proba_0", "proba_1"]].to_numpy(), reference.predict_proba(X), atol=1e-9
    )


def test_conformal_scores_are_the_out_of_fold_predictions_of_the_saved_model(calibrated_dir):
    oof = pd.read_csv(calibrated_dir / "cv_predictions.csv")
    proba = oof[["graphboost+sigmoid_proba_0", "graphboost+sigmoid_proba_1"]].to_numpy()
    expected = ClassConditionalConformal().fit(proba, oof.label.to_numpy())
    state = json.loads((calibrated_dir / "conformal.json").read_text())
    np.testing.assert_allclose(state["calibration_scores"], expected.calibration_scores_)
    threshold = json.loads((calibrated_dir / "threshold.json").read_text())
    sensitivity = np.mean(proba[oof.label == 1, 1] >= threshold["threshold"])
    assert sensitivity == pytest.approx(threshold["sensitivity"])


def test_predict_alpha_and_typicality_from_the_command_line(calibrated_dir, cohort_csv, tmp_path):
    out = tmp_path / "pred.csv"
    argv = ["predict", "--model", str(calibrated_dir), "--data", str(cohort_csv)]
    assert main([*argv, "--output", str(out), "--alpha", "0.1", "--typicality"]) == 0
    pred = pd.read_csv(out, keep_default_na=False)
    assert list(pred.columns[:5]) == [
        "pid",
        "proba_0",
        "proba_1",
        "predicted",
        "predicted_at_threshold",
    ]
    threshold = json.loads((calibrated_dir / "threshold.json").read_text())["threshold"]
    np.testing.assert_array_equal(pred.predicted_at_threshold, (pred.proba_1 >= threshold) * 1)
    sets = pred.prediction_set.astype(str).str.split("|")
    assert (sets.map(len) == pred.set_size).all()
    assert (pred.uncertain == (pred.set_size > 1)).all()
    both = pred.set_size == 2
    assert both.any() and (~both).any()  # some patients are clear, some are not
    truth = pd.read_csv(cohort_csv).y.astype(str)
    covered = [t in s for t, s in zip(truth, sets, strict=True)]
    assert np.mean(covered) >= 0.85
    assert {"n_neighbors", "neighbor_agreement", "unlike_training", "unlike_graphs"} <= set(
        pred.columns
    )
    assert pred.unlike_training.astype(str).eq("False").mean() > 0.9
    assert set(pred.neighbor_majority.astype(str)) <= {"0", "1"}


def test_model_card_reports_the_fit(calibrated_dir):
    card = (calibrated_dir / "MODEL_CARD.md").read_text()
    for section in (
        "## Intended use",
        "## Data",
        "## Model",
        "## Validation (internal)",
        "## Selected graphs",
        "## Limitations",
    ):
        assert section in card
    assert "48 patients" in card and "`0`: 24 (50.0%)" in card
    assert "Recalibration (sigmoid" in card and "the mean of 10 copies of the model" in card
    assert "stratified 3-fold cross-validation" in card
    assert "Decision threshold for the target sensitivity 0.8" in card
    assert "Conformal prediction sets at alpha = 0.1" in card
    assert "GraphBoostClassifier, recalibrated (sigmoid)" in card
    assert "P00" not in card  # no patient identifier
    oof = pd.read_csv(calibrated_dir / "cv_predictions.csv")
    assert len(oof) == 48


def test_a_model_without_cv_has_a_card_but_no_conformal_sets(cohort_csv, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["fit", "--data", str(cohort_csv), *FIT, "--output", str(out)]) == 0
    card = (out / "MODEL_CARD.md").read_text()
    assert "**Not validated**" in card and "conformal.json" not in {p.name for p in out.iterdir()}
    capsys.readouterr()
    argv = ["predict", "--model", str(out), "--data", str(cohort_csv), "--alpha", "0.1"]
    assert main([*argv, "--output", str(tmp_path / "p.csv")]) == 2
    assert "this model folder lacks: fit it with cross-validation" in capsys.readouterr().err
    # a conformal.json dropped in later, outside the manifest, is never read
    (out / "conformal.json").write_text((tmp_path / "nothing").as_posix())
    with pytest.raises(InputError, match=r"lacks: fit it with cross-validation"):
        workflows.predict(out, cohort_csv, alpha=0.1)


def test_an_altered_calibration_map_is_refused(calibrated_dir, cohort_csv, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in calibrated_dir.rglob("*"):
        if p.is_file():
            target = copy / p.relative_to(calibrated_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p.read_bytes())
    cal = json.loads((copy / "calibration.json").read_text())
    cal["maps"][0]["a"] *= 2
    (copy / "calibration.json").write_text(json.dumps(cal))
    with pytest.raises(InputError, match=r"'calibration.json' does not match its checksum"):
        workflows.predict(copy, cohort_csv)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"calibration": "platt", "cv": 3}, r"calibration method must be one of .*got 'platt'"),
        ({"threshold_target": "recall:0.9", "cv": 3}, r"threshold target must be 'TARGET:VALUE'"),
        ({"threshold_target": "sensitivity:0.9"}, r"needs cross-validation \(cv >= 2"),
        ({"calibration": "sigmoid", "inner_splits": 1}, r"inner_splits must be an integer >= 2"),
    ],
)
def test_bad_fit_options_are_refused_before_any_work(cohort_df, tmp_path, options, message):
    cohort = workflows.load_cohort(cohort_df, label="y", id_column="pid")
    with pytest.raises(InputError, match=message):
        workflows.fit_model_folder(cohort, tmp_path / "m", **options)
    assert not (tmp_path / "m").exists()


def test_calibration_and_threshold_need_a_binary_label(cohort_df, tmp_path):
    df = cohort_df.assign(y=np.arange(len(cohort_df)) % 3)
    cohort = workflows.load_cohort(df, label="y", id_column="pid")
    with pytest.raises(InputError, match=r"The calibration needs a binary label; got 3 classes"):
        workflows.fit_model_folder(cohort, tmp_path / "m", calibration="isotonic")


@pytest.mark.parametrize("alpha", ["1.5", "0", "-0.2"])
def test_predict_alpha_outside_zero_one_is_one_line_error(
    calibrated_dir, cohort_csv, tmp_path, capsys, alpha
):
    argv = ["predict", "--model", str(calibrated_dir), "--data", str(cohort_csv)]
    assert main([*argv, "--output", str(tmp_path / "p.csv"), "--alpha", alpha]) == 2
    err = capsys.readouterr().err
    assert "alpha (the error rate of the prediction sets) must be a number in (0, 1)" in err
    assert not (tmp_path / "p.csv").exists()


def test_fit_errors_from_the_command_line(cohort_csv, tmp_path, capsys):
    base = ["fit", "--data", str(cohort_csv), *FIT, "--output", str(tmp_path / "m")]
    assert main([*base, "--calibration", "platt"]) == 2
    assert "calibration method must be one of ['isotonic', 'sigmoid']; got 'platt'" in (
        capsys.readouterr().err
    )
    assert main([*base, "--cv", "3", "--threshold-target", "ppv:0.5"]) == 2
    assert "threshold target must be 'TARGET:VALUE'" in capsys.readouterr().err


@pytest.mark.slow
def test_benchmark_calibration_and_alpha_overrides(cohort_csv, tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        'name = "tiny"\nmethods = ["logistic", "graphboost"]\n'
        f'[dataset]\nkind = "csv"\npath = "{cohort_csv}"\nlabel = "y"\nexclude = ["pid"]\n'
        "[cv]\nn_splits = 3\nn_repeats = 1\n[metrics]\nn_bootstrap = 20\n"
        "[params.graphboost]\nn_estimators = 5\n"
    )
    out = tmp_path / "run"
    argv = ["benchmark", "--config", str(cfg), "--output", str(out)]
    assert main([*argv, "--calibration", "isotonic", "--alpha", "0.2"]) == 0
    conformal = pd.read_csv(out / "conformal.csv")
    assert list(conformal.method) == ["logistic", "graphboost", "graphboost+isotonic"]
    assert (conformal.alpha == 0.2).all()
    assert "graphboost+isotonic" in (out / "results.md").read_text()
    capsys.readouterr()
    argv[-1] = str(tmp_path / "run2")
    assert main([*argv, "--calibration", "beta"]) == 2
    assert "calibration method must be one of" in capsys.readouterr().err


def test_conformal_sets_without_recalibration_use_the_plain_model(cohort_csv, cohort_df, tmp_path):
    out = tmp_path / "model"
    assert main(["fit", "--data", str(cohort_csv), *FIT, "--output", str(out), "--cv", "3"]) == 0
    assert not (out / "calibration.json").exists() and not (out / "threshold.json").exists()
    pred = workflows.predict(out, cohort_df, alpha=0.2)
    folder = workflows.load_model_folder(out)
    X = cohort_df.drop(columns=["pid", "y"])
    np.testing.assert_allclose(
        pred[["proba_0", "proba_1"]].to_numpy(), folder.model.predict_proba(X), atol=1e-12
    )
    oof = pd.read_csv(out / "cv_predictions.csv")
    cp = ClassConditionalConformal().fit(
        oof[["graphboost_proba_0", "graphboost_proba_1"]].to_numpy(), oof.label.to_numpy()
    )
    sets = cp.predict_set(pred[["proba_0", "proba_1"]].to_numpy(), alpha=0.2)
    np.testing.assert_array_equal(pred.set_size, sets.sum(axis=1))
    assert "predicted_at_threshold" not in pred.columns


def test_recalibrated_members_follow_invalid_values_missing(calibrated_dir, cohort_df):
    """The members' preprocessors treat a value that is not a number as the folder's does."""
    bad = cohort_df.astype({"age": object})
    bad.loc[0, "age"] = "fifty"
    with pytest.raises(ValueError, match=r"Column 'age' is numeric but holds non-numeric"):
        workflows.predict(calibrated_dir, bad)
    with pytest.warns(UserWarning):
        pred = workflows.predict(calibrated_dir, bad, invalid_values="missing")
    assert np.isfinite(pred[["proba_0", "proba_1"]].to_numpy()).all()
    assert pred.invalid_as_missing[0] == "age"
