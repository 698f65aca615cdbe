"""Every figure reads at a glance: no text runs into other text, nothing is cut off, and it fits the page.

Each public figure function of :mod:`lmmedu.teach.plots` is drawn with small, fast inputs and the
notebooks' theme (``sns.set_theme(style="whitegrid")``); matplotlib's renderer then gives the extent
of every text artist (titles, axis labels, tick labels, legends, suptitles, texts and annotations).
A figure fails when

- two of them overlap (tick labels that merge into "4.34.44.5", two panel titles that run together),
- one of them sticks out of the figure (a clipped title), or runs into another panel's plotting area
  (a y-label in the neighbouring panel),
- a legend inside a plotting area covers a data point,
- the figure is wider than JupyterLab's output area (about 950 px at the inline backend's 100 dpi).

A new public function of the package fails ``test_every_figure_function_is_checked`` until a case is
added here, so no figure escapes the check. The two widget figures (notebook 05's design-effect explorer
and notebook 07's Wald-vs-t app) are checked as the widgets draw them.
"""

from __future__ import annotations

import inspect
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.teach import plots, studies  # noqa: E402
from lmmedu.teach.comparison import (design_effect_view, pooling_table, random_effect_cov, residual_table,  # noqa: E402
                                     variance_test_table)

#: Width of JupyterLab's output area with the file browser open in a 1,280 px window, and the
#: resolution the inline backend draws at (matplotlib's default, which matplotlib-inline keeps).
PAGE_PX = 848  # JupyterLab's output area in a 1,280-px window with the file browser open (tests/browser)
INLINE_DPI = 100
#: Pixels two boxes may share before they count as overlapping: text extents include a little
#: empty space around the glyphs, so touching boxes are not yet touching letters.
SLACK = 1.5

#: Markers with an area: one cut in half by the frame (a rate of 0% at the left edge) reads as a different symbol.
FILLED_MARKERS = {"o", "s", "D", "d", "^", "v", "<", ">", "P", "X", "p", "h", "H", "*", "8"}

#: Public names of the package that are not figures (constants, helpers, tables).
NOT_FIGURES = {"PALETTE", "LOG_LABEL", "POOLING_COLOURS", "new_axes", "new_figure", "new_panels", "probeset_spread",
               "design_effect_axes", "shrinkage_axes", "covariance_ellipse", "caterpillar_table", "extreme_modes",
               "wrap_text", "fit_title", "fit_xlabel", "fit_ylabel", "number"}


# --------------------------------------------------------------------------------------
# What the check looks at
# --------------------------------------------------------------------------------------

def _visible_text(artist):
    return artist.get_visible() and (not hasattr(artist, "get_text") or artist.get_text().strip() != "")


def text_boxes(fig):
    """(description, owner Axes or None, Bbox) of every visible text artist of ``fig``, in pixels."""
    if not hasattr(fig.canvas, "get_renderer"):  # a Figure made without pyplot, as the widgets make them
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []

    def add(name, owner, artist):
        if artist is not None and _visible_text(artist):
            boxes.append((name, owner, artist.get_window_extent(renderer)))

    for text in (fig._suptitle, fig._supxlabel, fig._supylabel):
        add(f"figure title {text.get_text()!r}" if text is not None else "", None, text)
    for text in fig.texts:
        if text in (fig._suptitle, fig._supxlabel, fig._supylabel):
            continue
        add(f"figure text {text.get_text()!r}", None, text)
    for legend in fig.legends:
        boxes.append(("figure legend", None, legend.get_window_extent(renderer)))
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for title in (ax.title, ax._left_title, ax._right_title):
            add(f"title {title.get_text()!r}", ax, title)
        add(f"x-label {ax.xaxis.label.get_text()!r}", ax, ax.xaxis.label)
        add(f"y-label {ax.yaxis.label.get_text()!r}", ax, ax.yaxis.label)
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if not lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
                    continue  # matplotlib does not draw ticks outside the view
                for label in (tick.label1, tick.label2):
                    add(f"{name}-tick {label.get_text()!r}", ax, label)
        for text in ax.texts:
            add(f"text {text.get_text()!r}", ax, text)
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            boxes.append(("legend", ax, legend.get_window_extent(renderer)))
    return boxes


