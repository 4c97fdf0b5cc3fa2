"""Snapshots in the window: File > Save snapshot, opening one (menu, command line, drop),
read-only like a session paused at its end, and bad files that leave the window working."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from conftest import case
from torchlens_gui.core.engine.session import Session
from torchlens_gui.gui.window_layout import Dock
from torchlens_gui.core.engine.tensor_keeper import TensorKeeper
from torchlens_gui.core.recording.snapshot import load_snapshot, save_snapshot
from torchlens_gui.gui.window_layout import Dock


def _snapshot_of(tmp_path, name="snap_conv_nan.py", tensors=True):
    """A snapshot of a case copied to tmp_path, whose source file is then deleted (the
    snapshot must carry the text)."""
    source = tmp_path / name
    shutil.copy(case(name), source)
    keeper = TensorKeeper(pinned={"features.0"}) if tensors else None
    record = Session(str(source), device="cpu", histograms=True, tensor_keeper=keeper).run()
    path = tmp_path / "run.tlsnap"
    save_snapshot(record, str(path))
    text = source.read_text()
    source.unlink()
    return str(path), record, text


def _open(qtbot, window, path):
    with qtbot.waitSignal(window.controller.sig_record_changed, timeout=5000):
        window.open_file(path)


def test_an_opened_snapshot_shows_every_panel_read_only(qtbot, window, tmp_path):
    path, live, text = _snapshot_of(tmp_path)
    _open(qtbot, window, path)
    record = window.controller.record
    assert record.snapshot is not None and list(record.nodes) == list(live.nodes)
    assert "snapshot recorded on" in window.windowTitle() and "read-only" in window.windowTitle()
    assert "Snapshot" in window.status.phase_label.text()
    assert window.status.where_label.text().startswith(
        f"Read-only, recorded on {record.snapshot.recorded_on}")
    assert window.model.rowCount() == 1  # the root, with every module under it
    assert set(window.model.paths()) == set(live.nodes)
    # Nothing can run: no source to step, restart or continue.
    a = window.debug_actions
    assert not any(action.isEnabled() for action in a.stepping + (a.restart, a.stop))
    assert window.sharing.save.isEnabled() and window.sharing.export.isEnabled()
    # The source is the recorded text (the file is gone), with the problem line marked.
    assert window.source_panel.code.toPlainText() == text
    assert window.source_panel.problem_line == 9
    # The first error is selected, as at the end of a live session.
    assert window.diagnostics_panel.diagnostics[0].code == "non-finite"
    window.tree.select_path("features.0")
    window.select_call("features.0", None)
    call = window.selected_call()
    assert call is not None and call.outputs[0].shape == (2, 6, 12, 12)
    window.docks[Dock.GRADIENTS].raise_()
    window.gradient_panel.refresh_norms(record)


def test_save_snapshot_of_a_live_run_round_trips(qtbot, window, driver, tmp_path):
    location = driver.open(case("snap_conv_nan.py"), run=True)
    assert location.reason == "non-finite" and not window.sharing.save.isEnabled()
    live = window.controller.record
    assert ("features.2", 0, "output", "") in live.tensors  # kept at the NaN's birth
    while driver.key(Qt.Key.Key_F5) is not None:
        pass
    assert live.status == "problems"
    assert window.sharing.save.isEnabled()
    path = str(tmp_path / "live.tlsnap")
    assert window.sharing.save_snapshot(path)
    opened = load_snapshot(path)
    assert list(opened.nodes.values()) == list(live.nodes.values())
    assert opened.calls == live.calls and opened.diagnostics == live.diagnostics
    assert set(opened.tensors) == set(live.tensors)


def test_a_broken_snapshot_leaves_the_window_as_it_was(qtbot, window, tmp_path):
    path, live, _ = _snapshot_of(tmp_path, tensors=False)
    _open(qtbot, window, path)
    before = window.controller.record
    cut = tmp_path / "cut.tlsnap"
    data = open(path, "rb").read()
    cut.write_bytes(data[: len(data) // 3] + b"\0" * 10 + data[-40:])
    window.open_file(str(cut))
    assert window.controller.record is before
    assert "truncated or damaged" in window.sharing.last_error
    box = window.findChild(QMessageBox, "sharing_error")
    assert box is not None and box.isVisible() and "cut.tlsnap" in box.text()
    box.accept()
    # The window still works: the same snapshot opens again.
    _open(qtbot, window, path)
    assert window.controller.record is not before


def test_a_dropped_snapshot_is_recognised_by_content(qtbot, window, tmp_path):
    path, live, _ = _snapshot_of(tmp_path, tensors=False)
    renamed = tmp_path / "no_suffix"
    os.rename(path, renamed)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(renamed))])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, data,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.controller.sig_record_changed, timeout=5000):
        window.dropEvent(event)
    assert window.controller.record.snapshot is not None
    assert set(window.controller.record.nodes) == set(live.nodes)


def test_the_command_line_opens_a_snapshot_and_saves_a_screenshot(tmp_path):
    path, _, _ = _snapshot_of(tmp_path, tensors=False)
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "torchlens_gui", path, "--screenshot",
                             str(png)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_report_from_an_opened_snapshot_uses_its_recorded_source(qtbot, window,
                                                                        tmp_path):
    path, live, _ = _snapshot_of(tmp_path, tensors=False)
    _open(qtbot, window, path)
    out = tmp_path / "report.html"
    assert window.sharing.export_report(str(out))
    page = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert "return x / x.sum(dim=(2, 3), keepdim=True)" in page  # the file itself is gone
    assert not window.sharing.export_report(str(tmp_path / "missing" / "r.html"))
    assert "No such file or directory" in window.sharing.last_error
    window.findChild(QMessageBox, "sharing_error").accept()


def test_a_training_snapshot_shows_its_steps(qtbot, window, tmp_path):
    from torchlens_gui.core.engine.training_session import TrainingSession

    record = TrainingSession(case("train_contract.py"), steps=3, device="cpu").run()
    path = tmp_path / "train.tlsnap"
    save_snapshot(record, str(path))
    window.docks[Dock.STEPS].show()
    window.docks[Dock.STEPS].raise_()
    _open(qtbot, window, str(path))
    assert len(window.controller.record.steps) == 3
    assert window.steps_panel.record is window.controller.record
    assert len(window.steps_panel.loss_curve.getData()[0]) == 3
