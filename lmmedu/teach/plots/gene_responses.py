"""Notebook 04's study of shared vs per-gene drug responses, in one figure.

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np

from ..cells import check_columns
from .base import fit_title, fit_xlabel, new_axes

__all__ = ["gene_response_plot"]


def gene_response_plot(rates, test="A minus C", ax=None):
    """False-positive rate of one test under each model and each truth of the gene-response study.

    One row per model, one marker (with its 95% interval) per truth, the nominal level as a
    dashed line; the legend sits under the axes, so it never covers a point.

    Parameters
    ----------
    rates : pandas.DataFrame
        :func:`lmmedu.teach.studies.rates` of :func:`~lmmedu.teach.studies.gene_response_p_values`
        results: columns ``truth``, ``analysis`` ("<model>: <test>"), ``rate``, ``ci_low``,
        ``ci_high``.
    test : str, default "A minus C"
        Which test to show (the part of ``analysis`` after ": ").
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> r = pd.DataFrame({"truth": ["shared", "shared", "own", "own"],
    ...                   "analysis": ["shared: A minus C", "per gene: A minus C"] * 2,
    ...                   "rate": [0.05, 0.04, 0.3, 0.06], "ci_low": [0.02, 0.02, 0.2, 0.03],
    ...                   "ci_high": [0.1, 0.09, 0.4, 0.11]})
    >>> [t.get_text() for t in gene_response_plot(r).get_yticklabels()]
    ['shared', 'per gene']
    """
    check_columns(rates, ["truth", "analysis", "rate", "ci_low", "ci_high"], "gene_response_plot")
    parts = rates["analysis"].str.split(": ", n=1, expand=True)
    if parts.shape[1] < 2 or test not in set(parts[1]):
        raise ValueError(f"test must be one of the tests in 'analysis' ({', '.join(sorted(set(parts.get(1, []))))}), "
                         f"not {test!r}.")
    shown = rates.assign(model=parts[0], test=parts[1])
    shown = shown[shown["test"] == test]
    models = list(dict.fromkeys(shown["model"]))
    truths = list(dict.fromkeys(shown["truth"]))
    alpha = float(rates.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (6.6, 1.6 + 0.55 * len(models)))
    colors = ["#0173b2", "#de8f05", "#029e73", "#cc78bc"]
    markers = ["o", "s", "D", "^"]
    offsets = np.linspace(-0.12, 0.12, len(truths)) if len(truths) > 1 else [0.0]
    for k, truth in enumerate(truths):
        sub = shown[shown["truth"] == truth].set_index("model").reindex(models)
        y = np.arange(len(models)) + offsets[k]
        err = [100 * (sub["rate"] - sub["ci_low"]), 100 * (sub["ci_high"] - sub["rate"])]
        ax.errorbar(100 * sub["rate"], y, xerr=err, fmt=markers[k % 4], color=colors[k % 4], capsize=3,
                    label=str(truth))
    ax.axvline(100 * alpha, color="0.3", linestyle="--", linewidth=1, label=f"nominal {alpha:.0%}")
    ax.set_yticks(np.arange(len(models)), models)
    ax.set_ylim(len(models) - 0.5, -0.5)
    upper = float(np.nanmax(np.r_[shown["ci_high"].to_numpy(dtype=float), 2 * alpha]))
    ax.set_xlim(0, 100 * min(1.0, upper * 1.15 + 0.02))
    fit_xlabel(ax, f"false positives for '{test}' (% of experiments with p < {alpha:g})")
    ax.set_ylabel("model")
    # Under the axes, where it covers no point; as a figure legend a layout engine makes room for it.
    handles, labels = ax.get_legend_handles_labels()
    legend = dict(title="true drug response", ncol=len(truths) + 1, frameon=False, fontsize="small",
                  title_fontsize="small")
    if ax.figure.get_layout_engine() is not None:
        ax.figure.legend(handles, labels, loc="outside lower center", **legend)
    else:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.3), **legend)
    worst = shown.loc[shown["rate"].idxmax()]
    fit_title(ax, f"No true '{test}' difference, yet model '{worst['model']}' finds one in {worst['rate']:.0%}",
              fontsize="medium")
    return ax
