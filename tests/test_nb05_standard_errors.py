"""Notebook 05: why lm and mixed-model standard errors differ.

The design effect explorer computes its SEs from exact formulas; here they are checked against
real fits (lmmedu.fit with the fitted variances plugged in, and lmmedu.fit_lm over many
simulated experiments), against the textbook special cases, and the app is driven at its
defaults and at every slider end without a browser. The claims the notebook makes about the
gene-expression experiment are checked on a small simulated version of it.
"""

from __future__ import annotations

import io
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.teach.comparison import (  # noqa: E402
    DESIGN_VARIES,
    design_data,
    design_effect_view,
    design_layout,
    exact_standard_errors,
)
from lmmedu.teach.plots import (  # noqa: E402
    design_effect_axes,
    design_effect_plot,
    probeset_spread,
    probeset_spread_plot,
)
from lmmedu.teach.widgets import DesignEffectExplorer  # noqa: E402

DRUG = "treatment[T.drug]"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- the layout ----------------------------------------------------------------------


def test_layout_puts_the_drug_within_between_or_both():
    within = design_layout(6, 20, varies="within")
    assert (within["treated"] == 10).all()
    between = design_layout(6, 20, varies="between")
    assert set(between["treated"]) == {0, 20} and (between["treated"] == 20).sum() == 3
    both = design_layout(6, 20, varies="both")
    assert ((both["treated"] > 0) & (both["treated"] < both["size"])).all()
    assert both["treated"].nunique() > 1


def test_imbalance_spreads_the_sizes_and_zero_keeps_them_equal():
    assert design_layout(5, 40, imbalance=0.0)["size"].nunique() == 1
    sizes = design_layout(5, 40, imbalance=0.5)["size"]
    assert sizes.min() == 20 and sizes.max() == 60
    assert design_layout(3, 2, imbalance=0.9)["size"].min() >= 2


@pytest.mark.parametrize("kwargs, word", [
    ({"n_groups": 1}, "n_groups"), ({"group_size": 1}, "group_size"), ({"n_groups": 2.5}, "n_groups"),
    ({"imbalance": 1.0}, "imbalance"), ({"imbalance": -0.1}, "imbalance"), ({"varies": "across"}, "varies"),
])
def test_bad_layouts_say_what_is_wrong(kwargs, word):
    with pytest.raises(ValueError, match=word):
        design_layout(**kwargs)


def test_bad_icc_says_what_is_wrong():
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(ValueError, match="icc"):
            exact_standard_errors(design_layout(), bad)
    with pytest.raises(ValueError, match="layout"):
        exact_standard_errors({"size": [1]}, 0.1)


# --- exact formulas against real fits ---------------------------------------------------


@pytest.mark.parametrize("varies, imbalance", list(itertools.product(DESIGN_VARIES, (0.0, 0.6))))
def test_exact_mixed_model_se_equals_lmmedu_fit_with_its_variances(varies, imbalance):
    layout = design_layout(12, 30, imbalance, varies)
    data = design_data(layout, icc=0.2, seed=3)
    fit = lmmedu.fit("y ~ treatment + (1|group)", data)
    vc = fit.varcomp.set_index("group")["variance"]
    total = vc["group"] + vc["Residual"]
    exact = exact_standard_errors(layout, vc["group"] / total, total)
    np.testing.assert_allclose(exact["se_lmm"], fit.coefs["se"], rtol=1e-6)


@pytest.mark.parametrize("varies", DESIGN_VARIES)
def test_exact_lm_se_and_spread_match_many_lm_fits(varies):
    layout = design_layout(10, 20, 0.4, varies)
    exact = exact_standard_errors(layout, 0.3)
    estimates, ses = [], []
    for seed in range(200):
        lm = lmmedu.fit_lm("y ~ treatment", design_data(layout, 0.3, seed=seed))
        estimates.append(lm.coefs["estimate"].to_numpy())
        ses.append(lm.coefs["se"].to_numpy())
    # The lm's reported SE, averaged, and the real spread of its estimates.
    np.testing.assert_allclose(np.mean(ses, axis=0), exact["se_lm"], rtol=0.05)
    np.testing.assert_allclose(np.std(estimates, axis=0, ddof=1), exact["sd_lm"], rtol=0.15)


def test_textbook_special_cases():
    rho, m = 0.1, 40
    between = exact_standard_errors(design_layout(8, m, varies="between"), rho)
    assert between.loc[DRUG, "term_deff"] == pytest.approx(1 + (m - 1) * rho)
    assert between.loc["Intercept", "term_deff"] == pytest.approx(1 + (m - 1) * rho)
    within = exact_standard_errors(design_layout(8, m, varies="within"), rho)
    assert within.loc[DRUG, "term_deff"] == pytest.approx(1 - rho)
    # Balanced within: the lm estimate is the GLS estimate, so their true SDs agree.
    assert within.loc[DRUG, "sd_lm"] == pytest.approx(within.loc[DRUG, "se_lmm"])
    flat = exact_standard_errors(design_layout(8, m, varies="between"), 0.0)
    np.testing.assert_allclose(flat["se_ratio"], 1.0)
    np.testing.assert_allclose(flat["lm_false_positive"], 0.05)
    assert between.loc[DRUG, "lm_false_positive"] > 0.3


