"""The committed notebooks hold the outputs of a full-size run (read, never executed, here).

``python notebooks/run_notebooks.py`` (``make notebooks``) executes each notebook at full size
and saves it with its outputs. These tests read the saved files and check that every cell ran
without error, that the parameter cell's saved output is the one of the full-size parameters,
that the main tables show full-size results, that every figure was saved as a PNG, and that the
run was recorded. A notebook committed without outputs, or run in small mode, fails here.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install 'graphboost[notebooks]'")

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = [
    "01_quickstart.ipynb",
    "02_breast_mri_tnbc_pcr.ipynb",
    "03_imaging_embeddings.ipynb",
    "04_optuna_search.ipynb",
    "05_survival.ipynb",
]
DUKE_METHODS = [
    "logistic",
    "random_forest",
    "hist_gradient_boosting",
    "xgboost",
    "adaboost",
    "gcn",
    "graphboost",
]


def _read(name):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell):
    """Everything a cell printed or displayed as text (stdout, plain, markdown, HTML)."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            data = out.get("data", {})
            parts += [data[k] for k in ("text/plain", "text/markdown", "text/html") if k in data]
    return "\n".join(parts)


def _cell(nb, snippet):
    """The one code cell whose source holds ``snippet`` (the notebook changed if none)."""
    found = [c for c in _code_cells(nb) if snippet in c.source]
    assert len(found) == 1, f"expected one code cell with {snippet!r}, found {len(found)}"
    return found[0]


def _full_size_parameters(source, monkeypatch):
    """What the parameter cell prints with GRAPHBOOST_NOTEBOOK_SMALL unset, and its values."""
    monkeypatch.delenv("GRAPHBOOST_NOTEBOOK_SMALL", raising=False)
    namespace, printed = {}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(source, namespace)  # the cell only reads the environment and assigns constants
    return printed.getvalue(), namespace


# ------------------------------------------------------------------ checks of each notebook
def _check_01(nb, params):
    assert params["N_PATIENTS"] == 300 and params["VOLUME_SHAPE"] == (32, 32, 32)
    assert _text(_cell(nb, "make_synthetic_cohort(")).startswith("300 patients, ")
    embeddings = _text(_cell(nb, "embeddings = embedder.fit_transform("))
    assert re.search(r"embeddings: \d+ scans x \d+ dimensions", embeddings), embeddings
    fit = _text(_cell(nb, "clf.fit(X_train, y_train)"))
    assert "210 training and 90 new patients" in fit
    assert "weighted error" in fit  # the table of the selected graphs
    auroc = _text(_cell(nb, "bootstrap_metrics("))
    assert "GraphBoostClassifier" in auroc and "logistic regression" in auroc
    assert "identical probabilities: True" in _text(_cell(nb, "graphboost.load("))


def _check_02(nb, params):
    assert params["METHODS"] == DUKE_METHODS and (params["N_SPLITS"], params["N_REPEATS"]) == (5, 5)
    _check_duke_tables(nb, params)


def _check_duke_tables(nb, params):
    """Every method (and the recalibrated twin) has a row per task in each table of 02."""
    methods = list(params["METHODS"])
    if params["CALIBRATION"]:
        methods.append(f"graphboost+{params['CALIBRATION']}")
    n_tasks = len(params["TASKS"])
    table = _text(_cell(nb, "format_table(res.table)"))
    for task in params["TASKS"]:
        assert f"#### Task `{task}` ({params['N_SPLITS']}-fold CV x {params['N_REPEATS']})" in table
    assert table.count("GraphBoostClassifier vs the best baseline") == n_tasks
    for method in methods:
        rows = re.findall(rf"^\| {re.escape(method)} \|", table, flags=re.M)
        assert len(rows) == n_tasks, f"method {method!r}: {len(rows)} rows in the results"
    for snippet in ("res.clinical.calibration", "res.clinical.conformal"):
        text = _text(_cell(nb, snippet))  # one HTML table per task, one row per method
        for method in methods:
            rows = text.count(f"<th>{method}</th>")
            assert rows == n_tasks, f"{snippet}: {rows} rows of {method!r}, one per task expected"


def _check_03(nb, params):
    assert params["N_TRAIN"] is None and params["N_TEST"] is None and params["VOLUME_SIZE"] == 64
    split = _text(_cell(nb, "X_train, y_train = subset("))
    assert re.search(r"train 1188 \(\d+% masses\), val \d+, test 298 \(", split), split
    assert "pretraining (mae) on " in _text(_cell(nb, "pretrained = pretrain_encoder("))
    assert _text(_cell(nb, "embeddings[name] = {")).count("(1188, ") == 2
    assert params["SUP_FOLDS"] == 3 and params["SUP_EPOCHS"] == 25
    supervised = _text(_cell(nb, "SupervisedVolumeEmbedder("))
    assert "SimCLR on 1286 distance maps" in supervised and "on 1188 training volumes" in supervised
    results = _text(_cell(nb, "results.round(3)"))
    models = ["LR: random-init embedding", "LR: SSL embedding", "LR: shape features"]
    models += ["LR: shape + SSL embedding", "GraphBoost: shape features"]
    models += ["GraphBoost: shape + SSL embedding", "LR: learned block"]
    models += ["LR: shape + learned block", "GraphBoost: shape + learned block"]
    for model in models:
        assert model in results, f"{model!r} missing from the results table"