def _overlap(a, b):
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > SLACK) and (min(a.y1, b.y1) - max(a.y0, b.y0) > SLACK)


def _data_points(ax):
    """Display coordinates of the markers and scatter points of ``ax`` (what a legend must not hide)."""
    points = []
    for line in ax.get_lines():
        if line.get_visible() and line.get_marker() not in (None, "None", "", " "):
            xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)])
            if len(xy):
                points.append(ax.transData.transform(xy))
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        if coll.get_visible() and offsets.ndim == 2 and len(offsets) and coll.get_offset_transform() == ax.transData:
            points.append(ax.transData.transform(offsets))
    if not points:
        return np.empty((0, 2))
    xy = np.vstack(points)
    return xy[np.all(np.isfinite(xy), axis=1)]


def layout_problems(fig, max_px=PAGE_PX, dpi=INLINE_DPI):
    """Sentences describing every layout problem of ``fig`` (empty when it reads well)."""
    problems = []
    width = fig.get_figwidth() * dpi
    if width > max_px:
        problems.append(f"figure is {width:.0f} px wide at {dpi} dpi, more than the {max_px} px output area")
    boxes = text_boxes(fig)
    frame = fig.bbox
    for name, _, box in boxes:
        if box.x0 < frame.x0 - SLACK or box.y0 < frame.y0 - SLACK or box.x1 > frame.x1 + SLACK \
                or box.y1 > frame.y1 + SLACK:
            problems.append(f"{name} sticks out of the figure")
    for (name_a, ax_a, a), (name_b, ax_b, b) in itertools.combinations(boxes, 2):
        if _overlap(a, b):
            problems.append(f"{name_a} overlaps {name_b}")
    areas = [(ax, ax.get_window_extent()) for ax in fig.axes if ax.get_visible()]
    for name, owner, box in boxes:
        for ax, area in areas:
            if owner is not None and ax is not owner and _overlap(box, area) and "legend" not in name:
                problems.append(f"{name} runs into the plotting area of another panel")
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent()
        if not _overlap(box, ax.get_window_extent()):
            continue  # a legend beside the axes cannot hide a point
        inside = _data_points(ax)
        hidden = inside[(inside[:, 0] > box.x0) & (inside[:, 0] < box.x1) & (inside[:, 1] > box.y0)
                        & (inside[:, 1] < box.y1)]
        if len(hidden):
            problems.append(f"legend of {ax.get_title()!r} covers {len(hidden)} data point(s)")
        bars = [p for p in ax.patches
                if isinstance(p, Rectangle) and p.get_visible() and p.get_width() and p.get_height()]
        covered = [p for p in bars if _overlap(p.get_window_extent(), box)]
        if covered:
            problems.append(f"legend of {ax.get_title()!r} covers {len(covered)} bar(s)")
    for ax in fig.axes:
        area = ax.get_window_extent()
        for line in ax.get_lines():
            if not line.get_visible() or line.get_marker() not in FILLED_MARKERS:
                continue
            xy = ax.transData.transform(np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                                                         np.asarray(line.get_ydata(), dtype=float)]))
            xy = xy[np.all(np.isfinite(xy), axis=1)]
            radius = line.get_markersize() * fig.dpi / 72 / 2 - 1
            inside = xy[(xy[:, 0] >= area.x0) & (xy[:, 0] <= area.x1) & (xy[:, 1] >= area.y0) & (xy[:, 1] <= area.y1)]
            cut = ((inside[:, 0] - area.x0 < radius) | (area.x1 - inside[:, 0] < radius)
                   | (inside[:, 1] - area.y0 < radius) | (area.y1 - inside[:, 1] < radius))
            if cut.any():
                problems.append(f"{int(cut.sum())} marker(s) of {ax.get_title()!r} cut by the frame")
    return problems


def assert_reads_well(fig, max_px=PAGE_PX, dpi=INLINE_DPI):
    problems = layout_problems(fig, max_px=max_px, dpi=dpi)
    assert not problems, "\n".join(dict.fromkeys(problems))


