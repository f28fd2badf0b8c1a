"""Cost structure of fit and predict: what one new patient touches, and the O(N) shortcuts of fit.

No timings (the machine is shared): a new patient must allocate no memory in proportion to the
number of training patients, measured with tracemalloc at two training sizes, and the shortcuts
that keep fit within O(N) memory per candidate must give exactly what the direct computations do.
"""

import tracemalloc

import numpy as np
import pytest

from graphboost import GraphBoostClassifier, _graphs
from graphboost._graphs import GraphSpec, _kth_distance_sorted, column_neighborhoods
from graphboost._neighborhoods import (
    Candidate,
    ColumnGraph,
    _pack_ranges,
    _unpack_ranges,
    vote_predict,
)
from graphboost._screen import CandidateScreen


def _cohort(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[:, 1] = rng.integers(0, 3, size=n)  # ties: neighborhoods wider than k
    y = (np.sin(2.5 * X[:, 0]) + 0.3 * X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


def _traced_peak(function):
    """Peak bytes allocated while ``function`` runs (after one warm-up call)."""
    function()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def models():
    """The same design fitted on 2,000 and on 40,000 patients: kNN, threshold and block graphs."""
    fitted = {}
    for n in (2_000, 40_000):
        X, y = _cohort(n)
        fitted[n] = GraphBoostClassifier(
            n_estimators=8,
            threshold_quantiles=(0.02,),
            feature_groups={"block": [3, 4]},
            reuse_features=False,
            random_state=0,
        ).fit(X, y)
    return fitted


def test_the_models_use_every_kind_of_graph(models):
    for model in models.values():
        rules = {(spec.rule, spec.is_block) for spec in model.selected_graphs_}
        assert {("knn", False), ("threshold", False), ("knn", True)} <= rules


def test_one_new_patient_allocates_nothing_of_the_training_size(models):
    """Before the fix, each round gathered the N sorted training values (8 bytes a patient)."""
    patient = _cohort(1, seed=7)[0]
    small, large = (_traced_peak(lambda m=models[n]: m.predict_proba(patient)) for n in models)
    assert large < 40_000  # under one byte per training patient
    assert large < 1.5 * small + 4096  # 20 times the patients, about the same memory


def test_a_batch_allocates_in_proportion_to_the_batch_not_the_training_set(models):
    batch = _cohort(500, seed=8)[0]
    small, large = (_traced_peak(lambda m=models[n]: m.predict_proba(batch)) for n in models)
    assert large < 1.5 * small + 4096


def test_one_patient_at_a_time_is_the_batch_prediction(models):
    model = models[40_000]
    batch = _cohort(30, seed=9)[0]
    for learner in model.estimators_:  # the graphs' votes: exactly
        one_by_one = np.concatenate([learner._vote_query(batch[i : i + 1]) for i in range(30)])
        np.testing.assert_array_equal(one_by_one, learner._vote_query(batch))
    # The linear start's matrix product may round a row alone and a batch differently (1 ulp).
    one_by_one = np.vstack([model.predict_proba(batch[i : i + 1]) for i in range(30)])
    np.testing.assert_allclose(one_by_one, model.predict_proba(batch), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5, 9])
@pytest.mark.parametrize("ties", [False, True])
def test_kth_distance_of_the_training_points_is_the_partition_of_all_2k(k, ties):
    """The O(N)-memory merge of the two sides is, bit for bit, the k-th of the 2k windows."""
    rng = np.random.default_rng(k)
    for n in (k + 1, k + 2, 3 * k + 5, 200):
        x = rng.normal(size=n)
        x = np.sort(np.round(x, 1) if ties else x)
        idx = np.arange(n)[:, None] + np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
        dist = np.abs(x[np.clip(idx, 0, n - 1)] - x[:, None])
        dist[(idx < 0) | (idx >= n)] = np.inf
        expected = np.partition(dist, k - 1, axis=1)[:, k - 1]
        np.testing.assert_array_equal(_kth_distance_sorted(x, k), expected)


@pytest.mark.parametrize("rule", ["knn", "threshold"])
def test_a_graph_given_the_screens_ranges_votes_as_a_fresh_graph(rule):
    X, y = _cohort(300)
    spec = GraphSpec("x1", ("x1",), rule, n_neighbors=7, threshold=None if rule == "knn" else 0.3)
    candidate = Candidate(spec, (1,))
    screen = CandidateScreen(X, [candidate])
    wy = np.zeros((300, 2))
    wy[np.arange(300), y] = np.random.default_rng(0).uniform(size=300)
    fresh = ColumnGraph(spec, 1, X[:, 1])
    np.testing.assert_array_equal(screen.graph(0, X).vote_train(wy), fresh.vote_train(wy))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_screen_errors_are_the_leave_self_out_vote_errors(n_classes):
    """Each candidate's screened error against the vote of its neighbors, patient by patient."""
    X, _ = _cohort(120, seed=3)
    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, size=120)
    weights = rng.uniform(size=120)
    specs = [GraphSpec(f"x{j}", (f"x{j}",), "knn", n_neighbors=k) for j in range(3) for k in (3, 8)]
    specs.append(GraphSpec("x0", ("x0",), "threshold", threshold=0.25))
    screen = CandidateScreen(X, [Candidate(spec, (int(spec.name[1:]),)) for spec in specs])
    errors = screen.errors(weights, y, n_classes)
    wy = np.zeros((120, n_classes))
    wy[np.arange(120), y] = weights
    prior = wy.sum(axis=0) / wy.sum()
    for i, spec in enumerate(specs):
        order, lo, hi = column_neighborhoods(
            X[:, int(spec.name[1:])], spec.rule, spec.n_neighbors, spec.threshold
        )
        vote = np.array([wy[order[lo[p] : hi[p]]].sum(axis=0) - wy[p] for p in range(120)])
        wrong = vote_predict(vote, prior) != y
        assert errors[i] == pytest.approx(weights @ wrong / weights.sum(), abs=1e-12)


