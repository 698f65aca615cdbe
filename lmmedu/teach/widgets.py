"""The ipywidgets apps the notebooks show.

Each app is a small class: the widgets are attributes (so tests and notebooks can set them),
``update()`` recomputes what the widgets show from their current values, and the work itself
is done by tested functions in :mod:`lmmedu.teach.studies`, :mod:`lmmedu.teach.comparison` and
:mod:`lmmedu.teach.plots`. No app raises on a slider value: impossible settings produce a message.

- :class:`EnvironmentCheck` (notebook 00): proves that widgets render and call back.
- :class:`PseudoReplicationMachine` (notebook 01): false-positive rates of three analyses
  in simulated experiments without a drug effect.
- :class:`StandardErrorExplorer` (notebook 02): lm vs mixed model standard errors and df of
  the intercept and the treatment as the replicate SD changes.

Every app has ``_ipython_display_``, so putting it last in a cell shows it.
"""

from __future__ import annotations

import html
import io
import math
import sys
from importlib.metadata import PackageNotFoundError, version

import ipywidgets as widgets
import pandas as pd
from IPython.display import display

__all__ = [
    "App",
    "png",
    "environment_report",
    "EnvironmentCheck",
    "machine_readout",
    "PseudoReplicationMachine",
    "se_table",
    "StandardErrorExplorer",
]

#: Packages whose versions the environment check prints.
CHECKED_PACKAGES = ("lmmedu", "numpy", "scipy", "pandas", "patsy", "statsmodels", "matplotlib", "seaborn",
                    "ipywidgets", "jupyterlab_widgets", "tqdm")


# ---------------------------------------------------------------------------
# The one pattern every app follows (see the contract in lmmedu.teach)
# ---------------------------------------------------------------------------
def png(fig, dpi=96):
    """PNG bytes of a matplotlib figure, and close it (for an ``ipywidgets.Image``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> png(plt.figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def error_html(prefix, exc):
    """A one-line message for an app's ``message`` view (never a traceback)."""
    return f"<span style='color:#b35806'><b>{html.escape(prefix)}:</b> {html.escape(str(exc))}</span>"


class App:
    """Base of every app: controls as attributes, compute-only ``update``, ``show``, ``run``.

    A subclass creates its control and view widgets as attributes, lists the controls'
    attribute names in ``controls`` (their values are the keyword arguments of ``update``)
    and calls ``super().__init__(views=[...])`` with the widgets to lay out, top to bottom.
    It implements ``update(**settings)`` (compute only, returns what the app shows) and
    ``show(result)`` (write only). See :mod:`lmmedu.teach` for the contract and an example.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The app, ready to display (``_ipython_display_`` shows it).
    message : ipywidgets.HTML
        Empty, or why the last run could not be computed (CSS class ``lmmedu-message``).
    result : object or None
        What the last successful :meth:`run` showed.
    """

    #: Attribute names of the controls whose ``value`` is a keyword argument of ``update``.
    controls: tuple = ()
    #: True: every control change runs the app. False (apps with a Run button): a control
    #: change calls ``preview`` and only the button (or code) calls ``run``.
    live = True

    def __init__(self, views):
        self.message = widgets.HTML()
        self.message.add_class("lmmedu-message")
        self.result = None
        for name in self.controls:
            getattr(self, name).observe(self._changed, names="value")
        button = getattr(self, "button", None)
        if isinstance(button, widgets.Button):
            button.on_click(lambda _button: self.run())
        self.widget = widgets.VBox([*views, self.message])
        if self.live:
            self.run()
        else:
            self.preview()

    def settings(self):
        """The controls' current values, as keyword arguments of ``update``."""
        return {name: getattr(self, name).value for name in self.controls}

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
        button = getattr(self, "button", None)
        if isinstance(button, widgets.Button):
            button.disabled = True
        try:
            result = self.update(**{**self.settings(), **overrides})
        except Exception as exc:  # show, never raise, from a callback
            self.message.value = error_html("Could not compute this setting", exc)
            return None
        finally:
            if isinstance(button, widgets.Button):
                button.disabled = False
        self.message.value = ""
        self.result = result
        self.show(result)
        return result

    def _changed(self, change=None):
        if self.live:
            self.run()
        else:
            self.preview()

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


