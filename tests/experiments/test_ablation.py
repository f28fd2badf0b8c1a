"""The modality ablation (``graphboost benchmark --ablation``, :func:`run_ablation`): arms that see
only their columns, paired differences of the right sign, the report, the errors, and the mean
share of the score from each modality."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments import Dataset, InputError, load_config, run_benchmark
from experiments.benchmark._ablation import modality_pipeline, run_ablation
from experiments.benchmark._config import ablation_methods
from experiments.cli import main
from experiments.methods._modalities import ALL_ARM, default_modalities, modality_columns

# Few rounds and resamples, two folds, one repeat: the tests check the machinery.
TINY = {"graphboost": {"n_estimators": 5, "conv": "vote"}}
MODALITIES = {"clinical": ["clin:", "age"], "imaging": ["img:"]}


def make_prefixed(n=80, seed=0):
    """Clinical columns ("age", "clin:*") that are noise and imaging columns ("img:*") of which
    img:0 carries the label."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.normal(60, 10, n).round(1)})
    for k in ("a", "b"):
        X[f"clin:{k}"] = rng.normal(size=n)
    X["clin:grade"] = rng.choice(["low", "high"], n)
    X.loc[::9, "clin:a"] = np.nan
    for k in range(3):
        X[f"img:{k}"] = rng.normal(size=n)
    y = (X["img:0"] + 0.3 * rng.normal(size=n) > 0).astype(int).to_numpy()
    return X, y


