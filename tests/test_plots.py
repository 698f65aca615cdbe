"""The notebook figures draw what they claim: the data's means, the truth, the rates, the units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.teach import plots  # noqa: E402
from lmmedu.teach.cells import length_skewness, replicate_means  # noqa: E402
from lmmedu.teach.studies import false_positive_rates  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small():
    return lmmedu.simulate_replicates(obs_per_replicate=(40, 60, 80), n_replicates=3, seed=3)


def _title(ax):
    # Long computed titles are broken into lines to fit their panel; the words are what is checked.
    return " ".join(ax.get_title().split())


def _hlines(ax):
    return [line for line in ax.get_lines() if len(set(line.get_ydata())) == 1 and line.get_linestyle() == "--"]


def test_replicate_view_draws_replicate_means_and_the_truth(small):
    ax = plots.replicate_view(small, gene="B", max_points=10)
    sub = small[small["gene"] == "B"]
    expected = np.log(sub["length"]).groupby([sub["replicate"], sub["treatment"]], observed=True).mean()
    got = replicate_means(sub).set_index(["replicate", "treatment"])["mean_log"]
    np.testing.assert_allclose(got.sort_index().to_numpy(), expected.sort_index().to_numpy())
    # The big diamonds are those means.
    diamonds = [c for c in ax.collections if c.get_sizes().size and c.get_sizes()[0] >= 100]
    plotted = np.sort(np.concatenate([c.get_offsets()[:, 1] for c in diamonds]))
    np.testing.assert_allclose(plotted, np.sort(expected.to_numpy()))
    # Dashed lines at the true arm means of gene B.
    cm = lmmedu.truth(small).cell_means
    true = np.sort(cm.loc[cm["gene"] == "B", "mean_log"].to_numpy())
    lines = np.sort([line.get_ydata()[0] for line in _hlines(ax)])
    np.testing.assert_allclose(lines, true)
    assert ax.get_ylabel() == "log length (log µm)"
    assert f"{len(sub):,} measurements" in _title(ax)
    assert "3 replicates" in _title(ax)


def test_replicate_view_subsamples_dots_but_not_means(small):
    ax = plots.replicate_view(small, gene="A", max_points=5)
    dots = [c for c in ax.collections if c.get_sizes().size and c.get_sizes()[0] < 100]
    assert sum(len(c.get_offsets()) for c in dots) == 3 * 2 * 5
    diamonds = [c for c in ax.collections if c.get_sizes().size and c.get_sizes()[0] >= 100]
    assert sum(len(c.get_offsets()) for c in diamonds) == 3 * 2
    assert replicate_means(small[small["gene"] == "A"])["n"].sum() == (small["gene"] == "A").sum()


def test_replicate_view_rejects_bad_input(small):
    with pytest.raises(ValueError, match="gene"):
        plots.replicate_view(small, gene="Z")
    with pytest.raises(ValueError, match="length"):
        plots.replicate_view(small.drop(columns="length"))
    with pytest.raises(ValueError, match="max_points"):
        plots.replicate_view(small, max_points=0)


def test_false_positive_plot_shows_rates_intervals_and_nominal_line():
    rates = false_positive_rates(n_sims=20, obs_per_replicate=20, seed=2)
    ax = plots.rates_plot(rates)
    points = [c for c in ax.get_lines() if c.get_marker() == "o"]
    xs = sorted(float(p.get_xdata()[0]) for p in points)
    assert xs == pytest.approx(sorted(rates["rate"]))
    nominal = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [float(line.get_xdata()[0]) for line in nominal] == [0.05]
    assert [t.get_text() for t in ax.get_yticklabels()] == rates["analysis"].tolist()
    worst = rates.loc[rates["rate"].idxmax()]
    assert f"{worst['analysis']}: {worst['rate']:.0%}" in _title(ax)


def test_false_positive_plot_marks_untestable_methods():
    rates = false_positive_rates(n_replicates=2, n_sims=4, obs_per_replicate=10, seed=2)
    ax = plots.rates_plot(rates)
    texts = [t.get_text() for t in ax.texts]
    assert sum("not testable" in t for t in texts) == 2


def test_length_scales_reports_skewness_of_both_scales(small):
    axes = plots.length_scales(small, gene="A")
    sub = small[small["gene"] == "A"]
    skew = length_skewness(small, gene="A")
    assert skew["length"] == pytest.approx(stats.skew(sub["length"]))
    assert skew["log_length"] == pytest.approx(stats.skew(np.log(sub["length"])))
    # Log-normal lengths: right-skewed raw, near-symmetric after log.
    assert skew["length"] > 1
    assert abs(skew["log_length"]) < 0.5
    assert [a.get_xlabel() for a in axes] == ["length (µm)", "log length (log µm)"]
    assert [a.get_title() for a in axes] == [f"skewness {skew['length']:.2f}", f"skewness {skew['log_length']:.2f}"]


def test_se_ratio_plot_bars_end_at_the_ratio():
    table = pd.DataFrame({"se_lm": [1.0, 2.0], "se_lmm": [4.0, 1.0], "varies_replicate": ["between", "within"]},
                         index=["Intercept", "treatment[T.drug]"])
    ax = plots.se_ratio_plot(table)
    assert ax.get_xscale() == "log"
    ends = sorted(p.get_x() + p.get_width() for p in ax.patches)
    assert ends == pytest.approx([0.5, 4.0])
    assert "raised 1 and lowered 1 of 2" in _title(ax)
    with pytest.raises(ValueError, match="se_ratio"):
        plots.se_ratio_plot(pd.DataFrame({"x": [1]}))


def test_percent_change_plot_counts_intervals_that_contain_the_truth():
    table = pd.DataFrame({"percent": [24.0, 12.0], "percent_low": [20.0, 11.0], "percent_high": [28.0, 14.0]},
                         index=pd.Index(["A", "B"], name="gene"))
    ax = plots.percent_change_plot(table, truth={"A": 24.6, "B": 9.4})
    assert ax.get_title() == "1 of 2 intervals contain the true effect"
    with pytest.raises(ValueError, match="percent_low"):
        plots.percent_change_plot(table.drop(columns="percent_low"))


def test_rate_curve_plot_draws_each_method_at_its_rates():
    from lmmedu.teach.studies import rate_curve

    curve = rate_curve("obs_per_replicate", [5, 50], n_sims=20, seed=1, design="between")
    ax = plots.rate_curve_plot(curve)
    assert ax.get_xscale() == "log"
    naive = curve[curve["analysis"] == "naive lm"]
    line = [l for l in ax.get_lines() if l.get_label() == "naive lm"]
    if not line:  # errorbar containers keep the label on the container
        line = [c.lines[0] for c in ax.containers if c.get_label() == "naive lm"]
    np.testing.assert_allclose(line[0].get_ydata(), naive["rate"].to_numpy())
    assert f"{naive['rate'].iloc[0]:.0%} false positives with 5 measurements per replicate" in _title(ax)
    with pytest.raises(ValueError, match="rate_curve"):
        plots.rate_curve_plot(pd.DataFrame({"x": [1]}))


def test_every_plot_returns_the_axes_it_was_given(small):
    fig, axes = plt.subplots(1, 3)
    assert plots.replicate_view(small, ax=axes[0]) is axes[0]
    assert plots.replicate_means_plot(small, ax=axes[1]) is axes[1]
    table = pd.DataFrame({"se_lm": [1.0], "se_lmm": [2.0]}, index=["Intercept"])
    assert plots.se_ratio_plot(table, ax=axes[2]) is axes[2]
    pair = plt.subplots(1, 2)[1]
    assert list(plots.length_scales(small, ax=pair)) == list(pair)


def test_panel_figures_refuse_too_few_axes():
    # One shared set-up (plots.new_panels) for every multi-panel figure: a caller's Axes are
    # checked, so no panel is silently left out.
    r = pd.DataFrame({"group": "g", "term": ["Intercept", "Intercept", "x", "x"], "level": ["a", "b", "a", "b"],
                      "mode": [0.1, -0.1, 0.2, -0.2], "sd": 0.05})
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="caterpillar_plot needs 2 Axes"):
        plots.caterpillar_plot(plots.caterpillar_table(r), axes=[ax])
    assert len(plots.caterpillar_plot(plots.caterpillar_table(r))) == 2
    plt.close("all")


def test_no_figure_prints_negative_zero():
    # A symmetric sample has a skewness of about -1e-17: printed as 0.00, never "-0.00".
    values = np.r_[-np.arange(1, 200), np.arange(1, 200)] / 100.0
    quantiles = stats.norm.ppf((np.arange(len(values)) + 0.5) / len(values))
    table = pd.DataFrame({"scaled": values, "normal_quantile": quantiles})
    title = plots.qq_plot(table).get_title()
    assert "skewness of the residuals 0.00" in title and "-0.00" not in title
    assert plots.number(-0.004) == "0.00" and plots.number(-0.006) == "-0.01"


def test_replicate_view_draws_one_truth_line_when_the_arms_share_it():
    # Gene C has no drug effect: both arms' true means are equal, so one line, named for both arms.
    df = lmmedu.simulate_replicates(obs_per_replicate=20, seed=1)
    ax = plots.replicate_view(df, gene="C", max_points=5)
    assert len(_hlines(ax)) == 1
    labels = ax.get_legend_handles_labels()[1]
    assert "true mean (both arms)" in labels and not any(label.endswith(": true mean") for label in labels)


def test_replicate_means_plot_names_each_replicate_and_the_dot_sizes(small):
    ax = plots.replicate_means_plot(small)
    labels = ax.get_legend_handles_labels()[1]
    assert [f"replicate {r}" for r in ("R1", "R2", "R3")] == [lab for lab in labels if lab.startswith("replicate ")]
    sizes = replicate_means(small, cells=("gene", "treatment"))["n"]
    assert f"area: {sizes.min():,} rows" in labels and f"area: {sizes.max():,} rows" in labels


def test_power_curve_title_gives_every_line_at_the_marked_setting():
    from lmmedu.teach.studies import array_power

    curve = array_power(range(2, 6), (1000, 18015, 100000), 0.02)
    title = _title(plots.power_curve_plot(curve, x="n_mice", hue="n_probesets", at=3))
    at = curve[curve["n_mice"] == 3].set_index("n_probesets")["power"]
    for n, p in at.items():
        assert f"{p:.0%} with {n:,}" in title
