"""A cross-entropy written by hand that multiplies log-probabilities by class indices.

``-(torch.log(F.softmax(logits, 1)) * target).sum()`` with ``target`` holding class indices
runs without an error or a warning: broadcasting lines the [N] labels up with the C classes and
scales log-probabilities by label values instead of picking each row's label column. The loss
is a number, it even goes down, and the model learns nothing sensible.

:class:`LossLogicWatch` runs during the loss phase only (a few ops, so a TorchFunctionMode costs
nothing that matters) and looks at each multiplication before it runs. Log-probabilities are
recognised by the autograd node that made them (``log_softmax``, or ``log`` of a softmax),
wherever that was; the op watch's record of probability origins says whether the model's
forward made them. A product of those with an index-valued tensor that is not one-hot shaped
is reported.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import torch
from torch.overrides import TorchFunctionMode

from ..usercode.context import SessionContext
from ..recording.events import Diagnostic, Phase, shape_text
from ..statistics.stats import dtype_name
from ..usercode.user_frames import caller_user_frame
from . import codes
from .op_watch import WatchState
from .rule import Rule
from .sources import short_location

_MUL = {torch.mul, torch.Tensor.mul, torch.Tensor.__mul__, torch.Tensor.__rmul__}
_SOFTMAX_NODE = "SoftmaxBackward0"
_LOG_SOFTMAX_NODE = "LogSoftmaxBackward0"
_LOG_NODE = "LogBackward0"
_DisableTorchFunction = torch._C.DisableTorchFunction

class LossLogicWatch(TorchFunctionMode):
    """Watches the loss phase for log-probabilities multiplied by class indices."""

    def __init__(self, ctx: SessionContext, state: WatchState) -> None:
        super().__init__()
        self.ctx = ctx
        self.state = state
        self.found: list[Diagnostic] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:  # before the call: a product that broadcasts badly may also raise
            if func in _MUL and len(args) >= 2 and not self.found:
                with _DisableTorchFunction():  # our reads are not the user's ops
                    self._check_product(args[0], args[1])
        except Exception:
            pass  # a check that cannot run must not break the user's loss
        return func(*args, **kwargs)

    def _log_prob_kind(self, t: Any) -> Optional[str]:
        """How ``t`` came to hold log-probabilities, or None when it does not."""
        if not isinstance(t, torch.Tensor):
            return None
        node = t.grad_fn
        if _node_name(node) == _LOG_SOFTMAX_NODE:
            origin = self.state.origin_of(t)
            return "log_softmax in the model" if origin is not None and \
                origin.module is not None else "log_softmax"
        if _node_name(node) == _LOG_NODE and any(
                _node_name(parent) == _SOFTMAX_NODE for parent, _ in node.next_functions):
            return "log of a softmax"
        return None

    # ---- the check --------------------------------------------------------------------------

    def _check_product(self, a: Any, b: Any) -> None:
        for log_probs, other in ((a, b), (b, a)):
            kind = self._log_prob_kind(log_probs)
            if kind is not None and _looks_like_class_indices(other, log_probs):
                self.found.append(self._diagnostic(log_probs, other, kind))
                return

    def _diagnostic(self, log_probs: torch.Tensor, labels: torch.Tensor, kind: str
                    ) -> Diagnostic:
        where = caller_user_frame(self.ctx.user_file)
        file, line = where if where else (self.ctx.user_file, None)
        at = short_location(file, line)
        classes = int(log_probs.shape[-1])
        return Diagnostic(
            code=codes.HAND_WRITTEN_CROSS_ENTROPY, severity="warning", phase=Phase.LOSS, file=file, line=line,
            message=(f"The loss multiplies log-probabilities {shape_text(log_probs.shape)} "
                     f"({kind}) by class indices {shape_text(labels.shape)} ({dtype_name(labels.dtype)})"
                     + (f" at {at}" if at else "") + ": broadcasting scales log-probabilities by "
                     "label values instead of picking each row's label, so the loss runs but "
                     "measures nothing useful."),
            fix=(f"Use F.cross_entropy(logits, target) on the raw logits (it applies "
                 f"log_softmax and picks the label column), or multiply by "
                 f"F.one_hot(target, {classes})"
                 + ("; and prefer F.log_softmax to torch.log(F.softmax(...)), which underflows "
                    "to -inf." if kind == "log of a softmax" else ".")),
            details=(("log-probabilities", shape_text(log_probs.shape)),
                     ("labels", shape_text(labels.shape))))

class HandWrittenCrossEntropy(Rule):
    """The rule: a :class:`LossLogicWatch` around the loss, its finding reported with it."""

    name = "loss logic"
    reports = (codes.HAND_WRITTEN_CROSS_ENTROPY,)

    def __init__(self, state: WatchState) -> None:
        super().__init__(state)
        self.watch: Optional[LossLogicWatch] = None

    def phase_guard(self, phase: Phase, ctx: SessionContext) -> Optional[LossLogicWatch]:
        if phase != Phase.LOSS or ctx.dry_run:
            return None
        self.watch = LossLogicWatch(ctx, self.state)
        return self.watch

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> Iterable[Diagnostic]:
        return self.watch.found if self.watch is not None else ()

def _looks_like_class_indices(t: Any, log_probs: torch.Tensor) -> bool:
    """An integer-valued tensor that is not shaped like the log-probabilities it multiplies
    (a one-hot or soft target has their shape; labels have one value per row)."""
    if not isinstance(t, torch.Tensor) or t.dim() == 0 or log_probs.dim() < 2:
        return False
    if tuple(t.shape) == tuple(log_probs.shape) or t.numel() == 0 or t.is_meta:
        return False
    if t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        return True
    if t.is_floating_point() and t.dim() < log_probs.dim():
        with torch.no_grad():
            values = t.detach()
            return bool(((values == values.round()) & (values >= 0)).all())
    return False

def _node_name(node: Any) -> str:
    return type(node).__name__ if node is not None else ""