def _figure(result):
    if isinstance(result, matplotlib.axes.Axes):
        return result.figure
    return np.asarray(result, dtype=object).ravel()[0].figure


# --------------------------------------------------------------------------------------
# The check checks: it finds what the issue reported
# --------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _theme():
    # The notebooks' theme: seaborn's fonts are larger than matplotlib's, so layout is checked with them.
    sns.set_theme(style="whitegrid", palette="colorblind")
    yield
    plt.close("all")
    sns.reset_defaults()


def test_the_check_finds_colliding_titles_merged_ticks_and_clipped_text():
    fig, axes = plt.subplots(1, 2, figsize=(6, 3), layout="constrained")
    axes[0].set_title("a long title that runs into the title of the next panel")
    axes[1].set_title("and the next one is long too")
    assert any("overlaps title" in p for p in layout_problems(fig))
    fig, ax = plt.subplots(figsize=(1.2, 2), layout="constrained")
    ax.set_xticks([4.3, 4.4, 4.5])
    assert any("x-tick" in p and "overlaps x-tick" in p for p in layout_problems(fig))
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("a title far too long for a figure this narrow, cut off at both ends")
    assert any("sticks out" in p for p in layout_problems(fig))
    fig, ax = plt.subplots(figsize=(12, 3))
    assert any("px wide" in p for p in layout_problems(fig))


def test_the_check_finds_a_legend_on_the_data():
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0.05, 0.5, 0.95], [0.95, 0.5, 0.05], "o", label="points")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    assert any("covers 1 data point" in p for p in layout_problems(fig))
    ax.legend(loc="upper right")
    assert not layout_problems(fig)
    ax.barh([0.9], [0.8], height=0.1, label="bar")
    ax.legend(loc="upper right")
    assert any("covers 1 bar" in p for p in layout_problems(fig))


def test_the_check_finds_a_marker_cut_by_the_frame():
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0.0, 0.5], [0.5, 0.5], "o", markersize=9)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    assert any("cut by the frame" in p for p in layout_problems(fig))
    ax.set_xlim(-0.05, 1)
    assert not layout_problems(fig)


def test_the_check_finds_a_label_in_the_neighbouring_panel():
    fig = plt.figure(figsize=(6, 3))
    left, right = fig.subplots(1, 2, gridspec_kw={"wspace": 0.05})
    right.set_ylabel("a y-label that sits in the left panel")
    assert any("runs into the plotting area" in p for p in layout_problems(fig))


# --------------------------------------------------------------------------------------
# Small, fast inputs for every figure function
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data():
    return lmmedu.simulate_replicates(obs_per_replicate=(40, 60, 80, 100), seed=3)


@pytest.fixture(scope="module")
def slope_fit():
    return lmmedu.fit(studies.SLOPE_FORMULA, studies.simulate_pooling(4, n_replicates=8))


@pytest.fixture(scope="module")
def residuals():
    rdata = studies.simulate_groups(np.random.default_rng(11), n_groups=6, group_size=100, icc=0.2,
                                    design="within", effect=0.2, slope_sd=0.15)
    fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)", rdata)
    return fit, residual_table(fit, by="treatment")


@pytest.fixture(scope="module")
def wald_t():
    # Enough experiments that the rates, and so the computed titles, look like the notebook's.
    return studies.rates_and_coverage(studies.wald_vs_t_study(n_groups=[4, 8, 16], group_size=20, n_sims=20, seed=7))


def _per_gene_effects(fit):
    emm = lmmedu.emmeans(fit, "treatment", by="gene")
    return lmmedu.contrasts(emm, "revpairwise")


def case_replicate_view(data, **_):
    return plots.replicate_view(data, gene="C", max_points=20)


def case_replicate_means_plot(data, **_):
    return plots.replicate_means_plot(data, truth=lmmedu.truth(data).cell_means,
                                      title="Six cells, six means: the drug lengthens A and B, not C")


def case_length_scales(data, **_):
    return plots.length_scales(data, gene="A")