def _units_sentence(n):
    return (f"With {n} replicate cultures, a drug given to whole cultures is tested on {n} independent "
            f"units, however many cells you measure in each.")


class EnvironmentCheck:
    """A slider whose callback rewrites a sentence: if the sentence changes, widgets work.

    Attributes
    ----------
    slider : ipywidgets.IntSlider
        Number of replicates.
    label : ipywidgets.HTML
        The sentence the callback rewrites (CSS class ``lmmedu-check-label``).
    widget : ipywidgets.VBox
        Both, ready to display.
    calls : int
        How often the callback ran (the browser test reads the sentence instead).

    Examples
    --------
    >>> check = EnvironmentCheck()
    >>> check.slider.value = 7
    >>> "7 independent units" in check.label.value
    True
    """

    def __init__(self, value=4):
        self.slider = widgets.IntSlider(value=value, min=2, max=12, description="replicates",
                                        continuous_update=False)
        self.slider.add_class("lmmedu-check-slider")
        self.label = widgets.HTML()
        self.label.add_class("lmmedu-check-label")
        self.calls = 0
        self.slider.observe(self.update, names="value")
        self.update()
        self.widget = widgets.VBox([self.slider, self.label])

    def update(self, change=None):
        """Rewrite the sentence for the slider's current value."""
        self.calls += 1
        self.label.value = f"<b>{html.escape(_units_sentence(self.slider.value))}</b>"

    def _ipython_display_(self):
        display(self.widget)


# ---------------------------------------------------------------------------
# Notebook 01: the pseudo-replication machine
# ---------------------------------------------------------------------------
def machine_readout(replicate_sd, n_replicates, obs_per_replicate, design, residual_sd=0.5):
    """What the machine's settings imply before any simulation: ICC, design effect, warnings.

    Parameters
    ----------
    replicate_sd : float
        SD of the replicate intercepts (log scale).
    n_replicates : int
    obs_per_replicate : int
        Measurements per replicate.
    design : {"within", "between"}
    residual_sd : float, default 0.5

    Returns
    -------
    str
        HTML: the true ICC, the design effect and effective number of measurements (between
        design), or why the replicate effects cancel (within design), plus any design problem.

    Examples
    --------
    >>> "design effect" in machine_readout(0.2, 4, 100, "between")
    True
    """
    from .studies import design_problem, true_design_effect, true_icc

    icc = true_icc(replicate_sd, residual_sd)
    n_rows = n_replicates * obs_per_replicate
    parts = [f"{n_rows:,} measurements from {n_replicates} replicates; true ICC = {icc:.3f}."]
    if design == "between":
        deff = true_design_effect(replicate_sd, obs_per_replicate, residual_sd)
        parts.append(f"Each replicate is one arm, so the drug is compared between replicates: design effect "
                     f"1 + ({obs_per_replicate} - 1) x {icc:.3f} = {deff:.1f}, i.e. the {n_rows:,} rows carry "
                     f"about as much information as {n_rows / deff:.1f} independent ones.")
    else:
        parts.append("Every replicate has both arms, so the drug is compared inside each replicate and the "
                     "replicate intercepts cancel from drug minus control.")
    problem = design_problem(n_replicates, design)
    if problem:
        parts.append(f"<span style='color:#b35806'>{html.escape(problem)}</span>")
    return "<br>".join(parts)


