"""The command line of the benchmark scripts (``python -m experiments.<script>``).

The scripts (``adrenal_mnist3d``, ``benchmark_embeddings``, ``benchmark_estimator``,
``benchmark_scaling``) describe their options as a table instead of repeating ``add_argument``
calls; the ``graphboost`` command line (:mod:`experiments.cli`) has its own parser.
"""

from __future__ import annotations

import argparse

__all__ = ["parse_script_args"]


def parse_script_args(doc, options, argv=None):
    """Parse a script's command line from a table of options.

    Parameters
    ----------
    doc : str
        The script's module docstring; its first line is the description shown by ``--help``.
    options : dict
        ``"--flag": (default, help)`` or ``"--flag": (default, help, choices)``. The value has the
        type of the default (int, float or str; str when the default is None); a default of
        ``False`` makes a switch. A help of ``argparse.SUPPRESS`` hides the option.
    argv : list of str, optional
        The arguments (default: the command line).

    Returns
    -------
    argparse.Namespace
        One attribute per option (``--n-volumes`` gives ``n_volumes``).

    Examples
    --------
    >>> opts = {"--seed": (0, "random seed"), "--fast": (False, "skip the slow part"),
    ...         "--objective": ("mae", "pretext task", ("mae", "simclr"))}
    >>> args = parse_script_args("A script.", opts, ["--seed", "3", "--fast"])
    >>> args.seed, args.fast, args.objective
    (3, True, 'mae')
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    for flag, (default, help_text, *choices) in options.items():
        if default is False:
            parser.add_argument(flag, action="store_true", help=help_text)
            continue
        parser.add_argument(
            flag,
            type=str if default is None else type(default),
            default=default,
            choices=choices[0] if choices else None,
            help=help_text,
        )
    return parser.parse_args(argv)
