"""The session controller: owns the worker thread and turns its events into GUI updates.

The worker runs :meth:`Session.run` and its listener only puts ``(generation, event)`` pairs on a
thread-safe queue. A ~30 Hz timer on the GUI thread drains the queue, applies the events to the
GUI's own :class:`RunRecord` and emits one :class:`Changes` per drain, so a burst of thousands of
module events costs the views one refresh. A pause or the end of the session also wakes the
drain at once (a queued signal), so a step is shown without waiting for the timer. Events of an
older generation (a session that was restarted or stopped) are dropped.
"""

from __future__ import annotations

import gc
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal

from ..core.recording import events as ev
from ..core.engine.gate import Command, StepGate, interrupt_thread
from ..core.usercode.loader import ModelSpec
from ..core.recording.record import RunRecord
from ..core.engine.session import Session
from ..core.engine.tensor_keeper import TensorKeeper
from ..core.engine.watchdog import user_line_of_thread
from ..core.diagnostics import codes
from ..core.recording.internal_error import diagnostic_phase
from .session_state import SessionState, session_state

DRAIN_INTERVAL_MS = 33
# Time spent applying events per tick, so a flood of events never freezes the window.
DRAIN_BUDGET_S = 0.02
# Stop: the gate stops a run at its next module event; after STOP_INTERRUPT_S a Python loop
# that reaches none is interrupted; after ABANDON_S a run stuck in a C call (time.sleep, one
# long native op) is abandoned: the window is usable again and the thread finishes on its own.
STOP_INTERRUPT_S = 0.3
ABANDON_S = 0.7
# What one session may copy out for the tensor viewer (and File > Save snapshot).
KEPT_TENSOR_BYTES = 256 * 2**20
GUI_BUSY_WAIT_S = 0.25
THREAD_NAME = "torchlens-session"
# While a session lives, the collector's full passes wait: each walks every object the session
# and the GUI recorded (200-550 ms on a 10,000-module run, the whole process frozen meanwhile).
# Young objects are still collected as usual (a larger first threshold makes each second-
# generation pass longer), so only cycles that outlive two collections wait.
SESSION_GC_THRESHOLDS = (700, 10, 1_000_000)
# Posted at the priority of Qt's own repaint requests, after them: handled once the drain's
# repaints are done.
_GUI_IDLE_EVENT = QEvent.Type(QEvent.registerEventType())


@dataclass
class Changes:
    """What one drain changed in the record; views refresh only what is named here."""

    started: bool = False
    tree_reset: bool = False
    added: list[str] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)
    params: bool = False
    phase: bool = False
    loss: bool = False
    diagnostics: list[ev.Diagnostic] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    paused: Optional[ev.PauseLocation] = None
    resumed: bool = False
    steps: bool = False  # a training step started or ended
    ended: Optional[ev.SessionEnded] = None

    def note(self, event: ev.Event) -> None:
        """Fold one event into the summary (called after the record applied it)."""
        if isinstance(event, (ev.ModuleEntered, ev.ModuleExited, ev.ModuleFailed,
                              ev.GradientArrived)):
            self.paths.add(event.path)
        elif isinstance(event, ev.TreeBuilt):
            self.tree_reset, self.added = True, []
        elif isinstance(event, ev.ModuleAdded):
            self.added.append(event.node.path)
        elif isinstance(event, ev.ParamsUpdated):
            self.params = True
        elif isinstance(event, ev.PhaseChanged):
            self.phase = True
        elif isinstance(event, ev.LossComputed):
            self.loss = True
        elif isinstance(event, ev.DiagnosticRaised):
            self.diagnostics.append(event.diagnostic)
            if event.diagnostic.module is not None:
                self.paths.add(event.diagnostic.module)
        elif isinstance(event, ev.LogWritten):
            self.log.append((event.stream, event.text))
        elif isinstance(event, ev.Paused):
            self.paused = event.location
        elif isinstance(event, ev.Resumed):
            self.paused, self.resumed = None, True
        elif isinstance(event, ev.SessionEnded):
            self.ended, self.paused = event, None
        elif isinstance(event, ev.SessionStarted):
            self.started = True
        elif isinstance(event, (ev.StepStarted, ev.StepEnded)):
            self.steps = True


