"""Scans and their embeddings: middle slices, 2-D maps of an embedding block."""

from __future__ import annotations

import numpy as np

from ._common import _axes, _class_legend_name, _finish, _labels_array, _plt
from ._graphs import _scatter_classes, graph_layout


# -------------------------------------------------------------------------------- volumes
def plot_volume_slices(
    volumes, labels=None, class_names=None, axis=0, spacing=None, title=None, ncols=4, names=None
):
    """The middle slice of each volume, in a grid (one panel per volume).

    Parameters
    ----------
    volumes : sequence of arrays of shape (D, H, W)
    labels : array-like, optional
        Class of each volume, shown in the panel title.
    class_names : dict, optional
    axis : {0, 1, 2}, default=0
        Axis across which the middle slice is taken.
    spacing : tuple of 3 float, optional
        Voxel size in mm; axes are then in mm, else in voxels.
    title : str, optional
        Figure title.
    ncols : int, default=4
    names : list of str, optional
        Panel names (e.g. patient IDs); default ``volume 0``, ``volume 1``...

    Returns
    -------
    matplotlib Figure
    """
    vols = _volumes_inputs(volumes, axis, names)
    if labels is not None:
        labels = _labels_array(labels, len(vols))
    ncols = min(ncols, len(vols))
    nrows = int(np.ceil(len(vols) / ncols))
    fig, axes = _plt().subplots(
        nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows + 0.6), squeeze=False
    )
    for i, ax in enumerate(axes.ravel()):
        if i >= len(vols):
            ax.axis("off")
            continue
        name = str(names[i]) if names is not None else f"volume {i}"
        if labels is not None:
            name += f": {_class_legend_name(labels[i], class_names)}"
        _draw_middle_slice(ax, vols[i], axis, spacing, name)
    fig.suptitle(title or f"Middle slice across axis {axis} of each volume")
    fig.tight_layout()
    return fig


def _volumes_inputs(volumes, axis, names):
    """Checked float32 volumes of :func:`plot_volume_slices`."""
    vols = [np.asarray(v, dtype=np.float32) for v in volumes]
    if not vols:
        raise ValueError("volumes is empty; pass at least one 3D array.")
    bad = [i for i, v in enumerate(vols) if v.ndim != 3]
    if bad:
        raise ValueError(
            f"volumes must be 3D arrays (D, H, W); volume {bad[0]} has shape {vols[bad[0]].shape}."
        )
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2; got {axis!r}.")
    if names is not None and len(names) != len(vols):
        raise ValueError(f"names must have one entry per volume ({len(vols)}); got {len(names)}.")
    return vols


def _draw_middle_slice(ax, volume, axis, spacing, name):
    """The middle slice of one volume across ``axis``, in mm when ``spacing`` is known."""
    other = [a for a in (0, 1, 2) if a != axis]
    sl = np.take(volume, volume.shape[axis] // 2, axis=axis)
    if spacing is not None:
        extent = (0, sl.shape[1] * spacing[other[1]], sl.shape[0] * spacing[other[0]], 0)
        unit = "mm"
    else:
        extent, unit = None, "voxels"
    ax.imshow(sl, cmap="gray", extent=extent)
    ax.set_title(name, fontsize=8)
    ax.set_xlabel(f"axis {other[1]} ({unit})", fontsize=7)
    ax.set_ylabel(f"axis {other[0]} ({unit})", fontsize=7)
    ax.tick_params(labelsize=6)


def plot_embedding_2d(
    X,
    labels,
    ax=None,
    title="Embeddings, first two principal components",
    class_names=None,
    random_state=0,
):
    """Scatter of the first two principal components of embeddings, colored by label.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_dims)
    labels : array-like of shape (n_samples,)
    ax : matplotlib Axes, optional
    title : str
    class_names : dict, optional
    random_state : int, default=0

    Returns
    -------
    matplotlib Axes
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"X must be (n_samples, n_dims) with n_dims >= 2; got {X.shape}.")
    labels = _labels_array(labels, X.shape[0])
    coords, (xl, yl) = graph_layout(X, random_state=random_state)
    ax = _axes(ax, figsize=(5.5, 4.5))
    _scatter_classes(ax, coords, labels, class_names, s=10, alpha=0.7)
    return _finish(ax, xl.replace(f" of {X.shape[1]} columns", ""), yl, title, legend_loc="best")