class PseudoReplicationMachine:
    """Simulate experiments without a drug effect and count each analysis's false positives.

    Sliders set the replicate SD, the number of replicates, the measurements per replicate
    and the design; **Run** simulates ``n_sims`` experiments (with a progress bar) and shows
    the false-positive rates of the naive lm, the t-test on replicate means and the mixed
    model against the nominal 5%. :meth:`run` does the same from code.

    Parameters
    ----------
    replicate_sd, n_replicates, obs_per_replicate, design, n_sims
        Starting values of the controls.
    seed : int, default 1
        Seed of the study (fixed, so a rerun with the same settings gives the same rates).

    Attributes
    ----------
    rates : pandas.DataFrame or None
        Result of the last run (:func:`lmmedu.teach.studies.false_positive_rates`).

    Examples
    --------
    >>> m = PseudoReplicationMachine()
    >>> rates = m.run(n_sims=5)
    >>> rates["method"].tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """

    OBS_OPTIONS = (2, 5, 10, 20, 50, 100, 200, 500, 1000)
    SIM_OPTIONS = (100, 200, 400)

    def __init__(self, replicate_sd=0.2, n_replicates=4, obs_per_replicate=100, design="between", n_sims=200,
                 seed=1):
        style = {"description_width": "200px"}
        layout = widgets.Layout(width="520px")
        self.replicate_sd = widgets.FloatSlider(value=replicate_sd, min=0.0, max=1.0, step=0.05,
                                                description="replicate SD (log scale)", style=style,
                                                layout=layout, continuous_update=False)
        self.n_replicates = widgets.IntSlider(value=n_replicates, min=2, max=12, description="replicates",
                                              style=style, layout=layout, continuous_update=False)
        self.obs_per_replicate = widgets.SelectionSlider(options=self.OBS_OPTIONS, value=obs_per_replicate,
                                                         description="measurements per replicate", style=style,
                                                         layout=layout, continuous_update=False)
        self.design = widgets.ToggleButtons(options=["between", "within"], value=design)
        self.n_sims = widgets.Dropdown(options=self.SIM_OPTIONS, value=n_sims, description="experiments",
                                       style=style)
        self.button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.button.add_class("lmmedu-run")
        self.progress = widgets.IntProgress(value=0, min=0, max=n_sims, description="progress", style=style)
        self.readout = widgets.HTML()
        self.readout.add_class("lmmedu-readout")
        self.status = widgets.HTML("Press <b>Run</b> to simulate.")
        self.status.add_class("lmmedu-status")
        # The figure goes into an Image and the table into HTML (not an Output widget), so the
        # results show the same way from a button, from code, and without a kernel (tests).
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.table = widgets.HTML()
        self.table.add_class("lmmedu-rates")
        self.seed = seed
        self.rates = None
        for w in (self.replicate_sd, self.n_replicates, self.obs_per_replicate, self.design):
            w.observe(self.update, names="value")
        self.button.on_click(lambda _button: self.run())
        self.update()
        self.widget = widgets.VBox([
            self.replicate_sd, self.n_replicates, self.obs_per_replicate, _labelled("design", self.design, "200px"),
            widgets.HBox([self.n_sims, self.button]), self.progress, self.readout, self.status, self.plot,
            self.table,
        ])

    def settings(self):
        """Current control values as keyword arguments of :func:`lmmedu.teach.studies.false_positive_rates`."""
        return {"n_replicates": int(self.n_replicates.value), "obs_per_replicate": int(self.obs_per_replicate.value),
                "replicate_sd": float(self.replicate_sd.value), "design": self.design.value}

    def update(self, change=None):
        """Refresh the readout for the current settings (cheap: no simulation)."""
        try:
            self.readout.value = machine_readout(**self.settings())
        except ValueError as exc:
            self.readout.value = f"<span style='color:#b35806'>{html.escape(str(exc))}</span>"
        if change is not None and self.rates is not None:
            self.status.value = "Settings changed: press <b>Run</b> to simulate them."

    def _tick(self, done, total):
        self.progress.max = total
        self.progress.value = done

    def run(self, n_sims=None):
        """Simulate, show the rates and return them.

        Parameters
        ----------
        n_sims : int, optional
            Number of experiments; default the dropdown's value.

        Returns
        -------
        pandas.DataFrame or None
            The rates, or None if the settings could not be simulated (the message is shown).
        """
        import matplotlib.pyplot as plt

        from .plots import false_positive_plot
        from .studies import false_positive_rates

        n = int(self.n_sims.value if n_sims is None else n_sims)
        settings = self.settings()
        self.button.disabled = True
        self.status.value = f"Simulating {n} experiments..."
        self.progress.value = 0
        try:
            rates = false_positive_rates(**settings, n_sims=n, seed=self.seed, progress=self._tick)
        except Exception as exc:  # show, never raise, from a button callback
            self.status.value = f"<span style='color:#b35806'>Could not simulate: {html.escape(str(exc))}</span>"
            return None
        finally:
            self.button.disabled = False
        self.rates = rates
        self.status.value = html.escape(_run_summary(rates))
        fig = false_positive_plot(rates)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
        plt.close(fig)
        self.plot.value = buffer.getvalue()
        # JupyterLab's class for rendered HTML gives the table its usual look.
        self.table.value = ("<div class='jp-RenderedHTMLCommon'>"
                            f"{_rates_for_display(rates).to_html(index=False, border=0)}</div>")
        return rates

    def _ipython_display_(self):
        display(self.widget)


