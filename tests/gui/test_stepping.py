"""Open a model, step with the debugger keys, and check what the tree and panels show."""

from __future__ import annotations

import os

import torch
import torch.nn as nn
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from conftest import EXAMPLES, case
from torchlens_gui.gui import module_model as mm
from torchlens_gui.gui import style

SHIFT = Qt.KeyboardModifier.ShiftModifier


def cell(window, path: str, column: int) -> str:
    return window.model.data(window.model.index_of(path, column)) or ""


def test_open_shows_tree_paused_before_first_module(driver, window):
    where = driver.open(case("gui_tiny.py"))
    assert (where.path, where.kind, where.phase) == ("", "enter", "forward")
    model = window.model
    assert model.rowCount() == 1
    root = model.index_of("")
    assert [model.path_of(model.index(r, 0, root)) for r in range(model.rowCount(root))] == \
        ["body", "head"]
    assert model.rowCount(model.index_of("body")) == 3
    assert cell(window, "body.0", mm.COL_TYPE) == "Linear"
    assert cell(window, "body.0", mm.COL_PARAMS) == "40"
    # Not run yet: dimmed, no shape.
    assert model.data(model.index_of("head"), Qt.ItemDataRole.ForegroundRole
                      ).color() == style.DIM_COLOR
    assert model.data(model.index_of(""), Qt.ItemDataRole.ForegroundRole) is None  # entered
    assert cell(window, "head", mm.COL_SHAPE) == ""
    assert window.tree.selected_path() == ""
    assert "Paused entering (root)" in window.status.where_label.text()
    assert window.source_panel.code.toPlainText().startswith('"""A clean little model')


def test_step_keys_walk_the_forward(driver, window):
    driver.open(case("gui_tiny.py"))
    where = driver.key(Qt.Key.Key_F11)  # step into: the first child
    assert (where.path, where.kind) == ("body", "enter")
    where = driver.key(Qt.Key.Key_F11)
    assert (where.path, where.kind) == ("body.0", "enter")
    assert window.tree.selected_path() == "body.0"
    assert window.tensor_panel.tree.topLevelItem(0).text(0) == "Inputs (1)"
    assert window.tensor_panel.tree.topLevelItem(1).text(0).startswith("Outputs: not computed")

    where = driver.key(Qt.Key.Key_F10)  # step over: the same module's exit
    assert (where.path, where.kind) == ("body.0", "exit")
    assert cell(window, "body.0", mm.COL_SHAPE) == "[3, 8]"
    assert cell(window, "body.0", mm.COL_DTYPE) == "float32"
    outputs = window.tensor_panel.tree.topLevelItem(1)
    assert outputs.text(0) == "Outputs (1)"
    assert outputs.child(0).text(1) == "[3, 8]"
    assert window.activation_panel.shown.shape == (3, 8)
    assert window.activation_panel.histogram.message.text() == ""  # a real histogram

    where = driver.key(Qt.Key.Key_F11, SHIFT)  # step out: the end of body
    assert (where.path, where.kind) == ("body", "exit")
    assert cell(window, "body.2", mm.COL_SHAPE) == "[3, 8]"
    where = driver.key(Qt.Key.Key_F10)
    assert (where.path, where.kind) == ("head", "enter")
    assert window.model.current == "head"

    driver.key(Qt.Key.Key_F5)  # continue: nothing wrong, so to the end
    assert driver.record.status == "ok"
    assert cell(window, "head", mm.COL_SHAPE) == "[3, 2]"
    assert float(cell(window, "body.0", mm.COL_GRAD)) > 0
    assert "forward called" in window.log_panel.toPlainText()
    assert "no problems" in window.status.where_label.text()


