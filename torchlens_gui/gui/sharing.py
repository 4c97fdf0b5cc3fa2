"""File > Save snapshot, opening snapshots, File > Export report: keeping and sharing a run.

The files themselves are written and read by core (recording/snapshot.py, html_report.py); this
is the window's side: actions, dialogs, and saying plainly what went wrong.
"""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from ..core.recording.record import RunRecord
from ..core.recording.snapshot import (SUFFIX, SnapshotError, load_snapshot,
                                       looks_like_snapshot, save_snapshot)

SNAPSHOT_FILTER = f"torchlens-gui snapshots (*{SUFFIX});;All files (*)"
OPEN_FILTER = f"Model files and snapshots (*.py *{SUFFIX});;Python files (*.py);;" \
              f"Snapshots (*{SUFFIX});;All files (*)"


def snapshot_title(record: RunRecord) -> str:
    """"run.tlsnap — snapshot recorded on gpu-box (NVIDIA A100) at 2026-11-30 05:00 UTC"."""
    info = record.snapshot
    name = os.path.basename(info.path)
    when = f" at {info.saved_at}" if info.saved_at else ""
    return f"{name} — snapshot recorded on {info.recorded_on}{when} (read-only)"


class Sharing(QObject):
    """The window's snapshot and report actions. ``last_error`` holds the latest message shown
    (tests and the status bar read it)."""

    def __init__(self, window: QMainWindow, file_menu, before: QAction) -> None:
        super().__init__(window)
        self.window = window
        self.last_error: Optional[str] = None
        self.save = QAction("&Save Snapshot…", window)
        self.save.setShortcut(QKeySequence.StandardKey.Save)
        self.save.setStatusTip("Save this run (tree, summaries, diagnostics, source, kept "
                               "tensors) to one file that opens on any machine")
        self.export = QAction("&Export Report…", window)
        self.export.setShortcut(QKeySequence("Ctrl+E"))
        self.export.setStatusTip("Write a self-contained HTML page of this run")
        for action in (self.save, self.export):
            window.addAction(action)
        file_menu.insertActions(before, [self.save, self.export])
        file_menu.insertSeparator(before)
        self.save.triggered.connect(lambda: self.save_snapshot())
        self.export.triggered.connect(lambda: self.export_report())

    @property
    def record(self) -> RunRecord:
        return self.window.controller.record

    def update_actions(self) -> None:
        """Both need a finished run (or an opened snapshot)."""
        ended = self.record.status is not None and bool(self.record.nodes or
                                                        self.record.diagnostics)
        self.save.setEnabled(ended)
        self.export.setEnabled(ended)

    # ---- opening ----------------------------------------------------------------------------

    @staticmethod
    def is_snapshot(path: str) -> bool:
        return looks_like_snapshot(path)

    def open_snapshot(self, path: str) -> bool:
        """Show the snapshot at ``path`` read-only; on a bad file say why and keep the window as
        it was."""
        try:
            record = load_snapshot(path)
        except SnapshotError as exc:
            self._error("Cannot open snapshot", str(exc))
            return False
        self.window.controller.show_record(record)
        return True

    # ---- writing ----------------------------------------------------------------------------

    def _default_name(self, suffix: str) -> str:
        record = self.record
        if record.snapshot is not None:
            base = os.path.splitext(record.snapshot.path)[0]
        elif record.file:
            base = os.path.splitext(record.file)[0]
        else:
            base = os.path.join(os.getcwd(), "run")
        return base + suffix

    def save_snapshot(self, path: Optional[str] = None) -> bool:
        """Write the current record (with its kept tensors); a dialog asks where when ``path``
        is None."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, "Save snapshot",
                                                  self._default_name(SUFFIX), SNAPSHOT_FILTER)
            if not path:
                return False
        keeper = self.window.controller.keeper
        try:
            size = save_snapshot(self.record, path,
                                 tensors_skipped=keeper.skipped if keeper else 0)
        except OSError as exc:
            self._error("Cannot save snapshot", f"{path}: {exc.strerror or exc}")
            return False
        self._done(f"Snapshot saved to {path} ({size / 1024:.0f} KiB, "
                   f"{len(self.record.tensors)} tensors)")
        return True

    def export_report(self, path: Optional[str] = None) -> bool:
        """Write the HTML report; a dialog asks where when ``path`` is None."""
        from ..core.recording.html_report import write_html_report

        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, "Export report",
                                                  self._default_name(".html"),
                                                  "HTML pages (*.html);;All files (*)")
            if not path:
                return False
        try:
            write_html_report(self.record, path)
        except OSError as exc:
            self._error("Cannot write report", f"{path}: {exc.strerror or exc}")
            return False
        self._done(f"Report written to {path}")
        return True

    # ---- telling the user -------------------------------------------------------------------

    def _done(self, text: str) -> None:
        self.last_error = None
        self.window.statusBar().showMessage(text, 8000)
        self.window.log_panel.note(text)

    def _error(self, title: str, text: str) -> None:
        self.last_error = text
        self.window.log_panel.note(f"{title}: {text}")
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self.window)
        box.setObjectName("sharing_error")
        box.open()  # window-modal, not a nested event loop: the window keeps working
