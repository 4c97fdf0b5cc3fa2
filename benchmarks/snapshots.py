"""Snapshot sizes and the time to open one in the window.

    python benchmarks/snapshots.py [--modules 10000]

1. gpt, resnet and mlp50 (the models of benchmarks/overhead.py) run headless the way
   `check --save` runs them (histograms on every summary), saved without tensors and with the
   tensors of problem calls and pinned modules (the root pinned, so its output is kept): the
   file sizes.
2. The synthetic model of benchmarks/responsiveness.py with ``--modules`` modules, saved, then
   opened in the main window (offscreen): the time from File > Open until the tree holds a row
   for every module and the window has painted, split into reading the file (JSON + record)
   and showing it. Target (issue 13): under 2 s for 10,000 modules.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import overhead  # noqa: E402
import responsiveness  # noqa: E402
from torchlens_gui.core.engine.session import Session  # noqa: E402
from torchlens_gui.core.engine.tensor_keeper import TensorKeeper  # noqa: E402
from torchlens_gui.core.recording.snapshot import load_snapshot, save_snapshot  # noqa: E402
from torchlens_gui.core.usercode.loader import spec_from_objects  # noqa: E402


def run(model, inputs, loss=None, keeper=None):
    spec = spec_from_objects(model, inputs, loss=loss)
    return Session(spec, device="cpu", histograms=True, tensor_keeper=keeper).run()


def sizes(folder: str) -> None:
    print("snapshot sizes (check --save; histograms on every summary)")
    print(f"{'model':8} {'modules':>8} {'calls':>6} {'no tensors':>12} {'--save-tensors':>16}")
    for name in ("gpt", "resnet", "mlp50"):
        model, inputs, loss = overhead.build(name, torch.device("cpu"))
        record = run(model, inputs, loss)
        plain = save_snapshot(record, os.path.join(folder, f"{name}.tlsnap"), tensors=False)
        kept = run(model, inputs, loss, TensorKeeper(pinned={""}))
        with_tensors = save_snapshot(kept, os.path.join(folder, f"{name}_t.tlsnap"))
        print(f"{name:8} {len(record.nodes):8d} {len(record.calls):6d} "
              f"{plain / 1024:9.1f} KiB {with_tensors / 1024:13.1f} KiB "
              f"({len(kept.tensors)} tensors)")


def open_time(folder: str, modules: int) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from torchlens_gui.gui.main_window import MainWindow

    model, inputs = responsiveness.synthetic(modules)
    record = run(model, inputs)
    path = os.path.join(folder, "big.tlsnap")
    size = save_snapshot(record, path, tensors=False)
    print(f"\nsynthetic model: {len(record.nodes)} modules, {len(record.calls)} calls, "
          f"snapshot {size / 1024:.0f} KiB")
    app = QApplication.instance() or QApplication([])
    settings = QSettings(os.path.join(folder, "settings.ini"), QSettings.Format.IniFormat)
    for attempt in range(3):
        started = time.perf_counter()
        load_snapshot(path)
        read_s = time.perf_counter() - started
        window = MainWindow(settings=settings, device="cpu", default_layout=True)
        window.show()
        app.processEvents()
        started = time.perf_counter()
        window.open_file(path)
        shown = len(window.model.paths()) == len(record.nodes)
        done = responsiveness.after_next_paint()
        print(f"open #{attempt + 1}: tree of {len(window.model.paths())} modules shown "
              f"{'fully ' if shown else 'NOT fully '}in {done - started:.2f} s "
              f"(reading the file alone, just before: {read_s:.2f} s)")
        window.close()
        app.processEvents()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=10_000)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        sizes(folder)
        open_time(folder, args.modules)
    return 0


if __name__ == "__main__":
    sys.exit(main())