def _labelled(text, widget, width):
    """A control with its label on the left, aligned with the sliders' descriptions."""
    return widgets.HBox([widgets.HTML(f"<div style='width:{width};text-align:right;padding-right:8px'>"
                                      f"{html.escape(text)}</div>"), widget])


def _run_summary(rates):
    s = rates.attrs.get("settings", {})
    parts = []
    for row in rates.itertuples():
        parts.append(f"{row.method} {row.rate:.0%}" if row.n_sims else f"{row.method} not testable")
    text = (f"Ran {s.get('n_sims')} experiments ({s.get('design')} design, {s.get('n_replicates')} replicates x "
            f"{s.get('obs_per_replicate')} measurements, replicate SD {s.get('replicate_sd'):.2f}): "
            + "; ".join(parts) + ".")
    if rates.attrs.get("problem"):
        text += " " + rates.attrs["problem"]
    return text


def _rates_for_display(rates):
    """The rates as a small text table (percentages, "-" where a method could not test)."""
    def pct(v):
        return "-" if pd.isna(v) else f"{v:.1%}"

    return pd.DataFrame({
        "method": rates["method"],
        "experiments": rates["n_sims"],
        "false positives": rates["rejections"],
        "rate": rates["rate"].map(pct),
        "95% CI": [f"{pct(lo)} to {pct(hi)}" if pd.notna(lo) else "-"
                   for lo, hi in zip(rates["ci_low"], rates["ci_high"])],
        "typical df": rates["median_df"].map(lambda v: "-" if pd.isna(v) or v == 0 else f"{v:,.1f}"),
        "singular fits": rates["n_singular"],
    })


# ---------------------------------------------------------------------------
# Notebook 02: lm vs mixed model standard errors
# ---------------------------------------------------------------------------
def se_table(replicate_sd=0.2, design="within", seed=2023, n_replicates=4, residual_sd=0.5):
    """lm and mixed-model SE and df of the intercept and treatment for one simulated gene.

    Parameters
    ----------
    replicate_sd : float, default 0.2
        SD of the replicate intercepts (log scale).
    design : {"within", "between"}, default "within"
    seed : int, default 2023
        Seed of the simulated data (fixed, so only the slider changes the data).
    n_replicates : int, default 4
    residual_sd : float, default 0.5

    Returns
    -------
    table : pandas.DataFrame
        Index ``Intercept`` and ``treatment[T.drug]``; columns ``varies`` ("within" or
        "between" replicates), ``se_lm``, ``se_lmm``, ``se_ratio``, ``df_lm``, ``df_lmm``.
    message : str
        The estimated and true ICC, and a note when the mixed model is singular.

    Examples
    --------
    >>> table, message = se_table(0.3, "within")
    >>> bool(table.loc["Intercept", "se_ratio"] > 1)
    True
    """
    from .comparison import compare
    from ..data.simulate import simulate_replicates
    from .studies import true_icc

    df = simulate_replicates(genes=("A",), n_replicates=n_replicates, design=design, replicate_sd=replicate_sd,
                             residual_sd=residual_sd, treatment_effects=0.2, seed=seed)
    cmp = compare("log(length) ~ treatment + (1|replicate)", df)
    t = cmp.table
    table = pd.DataFrame({
        "varies": t["varies_replicate"], "se_lm": t["se_lm"], "se_lmm": t["se_lmm"], "se_ratio": t["se_ratio"],
        "df_lm": t["df_lm"], "df_lmm": t["df_lmm"],
    })
    est = float(cmp.icc.loc["replicate", "icc"]) if "replicate" in cmp.icc.index else math.nan
    message = (f"{len(df):,} measurements in {n_replicates} replicates. ICC estimated {est:.3f}, "
               f"true {true_icc(replicate_sd, residual_sd):.3f}.")
    if cmp.lmm.singular:
        message += (" The mixed model is singular: it estimates no replicate variation, so it behaves like "
                    "the lm.")
    return table, message


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


