"""A cross-entropy written by hand that multiplies log-probabilities by class indices.

``-(torch.log(F.softmax(logits, 1)) * target).sum()`` with ``target`` holding class indices
runs without an error or a warning: broadcasting lines the [N] labels up with the C classes and
scales log-probabilities by label values instead of picking each row's label column. The loss
is a number, it even goes down, and the model learns nothing sensible.

:class:`LossLogicWatch` runs during the loss phase only (a few ops, so a TorchFunctionMode costs
nothing that matters). It remembers which tensors hold log-probabilities (``log_softmax``, or
``log`` of a softmax made here or in the model's forward) and reports a multiplication of one
by an index-valued tensor that is not one-hot shaped.
"""

from __future__ import annotations

import weakref
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from ..context import SessionContext
from ..events import Diagnostic
from ..user_frames import caller_user_frame
from .findings import shape_text
from .sources import short_location

CODE = "hand-written-cross-entropy"

_SOFTMAX = {F.softmax, torch.softmax, torch.Tensor.softmax}
_LOG_SOFTMAX = {F.log_softmax, torch.log_softmax, torch.Tensor.log_softmax}
_LOG = {torch.log, torch.Tensor.log}
_MUL = {torch.mul, torch.Tensor.mul, torch.Tensor.__mul__, torch.Tensor.__rmul__}
# Made in the model's forward (no watch there): recognised by the autograd node that made them.
_SOFTMAX_NODE = "SoftmaxBackward0"
_LOG_SOFTMAX_NODE = "LogSoftmaxBackward0"
_LOG_NODE = "LogBackward0"


class LossLogicWatch(TorchFunctionMode):
    """Watches the loss phase for log-probabilities multiplied by class indices."""

    def __init__(self, ctx: SessionContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._softmax: dict[int, Any] = {}  # id -> weakref of softmax outputs made in the loss
        self._log_probs: dict[int, tuple[Any, str]] = {}  # id -> (weakref, how it was made)
        self.found: list[Diagnostic] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:  # before the call: a product that broadcasts badly may also raise
            if func in _MUL and len(args) >= 2 and not self.found:
                self._check_product(args[0], args[1])
        except Exception:
            pass  # a check that cannot run must not break the user's loss
        result = func(*args, **kwargs)
        try:
            if func in _SOFTMAX:
                self._remember(self._softmax, result, None)
            elif func in _LOG_SOFTMAX:
                self._remember(self._log_probs, result, "log_softmax")
            elif func in _LOG and args and self._is_probability(args[0]):
                self._remember(self._log_probs, result, "log of a softmax")
        except Exception:
            pass
        return result

    # ---- bookkeeping ------------------------------------------------------------------------

    @staticmethod
    def _remember(table: dict, t: Any, how: Optional[str]) -> None:
        if isinstance(t, torch.Tensor):
            table[id(t)] = weakref.ref(t) if how is None else (weakref.ref(t), how)

    def _is_probability(self, t: Any) -> bool:
        if not isinstance(t, torch.Tensor):
            return False
        ref = self._softmax.get(id(t))
        if ref is not None and ref() is t:
            return True
        return _node_name(t.grad_fn) == _SOFTMAX_NODE

    def _log_prob_kind(self, t: Any) -> Optional[str]:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self._log_probs.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        node = t.grad_fn
        if _node_name(node) == _LOG_SOFTMAX_NODE:
            return "log_softmax in the model"
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
            code=CODE, severity="warning", phase="loss", file=file, line=line,
            message=(f"The loss multiplies log-probabilities {shape_text(log_probs.shape)} "
                     f"({kind}) by class indices {shape_text(labels.shape)} ({_dtype(labels)})"
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


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).replace("torch.", "")
