"""Issue 11: bad inputs to the table preprocessor, the volume pipeline and the weight loaders.

Each test reproduces one report of the issue and pins the answer the user now gets.
"""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from features import ClinicalPreprocessor, VolumeEmbedder, VolumePreprocessor, read_table


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 10, 30).round(),
            "systolic_bp": rng.normal(130, 15, 30).round(),
            "smoker": rng.integers(0, 2, 30),
            "site": rng.choice(["a", "b"], 30),
        }
    )
    table.loc[3, "age"] = np.nan  # "age" gets a missing-value indicator
    return table, ClinicalPreprocessor().set_output(transform="pandas").fit(table)


def _new_patients(table):
    new = table.head(4).astype({"age": object, "systolic_bp": object})
    new.loc[0, "age"] = "fifty"
    new.loc[1, "systolic_bp"] = ">180"
    new.loc[2, "systolic_bp"] = ">180"
    return new


def test_text_in_numeric_columns_at_prediction_is_reported_per_column_and_refused(fitted):
    """Issue 11 item 3: "fifty" in age became the training median in silence."""
    table, pre = fitted
    with pytest.raises(
        ValueError,
        match=r"Column 'age' is numeric but holds non-numeric values \(1 of 4\), written like "
        r"'abc'; Column 'systolic_bp' is numeric but holds non-numeric values \(2 of 4\), "
        r"written like '>999'\. "
        r"Correct them, or pass invalid_values='missing'",
    ):
        pre.transform(_new_patients(table))


def test_text_in_numeric_columns_can_be_treated_as_missing_with_a_warning(fitted):
    table, pre = fitted
    new = _new_patients(table)
    pre.set_params(invalid_values="missing")
    with pytest.warns(UserWarning, match=r"Treated as missing values .*'age'.*'abc'.*'>999'"):
        out = pre.transform(new)
    as_missing = new.assign(
        age=pd.to_numeric(new.age, errors="coerce"),
        systolic_bp=pd.to_numeric(new.systolic_bp, errors="coerce"),
    )
    pd.testing.assert_frame_equal(out, pre.transform(as_missing))  # exactly as missing values
    assert out["age:missing"].tolist() == [1.0, 0.0, 0.0, 1.0]  # "fifty", and a real NaN
    mask = pre.find_invalid_values(new)
    assert mask.columns.tolist() == ["age", "systolic_bp", "smoker"]
    assert [list(a) for a in mask.to_numpy().nonzero()] == [[0, 1, 2], [0, 1, 1]]
    with pytest.raises(ValueError, match=r"'invalid_values' parameter .* 'raise' or 'missing'"):
        pre.set_params(invalid_values="skip").transform(new)


def test_a_numeric_column_with_a_few_non_numbers_at_fit(fitted):
    """Issue 11 item 4: '<5' among numbers was called an identifier or free text."""
    table, _ = fitted
    labs = table.assign(crp_mg_l=[*[float(v) for v in range(29)], "<5"])  # objects, as Excel
    with pytest.raises(
        ValueError,
        match=r"'crp_mg_l': numeric column with 1 value\(s\) that are not numbers, written like "
        r"'<9'.*"
        r"invalid_values='missing'",
    ):
        ClinicalPreprocessor().fit(labs)
    with pytest.warns(UserWarning, match=r"'crp_mg_l' is numeric but holds non-numeric .*'<9'"):
        pre = ClinicalPreprocessor(invalid_values="missing").fit(labs)
    assert "crp_mg_l" in pre.numeric_ and "crp_mg_l:missing" in pre.get_feature_names_out()


def test_huge_values_are_reported_like_infinities_never_nan_out(fitted):
    """Found by the property tests: 1e300 overflowed the scaler's variance into NaN output."""
    table, _ = fitted
    huge = table.assign(age=table.age.where(table.index != 5, 1e300))
    with pytest.raises(ValueError, match=r"'age': infinite values \(or beyond 1e100\)"):
        ClinicalPreprocessor().fit(huge)
    with pytest.warns(UserWarning, match=r"'age' holds infinite values \(or beyond 1e100\)"):
        out = ClinicalPreprocessor(invalid_values="missing").fit_transform(huge)
    assert np.isfinite(out).all()