class StandardErrorExplorer:
    """Move the replicate SD and watch the lm and mixed-model SEs and df of each term.

    One data set per slider value (same seed), both models fitted on every move (tens of
    milliseconds).

    Examples
    --------
    >>> app = StandardErrorExplorer()
    >>> app.replicate_sd.value = 0.0
    >>> "SE lm" in app.result.value
    True
    """

    def __init__(self, replicate_sd=0.2, design="within", seed=2023):
        style = {"description_width": "180px"}
        self.replicate_sd = widgets.FloatSlider(value=replicate_sd, min=0.0, max=0.8, step=0.05,
                                                description="replicate SD (log scale)", style=style,
                                                layout=widgets.Layout(width="500px"), continuous_update=False)
        self.design = widgets.ToggleButtons(options=["within", "between"], value=design)
        self.result = widgets.HTML()
        self.result.add_class("lmmedu-se-table")
        self.seed = seed
        self.table = None
        self.replicate_sd.observe(self.update, names="value")
        self.design.observe(self.update, names="value")
        self.update()
        self.widget = widgets.VBox([self.replicate_sd, _labelled("design", self.design, "180px"), self.result])

    def update(self, change=None):
        """Refit both models for the current settings and redraw the table."""
        try:
            table, message = se_table(self.replicate_sd.value, self.design.value, seed=self.seed)
        except Exception as exc:  # show, never raise, from a slider callback
            self.table = None
            self.result.value = f"<span style='color:#b35806'>Could not fit: {html.escape(str(exc))}</span>"
            return
        self.table = table
        self.result.value = _se_html(table, message)

    def _ipython_display_(self):
        display(self.widget)



# --- notebook 09: planning an experiment ---
from dataclasses import dataclass as _dataclass  # noqa: E402

__all__ += ["plan_readout", "PlanResult", "PowerPlanner"]


def _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, residual_sd=0.5):
    from .studies import effect_from_percent, planned_power, replicate_sd_for_icc

    return planned_power(int(n_replicates), int(cells_per_replicate), effect_from_percent(float(percent)),
                         design=design, replicate_sd=replicate_sd_for_icc(float(icc), residual_sd),
                         replicate_treatment_sd=float(replicate_treatment_sd), residual_sd=residual_sd)


def plan_readout(design="within", n_replicates=4, cells_per_replicate=2000, icc=0.14, replicate_treatment_sd=0.1,
                 percent=10.0, n_sims=200, residual_sd=0.5):
    """What a planned design implies before any simulation: design effect, closed-form power, smallest effect.

    Parameters
    ----------
    design : {"within", "between"}
    n_replicates, cells_per_replicate : int
    icc : float
        Share of the variance of a measurement that lies between replicates (sets the replicate SD).
    replicate_treatment_sd : float
        SD of the replicate-to-replicate variation of the drug effect (log scale).
    percent : float
        True drug effect as a percent change in length.
    n_sims : int
        Ignored here (the app's Run uses it); accepted so the app's settings can be passed as they are.
    residual_sd : float, default 0.5

    Returns
    -------
    str
        HTML, computed by :func:`lmmedu.teach.studies.planned_power` (milliseconds).

    Examples
    --------
    >>> "design effect" in plan_readout()
    True
    """
    plan = _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, residual_sd)
    parts = [f"{plan['n_cells']:,} cells in {plan['n_replicates']} replicates. The design effect of the drug "
             f"comparison is {plan['design_effect']:.2f}: the cells carry as much information about the drug as "
             f"{plan['n_effective']:,.0f} independent cells would."]
    if design == "within":
        parts.append("The ICC does not enter: every replicate has both arms, so its own level cancels from its "
                     "drug-minus-control difference. What is left is how much the drug effect itself varies "
                     "between replicates.")
    else:
        parts.append(f"Each replicate is one arm, so replicate levels (ICC {float(icc):.2f}) and the variation "
                     "of the drug effect both count against the drug.")
    if plan["problem"]:
        parts.append(f"<span style='color:#b35806'>{html.escape(plan['problem'])}</span>")
    else:
        parts.append(f"Closed-form power of the t-test on replicate means ({plan['df']:.0f} df) for a "
                     f"{float(percent):.0f}% change: <b>{plan['power']:.0%}</b>. The smallest change this design "
                     f"detects with 80% power: <b>{plan['mde_percent']:.0f}%</b>.")
    return "<br>".join(parts)


