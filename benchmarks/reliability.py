"""Reliability figures (issue 10): leaks over restarts, peak memory, Stop and Ctrl+Q latency.

    python benchmarks/reliability.py [--cycles 50] [--input-mib 2048]

Each measurement runs in its own process, in a real window under Xvfb (started here when no
DISPLAY is set; QT_QPA_PLATFORM=xcb):

1. cycles: ``--cycles`` load-run-restart cycles of one model file (a module-level model and a
   64 MB module-level tensor) in the window: RSS after the first cycle and after the last,
   threads and torch's global module hook tables against their size before the first load;
2. memory: peak RSS of plain forward + backward of a small model on a ``--input-mib`` input,
   against the same file under the debugger (``check``'s settings: statistics, histograms);
3. stop: a forward blocked in a C call (time.sleep(60)) stopped with Shift+F5: seconds from
   the key to a window that says it stopped with Stop disabled (target: under 1 s), and from
   Ctrl+Shift+F5 (restart) to the next pause;
4. quit: Ctrl+Q during such a forward: seconds from the key to the process' exit (target:
   under 2 s).

The last line is the summary the issue asks for:
``reliability cycles=50 rss_growth_mb=X threads_left=N hooks_left=M stop_s=S quit_s=Q``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CYCLE_FILE = '''
import torch
import torch.nn as nn

BIG = torch.ones(16 * 1024 * 1024)  # 64 MB held by the file's globals
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
inputs = torch.randn(8, 16)
'''

# A forward blocked in one C call: the test suite's case, blocked for 60 s here.
BLOCKED_MODEL = os.path.join(ROOT, "tests", "cases", "rel_blocked_in_c.py")
BLOCK_S = "60"

MEMORY_FILE = '''
import os

import torch
import torch.nn as nn

MIB = int(os.environ["RELIABILITY_INPUT_MIB"])


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1024, 16), nn.ReLU(), nn.Linear(16, 1))


def example_inputs():
    return torch.randn(MIB * 2**20 // 4 // 1024, 1024)
'''


# ---- children (each in its own process) ---------------------------------------------------

def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _window():
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from torchlens_gui.gui.main_window import MainWindow
    from torchlens_gui.gui.safety_notice import SAFETY_NOTICE_KEY

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
    settings.setValue(SAFETY_NOTICE_KEY, True)
    window = MainWindow(settings=settings, device="cpu", default_layout=True)
    window.show()
    app.processEvents()
    return app, window


def _wait(app, condition, timeout_s: float) -> float:
    """Process events until ``condition()``; the seconds it took."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError("condition not met")
        app.processEvents()
        time.sleep(0.002)
    return time.perf_counter() - started


def _press(window, action, key, modifiers) -> str:
    """The key, as a user presses it; where the window is not active (Xvfb has no window
    manager to give it focus) the shortcut cannot fire, and the action it triggers is
    triggered instead: the same slot, without the key's dispatch."""
    from PySide6.QtTest import QTest

    fired = []
    action.triggered.connect(lambda *_: fired.append(True))
    window.activateWindow()
    QTest.keyClick(window, key, modifiers)
    if fired:
        return "key"
    action.trigger()
    return "action"


def child_cycles(path: str, cycles: int) -> dict:
    import threading

    from torchlens_gui.core.engine.isolation import hook_registry_sizes

    app, window = _window()
    threads, hooks = threading.active_count(), sum(hook_registry_sizes().values())
    first = None
    controller = window.controller
    for cycle in range(cycles):
        window.open_file(path, run=True, remember=False)
        _wait(app, lambda: controller.record.status is not None and not controller.running, 60)
        if cycle == 0:
            first = _rss_mb()
    _wait(app, lambda: True, 0)
    out = {"first_mb": first, "last_mb": _rss_mb(),
           "threads_left": threading.active_count() - threads,
           "hooks_left": sum(hook_registry_sizes().values()) - hooks,
           "status": controller.record.status}
    window.close()
    return out


