"""Core of :mod:`lmmedu.teach.widgets`: the App base class and the apps of notebooks 00-04.

The overview of the package is in :mod:`lmmedu.teach.widgets`; the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
import io

import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from .. import studies
from ..cells import CODINGS, coding_view, levels
from ..comparison import se_table
from ..plots import cell_means_plot, rates_plot
from ..prose import machine_readout, rates_summary, units_sentence
from ...data.checks import count as _count, finite as _finite, sd as _sd
from ...data.simulate import DEFAULT_TREATMENT_EFFECTS, simulate_replicates, truth
from ...stats.fit import fit, fit_lm

__all__ = [
    "App",
    "png",
    "error_html",
    "environment_report",
    "EnvironmentCheck",
    "PseudoReplicationMachine",
    "StandardErrorExplorer",
    "CodingExplorer",
    "InteractionView",
    "InteractionExplorer",
    "RandomSlopeMachine",
    "rates_for_display",
    "control_style",
    "widened",
]

#: Packages whose versions the environment check prints.
CHECKED_PACKAGES = ("lmmedu", "numpy", "scipy", "pandas", "patsy", "statsmodels", "matplotlib", "seaborn",
                    "ipywidgets", "jupyterlab_widgets", "tqdm")

# Background of highlighted rows in widget tables: a pale yellow that reads on light themes
# and does not rely on red/green.
_HIGHLIGHT = "#fde68a"
_WARN = "#b35806"


# ---------------------------------------------------------------------------
# The one pattern
# ---------------------------------------------------------------------------
def png(fig, dpi=96):
    """PNG bytes of a matplotlib figure, which is then closed (for an ``ipywidgets.Image``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> png(plt.figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def error_html(prefix, exc):
    """One line for an app's ``message`` view: what could not be done and why (never a traceback).

    Examples
    --------
    >>> error_html("Could not fit", ValueError("no rows"))
    "<span style='color:#b35806'><b>Could not fit:</b> no rows</span>"
    """
    return f"<span style='color:{_WARN}'><b>{html.escape(prefix)}:</b> {html.escape(str(exc))}</span>"


#: Pixels per character of a control's label (JupyterLab's 13 px UI font, with room to spare) and
#: the width of a slider with its readout: together they keep every label whole and every slider
#: long enough to move in a ~950 px notebook column.
_LABEL_PX_PER_CHAR = 7.4
_SLIDER_PX = 330


def control_style(*labels, slider_px=_SLIDER_PX):
    """``style`` and ``layout`` for controls with these labels: the label column as wide as the longest.

    Returns
    -------
    (dict, str)
        The ``style`` of every control (``description_width``), and the width of a whole
        control (label + slider + readout) for its ``Layout``.

    Examples
    --------
    >>> style, width = control_style("replicates", "SD of the drug effect between replicates")
    >>> style["description_width"], width
    ('308px', '638px')
    """
    label = 12 + round(_LABEL_PX_PER_CHAR * max(len(text) for text in labels))
    return {"description_width": f"{label}px"}, f"{label + slider_px}px"


def widened(style, control_px):
    """A ``Layout`` as wide as the label column of ``style`` plus ``control_px``: a dropdown or a
    progress bar next to sliders' labels (with the label's width alone, the control itself shrinks
    to nothing).

    Examples
    --------
    >>> widened({"description_width": "200px"}, 120).width
    '320px'
    """
    label = str((style or {}).get("description_width", ""))
    return widgets.Layout(width=f"{int(label[:-2]) + control_px}px") if label.endswith("px") else widgets.Layout()


def _labelled(text, widget, width):
    """A control with its label on the left, aligned with the sliders' descriptions."""
    return widgets.HBox([widgets.HTML(f"<div style='width:{width};text-align:right;padding-right:8px'>"
                                      f"{html.escape(text)}</div>"), widget])


def _table_html(frame, digits=4, index=False):
    # JupyterLab's class for rendered HTML gives the table its usual look.
    body = frame.to_html(index=index, border=0, float_format=lambda v: f"{v:.{digits}g}")
    return f"<div class='jp-RenderedHTMLCommon'>{body}</div>"


def _hide_while_empty(image):
    # An Image without a PNG yet (an app with a Run button before its first run) would show the
    # browser's broken-image icon.
    def toggle(_change=None):
        image.layout.display = None if image.value else "none"

    image.observe(toggle, names="value")
    toggle()


class App:
    """Base of every app: controls as attributes, compute-only ``update``, ``show``, ``run``.

    A subclass creates its control and view widgets as attributes, names the controls in
    ``controls`` (their values are the keyword arguments of ``update``), and ends its
    ``__init__`` with ``super().__init__(views=[...])``, the widgets to lay out top to bottom.
    It implements ``update(**settings)`` (compute only, returns what the app shows) and
    ``show(result)`` (write only). See :mod:`lmmedu.teach` for the contract and an example.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The app, ready to display (``_ipython_display_`` shows it).
    message : ipywidgets.HTML
        Empty, or why the last run could not be computed (CSS class ``lmmedu-message``).
    header : ipywidgets.HTML, optional
        The app's ``title`` line, first in the layout (CSS class ``lmmedu-title``), if it has one.
    result : object or None
        What the last successful :meth:`run` showed.
    button : ipywidgets.Button, optional
        If a subclass has one, it calls :meth:`run` and is disabled while running (CSS class
        ``lmmedu-run``).
    progress_bar : ipywidgets.IntProgress, optional
        If a subclass has one, :meth:`run` passes ``progress=`` to ``update`` to move it.
    status : ipywidgets.HTML, optional
        If a subclass with a Run button has one (:meth:`study_views`), the base class keeps it
        current: :attr:`running` while :meth:`run` computes, then what ``show`` writes; after a
        control change, :attr:`changed` while the controls differ from the settings of the
        result shown, and that result's text again once they match it.
    """

    #: Attribute names of the controls whose ``value`` is a keyword argument of ``update``.
    controls: tuple = ()
    #: True: every control change runs the app. False (an app with a Run button): a control
    #: change calls ``preview`` and only the button (or code) calls ``run``.
    live = True
    #: First words of the message shown when ``update`` raises.
    failure = "Could not compute this setting"
    #: One line above the controls saying what the app shows and what to move (HTML allowed),
    #: so the app explains itself without the notebook's prose (app mode, a projected lecture).
    title = ""
    #: Status line while :meth:`run` computes (apps with a ``status`` view).
    running = "Running: the result appears here when it is done."
    #: What the app's button does, in its status lines ("simulate", "fit").
    action = "simulate"
    #: Status line once a control differs from the settings of the result shown; ``{button}``
    #: becomes the button's own label and ``{action}`` :attr:`action` (the instance attribute
    #: holds the finished line).
    changed = "Settings changed: press <b>{button}</b> to {action} them."

    @staticmethod
    def study_views(n_sims, button="Run", status="Press <b>Run</b> to simulate.", plot_width="760px", style=None):
        """The views every study app shows, built one way: Run button, progress bar, readout, status,
        figure and rates table (with the CSS classes the browser tests look for).

        Returns
        -------
        tuple
            ``(button, progress, readout, status, plot, table)``; the app keeps them as attributes.
        """
        run = widgets.Button(description=button, button_style="primary", icon="play")
        progress = widgets.IntProgress(value=0, min=0, max=n_sims, description="progress", style=style or {},
                                       layout=widened(style, 260))
        readout = widgets.HTML()
        readout.add_class("lmmedu-readout")
        note = widgets.HTML(status)
        note.add_class("lmmedu-status")
        plot = widgets.Image(format="png", layout=widgets.Layout(max_width=plot_width))
        table = widgets.HTML()
        table.add_class("lmmedu-rates")
        return run, progress, readout, note, plot, table

    @staticmethod
    def message_view():
        """The view of :attr:`message`; an app that wants it somewhere else than last creates it
        with this, keeps it as ``self.message`` and puts it among its views."""
        message = widgets.HTML()
        message.add_class("lmmedu-message")
        return message

    def __init__(self, views):
        if not isinstance(getattr(self, "message", None), widgets.HTML):
            self.message = self.message_view()
        self.result = None
        # Control settings of the result shown, and the status text show() wrote for it.
        self._shown_settings, self._shown_status = None, None
        for control in self.control_widgets().values():
            control.observe(self._changed, names="value")
        if isinstance(getattr(self, "button", None), widgets.Button):
            self.changed = type(self).changed.format(button=html.escape(self.button.description), action=self.action)
            self.button.on_click(lambda _button: self.run())
            self.button.add_class("lmmedu-run")  # one hook for every Run button (browser tests)
        for view in views:
            if isinstance(view, widgets.Image):
                _hide_while_empty(view)
        if self.title:
            self.header = widgets.HTML(f"<div style='font-size:1.1em;margin-bottom:4px'>{self.title}</div>")
            self.header.add_class("lmmedu-title")
            views = [self.header, *views]
        self.widget = widgets.VBox([*views] + ([] if any(v is self.message for v in views) else [self.message]))
        if self.live:
            self.run()
        else:
            self.preview()

    def control_widgets(self):
        """Name -> control widget; the names are the keyword arguments of ``update``."""
        return {name: getattr(self, name) for name in self.controls}

    def settings(self):
        """The controls' current values, as keyword arguments of ``update``."""
        return {name: control.value for name, control in self.control_widgets().items()}

    def update(self, **settings):
        """Compute what the app shows for ``settings`` and return it; touches no widget."""
        raise NotImplementedError

    def show(self, result):
        """Write ``result`` (from ``update``) into the view widgets; computes nothing."""
        raise NotImplementedError

    def preview(self):
        """Cheap feedback on a control change in an app with a Run button (default: none)."""

    def run(self, **overrides):
        """``update`` with the controls' settings (``overrides`` replace some), then ``show``.

        Returns
        -------
        object or None
            The result, or None when it could not be computed; then ``message`` says why
            (an app never raises from a control or a button).
        """
        settings = {**self.settings(), **overrides}
        bar = getattr(self, "progress_bar", None)
        if isinstance(bar, widgets.IntProgress):
            bar.value = 0
            settings["progress"] = self._tick
        button = getattr(self, "button", None)
        if isinstance(button, widgets.Button):
            button.disabled = True
        status = self._status_view()
        before = status.value if status is not None else None
        if status is not None:
            status.value = self.running
        try:
            result = self.update(**settings)
        except Exception as exc:  # show, never raise, from a callback
            self.message.value = error_html(self.failure, exc)
            if status is not None:
                status.value = before
            if self.failed(exc):  # the app cleared its views: no result is shown any more
                self.result, self._shown_settings, self._shown_status = None, None, None
            return None
        finally:
            if isinstance(button, widgets.Button):
                button.disabled = False
        return self.present(result, **overrides)

    def present(self, result, **overrides):
        """Show a result computed elsewhere (a cached study) as :meth:`run` shows its own.

        ``overrides`` are the settings it was computed for where they differ from the controls
        (as in :meth:`run`), so the status can tell when the controls no longer match it.
        """
        settings = {**self.settings(), **overrides}
        self.message.value = ""
        self.result = result
        self.show(result)
        status = self._status_view()
        if status is not None:
            self._shown_settings = {name: settings[name] for name in self.control_widgets()}
            self._shown_status = status.value
        return result

    def failed(self, exc):
        """Called when ``update`` raised (``message`` already says why); return True if the app
        cleared the views of its last result, so nothing stale stays on screen (default: keep it)."""
        return False

    def _tick(self, done, total):
        self.progress_bar.max = total
        self.progress_bar.value = done

    def _status_view(self):
        status = getattr(self, "status", None)
        return status if not self.live and isinstance(status, widgets.HTML) else None

    def _changed(self, change=None):
        if self.live:
            self.run()
            return
        self.preview()
        status = self._status_view()
        if status is not None and self._shown_status is not None:
            # Said here, once for every Run-button app, so no app can leave "Settings changed"
            # on a result that matches the controls, or the result's text on one that does not.
            status.value = self._shown_status if self.settings() == self._shown_settings else self.changed

    def _ipython_display_(self):
        display(self.widget)


# ---------------------------------------------------------------------------
# Notebook 00: environment check
# ---------------------------------------------------------------------------
def environment_report(packages=CHECKED_PACKAGES):
    """Versions of Python and the teaching stack, as a DataFrame.

    Parameters
    ----------
    packages : sequence of str
        Distribution names to look up.

    Returns
    -------
    pandas.DataFrame
        Columns ``package`` and ``version`` ("not installed" when missing); the first row is
        Python itself.

    Examples
    --------
    >>> environment_report(["numpy"])["package"].tolist()
    ['python', 'numpy']
    """
    rows = [{"package": "python", "version": sys.version.split()[0]}]
    for name in packages:
        try:
            v = version(name)
        except PackageNotFoundError:
            v = "not installed"
        rows.append({"package": name, "version": v})
    return pd.DataFrame(rows)


class EnvironmentCheck(App):
    """A slider whose callback rewrites a sentence: if the sentence changes, widgets work.

    Attributes
    ----------
    n_replicates : ipywidgets.IntSlider
        Number of replicates (CSS class ``lmmedu-check-slider``).
    label : ipywidgets.HTML
        The sentence the callback rewrites (CSS class ``lmmedu-check-label``).
    calls : int
        How often the sentence was written.

    Examples
    --------
    >>> check = EnvironmentCheck()
    >>> check.n_replicates.value = 7
    >>> "7 independent units" in check.result
    True
    """

    title = "<b>Widget check</b>: move the slider; if the sentence below changes, widgets work."

    controls = ("n_replicates",)

    def __init__(self, value=4):
        style, width = control_style("replicates")
        self.n_replicates = widgets.IntSlider(value=value, min=2, max=12, description="replicates",
                                              continuous_update=False, style=style, layout=widgets.Layout(width=width))
        self.n_replicates.add_class("lmmedu-check-slider")
        self.label = widgets.HTML()
        self.label.add_class("lmmedu-check-label")
        self.calls = 0
        super().__init__(views=[self.n_replicates, self.label])

    def update(self, n_replicates):
        """The sentence for ``n_replicates``."""
        return units_sentence(n_replicates)

    def show(self, result):
        self.calls += 1
        self.label.value = f"<b>{html.escape(result)}</b>"


# ---------------------------------------------------------------------------
# Notebook 01: the pseudo-replication machine
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Notebook 02: lm vs mixed model standard errors
# ---------------------------------------------------------------------------
def _se_html(table, message):
    rows = []
    for term, r in table.iterrows():
        arrow = "up" if r["se_ratio"] > 1.05 else ("down" if r["se_ratio"] < 0.95 else "about the same")
        rows.append(
            f"<tr><td><code>{html.escape(term)}</code></td><td>{html.escape(r['varies'])}</td>"
            f"<td>{r['se_lm']:.4f}</td><td>{r['se_lmm']:.4f}</td><td>{r['se_ratio']:.2f} ({arrow})</td>"
            f"<td>{r['df_lm']:,.0f}</td><td>{r['df_lmm']:,.1f}</td></tr>"
        )
    head = ("<tr><th>term</th><th>varies (replicates)</th><th>SE lm</th><th>SE mixed</th>"
            "<th>ratio</th><th>df lm</th><th>df mixed</th></tr>")
    return (f"<div class='jp-RenderedHTMLCommon'><table>{head}{''.join(rows)}</table>"
            f"<p>{html.escape(message)}</p></div>")


class StandardErrorExplorer(App):
    """Move the replicate SD and watch the lm and mixed-model SEs and df of each term.

    One data set per slider value (same seed), both models fitted on every move (tens of
    milliseconds); the numbers are those of :func:`lmmedu.teach.comparison.se_table`.

    Examples
    --------
    >>> app = StandardErrorExplorer()
    >>> app.replicate_sd.value = 0.0
    >>> list(app.result.table.columns)
    ['varies', 'se_lm', 'se_lmm', 'se_ratio', 'df_lm', 'df_lmm']
    """

    title = "<b>Standard errors, lm vs mixed model</b>: move the replicate SD and watch each term's SE and df."

    controls = ("replicate_sd", "design")
    failure = "Could not fit"

    def __init__(self, replicate_sd=0.2, design="within", seed=2023):
        style, width = control_style("replicate SD (log scale)")
        self.replicate_sd = widgets.FloatSlider(value=replicate_sd, min=0.0, max=0.8, step=0.05,
                                                description="replicate SD (log scale)", style=style,
                                                layout=widgets.Layout(width=width), continuous_update=False)
        self.design = widgets.ToggleButtons(options=["within", "between"], value=design)
        self.table = widgets.HTML()
        self.table.add_class("lmmedu-se-table")
        self.seed = seed
        super().__init__(views=[self.replicate_sd, _labelled("design", self.design, style["description_width"]),
                                self.table])

    def update(self, replicate_sd, design):
        """:func:`lmmedu.teach.comparison.se_table` for these settings."""
        return se_table(replicate_sd, design, seed=self.seed)

    def show(self, result):
        self.table.value = _se_html(result.table, result.message)


# ---------------------------------------------------------------------------
# Notebook 03: one data set under every coding
# ---------------------------------------------------------------------------
class CodingExplorer(App):
    """Refit one data set under different codings and compare what changes.

    Choose the reference gene, the reference treatment or sum coding: the coefficient table
    changes, the cell means and fitted values stay put (the largest change since the default
    coding is shown, at numerical zero). The numbers are those of
    :func:`lmmedu.teach.cells.coding_view`.

    Parameters
    ----------
    data : pandas.DataFrame
        Measurements with the response, ``gene`` and ``treatment`` columns (and the grouping
        column of ``random``).
    response : str, default "log(length)"
    random : str or None, default "(1|replicate)"
        Random-effects term(s) of the mixed model; None fits an ordinary linear model.
    gene, treatment : str
        Names of the two factor columns.

    Examples
    --------
    >>> import lmmedu
    >>> explorer = CodingExplorer(lmmedu.simulate_replicates(obs_per_replicate=20), random=None)
    >>> explorer.coding.value = "sum"
    >>> explorer.result.coding, explorer.result.reference_gene
    ('sum', None)
    """

    title = ("<b>One data set, many codings</b>: change the reference levels or the coding; coefficients "
             "change, cell means do not.")

    controls = ("reference_gene", "reference_treatment", "coding")
    failure = "Cannot fit this coding"

    def __init__(self, data, response="log(length)", random="(1|replicate)", gene="gene", treatment="treatment"):
        self.data, self.response, self.random = data, response, random
        self.gene, self.treatment = gene, treatment
        self._cache = {}
        self.default = self.update()  # also checks the arguments before any widget exists
        self.genes = levels(data[gene])
        self.treatments = levels(data[treatment])
        style = {"description_width": "initial"}
        self.reference_gene = widgets.Dropdown(options=self.genes, value=self.genes[0],
                                               description="reference gene", style=style)
        self.reference_treatment = widgets.Dropdown(options=self.treatments, value=self.treatments[0],
                                                    description="reference treatment", style=style)
        self.coding = widgets.ToggleButtons(options=[(f"{c} coding", c) for c in CODINGS], value="treatment",
                                            description="coding")
        self.note = widgets.HTML()
        self.coefficients = widgets.HTML()
        self.cell_means = widgets.HTML(layout=widgets.Layout(margin="0 0 0 24px"))
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="560px"))
        super().__init__(views=[widgets.HBox([self.reference_gene, self.reference_treatment]), self.coding,
                                self.note, widgets.HBox([self.coefficients, self.cell_means]), self.plot])

    def formula(self, coding="treatment"):
        """The formula fitted under ``coding``."""
        return self.default.formula if coding == "treatment" else self._view(None, None, coding).formula

    def _view(self, reference_gene, reference_treatment, coding):
        key = (reference_gene, reference_treatment, coding)
        if key not in self._cache:
            self._cache[key] = coding_view(self.data, reference_gene, reference_treatment, coding,
                                           response=self.response, random=self.random, gene=self.gene,
                                           treatment=self.treatment)
        return self._cache[key]

    def update(self, reference_gene=None, reference_treatment=None, coding="treatment"):
        """:func:`lmmedu.teach.cells.coding_view` of the data (cached per coding).

        Returns
        -------
        CodingView
        """
        if coding == "sum":
            reference_gene = reference_treatment = None
        return self._view(reference_gene, reference_treatment, coding)

    def show(self, view):
        self.reference_gene.disabled = self.reference_treatment.disabled = view.coding == "sum"
        moved_fit = float(np.max(np.abs(view.fitted - self.default.fitted)))
        moved_cell = float(np.max(np.abs(view.cell_means["fitted_mean"].to_numpy()
                                          - self.default.cell_means["fitted_mean"].to_numpy())))
        verdict = "numerical zero: the same model" if max(moved_cell, moved_fit) < 1e-6 else "the model itself changed"
        self.note.value = (f"<p><code>{html.escape(view.formula)}</code><br>{html.escape(view.note)}<br>Largest change "
                           f"since the default coding: any cell mean {moved_cell:.1e}, any fitted value "
                           f"{moved_fit:.1e} ({verdict}).</p>")
        coefs = view.coefficients[["term", "estimate", "se"]].copy()
        coefs["in cell means (μ[treatment,gene])"] = view.meanings["cell_mean_formula"].to_numpy()
        self.coefficients.value = "<b>Coefficients (these change)</b>" + _table_html(coefs)
        # Only the model's means: next to the coefficients, the table must fit a 1,280 px JupyterLab.
        means = view.cell_means[[self.gene, self.treatment, "fitted_mean"]].rename(columns={"fitted_mean": "mean"})
        self.cell_means.value = "<b>Cell means (these stay put)</b>" + _table_html(means)
        label = (f"intercept = mean of the {len(view.cell_means)} cell means" if view.coding == "sum"
                 else f"intercept = cell ({view.reference_gene}, {view.reference_treatment})")
        ax = cell_means_plot(view.cell_means, intercept=float(view.coefficients["estimate"].iloc[0]),
                             intercept_label=label, gene=self.gene, treatment=self.treatment)
        ax.figure.set_size_inches(5.5, 3.6)
        self.plot.value = png(ax.figure)


