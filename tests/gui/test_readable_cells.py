"""Cells a user can read: columns that fit, multi-output modules spelled out, model-level
problems placed, one number format."""

from __future__ import annotations

from PySide6.QtCore import Qt

from conftest import EXAMPLES, case
from torchlens_gui.core.recording import events as ev
from torchlens_gui.gui import module_model as mm
from torchlens_gui.gui.panels.diagnostics_panel import detail_html, module_text
from torchlens_gui.gui.style import format_number
from torchlens_gui.gui.window_layout import Dock


def test_multi_output_module_says_how_many_and_lists_them(driver, window):
    driver.open(case("gui_multi_output.py"), run=True)
    index = window.model.index_of("block", mm.COL_SHAPE)
    assert window.model.data(index) == "3 outputs"
    tip = window.model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "[5, 4] float32" in tip and "[5, 5] float32" in tip and ": 3" in tip


def test_tensor_columns_fit_the_default_window(driver, window, qtbot):
    window.resize(1400, 900)
    driver.open(f"{EXAMPLES}/mlp_nan.py", run=True)
    table = window.tensor_panel.tree
    header = table.header()
    qtbot.waitUntil(lambda: table.viewport().width() > 0)
    last = header.count() - 1
    assert header.sectionPosition(last) + header.sectionSize(last) <= table.viewport().width()
    outputs = [table.topLevelItem(i) for i in range(table.topLevelItemCount())
               if table.topLevelItem(i).text(0).startswith("Outputs")][0]
    assert outputs.child(0).text(3) == "48"  # the NaN column, in view


def test_model_level_problems_name_the_model_or_the_loss():
    loss = ev.Diagnostic("nan-loss", "error", "loss", "The loss is NaN")
    build = ev.Diagnostic("build-error", "error", "build", "build_model() raised")
    assert module_text(loss) == "(the loss: loss(output))"
    assert module_text(build) == "(the model)"
    assert "Module: <b>(the model)</b>" in detail_html(build)
    assert module_text(ev.Diagnostic("x", "error", "forward", "m", module="")) == "(root)"


def test_one_number_format_with_four_significant_digits():
    assert [format_number(v) for v in (-2.8e-5, 0.50741, 1234.4, 123456.7, 0.0, None)] == \
        ["-2.800e-5", "0.5074", "1234", "1.235e5", "0", ""]
    assert all(len(format_number(v)) <= 10 for v in (-1.23456e-30, -9999.99, 1e38))


def test_empty_gradient_chart_is_one_line(driver, window, qtbot):
    driver.open(case("gui_shape_error.py"), run=True)  # stopped in forward: no gradient
    window.docks[Dock.GRADIENTS].raise_()
    qtbot.waitUntil(window.gradient_panel.isVisible)
    chart = window.gradient_panel.norms
    assert not chart.plot.isVisible() and chart.message.isVisible()
    assert "backward" in chart.message.text()
