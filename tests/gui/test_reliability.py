"""Issue 10 in the window: a worker that dies any way ends the session (never "Running…"
forever), Stop frees the window within a second even when the forward is blocked in a C call,
closing does not wait for it, and a restart leaves no view of the previous run behind."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import Qt

from conftest import EXAMPLES, case
from torchlens_gui.gui.window_layout import Dock


def _forward_started(window) -> bool:
    return any("forward started" in text for _stream, text in window.controller.record.log)


def test_stop_abandons_a_forward_blocked_in_a_c_call(driver, window, qtbot):
    """Failure 4: Stop during time.sleep in forward."""
    window.open_file(case("rel_blocked_in_c.py"), run=True)
    qtbot.waitUntil(lambda: _forward_started(window), timeout=10_000)
    driver.key(Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # waits for the end
    record = driver.record
    assert record.status == "stopped"
    (abandoned,) = [d for d in record.diagnostics if d.code == "run-abandoned"]
    assert abandoned.line is not None and "rel_blocked_in_c.py" in abandoned.file
    assert window.controller.abandoned_threads == 1
    status = window.status.where_label.text()
    assert "stuck in a C call" in status and "background" in status
    assert not window.debug_actions.stop.isEnabled()
    assert window.debug_actions.restart.isEnabled()
    # A restart does not wait for the abandoned thread: the new run pauses before its first
    # module while the old one is still asleep.
    where = driver.wait_stop(lambda: window.open_file(case("gui_tiny.py")))
    assert where is not None and where.path == ""
    assert window.controller.abandoned_threads == 1


def test_closing_during_a_blocked_forward_does_not_wait_for_it(window, qtbot):
    window.open_file(case("rel_blocked_in_c.py"), run=True)
    qtbot.waitUntil(lambda: _forward_started(window), timeout=10_000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0
    assert window.controller.abandoned_threads == 1


def test_keyboard_interrupt_in_forward_ends_the_session(driver, window):
    """Failure 2: KeyboardInterrupt raised in forward."""
    window.debug_actions.break_exception.setChecked(False)
    driver.open(case("rel_keyboard_interrupt.py"), run=True)
    assert driver.record.status == "stopped"
    assert any(d.code == "interrupted" for d in window.diagnostics_panel.diagnostics)
    assert "Running" not in window.status.where_label.text()
    assert not window.debug_actions.stop.isEnabled()


def test_a_worker_that_dies_silently_still_ends_the_session(driver, window, monkeypatch):
    """Failure 2: whatever kills the worker, the window does not stay "Running…"."""
    from torchlens_gui.core.engine.session import Session

    monkeypatch.setattr(Session, "run", lambda self: None)  # ends without a word
    driver.open(case("gui_tiny.py"), run=True)
    assert driver.record.status == "failed"
    assert any(d.code == "internal-error" for d in window.diagnostics_panel.diagnostics)
    assert "Running" not in window.status.where_label.text()


def test_restart_clears_the_gradient_chart_when_the_model_now_fails(driver, window, tmp_path):
    """Failure 5: the Gradients chart of the last run must not survive a restart."""
    model = tmp_path / "edited.py"
    good = (case("gui_tiny.py"))
    model.write_text(open(good, encoding="utf-8").read())
    window.docks[Dock.GRADIENTS].raise_()  # charts are drawn while on screen
    driver.open(str(model), run=True)
    assert driver.record.status == "ok"
    assert window.gradient_panel.norms.values  # bars of this run
    driver.wait_stop(lambda: window.restart())  # paused before the first module
    assert window.gradient_panel.norms.values == []
    driver.key(Qt.Key.Key_F5)
    while driver.record.status is None:
        driver.key(Qt.Key.Key_F5)
    assert window.gradient_panel.norms.values
    model.write_text("def build_model(:\n")  # the edited file no longer loads
    driver.wait_stop(lambda: window.restart(run=True))
    assert driver.record.status == "failed"
    assert window.gradient_panel.norms.values == []


def _answer_notice(qtbot, accept: bool, dont_show: bool = False):
    """Answer the modal safety notice once it is up (it blocks the caller until then)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    seen = []

    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        box.checkBox().setChecked(dont_show)
        (box.open_button if accept else box.button(QMessageBox.StandardButton.Cancel)).click()

    QTimer.singleShot(0, answer)
    return seen


def test_opening_a_chosen_file_says_it_runs_the_files_code(driver, window, settings, qtbot):
    """Failure 8: the notice before a file chosen in the window runs, with don't show again."""
    from torchlens_gui.gui.safety_notice import SAFETY_NOTICE_KEY

    settings.setValue(SAFETY_NOTICE_KEY, False)
    seen = _answer_notice(qtbot, accept=False)
    window.open_chosen_file(case("gui_tiny.py"))
    assert seen and "runs its code" in seen[0] and "gui_tiny.py" in seen[0]
    assert window.controller.source is None  # cancelled: nothing ran
    seen = _answer_notice(qtbot, accept=True, dont_show=True)
    driver.wait_stop(lambda: window.open_chosen_file(case("gui_tiny.py")))
    assert seen and window.controller.source == case("gui_tiny.py")
    assert settings.value(SAFETY_NOTICE_KEY, type=bool) is True
    window._notice_shown = False  # a new window: the ticked box still keeps it away
    driver.wait_stop(lambda: window.open_chosen_file(case("gui_tiny.py")))
    assert window.recent.files()[0] == case("gui_tiny.py")


def test_restarts_leave_no_module_hooks_or_threads_behind(driver, window):
    """Failure 1 in the window: every restart unloads the file and restores torch's state."""
    import sys
    import threading

    import torch

    from torchlens_gui.core.engine.isolation import hook_registry_sizes
    from torchlens_gui.core.usercode.loader import USER_MODULE_PREFIX

    hooks, threads = hook_registry_sizes(), threading.active_count()
    dtype = torch.get_default_dtype()
    for _ in range(4):
        driver.wait_stop(lambda: window.open_file(case("rel_global_state.py"), run=True))
        assert driver.record.status == "ok"
    assert hook_registry_sizes() == hooks
    assert not [n for n in sys.modules if n.startswith(USER_MODULE_PREFIX)]
    assert torch.get_default_dtype() == dtype and not torch.is_anomaly_enabled()
    assert threading.active_count() <= threads + 1  # at most the last run's ending thread


def test_running_a_chosen_training_script_asks_first(window, settings, qtbot, monkeypatch):
    """File > Run a Training Script… runs the script's code too: the same notice, and a
    cancel runs nothing (not even the arguments prompt)."""
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    from torchlens_gui.gui.safety_notice import SAFETY_NOTICE_KEY

    script = os.path.join(EXAMPLES, "diverging_training.py")
    settings.setValue(SAFETY_NOTICE_KEY, False)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (script, ""))
    asked = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: asked.append(a) or ("", False))
    seen = _answer_notice(qtbot, accept=False)
    window._on_run_script_triggered()
    assert seen and "diverging_training.py" in seen[0]
    assert asked == [] and window.controller.source is None
