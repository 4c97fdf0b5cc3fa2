"""Small shared pieces of the detectors: an exception that carries its own diagnosis, shape and
number formatting."""

from __future__ import annotations

import math
from typing import Iterable, Optional

from ..recording.events import Diagnostic


class DiagnosedError(RuntimeError):
    """Raised by a watch *instead of* letting torch fail less clearly (a label out of range
    that would be an asynchronous device assert on CUDA, a loss batch mismatch). Raised only
    where torch itself would raise; the session's exception path returns ``diagnostic``."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def number(value: Optional[float]) -> str:
    """A number as a person reads it: 3, 0.25, 1.2e+05, nan, -inf."""
    if value is None:
        return "?"
    if isinstance(value, int) or (math.isfinite(value) and float(value).is_integer()
                                  and abs(value) < 1e6):
        return str(int(value))
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"


def count_text(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def listing(items: Iterable[str], limit: int = 4) -> str:
    """"a, b, c and 2 more"."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + (items[-1] if items
                                                                                else "")
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def sentence(text: str) -> str:
    """Upper-case the first letter only ("change nn.Linear" -> "Change nn.Linear")."""
    return text[:1].upper() + text[1:]
