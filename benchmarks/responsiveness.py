"""Responsiveness of the GUI while the debugger runs: is the window ever frozen?

    python benchmarks/responsiveness.py [--modules 10000] [--steps 20] [--device cpu]

It opens the main window (offscreen unless a display is set, QT_QPA_PLATFORM=offscreen) and
measures the GUI thread's event loop with a 5 ms precise QTimer whose ticks are time-stamped:

1. gpt (the model of benchmarks/overhead.py) run with continue, no breakpoints: the longest
   gap between ticks while the run is going, the 99th percentile, and how long the run took;
2. a synthetic model of ``--modules`` modules (nested Sequentials of tiny Linear/Tanh layers,
   so the run is nothing but module events): the time from load to a fully populated tree
   (every module has a row in the tree's model, and the view has painted once since), then
   the same gap figures while it runs with continue to the end;
3. F10 (step over) pressed ``--steps`` times on each model, paused: the time from the key
   press until the pause is shown by every panel (the window's handler for that pause has
   returned and the event loop has painted once more). A pause wakes the GUI's drain at once
   (it does not wait for the ~30 Hz drain timer). Each line also gives the part the GUI took
   after the session put the pause on its queue; the rest is the session's own work (running
   the module, statistics, histograms at the pause).

Targets (issue 5): longest stall under 100 ms, 99th percentile under 30 ms; a 10,000-module
tree populated in under 2 s; one step reflected in every panel in under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Optional

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import overhead  # noqa: E402
from torchlens_gui.core.recording import events as ev  # noqa: E402
from torchlens_gui.core.usercode.loader import spec_from_objects  # noqa: E402
from torchlens_gui.gui.main_window import MainWindow  # noqa: E402

TICK_MS = 5


class Ticker:
    """Time-stamps every tick of a precise 5 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        self.ticks.append(time.perf_counter())
        return self.ticks


