"""scikit-learn's estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from graphboost import GraphBoostClassifier, GraphWeakLearner

WEIGHTS_ARE_NOT_DUPLICATES = (
    "a duplicated patient is a second node with its own graph edges, so weight 2 is not the "
    "same model as a duplicate row"
)


def _expected_failures(estimator):
    return {"check_sample_weight_equivalence_on_dense_data": WEIGHTS_ARE_NOT_DUPLICATES}


@parametrize_with_checks(
    [
        # Small k: some checks fit on 10-30 patients.
        GraphBoostClassifier(n_estimators=5, n_neighbors=3, random_state=0),
        GraphBoostClassifier(
            n_estimators=2, n_neighbors=3, conv="gcn", n_screen=1, max_epochs=5, random_state=0
        ),
        GraphWeakLearner(n_neighbors=3, random_state=0),
        GraphWeakLearner(n_neighbors=3, conv="appnp", max_epochs=5, random_state=0),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