class SessionController(QObject):
    """Starts, steps and stops sessions; the GUI's single source of run state (``record``)."""

    sig_session_started = Signal(object)  # the new RunRecord
    sig_record_changed = Signal(object)  # Changes
    sig_breakpoints_changed = Signal(object)  # the paths whose breakpoint was set or cleared
    # Emitted on the worker thread when it queues a pause or the end; queued to the GUI thread.
    sig_stop_queued = Signal(int)  # the session's generation

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.record = RunRecord()
        self.source: Optional[str | ModelSpec] = None
        self.device = "cpu"
        self.generation = 0
        self.gate: Optional[StepGate] = None
        self._breakpoints: frozenset[str] = frozenset()  # the one owner: gate and tree ask here
        self.keeper: Optional[TensorKeeper] = None
        self.break_on_nonfinite = True
        self.break_on_exception = True
        self.started_at: Optional[float] = None
        # "auto": histograms while stepping (where someone looks), none during a free run.
        self.histograms: bool | str = "auto"
        self._thread: Optional[threading.Thread] = None
        # Threads of abandoned runs (stuck in a C call when stopped): left to finish alone.
        self._abandoned: list[threading.Thread] = []
        self.session: Optional[Session] = None
        # Script mode (the script's arguments) and training steps of a model file; None: the
        # single forward and backward of a model file.
        self.script_args: Optional[list[str]] = None
        self.train_steps: Optional[int] = None
        self.break_at_step: Optional[int] = None
        self._gc_thresholds: Optional[tuple[int, ...]] = None  # the ones to restore
        # Cleared while the GUI thread applies a drain: the worker then waits at its next event
        # (releasing the GIL) instead of fighting the views for it. The wait is bounded, so a
        # GUI that never sets it again cannot deadlock the session.
        self._gui_idle = threading.Event()
        self._gui_idle.set()
        self._queue: "queue.SimpleQueue[tuple[int, ev.Event]]" = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)
        self.sig_stop_queued.connect(self._on_worker_stop_queued,
                                     Qt.ConnectionType.QueuedConnection)

    # ---- state ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while a session thread is alive (paused or not)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return self.running and self.record.paused_at is not None

    @property
    def ended(self) -> bool:
        return self.record.status is not None

    @property
    def state(self) -> SessionState:
        """Idle, running, paused, finished or failed (what the window's controls follow), or a
        snapshot (an opened file: nothing runs)."""
        if self.record.snapshot is not None:
            return SessionState.SNAPSHOT
        thread = self._thread
        # A thread not started yet (sig_session_started comes just before) counts as running.
        alive = thread is not None and (thread.ident is None or thread.is_alive())
        return session_state(self.source is not None, alive, self.paused, self.record.status)

    def thread_alive(self) -> bool:
        return self.running

    @property
    def abandoned_threads(self) -> int:
        """How many abandoned runs are still finishing in the background."""
        self._abandoned = [t for t in self._abandoned if t.is_alive()]
        return len(self._abandoned)

    # ---- starting ---------------------------------------------------------------------------

    def start(self, source: str | ModelSpec, device: Optional[str] = None,
              run: bool = False, script_args: Optional[list[str]] = None,
              steps: Optional[int] = None) -> None:
        """Stop any current session and start a new one on ``source``, paused before its first
        module unless ``run``. A file is re-read on every start. ``script_args`` (a list, maybe
        empty) runs ``source`` as a training script; ``steps`` limits it to that many steps, or
        runs that many training steps of a model file."""
        self._hold_full_collections()  # first: dropping the last record is already work
        self.stop(wait=True)
        self.source = source
        self.script_args, self.train_steps = script_args, steps
        if device:
            self.device = device
        self.generation += 1
        generation = self.generation
        self.record = RunRecord()
        self.gate = StepGate(pause_at_start=not run, break_on_problems=True)
        self._apply_gate_options()
        # Actual tensors for the viewer: where it pauses, at problems, at breakpoints.
        keeper = self.keeper = TensorKeeper(at_pauses=True, pinned=self.breakpoints,
                                            max_bytes=KEPT_TENSOR_BYTES)
        session = self.session = self._make_session(
            source, gate=self.gate, histograms=self.histograms, tensor_keeper=keeper,
            listener=lambda event: self._post(generation, event))
        self._thread = threading.Thread(target=session.run, name=THREAD_NAME, daemon=True)
        self.started_at = time.monotonic()
        self.sig_session_started.emit(self.record)
        self._thread.start()
        self._timer.start()

    def _make_session(self, source: str | ModelSpec, **options) -> Session:
        if self.script_args is not None:
            from ..core.engine.script_session import ScriptSession

            session = ScriptSession(source, self.script_args, max_steps=self.train_steps,
                                    **options)
        elif self.train_steps is not None:
            from ..core.engine.training_session import TrainingSession

            session = TrainingSession(source, steps=self.train_steps, device=self.device,
                                      **options)
        else:
            return Session(source, device=self.device, **options)
        session.set_break_at_step(self.break_at_step)
        return session

    def show_record(self, record: RunRecord) -> None:
        """Show a finished record (an opened snapshot) as a session paused at its end: every
        view reads it as usual, nothing runs, and stepping stays off (no source)."""
        self._hold_full_collections()
        self.stop(wait=True)
        self._release_full_collections()
        self.source = None
        self.gate = self.keeper = None
        self.generation += 1
        self.record = record
        self.started_at = time.monotonic()
        self.sig_session_started.emit(record)
        self.sig_record_changed.emit(Changes(
            started=True, tree_reset=True, phase=True, loss=record.loss is not None,
            steps=len(record.steps) > 0,
            diagnostics=list(record.diagnostics), log=list(record.log),
            ended=ev.SessionEnded(record.status or ev.RunStatus.OK, record.elapsed_s,
                                  tuple(record.diagnostics))))

    def restart(self, run: bool = False) -> None:
        """Start again on the same source (re-reading the file), in the same mode."""
        if self.source is not None:
            self.start(self.source, run=run, script_args=self.script_args,
                       steps=self.train_steps)

    # ---- training steps ---------------------------------------------------------------------

    @property
    def trains(self) -> bool:
        """Whether the session runs training steps (script mode or Run N Steps)."""
        return self.script_args is not None or self.train_steps is not None

    def set_break_at_step(self, step: Optional[int]) -> None:
        """Pause at the start of training step ``step`` (None: no such break)."""
        self.break_at_step = step
        if hasattr(self.session, "set_break_at_step"):
            self.session.set_break_at_step(step)

    def run_to_next_step(self) -> None:
        """Continue to the start of the next training step."""
        if hasattr(self.session, "break_at_next_step") and self.paused:
            self.session.break_at_next_step()
            self.command(Command.CONTINUE)

    # ---- driving ----------------------------------------------------------------------------

    def command(self, command: Command, target: Optional[str] = None) -> None:
        """Send a stepping command to the running session (ignored when none runs)."""
        if self.gate is not None and self.running:
            self.gate.command(command, target)

    @property
    def breakpoints(self) -> frozenset[str]:
        return self._breakpoints

    def set_breakpoints(self, paths: Iterable[str]) -> None:
        new = frozenset(paths)
        changed, self._breakpoints = self._breakpoints ^ new, new
        self._apply_gate_options()
        if changed:
            self.sig_breakpoints_changed.emit(set(changed))

    def toggle_breakpoint(self, path: str) -> None:
        self.set_breakpoints(self._breakpoints ^ {path})

    def set_break_options(self, nonfinite: bool, exception: bool) -> None:
        self.break_on_nonfinite, self.break_on_exception = nonfinite, exception
        self._apply_gate_options()

    def _apply_gate_options(self) -> None:
        if self.keeper is not None:
            self.keeper.pinned = set(self.breakpoints)  # one assignment: the worker reads it
        if self.gate is not None:
            self.gate.set_breakpoints(self.breakpoints)
            self.gate.break_on_nonfinite = self.break_on_nonfinite
            self.gate.break_on_exception = self.break_on_exception

    def stop(self, wait: bool = False) -> None:
        """Stop the session. The gate stops it at its next module event; a thread still alive
        after STOP_INTERRUPT_S (a loop that reaches no hook) is interrupted; one still alive
        after ABANDON_S (blocked in a C call) is abandoned. Without ``wait`` that happens on
        timers and the window stays responsive; with it the call returns within ABANDON_S."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        if self.gate is not None:
            self.gate.command(Command.STOP)
        self._gui_idle.set()  # never make a stopping worker wait for a GUI that waits for it
        if wait:
            thread.join(STOP_INTERRUPT_S)
            self._interrupt_if_alive(thread)
            thread.join(ABANDON_S - STOP_INTERRUPT_S)
            self._abandon_if_alive(thread)
        else:
            QTimer.singleShot(int(STOP_INTERRUPT_S * 1000),
                              lambda: self._interrupt_if_alive(thread))
            QTimer.singleShot(int(ABANDON_S * 1000), lambda: self._abandon_if_alive(thread))

    def _interrupt_if_alive(self, thread: threading.Thread) -> None:
        if thread.is_alive() and thread.ident is not None and thread is self._thread:
            interrupt_thread(thread.ident)

    def _abandon_if_alive(self, thread: threading.Thread) -> None:
        """Leave a run that did not stop (stuck in a C call) to finish in the background: its
        later events are dropped, and the record ends here as stopped, saying where it was."""
        if not thread.is_alive() or thread is not self._thread:
            return
        where = user_line_of_thread(thread.ident, self.record.file)
        self._abandoned.append(thread)
        self._thread = None
        self.generation += 1  # what the abandoned thread still says belongs to no one
        if self.record.status is None:
            count = self.abandoned_threads
            at = f" at {os.path.basename(where[0])}:{where[1]}" if where else ""
            self._end_record(ev.Diagnostic(
                code=codes.RUN_ABANDONED, severity="warning", phase=diagnostic_phase(
                    self.record.phase),
                message=f"Stopped: the run was stuck in a C call{at} (time.sleep, I/O or one "
                        f"long native op) and is left to finish in the background "
                        f"({count} such thread{'s' if count != 1 else ''} running)",
                file=where[0] if where else self.record.file,
                line=where[1] if where else None,
                fix="Nothing to do: the window is usable and a restart does not wait for it. "
                    "If the model blocks on purpose, make the wait shorter."),
                ev.RunStatus.STOPPED)

    def _end_record(self, diagnostic: ev.Diagnostic, status: ev.RunStatus) -> None:
        """End the current record from the GUI side (the worker cannot say it any more)."""
        generation = self.generation
        elapsed = time.monotonic() - self.started_at if self.started_at else 0.0
        for call in self.record.calls:  # the calls it was inside never return to us
            if call.status == ev.CallStatus.RUNNING:
                self._queue.put((generation, ev.ModuleFailed(
                    call.path, call.call_index, call.depth, diagnostic.message.splitlines()[0])))
        for event in (ev.DiagnosticRaised(diagnostic), ev.PhaseChanged(status.phase),
                      ev.SessionEnded(status, elapsed,
                                      tuple(self.record.diagnostics) + (diagnostic,))):
            self._queue.put((generation, event))
        self._timer.start()
        self.drain()

    def shutdown(self) -> None:
        """Stop and wait for the worker, then process what it said (window closing)."""
        self.stop(wait=True)
        self.drain()
        self._timer.stop()
        self._release_full_collections()

    def _hold_full_collections(self) -> None:
        if self._gc_thresholds is None:
            self._gc_thresholds = gc.get_threshold()
            gc.set_threshold(*(max(mine, theirs) for mine, theirs
                               in zip(SESSION_GC_THRESHOLDS, self._gc_thresholds)))

    def _release_full_collections(self) -> None:
        if self._gc_thresholds is not None:
            gc.set_threshold(*self._gc_thresholds)
            self._gc_thresholds = None

    def _post(self, generation: int, event: ev.Event) -> None:
        """The session's listener (worker thread)."""
        self._queue.put((generation, event))
        if isinstance(event, (ev.Paused, ev.SessionEnded)):
            try:
                self.sig_stop_queued.emit(generation)
            except RuntimeError:  # the window, and this controller with it, is gone
                pass
        self._gui_idle.wait(GUI_BUSY_WAIT_S)

    # ---- the GUI-thread side ----------------------------------------------------------------

    def _on_worker_stop_queued(self, generation: int) -> None:
        # Drain up to that pause or end now, one budgeted drain per event-loop turn (the views
        # paint in between); the timer keeps the usual pace for everything else.
        if generation == self.generation and not self.drain():
            QTimer.singleShot(0, lambda: self._on_worker_stop_queued(generation))

    def drain(self) -> bool:
        """Apply queued events of the current generation and notify views once. True when the
        drain reached a pause or the end, or the queue is empty."""
        self._gui_idle.clear()
        try:
            return self._drain()
        finally:
            # Released after the repaints the drain caused: a zero-time timer would run before
            # them, and the views would paint while competing with the worker for the GIL.
            QCoreApplication.postEvent(self, QEvent(_GUI_IDLE_EVENT),
                                       Qt.EventPriority.LowEventPriority.value)

    def event(self, event: QEvent) -> bool:
        if event.type() == _GUI_IDLE_EVENT:
            self._gui_idle.set()
            return True
        return super().event(event)

    def _drain(self) -> bool:
        changes = Changes()
        deadline = time.perf_counter() + DRAIN_BUDGET_S
        count = 0
        while True:
            try:
                generation, event = self._queue.get_nowait()
            except queue.Empty:
                break
            if generation != self.generation:
                continue  # a session we already left behind
            if isinstance(event, ev.StepStarted):  # the rows of the last step's calls change
                changes.paths.update(self.record.calls_by_path)
            self.record.apply(event)
            changes.note(event)
            count += 1
            # Show a pause or the end at once instead of applying a further backlog first.
            if changes.paused is not None or changes.ended is not None:
                break
            if count % 256 == 0 and time.perf_counter() > deadline:
                break
        if changes.ended is not None:
            self._release_full_collections()
        if count:
            self.sig_record_changed.emit(changes)
        if not self.running and self._queue.empty():
            self._timer.stop()
            if self.record.status is None and self._thread is not None:
                # The worker died without saying so (it never should): end the record here so
                # the window never stays "Running…".
                self._thread = None
                self._end_record(ev.Diagnostic(
                    code=codes.INTERNAL_ERROR, severity="error",
                    phase=diagnostic_phase(self.record.phase),
                    message="torchlens-gui failed: the session thread ended without reporting "
                            "how", fix="This is a bug in torchlens-gui; please report it."),
                    ev.RunStatus.FAILED)
        return changes.paused is not None or changes.ended is not None or self._queue.empty()
