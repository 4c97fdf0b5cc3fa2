"""Run a session with a time limit: a forward that never returns must not hang the caller."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from typing import Iterator, Optional

from ..recording.events import Diagnostic
from .gate import Command, interrupt_thread
from ..recording.record import RunRecord
from .session import Session
from ..usercode.user_frames import is_user_file
from .outcomes import diagnostic_phase

# How long a stopped session gets to unwind before we stop waiting for it.
STOP_GRACE_S = 2.0
POLL_S = 0.1  # how often the waiting thread looks for Ctrl+C


def run_with_timeout(session: Session, timeout_s: Optional[float]) -> RunRecord:
    """Run ``session`` on a worker thread; past ``timeout_s`` stop it and report a `timeout`.

    Stopping first asks the step gate (works at the next module event), then raises
    SessionStopped asynchronously in the thread (works in a Python loop between module calls).
    A single C call that never returns cannot be interrupted; the record is returned anyway and
    the daemon thread is abandoned.
    """
    if timeout_s is None or timeout_s <= 0:
        return session.run()  # Ctrl+C raises KeyboardInterrupt in it: reported as interrupted
    worker = threading.Thread(target=session.run, name="torchlens-session", daemon=True)
    with _ctrl_c_noted() as ctrl_c:
        worker.start()
        deadline = time.monotonic() + timeout_s
        while worker.is_alive() and not ctrl_c and time.monotonic() < deadline:
            worker.join(min(POLL_S, max(0.0, deadline - time.monotonic())))
        if ctrl_c:
            return _stop(session, worker, None)
    if not worker.is_alive():
        return session.record
    return _stop(session, worker, timeout_s)


@contextlib.contextmanager
def _ctrl_c_noted() -> Iterator[list]:
    """While the session runs on its worker, Ctrl+C only notes itself (the list becomes true):
    a KeyboardInterrupt in the waiting main thread would leave the run without a report."""
    noted: list = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop(session: Session, worker: threading.Thread, timeout_s: Optional[float]) -> RunRecord:
    """Stop a running session (past its time limit, or on Ctrl+C: ``timeout_s`` None) and add
    the diagnostic that says so."""
    phase = session.record.phase
    ctx = session.ctx  # read once: the worker drops it when it ends
    stack = list(ctx.stack) if ctx is not None else []
    module = stack[-1].path if stack else None
    where = user_line_of_thread(worker.ident, record_file=session.record.file)
    session.gate.command(Command.STOP)
    worker.join(0.2)
    if worker.is_alive() and worker.ident is not None:
        interrupt_thread(worker.ident)
    worker.join(STOP_GRACE_S)
    record = session.record
    if timeout_s is None:
        record.diagnostics[:] = [d for d in record.diagnostics if d.code != "interrupted"]
        record.diagnostics.append(Diagnostic(
            code="interrupted", severity="error", phase=diagnostic_phase(phase),
            message=f"Interrupted (Ctrl+C) during {diagnostic_phase(phase)}"
                    + (f" inside {module or '(root)'}" if stack else ""),
            module=module, file=where[0] if where else record.file,
            line=where[1] if where else None, fix="Run again and let it finish; --timeout "
            "limits how long a run may take."))
        record.status = "stopped"
        return record
    record.diagnostics.append(Diagnostic(
        code="timeout", severity="error", phase=phase if phase in (
            "load", "build", "forward", "loss", "backward") else "forward",
        message=f"The {phase} did not finish within {timeout_s:g} s"
                + (f"; it was inside {module or '(root)'}" if stack else "")
                + " and was stopped",
        module=module, file=where[0] if where else record.file, line=where[1] if where else None,
        fix="Look for a loop that never ends in forward (or a very large input); raise the "
            "limit with --timeout if the model is just slow."))
    if record.nodes:
        record.status = "problems"
    else:
        record.status = "failed"
    return record


def user_line_of_thread(thread_id: Optional[int], record_file: Optional[str]):
    """(file, line) the stuck thread is executing in the user's code, if any."""
    frame = sys._current_frames().get(thread_id) if thread_id is not None else None
    while frame is not None:
        if is_user_file(frame.f_code.co_filename, record_file):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None
