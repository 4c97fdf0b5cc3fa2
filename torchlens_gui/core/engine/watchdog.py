"""Run a session with a time limit: a forward that never returns must not hang the caller."""

from __future__ import annotations

import sys
import threading
from typing import Optional

from ..diagnostics import run_failures
from ..recording.record import RunRecord
from ..usercode.user_frames import is_user_file
from .gate import interrupt_thread
from .session import Session

# How long a stopped session gets to unwind before we stop waiting for it.
STOP_GRACE_S = 2.0


def run_with_timeout(session: Session, timeout_s: Optional[float]) -> RunRecord:
    """Run ``session`` on a worker thread; past ``timeout_s`` stop it with a `timeout`.

    The timeout reaches the record as the session's own events: the session reports it when
    it unwinds. Stopping first asks the step gate (works at the next module event), then raises
    SessionStopped asynchronously in the thread (works in a Python loop between module calls).
    A single C call that never returns cannot be interrupted: the session is abandoned (its
    end reported from here), the record returned and the daemon thread left behind.
    """
    if timeout_s is None or timeout_s <= 0:
        return session.run()
    worker = threading.Thread(target=session.run, name="torchlens-session", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not worker.is_alive():
        return session.record
    # Where it is, read from this thread: the stack is copied before anything else.
    stack = list(session.ctx.stack) if session.ctx is not None else []
    where = _user_line_of_thread(worker.ident, record_file=session.record.file)
    session.stop(run_failures.timeout(session.record.phase, timeout_s,
                                      stack[-1] if stack else None, where, session.record.file))
    worker.join(0.2)
    if worker.is_alive() and worker.ident is not None:
        interrupt_thread(worker.ident)
    worker.join(STOP_GRACE_S)
    if worker.is_alive():
        session.abandon()
    return session.record


def _user_line_of_thread(thread_id: Optional[int], record_file: Optional[str]):
    """(file, line) the stuck thread is executing in the user's code, if any."""
    frame = sys._current_frames().get(thread_id) if thread_id is not None else None
    while frame is not None:
        if is_user_file(frame.f_code.co_filename, record_file):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None
