"""Bad input lands in the Diagnostics panel and the status bar; the window keeps working;
Stop and closing the window end even a forward that never returns."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from conftest import case, session_threads


@pytest.mark.parametrize("name, code, line", [
    ("gui_syntax_error.py", "load-error", 6),
    ("gui_build_raises.py", None, 8),
    ("gui_sys_exit.py", None, 5),
])
def test_failing_file_shows_its_diagnostic(driver, window, name, code, line):
    driver.open(case(name))
    record = driver.record
    assert record.status == "failed"
    panel = window.diagnostics_panel
    assert panel.list.topLevelItemCount() >= 1
    first = panel.diagnostics[0]
    assert first.severity == "error"
    if code is not None:
        assert first.code == code
    assert first.line == line
    assert window.source_panel.problem_line == line  # the failing line is highlighted
    assert first.message.splitlines()[0] in panel.detail.toPlainText()
    assert "Failed" in window.status.where_label.text()
    # The window still works: open a good file right after.
    where = driver.open(case("gui_tiny.py"))
    assert where.path == ""
    assert panel.list.topLevelItemCount() == 0


def test_shape_error_breaks_on_exception(driver, window):
    driver.open(case("gui_shape_error.py"))
    where = driver.key(Qt.Key.Key_F5)
    assert (where.path, where.kind, where.reason) == ("2", "error", "exception")
    assert window.tree.selected_path() == "2"
    assert any(d.module == "2" and d.severity == "error"
               for d in window.diagnostics_panel.diagnostics)
    driver.key(Qt.Key.Key_F5)
    assert driver.record.status in ("problems", "failed")
    assert "problems" in window.status.where_label.text().lower() or \
        "failed" in window.status.where_label.text().lower()


def test_diagnostic_click_selects_module_and_line(driver, window):
    window.debug_actions.break_exception.setChecked(False)
    driver.open(case("gui_shape_error.py"), run=True)
    panel = window.diagnostics_panel
    row = next(i for i, d in enumerate(panel.diagnostics) if d.module == "2")
    window.tree.select_path("", notify=True)
    panel.select(row)
    assert window.tree.selected_path() == "2"
    assert window.source_panel.problem_line == panel.diagnostics[row].line


def test_stop_mid_run_interrupts_endless_forward(driver, window, qtbot):
    window.open_file(case("gui_endless.py"), run=True)
    qtbot.waitUntil(lambda: driver.record.phase == "forward", timeout=10_000)
    assert window.debug_actions.stop.isEnabled()
    started = time.monotonic()
    driver.key(Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    assert driver.record.status == "stopped"
    assert time.monotonic() - started < 3
    qtbot.waitUntil(lambda: not session_threads(), timeout=3000)
    assert "Stopped" in window.status.where_label.text()


def test_close_during_run_exits_within_two_seconds(window, qtbot):
    window.open_file(case("gui_endless.py"), run=True)
    qtbot.waitUntil(lambda: window.controller.record.phase == "forward", timeout=10_000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0
    assert not session_threads()


def test_close_while_paused_is_immediate(driver, window, monkeypatch):
    """The paused worker wakes on the gate's stop and ends by itself: closing never waits for
    the grace period or needs the asynchronous interrupt."""
    from torchlens_gui.gui import session_controller

    interrupted = []
    monkeypatch.setattr(session_controller, "interrupt_thread", interrupted.append)
    driver.open(case("gui_tiny.py"))
    window.close()
    assert not session_threads() and interrupted == []
    assert window.controller.record.status == "stopped"


def test_non_finite_loss_is_reported(driver, window):
    driver.open(case("gui_nan_loss.py"))
    while driver.record.status is None:
        driver.key(Qt.Key.Key_F5)
    loss_problems = [d for d in window.diagnostics_panel.diagnostics if d.phase == "loss"]
    assert loss_problems and loss_problems[0].line == 17
    assert "problems" in window.status.where_label.text()
    assert window.source_panel.problem_line == 17


def test_a_loss_warning_is_selected_at_the_end_with_its_line(driver, window):
    # No module to select for a loss-phase finding: the root's call is shown beside it and the
    # Source panel marks the loss line.
    driver.open(case("diag_handwritten_ce.py"))
    while driver.record.status is None:
        driver.key(Qt.Key.Key_F5)
    item = window.diagnostics_panel.list.currentItem()
    assert item is not None
    chosen = window.diagnostics_panel.diagnostics[item.data(0, Qt.ItemDataRole.UserRole)]
    assert chosen.code == "hand-written-cross-entropy"
    assert window.source_panel.problem_line == chosen.line == 20
    assert window.selection.path == ""
