"""Status bar: the phase, where the session is, and how long it has run."""

from __future__ import annotations

import time
from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from ..core.diagnostics import codes
from ..core.recording import events as ev
from ..core.recording.record import RunRecord

PHASE_TEXT = {ev.Phase.LOAD: "Loading", ev.Phase.BUILD: "Building", ev.Phase.FORWARD: "Forward",
              ev.Phase.LOSS: "Loss", ev.Phase.BACKWARD: "Backward", ev.Phase.OPTIMIZER: "Optimizer step",
              ev.Phase.DONE: "Done",
              ev.Phase.FAILED: "Failed", ev.Phase.STOPPED: "Stopped"}
KIND_TEXT = {ev.PauseKind.ENTER: "entering", ev.PauseKind.EXIT: "leaving",
             ev.PauseKind.GRAD: "gradient arrived at", ev.PauseKind.ERROR: "raised in",
             ev.PauseKind.START: "starting",
             ev.PauseKind.LOSS: "before backward, from the loss after"}
REASON_TEXT = {ev.PauseReason.NON_FINITE: "NaN/Inf born here",
               ev.PauseReason.EXCEPTION: "exception raised here",
               ev.PauseReason.BREAKPOINT: "breakpoint", ev.PauseReason.RUN_TO: "run-to target",
               ev.PauseReason.STEP_START: "start of a training step"}
ENDED_TEXT = {ev.RunStatus.OK: "Finished: no problems found",
              ev.RunStatus.PROBLEMS: "Finished: problems found (see Diagnostics)",
              ev.RunStatus.FAILED: "Failed (see Diagnostics)", ev.RunStatus.STOPPED: "Stopped"}


def location_text(record: RunRecord, location: ev.PauseLocation) -> str:
    """"Paused leaving norm (SumNorm), call 0 — NaN/Inf born here"."""
    node = record.nodes.get(location.path)
    kind = f" ({node.type_name})" if node else ""
    text = (f"Paused {KIND_TEXT.get(location.kind, location.kind)} "
            f"{location.path or '(root)'}{kind}, call {location.call_index}")
    reason = REASON_TEXT.get(location.reason)
    return f"{text} — {reason}" if reason else text


class StatusBar(QStatusBar):
    """Three permanent fields; the elapsed time ticks while a session runs."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.phase_label = QLabel("No model loaded", self)
        self.where_label = QLabel("", self)
        self.elapsed_label = QLabel("", self)
        self.phase_label.setMinimumWidth(130)
        self.addWidget(self.phase_label)
        self.addWidget(self.where_label, 1)
        self.addPermanentWidget(self.elapsed_label)
        self._started: Optional[float] = None
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._on_timer_timeout)

    def session_started(self) -> None:
        self._started = time.monotonic()
        self._timer.start()
        self.where_label.setText("")
        self._on_timer_timeout()

    def show_record(self, record: RunRecord) -> None:
        """Refresh from the record: phase, pause location or final status."""
        phase = PHASE_TEXT.get(record.phase, record.phase)
        self.phase_label.setText(f"<b>{phase}</b> on {record.device}" if record.device
                                 else f"<b>{phase}</b>")
        if record.snapshot is not None:
            self.phase_label.setText("<b>Snapshot</b>")
        if record.status is not None:
            self._timer.stop()
            text = ENDED_TEXT.get(record.status, record.status)
            errors = [d for d in record.diagnostics if d.severity == "error"] or \
                [d for d in record.diagnostics if d.code == codes.RUN_ABANDONED]
            if errors:
                text = errors[0].message.splitlines()[0] if errors[0].code == codes.RUN_ABANDONED \
                    else f"{text} — {errors[0].message.splitlines()[0]}"
            if record.snapshot is not None:
                text = f"Read-only, recorded on {record.snapshot.recorded_on} at " \
                       f"{record.snapshot.saved_at} · {text}"
            self.where_label.setText(text)
            self.elapsed_label.setText(f"{record.elapsed_s:.2f} s")
        elif record.paused_at is not None:
            self.where_label.setText(location_text(record, record.paused_at))
            self._on_timer_timeout()
        else:
            self.where_label.setText("Running…")

    def _on_timer_timeout(self) -> None:
        if self._started is not None:
            self.elapsed_label.setText(f"{time.monotonic() - self._started:.1f} s")
