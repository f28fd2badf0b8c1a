"""One JSON file holding a format name, a format version and a SHA-256 checksum of its payload.

The safe way the ``features`` package stores fitted state: nothing is pickled, nothing in the file
is run, and a file that was altered after it was written (its payload no longer matches the
checksum), written in another format version, or not JSON at all is refused with a ``ValueError``
naming the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["read_checked_json", "write_checked_json"]


def _canonical(payload: object) -> bytes:
    """The bytes the checksum covers: sorted keys, no spaces, no NaN (strict JSON)."""
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed (strict JSON)")


def write_checked_json(path: str | Path, *, kind: str, version: int, payload: dict) -> Path:
    """Write ``payload`` to ``path`` with its format and checksum, atomically.

    The file is written beside ``path`` and moved into place, so a failed write never leaves a
    half-written file under the final name.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder must exist.
    kind : str
        Format name, e.g. ``"features.ClinicalPreprocessor"``.
    version : int
        Format version.
    payload : dict
        JSON-serializable data (finite floats only).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write '{path}': the folder '{path.parent}' does not exist."
        )
    if path.is_dir():
        raise IsADirectoryError(f"Cannot write '{path}': it is a folder; give a file name.")
    document = {
        "format": kind,
        "format_version": version,
        "sha256": hashlib.sha256(_canonical(payload)).hexdigest(),
        "payload": payload,
    }
    text = json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checked_json(
    path: str | Path, *, kind: str, version: int | tuple[int, ...], what: str
) -> dict:
    """Read a file written by :func:`write_checked_json` and return its verified payload.

    Parameters
    ----------
    path : str or Path
    kind : str
        The format name the file must have.
    version : int or tuple of int
        The format version (or versions) this code reads.
    what : str
        What the file holds, for messages (e.g. ``"ClinicalPreprocessor"``).

    Returns
    -------
    dict
        The payload, after its checksum was verified.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    ValueError
        Not JSON, another format or format version, or a checksum that does not match.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved {what} at '{path}' (not a file).")
    try:
        document = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"'{path}' is not a saved {what}: it is not valid JSON ({exc}).") from None
    found = document.get("format") if isinstance(document, dict) else type(document).__name__
    if found != kind:
        raise ValueError(
            f"'{path}' is not a saved {what}: its format is {found!r}, expected {kind!r}."
        )
    versions = (version,) if isinstance(version, int) else tuple(version)
    if document.get("format_version") not in versions:
        raise ValueError(
            f"'{path}' holds a {what} in format version {document.get('format_version')!r}; "
            "this version of the features package reads format version "
            f"{' or '.join(map(str, versions))}. Fit it again and save it with this version."
        )
    payload = document.get("payload")
    if not isinstance(payload, dict) or hashlib.sha256(
        _canonical(payload)
    ).hexdigest() != document.get("sha256"):
        raise ValueError(
            f"'{path}' does not match its SHA-256 checksum: the {what} in it was altered or "
            "damaged after it was saved. Refusing to load it; save it again from the fitted "
            "object."
        )
    return payload
