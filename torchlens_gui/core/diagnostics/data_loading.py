"""A DataLoader whose items differ in size: the default collate cannot stack them.

torch's message ("stack expects each tensor to be equal size, but got [3, 32] at entry 0 and
[3, 30] at entry 1") names neither the dataset nor what to do; this names the sizes, the line of
the dataset's ``__getitem__`` and the fixes.
"""

from __future__ import annotations

import inspect
import re
from typing import Optional

from . import codes
from ..recording.events import Diagnostic, Phase
from ..usercode.context import ActiveCall, SessionContext
from .rule import Rule


class CollateSizeMismatch(Rule):
    """Explains the default collate's "stack expects each tensor to be equal size"."""

    name = "collate size mismatch"
    reports = (codes.COLLATE_SIZE_MISMATCH,)

    def explain(self, exc: BaseException, phase: Phase, ctx: SessionContext,
                failing: Optional[ActiveCall]) -> Optional[Diagnostic]:
        return collate_size_mismatch(exc)

_STACK = re.compile(r"stack expects each tensor to be equal size, but got (\[[^\]]*\]) at entry "
                    r"(\d+) and (\[[^\]]*\]) at entry (\d+)")


def collate_size_mismatch(exc: BaseException) -> Optional[Diagnostic]:
    """The diagnostic for a default-collate failure, or None for any other exception."""
    match = _STACK.search(str(exc))
    if match is None or not _raised_in_collate(exc):
        return None
    first, first_at, other, other_at = match.groups()
    dataset = _dataset_of(exc)
    file = line = None
    name = "the dataset"
    if dataset is not None:
        name = type(dataset).__name__
        try:
            getitem = type(dataset).__getitem__
            file = inspect.getsourcefile(getitem)
            line = inspect.getsourcelines(getitem)[1]
        except (TypeError, OSError):
            pass
    return Diagnostic(
        code=codes.COLLATE_SIZE_MISMATCH, severity="error", phase=Phase.FORWARD,
        message=f"The DataLoader cannot stack a batch: {name} returned items of different sizes "
                f"({first} at entry {first_at}, {other} at entry {other_at})",
        file=file, line=line, details=(("sizes", f"{first} / {other}"),),
        fix="Make every item the same size in __getitem__ (crop or pad it, e.g. a fixed-size "
            "resize or torch.nn.functional.pad), or pass DataLoader(collate_fn=...) that pads "
            "the batch (torch.nn.utils.rnn.pad_sequence).")


def _frames(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _raised_in_collate(exc: BaseException) -> bool:
    return any("torch/utils/data" in f.f_code.co_filename.replace("\\", "/")
               for f in _frames(exc))


def _dataset_of(exc: BaseException):
    """The dataset being fetched from, read off the fetcher's frame."""
    for frame in _frames(exc):
        owner = frame.f_locals.get("self")
        dataset = getattr(owner, "dataset", None)
        if dataset is not None and hasattr(type(dataset), "__getitem__"):
            return dataset
    return None
