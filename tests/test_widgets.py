"""The notebook widgets, driven without a browser.

Every control is set to its default, its minimum and its maximum; the callback must never
raise and must show either a result or a message. Results are checked against the functions
they display (rates, SE ratios), so a widget showing stale or wrong numbers fails.
"""

from __future__ import annotations

import itertools
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lmmedu.teach.studies import false_positive_rates, true_design_effect  # noqa: E402
from lmmedu.teach.comparison import se_table  # noqa: E402
from lmmedu.teach.prose import machine_readout  # noqa: E402
from lmmedu.teach.widgets import (  # noqa: E402
    EnvironmentCheck,
    PseudoReplicationMachine,
    StandardErrorExplorer,
    environment_report,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- notebook 00 -----------------------------------------------------------------


def test_environment_report_lists_python_and_marks_missing_packages():
    rep = environment_report(["numpy", "surely-not-a-package-xyz"])
    assert rep["package"].tolist() == ["python", "numpy", "surely-not-a-package-xyz"]
    import numpy

    assert rep.loc[1, "version"] == numpy.__version__
    assert rep.loc[2, "version"] == "not installed"


def test_environment_check_callback_rewrites_the_label():
    check = EnvironmentCheck()
    first = check.label.value
    assert "4 independent units" in first
    calls = check.calls
    for value in (check.n_replicates.min, check.n_replicates.max, check.n_replicates.value):
        check.n_replicates.value = value
        assert f"{value} independent units" in check.label.value
        assert check.result == check.update(value)
    assert check.calls > calls
    check.n_replicates.value = check.n_replicates.min
    assert check.label.value != first
    assert "lmmedu-check-label" in check.label._dom_classes


# --- notebook 01 -----------------------------------------------------------------


def _machine_corners(machine, with_zero_effect=True):
    sd = (machine.replicate_sd.min, machine.replicate_sd.max)
    drug_sd = (machine.replicate_treatment_sd.min, machine.replicate_treatment_sd.max)
    effect = (machine.effect.min, 0.0, machine.effect.max) if with_zero_effect else (machine.effect.min,
                                                                                      machine.effect.max)
    reps = (machine.n_replicates.min, machine.n_replicates.max)
    obs = (machine.obs_per_replicate.options[0], machine.obs_per_replicate.options[-1])
    return itertools.product(sd, drug_sd, effect, reps, obs, machine.design.options)


def _set_machine(machine, sd, drug_sd, effect, reps, obs, design):
    machine.replicate_sd.value = sd
    machine.replicate_treatment_sd.value = drug_sd
    machine.effect.value = effect
    machine.n_replicates.value = reps
    machine.obs_per_replicate.value = obs
    machine.design.value = design


def test_machine_readout_at_every_corner_of_the_controls():
    machine = PseudoReplicationMachine()
    for sd, drug_sd, effect, reps, obs, design in _machine_corners(machine):
        _set_machine(machine, sd, drug_sd, effect, reps, obs, design)
        text = machine.readout.value
        assert f"{reps * obs:,} measurements from {reps} replicates" in text
        if design == "between":
            assert f"= {true_design_effect(sd, obs):.1f}" in text
        elif drug_sd > 0:
            assert "does not cancel" in text
        else:
            assert "responds to the drug identically" in text
        assert ("the rate is the power" in text) == (effect != 0)
        if design == "between" and reps == 2:
            assert "single replicate" in text
        else:
            assert "single replicate" not in text


def test_machine_runs_at_every_corner_without_raising():
    machine = PseudoReplicationMachine()
    # Zero effect is the default, run in the other tests; here the slider ends.
    for sd, drug_sd, effect, reps, obs, design in _machine_corners(machine, with_zero_effect=False):
        _set_machine(machine, sd, drug_sd, effect, reps, obs, design)
        rates = machine.run(n_sims=2)
        assert rates is not None, machine.message.value
        assert machine.progress_bar.value == machine.progress_bar.max == 2
        assert machine.status.value.startswith("Ran 2 experiments")
        assert ("power: " in machine.status.value) == (effect != 0)
        assert ("detections" in machine.table.value) == (effect != 0)
        if design == "between" and reps == 2:
            assert "not testable" in machine.status.value
        assert not machine.button.disabled


def test_machine_run_shows_the_rates_it_computed():
    machine = PseudoReplicationMachine(n_sims=100)
    rates = machine.run(n_sims=40)
    settings = {k: v for k, v in machine.settings().items() if k != "n_sims"}
    expected = false_positive_rates(n_sims=40, seed=machine.seed, **settings)
    assert rates["rejections"].tolist() == expected["rejections"].tolist()
    assert machine.result is rates
    for row in rates.itertuples():
        assert f"{row.analysis} {row.rate:.0%}" in machine.status.value
    assert bytes(machine.plot.value).startswith(b"\x89PNG"), "the plot was not drawn"
    for row in rates.itertuples():
        assert f"<td>{row.rejections}</td>" in machine.table.value
    machine.n_replicates.value = 6
    assert "Settings changed" in machine.status.value


def test_machine_drug_effect_sd_makes_the_within_design_unsafe():
    # Replicates that respond differently to the drug: the differences between replicates no
    # longer cancel, and the analyses that count rows (naive lm, (1|replicate)) are fooled far
    # more often than 5%, while the paired t-test on replicate means is not.
    machine = PseudoReplicationMachine(design="within", replicate_treatment_sd=0.0)
    calm = machine.run(n_sims=60).set_index("analysis")["rate"]
    machine.replicate_treatment_sd.value = 0.2
    rough = machine.run(n_sims=60).set_index("analysis")["rate"]
    assert rough["mixed model"] > 0.2 > calm["mixed model"] + 0.05
    assert rough["naive lm"] > 0.2
    assert rough["t-test on replicate means"] < 0.15


def test_machine_power_mode_counts_detections_of_a_true_effect():
    machine = PseudoReplicationMachine(design="within", replicate_treatment_sd=0.05, obs_per_replicate=50)
    machine.effect.value = 0.4
    rates = machine.run(n_sims=40)
    assert rates.attrs["settings"]["effect"] == 0.4
    assert (rates["rate"] > 0.5).all(), rates
    assert "power: " in machine.status.value
    assert "detections" in machine.table.value
    expected = false_positive_rates(n_sims=40, seed=machine.seed,
                                    **{k: v for k, v in machine.settings().items() if k != "n_sims"})
    assert rates["rejections"].tolist() == expected["rejections"].tolist()


def test_machine_button_runs_with_the_dropdown_value():
    machine = PseudoReplicationMachine(obs_per_replicate=5, n_sims=100)
    machine.n_sims.options = (3, 100)
    machine.n_sims.value = 3
    assert machine.result is None, "the machine must not simulate before Run is pressed"
    machine.button.click()
    assert machine.result is not None
    assert machine.result.attrs["settings"]["n_sims"] == 3


def test_machine_shows_a_message_instead_of_raising(monkeypatch):
    import lmmedu.teach.studies as studies

    def _boom(**kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(studies, "false_positive_rates", _boom)
    machine = PseudoReplicationMachine()
    assert machine.run(n_sims=2) is None
    assert "Could not simulate:</b> simulated failure" in machine.message.value
    assert not machine.button.disabled


def test_machine_readout_function_explains_both_designs():
    assert "cancel" in machine_readout(0.2, 4, 100, "within")
    assert "design effect" in machine_readout(0.2, 4, 100, "between")


# --- notebook 02 -----------------------------------------------------------------


def test_se_table_moves_between_terms_up_and_within_terms_down():
    table, message = se_table(0.8, "within")
    assert table.loc["Intercept", "varies"] == "between"
    assert table.loc["treatment[T.drug]", "varies"] == "within"
    assert table.loc["Intercept", "se_ratio"] > 5
    assert table.loc["treatment[T.drug]", "se_ratio"] < 0.9
    # The seed's df pattern: about n_replicates - 1 for the intercept, thousands for the treatment.
    assert table.loc["Intercept", "df_lmm"] == pytest.approx(3, abs=0.5)
    assert table.loc["treatment[T.drug]", "df_lmm"] > 1000
    assert "true 0.719" in message

    table, _ = se_table(0.8, "between")
    assert (table["varies"] == "between").all()
    assert (table["se_ratio"] > 5).all()
    assert table.loc["treatment[T.drug]", "df_lmm"] == pytest.approx(2, abs=0.5)


def test_se_table_without_replicate_variation_matches_the_lm():
    table, message = se_table(0.0, "between")
    assert table["se_ratio"].to_numpy() == pytest.approx(1.0, abs=0.05)
    assert "singular" in message


@pytest.mark.parametrize("design", ["within", "between"])
def test_se_explorer_at_slider_extremes(design):
    app = StandardErrorExplorer(design=design)
    for value in (app.replicate_sd.min, app.replicate_sd.max, 0.2):
        app.replicate_sd.value = value
        assert app.message.value == "", app.message.value
        html = app.table.value
        table = app.result.table
        ratios = [float(x) for x in re.findall(r"<td>([0-9.]+) \((?:up|down|about the same)\)</td>", html)]
        assert ratios == pytest.approx(table["se_ratio"].round(2).tolist())
        expected, _ = se_table(value, design)
        assert table["se_lmm"].tolist() == pytest.approx(expected["se_lmm"].tolist())


def test_rates_for_display_speaks_words_not_column_names():
    from lmmedu.teach import studies
    from lmmedu.teach.widgets import rates_for_display

    zt = studies.rates_and_coverage(studies.wald_vs_t_study(n_groups=(4, 8), group_size=5, icc=0.2, n_sims=3,
                                                            seed=2))
    wide = studies.power_and_false_positives(studies.replicate_power_study(0.1, cells_per_replicate=20, n_sims=3))
    for table, index in ((zt, ["replicates", "analysis"]), (wide, ["analysis"])):
        shown = rates_for_display(table)
        assert list(shown.index.names) == index  # what the rows differ in, not 0, 1, 2...
        names = [*shown.columns, *shown.index.names]
        assert not [n for n in names if "_" in n], names
    shown = rates_for_display(zt)
    row = zt.iloc[0]
    assert shown.loc[(4, row["analysis"]), "95% CI"] == f"{row['ci_low']:.1%} to {row['ci_high']:.1%}"
    assert "CI coverage" in shown.columns
