"""The time limit reaches the record through the session's events, like every other finding."""

from __future__ import annotations

from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.engine.watchdog import run_with_timeout
from torchlens_gui.core.recording import events as ev

from case_tools import case_path, marker_line


def test_a_timeout_is_reported_as_session_events():
    seen: list[ev.Event] = []
    path = case_path("eng_endless")
    session = Session(path, device="cpu", listener=seen.append)
    record = run_with_timeout(session, 1.0)

    raised = [e.diagnostic for e in seen if isinstance(e, ev.DiagnosticRaised)]
    assert [(d.code, d.phase, d.module, d.line) for d in raised] == [
        ("timeout", ev.Phase.FORWARD, "", marker_line(path, "timeout"))]
    assert raised[0].message == ("The forward did not finish within 1 s; it was inside (root) "
                                 "and was stopped")
    ended = seen[-1]
    assert isinstance(ended, ev.SessionEnded)
    assert (ended.status, ended.diagnostics) == ("problems", tuple(raised))
    # the record is the listener's picture, rebuilt from the same events
    assert (record.status, record.diagnostics, record.phase) == (
        "problems", raised, ev.Phase.STOPPED)


def test_an_abandoned_session_drops_what_its_thread_emits_later():
    seen: list[ev.Event] = []
    session = Session(case_path("eng_endless"), device="cpu", listener=seen.append)
    session.abandon()
    assert [type(e) for e in seen] == [ev.PhaseChanged, ev.SessionEnded]
    assert seen[-1].status == "stopped" and session.record.status == "stopped"
    session.emit(ev.PhaseChanged(ev.Phase.FORWARD))  # the stuck thread waking up
    assert len(seen) == 2 and session.record.phase == ev.Phase.STOPPED
