"""Mixed precision's GradScaler, seen by the step tracker.

``scaler.scale(loss).backward()`` starts backward from the loss times the scale (65,536 at
first): the step's loss is the unscaled one the script computed. ``scaler.step(optimizer)``
skips the optimizer's step when the scaled gradients overflowed (normal while the scale
settles, at the start of a run): the iteration still ends there, and those Inf gradients are
the scaler's business, not a problem to report. While a session runs, GradScaler.scale and
GradScaler.step are wrapped (the class's attributes, restored afterwards); calls from other
threads pass straight through.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Optional

import torch


class GradScalerWatch:
    """Wraps GradScaler.scale/step for the session thread and tells the tracker."""

    def __init__(self, on_scaled: Callable[[Any, Any], None],
                 on_skipped: Callable[[torch.optim.Optimizer], None],
                 steps_done: Callable[[], int]) -> None:
        self._on_scaled = on_scaled
        self._on_skipped = on_skipped
        self._steps_done = steps_done
        self._thread = threading.get_ident()
        self._saved: Optional[tuple[Any, Any]] = None

    def install(self) -> None:
        try:
            from torch.amp.grad_scaler import GradScaler
        except ImportError:  # (a torch without it)
            return
        original_scale, original_step = GradScaler.scale, GradScaler.step
        self._saved = (original_scale, original_step)
        watch = weakref.ref(self)

        def scale(scaler, outputs):
            result = original_scale(scaler, outputs)
            me = watch()
            if me is not None and threading.get_ident() == me._thread:
                me._on_scaled(result, outputs)
            return result

        def step(scaler, optimizer, *args, **kwargs):
            me = watch()
            if me is None or threading.get_ident() != me._thread:
                return original_step(scaler, optimizer, *args, **kwargs)
            before = me._steps_done()
            result = original_step(scaler, optimizer, *args, **kwargs)
            if me._steps_done() == before:  # the optimizer's step did not run: skipped
                me._on_skipped(optimizer)
            return result

        scale.__wrapped__, step.__wrapped__ = original_scale, original_step
        GradScaler.scale, GradScaler.step = scale, step

    def remove(self) -> None:
        if self._saved is None:
            return
        from torch.amp.grad_scaler import GradScaler

        GradScaler.scale, GradScaler.step = self._saved
        self._saved = None
