"""A pause inside a light training step shows that step: the diverging example breaks on the
NaN/Inf its step-19 gradients hold, and the tree, the gradient chart and the NaN/Inf panel show
that moment instead of "not run yet" and "No NaN or Inf seen so far"."""

from __future__ import annotations

import math
import os

from PySide6.QtCore import Qt

from conftest import EXAMPLES
from torchlens_gui.gui.module_model import COL_GRAD, COL_NONFINITE
from torchlens_gui.gui.panels.gradient_panel import depth_norms
from torchlens_gui.gui.window_layout import Dock

DIVERGING = os.path.join(EXAMPLES, "diverging_training.py")


def cell(window, path: str, column: int, role=Qt.ItemDataRole.DisplayRole):
    return window.model.data(window.model.index_of(path, column), role)


def test_pause_at_a_backward_nan_in_a_light_step_shows_the_step(driver, window, qtbot,
                                                                 tmp_path):
    location = driver.wait_stop(
        lambda: window.open_script(DIVERGING, ["--epochs", "2"], run=True))
    assert (location.reason, location.phase, location.path) == ("non-finite", "backward",
                                                                "model.hidden")
    record = driver.record
    step = record.step
    assert step > 1 and not record.steps.figures(step - 1).full  # a light step
    # The tree: model.hidden ran in this step and its parameters' gradients show the problem.
    tooltip = cell(window, "model.hidden", 0, Qt.ItemDataRole.ToolTipRole)
    assert "not run yet" not in tooltip and "1 call(s)" in tooltip
    assert "gradients hold NaN/Inf" in tooltip
    assert cell(window, "model.hidden", COL_NONFINITE) == "param grads"
    assert cell(window, "model.hidden", COL_GRAD) == "inf"
    assert cell(window, "loss_fn", 0, Qt.ItemDataRole.ToolTipRole).count("not run yet") == 0
    # The gradient chart has the module, its norm not finite.
    paths, values, _ = depth_norms(record)
    assert "model.hidden" in paths and math.isinf(values[paths.index("model.hidden")])
    # The NaN/Inf panel tells the birth the diagnostic names.
    window.docks[Dock.NONFINITE].raise_()
    panel = window.nonfinite_panel
    qtbot.waitUntil(panel.isVisible)
    panel.refresh(record)
    summary = panel.summary.text()
    assert "No NaN or Inf" not in summary
    assert "<b>backward</b> at <b>model.hidden</b>" in summary and f"Step {step}:" in summary
    lines = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert any(line.startswith("model.hidden parameters: gradient") and "born here" in line
               for line in lines)
    assert window.grab().save(str(tmp_path / "paused_light_step.png"))
    # Stepping on records in full: the next step's first module, with statistics.
    location = driver.key(Qt.Key.Key_F10)
    assert record.step == step + 1 and location.path == "model"
    assert record.calls_of("model")[0].inputs[0].min is not None
    driver.key(Qt.Key.Key_F5)
    assert record.status == "problems"
