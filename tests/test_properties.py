"""Property-based tests (Hypothesis) of what a user's data goes through first.

Random mixes of dtypes, NaN, infinities, empty strings, unicode, duplicate and padded IDs,
single-row and single-class tables, through ``features.read_table``,
``features.ClinicalPreprocessor``, ``features.Cohort`` and ``graphboost.GraphBoostClassifier``.
The property everywhere: a ``ValueError`` or ``TypeError`` whose message names the column or
parameter at fault (and never a patient ID), or a finite result; never another exception type,
never NaN out.

The examples are bounded and derandomized (the same examples on every run, so the suite stays
fast and a failure reproduces). To search further, set ``GRAPHBOOST_PROPERTY_SCALE=20``: twenty
times the examples, drawn at random.
"""

from __future__ import annotations

import os
import re
import string
import warnings

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from features import ClinicalPreprocessor, Cohort, read_table  # noqa: E402
from features.tables._table import ids_as_text  # noqa: E402
from graphboost import GraphBoostClassifier  # noqa: E402

_SCALE = int(os.environ.get("GRAPHBOOST_PROPERTY_SCALE", "1"))


def _settings(n):
    return settings(
        max_examples=n * _SCALE,
        deadline=None,
        database=None,
        derandomize=_SCALE == 1,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# ------------------------------------------------------------------------------ strategies
_NUMBER_TEXT = ["12.5", "<5", ">180", "fifty", " 7 ", "1e400", "-inf", "n/a", "", "٣"]
_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e300, -1e300, 0.0])
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5
)
_CELLS = {
    "float": _floats | st.none(),
    "int": st.integers(-(10**6), 10**6),
    "text": _text | st.none(),
    "category": st.sampled_from(["a", "b", "é", " a", ""]) | st.none(),
    "bool": st.booleans(),
    "numbers_as_text": st.sampled_from(_NUMBER_TEXT) | st.floats(-100, 100).map(str),
    "mixed": _floats | _text | st.integers(-5, 5) | st.none(),
}


@st.composite
def frames(draw, min_rows=1, max_rows=12, max_cols=4):
    """A table of 1-4 columns, each of one kind (or a mix), with awkward but legal names."""
    n = draw(st.integers(min_rows, max_rows))
    names = draw(
        st.lists(
            st.text(string.ascii_letters + "é _:=-", min_size=1, max_size=6),
            min_size=1,
            max_size=max_cols,
            unique=True,
        )
    )
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(_CELLS)))
        values = draw(st.lists(_CELLS[kind], min_size=n, max_size=n))
        columns[name] = pd.Series(values, dtype=object if kind != "int" else "int64")
        if kind == "category" and draw(st.booleans()):
            columns[name] = columns[name].astype("category")
    return pd.DataFrame(columns)


def _names_what_is_wrong(message, names):
    """The message names a column, or the table / parameter it is about."""
    named = any(repr(str(c)) in message for c in names)
    about = re.search(
        r"\bX\b|column|sample|parameter|feature|label|class|invalid_values|on_invalid", message
    )
    return named or about is not None


_QUIET = [  # warnings these tests provoke on purpose, filtered by message
    "ignore:Dropping:UserWarning",
    "ignore:Treated as missing values:UserWarning",
    "ignore:Values not seen in fit:UserWarning",
    "ignore:Patient IDs do not match:UserWarning",
    "ignore:Constant columns skipped:UserWarning",
    "ignore:No candidate graph beat chance:UserWarning",
]
# scikit-learn's variance of a column holding 1e300 overflows (the probabilities stay finite)
_OVERFLOW = ["ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered"]


# ------------------------------------------------------------------------------ read_table
_id_text = st.one_of(
    st.integers(0, 999).map(lambda i: f"{i:03d}"),  # zero-padded
    st.integers(0, 10**6).map(str),
    st.text(string.ascii_letters + string.digits + "-_é", min_size=1, max_size=6),
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=4).map(lambda t: f" {t} "),
)


@_settings(40)
@given(
    table=frames(max_cols=3),
    ids=st.lists(_id_text, min_size=12, max_size=12),
    suffix=st.sampled_from([".csv", ".tsv", ".parquet"]),
)
@pytest.mark.filterwarnings(*_QUIET)
def test_read_table_keeps_ids_verbatim_or_names_the_problem(table, ids, suffix, tmp_path):
    table = table.astype({c: object for c in table.columns if table[c].dtype == "category"})
    table.insert(0, "patient_id", ids[: len(table)])
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        try:
            table.astype(str).to_parquet(path)
        except (ValueError, TypeError):  # pyarrow refuses some frames to write: not our reader
            return
    else:
        table.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    try:
        read = read_table(path, id_column="patient_id")
    except (ValueError, TypeError) as exc:
        event(f"refused: {str(exc)[:40]}")
        assert str(path) in str(exc) or "patient_id" in str(exc)
        return
    assert len(read) == len(table)
    assert read["patient_id"].tolist() == table["patient_id"].tolist()  # "007" stays "007"


