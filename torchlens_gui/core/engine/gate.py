"""The step gate: where a running session asks "may I go on?" at every module event.

The session thread calls :meth:`StepGate.checkpoint` from its hooks; any other thread (the GUI,
a test) drives it with :meth:`StepGate.command`. A ``threading.Condition`` carries the hand-off.

Commands, as debuggers name them:

- continue: run until a breakpoint, a run-to target, or a problem (when breaking on problems);
- step (over): the next module event at this nesting level or above, children run through;
- step into: the very next module event (the first child, if the module has children);
- step out: the end of the module we are in (from a module's entry, its exit; from its exit,
  its parent's exit); in backward, the next gradient at a shallower depth;
- run to: the entry (or backward gradient) of a given module path;
- stop: raise :class:`SessionStopped` inside the hook so the session ends promptly; the session
  removes its hooks in ``finally`` so the model is left intact.
"""

from __future__ import annotations

import ctypes
import enum
import threading
import time
from typing import Callable, Iterable, Optional

from ..recording.events import PauseKind, PauseLocation, PauseReason, Phase


class SessionStopped(BaseException):
    """Raised inside a hook to end the session. BaseException so user ``except Exception`` in a
    forward cannot swallow it."""


class Command(enum.Enum):
    CONTINUE = "continue"
    STEP = "step"
    STEP_INTO = "step_into"
    STEP_OUT = "step_out"
    RUN_TO = "run_to"
    PAUSE = "pause"
    STOP = "stop"


# Events where a module is reached (its forward entry, its gradient in backward): breakpoints
# and run-to targets stop there.
_AT_MODULE = (PauseKind.ENTER, PauseKind.GRAD)


class StepGate:
    """Decides at each module event whether the session pauses, and blocks it while paused."""

    def __init__(self, pause_at_start: bool = False, break_on_problems: bool = False,
                 on_pause: Optional[Callable[[PauseLocation], None]] = None,
                 on_resume: Optional[Callable[[], None]] = None) -> None:
        self._cond = threading.Condition()
        # the command the session follows (CONTINUE, STEP, STEP_INTO, STEP_OUT or RUN_TO);
        # while paused, _held is True until the next command
        self._mode = Command.STEP_INTO if pause_at_start else Command.CONTINUE
        self._held = False
        self._anchor: Optional[PauseLocation] = None
        self._run_to: Optional[str] = None
        self._stopping = False
        self._paused_at: Optional[PauseLocation] = None
        self.breakpoints: frozenset[str] = frozenset()
        # A headless run has nobody to resume it, so problems break only when asked (the GUI).
        self.break_on_nonfinite = break_on_problems
        self.break_on_exception = break_on_problems
        self.on_pause = on_pause
        self.on_resume = on_resume
        # Called on the session thread before a pause, outside the lock (a training step sends
        # what it recorded lightly so far: the pause shows it).
        self.before_pause: Optional[Callable[[PauseLocation], None]] = None
        # Seconds spent paused so far: module timings subtract it so a call's time is its own
        # compute, not how long someone looked at it.
        self.paused_seconds = 0.0

    # ---- controller side --------------------------------------------------------------------

    @property
    def paused_at(self) -> Optional[PauseLocation]:
        return self._paused_at

    def set_breakpoints(self, paths: Iterable[str]) -> None:
        self.breakpoints = frozenset(paths)  # swapped whole: readers never see a half update

    def command(self, command: Command, target: Optional[str] = None) -> None:
        """Resume (or stop) the session. Safe from any thread; works paused or running."""
        with self._cond:
            if command is Command.STOP:
                self._stopping = True
            elif command is Command.PAUSE:
                self._mode, self._held = Command.STEP_INTO, False
            else:
                self._mode, self._held = command, False
                self._run_to = target if command is Command.RUN_TO else None
                self._anchor = self._paused_at
            self._cond.notify_all()

    # ---- session side -----------------------------------------------------------------------

    @property
    def free_running(self) -> bool:
        """True when no event can pause except a problem: hooks may skip building locations."""
        return self._mode is Command.CONTINUE and not self.breakpoints and not self._stopping

    def should_pause(self, phase: Phase, kind: PauseKind, path: str, depth: int
                     ) -> Optional[PauseReason]:
        """The reason to pause at this event, or None. Called on the session thread."""
        if self._stopping:
            raise SessionStopped()
        mode = self._mode
        if kind in _AT_MODULE and path in self.breakpoints:
            return PauseReason.BREAKPOINT
        if mode is Command.CONTINUE:
            return None
        if mode is Command.STEP_INTO:
            return PauseReason.STEP
        if mode is Command.RUN_TO:
            return PauseReason.RUN_TO if kind in _AT_MODULE and path == self._run_to else None
        anchor = self._anchor
        if anchor is None or anchor.phase != phase:
            return PauseReason.STEP  # crossing into a new phase always stops a step
        if mode is Command.STEP:
            if phase != Phase.FORWARD:
                return PauseReason.STEP
            return PauseReason.STEP if depth <= anchor.depth else None
        if mode is Command.STEP_OUT:
            if phase != Phase.FORWARD:
                return PauseReason.STEP if depth < anchor.depth else None
            limit = anchor.depth if anchor.kind == PauseKind.ENTER else anchor.depth - 1
            return PauseReason.STEP if kind == PauseKind.EXIT and depth <= limit else None
        return None

    def problem_pause_wanted(self, reason: PauseReason) -> bool:
        if self._stopping:
            raise SessionStopped()
        if reason == PauseReason.NON_FINITE:
            return self.break_on_nonfinite
        if reason == PauseReason.EXCEPTION:
            return self.break_on_exception
        return False

    def checkpoint(self, phase: Phase, kind: PauseKind, path: str, call_index: int, depth: int) -> None:
        """Pause here if the current command asks for it; raise SessionStopped on stop."""
        reason = self.should_pause(phase, kind, path, depth)
        if reason is not None:
            self.pause(PauseLocation(phase, kind, path, call_index, depth, reason))

    def pause(self, location: PauseLocation) -> None:
        """Block the session thread until a command arrives."""
        if self.before_pause is not None:
            self.before_pause(location)
        with self._cond:
            if self._stopping:
                raise SessionStopped()
            self._paused_at = location
            self._held = True
            started = time.perf_counter()
            if self.on_pause is not None:
                self.on_pause(location)
            while self._held and not self._stopping:
                self._cond.wait()
            self._paused_at = None
            self.paused_seconds += time.perf_counter() - started
            if self._stopping:
                raise SessionStopped()
        if self.on_resume is not None:
            self.on_resume()


def interrupt_thread(thread_id: int) -> bool:
    """Raise SessionStopped asynchronously in a thread stuck in Python code (an endless loop in a
    forward that reaches no hook). Returns False if the thread was not found. Code blocked inside
    a single C call (one huge op) is only interrupted when that call returns."""
    result = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(SessionStopped)
    )
    if result > 1:  # more than one thread affected: undo, as the CPython docs require
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        return False
    return result == 1
