"""Diagnostics: stable codes explaining where a problem was born and how to fix it."""

from .base import Diagnostician, load_error


def default_diagnostician() -> Diagnostician:
    """The diagnostician every front door uses: every detector, each one crash-proof."""
    from .standard import StandardDiagnostician  # late: the detectors import the session context

    return StandardDiagnostician()


__all__ = ["Diagnostician", "default_diagnostician", "load_error"]
