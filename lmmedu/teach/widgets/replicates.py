"""Notebook 01's app, the pseudo-replication machine, and the display of a rates table every study app shares."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .. import studies
from ..plots import rates_plot
from ..prose import machine_readout, rates_summary
from .app import App, _WARN, _labelled, _table_html, control_style, png, widened


__all__ = ["PseudoReplicationMachine", "rates_for_display"]


class PseudoReplicationMachine(App):
    """Simulate experiments and count how often each analysis calls the drug effect significant.

    Sliders set the replicate SD, the replicate-to-replicate SD of the drug effect, the true
    drug effect (0: every significant result is a false positive; otherwise the rate is the
    power), the number of replicates, the measurements per replicate and the design (the
    readout says at once what they imply); **Run** simulates ``n_sims`` experiments with
    :func:`lmmedu.teach.studies.false_positive_rates` and shows the rates of the naive lm, the
    t-test on replicate means and the mixed model ``(1|replicate)`` against the nominal 5%.
    :meth:`run` does the same from code.

    Parameters
    ----------
    replicate_sd, replicate_treatment_sd, effect, n_replicates, obs_per_replicate, design, n_sims
        Starting values of the controls.
    seed : int, default 1
        Seed of the study (fixed, so a rerun with the same settings gives the same rates).

    Examples
    --------
    >>> m = PseudoReplicationMachine()
    >>> rates = m.run(n_sims=5)
    >>> rates["analysis"].tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """

    title = ("<b>Pseudo-replication machine</b>: simulate experiments with <i>no</i> drug effect; choose a "
             "design and press <b>Run</b> to count each analysis's false positives.")

    OBS_OPTIONS = (2, 5, 10, 20, 50, 100, 200, 500, 1000)
    SIM_OPTIONS = (100, 200, 400)
    controls = ("replicate_sd", "replicate_treatment_sd", "effect", "n_replicates", "obs_per_replicate", "design",
                "n_sims")
    live = False
    failure = "Could not simulate"

    def __init__(self, replicate_sd=0.2, n_replicates=4, obs_per_replicate=100, design="between", n_sims=200,
                 seed=1, replicate_treatment_sd=0.1, effect=0.0):
        style, width = control_style("replicate SD (log scale)", "drug-effect SD (replicates)",
                                     "true drug effect (0: none)", "measurements per replicate")
        layout = widgets.Layout(width=width)
        self.replicate_sd = widgets.FloatSlider(value=replicate_sd, min=0.0, max=1.0, step=0.05,
                                                description="replicate SD (log scale)", style=style,
                                                layout=layout, continuous_update=False)
        self.replicate_treatment_sd = widgets.FloatSlider(
            value=replicate_treatment_sd, min=0.0, max=0.5, step=0.025, readout_format=".3f",
            description="drug-effect SD (replicates)", style=style, layout=layout, continuous_update=False)
        self.effect = widgets.FloatSlider(value=effect, min=-0.5, max=0.5, step=0.05,
                                          description="true drug effect (0: none)", style=style, layout=layout,
                                          continuous_update=False)
        self.n_replicates = widgets.IntSlider(value=n_replicates, min=2, max=12, description="replicates",
                                              style=style, layout=layout, continuous_update=False)
        self.obs_per_replicate = widgets.SelectionSlider(options=self.OBS_OPTIONS, value=obs_per_replicate,
                                                         description="measurements per replicate", style=style,
                                                         layout=layout, continuous_update=False)
        self.design = widgets.ToggleButtons(options=["between", "within"], value=design)
        self.n_sims = widgets.Dropdown(options=self.SIM_OPTIONS, value=n_sims, description="experiments",
                                       layout=widened(style, 110),
                                       style=style)
        (self.button, self.progress_bar, self.readout, self.status, self.plot,
         self.table) = self.study_views(n_sims, style=style)
        self.seed = seed
        super().__init__(views=[
            self.replicate_sd, self.replicate_treatment_sd, self.effect, self.n_replicates, self.obs_per_replicate,
            _labelled("design", self.design, style["description_width"]),
            widgets.HBox([self.n_sims, self.button]), self.progress_bar, self.readout, self.status, self.plot,
            self.table,
        ])

    def update(self, replicate_sd, n_replicates, obs_per_replicate, design, n_sims, replicate_treatment_sd=0.0,
               effect=0.0, progress=False):
        """The rates table of :func:`lmmedu.teach.studies.false_positive_rates` for these settings."""
        return studies.false_positive_rates(n_replicates=int(n_replicates), obs_per_replicate=int(obs_per_replicate),
                                            replicate_sd=float(replicate_sd), design=design, n_sims=int(n_sims),
                                            seed=self.seed, progress=progress,
                                            replicate_treatment_sd=float(replicate_treatment_sd),
                                            effect=float(effect))

    def show_study(self, results):
        """Show a :func:`~lmmedu.teach.studies.simulate_p_values` table computed elsewhere (a cached
        study, ``load_study``) as :meth:`run` would show it for that study's settings.

        Examples
        --------
        >>> from lmmedu.teach.studies import load_study
        >>> m = PseudoReplicationMachine()
        >>> m.show_study(load_study("pseudoreplication_machine_study"))["n_sims"].tolist()
        [60, 60, 60]
        >>> m.status.value.startswith("Ran 60 experiments (between design")
        True
        """
        s = results.attrs.get("settings", {})
        table = studies.rates(results)
        table.attrs["problem"] = studies.design_problem(s["n_replicates"], s["design"])
        return self.present(table, **{name: s[name] for name in self.controls if name in s})

    def preview(self):
        s = self.settings()
        try:
            self.readout.value = machine_readout(s["replicate_sd"], s["n_replicates"], s["obs_per_replicate"],
                                                 s["design"], replicate_treatment_sd=s["replicate_treatment_sd"],
                                                 effect=s["effect"])
        except ValueError as exc:
            self.readout.value = f"<span style='color:{_WARN}'>{html.escape(str(exc))}</span>"

    def show(self, result):
        self.status.value = html.escape(rates_summary(result))
        self.plot.value = png(rates_plot(result).figure)
        power = bool(result.attrs.get("settings", {}).get("effect", 0.0))
        self.table.value = _table_html(_rates_for_display(result, power))


def _pct(v):
    return "-" if pd.isna(v) else f"{v:.1%}"


def _df_words(v):
    return "-" if pd.isna(v) or v == 0 else ("∞" if np.isinf(v) else f"{v:,.1f}")


def _rates_for_display(rates, power=False):
    """A rates table as short text (percentages, "-" where an analysis could not test)."""
    shown = pd.DataFrame({
        "analysis": rates["analysis"],
        "experiments": rates["n_sims"],
        ("detections" if power else "false positives"): rates["rejections"],
        "rate": rates["rate"].map(_pct),
        "95% CI": [f"{_pct(lo)} to {_pct(hi)}" if pd.notna(lo) else "-"
                   for lo, hi in zip(rates["ci_low"], rates["ci_high"])],
    })
    if "coverage" in rates.columns:
        shown["CI coverage"] = rates["coverage"].map(_pct)
    shown["typical SE"] = rates["median_se"].map(lambda v: "-" if pd.isna(v) else f"{v:.3g}")
    shown["typical df"] = rates["median_df"].map(_df_words)
    shown["singular fits"] = rates["n_singular"]
    return shown


#: Words for the setting columns of the study tables.
SETTING_WORDS = {"n_groups": "replicates", "n_replicates": "replicates", "group_size": "measurements per replicate",
                 "obs_per_replicate": "measurements per replicate", "cells_per_replicate": "cells per replicate",
                 "icc": "ICC", "slope_sd": "SD of replicate drug effects", "replicate_sd": "replicate SD",
                 "replicate_treatment_sd": "SD of replicate drug effects", "design": "design", "effect": "effect"}


def rates_for_display(table):
    """A study's rates table as a learner reads it: plain column names, one row per setting and analysis.

    The tidy tables of :mod:`lmmedu.teach.studies` keep names for code (``n_sims``, ``ci_low``,
    ``fp_low``) and a 0, 1, 2... index; this one says "experiments", "95% CI", gives rates as
    percentages, and is indexed by what the rows differ in: the settings that vary (in words)
    and the analysis. Settings that are the same in every row are left out (the text says them).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~lmmedu.teach.studies.rates`, :func:`~lmmedu.teach.studies.rates_and_coverage` or
        :func:`~lmmedu.teach.studies.power_and_false_positives`.

    Returns
    -------
    pandas.DataFrame
        Text cells, for display only.

    Examples
    --------
    >>> t = pd.DataFrame({"n_groups": [4, 4, 8, 8], "icc": 0.2, "analysis": ["z", "t", "z", "t"],
    ...                   "n_sims": 100, "rejections": [18, 7, 9, 6], "rate": [0.18, 0.07, 0.09, 0.06],
    ...                   "ci_low": [0.12, 0.03, 0.05, 0.03], "ci_high": [0.27, 0.14, 0.16, 0.12],
    ...                   "median_se": 0.1, "median_df": [float("inf"), 2.1, float("inf"), 6.0], "n_singular": 0})
    >>> shown = rates_for_display(t)
    >>> list(shown.index.names), list(shown.columns[:3])
    (['replicates', 'analysis'], ['experiments', 'false positives', 'rate'])
    >>> shown.loc[(4, "z"), "95% CI"]
    '12.0% to 27.0%'
    """
    settings = [c for c in (table.attrs.get("setting_columns") or SETTING_WORDS) if c in table.columns]
    keys = [c for c in settings if table[c].nunique() > 1] + ["analysis"]
    if "false_positive_rate" in table.columns:  # power_and_false_positives: both rates per row
        def with_ci(rate, low, high):
            return [f"{_pct(r)} ({_pct(a)} to {_pct(b)})" if pd.notna(r) else "-" for r, a, b in zip(rate, low, high)]

        shown = pd.DataFrame({
            "experiments per rate": table["n_sims"],
            "false positives (95% CI)": with_ci(table["false_positive_rate"], table["fp_low"], table["fp_high"]),
            "power (95% CI)": with_ci(table["power"], table["power_low"], table["power_high"]),
            "typical df": table["median_df"].map(_df_words),
        })
    else:
        power = bool(table.attrs.get("settings", {}).get("effect", 0.0))
        shown = _rates_for_display(table, power).drop(columns="analysis")
    shown.index = pd.MultiIndex.from_frame(table[keys]) if len(keys) > 1 else pd.Index(table["analysis"])
    shown.index.names = [SETTING_WORDS.get(k, k.replace("_", " ")) for k in keys]
    return shown