def test_a_tiny_icc_still_inflates_a_between_group_se_with_big_groups():
    view = design_effect_view(icc=0.03, n_groups=20, group_size=200, varies="between")
    assert view.deff == pytest.approx(1 + 199 * 0.03)
    assert view.table.loc[DRUG, "se_ratio"] > 2
    within = design_effect_view(icc=0.03, n_groups=20, group_size=200, varies="within")
    assert within.table.loc[DRUG, "se_ratio"] == pytest.approx(1.0, abs=0.05)


def test_view_uses_the_size_weighted_group_size():
    view = design_effect_view(icc=0.2, n_groups=4, group_size=50, imbalance=0.8)
    sizes = view.layout["size"].to_numpy()
    assert view.kish_size == pytest.approx((sizes**2).sum() / sizes.sum())
    assert view.kish_size > 50
    assert view.n_eff == pytest.approx(view.n / view.deff)
    assert f"{view.deff:.2f}" in view.text


# --- the app --------------------------------------------------------------------------


def _ends(widget):
    if hasattr(widget, "options") and not hasattr(widget, "min"):
        values = [v[1] if isinstance(v, tuple) else v for v in widget.options]
        return [values[0], values[-1]]
    return [widget.min, widget.max]


def test_explorer_at_defaults_shows_the_exact_view():
    app = DesignEffectExplorer()
    assert app.message.value == ""
    expected = design_effect_view(**app.settings())
    np.testing.assert_allclose(app.result.table.to_numpy(), expected.table.to_numpy())
    assert app.plot.value[:4] == b"\x89PNG"
    assert f"{expected.deff:.2f}" in app.readout.value
    assert f"{expected.table.loc[DRUG, 'se_lmm']:.4f}" in app.table.value


@pytest.mark.parametrize("control", DesignEffectExplorer.controls)
def test_explorer_survives_every_control_end(control):
    app = DesignEffectExplorer()
    widget = getattr(app, control)
    for value in _ends(widget) + [widget.value]:
        widget.value = value
        assert app.message.value == "", app.message.value
        assert app.result.settings[control] == pytest.approx(value) if control != "varies" else True
        assert np.isfinite(app.result.table.to_numpy()).all()


def test_explorer_survives_all_extremes_at_once():
    app = DesignEffectExplorer()
    corners = list(itertools.product(*[_ends(getattr(app, c)) for c in ("icc", "n_groups", "group_size",
                                                                         "imbalance")]))
    for i, values in enumerate(corners):
        for varies in DESIGN_VARIES:
            settings = dict(zip(("icc", "n_groups", "group_size", "imbalance"), values), varies=varies)
            result = app.update(**settings)  # compute only: every corner
            assert np.isfinite(result.table.to_numpy()).all()
            if i in (0, len(corners) - 1):  # and drawn at the two extreme corners
                assert app.run(**settings) is not None, app.message.value


def test_explorer_shows_a_message_instead_of_raising():
    app = DesignEffectExplorer()
    assert app.run(icc=1.0) is None
    assert "icc" in app.message.value
    app.run()
    assert app.message.value == ""


def test_explorer_directions_follow_where_the_drug_varies():
    app = DesignEffectExplorer(icc=0.2)
    app.varies.value = "between"
    assert app.result.table.loc[DRUG, "se_ratio"] > 1.5
    app.varies.value = "within"
    assert app.result.table.loc[DRUG, "se_ratio"] < 1
    assert app.result.table.loc["Intercept", "se_ratio"] > 1


def _pixels(png):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _fresh_png(view):
    """The explorer's figure as a new figure draws it: what every move must look like."""
    axes = design_effect_plot(view, axes=design_effect_axes(pyplot=False))
    buffer = io.BytesIO()
    axes[0].figure.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


def test_explorer_redraws_in_place_exactly_as_a_new_figure():
    # The explorer keeps one figure and moves its artists (and encodes the PNG itself): at the
    # defaults and after every slider end, reached one after another so that each picture
    # follows another, its pixels are those of a new figure of the same view.
    app = DesignEffectExplorer()
    figure = app._axes[0].figure
    moves = [(None, None)] + [(control, value) for control in DesignEffectExplorer.controls
                              for value in _ends(getattr(app, control))]
    for control, value in moves:
        if control is not None:
            getattr(app, control).value = value
        assert app.message.value == "", app.message.value
        np.testing.assert_array_equal(_pixels(app.plot.value), _pixels(_fresh_png(app.result)),
                                      err_msg=f"{control}={value}")
    assert app._axes[0].figure is figure
    assert len(app._axes[1].lines) == 4 and len(app._axes[0].containers) == 2  # moved, never added


