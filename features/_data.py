"""Location of the shared data folder (real cohorts used by tests and benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "shared_data_dir"]

#: Environment variable that overrides the location of the shared data folder.
DATA_DIR_ENV = "GRAPHBOOST_DATA_DIR"


def _default_data_dir() -> Path:
    # <repo>/features/_data.py -> parents[1] is <repo>; the data lives next to the repository.
    return (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def shared_data_dir(*, must_exist: bool = True) -> Path:
    """Return the folder that holds the shared (real) data sets.

    The folder is taken from the environment variable ``GRAPHBOOST_DATA_DIR`` when it is
    set and not empty, else ``<repository>/../shared/data`` (resolved from the location of
    the installed ``features`` package). The data is read from there at run time; it is
    never copied into the project.

    Parameters
    ----------
    must_exist : bool, default=True
        Raise :class:`FileNotFoundError` when the folder does not exist. With ``False`` the
        path is returned as is (useful to build a skip reason in tests).

    Returns
    -------
    pathlib.Path
        Absolute path of the data folder.

    Raises
    ------
    FileNotFoundError
        If ``must_exist`` is true and the folder is missing; the message names the path and
        the environment variable.

    Examples
    --------
    >>> from features import shared_data_dir
    >>> shared_data_dir(must_exist=False).is_absolute()
    True
    >>> duke = shared_data_dir() / "duke-breast-mri"  # doctest: +SKIP
    """
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        path = Path(env).expanduser().resolve()
        source = f"from the environment variable {DATA_DIR_ENV}"
    else:
        path = _default_data_dir()
        source = f"the default, used because {DATA_DIR_ENV} is not set"
    if must_exist and not path.is_dir():
        raise FileNotFoundError(
            f"Shared data folder not found: {path} ({source}). Set {DATA_DIR_ENV} to the folder "
            "that holds the data sets (e.g. 'duke-breast-mri/')."
        )
    return path