@_dataclass(frozen=True, eq=False)
class PlanResult:
    """What the :class:`PowerPlanner` shows after a run.

    Attributes
    ----------
    plan : pandas.Series
        The closed form (:func:`lmmedu.teach.studies.planned_power`).
    table : pandas.DataFrame
        False-positive rate and power of each analysis
        (:func:`lmmedu.teach.studies.power_and_false_positives`).
    rates : pandas.DataFrame
        The study's rates table.
    summary : str
        One sentence.
    """

    plan: pd.Series
    table: pd.DataFrame
    rates: pd.DataFrame
    summary: str


def _plan_pct(value):
    return "-" if pd.isna(value) else f"{value:.0%}"


def _plan_table_html(table):
    rows = []
    for r in table.itertuples():
        fp = (f"{_plan_pct(r.false_positive_rate)} ({_plan_pct(r.fp_low)} to {_plan_pct(r.fp_high)})"
              if pd.notna(r.false_positive_rate) else "not testable")
        pw = f"{_plan_pct(r.power)} ({_plan_pct(r.power_low)} to {_plan_pct(r.power_high)})" if pd.notna(r.power) else "-"
        df = "-" if pd.isna(r.median_df) or r.median_df == 0 else f"{r.median_df:,.0f}"
        rows.append(f"<tr><td>{html.escape(r.analysis)}</td><td>{fp}</td><td>{pw}</td><td>{df}</td></tr>")
    head = "<tr><th>analysis</th><th>false positives (95% CI)</th><th>power (95% CI)</th><th>df</th></tr>"
    return f"<div class='jp-RenderedHTMLCommon'><table>{head}{''.join(rows)}</table></div>"