def test_explorer_never_pastes_stale_pixels():
    # The explorer draws its legend and axis labels once and pastes their pixels into later
    # frames; if one of them changes, the next frame is drawn whole.
    app = DesignEffectExplorer()
    figure = app._axes[0].figure
    app._axes[0].set_xlabel("a label the first frame did not have")
    app.icc.value = 0.3
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    np.testing.assert_array_equal(_pixels(app.plot.value), _pixels(buffer.getvalue()))
    assert not np.array_equal(_pixels(app.plot.value), _pixels(_fresh_png(app.result)))


def test_design_effect_plot_moves_its_artists_on_axes_it_drew():
    axes = design_effect_axes(pyplot=False)
    design_effect_plot(design_effect_view(icc=0.05), axes=axes)
    bars = list(axes[0].patches)
    view = design_effect_view(icc=0.4, n_groups=6, group_size=200, varies="within")
    design_effect_plot(view, axes=axes)
    assert list(axes[0].patches) == bars
    assert [bar.get_width() for bar in bars[2:]] == pytest.approx(view.table["se_lmm"].tolist())
    assert axes[1].get_legend().get_texts()[2].get_text() == f"drug effect (within): {view.table.loc[DRUG, 'term_deff']:.2f}"
    point = axes[1].lines[2]
    assert (point.get_xdata()[0], point.get_ydata()[0]) == pytest.approx((view.kish_size, view.deff))
    assert f"{view.n:,} rows" in axes[1].get_title()


def test_design_effect_plot_marks_the_current_design():
    view = design_effect_view(icc=0.1, group_size=20)
    ax_se, ax_curve = design_effect_plot(view)
    xs = [x for line in ax_curve.get_lines() for x in np.atleast_1d(line.get_xdata())]
    assert view.kish_size in xs
    assert "worth about" in ax_curve.get_title()


# --- the gene-expression experiment -------------------------------------------------------


@pytest.fixture(scope="module")
def expression():
    return lmmedu.simulate_expression(n_probesets=300, seed=20141226)


def test_probesets_differ_far_more_than_values_within_a_probeset(expression):
    s = probeset_spread(expression)
    t = lmmedu.truth(expression)
    assert s["between_sd"] == pytest.approx(t.probeset_sd, rel=0.15)
    assert s["within_sd"] < 0.2 * s["between_sd"]
    ax = probeset_spread_plot(expression, n_show=10)
    assert "SD" in ax.get_title()


def test_thread_model_raises_the_intercept_se_and_lowers_the_others(expression):
    cmp = lmmedu.compare("values ~ week*genotype + (week|probeset)", expression)
    ratio = cmp.table["se_ratio"]
    assert ratio["Intercept"] > 1
    assert (ratio.drop("Intercept") < 1).all()
    assert (cmp.table["varies_probeset"].drop("Intercept") == "within").all()


def test_balanced_probesets_give_equal_coefficients_and_unbalanced_ones_do_not(expression):
    formula = "values ~ week*genotype + (week|probeset)"
    cmp = lmmedu.compare(formula, expression)
    gap = (cmp.table["estimate_lmm"] - cmp.table["estimate_lm"]).abs() / cmp.table["se_lmm"]
    assert gap.max() < 1e-4
    holes = lmmedu.compare(formula, expression.sample(frac=0.9, random_state=1))
    gap = (holes.table["estimate_lmm"] - holes.table["estimate_lm"]).abs() / holes.table["se_lmm"]
    assert gap.max() > 1e-3


def test_an_array_effect_below_5_percent_icc_still_widens_the_interaction(expression):
    t = lmmedu.truth(expression)
    assert t.sample_sd**2 / (t.sample_sd**2 + t.residual_sd**2) < 0.05
    base = lmmedu.fit("values ~ week*genotype + (week|probeset)", expression)
    arrays = lmmedu.fit("values ~ week*genotype + (week|probeset) + (1|sample)", expression)
    term = "week:genotype[T.CSB]"
    assert arrays.coefs.loc[term, "se"] > 1.5 * base.coefs.loc[term, "se"]
    assert arrays.coefs.loc[term, "df"] < 30


def test_package_icc_is_exercise_2s_hand_computation(expression):
    # Notebook 05 computes the array ICC by hand (array variance / (array variance + residual
    # variance)) and shows lmmedu.icc agrees; the design effect of compare() uses the same ICC.
    formula = "values ~ week*genotype + (week|probeset) + (1|sample)"
    cmp = lmmedu.compare(formula, expression)
    vc = cmp.lmm.varcomp
    array_var = float(vc.loc[vc["group"] == "sample", "variance"].iloc[0])
    by_hand = array_var / (array_var + cmp.lmm.sigma**2)
    row = lmmedu.icc(cmp.lmm).loc["sample"]
    assert row["within"] == "probeset"
    assert row["icc"] == pytest.approx(by_hand, rel=1e-12)
    rows_per_array = expression["probeset"].nunique()
    assert cmp.design_effect.loc["sample", "deff"] == pytest.approx(1 + (rows_per_array - 1) * by_hand, rel=1e-12)
    # The share of all the variance is far smaller: the probeset differences dwarf everything.
    assert row["share"] < by_hand / 10
