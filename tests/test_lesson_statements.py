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


def test_02_kr_and_satterthwaite_agree_with_many_cells_and_part_with_few(gene_a):
    # 02, "Satterthwaite or Kenward-Roger?": with thousands of cells per replicate the drug effect's df agree to
    # within 0.5 (the predict question's threshold) and KR's SE is larger but by under 1%; with 1% of the cells the
    # SE gap grows; and R's emmeans prints asymptotic df for gene A's row count.
    from lmmedu.teach.comparison import df_methods_table, few_cells, r_default_ddf

    formula = "log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)"
    full = df_methods_table(lmmedu.fit(formula, gene_a)).set_index(["term", "method"])
    few = df_methods_table(lmmedu.fit(formula, few_cells(gene_a))).set_index(["term", "method"])
    drug = "treatment[T.drug]"
    gap_full = full.loc[(drug, "Kenward-Roger"), "se"] / full.loc[(drug, "Satterthwaite"), "se"] - 1
    gap_few = few.loc[(drug, "Kenward-Roger"), "se"] / few.loc[(drug, "Satterthwaite"), "se"] - 1
    assert abs(full.loc[(drug, "Kenward-Roger"), "df"] - full.loc[(drug, "Satterthwaite"), "df"]) < 0.5
    assert 0 < gap_full < 0.01 and gap_few > gap_full
    assert r_default_ddf(len(gene_a)) == "asymptotic"


def test_04_interaction_df_stay_large_under_a_shared_slope_and_drop_with_a_per_gene_term():
    # 04, "The interaction as a whole": 2 numerator df; the shared random slope cancels from comparisons between
    # genes (den df in the thousands) while the treatment main effect gets about 3; the per-gene term brings the
    # interaction's den df between the hand analysis' 6 and the thousands; all agree the genes differ.
    from lmmedu.teach.comparison import interaction_by_hand, replicate_differences

    df = lmmedu.load_replicates("within")
    shared = lmmedu.anova(lmmedu.fit("log(length) ~ treatment*gene + (1 + treatment|replicate)", df))
    own = lmmedu.anova(lmmedu.fit("log(length) ~ treatment*gene + (1 + treatment|replicate)"
                                  " + (1|replicate:gene:treatment)", df))
    by_hand = interaction_by_hand(replicate_differences(df))
    assert shared.loc["treatment:gene", "num_df"] == 2
    assert shared.loc["treatment:gene", "den_df"] > 1000 and shared.loc["treatment", "den_df"] < 4
    assert by_hand["den_df"] < own.loc["treatment:gene", "den_df"] < 100
    assert max(shared.loc["treatment:gene", "p"], own.loc["treatment:gene", "p"], by_hand["p"]) < 0.05


def test_07_selection_study_separates_the_recipe_from_slope_always():
    # 07's "Choosing random effects by a test": the recipe lands between the two fixed choices, and its 95% interval
    # does not overlap that of "slope always" (the point of simulating 1,000 experiments); slope always is near 5%;
    # the slope's LRT misses the real slope variation in most experiments; singular slope fits reject more often.
    from lmmedu.teach.studies import singular_split

    table = load_study("random_slope_selection_study")
    assert table["sim"].nunique() >= 1000
    r = rates(table).set_index("analysis")
    recipe, always, never = (r.loc[k] for k in ("slope kept if LRT p < 0.05", "random slope always",
                                                "random intercept only"))
    assert recipe["ci_low"] > always["ci_high"]
    assert never["ci_low"] > recipe["ci_high"]
    assert always["ci_low"] <= 0.05 <= always["ci_high"]
    assert r.loc["LRT of the random slope", "rate"] < 0.5
    split = singular_split(table, "random slope always").set_index("fit")
    assert split.loc["singular", "ci_low"] > split.loc["not singular", "ci_high"]