# ------------------------------------------------------------------------------ preprocessor
@_settings(60)
@given(table=frames(), invalid_values=st.sampled_from(["raise", "missing"]))
@pytest.mark.filterwarnings(*_QUIET)
def test_preprocessor_output_is_finite_or_the_error_names_the_column(table, invalid_values):
    pre = ClinicalPreprocessor(on_invalid="drop", invalid_values=invalid_values)
    try:
        out = pre.fit_transform(table)
    except (ValueError, TypeError) as exc:
        event(f"refused: {str(exc)[:40]}")
        assert _names_what_is_wrong(str(exc), table.columns), str(exc)
        return
    assert out.shape[0] == len(table) and np.isfinite(out).all()
    np.testing.assert_array_equal(pre.transform(table), out)


@_settings(60)
@given(
    train=frames(min_rows=3, max_rows=10, max_cols=1),
    new=st.lists(_CELLS["mixed"] | st.sampled_from(_NUMBER_TEXT), min_size=1, max_size=6),
    invalid_values=st.sampled_from(["raise", "missing"]),
)
@pytest.mark.filterwarnings(*_QUIET)
def test_new_patients_get_finite_scores_or_an_error_naming_the_column(train, new, invalid_values):
    column = train.columns[0]
    try:
        pre = ClinicalPreprocessor(invalid_values=invalid_values).fit(train)
    except (ValueError, TypeError):
        return  # fit refusals are the test above's
    new = pd.DataFrame({column: pd.Series(new, dtype=object)})
    try:
        out = pre.transform(new)
    except (ValueError, TypeError) as exc:
        event(f"refused: {str(exc)[:40]}")
        assert invalid_values == "raise" and repr(column) in str(exc), str(exc)
        assert pre.find_invalid_values(new).to_numpy().any()
        return
    assert out.shape[0] == len(new) and np.isfinite(out).all()


# ------------------------------------------------------------------------------ Cohort
_raw_id = st.one_of(
    st.integers(0, 60).map(lambda i: f"{i:03d}"),  # zero-padded text
    st.integers(0, 60),  # the same patients as numbers: 7 matches "7", not "007"
    st.sampled_from(["Pat-A", "Pat-B", " Pat-A", "Pat-A ", "ÉLODIE"]),  # padded, unicode
)


@st.composite
def patient_ids(draw, min_size):
    """Mostly distinct IDs; now and then a duplicate or a missing one."""
    ids = draw(st.lists(_raw_id, min_size=min_size, max_size=8, unique_by=lambda v: str(v)))
    flaw = draw(st.sampled_from(["none"] * 8 + ["duplicate", "missing"]))  # "none" is simplest
    if ids and flaw == "duplicate":
        ids.append(ids[0])
    elif ids and flaw == "missing":
        ids[-1] = None
    return ids


@_settings(60)
@given(
    ids=patient_ids(min_size=1),
    block_ids=patient_ids(min_size=0),
    values=st.lists(_floats, min_size=9, max_size=9),
)
@pytest.mark.filterwarnings(*_QUIET)
def test_cohort_joins_by_id_text_or_explains_without_showing_ids(ids, block_ids, values):
    clinical = pd.DataFrame({"patient_id": pd.Series(ids, dtype=object), "age": values[: len(ids)]})
    block = pd.DataFrame({"e0": values[: len(block_ids)]}, index=pd.Index(block_ids, dtype=object))
    try:
        cohort = Cohort(clinical, {"mri": block})
    except (ValueError, TypeError) as exc:
        event(f"refused: {str(exc)[:40]}")
        message = str(exc)
        assert re.search(r"patient ID|block|clinical", message), message
        shown = [i for i in ids + block_ids if isinstance(i, str) and i.strip().startswith("Pat")]
        assert not any(i in message for i in shown)  # IDs never in messages
        return
    expected = ids_as_text(ids).tolist()
    assert cohort.patient_ids.tolist() == expected
    joined = cohort.X.filter(like="mri:")
    lacking = cohort.X.get("mri:missing", pd.Series(0.0, index=cohort.X.index))
    assert set(lacking.unique()) <= {0.0, 1.0}
    assert joined.drop(columns="mri:missing", errors="ignore")[lacking == 1].isna().all().all()


# ------------------------------------------------------------------------------ estimator
@st.composite
def classification_data(draw):
    n = draw(st.sampled_from([1, 2, 3, 5, 8, 13, 24]))
    d = draw(st.integers(1, 3))
    cell = st.floats(-1e6, 1e6) | st.sampled_from([0.0, 1.0, 1e300, -1e300])
    if draw(st.integers(0, 9)) == 9:  # now and then a NaN or an infinity
        cell = cell | st.sampled_from([np.nan, np.inf])
    X = np.array(draw(st.lists(st.lists(cell, min_size=d, max_size=d), min_size=n, max_size=n)))
    top = draw(st.sampled_from([1, 2, 1, 0, 2, 1]))  # now and then a single class
    y = np.array(draw(st.permutations([i % (top + 1) for i in range(n)])))
    return X, y


@_settings(40)
@given(data=classification_data(), k=st.integers(1, 4))
@pytest.mark.filterwarnings(*_QUIET, *_OVERFLOW)
def test_estimator_probabilities_are_finite_or_the_error_is_clear(data, k):
    X, y = data
    clf = GraphBoostClassifier(n_estimators=3, n_neighbors=(k,), device="cpu", random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(converge|lbfgs|members)")
            clf.fit(X, y)
    except (ValueError, TypeError) as exc:
        event(f"refused: {str(exc)[:40]}")
        assert _names_what_is_wrong(str(exc), []), str(exc)
        return
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
