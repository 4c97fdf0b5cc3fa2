"""Script mode and training steps in the window: paused before step 1, run to the next step,
break at step N, the script's prints in the Log panel, the Steps dock, Run N Steps, Restart."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from conftest import CASES, EXAMPLES, case
from torchlens_gui.gui.window_layout import Dock

SCRIPTS = os.path.join(CASES, "scripts")
ARGPARSE = os.path.join(SCRIPTS, "argparse_train.py")


def open_script(driver, path: str, args: list[str], run: bool = False):
    return driver.wait_stop(lambda: driver.window.open_script(path, args, run=run))


def test_script_opens_paused_before_its_first_step(driver, window):
    location = open_script(driver, ARGPARSE, ["--lr", "0.1", "--steps", "6"])
    assert location is not None and location.reason == "step-start"
    assert driver.record.step == 1 and not len(driver.record.steps)
    assert window.training.toolbar.isVisible()
    assert window.training.step_label.text() == "Step 1"
    assert window.training.next_step.isEnabled()
    assert "lr=0.1 steps=6" in window.log_panel.toPlainText()  # printed before step 1


def test_run_to_next_step_and_break_at_step(driver, window):
    open_script(driver, ARGPARSE, ["--lr", "0.1", "--steps", "8"])
    location = driver.key(Qt.Key.Key_F6)
    assert location.reason == "step-start" and driver.record.step == 2
    assert len(driver.record.steps) == 1 and driver.record.steps.last.loss > 0
    window.training.break_field.setValue(6)
    location = driver.key(Qt.Key.Key_F5)
    assert location.reason == "step-start" and driver.record.step == 6
    assert window.training.step_label.text().startswith("Step 6, loss ")
    driver.key(Qt.Key.Key_F5)  # to the end
    assert driver.record.status == "ok" and len(driver.record.steps) == 8
    assert "done" in window.log_panel.toPlainText()


def test_breakpoint_applies_at_every_step(driver, window):
    open_script(driver, ARGPARSE, ["--lr", "0.1", "--steps", "3"])
    driver.key(Qt.Key.Key_F11)  # into the first module: model
    window.tree.select_path("model.2")
    window.debug_actions.toggle_breakpoint.trigger()
    hits = []
    for _ in range(6):  # entered in forward, its gradient in backward: at every step
        location = driver.key(Qt.Key.Key_F5)
        hits.append((driver.record.step, location.phase, location.path, location.reason))
    assert hits == [(step, phase, "model.2", "breakpoint") for step in (1, 2, 3)
                    for phase in ("forward", "backward")]


def test_steps_dock_on_the_diverging_example_and_a_kept_step(driver, window, qtbot, tmp_path):
    window.controller.set_break_options(False, False)
    open_script(driver, os.path.join(EXAMPLES, "diverging_training.py"), ["--epochs", "1"],
                run=True)
    record = driver.record
    assert record.status == "problems" and len(record.steps) == 16
    window.docks[Dock.STEPS].raise_()
    qtbot.waitUntil(lambda: window.steps_panel.isVisible())
    panel = window.steps_panel
    panel.refresh(force=True)
    x, y = panel.loss_curve.getData()
    assert len(x) == 16
    assert panel.loss_plot.ctrl.logYCheck.isChecked()  # a positive loss: log axis
    assert "16 steps" in panel.summary.text()
    assert panel.image.image.shape[:2] == (2, 16)  # modules x steps
    panel.image_choice.setCurrentIndex(1)
    assert "update" in panel.image_plot.titleLabel.text
    assert window.grab().save(str(tmp_path / "steps.png"))
    # Step 1 was recorded in full: clicking it shows its calls; step 5 only has figures.
    panel.sig_step_selected.emit(1)
    assert record.calls and record.calls_of("model.hidden")
    panel.sig_step_selected.emit(5)
    assert "ran light: its module calls were not kept" in window.statusBar().currentMessage()
    diagnostics = [d.code for d in window.diagnostics_panel.diagnostics]
    assert "diverging-loss" in diagnostics


def test_run_n_steps_of_a_model_file_and_restart(driver, window, monkeypatch):
    driver.open(case("train_contract.py"))
    assert window.training.run_steps.isEnabled()
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (5, True))
    driver.wait_stop(window.training.run_steps.trigger)
    assert driver.record.status == "ok" and len(driver.record.steps) == 5
    location = driver.wait_stop(lambda: window.restart())  # same mode, paused at the start
    assert location is not None and window.controller.train_steps == 5
    driver.key(Qt.Key.Key_F5)
    assert len(driver.record.steps) == 5


def test_restart_runs_the_script_again_from_the_start(driver, window):
    open_script(driver, ARGPARSE, ["--lr", "0.1", "--steps", "4"])
    driver.key(Qt.Key.Key_F6)
    assert driver.record.step == 2
    location = driver.wait_stop(lambda: window.restart())
    assert location.reason == "step-start" and driver.record.step == 1
    assert window.controller.script_args == ["--lr", "0.1", "--steps", "4"]


def test_steps_image_greys_absent_modules_and_the_axes_are_readable(qtbot):
    from torchlens_gui.core.recording import events as ev
    from torchlens_gui.core.recording.record import RunRecord
    from torchlens_gui.gui.panels.steps_panel import StepsPanel

    record = RunRecord()
    for step, norms in ((1, (0.5,)), (2, (0.5, float("nan")))):
        modules = ("disc.0", "gen.0")[:len(norms)]
        record.apply(ev.StepStarted(step))
        record.apply(ev.StepEnded(ev.StepFigures(step, loss=(1.06, 1.13)[step - 1], lr=(0.02,),
                                                 grad_norm=(3.0, 150.0)[step - 1],
                                                 module_grad_norms=norms,
                                                 module_update_ratios=norms), modules))
    panel = StepsPanel()
    qtbot.addWidget(panel)
    panel.set_record(record)
    pixels = panel.image.image  # modules x steps x RGBA
    assert pixels.shape[:2] == (2, 2)
    assert tuple(pixels[1, 0]) == (160, 160, 160, 255)  # gen.0 had no figure at step 1
    assert tuple(pixels[1, 1]) == (215, 25, 28, 255)  # and a NaN one at step 2
    low, high = panel.lr_plot.viewRange()[1]
    assert low == 0 and high == 0.04  # 0.02 drawn mid-height, not at the bottom of ±0.5
    ticks = panel.grad_plot.getAxis("left")._tickLevels  # powers of ten, no overlapping minors
    assert [label for _, label in ticks[0]] == ["1", "10", "100", "1000"] and ticks[1] == []
    ticks = panel.loss_plot.getAxis("left")._tickLevels  # within a decade: rounded values
    assert [label for _, label in ticks[0]] == ["1.06", "1.083", "1.107", "1.13"]


def test_run_a_training_script_with_a_module_level_model_runs_it_as_a_script(driver, window):
    # argparse_train.py has `model = nn.Sequential(...)` at module level and its loop below:
    # opened as a model file it would stop with "runs a training loop when imported".
    location = driver.wait_stop(lambda: window.run_script(ARGPARSE, ["--lr", "0.1"]))
    assert location is not None and location.reason == "step-start"
    assert window.controller.script_args == ["--lr", "0.1"]


def test_a_training_script_opened_as_a_model_file_offers_script_mode(driver, window):
    driver.open(os.path.join(SCRIPTS, "backward_only.py"))  # trains at import
    placeholder = window.tree.placeholder
    assert "runs a training loop when imported" in placeholder.text()
    assert "href='run-script'" in placeholder.text()
    location = driver.wait_stop(lambda: placeholder.linkActivated.emit("run-script"))
    assert location is not None and location.reason == "step-start"  # script mode, step 1


def test_a_loss_that_turns_infinite_pauses_before_backward(driver, window):
    """barrier_term.py's log turns -inf at step 5 (a light step): F5 stops there, before
    backward, and the Problems entry names the op and line."""
    open_script(driver, os.path.join(SCRIPTS, "barrier_term.py"), [])
    location = driver.key(Qt.Key.Key_F5)
    assert (location.phase, location.kind, location.path, location.reason) == \
        ("loss", "loss", "net", "non-finite")
    assert driver.record.step == 5
    nonfinite = [d for d in driver.record.diagnostics if d.code == "non-finite"]
    assert [(d.phase, d.step, d.line) for d in nonfinite] == [("loss", 5, 16)]
    assert window.status.where_label.text().startswith(
        "Paused before backward, from the loss after net (Linear)")


def test_a_nan_batch_pauses_where_it_enters_the_model(driver, window):
    """nan_batch.py's fourth batch holds a NaN (a light step): F5 stops as it enters model."""
    open_script(driver, os.path.join(SCRIPTS, "nan_batch.py"), [])
    location = driver.key(Qt.Key.Key_F5)
    assert (location.phase, location.kind, location.path, location.reason) == \
        ("forward", "enter", "model", "non-finite")
    assert driver.record.step == 4
    assert [(d.code, d.step) for d in driver.record.diagnostics] == [("data-non-finite", 4)]


def test_steps_dock_draws_the_rate_of_each_param_group(driver, window, qtbot):
    """A GAN's two optimizers: one learning-rate curve each, and both rates in the summary."""
    open_script(driver, os.path.join(SCRIPTS, "gan_two_optimizers.py"), ["5"], run=True)
    assert driver.record.status == "ok" and len(driver.record.steps) == 5
    window.docks[Dock.STEPS].raise_()
    qtbot.waitUntil(lambda: window.steps_panel.isVisible())
    panel = window.steps_panel
    panel.refresh(force=True)
    rates = [tuple(curve.getData()[1]) for curve in panel.lr_curves]
    assert rates == [(0.001,) * 5, (0.002,) * 5]
    assert "lr 0.001, 0.002" in panel.summary.text()
    # The evaluation call after the last update starts no sixth step in the label.
    assert window.training.step_label.text().startswith("Step 5, loss ")
