"""Which feature groups and blocks a model kept, and why: the out-of-fold figures of
``GraphBoostClassifier(block_guard=True)`` in words, for the terminal, the report and the card.
"""

from __future__ import annotations


def block_guard_summary(clf):
    r"""One line per feature group: kept or dropped, with the inner-fold figures.

    Parameters
    ----------
    clf : graphboost.GraphBoostClassifier
        A fitted model; without ``block_guard_`` (the guard off, or no feature group) nothing.

    Returns
    -------
    lines : list of str

    Examples
    --------
    >>> class Fitted:
    ...     block_guard_ = {"scans": {"kept": False, "gain": -0.012, "gain_se": 0.008,
    ...                               "margin_se": 1.0, "fold_auroc_with": [0.8] * 5,
    ...                               "fold_auroc_without": [0.81] * 5}}
    >>> (line,) = block_guard_summary(Fitted())
    >>> print(line.replace("; ", ";\n"))
    Block scans: dropped (inner 5-fold AUROC 0.800 with it, 0.810 without;
    gain -0.012, SE 0.008;
    kept only above 1 SE)
    """
    figures = getattr(clf, "block_guard_", None) or {}
    return [f"Block {name}: {_verdict(f)}" for name, f in figures.items()]


def _verdict(figures):
    word = "kept" if figures["kept"] else "dropped"
    if "gain" not in figures:
        return f"{word} ({figures.get('reason', 'not compared')})"
    with_block, without = figures["fold_auroc_with"], figures["fold_auroc_without"]
    k = len(with_block)
    return (
        f"{word} (inner {k}-fold AUROC {sum(with_block) / k:.3f} with it, "
        f"{sum(without) / k:.3f} without; gain {figures['gain']:+.3f}, "
        f"SE {figures['gain_se']:.3f}; kept only above {figures['margin_se']:g} SE)"
    )


def block_guard_lines(clf):
    """The model card's section on the feature groups the block guard kept (Markdown lines);
    empty when the model has no ``block_guard_``."""
    figures = getattr(clf, "block_guard_", None)
    if not figures:
        return []
    lines = [
        "## Feature groups and blocks: kept or dropped out of fold",
        "",
        "Each feature group (an imaging block included) entered the model only where it earned "
        "its place on held-out patients (`block_guard=True`): on the same stratified inner folds "
        "of the training patients, the whole fit with every group and without each one; a group "
        "is kept when the mean paired AUROC gain exceeds the stated number of standard errors "
        "of that mean. A dropped group is not read at all: the model is the one fitted without "
        "its columns.",
        "",
        "| group | kept | inner AUROC with | without | gain (SE) | note |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        if "gain" in f:
            k = len(f["fold_auroc_with"])
            mean_with = sum(f["fold_auroc_with"]) / k
            mean_without = sum(f["fold_auroc_without"]) / k
            row = (
                f"{mean_with:.3f} | {mean_without:.3f} | {f['gain']:+.3f} ({f['gain_se']:.3f}) | "
                f"kept only above {f['margin_se']:g} SE"
            )
        else:
            row = f" | | | {f.get('reason', '')}"
        lines.append(f"| {name} | {'yes' if f['kept'] else 'no'} | {row} |")
    return [*lines, ""]