# ------------------------------------------------------------------------------ volumes
def _extreme(rng):
    volume = rng.random((12, 12, 12)).astype(np.float32)
    volume[0, 0, 0], volume[5, 5, 5] = -3e38, 3e38  # float32 fill values at both ends
    return volume


@pytest.mark.parametrize("intensity", ["minmax", "mri"])
def test_an_extreme_value_range_is_scaled_without_overflow(intensity):
    """Issue 11 item 5: voxels at -3e38 and +3e38 gave an all-NaN embedding, reported as done."""
    volume = _extreme(np.random.default_rng(0))
    pre = VolumePreprocessor(shape=16, intensity=intensity)
    out = pre(volume)
    assert np.isfinite(out).all() and out.std() > 0
    # the same as the volume divided by a power of two: scale-free steps, exact rescaling
    np.testing.assert_array_equal(out, pre(np.ldexp(volume, -100)))


def test_a_non_finite_embedding_is_an_error_or_a_counted_skip_never_a_row(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name, volume in (("a", rng.random((12, 12, 12))), ("P-0042", _extreme(rng))):
        paths.append(tmp_path / f"{name}.npy")
        np.save(paths[-1], volume.astype(np.float32))
    kwargs = {"encoder_kwargs": {"channels": (4, 4, 8, 8)}, "device": "cpu"}
    raw = VolumePreprocessor(shape=16, intensity=None)  # no scaling: +-3e38 reaches the CNN
    with pytest.raises(ValueError, match=r"Cannot embed .*P-0042\.npy: the encoder gave \d+ non"):
        VolumeEmbedder(preprocessor=raw, **kwargs).fit().transform(paths)
    emb = VolumeEmbedder(preprocessor=raw, on_error="skip", cache_dir=tmp_path / "c", **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = emb.fit().transform(paths)
    (warning,) = [w for w in caught if "skipped" in str(w.message)]
    assert str(warning.message).startswith("VolumeEmbedder skipped 1 of 2 volumes (rows of NaN)")
    assert "P-0042" not in str(warning.message)  # file names are patient IDs: counts only
    assert [s["position"] for s in emb.skipped_] == [1]
    assert np.isnan(out).all(axis=1).sum() == len(emb.skipped_) and np.isfinite(out[0]).all()
    assert len(list((tmp_path / "c").glob("*.npy"))) == 1  # never cached


# ------------------------------------------------------------------------------ pickles
class _Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def test_a_pickled_checkpoint_is_refused_with_our_message(tmp_path, capsys):
    ckpt = tmp_path / "weights.pt"
    torch.save({"conv.weight": _Payload()}, ckpt)
    with pytest.raises(ValueError, match="It is not a checkpoint this library saved") as info:
        VolumeEmbedder(pretrained=ckpt, device="cpu").fit()
    assert "weights_only=False" not in str(info.value)  # not torch's advice to unpickle it
    assert "this ran" not in capsys.readouterr().out


def test_a_pickled_estimator_file_is_refused_with_our_message(tmp_path, capsys):
    from graphboost import GraphBoostClassifier, load

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.arange(30) % 2
    folder = tmp_path / "model"
    GraphBoostClassifier(n_estimators=2, n_neighbors=(5,), random_state=0).fit(X, y).save(folder)
    torch.save({"payload": _Payload()}, folder / "arrays.pt")
    manifest = json.loads((folder / "manifest.json").read_text())  # checksums made to match
    manifest["sha256"]["arrays.pt"] = hashlib.sha256(
        (folder / "arrays.pt").read_bytes()
    ).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        ValueError, match=r"arrays\.pt holds Python objects, not tensors: it is not a"
    ):
        load(folder)
    assert "this ran" not in capsys.readouterr().out


def test_ids_that_pandas_reads_as_missing_are_kept_as_written(tmp_path):
    """Regression: IDs 'NA', 'null' and 'N/A' were read as missing values (pandas' defaults)."""
    path = tmp_path / "t.csv"
    path.write_text("pid,x\nNA,1\nnull,\n001,3\nN/A,4\n,5\n")
    table = read_table(path, id_column="pid")
    assert table["pid"].tolist()[:4] == ["NA", "null", "001", "N/A"]
    assert pd.isna(table["pid"].iloc[4])  # an empty cell is still a missing ID
    assert table["x"].isna().tolist() == [False, True, False, False, False]