def gaps_ms(ticks: list[float]) -> list[float]:
    return [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def wait_until(condition: Callable[[], bool], timeout_s: float, window: MainWindow) -> bool:
    """Run the event loop until ``condition()`` holds after a record change (or a timeout)."""
    if condition():
        return True
    loop = QEventLoop()
    found = [False]

    def check(*_):
        if not found[0] and condition():
            found[0] = True
            loop.quit()

    window.controller.sig_record_changed.connect(check)
    guard = QTimer()
    guard.setInterval(20)
    guard.timeout.connect(check)
    guard.start()
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    guard.stop()
    window.controller.sig_record_changed.disconnect(check)
    return found[0]


def after_next_paint() -> float:
    """Let the event loop run the paints already posted; return the time it is done."""
    loop = QEventLoop()
    QTimer.singleShot(0, loop.quit)
    loop.exec()
    return time.perf_counter()


def ended(window: MainWindow) -> Callable[[], bool]:
    c = window.controller
    return lambda: c.record.status is not None and not c.running and c._queue.empty()


def paused(window: MainWindow) -> Callable[[], bool]:
    return lambda: window.controller.paused and window.controller.record.paused_at is not None


def report_gaps(title: str, ticks: list[float], elapsed: float) -> dict:
    gaps = gaps_ms(ticks)
    worst = max(gaps) if gaps else float("nan")
    p99 = percentile(gaps, 99)
    print(f"  {title}: run {elapsed:.2f} s, {len(gaps)} ticks of a {TICK_MS} ms timer; "
          f"longest gap {worst:.1f} ms, 99th percentile {p99:.1f} ms, "
          f"median {statistics.median(gaps):.1f} ms" if gaps else f"  {title}: no ticks")
    return {"longest": worst, "p99": p99}


def run_continue(window: MainWindow, spec, ticker: Ticker, timeout_s: float) -> tuple:
    """Open ``spec`` and continue to the end, ticking; (ticks, elapsed seconds, ok)."""
    ticker.start()
    start = time.perf_counter()
    window.open_spec(spec, run=True)
    ok = wait_until(ended(window), timeout_s, window)
    elapsed = time.perf_counter() - start
    return ticker.stop(), elapsed, ok


class StampingQueue:
    """The controller's event queue, noting when the session put each pause on it (so a step's
    latency splits into the session's work and the GUI's)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.paused_at: list[float] = []

    def put(self, item) -> None:
        if isinstance(item[1], ev.Paused):
            self.paused_at.append(time.perf_counter())
        self.inner.put(item)

    def get_nowait(self):
        return self.inner.get_nowait()

    def empty(self) -> bool:
        return self.inner.empty()


def press_and_wait(window: MainWindow, key, timeout_s: float) -> Optional[float]:
    """Press ``key`` while paused; the perf_counter time when the next pause had been handled by
    the window (every panel told), or None when the session ended instead."""
    before = window.controller.record.paused_at
    shown: list[float] = []

    def on_changed(changes) -> None:
        # Connected after the window's own handler: when this runs, the panels have been
        # updated for the pause.
        if changes.paused is not None and changes.paused != before and not shown:
            shown.append(time.perf_counter())

    window.controller.sig_record_changed.connect(on_changed)
    QTest.keyClick(window, key)
    wait_until(lambda: bool(shown) or ended(window)(), timeout_s, window)
    window.controller.sig_record_changed.disconnect(on_changed)
    return shown[0] if shown else None


def measure_steps(window: MainWindow, spec, steps: int, timeout_s: float
                  ) -> tuple[list[float], list[float]]:
    """Open ``spec`` paused, step into (F11) down to a module without children, then press F10
    ``steps`` times. Returns per step the ms from the key press to the pause handled by the
    window and painted, and the ms of that spent by the GUI after the session paused."""
    window.open_spec(spec, run=False)
    if not wait_until(paused(window), timeout_s, window):
        raise RuntimeError("the session did not pause at the start")
    record = window.controller.record
    for _ in range(50):  # F10 at a container's entry would step over all of it
        location = record.paused_at
        if location is None or not any(n.parent == location.path for n in record.nodes.values()):
            break
        if press_and_wait(window, Qt.Key.Key_F11, timeout_s) is None:
            break
    after_next_paint()
    stamps = StampingQueue(window.controller._queue)
    window.controller._queue = stamps
    totals, gui = [], []
    try:
        for _ in range(steps):
            if not window.controller.paused:
                break
            stamps.paused_at.clear()
            start = time.perf_counter()
            handled = press_and_wait(window, Qt.Key.Key_F10, timeout_s)
            if handled is None:
                break
            painted = after_next_paint()
            totals.append((painted - start) * 1000)
            if stamps.paused_at:
                gui.append((painted - stamps.paused_at[-1]) * 1000)
    finally:
        window.controller._queue = stamps.inner
    window.controller.stop(wait=True)
    wait_until(ended(window), timeout_s, window)
    return totals, gui


def synthetic(modules: int) -> tuple[nn.Module, torch.Tensor]:
    """Nested Sequentials with ``modules`` modules in all (root included) of tiny layers."""
    per_block = 100
    blocks = max(1, (modules - 1) // per_block)
    inner = per_block - 1  # each block: one Sequential + 99 layers
    layers = []
    remaining = modules - 1 - blocks * per_block
    for b in range(blocks):
        count = inner + (remaining if b == blocks - 1 else 0)
        layers.append(nn.Sequential(*[nn.Linear(8, 8) if i % 2 == 0 else nn.Tanh()
                                      for i in range(count)]))
    model = nn.Sequential(*layers)
    return model, torch.randn(2, 8)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20, help="F10 presses per model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--timeout", type=float, default=300.0, help="per run, seconds")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--switch-interval", type=float, default=0.0,
                        help="sys.setswitchinterval in ms for an experiment (0: leave as is)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="experiment: gc.freeze() after start-up, so the collector's full "
                             "passes skip the objects of the imported libraries")
    parser.add_argument("--gc-threshold", default="",
                        help="experiment: gc.set_threshold(a,b,c) given as a,b,c (the session "
                             "controller still raises the third while a session lives)")
    parser.add_argument("--only", default="gpt,synthetic,steps",
                        help="which parts to run (gpt, synthetic, steps)")
    args = parser.parse_args(argv)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval / 1000)
    if args.threads:
        torch.set_num_threads(args.threads)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.mkdtemp(prefix="tlgui-bench-")
    settings = QSettings(os.path.join(settings_dir, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, device=args.device)
    window.resize(1400, 900)
    window.show()
    after_next_paint()
    if args.gc_freeze or args.gc_threshold:
        import gc

        if args.gc_threshold:
            gc.set_threshold(*(int(v) for v in args.gc_threshold.split(",")))
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
    ticker = Ticker()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"Qt platform {QApplication.platformName()}, device {device}")
    results: dict[str, float] = {}
    parts = set(args.only.split(","))
    model, inputs, loss = overhead.build("gpt", device)
    gpt_spec = spec_from_objects(model, inputs, loss)
    big, big_input = synthetic(args.modules)
    count = sum(1 for _ in big.modules())
    big_spec = spec_from_objects(big.to(device), big_input.to(device), lambda out: out.sum())
    run_continue(window, gpt_spec, ticker, args.timeout)  # warm-up (first imports, caches)

    if "gpt" in parts:
        ticks, elapsed, ok = run_continue(window, gpt_spec, ticker, args.timeout)
        print("\ngpt (continue, no breakpoints)" + ("" if ok else " -- TIMED OUT"))
        gaps = report_gaps("event loop", ticks, elapsed)
        results.update(gpt_longest=gaps["longest"], gpt_p99=gaps["p99"])

    if "synthetic" in parts:
        print(f"\nsynthetic model of {count} modules")
        start = time.perf_counter()
        window.open_spec(big_spec, run=False)
        populated = wait_until(lambda: len(window.model.paths()) >= count, args.timeout, window)
        tree_s = after_next_paint() - start
        print(f"  tree populated ({len(window.model.paths())} rows) and painted in "
              f"{tree_s * 1000:.0f} ms from load" + ("" if populated else " -- NOT POPULATED"))
        results["tree_s"] = tree_s
        window.controller.stop(wait=True)
        wait_until(ended(window), args.timeout, window)
        ticks, elapsed, ok = run_continue(window, big_spec, ticker, args.timeout)
        gaps = report_gaps("event loop, continue to the end" + ("" if ok else " (TIMED OUT)"),
                           ticks, elapsed)
        results.update(big_longest=gaps["longest"], big_p99=gaps["p99"])

    if "steps" in parts:
        print(f"\nF10 (step over), {args.steps} presses from a module without children; ms from "
              "the key press to the pause shown in every panel and painted")
        for name, spec in (("gpt", gpt_spec), (f"synthetic-{count}", big_spec)):
            times, gui = measure_steps(window, spec, args.steps, args.timeout)
            if times:
                print(f"  {name:<18} median {statistics.median(times):6.1f}  "
                      f"max {max(times):6.1f}  ({len(times)} steps; of that the GUI after the "
                      f"session paused: median {statistics.median(gui):.1f}, "
                      f"max {max(gui):.1f})")
                results["step_max"] = max(results.get("step_max", 0.0), max(times))
            else:
                print(f"  {name:<18} could not step")

    window.close()
    app.processEvents()
    figures = []
    if "gpt" in parts or "synthetic" in parts:
        figures.append("longest_gap_ms=%.0f" % max(v for k, v in results.items()
                                                   if k.endswith("_longest")))
        figures.append("p99_gap_ms=%.0f" % max(v for k, v in results.items()
                                               if k.endswith("_p99")))
    if "tree_s" in results:
        figures.append(f"tree_{count}_s={results['tree_s']:.2f}")
    if "step_max" in results:
        figures.append(f"step_max_ms={results['step_max']:.0f}")
    print("\nresponsiveness " + " ".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