def _check_04(nb, params):
    assert params["N_PATIENTS"] == 400 and params["TIMEOUT_S"] == 1200
    assert params["FIXED"] == {"boost_scale": "auto"}  # the full search fits trials unguarded
    assert "280 patients for the search, 120 held out" in _text(_cell(nb, "train_test_split("))
    search = _text(_cell(nb, "run_search("))
    complete, pruned = map(int, re.search(r"(\d+) complete and (\d+) pruned", search).groups())
    # The small search runs 5 trials; the full one as many as start in TIMEOUT_S (40 or so).
    assert complete >= 3 and complete + pruned > 5, f"{complete} + {pruned} trials: small run?"
    assert "refitted on 280 patients" in search
    trials = _text(_cell(nb, "trials_dataframe("))
    assert f"{complete} complete trials of {complete + pruned}; the 10 best" in trials
    assert "inner-CV AUROC" in trials and "PRUNED" not in trials
    held_out = _text(_cell(nb, "held-out AUROC"))
    for model in ("GraphBoost, tuned", "GraphBoost, default settings", "logistic regression"):
        assert model in held_out


def _check_05(nb, params):
    assert params["N_BOOTSTRAP"] == 1000 and params["GRAPHBOOST_PARAMS"] == {}
    assert len(params["METHODS"]) == 6 and params["METHODS"][0] == "cox_size_nodes_grade"
    table = _text(_cell(nb, "format_external_table(res)"))
    assert "rotterdam: 2982 patients" in table and "gbsg: 686 patients" in table
    for model in ("published model", "random survival forest", "GraphBoostSurvivalAnalysis"):
        assert model in table, f"{model!r} missing from the external validation table"
    cox = re.search(
        r"Harrell's C (0\.\d+) here, 0\.65 \(0\.62-0\.69\) published",
        _text(_cell(nb, "Published Cox row reproduced")),
    )
    assert cox and abs(float(cox.group(1)) - 0.65) <= 0.01, (
        "the published Cox row is not reproduced"
    )
    assert "A (90th percentile of risk)" in _text(_cell(nb, "model.explain(Z"))


CHECKS = {
    "01_quickstart.ipynb": _check_01,
    "02_breast_mri_tnbc_pcr.ipynb": _check_02,
    "03_imaging_embeddings.ipynb": _check_03,
    "04_optuna_search.ipynb": _check_04,
    "05_survival.ipynb": _check_05,
}


# ------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_holds_its_full_size_outputs(name, monkeypatch):
    nb = _read(name)
    cells = _code_cells(nb)
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{name}: not executed top to bottom in one kernel (execution counts {counts}); "
        f"run python notebooks/run_notebooks.py notebooks/{name}"
    )
    for i, cell in enumerate(cells):
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert not errors, f"{name}: code cell {i} saved an error: {errors[0].get('ename')}"
        if "plt.show()" in cell.source:
            assert any("image/png" in out.get("data", {}) for out in cell.outputs), (
                f"{name}: code cell {i} draws a figure but saved no PNG"
            )
    expected, params = _full_size_parameters(cells[0].source, monkeypatch)
    assert expected.startswith("SMALL=False "), "the parameter cell prints its parameters"
    assert _text(cells[0]) == expected, (
        f"{name}: the saved parameters are not the full-size ones: {_text(cells[0])!r}"
    )
    run = nb.metadata.get("graphboost", {}).get("run", {})
    assert run.get("seconds", 0) > 0 and run.get("small") is False, f"{name}: run not recorded"
    assert set(run["versions"]) == {"python", "torch", "sklearn", "graphboost"}
    CHECKS[name](nb, params)


def test_committed_notebooks_are_small():
    from run_notebooks import MAX_TOTAL_BYTES

    assert MAX_TOTAL_BYTES == 10 * 1024 * 1024  # the limit of issue 12
    total = sum(p.stat().st_size for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert total < MAX_TOTAL_BYTES, f"notebooks hold {total / 1e6:.1f} MB together"


def test_readme_table_is_up_to_date():
    from run_notebooks import readme_table

    readme = (NOTEBOOK_DIR / "README.md").read_text()
    assert readme_table(NOTEBOOK_DIR) in readme, (
        "notebooks/README.md is out of date: cd notebooks && python -c 'from run_notebooks import "
        "write_readme; write_readme()'"
    )


def test_checks_cover_every_notebook():
    assert sorted(CHECKS) == sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
