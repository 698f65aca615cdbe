"""The status line of a Run-button app says whether the result shown matches the controls.

The base class (lmmedu.teach.widgets.App) keeps it: the app's start text, "Running" while a run
computes, the app's own text when done, "Settings changed" once a control differs from the
settings of the result shown, and the result's text again when the controls match it. Checked on
a tiny app (fast, and a run that fails) and on notebook 01's pseudo-replication machine.
"""

import ipywidgets as widgets
import pytest

from lmmedu.teach.widgets import App, OwnDataApp, PowerPlanner, PseudoReplicationMachine, WaldVsTMachine


class _Doubler(App):
    """A Run-button app: doubles the slider value, fails at 0."""

    controls = ("x",)
    live = False

    def __init__(self):
        self.x = widgets.IntSlider(value=2, min=0, max=5)
        self.button, self.progress_bar, self.readout, self.status, self.plot, self.table = self.study_views(1)
        self.previews = 0
        super().__init__(views=[self.x, self.button, self.status])

    def preview(self):
        self.previews += 1

    def update(self, x, progress=False):
        if x == 0:
            raise ValueError("x must be positive")
        progress(1, 1)
        return 2 * x

    def show(self, result):
        self.status.value = f"Doubled: {result}"


def _record(app):
    seen = []
    app.status.observe(lambda change: seen.append(change["new"]), names="value")
    return seen


def test_status_sequence_of_a_run_button_app():
    app = _Doubler()
    start = app.status.value
    assert "Press <b>Run</b>" in start
    # Before any run, a control change leaves the start text alone (there is no result to be stale).
    app.x.value = 3
    assert app.status.value == start and app.previews == 2
    seen = _record(app)
    app.button.click()
    assert seen == [App.running, "Doubled: 6"]
    assert app.status.value == "Doubled: 6"
    app.x.value = 4
    assert app.status.value == app.changed
    app.x.value = 3  # back to the settings of the result shown: it is current again
    assert app.status.value == "Doubled: 6"


def test_a_failed_run_leaves_the_status_it_had():
    app = _Doubler()
    app.button.click()
    app.x.value = 0
    assert app.status.value == app.changed
    assert app.run() is None and "x must be positive" in app.message.value
    assert app.status.value == app.changed  # the result shown is still the old one
    app.x.value = 1
    assert app.run() == 2 and app.status.value == "Doubled: 2" and app.message.value == ""


@pytest.fixture(scope="module")
def machine_statuses():
    machine = PseudoReplicationMachine(n_sims=100, obs_per_replicate=10)
    start = machine.status.value
    seen = _record(machine)
    machine.button.click()  # as a learner does: the controls' settings, 100 experiments
    seen, done = list(seen), machine.status.value
    machine.n_replicates.value = 6
    changed = machine.status.value
    machine.n_replicates.value = 4
    back = machine.status.value
    return start, seen, done, changed, back


def test_pseudo_replication_machine_status_sequence(machine_statuses):
    start, seen, done, changed, back = machine_statuses
    assert start == "Press <b>Run</b> to simulate."
    # Never "Settings changed" while running or after the run: running, then the rates.
    assert seen == [App.running, done]
    assert done.startswith("Ran 100 experiments (between design, 4 replicates")
    assert changed == "Settings changed: press <b>Run</b> to simulate them."
    assert back == done


def test_a_run_from_code_with_other_settings_is_not_current_for_the_controls():
    # The notebook runs 60 experiments from code while the dropdown says 200: after a control
    # moves and comes back, the controls still differ from what was run.
    machine = PseudoReplicationMachine(n_sims=100, obs_per_replicate=10)
    machine.run(n_sims=5)
    assert machine.status.value.startswith("Ran 5 experiments")
    machine.design.value = "within"
    assert machine.status.value == machine.changed
    machine.design.value = "between"
    assert machine.status.value == machine.changed


@pytest.mark.parametrize("build", [PseudoReplicationMachine, WaldVsTMachine, PowerPlanner, OwnDataApp],
                         ids=lambda c: c.__name__)
def test_the_changed_status_names_the_apps_own_button_and_action(build):
    # Notebook 10's app said "press Run to simulate them" next to a button labelled Fit.
    app = build()
    assert f"<b>{app.button.description}</b>" in app.changed
    assert f" {app.action} " in app.changed
    assert ("simulat" in app.changed) == (app.action == "simulate")
