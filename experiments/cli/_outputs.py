"""The files and folders a command writes, checked before any work and written atomically.

A command never writes over its input (the ``--data`` table, a file of the ``--scans``
folder) nor into (or over) a model folder, refuses a name the file system cannot hold
(the output's own name, or a name derived from it: a staging name, a side file), and reports a
file as written only once every file it writes is in place.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .. import workflows
from .._base import InputError, check_name_lengths, run_folder_names
from ..modelfolder._folder import check_replaceable, model_folder_of


def check_folder_output(path, overwrite, option="--output"):
    """``fit`` / ``tune --output``: a model folder that can be written, checked before any work."""
    check_name_lengths(path, run_folder_names(path), option)
    check_replaceable(path, overwrite)


def partial_name(path):
    """The hidden name a table is written to before it is renamed into place."""
    return Path(path).with_name(f".{Path(path).name}.partial")


def skipped_name(path):
    """The side file beside ``path`` that lists the scans skipped (``<stem>.skipped_scans.csv``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.{workflows.SKIPPED_SCANS}")


_EXAMPLES = {
    "predict": "predictions.csv",
    "explain": "explanations.csv",
    "embed": "embeddings.csv",
}


def _same_file(a, b):
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _inside(path, folder):
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def check_file_output(path, overwrite, *, data=None, scans=None, command="predict"):
    """``predict`` / ``explain`` / ``embed --output``: a new file, never an input or a model.

    Parameters
    ----------
    path : str or Path
        The ``--output`` file.
    overwrite : bool
        ``--overwrite``: replace an existing file (never an input, never in a model folder).
    data : str or Path, optional
        The ``--data`` table read by the command.
    scans : str or Path, optional
        The ``--scans`` folder read by the command.
    command : str
        The subcommand, for the messages.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    example = _EXAMPLES.get(command, "output.csv")
    model = model_folder_of(path)
    if model is not None:
        where = (
            "is a model folder; {} never writes over one"
            if model == path.resolve()
            else f"is inside the model folder '{model}'; {{}} never writes into a model folder"
        )
        raise InputError(
            f"--output '{path}' {where.format(command)}. Give a file name outside it, "
            f"e.g. {example}."
        )
    if path.is_dir():
        raise InputError(
            f"--output '{path}' is a folder; give a file name, e.g. '{path / example}'."
        )
    derived = [partial_name(path).name, skipped_name(path).name]
    if command == "explain":  # and its explanations in words, <stem>.readable.txt
        derived += [f"{path.stem}.readable.txt", f".{path.stem}.readable.txt.partial"]
    check_name_lengths(path, derived, "--output")
    written = (path, partial_name(path), skipped_name(path))
    if data is not None and any(_same_file(w, data) for w in written):
        raise InputError(
            f"--output '{path}' would write over the input table given by --data; {command} "
            "never writes over its input. Give another file name."
        )
    if scans is not None and Path(scans).is_dir() and _inside(path, scans):
        raise InputError(
            f"--output '{path}' is inside the --scans folder '{scans}', which {command} reads; "
            "give a file name outside it."
        )
    if path.exists() and not overwrite:
        raise InputError(f"Output file '{path}' already exists; pass --overwrite to replace it.")
    if not path.parent.is_dir():
        raise InputError(f"Output folder '{path.parent}' does not exist.")
    return path


def write_csv_atomic(df, path):
    """``df`` as CSV at ``path``, written beside it under a hidden name and renamed into place."""
    tmp = partial_name(path)
    try:
        df.to_csv(tmp, index=False)
        tmp.replace(path)
    except BaseException:  # a full disk or an interrupt: no half-written file is left
        tmp.unlink(missing_ok=True)
        raise


def write_skipped(out, skipped):
    """List skipped scans by file name in ``<output stem>.skipped_scans.csv`` beside ``out``.

    Returns the listing's path, or ``None`` when no scan was skipped (an old listing is removed:
    it would mislead).
    """
    listing = skipped_name(out)
    if not skipped:
        listing.unlink(missing_ok=True)
        return None
    write_csv_atomic(pd.DataFrame({"file": skipped}), listing)
    return listing