# ---------------------------------------------------------------------------
# Notebook 04: interactions
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class InteractionView:
    """One setting of the true drug effects, as returned by :meth:`InteractionExplorer.update`.

    Attributes
    ----------
    effects : dict
        Gene -> true drug effect used for the simulation.
    table : pandas.DataFrame
        Index: coefficient names. Columns ``truth``, ``estimate``, ``se``, ``truth_change``
        and ``estimate_change`` (since the previous update; 0 on the first), ``moved`` (the
        true coefficient changed).
    seconds : float
        Time to simulate and fit.
    model : MixedFit or LmFit
    """

    effects: dict
    table: pd.DataFrame
    seconds: float
    model: Any = field(repr=False, default=None)


def _signed(value, digits=3):
    """A change with its sign, and "0.000" rather than "-0.000" for what rounds to zero.

    Examples
    --------
    >>> _signed(-1e-9), _signed(0.25)
    ('0.000', '+0.250')
    """
    value = round(float(value), digits) + 0.0
    return f"{value:.{digits}f}" if value == 0 else f"{value:+.{digits}f}"


class InteractionExplorer(App):
    """Set the true drug effect of each gene, re-simulate with a fixed seed, refit, compare.

    The same seed gives the same replicate effects and the same measurement noise, so moving
    one gene's true drug effect shifts only the drug measurements of that gene: the learner
    sees exactly which coefficients of ``treatment*gene`` follow.

    Parameters
    ----------
    seed : int, default 1
        Seed of :func:`lmmedu.simulate_replicates`.
    formula : str, default "log(length) ~ treatment*gene + (1|replicate)"
        Fitted with :func:`lmmedu.fit` if it has a random term, else :func:`lmmedu.fit_lm`.
    effect_range : (float, float), default (-0.5, 0.5)
        Slider range of each drug effect (log scale).
    step : float, default 0.01
        Slider step.
    **simulate_kwargs
        Passed to :func:`lmmedu.simulate_replicates` (not ``treatment_effects`` or ``seed``).

    Attributes
    ----------
    sliders : dict of str -> ipywidgets.FloatSlider
        One per gene; the controls (``update`` takes the gene names as keywords).
    table : ipywidgets.HTML
        What moved, highlighted.

    Examples
    --------
    >>> ex = InteractionExplorer(obs_per_replicate=40)
    >>> ex.sliders["B"].value = 0.30
    >>> ex.result.table.index[ex.result.table["moved"]].tolist()
    ['treatment[T.drug]:gene[T.B]']
    """

    title = "<b>Interaction explorer</b>: set each gene's true drug effect and see which coefficients move."

    failure = "Cannot simulate this setting"

    def __init__(self, seed=1, formula="log(length) ~ treatment*gene + (1|replicate)", effect_range=(-0.5, 0.5),
                 step=0.01, **simulate_kwargs):
        for bad in ("treatment_effects", "seed"):
            if bad in simulate_kwargs:
                raise ValueError(f"{bad} is set by the explorer; pass seed=... to the explorer and use update() "
                                 f"for the drug effects.")
        low, high = _finite("effect_range[0]", effect_range[0]), _finite("effect_range[1]", effect_range[1])
        if not low < high:
            raise ValueError(f"effect_range must be (low, high) with low < high, got {effect_range!r}.")
        self.seed, self.formula, self.effect_range = seed, formula, (low, high)
        self.step = _finite("step", step)
        self.simulate_kwargs = dict(simulate_kwargs)
        probe = simulate_replicates(seed=seed, **{**self.simulate_kwargs, "obs_per_replicate": 2})
        self.genes = list(truth(probe).genes)
        self.defaults = {g: float(DEFAULT_TREATMENT_EFFECTS.get(g, 0.0)) for g in self.genes}
        self.effects = dict(self.defaults)
        self._previous = None
        style, width = control_style(*(f"drug effect {g}" for g in self.genes))
        self.sliders = {
            g: widgets.FloatSlider(value=min(max(self.defaults[g], low), high), min=low, max=high, step=self.step,
                                   description=f"drug effect {g}", continuous_update=False, readout_format=".2f",
                                   style=style, layout=widgets.Layout(width=width))
            for g in self.genes
        }
        self.table = widgets.HTML()
        super().__init__(views=[*self.sliders.values(), self.table])

    def control_widgets(self):
        return dict(self.sliders)

    def simulate(self, effects):
        """The data set for ``effects`` (gene -> true drug effect), same seed every time."""
        return simulate_replicates(seed=self.seed, treatment_effects=dict(effects), **self.simulate_kwargs)

    def update(self, **effects):
        """Re-simulate with new true drug effects, refit, and compare with the previous update.

        Parameters
        ----------
        **effects : float
            Gene name -> true drug effect on log(length); genes not given keep their
            current value.

        Returns
        -------
        InteractionView
        """
        unknown = [g for g in effects if g not in self.genes]
        if unknown:
            raise ValueError(f"update() got unknown gene(s) {unknown}; the genes are {self.genes}.")
        new = {**self.effects, **{g: _finite(f"effect of gene {g}", v) for g, v in effects.items()}}
        start = time.perf_counter()
        df = self.simulate(new)
        model = fit(self.formula, df) if "|" in self.formula else fit_lm(self.formula, df)
        seconds = time.perf_counter() - start
        true = truth(df).coefficients
        table = pd.DataFrame({"truth": true.reindex(model.names), "estimate": model.coefs["estimate"],
                              "se": model.coefs["se"]})
        previous = self._previous if self._previous is not None else table[["truth", "estimate"]]
        table["truth_change"] = table["truth"] - previous["truth"]
        table["estimate_change"] = table["estimate"] - previous["estimate"]
        table["moved"] = np.abs(table["truth_change"]) > 1e-12
        # State for the next comparison, not a widget: update stays compute-only.
        self._previous, self.effects = table[["truth", "estimate"]], new
        return InteractionView(effects=new, table=table, seconds=seconds, model=model)

    def show(self, view):
        rows = []
        for term, r in view.table.iterrows():
            style = f' style="background:{_HIGHLIGHT};font-weight:bold"' if r["moved"] else ""
            rows.append(
                f"<tr{style}><td>{html.escape(term)}</td><td>{r['truth']:+.3f}</td><td>{r['estimate']:+.3f}</td>"
                f"<td>{r['se']:.3f}</td><td>{_signed(r['truth_change'])}</td><td>{_signed(r['estimate_change'])}</td></tr>"
            )
        effects = ", ".join(f"{g}: {v:+.2f}" for g, v in view.effects.items())
        head = ("<tr><th>term</th><th>true value</th><th>estimate</th><th>SE</th>"
                "<th>true change</th><th>estimate change</th></tr>")
        self.table.value = (f"<p>True drug effects {effects} (log scale). Highlighted: coefficients whose true "
                            f"value moved with the last slider move. Simulated and fitted in "
                            f"{1000 * view.seconds:.0f} ms.</p><table>{head}{''.join(rows)}</table>")