@pytest.mark.parametrize("rule", ["knn", "threshold"])
def test_training_ranges_computed_in_small_blocks_match_brute_force(rule, monkeypatch):
    """Blocks of 7 patients, ties across block boundaries: the ranges of a full distance matrix."""
    monkeypatch.setattr(_graphs, "_BLOCK", 7)
    x = np.sort(np.round(np.random.default_rng(5).normal(size=61), 1))
    k, tau = 4, 0.25
    lo, hi = _graphs.sorted_ranges(x, rule, n_neighbors=k, threshold=tau)
    D = np.abs(x[:, None] - x[None, :])
    np.fill_diagonal(D, np.inf)
    for i in range(61):
        radius = np.sort(D[i])[k - 1] if rule == "knn" else tau
        members = set(np.flatnonzero(D[i] <= radius + 1e-12)) | {i}
        assert set(range(lo[i], hi[i])) == members


@pytest.mark.parametrize(
    "x",
    [
        np.random.default_rng(0).normal(size=5000),
        np.round(np.random.default_rng(1).normal(size=5000), 1),
        np.random.default_rng(2).integers(0, 2, size=5000).astype(float),
        np.array([0.0, -0.0, 1.0, -0.0, 0.0, -1.0]),  # -0.0 ties with 0.0
        np.full(7, 3.0),
        np.array([2.0]),
    ],
    ids=["continuous", "ties", "binary", "signed-zeros", "constant", "one"],
)
def test_stable_argsort_is_numpys_stable_sort(x):
    np.testing.assert_array_equal(_graphs.stable_argsort(x), np.argsort(x, kind="stable"))


@pytest.mark.parametrize(
    ("n_ties", "dtype"), [(1, np.uint8), (600, np.uint16), (70_000, np.uint32)]
)
def test_packed_ranges_round_trip_in_the_smallest_type(n_ties, dtype):
    """Neighborhoods of a column with a run of ``n_ties`` equal values, packed and unpacked."""
    x = np.sort(np.concatenate([np.zeros(n_ties), np.arange(1.0, 300.0)]))
    lo, hi = _graphs.sorted_ranges(x, "knn", n_neighbors=5)
    below, above = _pack_ranges(lo, hi)
    assert below.dtype == dtype and above.dtype == dtype
    unpacked = _unpack_ranges(below, above)
    np.testing.assert_array_equal(unpacked[0], lo)
    np.testing.assert_array_equal(unpacked[1], hi)
    part = _unpack_ranges(below, above, 3, 40)
    np.testing.assert_array_equal(part[1], hi[3:40])


@pytest.mark.parametrize("rule", ["knn", "threshold"])
def test_a_large_batch_searched_in_sorted_blocks_gets_each_patients_own_ranges(rule, monkeypatch):
    """Batches from _SORTED_BATCH patients on are sorted and cut in blocks: same positions."""
    monkeypatch.setattr(_graphs, "_SORTED_BATCH", 4)
    monkeypatch.setattr(_graphs, "_BLOCK", 7)
    rng = np.random.default_rng(6)
    x = np.sort(np.round(rng.normal(size=300), 1))
    queries = np.concatenate([np.round(rng.normal(size=40), 1), x[:10], [-9.0, 9.0]])
    lo, hi = _graphs.sorted_ranges(x, rule, n_neighbors=6, threshold=0.3, query=queries)
    for i, q in enumerate(queries):
        one = _graphs.sorted_ranges(x, rule, n_neighbors=6, threshold=0.3, query=[q])
        assert (lo[i], hi[i]) == (one[0][0], one[1][0])


def test_a_large_batch_is_predicted_as_its_patients_one_by_one(models, monkeypatch):
    monkeypatch.setattr(_graphs, "_SORTED_BATCH", 8)
    monkeypatch.setattr(_graphs, "_BLOCK", 16)
    model = models[2_000]
    batch = _cohort(100, seed=10)[0]
    for learner in model.estimators_:
        one_by_one = np.concatenate([learner._vote_query(batch[i : i + 1]) for i in range(100)])
        np.testing.assert_array_equal(one_by_one, learner._vote_query(batch))
