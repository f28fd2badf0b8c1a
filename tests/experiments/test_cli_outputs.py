"""What the commands write: one writer per model folder, never over an input or into a model
folder, no name the file system cannot hold, nothing reported as written that was not
(issue 20, items 1, 7, 22 and 23)."""

import json
import os

import pytest
from filelock import FileLock

from experiments import InputError
from experiments._base import RunFolder
from experiments.cli import main
from experiments.modelfolder._folder import write_manifest


def _fit_argv(csv, out, *extra):
    return [
        "fit",
        "--data",
        str(csv),
        "--label",
        "y",
        "--id-column",
        "pid",
        "--param",
        "n_estimators=3",
        "--param",
        'conv="vote"',
        "--output",
        str(out),
        *extra,
    ]


@pytest.fixture
def fake_model(tmp_path):
    """A folder with a valid manifest: a model folder to the output checks (never loaded)."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "cohort.json").write_text(json.dumps({"label": "y"}) + "\n")
    write_manifest(folder)
    return folder


def _listing(folder):
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- item 1: one writer at a time
def test_a_folder_being_written_by_another_run_is_refused(tmp_path):
    out = tmp_path / "conc"
    with RunFolder(out) as first:  # another run is writing it right now
        (first.staging / "x.txt").write_text("first")
        second = RunFolder(out)  # checked before its work: absent, fine
        with pytest.raises(InputError, match=r"Another graphboost run is writing .*conc"):
            with second:
                (second.staging / "x.txt").write_text("second")
    assert (out / "x.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conc"]  # no staging, no lock left


def test_a_folder_written_meanwhile_is_not_replaced_without_overwrite(tmp_path):
    out = tmp_path / "conc"
    folder = RunFolder(out)  # checked: absent
    out.mkdir()  # the other run finished first
    (out / "x.txt").write_text("theirs")
    with pytest.raises(InputError, match="was written by another run while this one"):
        with folder:
            (folder.staging / "x.txt").write_text("mine")
    assert (out / "x.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conc"]  # no staging, no lock left


def test_fit_into_a_folder_another_fit_is_writing_fails_clearly(cohort_csv, tmp_path, capsys):
    out = tmp_path / "conc"
    with FileLock(tmp_path / ".conc.lock", timeout=0):  # as a RunFolder holds it
        code = main(_fit_argv(cohort_csv, out))
    (tmp_path / ".conc.lock").unlink()
    captured = capsys.readouterr()
    assert code == 2 and "Model written" not in captured.out
    assert "graphboost: error: Another graphboost run is writing" in captured.err
    assert not out.exists()
    assert main(_fit_argv(cohort_csv, out)) == 0  # the lock is gone with its holder
    assert "Model written" in capsys.readouterr().out


# ---------------------------------------------------------------- item 7: never over an input
def test_predict_never_writes_over_its_input_table(cohort_csv, fake_model, tmp_path, capsys):
    table = tmp_path / "new.csv"
    table.write_bytes(cohort_csv.read_bytes())
    for command in ("predict", "explain"):
        argv = [command, "--model", str(fake_model), "--data", str(table)]
        assert main([*argv, "--output", str(table), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert f"--output '{table}' would write over the input table given by --data" in err
        assert f"{command} never writes over its input" in err
    assert table.read_bytes() == cohort_csv.read_bytes()


def test_predict_never_writes_into_or_over_a_model_folder(cohort_csv, fake_model, capsys):
    before = _listing(fake_model)
    argv = ["predict", "--model", str(fake_model), "--data", str(cohort_csv), "--overwrite"]
    assert main([*argv, "--output", str(fake_model / "cohort.json")]) == 2
    err = capsys.readouterr().err
    assert "is inside the model folder" in err and "never writes into a model folder" in err
    assert main([*argv, "--output", str(fake_model / "new.csv")]) == 2
    assert "is inside the model folder" in capsys.readouterr().err
    assert main([*argv, "--output", str(fake_model)]) == 2
    assert "is a model folder; predict never writes over one" in capsys.readouterr().err
    assert _listing(fake_model) == before


def test_embed_never_writes_into_its_scans_folder(tmp_path, capsys):
    scans = tmp_path / "scans"
    scans.mkdir()
    code = main(["embed", "--scans", str(scans), "--output", str(scans / "emb.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "is inside the --scans folder" in err and "embed reads" in err
    assert list(scans.iterdir()) == []


# ---------------------------------------------------------------- item 22: a folder as --output
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_predict_output_naming_a_folder_asks_for_a_file_name(
    cohort_csv, fake_model, tmp_path, overwrite, capsys
):
    folder = tmp_path / "outdir"
    folder.mkdir()
    argv = ["predict", "--model", str(fake_model), "--data", str(cohort_csv)]
    assert main([*argv, "--output", str(folder), *overwrite]) == 2
    err = capsys.readouterr().err
    assert f"--output '{folder}' is a folder; give a file name" in err
    assert "Errno" not in err and "already exists" not in err


# ---------------------------------------------------------------- item 23: names too long
def test_fit_refuses_an_output_name_too_long_for_its_staging_name(cohort_csv, tmp_path, capsys):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    out = tmp_path / ("x" * (limit - 15))  # fits, but ".<name>.partial-<ns>" does not
    assert main(_fit_argv(cohort_csv, out)) == 2
    err = capsys.readouterr().err
    assert "graphboost also writes" in err and f"at most {limit - 29} characters" in err
    assert list(tmp_path.iterdir()) == []
    assert main(_fit_argv(cohort_csv, tmp_path / ("y" * (limit + 1)))) == 2
    assert f"the file system allows {limit}. Choose a shorter name." in capsys.readouterr().err


def test_predict_refuses_an_output_name_too_long_for_its_side_file(
    cohort_csv, fake_model, tmp_path, capsys
):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    out = tmp_path / ("p" * (limit - 11))  # fits, but "<name>.skipped_scans.csv" does not
    argv = ["predict", "--model", str(fake_model), "--data", str(cohort_csv)]
    assert main([*argv, "--output", str(out)]) == 2
    captured = capsys.readouterr()
    assert "written" not in captured.out and "graphboost also writes" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    out = tmp_path / ("e" * (limit - 20) + ".csv")  # fits, but ".<stem>.readable.txt.partial" not
    argv[0] = "explain"
    assert main([*argv, "--output", str(out)]) == 2
    assert "graphboost also writes '.eeee" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