def child_stop(path: str) -> dict:
    from PySide6.QtCore import Qt

    app, window = _window()
    controller = window.controller
    started = lambda: any("forward started" in t for _, t in controller.record.log)  # noqa: E731
    window.open_file(path, run=True, remember=False)
    _wait(app, started, 60)
    pressed = time.perf_counter()
    how = _press(window, window.debug_actions.stop, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    _wait(app, lambda: controller.record.status is not None
          and not window.debug_actions.stop.isEnabled(), 10)
    stop_s = time.perf_counter() - pressed
    status_text = window.status.where_label.text()
    pressed = time.perf_counter()
    _press(window, window.debug_actions.restart, Qt.Key.Key_F5,  # pauses before module one
           Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    _wait(app, lambda: controller.record.paused_at is not None, 30)
    restart_s = time.perf_counter() - pressed
    out = {"stop_s": stop_s, "restart_s": restart_s, "status_text": status_text, "how": how,
           "abandoned": controller.abandoned_threads}
    print(json.dumps(out), flush=True)
    os._exit(0)  # the abandoned thread sleeps on: this process is done


def child_quit(path: str) -> None:
    """Ctrl+Q during a blocked forward; prints the wall time of the key press (the parent
    measures to the process' exit)."""
    from PySide6.QtCore import Qt, QTimer

    from torchlens_gui.gui import app as app_module

    app, window = _window()
    controller = window.controller
    window.open_file(path, run=True, remember=False)
    started = lambda: any("forward started" in t for _, t in controller.record.log)  # noqa: E731

    def press() -> None:
        if not started():
            QTimer.singleShot(10, press)
            return
        print(f"QUIT_AT {time.time()}", flush=True)
        _press(window, window.debug_actions.quit, Qt.Key.Key_Q,
               Qt.KeyboardModifier.ControlModifier)

    QTimer.singleShot(10, press)
    app_module.finish(window, int(app.exec()))


def child_memory(mode: str, path: str) -> dict:
    sys.path.insert(0, os.path.dirname(path))
    if mode == "plain":
        import importlib

        module = importlib.import_module(os.path.splitext(os.path.basename(path))[0])
        model, x = module.build_model(), module.example_inputs()
        model(x).sum().backward()
        status = "ok"
    else:
        from torchlens_gui.core.engine.session import Session

        status = Session(path, device="cpu", histograms=True).run().status
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "status": status}


# ---- the parent -----------------------------------------------------------------------------

def _child(args: list[str], env: dict, timeout: float = 600) -> dict:
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *args],
                            env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"child {args} failed:\n{result.stderr[-3000:]}")
    return json.loads(lines[-1])


def _display_env() -> tuple[dict, object]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    if os.environ.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "xcb"
        return env, None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        print("Xvfb not found: windows are offscreen (install xvfb for a real window)")
        env["QT_QPA_PLATFORM"] = "offscreen"
        return env, None
    display = ":87"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "1600x1000x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    return env, server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--input-mib", type=int, default=2048)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "cycles":
            print(json.dumps(child_cycles(rest[0], int(rest[1]))), flush=True)
        elif kind == "stop":
            child_stop(rest[0])
        elif kind == "quit":
            child_quit(rest[0])
        elif kind == "memory":
            print(json.dumps(child_memory(rest[0], rest[1])), flush=True)
        return 0

    folder = tempfile.mkdtemp(prefix="reliability_")
    files = {"blocked_model": BLOCKED_MODEL}
    for name, text in (("cycle_model", CYCLE_FILE), ("memory_model", MEMORY_FILE)):
        files[name] = os.path.join(folder, name + ".py")
        with open(files[name], "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(text))
    env, server = _display_env()
    env["TORCHLENS_BLOCK_S"] = BLOCK_S
    try:
        print(f"display: {env.get('DISPLAY', '-')} ({env['QT_QPA_PLATFORM']})")
        cycles = _child(["cycles", files["cycle_model"], str(args.cycles)], env)
        growth = cycles["last_mb"] - cycles["first_mb"]
        print(f"cycles: {args.cycles} load-run-restart cycles of a file holding a 64 MB tensor: "
              f"RSS {cycles['first_mb']:.0f} MB after the first, {cycles['last_mb']:.0f} MB "
              f"after the last ({growth:+.0f} MB; target within +50 MB); threads left "
              f"{cycles['threads_left']}, torch hook entries left {cycles['hooks_left']}")

        mem_env = dict(env, RELIABILITY_INPUT_MIB=str(args.input_mib))
        plain = _child(["memory", "plain", files["memory_model"]], mem_env)
        debug = _child(["memory", "debugger", files["memory_model"]], mem_env)
        ratio = debug["peak_mb"] / plain["peak_mb"]
        print(f"memory: {args.input_mib} MiB input, peak RSS plain forward+backward "
              f"{plain['peak_mb']:.0f} MB, under the debugger {debug['peak_mb']:.0f} MB "
              f"({ratio:.2f}x; target at most 1.25x; run {debug['status']})")

        stop = _child(["stop", files["blocked_model"]], env, timeout=120)
        print(f"stop: Shift+F5 (as {stop['how']}) during time.sleep(60) in forward: window "
              f"stopped and usable "
              f"after {stop['stop_s']:.2f} s (target under 1 s); restart paused after "
              f"{stop['restart_s']:.2f} s; abandoned threads {stop['abandoned']}; status bar: "
              f"\"{stop['status_text']}\"")

        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", "quit",
                                 files["blocked_model"]], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        pressed = None
        for line in proc.stdout:
            if line.startswith("QUIT_AT"):
                pressed = float(line.split()[1])
                break
        proc.wait(timeout=60)
        quit_s = time.time() - pressed if pressed is not None else float("nan")
        print(f"quit: Ctrl+Q during time.sleep(60) in forward: process gone after "
              f"{quit_s:.2f} s (target under 2 s; exit status {proc.returncode})")
    finally:
        if server is not None:
            server.terminate()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"reliability cycles={args.cycles} rss_growth_mb={growth:.1f} "
          f"threads_left={cycles['threads_left']} hooks_left={cycles['hooks_left']} "
          f"stop_s={stop['stop_s']:.2f} quit_s={quit_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
