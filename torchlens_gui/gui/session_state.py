"""What the session is doing, as the window's controls see it, and which actions each state
allows: a control is enabled only when pressing it does what its name says."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from ..core.recording.events import RunStatus


class SessionState(str, Enum):
    IDLE = "idle"  # nothing loaded
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"  # ended: ok, problems found, or stopped by the user
    FAILED = "failed"  # ended: the model could not be loaded, built or run
    SNAPSHOT = "snapshot"  # a saved run opened read-only: nothing to run or step

    @property
    def ended(self) -> bool:
        return self in (SessionState.FINISHED, SessionState.FAILED)


def session_state(loaded: bool, alive: bool, paused: bool, status: Optional[RunStatus]
                  ) -> SessionState:
    """The state from the controller's facts. The record's end status wins over a thread still
    alive: the worker lives on briefly after it reported the end, and nothing can be paused or
    stopped then."""
    if status is not None:
        return SessionState.FAILED if status == RunStatus.FAILED else SessionState.FINISHED
    if not loaded:
        return SessionState.IDLE
    if paused:
        return SessionState.PAUSED
    return SessionState.RUNNING if alive else SessionState.FINISHED


# Action attribute names of gui.actions.Actions enabled in each state; the rest are disabled.
# After the end, Restart (and Continue, which runs the file again to its first problem) are
# what can be done; stepping, pausing and stopping an ended session cannot.
_STEPS = ("continue_", "step", "step_into", "step_out")
ENABLED: dict[SessionState, frozenset[str]] = {
    SessionState.IDLE: frozenset(),
    SessionState.RUNNING: frozenset(("pause", "stop", "restart", "toggle_breakpoint")),
    SessionState.PAUSED: frozenset(_STEPS + ("stop", "restart", "run_to",
                                             "toggle_breakpoint")),
    SessionState.FINISHED: frozenset(("continue_", "restart", "toggle_breakpoint")),
    SessionState.FAILED: frozenset(("continue_", "restart", "toggle_breakpoint")),
    SessionState.SNAPSHOT: frozenset(),
}
# Actions whose enabled state follows the session (the others, Open or Quit, always work).
STATEFUL = ("continue_", "step", "step_into", "step_out", "pause", "stop", "restart", "run_to",
            "toggle_breakpoint")
