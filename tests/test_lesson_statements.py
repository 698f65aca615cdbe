"""Statements the lessons make about their own numbers (issue 23), pinned where a computed check is possible.

Each test recomputes what a notebook's prose says from the same data and checks the claim holds, so a change
to the simulator or the engine that would make the sentence false fails here rather than in a learner's hands.
"""

import itertools

import matplotlib
import numpy as np
import pytest

import lmmedu
from lmmedu.teach.plots import gene_response_plot
from lmmedu.teach.studies import load_study, rates

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def gene_a():
    df = lmmedu.load_replicates("within")
    return df[df["gene"] == "A"]


def test_02_replicate_drug_effect_sd_is_sqrt2_times_the_interaction_term_sd(gene_a):
    # 02: in (1|replicate) + (1|replicate:treatment) a replicate's drug effect is the difference of two independent
    # arm deviations, so its SD is sqrt(2) x the term's SD; (treatment|replicate) estimates that SD directly. Both
    # describe the same four replicates, so they agree closely (10%: the two models differ only in the
    # correlation and in the equal-arm-variance constraint), while the raw term SD is about 0.71 of it.
    rt = lmmedu.fit("log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)", gene_a)
    slope = lmmedu.fit("log(length) ~ treatment + (treatment|replicate)", gene_a)
    vc_rt = rt.varcomp.set_index("group")
    vc_s = slope.varcomp
    sd_term = float(vc_rt.loc["replicate:treatment", "sd"])
    sd_slope = float(vc_s.loc[(vc_s["term"] == "treatment[T.drug]") & vc_s["term2"].isna(), "sd"].iloc[0])
    assert np.sqrt(2) * sd_term == pytest.approx(sd_slope, rel=0.1)
    assert abs(np.sqrt(2) * sd_term - sd_slope) < abs(sd_term - sd_slope)


def test_02_drug_estimate_differs_from_lm_once_replicates_have_their_own_drug_effect(gene_a):
    # 02's key point and 00's glossary: with (1|replicate) the balanced within-replicate drug effect equals the
    # lm's; with a drug effect per replicate and unequal replicates it does not; with equal replicates it does.
    formula = "log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)"
    lm_est = lmmedu.fit_lm("log(length) ~ treatment", gene_a).coefs.loc["treatment[T.drug]", "estimate"]
    ri = lmmedu.fit("log(length) ~ treatment + (1|replicate)", gene_a).coefs.loc["treatment[T.drug]", "estimate"]
    rt = lmmedu.fit(formula, gene_a).coefs.loc["treatment[T.drug]", "estimate"]
    assert ri == pytest.approx(lm_est, abs=1e-10)
    assert abs(rt - lm_est) > 1e-3
    equal = lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=500, seed=7)
    lm_eq = lmmedu.fit_lm("log(length) ~ treatment", equal).coefs.loc["treatment[T.drug]", "estimate"]
    rt_eq = lmmedu.fit(formula, equal).coefs.loc["treatment[T.drug]", "estimate"]
    assert rt_eq == pytest.approx(lm_eq, abs=1e-8)


def test_04_gene_response_figure_reads_at_a_glance():
    # One question, one figure: no two texts overlap and the legend sits outside the axes, so it covers no point.
    gene_rates = rates(load_study("gene_response_study"))
    fig, ax = plt.subplots(figsize=(6.6, 3.0), layout="constrained")
    gene_response_plot(gene_rates, test="A minus C", ax=ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()
             and (t.axes is None or t not in ax.get_xticklabels() or ax.get_xlim()[0] <= t.get_position()[0]
                  <= ax.get_xlim()[1])]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    clashes = [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]
    assert not clashes
    legend_box = (ax.get_legend() or fig.legends[0]).get_window_extent(renderer)
    assert legend_box.y1 <= ax.get_window_extent(renderer).y0
    assert [t.get_text() for t in ax.get_yticklabels()] == ["shared", "per gene"]
    plt.close(fig)


def test_04_gene_response_plot_names_a_wrong_test():
    with pytest.raises(ValueError, match="test must be one of"):
        gene_response_plot(rates(load_study("gene_response_study")), test="B minus C")


def test_08_referee_reads_simulations_of_the_notebooks_own_data_set():
    # 08 reads the bootstrap's simulated LRTs from data/ and says they were computed for "this very data set":
    # the recipe must simulate the data set the notebook analyses, with the n and seed the notebook prints.
    import json
    from pathlib import Path

    from lmmedu.teach.studies import STUDY_RECIPES

    path = Path(__file__).resolve().parent.parent / "notebooks" / "08_case_study_gene_expression.ipynb"
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                     if c["cell_type"] == "code")
    recipe = STUDY_RECIPES["expression_referee_study"].kwargs
    assert f"lmmedu.simulate_expression(seed={recipe['data_seed']})" in code
    markdown = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "markdown")
    # The R line beside the call names the same simulations.
    assert f"PBmodcomp(mm_full, mm_small, nsim = {recipe['n_sims']}, seed = {recipe['seed']})" in markdown
    assert recipe["n_probesets"] == 18015
    assert load_study("expression_referee_study")["sim"].nunique() == recipe["n_sims"]


def test_08_the_bootstrap_is_fooled_without_the_array_and_agrees_with_the_f_tests_with_it():
    # 08's referee section: without (1|sample) not one simulated LRT reaches the observed one (the bootstrap
    # repeats the mistake); with it the chi-square, the bootstrap and both F tests agree within the bootstrap's
    # Monte-Carlo interval, none is significant, and Satterthwaite and Kenward-Roger give the arrays' df.
    from lmmedu.teach.studies import EXPRESSION_MODELS, interaction_referee, without_interaction

    df = lmmedu.simulate_expression(seed=6)
    fits = {name: (lmmedu.fit(f, df), lmmedu.fit(without_interaction(f), df, reml=False), lmmedu.fit(f, df, reml=False))
            for name, f in EXPRESSION_MODELS.items() if name != "lm"}
    boot = load_study("expression_referee_study")
    tab = interaction_referee(lmmedu.fit_lm(EXPRESSION_MODELS["lm"], df), fits,
                              simulated_lrt={n: g["estimate"] for n, g in boot.groupby("analysis")})
    p = tab.set_index(["model", "test"])["p"]
    den = tab.set_index(["model", "test"])["den_df"]
    probe, array = "(week|probeset)", "(week|probeset) + (1|sample)"
    info = tab.attrs["bootstrap"]
    assert info[probe]["hits"] == 0 and p[(probe, "parametric bootstrap (ML)")] < 0.01
    assert p[probe].drop("parametric bootstrap (ML)").max() < 1e-8
    honest = p[array]
    assert honest.min() > 0.05
    assert info[array]["mc_low"] <= honest.min() and honest.max() <= info[array]["mc_high"]
    n_arrays, n_coefs = df["sample"].nunique(), 4
    for test in ("Satterthwaite F (REML)", "Kenward-Roger F (REML)"):
        assert den[(array, test)] == pytest.approx(n_arrays - n_coefs, abs=0.5)
    # The chi-square, assuming unlimited df, gives the smallest p of the four (its small-sample optimism).
    assert honest["chi-square LRT (ML)"] < min(honest["Satterthwaite F (REML)"], honest["Kenward-Roger F (REML)"])
