"""The figure of notebook 06's "How well do a few replicates estimate an SD?" explorer.

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.transforms import Bbox

from ..cells import check_columns
from .base import PAGE_WIDTH, legend_below, fit_title, fit_xlabel, fit_ylabel, new_panels

__all__ = ["sd_interval_plot"]


#: Axes drawn by :func:`sd_interval_plot` (first panel -> its panels, methods, data artists and legend), so that a
#: later call with the same Axes gives the same artists new data instead of drawing over them.
_SD_INTERVAL_ARTISTS = weakref.WeakKeyDictionary()


def sd_interval_plot(intervals, truth, axes=None, level=0.95,
                     xlabel="SD of the replicates' drug effects (log-length units)"):
    """Every simulated experiment's interval of an SD against the truth, one panel per interval method.

    Parameters
    ----------
    intervals : pandas.DataFrame
        One row per experiment and method: ``sim``, ``analysis`` (the method), ``estimate``,
        ``lower``, ``upper``, ``singular`` (as :func:`lmmedu.teach.studies.sd_interval_view`
        gives them).
    truth : float
        The true SD, drawn as a vertical line; intervals that miss it are drawn in another colour.
    axes : sequence of matplotlib.axes.Axes, optional
        One per method. Axes that an earlier call returned (for the same methods) are redrawn in
        place: their lines, points, titles, limits and legend take the new data, which is much
        quicker than a new figure (a widget's slider), and looks the same.
    level : float, default 0.95
        Nominal level, for the titles.
    xlabel : str

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"sim": [0, 1, 0, 1], "analysis": ["profile", "profile", "bootstrap", "bootstrap"],
    ...                   "estimate": [0.1, 0.0, 0.12, 0.01], "lower": [0.05, 0.0, 0.04, 0.0],
    ...                   "upper": [0.2, 0.05, 0.2, 0.04], "singular": [False, True, False, True]})
    >>> axes = sd_interval_plot(t, 0.1)
    >>> [ax.get_title().split(":")[0] for ax in axes]
    ['profile', 'bootstrap']
    >>> sd_interval_plot(t, 0.03, axes=axes)[0].get_title().split("\\n")[0]  # the same Axes, redrawn
    'profile: 1 of 2 95% intervals'
    """
    check_columns(intervals, ["sim", "analysis", "estimate", "lower", "upper", "singular"], "sd_interval_plot")
    methods = list(dict.fromkeys(intervals["analysis"]))
    n_sims = intervals["sim"].nunique()
    drawn = _SD_INTERVAL_ARTISTS.get(np.asarray(axes, dtype=object).ravel()[0]) if axes is not None else None
    if drawn is not None and drawn["methods"] == methods:
        axes = np.asarray(drawn["axes"], dtype=object)
    else:
        drawn = None
        axes = np.asarray(new_panels(axes, len(methods), (min(4.1 * len(methods), PAGE_WIDTH), 0.07 * n_sims + 2.4),
                                     "sd_interval_plot", sharey=True, sharex=True), dtype=object)
    colours = sns.color_palette("colorblind")
    hit, miss = colours[0], colours[1]
    # Plain arrays: a widget redraws every slider move, and pandas' per-call overhead is most of the data's time.
    analysis, sims = intervals["analysis"].to_numpy(), intervals["sim"].to_numpy()
    columns = {c: intervals[c].to_numpy(float) for c in ("lower", "upper", "estimate")}
    flags = intervals["singular"].to_numpy(bool)
    # Experiments in the order of the first method's estimate, the same rows in every panel.
    first = analysis == methods[0]
    order = sims[first][np.lexsort((sims[first], columns["estimate"][first]))].tolist()
    row = {s: i for i, s in enumerate(order)}
    panels = []
    for i, (ax, method) in enumerate(zip(axes, methods)):
        at = analysis == method
        y = np.array([row.get(s, np.nan) for s in sims[at]], dtype=float)
        lower, upper, estimate = (columns[c][at] for c in ("lower", "upper", "estimate"))
        covered = (lower <= truth) & (truth <= upper)
        singular = flags[at]
        if drawn is None:
            artists = [ax.hlines(y[mask], lower[mask], upper[mask], color=colour, linewidth=1.6, label=label)
                       for mask, colour, label in ((covered, hit, "covers the truth"),
                                                   (~covered, miss, "misses the truth"))]
            artists.append(ax.scatter(estimate[~singular], y[~singular], color="black", s=9, zorder=3,
                                      label="estimate"))
            artists.append(ax.scatter(estimate[singular], y[singular], facecolor="white", edgecolor="black", s=16,
                                      marker="D", zorder=3, label="estimate of a singular fit"))
            artists.append(ax.axvline(truth, color="black", linewidth=1.2, linestyle="--", label=f"true SD {truth:g}"))
            panels.append(artists)
            ax.set_yticks([])
            fit_xlabel(ax, xlabel)
        else:
            covers, misses, points, singular_points, truth_line = drawn["panels"][i]
            for artist, mask in ((covers, covered), (misses, ~covered)):
                artist.set_segments(np.stack([np.column_stack([lower[mask], y[mask]]),
                                              np.column_stack([upper[mask], y[mask]])], axis=1))
            points.set_offsets(np.column_stack([estimate[~singular], y[~singular]]))
            singular_points.set_offsets(np.column_stack([estimate[singular], y[singular]]))
            truth_line.set_xdata([truth, truth])
            # The data limits the calls above would give: every interval's ends and estimate, and the truth in x.
            ax.dataLim.set_points(Bbox.null().get_points())
            ax.ignore_existing_data_limits = True
            ax.update_datalim(np.column_stack([np.concatenate([lower, upper, estimate]), np.tile(y, 3)]))
            ax.update_datalim([(truth, 0.0)], updatey=False)
            ax.set_autoscalex_on(True)
        ax.set_ylim(-1, max(len(order), 1))
        fit_title(ax, f"{method}: {int(covered.sum())} of {int(at.sum())} {level:.0%} intervals\ncover the truth",
                  fontsize="medium")
    if drawn is not None:
        axes[0].autoscale_view(scaley=False)  # the panels share x: one autoscale over all of them
    axes[0].set_xlim(left=-0.02 * float(np.nanmax(columns["upper"])))
    if drawn is None:
        fit_ylabel(axes[0], "experiments, sorted by estimate")
        handles, labels = axes[0].get_legend_handles_labels()
        keep = [i for i, lab in enumerate(labels) if lab]
        legend = legend_below(axes, [handles[i] for i in keep], [labels[i] for i in keep])
        _SD_INTERVAL_ARTISTS[axes[0]] = dict(methods=methods, axes=list(axes), panels=panels, legend=legend)
    else:
        for text in drawn["legend"].get_texts():
            if text.get_text().startswith("true SD "):
                text.set_text(f"true SD {truth:g}")
    return axes
