"""What a report of a bug of torchlens-gui itself needs: its traceback, ready to copy, and the
phase it happened in (the diagnostic is made in engine/outcomes.py)."""

from __future__ import annotations

import traceback
from typing import Optional


# The phases a diagnostic can name (record.phase also goes through done/failed/stopped).
DIAGNOSTIC_PHASES = ("load", "build", "forward", "loss", "backward", "optimizer")
TRACEBACK_LIMIT = 40  # innermost frames kept: a RecursionError's traceback has thousands


def diagnostic_phase(phase: Optional[str]) -> str:
    """The diagnostic phase for a record's phase: itself while running, else "load"."""
    text = str(phase) if phase is not None else ""
    return text if text in DIAGNOSTIC_PHASES else "load"


def traceback_text(exc: BaseException) -> tuple[str, str]:
    """(one line, the innermost frames of the traceback) of an exception, for a report."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__,
                                              limit=-TRACEBACK_LIMIT))
    first = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return first[:300], text


INTERNAL_ERROR_FIX = ("This is a bug in torchlens-gui, not in your model. Please report it with "
                      "the traceback above (select the diagnostic and press Ctrl+C to copy it).")
