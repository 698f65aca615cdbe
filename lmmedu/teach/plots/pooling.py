"""The plots of notebook 06 (shrinkage and random slopes).

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.transforms import Bbox

from ..cells import check_columns
from .base import PAGE_WIDTH, legend_below, fit_title, fit_xlabel, fit_ylabel, new_axes, new_figure, new_panels

__all__ = ["POOLING_COLOURS", "pooling_panels", "covariance_ellipse", "shrinkage_axes", "shrinkage_plot", "caterpillar_table",
            "caterpillar_plot", "pooling_error_plot", "singular_study_plot"]

#: Colours of complete, no and partial pooling (colour-blind palette, not the treatment colours).
POOLING_COLOURS = dict(zip(("complete pooling", "no pooling", "partial pooling"),
                           [sns.color_palette("colorblind")[i] for i in (7, 1, 2)]))


def _slope_term(table, func):
    check_columns(table, ["term", "no pooling", "partial pooling", "complete pooling", "population"], func)
    terms = list(dict.fromkeys(table["term"]))
    if len(terms) != 2 or terms[0] != "Intercept":
        raise ValueError(f"{func} needs the pooling table of a model with a random intercept and one random slope, "
                         f"such as (1 + treatment|replicate); got terms {terms}.")
    return terms[1]


def _wide(table, column):
    """``column`` with one row per group (in the table's order) and one column per term (sorted, as ``pivot``)."""
    group = table.attrs.get("group", table.columns[0])
    # Placed by position, not with DataFrame.pivot: a widget redraws on every move, and pivot's
    # reshaping machinery costs milliseconds for a table of a few dozen rows.
    rows, cols = pd.Index(list(dict.fromkeys(table[group])), name=group), pd.Index(sorted(set(table["term"])), name="term")
    values = np.full((len(rows), len(cols)), np.nan)
    values[rows.get_indexer(table[group]), cols.get_indexer(table["term"])] = table[column].to_numpy(dtype=float)
    return pd.DataFrame(values, index=rows, columns=cols)


def _pull_text(table, group, level, slope):
    pull = table[table[group] == level].set_index("term")["pull"]
    return f"{pull[slope]:.0%} of the way for the drug effect, {pull['Intercept']:.0%} for the control level"


def pooling_panels(table, axes=None, ncols=5, reference="control"):
    """One panel per group: the complete-, no- and partial-pooling lines (and the truth).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.pooling_table` of a ``(1 + x|group)`` model with a
        two-level factor ``x``.
    axes : sequence of matplotlib.axes.Axes, optional
        One per group; a new figure when None.
    ncols : int, default 5
    reference : str, default "control"
        Label of the reference level (left end of every line).

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lmmedu
    >>> from lmmedu.teach.comparison import pooling_table
    >>> from lmmedu.teach.studies import SLOPE_FORMULA, simulate_pooling
    >>> axes = pooling_panels(pooling_table(lmmedu.fit(SLOPE_FORMULA, simulate_pooling(4, n_replicates=4))))
    >>> len(axes)
    4
    """
    import matplotlib.pyplot as plt

    slope = _slope_term(table, "pooling_panels")
    group = table.attrs.get("group", table.columns[0])
    level = slope.split("[T.")[-1].rstrip("]") if "[T." in slope else slope
    levels = list(dict.fromkeys(table[group]))
    if axes is None:
        nrows = int(np.ceil(len(levels) / ncols))
        fig, grid = plt.subplots(nrows, min(ncols, len(levels)), figsize=(1.5 * min(ncols, len(levels)), 2.3 * nrows),
                                 sharex=True, sharey=True, layout="constrained", squeeze=False)
        for ax in grid.ravel()[len(levels):]:
            ax.set_visible(False)
        axes = grid.ravel()[:len(levels)]
    axes = np.asarray(axes, dtype=object).ravel()
    if len(axes) != len(levels):
        raise ValueError(f"pooling_panels needs one Axes per group ({len(levels)}), got {len(axes)}.")
    methods = list(POOLING_COLOURS)
    wide = {m: _wide(table, m) for m in methods}
    truth = _wide(table, "truth") if "truth" in table.columns else None
    n_obs = table.drop_duplicates(group).set_index(group)["n_obs"]
    pull = table.groupby(group, sort=False)["pull"].mean()
    hardest = pull.idxmax() if pull.notna().any() else None
    for ax, lev in zip(axes, levels):
        for m, style in zip(methods, ("-", "--", "-")):
            a, b = wide[m].loc[lev, "Intercept"], wide[m].loc[lev, slope]
            if np.isfinite(a) and np.isfinite(b):
                ax.plot([0, 1], [a, a + b], style, color=POOLING_COLOURS[m], linewidth=2 if m != "no pooling" else 1.5,
                        marker="o" if m == "no pooling" else None, markersize=4, label=m)
        if truth is not None:
            a, b = truth.loc[lev, "Intercept"], truth.loc[lev, slope]
            ax.plot([0, 1], [a, a + b], ":", color="black", marker="x", linewidth=1, label="truth")
        ax.set_title(f"{lev} ({int(n_obs[lev])} cells)", fontsize="small",
                     fontweight="bold" if lev == hardest else "normal")
        ax.set_xticks([0, 1], [reference, level])
        ax.set_xlim(-0.2, 1.2)
    for ax in axes[::ncols]:
        ax.set_ylabel("log length (log µm)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig = axes[0].figure
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize="small")
    if hardest is not None:
        # Broken into short lines: a long title would widen the figure past the output area.
        fig.suptitle(f"Partial pooling lies between each group's own line and the common line;\n{hardest} "
                     f"({int(n_obs[hardest])} cells) is pulled most: {_pull_text(table, group, hardest, slope)}",
                     fontsize="medium")
    return axes


def covariance_ellipse(center, cov, level=0.95, n=120):
    """Points on the ``level`` contour of a 2-D normal distribution (its probability ellipse).

    Parameters
    ----------
    center : array_like (2,)
    cov : array_like (2, 2)
        Covariance matrix (positive semi-definite; a singular one gives a line segment).
    level : float, default 0.95
        Share of the distribution inside the contour.
    n : int, default 120

    Returns
    -------
    ndarray (n, 2)

    Examples
    --------
    >>> pts = covariance_ellipse([0, 0], [[4, 0], [0, 1]], level=0.95)
    >>> round(float(pts[:, 0].max()), 2)  # 2 SD * sqrt(chi2_2(0.95)) = 2 * 2.45
    4.9
    """
    from scipy import stats as _stats

    cov = np.asarray(cov, dtype=float)
    if cov.shape != (2, 2) or not np.all(np.isfinite(cov)):
        raise ValueError(f"cov must be a finite 2 x 2 covariance matrix, got shape {cov.shape}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}.")
    evals, evecs = np.linalg.eigh((cov + cov.T) / 2)
    radius = np.sqrt(_stats.chi2.ppf(level, df=2))
    angle = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    return np.asarray(center, dtype=float) + (evecs @ (np.sqrt(np.maximum(evals, 0))[:, None] * circle) * radius).T


def shrinkage_axes(pyplot=True):
    """The Axes of :func:`shrinkage_plot` as the slope explorer draws it: a figure with fixed margins.

    Fixed margins instead of a layout engine keep a redraw cheap (the explorer redraws on every
    slider move), and so does a title at a fixed height (matplotlib otherwise measures the tick
    labels on every draw to check that the title clears them; nothing is drawn above the panel).
    ``pyplot=False`` gives a figure that pyplot does not track, with its own Agg canvas, which
    keeps its font caches from one draw to the next: for widgets that draw it again on every
    move and turn it into PNG bytes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = shrinkage_axes(pyplot=False)
    >>> ax.figure.get_size_inches().tolist(), type(ax.figure.canvas).__name__
    ([7.5, 4.6], 'FigureCanvasAgg')
    """
    import matplotlib

    # Margins in inches, those the constrained layout gives this figure with the notebooks' seaborn
    # fonts at every slider end (the widest y tick labels on the left, the legend on the right, a
    # title of up to four lines on top), with a little room to spare on the left.
    width, height = 7.5, 4.6
    fig = new_figure((width, height), pyplot=pyplot)
    with matplotlib.rc_context({"axes.titley": 1.0}):  # a fixed title height (see above)
        ax = fig.add_subplot()
    fig.subplots_adjust(left=0.78 / width, right=1 - 3.2 / width, bottom=0.55 / height, top=1 - 0.88 / height)
    return ax


#: Gid of the artists :func:`shrinkage_plot` draws from the data (all but the axis labels and title).
_SHRINKAGE_GID = "lmmedu-shrinkage"


def _clear_shrinkage(ax):
    """Take off ``ax`` what an earlier :func:`shrinkage_plot` drew from its data, and forget its data limits.

    The axis, its ticks and labels stay: making them again is most of the cost of a new figure.
    """
    drawn = [a for a in (*ax.lines, *ax.patches, *ax.collections, *ax.texts) if a.get_gid() == _SHRINKAGE_GID]
    for artist in drawn:
        artist.remove()
    if drawn:
        from matplotlib.transforms import Bbox

        # The limits of a new Axes: the artists drawn next set them as on a new figure.
        ax.dataLim.set_points(Bbox.null().get_points())
        ax.ignore_existing_data_limits = True
        ax.set_autoscale_on(True)


def _shrinkage_legend(ax):
    """The legend of :func:`shrinkage_plot`: the one already on ``ax`` if it has the same entries.

    Its entries are drawn from copies of the artists, so it outlives them; of what it shows only
    the size of a scatter's marker follows the data (the mean of its smallest and largest point),
    and is set as a new legend would set it. A legend kept keeps its text, whose pixels the
    slope explorer then need not draw again.
    """
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.get_legend()
    if legend is None or [t.get_text() for t in legend.get_texts()] != labels:
        return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    for key, handle in zip(legend.legend_handles, handles):
        if hasattr(handle, "get_sizes"):
            handler = legend.get_legend_handler(legend.get_legend_handler_map(), handle)
            key.set_sizes(handler.get_sizes(legend, handle, 0, 0, 0, 0, 0))
    return legend


def shrinkage_plot(table, cov, ax=None, level=0.95, show_truth=True):
    """Arrows from each group's no-pooling estimate to its partial-pooling estimate, with the ellipse.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.pooling_table` of a random intercept + one random slope model.
    cov : array_like (2, 2)
        Estimated random-effect covariance (:func:`lmmedu.teach.comparison.random_effect_cov`);
        its ``level`` ellipse is drawn around the population estimate.
    ax : matplotlib.axes.Axes, optional
        Axes this function drew on before are drawn again: what it drew from the data (ellipse,
        arrows, points, legend) is replaced, the axis and its labels stay, and the picture is
        the one a new figure would show, at a fraction of the cost (the slope explorer redraws
        on every slider move, on :func:`shrinkage_axes`).
    level : float, default 0.95
    show_truth : bool, default True
        Draw each group's true coefficients (when the table has them).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lmmedu
    >>> from lmmedu.teach.comparison import pooling_table, random_effect_cov
    >>> from lmmedu.teach.studies import SLOPE_FORMULA, simulate_pooling
    >>> m = lmmedu.fit(SLOPE_FORMULA, simulate_pooling(4))
    >>> ax = shrinkage_plot(pooling_table(m), random_effect_cov(m))
    >>> ax.get_xlabel()
    'Intercept: mean log length of control cells (log µm)'
    >>> drawn = len(ax.collections)
    >>> m3 = lmmedu.fit(SLOPE_FORMULA, simulate_pooling(4, n_replicates=3))
    >>> len(shrinkage_plot(pooling_table(m3), random_effect_cov(m3), ax=ax).collections) == drawn  # replaced
    True
    """
    slope = _slope_term(table, "shrinkage_plot")
    group = table.attrs.get("group", table.columns[0])
    ax = new_axes(ax, (PAGE_WIDTH, 5.0))
    _clear_shrinkage(ax)
    gid = _SHRINKAGE_GID
    none, partial = _wide(table, "no pooling"), _wide(table, "partial pooling")
    pop = table.drop_duplicates("term").set_index("term")["population"]
    center = [pop["Intercept"], pop[slope]]
    ell = covariance_ellipse(center, cov, level=level)
    ax.fill(ell[:, 0], ell[:, 1], color=POOLING_COLOURS["partial pooling"], alpha=0.12, linewidth=0, gid=gid)
    ax.plot(ell[:, 0], ell[:, 1], color=POOLING_COLOURS["partial pooling"], linewidth=1,
            label=f"{level:.0%} of replicates (estimated spread)", gid=gid)
    n_obs = table.drop_duplicates(group).set_index(group)["n_obs"]
    pull = table.groupby(group, sort=False)["pull"].mean()
    hardest = pull.idxmax() if pull.notna().any() else None
    ok = none.notna().all(axis=1)
    # One quiver for all arrows: a single artist draws fast enough for a slider.
    start = none.loc[ok, ["Intercept", slope]].to_numpy()
    step = partial.loc[ok, ["Intercept", slope]].to_numpy() - start
    ax.quiver(start[:, 0], start[:, 1], step[:, 0], step[:, 1], angles="xy", scale_units="xy", scale=1,
              color="dimgray", width=0.004, headwidth=4, headlength=5, zorder=2, gid=gid)
    ax.scatter(none.loc[ok, "Intercept"], none.loc[ok, slope], s=12 + 2 * n_obs[none.index[ok]].to_numpy(),
               color=POOLING_COLOURS["no pooling"], label="no pooling (size: cells)", zorder=3, gid=gid)
    ax.scatter(partial["Intercept"], partial[slope], s=25, color=POOLING_COLOURS["partial pooling"],
               label="partial pooling", zorder=4, gid=gid)
    ax.scatter(*center, marker="P", s=120, color="black", label="population estimate", zorder=5, gid=gid)
    if show_truth and "truth" in table.columns:
        truth = _wide(table, "truth")
        ax.scatter(truth["Intercept"], truth[slope], marker="x", s=25, color="black", linewidths=1,
                   label="truth", zorder=4, gid=gid)
    if hardest is not None and ok.get(hardest, False):
        point = (none.loc[hardest, "Intercept"], none.loc[hardest, slope])
        ax.autoscale_view()
        low, high = ax.get_ylim()
        # A point in the top fifth of the panel gets its label below it: above, it runs into the title.
        below = point[1] > low + 0.8 * (high - low)
        ax.annotate(f"{hardest}: {int(n_obs[hardest])} cells", point, xytext=(6, -6 if below else 6),
                    textcoords="offset points", verticalalignment="top" if below else "baseline",
                    fontsize="small", fontweight="bold", gid=gid)
    ax.set_xlabel("Intercept: mean log length of control cells (log µm)")
    ax.set_ylabel(f"{slope}: drug effect (log-length units)")
    _shrinkage_legend(ax)
    if hardest is not None:
        fit_title(ax, f"Partial pooling pulls the groups toward the population estimate; {hardest} "
                  f"({int(n_obs[hardest])} cells)\nis pulled hardest: {_pull_text(table, group, hardest, slope)}",
                  fontsize="medium", width=0.75 * ax.figure.get_figwidth())
        # Aligned with the panel's left edge: centred, the long title would stick out beyond the legend.
        ax.title.set(x=0.0, horizontalalignment="left")
    else:
        ax.set_title("")  # no title on a new figure, so none left from an earlier call
    return ax


def caterpillar_table(ranef, truth=None, level=0.95):
    """Conditional modes with their intervals (mode +/- z * conditional SD), and whether they cover the truth.

    Parameters
    ----------
    ranef : pandas.DataFrame
        ``fit.ranef_table()`` (columns ``group``, ``term``, ``level``, ``mode``, ``sd``).
    truth : pandas.DataFrame, optional
        True random effects (deviations from the population values): index levels, columns terms.
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``ranef`` plus ``ci_low``, ``ci_high`` and, with ``truth``, ``truth`` and ``covered``.

    Examples
    --------
    >>> r = pd.DataFrame({"group": "g", "term": "Intercept", "level": ["a", "b"], "mode": [0.1, -0.1], "sd": 0.05})
    >>> caterpillar_table(r)["ci_high"].round(3).tolist()
    [0.198, -0.002]
    """
    from scipy import stats as _stats

    check_columns(ranef, ["group", "term", "level", "mode", "sd"], "caterpillar_table")
    z = _stats.norm.ppf(0.5 + level / 2)
    out = ranef.copy()
    out["ci_low"] = out["mode"] - z * out["sd"]
    out["ci_high"] = out["mode"] + z * out["sd"]
    if truth is not None:
        true = pd.DataFrame(truth)
        out["truth"] = [float(true.loc[lev, term]) for lev, term in zip(out["level"], out["term"])]
        out["covered"] = (out["ci_low"] <= out["truth"]) & (out["truth"] <= out["ci_high"])
    out.attrs["level"] = level
    return out


def caterpillar_plot(table, axes=None, xlabel="deviation from the population value (log-length units)"):
    """Caterpillar plot: every group's conditional mode with its interval, sorted, one panel per term.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`caterpillar_table` (with or without the truth).
    axes : sequence of matplotlib.axes.Axes, optional
        One per term.
    xlabel : str
        Label of every panel's x axis (the units of the conditional modes).

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> r = pd.DataFrame({"group": "g", "term": "Intercept", "level": ["a", "b"], "mode": [0.1, -0.1], "sd": 0.05})
    >>> len(caterpillar_plot(caterpillar_table(r)))
    1
    """
    check_columns(table, ["term", "level", "mode", "ci_low", "ci_high"], "caterpillar_plot")
    terms = list(dict.fromkeys(table["term"]))
    axes = np.asarray(new_panels(axes, len(terms), (min(4.3 * len(terms), PAGE_WIDTH), 0.3 * table["level"].nunique() + 2.2),
                                 "caterpillar_plot"), dtype=object)
    level = table.attrs.get("level", 0.95)
    colour = POOLING_COLOURS["partial pooling"]
    for ax, term in zip(axes, terms):
        sub = table[table["term"] == term].sort_values("mode")
        y = np.arange(len(sub))
        ax.errorbar(sub["mode"], y, xerr=[sub["mode"] - sub["ci_low"], sub["ci_high"] - sub["mode"]], fmt="o",
                    color=colour, markersize=4, capsize=2, linewidth=1, label=f"mode, {level:.0%} interval")
        if "truth" in sub.columns:
            ax.scatter(sub["truth"], y, marker="x", color="black", s=25, label="truth", zorder=3)
        ax.axvline(0, color="dimgray", linewidth=1, linestyle="--")
        ax.set_yticks(y, sub["level"].tolist())
        fit_xlabel(ax, xlabel)
        title = term
        if "covered" in sub.columns:
            title = f"{term}:\n{int(sub['covered'].sum())} of {len(sub)} intervals contain the truth"
        fit_title(ax, title, fontsize="medium")
    axes[0].set_ylabel(str(table["group"].iloc[0]) if "group" in table.columns else "group")
    # Under the panels: inside one, the legend would cover the levels drawn in its corner.
    legend_below(axes, *axes[0].get_legend_handles_labels())
    return axes


def pooling_error_plot(summary, ax=None):
    """Typical total squared error of the group estimates under each pooling, one bar group per term.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`lmmedu.teach.studies.shrinkage_error_summary`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> s = pd.DataFrame({"term": ["a"] * 3, "method": list(POOLING_COLOURS), "total_sq_error": [3.0, 2.0, 1.0]})
    >>> pooling_error_plot(s).get_ylabel().replace("\\n", " ")  # broken into lines that fit the panel
    'total squared error over replicates (log-length units²)'
    """
    check_columns(summary, ["term", "method", "total_sq_error"], "pooling_error_plot")
    ax = new_axes(ax, (6.5, 3.8))
    sns.barplot(data=summary, x="term", y="total_sq_error", hue="method", hue_order=list(POOLING_COLOURS),
                palette=POOLING_COLOURS, ax=ax)
    ax.set_xlabel("")
    fit_ylabel(ax, "total squared error over replicates (log-length units²)")
    best = summary.loc[summary.groupby("term")["total_sq_error"].idxmin(), "method"].unique()
    fit_title(ax, f"Smallest total error: {' and '.join(best)}", fontsize="medium")
    ax.legend(frameon=False, fontsize="small")
    return ax


def singular_study_plot(results, ax=None):
    """Estimated against true slope SD in simulated experiments; singular fits marked.

    Parameters
    ----------
    results : pandas.DataFrame
        :func:`lmmedu.teach.studies.singular_fit_study`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> r = pd.DataFrame({"slope_sd": [0.0, 0.1], "estimated_sd": [0.0, 0.08], "singular": [True, False],
    ...                   "converged": True})
    >>> singular_study_plot(r).get_xlabel()
    "true SD of the replicates' drug effects (log-length units)"
    """
    check_columns(results, ["slope_sd", "estimated_sd", "singular", "converged"], "singular_study_plot")
    ax = new_axes(ax, (6.5, 4))
    sds = sorted(results["slope_sd"].unique())
    pos = {s: i for i, s in enumerate(sds)}
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(results))
    x = results["slope_sd"].map(pos).to_numpy() + jitter
    colours = sns.color_palette("colorblind")
    for flag, colour, label in ((False, colours[0], "regular fit"), (True, colours[3], "singular fit")):
        mask = results["singular"].to_numpy() == flag
        ax.scatter(x[mask], results.loc[mask, "estimated_sd"], color=colour, s=25, label=label,
                   marker="o" if not flag else "D", zorder=3)
    for s in sds:
        ax.plot([pos[s] - 0.3, pos[s] + 0.3], [s, s], color="black", linewidth=2)
    ax.plot([], [], color="black", linewidth=2, label="true SD")
    ax.set_xticks(range(len(sds)), [f"{s:g}" for s in sds])
    # The SDs are in the units of log(length); both axes are linear.
    ax.set_xlabel("true SD of the replicates' drug effects (log-length units)")
    ax.set_ylabel("estimated SD (log-length units)")
    n, n_singular = len(results), int(results["singular"].sum())
    converged = int(results["converged"].sum())
    real = results.loc[results["slope_sd"] > 0, "singular"]
    head = f"All {n} fits converged" if converged == n else f"{converged} of {n} fits converged"
    title = f"{head}, yet {n_singular} ({n_singular / n:.0%}) are singular"
    if len(real):
        title += (f";\n{int(real.sum())} of the {len(real)} fits whose true SD is not 0 "
                  f"({real.mean():.0%}) are singular too")
    fit_title(ax, title, fontsize="medium")
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    return ax