def case_rates_plot(**_):
    return plots.rates_plot(studies.false_positive_rates(n_sims=6, obs_per_replicate=10, seed=2))


def case_gene_response_plot(**_):
    # Notebook 04's shared-vs-per-gene question, at the size and layout the notebook draws it.
    _, ax = plt.subplots(figsize=(6.6, 3.0), layout="constrained")
    return plots.gene_response_plot(studies.rates(studies.load_study("gene_response_study")), test="A minus C", ax=ax)


def case_rate_curve_plot(**_):
    return plots.rate_curve_plot(studies.rate_curve("obs_per_replicate", [5, 20, 80], n_sims=4, seed=1,
                                                    design="between"))


def case_se_ratio_plot(**_):
    # Notebook 05's spread of ratios: a tenfold drop next to a fifteenfold rise, long term names.
    table = pd.DataFrame({"se_lm": [1.0, 1.0, 1.0, 1.0], "se_lmm": [15.0, 0.87, 0.097, 0.097],
                          "varies_replicate": ["between", "within", "within", "within"]},
                         index=["Intercept", "treatment[T.drug]", "genotype[T.CSB]", "week:genotype[T.CSB]"])
    return plots.se_ratio_plot(table)


def case_percent_change_plot(**_):
    table = pd.DataFrame({"percent": [24.0, 9.0, -1.0], "percent_low": [20.0, 4.0, -6.0],
                          "percent_high": [28.0, 14.0, 4.0]}, index=pd.Index(list("ABC"), name="gene"))
    return plots.percent_change_plot(table, truth={"A": 24.6, "B": 9.4, "C": 0.0})


def case_weights_plot(**_):
    table = pd.DataFrame({"replicate": ["R1", "R2", "R3", "R4"], "n": [40, 60, 80, 300],
                          "row_weight": [0.08, 0.12, 0.17, 0.63], "precision_weight": [0.22, 0.24, 0.26, 0.28],
                          "equal_weight": 0.25})
    return plots.weights_plot(table)


def case_cell_means_plot(**_):
    cells = pd.DataFrame({"gene": list("AABBCC"), "treatment": ["control", "drug"] * 3,
                          "fitted_mean": [4.30, 4.52, 4.43, 4.52, 4.23, 4.23]})
    return plots.cell_means_plot(cells, intercept=4.30, intercept_label="Intercept = control, gene A")


def case_interaction_plot(data, **_):
    fit = lmmedu.fit("log(length) ~ treatment * gene + (1|replicate)", data)
    table = lmmedu.emmeans(fit, ["treatment", "gene"]).table
    return plots.interaction_plot(table, truth=lmmedu.truth(data).cell_means)


def case_drug_effects_plot(data, **_):
    fit = lmmedu.fit("log(length) ~ treatment * gene + (1|replicate)", data)
    return plots.drug_effects_plot(_per_gene_effects(fit), truth=lmmedu.truth(data).treatment_effects)


def case_probeset_spread_plot(**_):
    return plots.probeset_spread_plot(lmmedu.simulate_expression(n_probesets=40), n_show=10)


def case_design_effect_plot(**_):
    return plots.design_effect_plot(design_effect_view(icc=0.05, n_groups=10, group_size=50))


def case_pooling_panels(slope_fit, **_):
    return plots.pooling_panels(pooling_table(slope_fit))


def case_shrinkage_plot(slope_fit, **_):
    return plots.shrinkage_plot(pooling_table(slope_fit), random_effect_cov(slope_fit))


def case_caterpillar_plot(slope_fit, **_):
    table = slope_fit.ranef_table()
    truth = pd.DataFrame(0.05, index=list(dict.fromkeys(table["level"])), columns=list(dict.fromkeys(table["term"])))
    return plots.caterpillar_plot(plots.caterpillar_table(table, truth=truth))


def case_pooling_error_plot(**_):
    summary = pd.DataFrame({"term": ["Intercept"] * 3 + ["treatment[T.drug]"] * 3,
                            "method": list(plots.POOLING_COLOURS) * 2,
                            "total_sq_error": [0.9, 0.5, 0.3, 0.4, 0.6, 0.2]})
    return plots.pooling_error_plot(summary)


