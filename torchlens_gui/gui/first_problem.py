"""Which diagnostic a finished run should show first: the earliest-born error, else the
earliest-born warning; never an info (a remark is not why a run is worth looking at)."""

from __future__ import annotations

from typing import Iterable, Optional

from ..core.recording import events as ev

SEVERITY_RANK = {"error": 0, "warning": 1}
# Diagnostic phases in the order a run passes them: an error while loading explains the rest.
PHASE_RANK = {phase: rank for rank, phase in enumerate(ev.RUN_PHASES)}


def first_problem(diagnostics: Iterable[ev.Diagnostic]) -> Optional[ev.Diagnostic]:
    """The error (else warning) of the earliest phase, first raised among equals."""
    ranked = [(SEVERITY_RANK[d.severity], PHASE_RANK.get(str(d.phase), len(PHASE_RANK)), order, d)
              for order, d in enumerate(diagnostics) if d.severity in SEVERITY_RANK]
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None
