"""Modalities of a feature table: groups of columns named by their prefix (``"img:"``, ``"clin:"``).

Shared by the modality ablation (``experiments.benchmark._ablation``) and
:class:`experiments.ModalitySelectionClassifier`, so both read the same columns as one modality.
"""

from __future__ import annotations

import warnings

from sklearn.base import clone

from .._base import InputError

ALL_ARM = "all"
"""The ablation arm with the columns of every modality together."""


def _prefix(column):
    """The text before the first ``":"`` of a column name, or ``None``."""
    column = str(column)
    return column.split(":", 1)[0] if ":" in column else None


def default_modalities(columns):
    """One modality per column prefix: ``{name: [prefix, ...]}``.

    A column ``"<name>:<rest>"`` belongs to modality ``name`` (``features.Cohort`` names an
    embedding block's columns ``"<block>:<k>"`` and ``"<block>:missing"``); the columns without a
    prefix belong to ``graphboost.PLAIN_MODALITY`` (``"clinical"``, the table's own columns),
    written with the empty prefix ``""`` (matched only by names with no ``":"``). Duke's prefixes
    ``"clin"`` and ``"img"`` are spelled ``"clinical"`` and ``"imaging"``
    (``graphboost.MODALITY_ALIASES``), so the names are those ``graphboost.modality_shares``
    gives, and Duke's ``age`` and ``"clin:..."`` columns are one modality.

    Examples
    --------
    >>> default_modalities(["age", "grade", "scan:0", "scan:1", "scan:missing"])
    {'clinical': [''], 'scan': ['scan:']}
    >>> default_modalities(["age", "clin:grade", "img:volume"])
    {'clinical': ['', 'clin:'], 'imaging': ['img:']}
    """
    from graphboost import MODALITY_ALIASES, PLAIN_MODALITY  # here: torch loads on first use

    out = {}
    for column in columns:
        prefix = _prefix(column)
        name = PLAIN_MODALITY if prefix is None else MODALITY_ALIASES.get(prefix, prefix)
        text = "" if prefix is None else f"{prefix}:"
        if text not in out.setdefault(name, []):
            out[name].append(text)
    return out


def _matches(column, prefixes):
    column = str(column)
    return any(column.startswith(p) if p else ":" not in column for p in prefixes)


# Over 60 lines only through its numpydoc docstring (33 lines of code).
def modality_columns(columns, modalities=None, *, minimum=2, where="the dataset"):
    """The source columns of each modality, selected by their name's prefix.

    Parameters
    ----------
    columns : list of str
        The dataset's (raw) feature columns.
    modalities : dict of str to list of str, optional
        Modality name -> column prefixes (a column belongs to a modality when its name starts
        with one of them; the empty prefix ``""`` matches the columns without a ``":"``).
        Default: :func:`default_modalities`.
    minimum : int, default=2
        Fewest modalities accepted (an ablation compares at least two).
    where : str
        The dataset's name, for the messages.

    Returns
    -------
    dict of str to list of str
        Modality -> its columns, in the dataset's order. Columns of no modality are left out
        (with a warning naming up to five).

    Raises
    ------
    InputError
        A modality matching no column (naming the modality and its prefixes), a column in two
        modalities, or fewer than ``minimum`` modalities.

    Examples
    --------
    >>> modality_columns(["age", "clin:grade", "img:volume"],
    ...                  {"clinical": ["clin:", "age"], "imaging": ["img:"]})
    {'clinical': ['age', 'clin:grade'], 'imaging': ['img:volume']}
    """
    columns = [str(c) for c in columns]
    spec = dict(modalities) if modalities else default_modalities(columns)
    found = sorted({_prefix(c) or "(no prefix)" for c in columns})
    out = {}
    for name, prefixes in spec.items():
        out[name] = [c for c in columns if _matches(c, prefixes)]
        if not out[name]:
            raise InputError(
                f"Modality {name!r} (column prefixes {list(prefixes)}) matches no column of "
                f"{where}; its column prefixes are {found[:10]}."
            )
    owner = {}
    for name, cols in out.items():
        for c in cols:
            if c in owner:
                raise InputError(
                    f"Column {c!r} is in two modalities, {owner[c]!r} and {name!r}; make their "
                    "prefixes disjoint."
                )
            owner[c] = name
    if len(out) < minimum:
        raise InputError(
            f"The modality ablation needs at least {minimum} modalities; {where} has "
            f"{list(out)} (column prefixes {found[:10]}). Name them in [ablation] modalities."
        )
    left = [c for c in columns if c not in owner]
    if left:
        warnings.warn(
            f"{len(left)} column(s) belong to no modality and are left out: {left[:5]}.",
            UserWarning,
            stacklevel=2,
        )
    return out


def _arm_preprocessor(preprocessor, columns):
    """A clone of ``preprocessor`` whose column lists keep only ``columns`` (None stays None)."""
    if preprocessor is None:
        return None
    keep = set(columns)
    params = preprocessor.get_params(deep=False)
    lists = ("numeric", "binary", "categorical", "skip_indicator")
    changed = {k: [c for c in params[k] if c in keep] for k in lists if params.get(k) is not None}
    if params.get("block_components"):
        present = {str(c).split(":", 1)[0] for c in keep if ":" in str(c)}
        kept = {b: n for b, n in params["block_components"].items() if b in present}
        changed["block_components"] = kept or None
    return clone(preprocessor).set_params(**changed)
