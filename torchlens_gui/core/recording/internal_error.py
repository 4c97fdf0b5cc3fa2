"""The diagnostic for a bug of torchlens-gui itself: its traceback, ready to copy."""

from __future__ import annotations

import traceback
from typing import Optional

from .events import Diagnostic

# The session's phases (record.phase) as a diagnostic's phase.
DIAGNOSTIC_PHASE = {"loading": "load", "building": "build", "forward": "forward",
                    "loss": "loss", "backward": "backward"}
TRACEBACK_LIMIT = 40  # innermost frames kept: a RecursionError's traceback has thousands


def diagnostic_phase(phase: Optional[str]) -> str:
    return DIAGNOSTIC_PHASE.get(phase or "", "load")


def internal_error(exc: BaseException, phase: Optional[str]) -> Diagnostic:
    """A bug of torchlens-gui: the message carries the traceback, ready to copy into a report."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__,
                                              limit=-TRACEBACK_LIMIT))
    first = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return Diagnostic(
        code="internal-error", severity="error", phase=diagnostic_phase(phase),
        message=f"torchlens-gui failed during {diagnostic_phase(phase)}: {first[:300]}\n\n"
                f"{text}",
        fix="This is a bug in torchlens-gui, not in your model. Please report it with the "
            "traceback above (select the diagnostic and press Ctrl+C to copy it).")
