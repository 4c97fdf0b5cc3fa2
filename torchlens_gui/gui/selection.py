"""What the selection-following panels show: one module and one of its calls, and which source
lines go with it. The window sets it (from the tree, a panel, a pause, a diagnostic); panels and
the source view read it."""

from __future__ import annotations

from typing import Optional

from ..core.recording import events as ev
from ..core.recording.record import CallRecord, RunRecord

# pauses that stop at a problem's line
PROBLEM_REASONS = (ev.PauseReason.NON_FINITE, ev.PauseReason.EXCEPTION)


class Selection:
    """A module path and a call index (None: the module's latest call), or nothing."""

    def __init__(self) -> None:
        self.path: Optional[str] = None
        self.call_index: Optional[int] = None

    def __bool__(self) -> bool:
        return self.path is not None

    def set(self, path: Optional[str], call_index: Optional[int] = None) -> None:
        self.path, self.call_index = path, call_index if path is not None else None

    def clear(self) -> None:
        self.set(None)

    def call(self, record: RunRecord) -> Optional[CallRecord]:
        """The selected call in ``record`` (None when nothing is selected or it has not run)."""
        if self.path is None:
            return None
        if self.call_index is not None:
            return record.calls_by_key.get(ev.CallKey(self.path, self.call_index))
        return record.last_call(self.path)

    def source_lines(self, record: RunRecord, shown_file: Optional[str]
                     ) -> tuple[Optional[int], Optional[int], Optional[int]]:
        """(creation line, problem line, line to scroll to) in ``shown_file`` for the selected
        module: where it was constructed, the problem to mark beside it, and the problem's line
        when paused at that problem in this module, else the construction line."""
        path = self.path
        node = record.nodes.get(path) if path is not None else None
        created = node.created_at if node is not None else None
        creation_line = created.line if created is not None and created.file == shown_file \
            else None
        problem = record.problem_beside(path)
        problem_line = problem.line if problem is not None and problem.file == shown_file \
            else None
        paused = record.paused_at
        at_problem = paused is not None and paused.reason in PROBLEM_REASONS and \
            paused.path == path
        return creation_line, problem_line, problem_line if at_problem and problem_line \
            else creation_line
