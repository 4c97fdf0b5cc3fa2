"""What the window offers in each session state, and what it selects when a run ends."""

from __future__ import annotations

from PySide6.QtCore import Qt

from conftest import case
from torchlens_gui.gui.session_state import SessionState


def enabled(window) -> set[str]:
    a = window.debug_actions
    names = ("continue_", "step", "step_into", "step_out", "pause", "stop", "restart",
             "run_to", "toggle_breakpoint")
    return {name for name in names if getattr(a, name).isEnabled()}


def test_controls_follow_the_session_state(driver, window, qtbot):
    assert window.controller.state is SessionState.IDLE
    assert enabled(window) == set()
    assert window.debug_actions.open.isEnabled()

    driver.open(case("gui_tiny.py"))
    assert window.controller.state is SessionState.PAUSED
    assert enabled(window) == {"continue_", "step", "step_into", "step_out", "stop",
                               "restart", "run_to", "toggle_breakpoint"}

    driver.key(Qt.Key.Key_F5)  # to the end: nothing wrong
    assert window.controller.state is SessionState.FINISHED
    # Nothing can be paused, stepped or stopped once finished, even while the worker thread
    # is still winding down; restart (or run again) is what is left.
    assert enabled(window) == {"continue_", "restart", "toggle_breakpoint"}
    assert window.debug_actions.restart.font().bold()

    driver.wait_stop(lambda: window.restart(run=False))  # paused at the start again
    assert window.controller.state is SessionState.PAUSED
    assert not window.debug_actions.restart.font().bold()


def test_running_state_offers_pause_and_stop(driver, window, qtbot):
    with qtbot.waitSignal(window.controller.sig_session_started):
        window.open_file(case("gui_endless.py"), run=True)
    assert window.controller.state is SessionState.RUNNING
    assert enabled(window) == {"pause", "stop", "restart", "toggle_breakpoint"}
    driver.wait_stop(window.controller.stop)
    qtbot.waitUntil(lambda: window.controller.state is SessionState.FINISHED)
    assert "pause" not in enabled(window) and "stop" not in enabled(window)


def test_failed_state(driver, window):
    driver.open(case("gui_syntax_error.py"))
    assert window.controller.state is SessionState.FAILED
    assert enabled(window) == {"continue_", "restart", "toggle_breakpoint"}


def test_a_finished_run_selects_its_first_error_and_its_module(driver, window):
    window.debug_actions.break_nonfinite.setChecked(False)  # run through to the end
    driver.open(case("gui_mixed_problems.py"), run=True)
    assert window.controller.state is SessionState.FINISHED
    codes = [d.code for d in window.diagnostics_panel.diagnostics]
    assert codes[0] == "frozen-parameters"  # an info came first; it is not what to look at
    item = window.diagnostics_panel.list.currentItem()
    assert item is not None and item.text(1) == "non-finite"
    assert window.tree.selected_path() == "head.1"
    assert window.selection.path == "head.1"


def test_first_problem_ranks_severity_then_phase_and_never_info():
    from torchlens_gui.core.recording.events import Diagnostic
    from torchlens_gui.gui.first_problem import first_problem

    info = Diagnostic("lazy-module", "info", "build", "m")
    late_warning = Diagnostic("w1", "warning", "backward", "m")
    early_warning = Diagnostic("w2", "warning", "forward", "m")
    backward_error = Diagnostic("e1", "error", "backward", "m")
    forward_error = Diagnostic("e2", "error", "forward", "m")
    assert first_problem([info]) is None
    assert first_problem([info, late_warning, early_warning]) is early_warning
    assert first_problem([late_warning, backward_error, forward_error]) is forward_error
    assert first_problem([info, backward_error, late_warning]) is backward_error