def test_07_bootstrap_referees_only_the_model_it_simulates_from():
    # 07's referee study: without the random slope every test, the bootstrap included, rejects far more than 5%;
    # with it the bootstrap is near 5% and below the chi-square LRT's rate (the small-sample optimism it corrects).
    r = rates(load_study("referee_study")).set_index("analysis")
    for test in ("chi-square LRT (ML)", "parametric bootstrap LRT (ML)", "F, Satterthwaite df (REML)",
                 "F, Kenward-Roger df (REML)"):
        assert r.loc[f"random intercept only: {test}", "ci_low"] > 0.05
    boot = r.loc["random slope: parametric bootstrap LRT (ML)"]
    assert boot["ci_low"] <= 0.05 <= boot["ci_high"]
    assert r.loc["random slope: chi-square LRT (ML)", "rate"] > boot["rate"]
    assert r.loc["lm: F (lm)", "ci_low"] > 0.05


def test_07_boundary_about_half_the_null_lrts_are_zero_and_chisquare_is_conservative():
    # 07's boundary section on its own experiment (same seeds as the notebook): about half of the simulated null LRTs
    # are exactly 0, the chi-square test of the variance rejects below its 5% level, the mixture is closer to 5%;
    # the recipe's 2-df slope test has few zeros but is conservative too.
    from lmmedu.teach.comparison import variance_test_table
    from lmmedu.teach.studies import simulate_groups

    d = simulate_groups(np.random.default_rng(7), n_groups=4, group_size=100, icc=0.2, design="within",
                        slope_sd=0.15)
    small = lmmedu.fit("log(length) ~ treatment + (1|replicate)", d)
    cells = variance_test_table(small, lmmedu.fit("log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)",
                                                  d), n_boot=500, seed=2)
    assert 0.4 < cells.attrs["share_zero"] < 0.7
    assert cells.loc["chi-square", "null_rejection"] < cells.loc["50:50 mixture", "null_rejection"] < 0.05
    slope = variance_test_table(small, lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", d),
                                n_boot=200, seed=3)
    assert slope.attrs["share_zero"] < 0.1
    assert slope.loc["chi-square", "null_rejection"] < 0.05


@pytest.fixture(scope="module")
def pilot_10():
    # 10's model-building path: one cell in 20 of the within design, as the notebook builds it.
    return lmmedu.read_table(lmmedu.data.datasets.data_dir() / "replicates_within.csv").iloc[::20].reset_index(
        drop=True)


def test_10_the_path_meets_a_singular_slope_that_the_simulation_does_not_explain(pilot_10):
    # 10's step 3: the slope model is singular (correlation at -1) although the replicates' drug effects were
    # simulated to differ; step 4: dropping the correlation, as the design allows, gives a fit that is not singular.
    from lmmedu.teach.comparison import simplify_random, singular_parts

    m1 = lmmedu.fit("log(length) ~ treatment * gene + (1 + treatment | replicate)", pilot_10)
    assert m1.singular
    assert singular_parts(m1)["parameter"].str.startswith("correlation").all()
    assert lmmedu.truth(lmmedu.load_replicates("within")).replicate_treatment_sd > 0
    simpler, _ = simplify_random(m1)
    assert "(1 | replicate:treatment)" in simpler and not lmmedu.fit(simpler, pilot_10).singular


def test_10_kenward_roger_counts_fewer_df_with_four_replicates_and_changes_no_conclusion(pilot_10):
    # 10's step 6 markdown: with few groups Kenward-Roger's df are usually smaller; the notebook's sentence on
    # whether the choice changes a conclusion is computed, and the instructors' guide says it changes none here.
    from lmmedu.teach.comparison import choose_ddf, df_comparison

    m2 = lmmedu.fit("log(length) ~ treatment * gene + (1 | replicate) + (1 | replicate:treatment)", pilot_10)
    assert choose_ddf(m2)[0] == "Kenward-Roger"
    coefs, terms = df_comparison(m2), df_comparison(m2, of="terms")
    assert coefs.loc["treatment[T.drug]", "df_kenward_roger"] < coefs.loc["treatment[T.drug]", "df_satterthwaite"]
    assert terms.loc["treatment", "df_kenward_roger"] < terms.loc["treatment", "df_satterthwaite"]
    assert coefs["same_conclusion"].all() and terms["same_conclusion"].all()


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