def _cfg(**extra):
    cfg = {
        "name": "toy",
        "dataset": {"kind": "csv"},
        "methods": ["logistic", "graphboost"],
        "cv": {"n_splits": 2, "n_repeats": 1},
        "metrics": {"n_bootstrap": 50},
        "params": TINY,
        "ablation": {"modalities": MODALITIES},
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def prefixed():
    X, y = make_prefixed()
    return Dataset("toy", X, y)


@pytest.fixture(scope="module")
def ablation(prefixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation") / "run"
    return run_ablation(_cfg(), output=out, progress=False, dataset=prefixed)


# --------------------------------------------------------------------------- modalities
def test_default_modalities_follow_the_column_prefixes():
    columns = ["age", "grade", "scan:0", "scan:1", "scan:missing"]
    assert default_modalities(columns) == {"clinical": [""], "scan": ["scan:"]}
    assert modality_columns(columns) == {
        "clinical": ["age", "grade"],
        "scan": ["scan:0", "scan:1", "scan:missing"],
    }
    duke = ["age", "clin:PR", "img:volume", "img:texture"]
    assert modality_columns(duke) == {
        "clinical": ["age", "clin:PR"],
        "imaging": ["img:volume", "img:texture"],
    }


def test_modality_columns_by_prefix_warns_about_columns_left_out():
    columns = ["age", "clin:a", "img:0", "other"]
    with pytest.warns(UserWarning, match=r"1 column\(s\) belong to no modality.*\['other'\]"):
        found = modality_columns(columns, MODALITIES)
    assert found == {"clinical": ["age", "clin:a"], "imaging": ["img:0"]}


@pytest.mark.parametrize(
    ("modalities", "match"),
    [
        (
            {"clinical": ["clin:"], "imaging": ["mri:"]},
            r"Modality 'imaging' \(column prefixes \['mri:'\]\) matches no column of toy; its "
            r"column prefixes are \['\(no prefix\)', 'clin', 'img'\]",
        ),
        (
            {"clinical": ["clin:", "age"], "all_clin": ["cl"]},
            r"Column 'clin:a' is in two modalities, 'clinical' and 'all_clin'",
        ),
        ({"clinical": ["clin:", "age"]}, r"needs at least 2 modalities; toy has \['clinical'\]"),
    ],
)
def test_bad_modalities(modalities, match):
    with pytest.raises(InputError, match=match):
        modality_columns(["age", "clin:a", "img:0"], modalities, where="toy")


@pytest.mark.parametrize(
    ("ablation", "match"),
    [
        ({"arms": 2}, r"Unknown key\(s\) \['arms'\] in \[ablation\]"),
        ({"modalities": ["clin:"]}, r"modalities must be a table of name = \[column prefixes\]"),
        ({"modalities": {"clinical": "clin:"}}, r"modality 'clinical' must be a non-empty list"),
        ({"modalities": {"all": ["clin:"]}}, r"modality name 'all' is taken by the arm"),
        ({"methods": ["xgboost"]}, r"\[ablation\] methods \['xgboost'\] are not in methods="),
        ({"methods": []}, r"\[ablation\] methods must be a non-empty list"),
    ],
)
def test_bad_ablation_configs(ablation, match):
    with pytest.raises(InputError, match=match):
        load_config(_cfg(ablation=ablation))


def test_ablation_methods_default_to_graphboost_and_logistic():
    assert ablation_methods(load_config(_cfg(ablation={}))) == ["graphboost", "logistic"]
    only = load_config(_cfg(methods=["xgboost"], params={}, ablation={}))
    assert ablation_methods(only) == ["xgboost"]
    assert load_config("duke-pcr")["ablation"]["modalities"] == MODALITIES


def test_no_column_of_the_modality_is_an_error_naming_it(prefixed):
    cfg = _cfg(ablation={"modalities": {"clinical": ["clin:"], "imaging": ["mri:"]}})
    with pytest.raises(InputError, match=r"Modality 'imaging' \(column prefixes \['mri:'\]\)"):
        run_ablation(cfg, progress=False, dataset=prefixed)


# --------------------------------------------------------------------------- arm pipelines
@pytest.mark.parametrize("method", ["logistic", "graphboost", "xgboost"])
def test_an_arm_sees_only_its_columns(prefixed, method):
    from features import ClinicalPreprocessor

    clinical = ["age", "clin:a", "clin:b", "clin:grade"]
    imaging = ["img:0", "img:1", "img:2"]
    groups = {"clin": clinical, "img": imaging}
    # a cohort-style preprocessor naming every column: its lists are cut to the arm
    pre = ClinicalPreprocessor(numeric=["clin:a", "img:0", "img:1"], skip_indicator=imaging)
    pipe = modality_pipeline(method, clinical, TINY.get(method), groups, preprocessor=pre).fit(
        prefixed.X, prefixed.y
    )
    assert list(pipe.named_steps["preprocess"].feature_names_in_) == clinical
    assert pipe.named_steps["preprocess"].numeric == ["clin:a"]
    names = list(pipe[:-1].get_feature_names_out()) if method != "xgboost" else []
    names = names or list(pipe.named_steps["preprocess"].get_feature_names_out())
    assert names and all(n.startswith(("clin:", "age")) for n in names)
    model = pipe.named_steps["model"]
    if method == "graphboost":
        assert list(model.feature_groups) == ["clin"]
        used = {c for spec in model.selected_graphs_ for c in spec.columns}
        assert used and all(c.startswith(("clin:", "age")) for c in used)
    proba = pipe.predict_proba(prefixed.X.iloc[:5])
    assert proba.shape == (5, 2)


def test_a_missing_column_at_predict_time_is_refused(prefixed):
    pipe = modality_pipeline("logistic", ["img:0", "img:1"]).fit(prefixed.X, prefixed.y)
    with pytest.raises(ValueError, match="img:1"):
        pipe.predict_proba(prefixed.X.drop(columns=["img:1"]))


# --------------------------------------------------------------------------- the run
def test_ablation_table_has_every_method_and_arm(ablation):
    table = ablation.table
    arms = ["clinical", "imaging", ALL_ARM]
    assert list(zip(table.method, table.arm, strict=True)) == [
        (m, a) for m in ("graphboost", "logistic") for a in arms
    ]
    assert list(table.n_columns[:3]) == [4, 3, 7]
    assert (table.auroc_low <= table.auroc + 1e-12).all()
    assert (table.auroc <= table.auroc_high + 1e-12).all()
    full = table[table.arm == ALL_ARM]
    assert full.delta_vs_all.isna().all() and full.folds_won.isna().all()


def test_paired_differences_have_the_right_sign(ablation):
    """Only the imaging column img:0 carries the label: clinical alone is far below all, imaging
    alone close to it; the paired CI of clinical - all lies below 0."""
    table = ablation.table.set_index(["method", "arm"])
    for method in ("graphboost", "logistic"):
        clinical, imaging = table.loc[(method, "clinical")], table.loc[(method, "imaging")]
        assert clinical.auroc < 0.7 and table.loc[(method, ALL_ARM)].auroc > 0.85
        assert clinical.delta_vs_all < -0.2 and clinical.delta_high < 0
        assert clinical.delta_low <= clinical.delta_vs_all <= clinical.delta_high
        assert clinical.folds_won == 0 and clinical.n_folds == 2
        assert imaging.delta_low < 0.05 and abs(imaging.delta_vs_all) < 0.1
        assert clinical.delta_vs_all == pytest.approx(
            clinical.auroc - table.loc[(method, ALL_ARM)].auroc, abs=1e-12
        )


def test_ablation_report_files(ablation):
    out = ablation.output
    names = {p.name for p in out.iterdir()}
    assert {"results.md", "ablation.csv", "fold_scores.csv", "run.json"} <= names
    csv = pd.read_csv(out / "ablation.csv")
    assert list(csv.arm[:3]) == ["clinical", "imaging", ALL_ARM]
    md = (out / "results.md").read_text()
    assert "## Modality ablation" in md and "| graphboost | clinical | 4 |" in md
    assert "`clinical`: 4 columns (prefixes `clin:`, `age`)" in md
    meta = json.loads((out / "run.json").read_text())
    assert meta["ablation"]["modalities"]["imaging"] == {"prefixes": ["img:"], "n_columns": 3}
    folds = pd.read_csv(out / "fold_scores.csv")
    assert len(folds) == 2 * 3 * 2 and set(folds.arm) == {"clinical", "imaging", ALL_ARM}


def test_modality_shares_of_the_full_arm(ablation):
    shares = ablation.shares.set_index("modality")
    assert list(shares.index[:3]) == ["clinical", "imaging", "init"]
    assert shares.mean_share.sum() == pytest.approx(1.0)
    assert shares.loc["imaging", "mean_share"] > shares.loc["clinical", "mean_share"]
    per_fold = pd.read_csv(ablation.output / "modality_shares.csv")
    assert len(per_fold) == 2 and (per_fold.n_patients == 40).all()
    assert "## Modality contributions" in (ablation.output / "results.md").read_text()


def test_a_benchmark_reports_the_modality_contributions(prefixed, tmp_path):
    """A normal run: each fold's GraphBoostClassifier explains its test patients; the report
    gives the mean share of the score from each modality (the default ones: no [ablation])."""
    cfg = _cfg(methods=["graphboost", "logistic"], ablation={})
    res = run_benchmark(cfg, output=tmp_path / "run", progress=False, dataset=prefixed)
    shares = res.modality_shares.set_index("modality")
    assert list(shares.index) == ["clinical", "imaging", "init"]
    assert shares.mean_share.sum() == pytest.approx(1.0)
    assert shares.loc["imaging", "mean_share"] > shares.loc["clinical", "mean_share"]
    assert (shares.fold_min <= shares.mean_share + 1e-12).all()
    per_fold = pd.read_csv(tmp_path / "run" / "modality_shares.csv")
    assert list(per_fold.columns) == ["repeat", "fold", "n_patients", "clinical", "imaging", "init"]
    assert np.allclose(per_fold[["clinical", "imaging", "init"]].sum(axis=1), 1.0)
    md = (tmp_path / "run" / "results.md").read_text()
    assert "## Modality contributions" in md and "| imaging |" in md
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert [r["modality"] for r in meta["modality_shares"]] == ["clinical", "imaging", "init"]


def test_shares_count_a_graph_for_the_modality_of_its_source_columns(prefixed):
    """One-hot and indicator columns ("clin:grade=low", "clin:a:missing") are their source
    column's modality; a graph on columns of two modalities is "mixed"."""
    from experiments.evaluation._cv import _graph_modalities, fold_modality_shares
    from graphboost import GraphSpec

    columns = list(prefixed.X.columns)
    pipe = modality_pipeline("graphboost", columns, TINY["graphboost"])
    pipe.fit(prefixed.X, prefixed.y)
    column_modality = modality_columns(columns, MODALITIES)
    column_modality = {c: m for m, cols in column_modality.items() for c in cols}
    model = pipe.named_steps["model"]
    fitted = list(model.selected_graphs_)
    model.selected_graphs_ = [
        GraphSpec(name="clin:grade=low", columns=("clin:grade=low",), rule="knn", n_neighbors=5),
        GraphSpec(name="clin:a:missing", columns=("clin:a:missing",), rule="knn", n_neighbors=5),
        GraphSpec(name="both", columns=("clin:b", "img:1"), rule="knn", n_neighbors=5),
        GraphSpec(name="age", columns=("age",), rule="knn", n_neighbors=5),
    ]
    assert _graph_modalities(pipe, column_modality) == {
        "clin:grade=low": "clinical",
        "clin:a:missing": "clinical",
        "both": "mixed",
        "age": "clinical",
    }
    model.selected_graphs_ = fitted
    assert set(_graph_modalities(pipe, column_modality).values()) <= {"clinical", "imaging"}
    shares = fold_modality_shares(pipe, prefixed.X.iloc[:10], column_modality)
    assert list(shares.index[:3]) == ["clinical", "imaging", "init"]
    assert shares.sum() == pytest.approx(1.0)
    assert fold_modality_shares(modality_pipeline("logistic", columns), None, {}) is None


# --------------------------------------------------------------------------- the command
@pytest.fixture
def prefixed_csv(tmp_path):
    X, y = make_prefixed()
    path = tmp_path / "prefixed.csv"
    X.assign(y=y).to_csv(path, index=False)
    return path


def _toml(tmp_path, data, methods='"logistic", "adaboost"', extra=""):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'name = "t"\nmethods = [{methods}]\n'
        f'[dataset]\nkind = "csv"\npath = "{data}"\nlabel = "y"\n'
        "[cv]\nn_splits = 2\nn_repeats = 1\n" + extra
    )
    return cfg


def test_ablation_command(prefixed_csv, tmp_path, capsys):
    cfg = _toml(tmp_path, prefixed_csv)
    out = tmp_path / "run"
    args = ["benchmark", "--config", str(cfg), "--ablation", "--bootstrap", "30"]
    args += ["--modality", "clinical=clin:,age", "--modality", "imaging=img:"]
    assert main([*args, "--methods", "logistic", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| logistic | clinical | 4 |" in printed and "| logistic | all | 7 |" in printed
    assert set(pd.read_csv(out / "ablation.csv").method) == {"logistic"}
    assert main([*args, "--output", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--suite", "design", "--ablation"], "--ablation and --modality go with --config"),
        (["--ablation", "--calibration", "sigmoid"], "--calibration goes with a benchmark"),
        (["--ablation", "--modality", "imaging=img:"], "needs at least 2 modalities"),
        (["--ablation", "--modality", "imaging=mri:,scan:"], "Modality 'imaging' (column pre"),
    ],
)
def test_ablation_command_errors(prefixed_csv, tmp_path, capsys, extra, message):
    cfg = _toml(tmp_path, prefixed_csv)
    which = [] if "--suite" in extra else ["--config", str(cfg)]
    assert main(["benchmark", *which, *extra, "--output", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_default_modalities_of_a_cohort_table(prefixed_csv, tmp_path, capsys):
    """Without [ablation] modalities: 'age' (no prefix) is clinical, 'clin:' too, 'img:' imaging."""
    params = '[params.graphboost]\nn_estimators = 5\nconv = "vote"\n'
    cfg = _toml(tmp_path, prefixed_csv, '"logistic", "graphboost"', params)
    out = tmp_path / "run"
    args = ["benchmark", "--config", str(cfg), "--ablation", "--methods", "graphboost"]
    assert main([*args, "--bootstrap", "30", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Mean share of the graphboost score (arm all): clinical 0." in printed
    assert ", imaging 0." in printed and ", init 0." in printed
    meta = json.loads((out / "run.json").read_text())
    assert meta["ablation"]["modalities"] == {
        "clinical": {"prefixes": ["", "clin:"], "n_columns": 4},
        "imaging": {"prefixes": ["img:"], "n_columns": 3},
    }