def test_backward_is_stepped_module_by_module(driver, window):
    driver.open(case("gui_tiny.py"))
    window.tree.select_path("head", notify=True)
    QTest.keyClick(window, Qt.Key.Key_F9)  # breakpoint on head
    assert window.controller.breakpoints == {"head"}
    assert window.model.data(window.model.index_of("head"),
                             Qt.ItemDataRole.DecorationRole) is not None
    where = driver.key(Qt.Key.Key_F5)
    assert (where.phase, where.path, where.reason) == ("forward", "head", "breakpoint")
    where = driver.key(Qt.Key.Key_F5)  # next stop: head's gradient in backward
    assert (where.phase, where.path, where.kind) == ("backward", "head", "grad")
    assert "Backward" in window.status.phase_label.text()
    where = driver.key(Qt.Key.Key_F10)  # backward steps go module by module
    assert where.phase == "backward" and where.path != "head"
    combo = window.gradient_panel.param_combo
    assert any("gradient" in combo.itemText(i) for i in range(combo.count()))
    assert window.gradient_panel.norms.values  # bars drawn along depth
    driver.key(Qt.Key.Key_F5)
    assert driver.record.status == "ok"
    window.tree.select_path("head", notify=True)
    QTest.keyClick(window, Qt.Key.Key_F9)  # off again: one owner, the tree asks it
    assert window.controller.breakpoints == frozenset()
    assert window.model.data(window.model.index_of("head"),
                             Qt.ItemDataRole.DecorationRole) is None


def test_break_on_nan_stops_at_origin(driver, window):
    driver.open(EXAMPLES + "/mlp_nan.py")
    where = driver.key(Qt.Key.Key_F5)
    assert (where.path, where.kind, where.reason) == ("norm", "exit", "non-finite")
    assert window.tree.selected_path() == "norm"
    assert cell(window, "norm", mm.COL_NONFINITE) == "NaN 48"
    assert window.model.data(window.model.index_of("norm"), Qt.ItemDataRole.BackgroundRole
                             ).color() == style.CURRENT_COLOR  # paused here
    assert "born in <b>norm</b>" in window.nonfinite_panel.summary.text()
    # The all-NaN output has nothing to plot: the input that went in is shown first.
    picker = window.activation_panel.picker
    assert picker.combo.currentText().startswith("norm input")
    picker.combo.setCurrentIndex(picker.combo.findText("norm output 0"))
    assert "NaN 48" in window.activation_panel.histogram.caption.text()
    assert "NaN/Inf born here" in window.status.where_label.text()
    assert window.source_panel.creation_line == 28  # self.norm = SumNorm()
    assert window.source_panel.problem_line == 16  # the division, from the diagnostic


def test_break_on_nan_can_be_turned_off(driver, window):
    window.debug_actions.break_nonfinite.setChecked(False)
    driver.open(EXAMPLES + "/mlp_nan.py")
    driver.key(Qt.Key.Key_F5)  # not stopped at the NaN: straight to the end
    assert (driver.record.status, driver.record.paused_at) == ("problems", None)
    assert [d.code for d in driver.record.diagnostics] == ["non-finite"]


def test_history_selection_keeps_session_paused(driver, window):
    driver.open(case("gui_tiny.py"))
    for _ in range(3):
        driver.key(Qt.Key.Key_F11)
    where = driver.key(Qt.Key.Key_F11, SHIFT)  # out of body.0 -> body's exit
    assert where.path == "body"
    window.tree.select_path("body.1", notify=True)
    assert window.tensor_panel.title.text().startswith("<b>body.1</b>")
    assert window.tensor_panel.tree.topLevelItem(1).child(0).text(1) == "[3, 8]"
    assert window.controller.record.paused_at.path == "body"
    assert window.controller.paused


def test_restart_rereads_and_pauses_again(driver, window):
    driver.open(case("gui_tiny.py"))
    driver.key(Qt.Key.Key_F11)
    generation = window.controller.generation
    where = driver.key(Qt.Key.Key_F5, Qt.KeyboardModifier.ControlModifier | SHIFT)
    assert window.controller.generation == generation + 1
    assert (where.path, where.kind) == ("", "enter")
    assert cell(window, "body", mm.COL_SHAPE) == ""  # a fresh record


def test_run_to_selected_module(driver, window):
    driver.open(case("gui_tiny.py"))
    window.tree.select_path("body.2", notify=True)
    where = driver.key(Qt.Key.Key_F10, Qt.KeyboardModifier.ControlModifier)
    assert (where.path, where.kind, where.reason) == ("body.2", "enter", "run-to")


