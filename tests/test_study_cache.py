"""The cached studies in data/ are what their recipes produce, and say what notebook 04 claims."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmmedu.teach.studies import (GENE_RESPONSE_MODELS, STUDY_RECIPES, load_study, rates, render_study_csv,
                                  run_study_recipe, simulate_gene_responses, singular_split, stale_studies)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_studies.py"


def test_committed_study_files_match_their_recipes():
    problems = stale_studies()
    assert not problems, "out of date (run `python scripts/make_studies.py`): " + "; ".join(
        f"{f}: {why}" for f, why in problems.items())


@pytest.mark.parametrize("name", list(STUDY_RECIPES))
def test_study_files_are_small_and_complete(name):
    r = STUDY_RECIPES[name]
    raw = (ROOT / "data" / r.filename).read_bytes()
    assert len(raw) < 500_000 and b"\r" not in raw and raw.endswith(b"\n")
    table = load_study(name)
    n_settings = max(1, len(table.groupby(list(r.setting_columns), sort=False)) if r.setting_columns else 1)
    n_analyses = table["analysis"].nunique()
    assert len(table) == r.kwargs["n_sims"] * n_settings * n_analyses
    assert (table["error"] == "").all(), table.loc[table["error"] != "", "error"].unique()
    # Loading and rendering again gives the committed text byte for byte.
    assert render_study_csv(table) == raw.decode("utf-8")


def test_the_random_slope_claim_rests_on_enough_experiments():
    table = load_study("random_slope_study")
    assert table["sim"].nunique() >= 150
    r = rates(table).set_index("analysis")
    assert r.loc["(1|replicate)", "ci_low"] > 0.05  # the random intercept alone is too eager
    split = singular_split(table).set_index("fit")
    assert set(split.index) == {"singular", "not singular"}
    # Singular slope fits are the random-intercept model in disguise: more false positives.
    assert split.loc["singular", "rate"] > 2 * split.loc["not singular", "rate"]
    assert split.loc["not singular", "ci_low"] <= 0.05 <= split.loc["not singular", "ci_high"]


def test_gene_response_study_shows_both_directions():
    r = rates(load_study("gene_response_study")).set_index(["truth", "analysis"])
    shared_truth, own_truth = "shared by all genes", "different per gene"
    # Assuming a shared response when each gene has its own: gene differences look "significant",
    # far more often than with the per-gene term, and single genes' effects too.
    assert r.loc[(own_truth, "shared: A minus C"), "ci_low"] > 0.05
    assert r.loc[(own_truth, "shared: A minus C"), "rate"] > 2 * r.loc[(own_truth, "per gene: A minus C"), "rate"]
    assert r.loc[(own_truth, "shared: effect in C"), "rate"] > r.loc[(own_truth, "per gene: effect in C"), "rate"]
    # Allowing each gene its own response keeps gene comparisons near nominal under both truths.
    for truth in (shared_truth, own_truth):
        assert r.loc[(truth, "per gene: A minus C"), "ci_low"] <= 0.05
    assert r.loc[(own_truth, "one model per gene: effect in C"), "ci_low"] <= 0.05
    # Under a shared response the shared model compares genes correctly, and the extra variance
    # of the per-gene term is mostly estimated at zero (singular fits).
    assert r.loc[(shared_truth, "shared: A minus C"), "ci_low"] <= 0.05
    assert r.loc[(shared_truth, "per gene: A minus C"), "singular_rate"] > 0.5


def test_gene_response_simulation_shares_or_separates_the_drug_response():
    def replicate_drug_effects(df):
        m = np.log(df["length"]).groupby([df["replicate"], df["gene"], df["treatment"]], observed=True).mean()
        return m.xs("drug", level="treatment") - m.xs("control", level="treatment")

    for shared, own in ((0.3, 0.0), (0.0, 0.3)):
        df = simulate_gene_responses(np.random.default_rng(3), shared_sd=shared, per_gene_sd=own,
                                     obs_per_replicate=4, residual_sd=0.0, replicate_sd=0.0)
        effects = replicate_drug_effects(df).unstack("gene")
        spread_between_genes = float(effects.std(axis=1).max())
        if own == 0:
            assert spread_between_genes < 1e-9  # every gene of a replicate moves together
        else:
            assert spread_between_genes > 0.05
    assert list(GENE_RESPONSE_MODELS)[0] == "shared"
    with pytest.raises(ValueError, match="per_gene_sd"):
        simulate_gene_responses(np.random.default_rng(0), per_gene_sd=-1)


def test_singular_split_rejects_what_it_cannot_split():
    table = run_study_recipe("random_slope_study", n_sims=1)
    with pytest.raises(ValueError, match="analysis must be one of"):
        singular_split(table, "nope")
    with pytest.raises(ValueError, match="run_study"):
        singular_split(pd.DataFrame({"x": [1]}))


def test_script_check_names_a_stale_file(tmp_path):
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    name = "random_slope_study"
    text = (ROOT / "data" / STUDY_RECIPES[name].filename).read_text(encoding="utf-8")
    lines = text.split("\n")
    fields = lines[1].split(",")
    fields[5] = "0.999"  # alter the first p-value
    lines[1] = ",".join(fields)
    (tmp_path / STUDY_RECIPES[name].filename).write_text("\n".join(lines), encoding="utf-8")
    bad = subprocess.run([sys.executable, str(SCRIPT), "--check", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert "random_slope_study.csv: out of date (first experiments differ" in bad.stderr
    assert "gene_response_study.csv: out of date (missing)" in bad.stderr


def test_notebook_01s_cached_studies_are_what_its_functions_compute():
    # Notebook 01 shows these instead of simulating at start-up: they must be the very tables
    # the machine's run() and rate_curve() give (same experiments, same seeds).
    from lmmedu.teach.studies import false_positive_rates, rate_curve
    from lmmedu.teach.widgets import PseudoReplicationMachine

    shown = PseudoReplicationMachine().show_study(load_study("pseudoreplication_machine_study"))
    ran = PseudoReplicationMachine().run(n_sims=60)
    pd.testing.assert_frame_equal(shown, ran, rtol=1e-4)  # the file's 6 significant digits
    assert shown.attrs["problem"] == ran.attrs["problem"]
    curve = rate_curve("obs_per_replicate", [5, 50, 500], design="between", n_replicates=4, replicate_sd=0.2,
                       replicate_treatment_sd=0.1, n_sims=30, seed=3)
    pd.testing.assert_frame_equal(rates(load_study("pseudoreplication_curve_study")), curve, rtol=1e-4)
