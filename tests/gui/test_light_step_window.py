"""A pause inside a light training step shows that step in the window: the tree, the gradient
chart and the NaN/Inf panel show that moment instead of "not run yet" and "No NaN or Inf seen
so far", and stepping on from there records in full."""

from __future__ import annotations

import math
import os

from PySide6.QtCore import Qt

from conftest import CASES, EXAMPLES
from torchlens_gui.gui.module_model import COL_GRAD, COL_NONFINITE, COL_SHAPE
from torchlens_gui.gui.panels.gradient_panel import depth_norms
from torchlens_gui.gui.window_layout import Dock

DIVERGING = os.path.join(EXAMPLES, "diverging_training.py")
BACKWARD_NAN = os.path.join(CASES, "scripts", "nan_backward_midstep.py")


def cell(window, path: str, column: int, role=Qt.ItemDataRole.DisplayRole):
    return window.model.data(window.model.index_of(path, column), role)


def panel_texts(window, qtbot) -> tuple[str, list[str]]:
    window.docks[Dock.NONFINITE].raise_()
    panel = window.nonfinite_panel
    qtbot.waitUntil(panel.isVisible)
    panel.refresh(window.controller.record)
    return panel.summary.text(), [panel.list.item(i).text() for i in range(panel.list.count())]


def open_running(driver, window, path: str, args: list[str]):
    return driver.wait_stop(lambda: window.open_script(path, args, run=True))


def test_pause_at_a_backward_nan_in_a_light_step_shows_the_step(driver, window, qtbot,
                                                                 tmp_path):
    location = open_running(driver, window, BACKWARD_NAN, [])
    assert (location.reason, location.phase, location.path) == ("non-finite", "backward",
                                                                "model.0")
    record = driver.record
    assert record.step == 4 and not record.steps.figures(3).full  # a light step
    tooltip = cell(window, "model.0", 0, Qt.ItemDataRole.ToolTipRole)
    assert "not run yet" not in tooltip and "1 call(s)" in tooltip
    assert cell(window, "model.0", COL_SHAPE) == "[8, 4]"
    assert cell(window, "model.0", COL_NONFINITE) == "param grads NaN 16 Inf 4"
    assert cell(window, "model.0", COL_GRAD) == "NaN/Inf"
    assert cell(window, "model.2", COL_NONFINITE) == ""
    paths, values, _ = depth_norms(record)  # the gradient chart: a mark for model.0
    assert paths == ["model.0", "model.2"] and math.isnan(values[0]) and values[1] > 0
    summary, lines = panel_texts(window, qtbot)
    assert "<b>backward</b> at <b>model.0</b>" in summary and "Step 4:" in summary
    assert lines == ["model.0 parameters: gradient NaN 16 Inf 4   ← born here"]
    assert window.grab().save(str(tmp_path / "paused_backward.png"))
    # Stepping on records in full: the next step's first module, with statistics.
    location = driver.key(Qt.Key.Key_F10)
    assert record.step == 5 and location.path == "model"
    assert record.calls_of("model")[0].inputs[0].min is not None
    driver.key(Qt.Key.Key_F5)
    assert record.status == "problems"


def test_pause_at_the_diverging_examples_inf_shows_its_light_step(driver, window, qtbot):
    location = open_running(driver, window, DIVERGING, ["--epochs", "2"])
    assert (location.reason, location.phase, location.path) == ("non-finite", "forward",
                                                                "loss_fn")
    record = driver.record
    assert not record.steps.figures(record.step - 1).full
    for path in ("model", "model.hidden", "model.out"):
        assert "not run yet" not in cell(window, path, 0, Qt.ItemDataRole.ToolTipRole)
    assert cell(window, "model.hidden", COL_SHAPE) == "[32, 16]"
    assert cell(window, "loss_fn", COL_NONFINITE) == "Inf 1"
    summary, lines = panel_texts(window, qtbot)
    assert "First NaN/Inf born in <b>loss_fn</b>" in summary
    assert any("loss_fn" in line and "born here" in line for line in lines)
    # Step into: backward reaches the birth's output (its gradient is recorded in full).
    location = driver.key(Qt.Key.Key_F11)
    assert (location.phase, location.path) == ("backward", "loss_fn")
    assert record.calls_of("loss_fn")[0].grads
    window.controller.stop(wait=True)
