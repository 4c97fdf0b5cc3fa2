"""Script mode's class-label check: labels out of range are found before torch runs
cross_entropy or nll_loss, at every step.

Model files run their loss under the loss rule's op watch (a torch function mode over every op);
a script has no loss phase, and its light steps no op watch. So while a script runs, the two
class losses of ``torch.nn.functional`` (which ``nn.CrossEntropyLoss`` and ``nn.NLLLoss`` call)
are wrapped: one min/max of the labels per call. On CUDA that read is what turns torch's
asynchronous device assert, reported later at another line, into a diagnostic at the script's
loss line.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F

from ..diagnostics.findings import DiagnosedError
from ..diagnostics.loss import _bind, labels_out_of_range
from ..recording.events import Phase
from ..usercode.context import SessionContext
from ..usercode.user_frames import caller_user_frame

CHECKED = ("cross_entropy", "nll_loss")


@contextlib.contextmanager
def checking_class_labels(ctx: SessionContext) -> Iterator[None]:
    """Within the block, cross_entropy / nll_loss called on this thread raise DiagnosedError
    (``label-out-of-range``) instead of running on labels outside [0, classes)."""
    thread = threading.get_ident()
    originals = {name: getattr(F, name) for name in CHECKED}

    def wrap(name: str, original: Callable) -> Callable:
        @functools.wraps(original)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == thread:
                _check(ctx, name, original, args, kwargs)
            return original(*args, **kwargs)

        return checked

    for name, original in originals.items():
        setattr(F, name, wrap(name, original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(F, name, original)


def _check(ctx: SessionContext, name: str, original: Callable, args: tuple, kwargs: dict
           ) -> None:
    try:
        named = _bind(original, args, kwargs)
        output, target = named.get("input"), named.get("target")
        if not isinstance(output, torch.Tensor) or not isinstance(target, torch.Tensor) or \
                target.is_floating_point() or output.dim() == 0 or not target.numel() or \
                target.device.type == "meta":
            return
        if output.dim() >= 2 and target.dim() >= 1 and output.shape[0] != target.shape[0]:
            return  # a batch mismatch: torch says so itself
        classes = int(output.shape[1] if output.dim() >= 2 else output.shape[0])
        call = ctx.stack[-1] if ctx.stack else None  # nn.CrossEntropyLoss() called at top level
        found = caller_user_frame(ctx.user_file, skip=3)
        where = dict(phase=Phase.LOSS, module=call.path if call else None,
                     call_index=call.call_index if call else None,
                     file=found[0] if found else None, line=found[1] if found else None)
        diagnostic = labels_out_of_range(ctx, name, classes, target,
                                         int(named.get("ignore_index", -100)), where, None)
    except Exception:
        return  # a check that cannot run must not break the script's loss
    if diagnostic is not None:
        raise DiagnosedError(diagnostic)
