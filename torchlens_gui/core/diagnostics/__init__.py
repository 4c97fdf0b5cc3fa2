"""Diagnostics: stable codes explaining where a problem was born and how to fix it."""

from .base import Diagnostician
from .op_watch import WatchState
from .rules import RULES


def default_diagnostician() -> Diagnostician:
    """The diagnostician every front door uses: every registered rule, each one crash-proof."""
    state = WatchState()
    return Diagnostician([rule(state) for rule in RULES])


__all__ = ["Diagnostician", "default_diagnostician"]
