"""Run a session with a time limit: a forward that never returns must not hang the caller."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from typing import Iterator, Optional

from ..diagnostics import run_failures
from ..recording.events import RunStatus
from ..recording.record import RunRecord
from ..usercode.user_frames import is_user_file
from .gate import interrupt_thread
from .outcomes import interrupted_by_user
from .session import Session

# How long a stopped session gets to unwind before we stop waiting for it.
STOP_GRACE_S = 2.0
POLL_S = 0.1  # how often the waiting thread looks for Ctrl+C


def run_with_timeout(session: Session, timeout_s: Optional[float]) -> RunRecord:
    """Run ``session`` on a worker thread; past ``timeout_s`` stop it with a `timeout`.

    The timeout reaches the record as the session's own events: the session reports it when
    it unwinds. Stopping first asks the step gate (works at the next module event), then raises
    SessionStopped asynchronously in the thread (works in a Python loop between module calls).
    A single C call that never returns cannot be interrupted: the session is abandoned (its
    end reported from here), the record returned and the daemon thread left behind.
    """
    if timeout_s is None or timeout_s <= 0:
        return session.run()  # Ctrl+C raises KeyboardInterrupt in it: reported as interrupted
    worker = threading.Thread(target=session.run, name="torchlens-session", daemon=True)
    with _ctrl_c_noted() as ctrl_c:
        worker.start()
        deadline = time.monotonic() + timeout_s
        while worker.is_alive() and not ctrl_c and time.monotonic() < deadline:
            worker.join(min(POLL_S, max(0.0, deadline - time.monotonic())))
        if not worker.is_alive():
            return session.record
        # Where it is, read from this thread: the stack is copied before anything else.
        ctx = session.ctx  # read once: the worker drops it when it ends
        stack = list(ctx.stack) if ctx is not None else []
        where = user_line_of_thread(worker.ident, record_file=session.record.file)
        if ctrl_c:
            session.stop(interrupted_by_user(session.record.phase, stack[-1] if stack else None,
                                             where, session.record.file),
                         ended_as=RunStatus.STOPPED)
        else:
            session.stop(run_failures.timeout(session.record.phase, timeout_s,
                                              stack[-1] if stack else None, where,
                                              session.record.file))
        worker.join(0.2)
        if worker.is_alive() and worker.ident is not None:
            interrupt_thread(worker.ident)
        worker.join(STOP_GRACE_S)
        if worker.is_alive():
            session.abandon()
    return session.record


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


def user_line_of_thread(thread_id: Optional[int], record_file: Optional[str]):
    """(file, line) the stuck thread is executing in the user's code, if any."""
    frame = sys._current_frames().get(thread_id) if thread_id is not None else None
    while frame is not None:
        if is_user_file(frame.f_code.co_filename, record_file):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None
