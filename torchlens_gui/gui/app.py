"""Application start-up: `torchlens-gui [FILE]` and `torchlens_gui.debug(...)` land here."""

from __future__ import annotations

import os
import sys
from typing import Optional

from ..core.usercode.loader import ModelSpec

ORGANIZATION = "torchlens-gui"
APPLICATION = "torchlens-gui"


def _application():
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from .display_check import create_application

    app = QApplication.instance()
    if app is None:
        app = create_application(lambda: QApplication(sys.argv[:1]))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("torchlens-gui")
    app.setDesktopFileName(APPLICATION)  # Wayland matches the window to torchlens-gui.desktop
    app.setWindowIcon(_app_icon(QIcon))
    return app


def _app_icon(icon_class):
    from ..bundled import ICON_SIZES, icon_path

    icon = icon_class()
    for size in ICON_SIZES:
        if os.path.exists(icon_path(size)):
            icon.addFile(icon_path(size))
    return icon


def window_problem() -> Optional[str]:
    """Why no window can open here (message for the user), or None; None too when a
    QApplication exists already (it opened its platform plugin)."""
    from PySide6.QtCore import QCoreApplication

    from .display_check import display_problem

    return None if QCoreApplication.instance() is not None else display_problem()


def save_screenshot(window, path: str) -> bool:
    """Render the whole window (offscreen works too) to a PNG file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    return window.grab().save(path, "PNG")


def run_app(file: Optional[str] = None, device: Optional[str] = None, run: bool = False,
            screenshot: Optional[str] = None, spec: Optional[ModelSpec] = None,
            script_args: Optional[list[str]] = None, steps: Optional[int] = None) -> int:
    """Open the debugger window on ``file`` or ``spec`` and run the Qt event loop.

    ``run`` continues right after loading (to the end or the first break); with ``screenshot``
    the window is saved to that PNG when the run stops and the app exits 0.
    """
    if screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no screen needed for a PNG
    problem = window_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    app = _application()
    from PySide6.QtCore import QTimer

    from .main_window import MainWindow

    # Screenshots use the default layout and size, so they look the same everywhere.
    window = MainWindow(device=device, default_layout=bool(screenshot))
    window.show()
    if screenshot:
        _arm_screenshot(window, screenshot)
    if spec is not None:
        window.open_spec(spec, run=run or bool(screenshot))
    elif file is not None and script_args is not None:  # torchlens-gui run SCRIPT (window)
        window.open_script(file, script_args, run=run or bool(screenshot), steps=steps,
                           remember=not screenshot)
    elif file is not None:
        window.open_file(file, run=run or bool(screenshot), remember=not screenshot)
    elif screenshot:
        QTimer.singleShot(300, lambda: _shoot_and_quit(window, screenshot))
    return finish(window, int(app.exec()))


def finish(window, code: int) -> int:
    """After the event loop: ``code``, or leave the process at once when a run abandoned in a C
    call still runs (the interpreter's shutdown would wait on it, or abort mid-call; settings
    are already saved by the window's close)."""
    if window.controller.abandoned_threads:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _arm_screenshot(window, path: str) -> None:
    """Save the window once the run pauses (a break) or ends, then quit."""
    done = []

    def on_changed(changes) -> None:
        if done or (changes.paused is None and changes.ended is None):
            return
        done.append(True)
        from PySide6.QtCore import QTimer

        # Let the views lay out and paint the final state before grabbing.
        QTimer.singleShot(200, lambda: _shoot_and_quit(window, path))

    window.controller.sig_record_changed.connect(on_changed)


def _shoot_and_quit(window, path: str) -> None:
    from PySide6.QtWidgets import QApplication

    ok = save_screenshot(window, path)
    print(f"screenshot {'saved to' if ok else 'FAILED:'} {path}", file=sys.stderr)
    window.close()
    QApplication.instance().exit(0 if ok else 1)
