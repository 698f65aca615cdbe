"""Codes and labels of grouping factors: one integer per row and one label per group.

A group of several columns (``(1|dept:service)``, nested ``(1|lab/replicate)``) is
labelled by joining its columns' values with ':', in the order of a sorted
MultiIndex, as lme4 names the levels of an interaction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["group_labels"]


def _sorted_codes(col):
    """Codes and uniques of one column, uniques sorted by value (as a MultiIndex sorts them, even for categoricals)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.dtype.categories
        order = np.argsort(np.asarray(cats), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = np.asarray(col.array.codes, dtype=np.int64)
        return np.where(codes >= 0, rank[np.maximum(codes, 0)], -1), cats[order]
    return pd.factorize(col, sort=True)


def _group_codes(data, group_vars):
    """Integer code of each row's group (0..m-1) and the m group labels, sorted."""
    cols = [data[g] for g in group_vars]
    if len(cols) == 1 and isinstance(cols[0].dtype, pd.CategoricalDtype):
        # Same result as factorize(sort=True) when every category occurs (as after model_frame),
        # without its sort.
        codes = np.asarray(cols[0].array.codes)
        categories = cols[0].dtype.categories
        if len(codes) and codes.min() >= 0 and np.bincount(codes, minlength=len(categories)).all():
            return codes.astype(np.int64), [str(u) for u in categories]
    if len(cols) == 1:
        codes, uniques = pd.factorize(cols[0], sort=True)
        levels = [str(u) for u in uniques]
    else:
        # Each column's sorted codes combined into one integer per row: the
        # lexicographic order of a MultiIndex's sorted factorize, without building
        # a tuple per row (0.18 s for InstEval's 73,421 rows of dept:service).
        parts = [_sorted_codes(c) for c in cols]
        sizes = [max(len(u), 1) for _, u in parts]
        if all(np.asarray(c).min(initial=0) >= 0 for c, _ in parts) and float(np.prod(sizes, dtype=float)) < 2**62:
            key = np.zeros(len(cols[0]), dtype=np.int64)
            for (c, _), size in zip(parts, sizes):
                key = key * size + np.asarray(c, dtype=np.int64)
            present, codes = np.unique(key, return_inverse=True)
            levels = []
            for k in present.tolist():
                labels = []
                for (_, u), size in zip(reversed(parts), reversed(sizes)):
                    k, r = divmod(k, size)
                    labels.append(str(u[r]))
                levels.append(":".join(reversed(labels)))
            return codes.reshape(-1).astype(np.int64), levels
        codes, uniques = pd.factorize(pd.MultiIndex.from_arrays(cols), sort=True)
        levels = [":".join(map(str, u)) for u in uniques]
    return np.asarray(codes, dtype=np.int64), levels


def group_labels(data, group_vars):
    """String label of each row's group (columns joined by ':').

    Parameters
    ----------
    data : pandas.DataFrame
    group_vars : list of str
        Columns that together define a group.

    Returns
    -------
    numpy.ndarray of str

    Examples
    --------
    >>> import pandas as pd
    >>> group_labels(pd.DataFrame({"lab": ["L1", "L2"], "rep": [1, 2]}), ["lab", "rep"]).tolist()
    ['L1:1', 'L2:2']
    """
    labels = data[group_vars[0]].astype(str)
    for g in group_vars[1:]:
        labels = labels + ":" + data[g].astype(str)
    return labels.to_numpy()
