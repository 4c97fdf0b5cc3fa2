"""Fixtures for the GUI tests: an isolated main window, helpers that wait for the session to
pause or end, and a check that no test leaves a session thread running."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

import pytest  # noqa: E402

from torchlens_gui.gui.session_controller import THREAD_NAME  # noqa: E402

CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cases")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "resources", "examples")


def case(name: str) -> str:
    return os.path.join(CASES, name)


def session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


@pytest.fixture(autouse=True)
def no_session_thread_left():
    """Fail a test that leaves a session thread behind (after its window closed)."""
    yield
    for thread in session_threads():
        thread.join(5.0)  # an abandoned run blocked in C (rel_blocked_in_c: 2 s) ends alone
    left = session_threads()
    assert not left, f"session thread(s) still running after the test: {left}"


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from torchlens_gui.gui.safety_notice import SAFETY_NOTICE_KEY

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    # The "opening runs the file's code" dialog is modal: tests about it clear this key.
    settings.setValue(SAFETY_NOTICE_KEY, True)
    return settings


@pytest.fixture
def window(qtbot, settings):
    """A shown main window on CPU; closed (which stops its session) at teardown."""
    from torchlens_gui.gui.main_window import MainWindow

    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.close()


class Driver:
    """Presses keys on the window and waits for the session to stop somewhere."""

    def __init__(self, qtbot, window) -> None:
        self.qtbot, self.window = qtbot, window

    @property
    def record(self):
        return self.window.controller.record

    def _stopped(self, changes) -> bool:
        return changes.paused is not None or changes.ended is not None

    def wait_stop(self, action, timeout: int = 10_000):
        """Run ``action`` and wait for the next pause or the end of the session."""
        with self.qtbot.waitSignal(self.window.controller.sig_record_changed, timeout=timeout,
                                   check_params_cb=self._stopped):
            action()
        return self.record.paused_at

    def open(self, path: str, run: bool = False):
        return self.wait_stop(lambda: self.window.open_file(path, run=run))

    def key(self, key, modifiers=None):
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        mods = modifiers if modifiers is not None else Qt.KeyboardModifier.NoModifier
        return self.wait_stop(lambda: QTest.keyClick(self.window, key, mods))


@pytest.fixture
def driver(qtbot, window):
    return Driver(qtbot, window)
