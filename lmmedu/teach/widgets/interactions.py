"""Notebook 04's apps: interactions as differences of differences, and the random-slope machine."""

from __future__ import annotations

import html

import ipywidgets as widgets

from .. import studies
from ..prose import rates_summary
from ..studies.interactions import InteractionView, interaction_data, interaction_genes, interaction_view
from ...data.checks import count as _count, finite as _finite, sd as _sd
from .app import App, _HIGHLIGHT, _table_html, control_style
from .replicates import _rates_for_display

# InteractionView is computed in lmmedu.teach.studies and kept importable here, where the app returns it.
__all__ = ["InteractionView", "InteractionExplorer", "RandomSlopeMachine"]


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
    """Set the true drug effect of each gene, re-simulate with a fixed seed, refit, compare (:func:`lmmedu.teach.studies.interaction_view`).

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
        self.defaults = interaction_genes(seed, **self.simulate_kwargs)
        self.genes = list(self.defaults)
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
        return interaction_data(effects, self.seed, **self.simulate_kwargs)

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
        view = interaction_view({**self.effects, **effects}, self._previous, seed=self.seed, formula=self.formula,
                                **self.simulate_kwargs)
        # State for the next comparison, not a widget: update stays compute-only.
        self._previous, self.effects = view.table[["truth", "estimate"]], view.effects
        return view

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
