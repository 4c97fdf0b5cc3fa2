"""Diagnostics: stable codes explaining where a problem was born and how to fix it."""

from .base import Diagnostician, load_error


def default_diagnostician() -> Diagnostician:
    """The diagnostician every front door uses."""
    return Diagnostician()


__all__ = ["Diagnostician", "default_diagnostician", "load_error"]