def case_singular_study_plot(**_):
    rng = np.random.default_rng(0)
    sd = np.repeat([0.0, 0.1, 0.2], 10)
    est = np.abs(sd + rng.normal(0, 0.08, len(sd)))
    sing = rng.random(len(sd)) < 0.4
    est[sing & (sd == 0)] = 0.0
    return plots.singular_study_plot(pd.DataFrame({"slope_sd": sd, "estimated_sd": est, "singular": sing,
                                                   "converged": True}))


def case_sd_interval_plot(**_):
    # Notebook 06's explorer: 30 experiments per method, some singular (intervals from 0), some missing the truth.
    rng = np.random.default_rng(1)
    est = np.abs(rng.normal(0.08, 0.06, 30))
    est[est < 0.02] = 0.0
    rows = [{"sim": i, "analysis": m, "estimate": e * f, "lower": max(0.0, e - 0.08) * f, "upper": (e + 0.2) * f,
             "singular": e == 0.0} for m, f in (("profile", 1.0), ("bootstrap", 0.85)) for i, e in enumerate(est)]
    return plots.sd_interval_plot(pd.DataFrame(rows), 0.1)


def case_rates_vs_setting_plot(wald_t, **_):
    return plots.rates_vs_setting_plot(wald_t)


def case_rates_at_setting_plot(wald_t, **_):
    return plots.rates_at_setting_plot(wald_t[wald_t["n_groups"] == 4], "coverage")


def case_wald_vs_t_panels(wald_t, **_):
    return plots.wald_vs_t_panels(wald_t[wald_t["n_groups"] == 4])


def case_residuals_vs_fitted_plot(residuals, **_):
    return plots.residuals_vs_fitted_plot(residuals[1])


def case_qq_plot(residuals, **_):
    return plots.qq_plot(residuals[1])


def case_residuals_by_group_plot(residuals, **_):
    return plots.residuals_by_group_plot(residuals[1])


def case_residual_pattern_plot(**_):
    rng = np.random.default_rng(1)
    cells = pd.DataFrame([(g, w) for g in ("B6", "CSB") for w in (2, 4, 8, 12, 16)], columns=["genotype", "weeks"])
    cells["mean_residual"] = rng.normal(0, 0.02, len(cells))
    cells["n_rows"] = 100
    arrays = pd.concat([cells.assign(sample=f"s{k}", mean_residual=cells["mean_residual"] + rng.normal(0, 0.01,
                                                                                                        len(cells)))
                        for k in range(3)])
    return plots.residual_pattern_plot(cells, arrays=arrays, truth_cells=cells.assign(mean_residual=0.0))


def case_analysis_rates_plot(**_):
    rates = pd.DataFrame({"analysis": ["lm on all rows", "probeset-only model", "mixed model with array effect",
                                       "lm on array means"],
                          "rate": [0.6, 0.55, 0.05, 0.04], "ci_low": [0.5, 0.45, 0.02, 0.01],
                          "ci_high": [0.7, 0.65, 0.1, 0.09], "n_sims": 50})
    return plots.analysis_rates_plot(rates)


def case_power_curve_plot(**_):
    curve = studies.array_power(range(2, 11), (1000, 18015, 100000), 0.02)
    return plots.power_curve_plot(curve, x="n_mice", hue="n_probesets", at=3)


def case_power_rates_plot(**_):
    wide = studies.power_and_false_positives(studies.replicate_power_study(0.1, cells_per_replicate=20, n_sims=4,
                                                                           seed=1))
    return plots.power_rates_plot(wide, expected=0.4)


def case_residual_panels(residuals, **_):
    fit = lmmedu.fit("log(length) ~ treatment * gene + (1 | replicate)",
                     lmmedu.simulate_replicates(obs_per_replicate=60, seed=4))
    return plots.residual_panels(residual_table(fit))


def case_modes_panels(slope_fit, **_):
    return plots.modes_panels(slope_fit)