class RandomSlopeMachine(App):
    """A Run button around :func:`lmmedu.teach.studies.random_slope_rates`, with sliders and a progress bar.

    Parameters
    ----------
    n_sims : int, default 40
        Initial number of experiments per run.
    replicate_treatment_sd : float, default 0.15
        Initial SD of the replicate drug effects.
    **study_kwargs
        Other fixed arguments of :func:`~lmmedu.teach.studies.random_slope_rates`.

    Examples
    --------
    >>> machine = RandomSlopeMachine(n_sims=10, obs_per_replicate=20)
    >>> machine.run(n_sims=2)["n_sims"].tolist()
    [2, 2]
    """

    title = ("<b>Random slope machine</b>: experiments with <i>no</i> average drug effect but replicate-to-"
             "replicate drug effects; press <b>Run</b> to count false positives with and without a random "
             "slope.")

    #: Slider ranges: (min, max, step).
    N_SIMS_RANGE = (10, 200, 10)
    SLOPE_SD_RANGE = (0.0, 0.3, 0.01)
    controls = ("n_sims", "replicate_treatment_sd")
    live = False
    failure = "Cannot run this setting"

    def __init__(self, n_sims=40, replicate_treatment_sd=0.15, **study_kwargs):
        for bad in ("n_sims", "replicate_treatment_sd", "progress"):
            if bad in study_kwargs:
                raise ValueError(f"{bad} is set by the machine itself; do not pass it in study_kwargs.")
        _count("n_sims", n_sims, 1)
        _sd("replicate_treatment_sd", replicate_treatment_sd)
        self.study_kwargs = dict(study_kwargs)
        # One control per line, labels in one column: side by side, the label of the first was cut
        # to "experime..." and the second slider squeezed to a few pixels.
        style, width = control_style("experiments", "SD of replicate drug effects")
        lo, hi, st = self.N_SIMS_RANGE
        self.n_sims = widgets.IntSlider(value=min(max(n_sims, lo), hi), min=lo, max=hi, step=st,
                                        description="experiments", continuous_update=False, style=style,
                                        layout=widgets.Layout(width=width))
        lo, hi, st = self.SLOPE_SD_RANGE
        self.replicate_treatment_sd = widgets.FloatSlider(
            value=min(max(replicate_treatment_sd, lo), hi), min=lo, max=hi, step=st,
            description="SD of replicate drug effects", continuous_update=False, readout_format=".2f",
            style=style, layout=widgets.Layout(width=width))
        self.button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.progress_bar = widgets.IntProgress(value=0, min=0, max=self.n_sims.value, description="progress")
        self.table = widgets.HTML("<p>Press <b>Run</b> to simulate experiments with no true drug effect.</p>")
        super().__init__(views=[self.n_sims, self.replicate_treatment_sd,
                                widgets.HBox([self.button, self.progress_bar]), self.table])

    def update(self, n_sims, replicate_treatment_sd, progress=False):
        """The rates table of :func:`~lmmedu.teach.studies.random_slope_rates` for these settings."""
        return studies.random_slope_rates(n_sims=int(n_sims), replicate_treatment_sd=float(replicate_treatment_sd),
                                          progress=progress, **self.study_kwargs)

    def show(self, rates):
        alpha = rates.attrs["alpha"]
        self.table.value = (f"<p>{html.escape(rates_summary(rates))} A correct test rejects in about "
                            f"{100 * alpha:.0f}% of them.</p>" + _table_html(_rates_for_display(rates)))
