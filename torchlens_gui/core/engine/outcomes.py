"""How a session ends when it cannot end normally: interrupted, or stopped by a bug of ours.

Both are ordinary diagnostics, so the window, ``check`` and ``debug()`` show them like any other
(the window never stays "Running…", ``check`` always prints its JSON object).
"""

from __future__ import annotations

from typing import Optional

from ..recording.events import Diagnostic
from ..recording.internal_error import diagnostic_phase, internal_error  # noqa: F401 (re-export)
from ..usercode.context import SessionContext
from ..usercode.user_frames import innermost_user_frame


def interrupted(exc: BaseException, phase: Optional[str],
                ctx: Optional[SessionContext]) -> Diagnostic:
    """KeyboardInterrupt (Ctrl+C in a terminal, or raised by the model's code)."""
    user_file = ctx.user_file if ctx is not None else None
    where = innermost_user_frame(exc.__traceback__, user_file)
    module = ctx.stack[-1].path if ctx is not None and ctx.stack else None
    return Diagnostic(
        code="interrupted", severity="error", phase=diagnostic_phase(phase),
        message=f"KeyboardInterrupt during {diagnostic_phase(phase)}"
                + (f" in {module or '(root)'}" if module is not None else "")
                + ": the run was interrupted (Ctrl+C, or the model's code raised it)",
        module=module, file=where[0] if where else user_file, line=where[1] if where else None,
        fix="Run again; if the model's code raises KeyboardInterrupt itself, raise an ordinary "
            "exception instead.")