def case_null_lrt_plot(**_):
    # Notebook 07's boundary figure on its own experiment (a few hundred refits: about a second).
    d = studies.simulate_groups(np.random.default_rng(7), n_groups=4, group_size=100, icc=0.2, design="within",
                                slope_sd=0.15)
    small = lmmedu.fit("log(length) ~ treatment + (1|replicate)", d)
    big = lmmedu.fit("log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)", d)
    return plots.null_lrt_plot(variance_test_table(small, big, n_boot=200, seed=2))


CASES = {name[len("case_"):]: func for name, func in globals().items() if name.startswith("case_")}


def test_every_figure_function_is_checked():
    figures = {name for name in plots.__all__ if callable(getattr(plots, name)) and name not in NOT_FIGURES}
    assert not figures - set(CASES), (f"add a case_<name> function for {sorted(figures - set(CASES))} to "
                                      "tests/test_figure_layout.py (or list a non-figure in NOT_FIGURES)")
    assert not set(CASES) - figures, f"cases of functions that are gone: {sorted(set(CASES) - figures)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_reads_well(name, request):
    wanted = inspect.signature(CASES[name]).parameters
    fixtures = {k: request.getfixturevalue(k) for k in wanted if k not in ("_",)}
    assert_reads_well(_figure(CASES[name](**fixtures)))


# --------------------------------------------------------------------------------------
# The widgets' figures, drawn as the widgets draw them
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("varies", ["between", "within", "both"])
def test_design_effect_explorer_figure_reads_well(varies):
    axes = plots.design_effect_plot(design_effect_view(icc=0.3, n_groups=4, group_size=200, imbalance=0.9,
                                                       varies=varies), axes=plots.design_effect_axes(pyplot=False))
    # The explorer saves the figure as it is (no tight bounding box), at 96 dpi.
    assert_reads_well(axes[0].figure, dpi=96)


def test_sd_interval_explorer_figure_reads_well_at_every_setting():
    # The explorer lays its figure out once and redraws it in place for every setting (the tick labels
    # change with the data): every setting must read well in that one layout, at the explorer's 72 dpi.
    from lmmedu.teach.widgets import SdIntervalExplorer

    app = SdIntervalExplorer()
    problems = {}
    for k in app.n_replicates.options:
        for sd in app.slope_sd.options:
            app.n_replicates.value, app.slope_sd.value = k, sd
            problems[(k, sd)] = layout_problems(app.figure, dpi=app.DPI)
    assert not any(problems.values()), {key: p for key, p in problems.items() if p}


@pytest.mark.parametrize("setting", [dict(), dict(slope_sd=0.0), dict(slope_sd=0.4),
                                     dict(n_replicates=3), dict(n_replicates=20),
                                     dict(cells=8), dict(cells=250), dict(slope_sd=0.4, n_replicates=20, cells=250)])
def test_slope_explorer_figure_reads_well(setting):
    # The explorer draws on one figure with fixed margins (no layout engine, no tight box), at 72 dpi:
    # every slider end must fit in those margins.
    from lmmedu.teach.studies import slope_view

    view = slope_view(**setting)
    ax = plots.shrinkage_plot(view.table, view.cov.to_numpy(), ax=plots.shrinkage_axes(pyplot=False))
    assert_reads_well(ax.figure, dpi=72)


def test_wald_vs_t_machine_draws_its_figure_with_the_checked_function(monkeypatch):
    # The app turns the figure into PNG bytes; what it draws is wald_vs_t_panels, checked above.
    from lmmedu.teach import widgets
    from lmmedu.teach.widgets import pvalues as app_module

    drawn = []
    original = plots.wald_vs_t_panels

    def spy(table, axes=None):
        axes = original(table, axes=axes)
        drawn.append(layout_problems(axes[0].figure, dpi=96))
        return axes

    monkeypatch.setattr(plots, "wald_vs_t_panels", spy)
    machine = widgets.WaldVsTMachine(n_sims=20)
    for setting in ((4, 20, 0.2), (2, 5, 0.0), (40, 2, 0.9)):  # the start, and both ends of the sliders
        machine.update(*setting)
    assert drawn == [[], [], []], (drawn, app_module.__name__)
