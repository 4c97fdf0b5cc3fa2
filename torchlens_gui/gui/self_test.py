"""`torchlens-gui --self-test`: proof that an installed copy works, in one line.

Builds the main window offscreen, runs the bundled NaN example through forward, loss and
backward in it (the same worker thread and views a user gets) and checks that the debugger
names the module and line where the NaN is born. Used by the installers' build to test each
installed form (bundle, .deb, tar.gz, wheel) and by users to report their set-up.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from typing import Optional

EXAMPLE = "mlp_nan.py"
EXPECTED_CODE = "non-finite"
EXPECTED_MODULE = "norm"  # SumNorm divides 0 by 0 for rows ReLU zeroed
TIMEOUT_S = 300.0


def _versions() -> str:
    import PySide6
    import torch
    from PySide6.QtCore import qVersion

    from .. import __version__

    form = "bundle" if getattr(sys, "frozen", False) else "python"
    return (f"torchlens-gui {__version__} ({form}), torch {torch.__version__}, "
            f"PySide6 {PySide6.__version__} (Qt {qVersion()}), Python {platform.python_version()}"
            f", {platform.system()} {platform.machine()}")


def _device_name(device: str) -> str:
    from ..core.engine.devices import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda":
        import torch

        return f"{resolved} ({torch.cuda.get_device_name(resolved)})"
    return str(resolved)


def _wait_for_end(window, timeout_s: float) -> bool:
    """Run the event loop until the window's session ends; False on timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    ended = []

    def on_changed(changes) -> None:
        if changes.ended is not None:
            ended.append(changes.ended)
            loop.quit()

    window.controller.sig_record_changed.connect(on_changed)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    if window.controller.ended:  # ended before we listened
        return True
    loop.exec()
    return bool(ended) or window.controller.ended


def _verdict(record) -> tuple[bool, str]:
    """(passed, what the run found) from the run's record."""
    found = next((d for d in record.diagnostics
                  if d.code == EXPECTED_CODE and d.module == EXPECTED_MODULE), None)
    if found is None:
        codes = ", ".join(f"{d.code} in {d.module}" for d in record.diagnostics) or "nothing"
        return False, f"expected {EXPECTED_CODE} in {EXPECTED_MODULE}, found {codes} " \
                      f"(status {record.status})"
    where = f"{os.path.basename(found.file or '?')}:{found.line}"
    if not found.line or not (found.file or "").endswith(EXAMPLE):
        return False, f"{found.code} in {found.module} placed at {where}, not in {EXAMPLE}"
    if not record.backward_order:
        return False, f"{found.code} in {found.module} at {where}, but backward did not run"
    return True, (f"{EXAMPLE} -> {found.code} in {found.module} at {where}, forward+backward "
                  f"over {len(record.nodes)} modules")


def run_self_test(device: Optional[str] = None, timeout_s: float = TIMEOUT_S) -> int:
    """Print one line (versions, device, result, seconds); 0 when it passed, 1 when not."""
    started = time.monotonic()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the test must pass without a screen
    device = device or "auto"
    try:
        passed, result = _run(device, timeout_s)
        device_text = _device_name(device)
        versions = _versions()
    except Exception as exc:  # noqa: BLE001 - whatever broke is the self-test's answer
        traceback.print_exc()  # stderr: the one line on stdout stays one line
        passed, result = False, f"{type(exc).__name__}: {exc}"
        device_text, versions = device, f"torchlens-gui (versions unknown), Python " \
                                        f"{platform.python_version()}"
    verdict = "OK" if passed else "FAILED"
    print(f"self-test {verdict}: {versions}; device {device_text}; {result}; "
          f"{time.monotonic() - started:.1f} s", flush=True)
    return 0 if passed else 1


def _run(device: str, timeout_s: float) -> tuple[bool, str]:
    from PySide6.QtCore import QSettings

    from ..bundled import example_path
    from .app import _application
    from .main_window import MainWindow

    _application()
    with tempfile.TemporaryDirectory(prefix="torchlens-gui-self-test-") as folder:
        # A settings file of its own: the test leaves the user's recent files and layout alone.
        settings = QSettings(os.path.join(folder, "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, device=device, default_layout=True)
        try:
            window.show()
            window.controller.set_break_options(False, False)  # run through to the end
            window.open_file(example_path(EXAMPLE), run=True)
            if not _wait_for_end(window, timeout_s):
                return False, f"{EXAMPLE} did not finish within {timeout_s:.0f} s"
            if window.grab().isNull():
                return False, "the main window could not be drawn"
            return _verdict(window.controller.record)
        finally:
            window.close()
            window.deleteLater()