class PowerPlanner(App):
    """More cells or more replicates? Closed-form preview on every move, simulation on **Run**.

    Controls: design, replicates, cells per replicate, ICC, SD of the replicate drug effects,
    true effect (percent change) and number of simulated experiments. A control change
    rewrites the readout (:func:`plan_readout`, milliseconds); **Run** simulates the design
    with :func:`lmmedu.teach.studies.replicate_power_study` with and without the effect and
    shows the false-positive rate and power of the naive lm and the t-test on replicate means,
    with 95% intervals and the closed-form power.

    Examples
    --------
    >>> app = PowerPlanner()
    >>> "closed-form power" in app.readout.value.lower()
    True
    >>> result = app.run(n_sims=20, cells_per_replicate=50)
    >>> result.table["analysis"].tolist()
    ['naive lm', 't-test on replicate means']
    """

    controls = ("design", "n_replicates", "cells_per_replicate", "icc", "replicate_treatment_sd", "percent", "n_sims")
    live = False
    CELL_OPTIONS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
    SIM_OPTIONS = (100, 200, 400)

    def __init__(self, design="within", n_replicates=4, cells_per_replicate=2000, icc=0.14,
                 replicate_treatment_sd=0.1, percent=10.0, n_sims=200, seed=9):
        style = {"description_width": "230px"}
        layout = widgets.Layout(width="560px")
        self.design = widgets.ToggleButtons(options=["within", "between"], value=design)
        self.n_replicates = widgets.IntSlider(value=n_replicates, min=2, max=16, description="replicates",
                                              style=style, layout=layout, continuous_update=False)
        self.n_replicates.add_class("lmmedu-plan-replicates")
        self.cells_per_replicate = widgets.SelectionSlider(options=self.CELL_OPTIONS, value=cells_per_replicate,
                                                           description="cells per replicate", style=style,
                                                           layout=layout, continuous_update=False)
        self.icc = widgets.FloatSlider(value=icc, min=0.0, max=0.5, step=0.01, description="ICC (replicate levels)",
                                       style=style, layout=layout, continuous_update=False)
        self.replicate_treatment_sd = widgets.FloatSlider(value=replicate_treatment_sd, min=0.0, max=0.3, step=0.01,
                                                          description="SD of the drug effect between replicates",
                                                          style=style, layout=layout, continuous_update=False)
        self.percent = widgets.FloatSlider(value=percent, min=0.0, max=50.0, step=1.0,
                                           description="true drug effect (% change)", style=style, layout=layout,
                                           continuous_update=False)
        self.n_sims = widgets.Dropdown(options=self.SIM_OPTIONS, value=n_sims, description="experiments",
                                       style=style)
        self.button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.button.add_class("lmmedu-run")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress", style=style)
        self.readout = widgets.HTML()
        self.readout.add_class("lmmedu-readout")
        self.status = widgets.HTML("Press <b>Run</b> to simulate this design.")
        self.status.add_class("lmmedu-status")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.table = widgets.HTML()
        self.table.add_class("lmmedu-rates")
        self.seed = seed
        super().__init__(views=[
            _labelled("design", self.design, "230px"), self.n_replicates, self.cells_per_replicate, self.icc,
            self.replicate_treatment_sd, self.percent, widgets.HBox([self.n_sims, self.button]), self.progress,
            self.readout, self.status, self.plot, self.table,
        ])

    def _tick(self, done, total):
        self.progress.max = total
        self.progress.value = done

    def preview(self):
        """Rewrite the closed-form readout for the current controls (no simulation)."""
        try:
            self.readout.value = plan_readout(**self.settings())
            self.message.value = ""
        except Exception as exc:  # show, never raise, from a slider callback
            self.readout.value = ""
            self.message.value = error_html("Could not compute this setting", exc)
        if self.result is not None:
            self.status.value = "Settings changed: press <b>Run</b> to simulate them."

    def update(self, design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, n_sims):
        """Simulate the design with and without the effect; return a :class:`PlanResult` (touches only the progress bar)."""
        from .studies import effect_from_percent, power_and_false_positives, replicate_power_study, replicate_sd_for_icc

        plan = _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent)
        rates = replicate_power_study(effect_from_percent(float(percent)), design=design,
                                      n_replicates=int(n_replicates), cells_per_replicate=int(cells_per_replicate),
                                      replicate_sd=replicate_sd_for_icc(float(icc)),
                                      replicate_treatment_sd=float(replicate_treatment_sd), n_sims=int(n_sims),
                                      seed=self.seed, progress=self._tick)
        table = power_and_false_positives(rates)
        parts = []
        for r in table.itertuples():
            fp = f"{r.false_positive_rate:.0%} false positives" if pd.notna(r.false_positive_rate) else "not testable"
            pw = f", {r.power:.0%} power" if pd.notna(r.power) else ""
            parts.append(f"{r.analysis}: {fp}{pw}")
        summary = (f"Ran {int(n_sims)} experiments without and {int(n_sims)} with a {float(percent):.0f}% effect "
                   f"({design} design, {int(n_replicates)} replicates x {int(cells_per_replicate):,} cells). "
                   + "; ".join(parts) + ".")
        if float(percent) == 0:
            summary += " With no effect, only false positives are counted."
        if plan["problem"]:
            summary += " " + plan["problem"]
        return PlanResult(plan=plan, table=table, rates=rates, summary=summary)

    def show(self, result):
        from .plots import power_rates_plot

        self.status.value = html.escape(result.summary)
        self.table.value = _plan_table_html(result.table)
        ax = power_rates_plot(result.table, expected=float(result.plan["power"]))
        self.plot.value = png(ax.figure)
