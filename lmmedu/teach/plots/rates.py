"""The figures of every study: the one rates plot of :func:`~lmmedu.teach.studies.rates` tables and the rate curve against one setting (notebooks 01, 04)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cells import check_columns
from .base import dodged, palette, rate_rows, rate_xlim, setting_axis, fit_title, fit_xlabel, new_axes


__all__ = ["rates_plot", "rate_curve_plot"]


def rates_plot(rates, ax=None, title=None):
    """Rejection rate of each analysis with its 95% interval and the nominal level.

    When the simulated experiments have no true effect (``attrs["settings"]["effect"]`` 0 or
    absent) the rate is a false-positive rate; otherwise it is the power, and the plot says so.

    Parameters
    ----------
    rates : pandas.DataFrame
        A :func:`lmmedu.teach.studies.rates` table of one setting (e.g. from
        :func:`~lmmedu.teach.studies.false_positive_rates` or
        :func:`~lmmedu.teach.studies.random_slope_rates`).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
        Default: the analysis with the highest rate, and the settings.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import false_positive_rates
    >>> rates_plot(false_positive_rates(n_sims=10, obs_per_replicate=10)).get_xlabel()
    'false-positive rate (share of experiments with p < 0.05)'
    """
    check_columns(rates, ["analysis", "rate", "ci_low", "ci_high", "n_sims", "n_missing"], "rates_plot")
    if len(rates["analysis"]) != rates["analysis"].nunique():
        raise ValueError("rates_plot shows one setting; for a table with several, use rate_curve_plot.")
    settings = rates.attrs.get("settings", {})
    alpha = float(rates.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (7.5, 0.9 + 0.7 * len(rates)))
    rate_rows(ax, rates, alpha, "not testable in this design")
    upper = np.nanmax(np.r_[rates["ci_high"].to_numpy(dtype=float), alpha * 2])
    rate_xlim(ax, min(1.0, upper * 1.25 + 0.02))
    effect = float(settings.get("effect", 0.0) or 0.0)
    if effect:
        fit_xlabel(ax, f"power (share of experiments with p < {alpha:g}; true effect {effect:g} on the log scale)")
    else:
        fit_xlabel(ax, f"false-positive rate (share of experiments with p < {alpha:g})")
    if title is None:
        n = int((rates["n_sims"] + rates["n_missing"]).max())
        truth_text = f"true effect {effect:g}" if effect else "no true effect"
        title = f"{n} simulated experiments, {truth_text}"
        if rates["rate"].notna().any():
            if effect:
                best = rates.loc[rates["rate"].idxmax()]
                title = f"{best['analysis']} detects the effect in {best['rate']:.0%} ({n} experiments, {truth_text})"
            else:
                worst = rates.loc[rates["rate"].idxmax()]
                title = f"{worst['analysis']}: {worst['rate']:.0%} false positives ({n} experiments, no true effect)"
        if "design" in settings:
            title += (f"\n{settings.get('design')} design, {settings.get('n_replicates')} replicates, "
                      f"{settings.get('obs_per_replicate')} measurements per replicate")
            if settings.get("replicate_treatment_sd") is not None:
                title += f", drug-effect SD {settings['replicate_treatment_sd']:g}"
    fit_title(ax, title, fontsize="medium")
    ax.legend(loc="lower right", frameon=False, fontsize="small", borderaxespad=0.2)
    return ax


_AXIS_LABELS = {
    "obs_per_replicate": "measurements per replicate (log scale)",
    "n_replicates": "number of replicates",
    "replicate_sd": "replicate SD (log scale of length)",
    "replicate_treatment_sd": "SD of the drug effect between replicates (log scale of length)",
}


_TITLE_UNITS = {"obs_per_replicate": "measurements per replicate", "n_replicates": "replicates",
                "replicate_sd": "as replicate SD"}


def rate_curve_plot(curve, ax=None):
    """False-positive rate of each analysis against the setting a :func:`rate_curve` varied.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`lmmedu.teach.studies.rate_curve`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import rate_curve
    >>> rate_curve_plot(rate_curve("obs_per_replicate", [5, 50], n_sims=3)).get_xscale()
    'log'
    """
    columns = curve.attrs.get("setting_columns", []) if isinstance(curve, pd.DataFrame) else []
    if len(columns) != 1 or columns[0] not in curve.columns:
        raise ValueError("rate_curve_plot needs a rates table with one setting column, such as the output of "
                         "lmmedu.teach.studies.rate_curve.")
    vary = columns[0]
    settings = curve.attrs.get("settings", {})
    alpha = float(curve.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (7.0, 3.8))
    methods = list(dict.fromkeys(curve["analysis"]))
    colours = palette(len(methods))
    values = sorted(curve[vary].unique())
    log_x = vary == "obs_per_replicate" and min(values) > 0
    # Methods side by side around each value, so the intervals do not hide each other.
    spread = 0.04 if log_x else 0.02 * (max(values) - min(values) or 1)
    for i, method in enumerate(methods):
        sub = curve[curve["analysis"] == method].sort_values(vary)
        x = dodged(sub[vary].to_numpy(dtype=float), i, len(methods), spread, log_x)
        ok = sub["n_sims"].to_numpy() > 0
        ax.errorbar(x[ok], sub["rate"].to_numpy()[ok],
                    yerr=[(sub["rate"] - sub["ci_low"]).to_numpy()[ok], (sub["ci_high"] - sub["rate"]).to_numpy()[ok]],
                    fmt="-o", color=colours[i], capsize=3, label=method)
    setting_axis(ax, values, log_x, alpha, _AXIS_LABELS.get(vary, vary))
    ax.set_ylabel(f"false-positive rate (p < {alpha:g})")
    top = min(1.0, max(alpha * 2, float(curve["ci_high"].max())) * 1.1)
    ax.set_ylim(-0.025 * top, top)  # a rate of 0 drawn whole, not cut by the frame
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    naive = curve[curve["analysis"] == "naive lm"].sort_values(vary)
    if len(naive) >= 2:
        first, last = naive.iloc[0], naive.iloc[-1]
        unit = _TITLE_UNITS.get(vary, vary)
        fit_title(ax, f"naive lm: {first['rate']:.0%} false positives with {first[vary]:g} {unit}, "
                      f"{last['rate']:.0%} with {last[vary]:g}\n({settings.get('design')} design, no true effect)",
                  fontsize="medium", width=0.55 * ax.figure.get_figwidth())
    return ax
