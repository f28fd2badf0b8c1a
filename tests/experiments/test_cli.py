"""The graphboost command line, run in-process on a tiny cohort."""

import json

import pandas as pd
import pytest

from experiments.cli import build_parser, main


@pytest.fixture(scope="module")
def model_dir(cohort_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "model"
    code = main(
        [
            "fit",
            "--data",
            str(cohort_csv),
            "--label",
            "y",
            "--id-column",
            "pid",
            "--group",
            "lab=x1,x2",
            "--param",
            "n_estimators=5",
            "--param",
            'conv="vote"',
            "--output",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_fit_writes_a_model_folder(model_dir):
    assert {p.name for p in model_dir.iterdir()} == {
        "estimator",
        "preprocessor.json",
        "cohort.json",
        "manifest.json",
        "report.md",
        "MODEL_CARD.md",
    }
    meta = json.loads((model_dir / "cohort.json").read_text())
    assert meta["label"] == "y" and meta["id_column"] == "pid"
    assert "pid" not in meta["feature_columns"] and "y" not in meta["feature_columns"]
    assert meta["feature_groups"] == {"lab": ["x1", "x2"]}
    report = (model_dir / "report.md").read_text()
    assert "Selected graphs" in report and "48 patients" in report


def test_predict_and_explain(model_dir, cohort_csv, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert (
        main(
            ["predict", "--model", str(model_dir), "--data", str(cohort_csv), "--output", str(out)]
        )
        == 0
    )
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["pid", "proba_0", "proba_1", "predicted"]
    assert pred[["proba_0", "proba_1"]].sum(axis=1).round(6).eq(1).all()
    truth = pd.read_csv(cohort_csv).y
    assert (pred.predicted == truth).mean() > 0.7  # training patients, strong signal
    # a new table with only some rows and shuffled columns predicts the same
    df = pd.read_csv(cohort_csv).iloc[::-1].head(5)
    df = df[df.columns[::-1]]
    df.to_csv(tmp_path / "few.csv", index=False)
    assert (
        main(
            [
                "predict",
                "--model",
                str(model_dir),
                "--data",
                str(tmp_path / "few.csv"),
                "--output",
                str(tmp_path / "few_pred.csv"),
            ]
        )
        == 0
    )
    few = pd.read_csv(tmp_path / "few_pred.csv").set_index("pid")
    pd.testing.assert_frame_equal(few, pred.set_index("pid").loc[few.index], atol=1e-9)
    expl = tmp_path / "expl.csv"
    assert (
        main(
            [
                "explain",
                "--model",
                str(model_dir),
                "--data",
                str(tmp_path / "few.csv"),
                "--output",
                str(expl),
            ]
        )
        == 0
    )
    e = pd.read_csv(expl)
    assert "contribution" in e.columns and set(e.pid) == set(few.index)
    assert "Mean share of the score by modality: init " in capsys.readouterr().out
    # refuses to overwrite
    assert (
        main(
            ["predict", "--model", str(model_dir), "--data", str(cohort_csv), "--output", str(out)]
        )
        == 2
    )
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def _err(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["fit", "--data", "{csv}", "--label", "nope", "--output", "{tmp}/m"],
            "graphboost: error: Label column 'nope' not found in",
        ),
        (
            ["fit", "--data", "{tmp}/missing.csv", "--label", "y", "--output", "{tmp}/m"],
            "graphboost: error: Table file not found:",
        ),
        (
            ["fit", "--data", "{tmp}/cohort.txt", "--label", "y", "--output", "{tmp}/m"],
            "graphboost: error: Cannot read '{tmp}/cohort.txt': unsupported format '.txt'",
        ),
        (
            ["fit", "--data", "{csv}", "--label", "y", "--exclude", "bogus", "--output", "{tmp}/m"],
            "graphboost: error: Columns in exclude are not in the clinical table: 'bogus'",
        ),
        (
            [
                "fit",
                "--data",
                "{csv}",
                "--label",
                "site",
                "--exclude",
                "y,pid,grade",
                "--cv",
                "30",
                "--output",
                "{tmp}/m",
            ],
            "needs at least 30 per class",
        ),
        (
            ["predict", "--model", "{tmp}", "--data", "{csv}", "--output", "{tmp}/p.csv"],
            "graphboost: error: '{tmp}' is not a graphboost model folder (no valid manifest.json)",
        ),
        (["benchmark", "--config", "{tmp}/none.toml"], "graphboost: error: Config file not found"),
        (
            ["benchmark", "--config", "duke-tnbc", "--methods", "logistic,svm"],
            "graphboost: error: Unknown method(s) ['svm']; choose from [",
        ),
        (["frobnicate"], "graphboost: error: argument command: invalid choice: 'frobnicate'"),
        (["fit", "--data", "{csv}"], "graphboost: error: the following arguments are required"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(argv, message, cohort_csv, tmp_path, capsys):
    (tmp_path / "cohort.txt").write_text("a,b\n1,2\n")
    argv = [a.format(csv=cohort_csv, tmp=tmp_path) for a in argv]
    code, err = _err(capsys, argv)
    assert code == 2
    assert err.startswith("graphboost: error: ") and "\n" not in err
    assert message.format(tmp=tmp_path) in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "p.csv").exists()


def test_constant_label_error(cohort_df, tmp_path, capsys):
    cohort_df.assign(y=0).to_csv(tmp_path / "c.csv", index=False)
    code, err = _err(
        capsys,
        [
            "fit",
            "--data",
            str(tmp_path / "c.csv"),
            "--label",
            "y",
            "--exclude",
            "pid",
            "--output",
            str(tmp_path / "m"),
        ],
    )
    assert code == 2 and "Label column 'y' is constant (every patient has 0)" in err
    assert not (tmp_path / "m").exists()


def test_debug_shows_the_traceback(cohort_csv, tmp_path):
    with pytest.raises(ValueError, match="Label column 'nope' not found"):
        main(
            [
                "--debug",
                "fit",
                "--data",
                str(cohort_csv),
                "--label",
                "nope",
                "--output",
                str(tmp_path / "m"),
            ]
        )


def test_help_mentions_every_command_and_optuna_dashboard(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("fit", "predict", "explain", "embed", "tune", "benchmark", "demo"):
        assert cmd in out
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    assert "optuna-dashboard" in capsys.readouterr().out
    assert build_parser().prog == "graphboost"


@pytest.mark.slow
def test_benchmark_command(cohort_csv, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "t"\nmethods = ["logistic", "adaboost"]\n'
        f'[dataset]\nkind = "csv"\npath = "{cohort_csv}"\nlabel = "y"\nexclude = ["pid"]\n'
        "[cv]\nn_splits = 5\nn_repeats = 5\n"
    )
    out = tmp_path / "run"
    assert (
        main(
            [
                "benchmark",
                "--config",
                str(cfg),
                "--folds",
                "3",
                "--repeats",
                "2",
                "--bootstrap",
                "30",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| logistic |" in printed and "| adaboost |" in printed
    assert json.loads((out / "run.json").read_text())["config"]["cv"]["n_repeats"] == 2
    assert main(["benchmark", "--config", str(cfg), "--output", str(out)]) == 2


@pytest.mark.slow
def test_benchmark_command_runs_the_tuned_method(cohort_csv, tmp_path, capsys):
    """The command the model card of ``graphboost tune`` gives: nested CV of the tuned model."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "t"\nmethods = ["logistic", "graphboost", "graphboost-tuned"]\n'
        f'[dataset]\nkind = "csv"\npath = "{cohort_csv}"\nlabel = "y"\nexclude = ["pid"]\n'
        "[cv]\nn_splits = 2\nn_repeats = 1\n[params]\n"
        'graphboost = {n_estimators = 5, conv = "vote"}\n'
        'graphboost-tuned = {n_trials = 2, fixed = {conv = "vote", n_estimators = 5}}\n'
    )
    out = tmp_path / "run"
    argv = ["benchmark", "--config", str(cfg), "--methods", "graphboost,graphboost-tuned"]
    assert main([*argv, "--bootstrap", "20", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| graphboost |" in printed and "| graphboost-tuned |" in printed
    assert "| logistic |" not in printed
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["methods"] == ["graphboost", "graphboost-tuned"]
    assert meta["config"]["params"]["graphboost-tuned"]["n_trials"] == 2
    assert set(meta["variants"]) == {"graphboost-tuned"}
    folds = pd.read_csv(out / "fold_scores.csv")
    assert folds.groupby("method").fold.apply(list).to_dict() == {
        "graphboost": [0, 1],
        "graphboost-tuned": [0, 1],
    }


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--output", str(out), "--n-patients", "40", "--pretrain-seconds", "3"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Cross-validated AUROC: GraphBoostClassifier" in printed
    assert {"report.md", "model", "embeddings.csv", "cohort_with_embeddings.csv"} <= {
        p.name for p in out.iterdir()
    }
    assert "| GraphBoostClassifier |" in (out / "report.md").read_text()
    pred = tmp_path / "pred.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(out / "model"),
                "--data",
                str(out / "cohort_with_embeddings.csv"),
                "--output",
                str(pred),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(pred)) == 40
    assert main(["demo", "--output", str(out)]) == 2  # never overwritten silently
    assert "already exists" in capsys.readouterr().err


def test_embed_command(tmp_path, capsys):
    import numpy as np

    scans = tmp_path / "scans"
    scans.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(scans / f"P{i}.npy", rng.random((12, 12, 12)).astype(np.float32))
    out = tmp_path / "emb.csv"
    assert (
        main(
            [
                "embed",
                "--scans",
                str(scans),
                "--output",
                str(out),
                "--shape",
                "16",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    emb = pd.read_csv(out)
    assert list(emb.patient_id) == ["P0", "P1", "P2"] and emb.shape[1] > 4
    assert not emb.isna().any().any()
    (scans / "P9.npy").write_bytes(b"not a volume")
    argv = ["embed", "--scans", str(scans), "--shape", "16", "--device", "cpu"]
    assert main([*argv, "--output", str(tmp_path / "e1.csv")]) == 2
    assert main([*argv, "--output", str(tmp_path / "e1.csv"), "--on-error", "skip"]) == 0
    out = capsys.readouterr()
    assert "Embeddings of 4 scans written" in out.out and "1 scan(s) could not be read" in out.err
    skipped = pd.read_csv(tmp_path / "e1.csv").set_index("patient_id")
    assert skipped.loc["P9"].isna().all() and skipped.drop(index="P9").notna().all().all()
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["embed", "--scans", str(empty), "--output", str(tmp_path / "e2.csv")])
    assert code == 2 and "No scans in" in capsys.readouterr().err


@pytest.mark.slow
def _saved_components(model):
    from features import load_preprocessor

    return load_preprocessor(model / "preprocessor.json").block_components


def test_fit_and_predict_with_a_scans_folder(tmp_path, capsys):
    from features import make_synthetic_cohort

    syn = make_synthetic_cohort(
        tmp_path / "syn", n_patients=24, shape=(12, 12, 12), write_masks=False
    )
    model = tmp_path / "model"
    argv = [
        "fit",
        "--data",
        str(syn.clinical_path),
        "--label",
        "label",
        "--id-column",
        "patient_id",
        "--scans",
        str(syn.scans_dir),
        "--scan-shape",
        "16",
        "--param",
        "n_estimators=3",
        "--param",
        "n_neighbors=5",
        "--output",
        str(model),
    ]
    assert main(argv) == 0
    meta = json.loads((model / "cohort.json").read_text())
    # the encoder was pretrained on the 23 readable scans (no label) and saved with the model
    assert meta["scans"]["block"] == "scans" and meta["scans"]["shape"] == 16
    assert meta["scans"]["encoder"] == "scan_encoder.pt" and (model / "scan_encoder.pt").is_file()
    assert meta["scans"]["pretraining"]["n_scans"] == 23
    # the 256-d embedding block is reduced inside the fold (issue 10), unless told otherwise
    assert len(meta["feature_groups"]["scans"]) > 8  # the block's own columns
    assert _saved_components(model) == {"scans": 8}
    # A patient without a scan is flagged once for the block, not per embedding column.
    assert syn.missing_scans and "scans:missing" in meta["feature_columns"]
    assert not [c for c in meta["feature_columns"] if "__missing" in c]
    assert "1 patient(s) of the clinical table lack block 'scans'" in capsys.readouterr().err
    pred = tmp_path / "p.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(model),
                "--data",
                str(syn.clinical_path),
                "--output",
                str(pred),
            ]
        )
        == 2
    )
    assert "fitted with scans; pass the scans of the new patients" in capsys.readouterr().err
    assert (
        main(
            [
                "predict",
                "--model",
                str(model),
                "--data",
                str(syn.clinical_path),
                "--scans",
                str(syn.scans_dir),
                "--output",
                str(pred),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(pred)) == 24
    whole = tmp_path / "whole"
    argv[argv.index(str(model))] = str(whole)
    assert main([*argv, "--block-components", "0", "--scan-pretrain-seconds", "0"]) == 0
    assert _saved_components(whole) is None
    scans = json.loads((whole / "cohort.json").read_text())["scans"]
    assert scans["encoder"] is None and not (whole / "scan_encoder.pt").exists()


def test_predict_reports_unseen_categories(model_dir, cohort_csv, tmp_path, capsys):
    df = pd.read_csv(cohort_csv).head(4).assign(site="Z")
    df.to_csv(tmp_path / "new.csv", index=False)
    assert (
        main(
            [
                "predict",
                "--model",
                str(model_dir),
                "--data",
                str(tmp_path / "new.csv"),
                "--output",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "graphboost: note: Values not seen in fit" in err and "'site': 'Z'" in err
    df.drop(columns=["x1"]).to_csv(tmp_path / "bad.csv", index=False)
    assert (
        main(
            [
                "predict",
                "--model",
                str(model_dir),
                "--data",
                str(tmp_path / "bad.csv"),
                "--output",
                str(tmp_path / "q.csv"),
            ]
        )
        == 2
    )
    assert "Columns missing from the cohort table: ['x1']" in capsys.readouterr().err