class _RowNorm(nn.Module):
    def forward(self, x):
        return x / x.sum(dim=1, keepdim=True)


def test_debug_opens_the_window_on_a_live_nan_model(driver, window, monkeypatch):
    """torchlens_gui.debug(): a spec of the live objects, no user file; the window stops where
    the NaN is born and names it."""
    import torchlens_gui
    from torchlens_gui.gui import app

    opened = {}
    monkeypatch.setattr(app, "run_app", lambda **kwargs: opened.update(kwargs) or 0)
    model = nn.Sequential(nn.ReLU(), _RowNorm(), nn.Linear(3, 1))
    inputs = torch.tensor([[-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]])
    assert torchlens_gui.debug(model, inputs, device="cpu") == 0
    spec = opened["spec"]
    assert (opened["device"], spec.file) == ("cpu", None)
    assert spec.build() is model
    driver.wait_stop(lambda: window.open_spec(spec))
    where = driver.key(Qt.Key.Key_F5)
    assert (where.path, where.kind, where.reason) == ("1", "exit", "non-finite")
    assert cell(window, "1", mm.COL_NONFINITE) == "NaN 3"  # the all-negative row: 0/0
    assert cell(window, "0", mm.COL_NONFINITE) == ""
    (diagnostic,) = window.controller.record.diagnostics
    assert (diagnostic.code, diagnostic.module) == ("non-finite", "1")
    assert diagnostic.message.startswith("NaN is born in 1 (_RowNorm()): Tensor.div at "
                                         "test_stepping.py:")
    assert diagnostic.message.endswith("The module's output has 3 NaN of 6 values.")
    driver.key(Qt.Key.Key_F5)
    assert driver.record.status == "problems"


def test_live_model_from_debug(driver, window):
    import torch
    import torch.nn as nn

    from torchlens_gui.core.usercode.loader import spec_from_objects

    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh())
    spec = spec_from_objects(model, torch.randn(2, 3), file=None)
    where = driver.wait_stop(lambda: window.open_spec(spec))
    assert where.path == ""
    assert "live model" in window.source_panel.caption.text()
    driver.key(Qt.Key.Key_F5)
    assert driver.record.status == "ok"
    assert cell(window, "1", mm.COL_SHAPE) == "[2, 5]"


class _TwoLayer(nn.Module):
    """A live model whose class lives in this file: the Source panel shows this file."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x).tanh()


def test_live_model_shows_the_file_of_its_class(driver, window):
    from torchlens_gui.core.usercode.loader import spec_from_objects

    spec = spec_from_objects(_TwoLayer(), torch.randn(4, 3))
    driver.wait_stop(lambda: window.open_spec(spec))
    assert window.source_panel.file == os.path.abspath(__file__)
    assert "class _TwoLayer" in window.source_panel.code.toPlainText()


def test_pause_and_end_are_shown_without_the_drain_timer(driver, window):
    # A timer that never fires in this test: only the worker's wake-up can deliver the pause.
    window.controller._timer.setInterval(3_600_000)
    where = driver.open(case("gui_tiny.py"))
    assert (where.path, where.kind) == ("", "enter")
    where = driver.key(Qt.Key.Key_F11)
    assert (where.path, where.kind) == ("body", "enter")
    assert window.tree.selected_path() == "body"
    driver.key(Qt.Key.Key_F5)  # the whole backlog up to the end, then the end itself
    assert driver.record.status == "ok"
    assert cell(window, "head", mm.COL_SHAPE) == "[3, 2]"


def test_full_collections_wait_while_a_session_lives(driver, window):
    import gc

    from torchlens_gui.gui.session_controller import SESSION_GC_THRESHOLDS

    before = gc.get_threshold()
    driver.open(case("gui_tiny.py"))
    assert gc.get_threshold()[2] >= SESSION_GC_THRESHOLDS[2]
    driver.key(Qt.Key.Key_F5)
    assert driver.record.status == "ok"
    assert gc.get_threshold() == before
