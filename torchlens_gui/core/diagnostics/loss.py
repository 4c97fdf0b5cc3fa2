"""Loss-function checks, made just before torch runs the loss (inside the op watch).

- ``label-out-of-range``: class labels outside [0, C) for cross_entropy / nll_loss. Checked
  before the call, because on CUDA torch only reports an asynchronous device assert later, at
  the wrong line.
- ``loss-shape-mismatch``: output and target batch sizes differ (torch raises), or an
  element-wise loss silently broadcasts ([10, 1] against [10]: torch only warns).
- ``softmax-before-cross-entropy``: probabilities (or log-probabilities) where logits are
  expected, recognised by where the tensor came from (a softmax the watch saw) or by its values
  (non-negative rows summing to one).
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
import weakref
from typing import Any, Callable, ContextManager, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..usercode.context import SessionContext
from ..recording.events import Diagnostic, Phase, shape_text
from . import codes
from .batch_trace import batch_change_cause, class_count_mismatch, rnn_batch_first
from .findings import DiagnosedError
from .op_watch import OpWatch, ProbabilityOrigin, WatchState
from .rule import Rule
from .sources import change_fix, short_location

CLASS_LOSSES = {F.cross_entropy: "cross_entropy", F.nll_loss: "nll_loss"}
ELEMENTWISE_LOSSES = {F.mse_loss: "mse_loss", F.l1_loss: "l1_loss",
                      F.smooth_l1_loss: "smooth_l1_loss", F.huber_loss: "huber_loss",
                      F.binary_cross_entropy: "binary_cross_entropy",
                      F.binary_cross_entropy_with_logits: "binary_cross_entropy_with_logits"}
WATCHED_LOSSES = frozenset(CLASS_LOSSES) | frozenset(ELEMENTWISE_LOSSES)

# torch's warning text for a broadcasting element-wise loss
BROADCAST_WARNING = re.compile(r"Using a target size \(torch\.Size\((\[.*?\])\)\) that is "
                               r"different to the input size \(torch\.Size\((\[.*?\])\)\)")


def labels_out_of_range(ctx: SessionContext, name: str, classes: int, target: torch.Tensor,
                        ignore: int, where: dict, maker: Optional[str]) -> Optional[Diagnostic]:
    """``label-out-of-range`` when ``target`` holds class labels outside [0, classes) (those
    equal to ``ignore`` left out); ``maker`` is the module that produced the output, if known."""
    valid = target[target != ignore]
    if valid.numel() == 0:
        return None
    lo, hi = (int(v) for v in torch.stack([valid.min(), valid.max()]).tolist())
    if lo >= 0 and hi < classes:
        return None
    bad = lo if lo < 0 else hi
    count = int(((valid < 0) | (valid >= classes)).sum())
    layer = ctx.module_at(maker)
    if isinstance(layer, nn.Linear) and bad >= 0:
        widen = change_fix(ctx, maker, layer, 1, "out_features", hi + 1)
    else:
        widen = f"make the output layer produce {hi + 1} classes"
    return Diagnostic(
        code=codes.LABEL_OUT_OF_RANGE, severity="error",
        message=f"{name} got label {bad} but the output has {classes} classes, so labels "
                f"must lie in [0, {classes - 1}] ({count} of {valid.numel()} labels are "
                f"outside; on CUDA this shows up as a device-side assert at a later line)",
        fix=f"Map the labels into 0..{classes - 1} (labels counted from 1 need `- 1`; "
            f"padding labels need ignore_index), or {widen} if there really are "
            f"{hi + 1} classes.",
        details=(("label", str(bad)), ("classes", str(classes))), **where)


def _bind(func: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {}
    bound.apply_defaults()
    return dict(bound.arguments)


class LossChecks(Rule):
    """Checks loss calls; keeps silent findings until the session's next call point.

    It owns the op watch of forward and loss (the exception explainer reads the failures the
    watch records in the shared state)."""

    name = "loss"
    reports = (codes.LOSS_SHAPE_MISMATCH, codes.LABEL_OUT_OF_RANGE,
               codes.SOFTMAX_BEFORE_CROSS_ENTROPY, codes.RNN_BATCH_FIRST)

    def __init__(self, state: WatchState) -> None:
        super().__init__(state)
        self.ctx: Optional[SessionContext] = None
        self.pending: list[Diagnostic] = []
        self.broadcast_reported = False
        self.rnn_checked = False

    def _bind(self, ctx: SessionContext) -> None:
        """Findings belong to one session's context; a new context starts afresh."""
        if self.ctx is not ctx:
            self.ctx, self.pending, self.broadcast_reported = ctx, [], False
            self.rnn_checked = False

    def take_pending(self) -> list[Diagnostic]:
        found, self.pending = self.pending, []
        return found

    # ---- events -------------------------------------------------------------------------------

    def phase_guard(self, phase: Phase, ctx: SessionContext) -> Optional[ContextManager[Any]]:
        if phase not in (Phase.FORWARD, Phase.LOSS):
            return None
        self._bind(ctx)
        return OpWatch(ctx, self.state, self.before_loss, WATCHED_LOSSES)

    def on_warning(self, ctx: SessionContext, warning: warnings.WarningMessage
                   ) -> list[Diagnostic]:
        self._bind(ctx)
        found = self.from_warning(str(warning.message), warning.filename, warning.lineno)
        return [found] if found is not None else []

    def after_forward(self, ctx: SessionContext) -> list[Diagnostic]:
        self._bind(ctx)
        return self.take_pending()

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> list[Diagnostic]:
        self._bind(ctx)
        return self.take_pending()

    def before_loss(self, func: Callable, args: tuple, kwargs: dict, watch: OpWatch) -> None:
        try:
            named = _bind(func, args, kwargs)
            output, target = named.get("input"), named.get("target")
            if not isinstance(output, torch.Tensor) or not isinstance(target, torch.Tensor):
                return
            module, call_index, file, line = watch.where()
            where = dict(phase=self.ctx.phase, module=module, call_index=call_index, file=file,
                         line=line)
            if func in CLASS_LOSSES:
                self._check_class_loss(CLASS_LOSSES[func], output, target, named, where, watch)
            else:
                self._check_elementwise(ELEMENTWISE_LOSSES[func], output, target, where, watch)
            if target.dim() and not self.rnn_checked:  # it ran: an RNN may still read it wrong
                self.rnn_checked = True
                self.pending += rnn_batch_first(self.ctx, int(target.shape[0]))
        except DiagnosedError:
            raise
        except Exception:
            return  # a check that cannot run must not break the user's loss

    # ---- cross_entropy / nll_loss ---------------------------------------------------------

    def _check_class_loss(self, name: str, output: torch.Tensor, target: torch.Tensor,
                          named: dict, where: dict, watch: OpWatch) -> None:
        if target.is_floating_point() and output.dim():  # class probabilities as target
            wrong = class_count_mismatch(name, output, target, where)
            if wrong is not None:
                raise DiagnosedError(wrong)
        if target.is_floating_point() or output.dim() == 0:
            return
        classes = int(output.shape[1] if output.dim() >= 2 else output.shape[0])
        if output.dim() >= 2 and target.dim() >= 1 and output.shape[0] != target.shape[0]:
            cause = batch_change_cause(self.ctx, watch.state.reshapes, int(output.shape[0]),
                                       int(target.shape[0]),
                                       watch.state.maker_of(weakref.ref(output)), where)
            if cause is not None:
                raise DiagnosedError(cause)
            raise DiagnosedError(Diagnostic(
                code=codes.LOSS_SHAPE_MISMATCH, severity="error",
                message=f"{name} got output {shape_text(output.shape)} (batch "
                        f"{output.shape[0]}) but target {shape_text(target.shape)} (batch "
                        f"{target.shape[0]}): the model's batch and the labels' batch differ",
                fix="Give the model and the loss the same batch: build the labels from the same "
                    f"samples as the inputs ({output.shape[0]} of them), or slice both alike.",
                details=(("output", shape_text(output.shape)),
                         ("target", shape_text(target.shape))), **where))
        if target.device.type != "meta" and target.numel():
            maker = watch.state.maker_of(weakref.ref(output))
            self._check_labels(name, classes, target, int(named.get("ignore_index", -100)), where,
                               maker)
        self._check_probabilities(name, output, where, watch)

    def _check_labels(self, name: str, classes: int, target: torch.Tensor, ignore: int,
                      where: dict, maker: Optional[str]) -> None:
        found = labels_out_of_range(self.ctx, name, classes, target, ignore, where, maker)
        if found is not None:
            raise DiagnosedError(found)

    def _check_probabilities(self, name: str, output: torch.Tensor, where: dict,
                             watch: OpWatch) -> None:
        if not output.is_floating_point() or output.device.type == "meta" or output.dim() < 2:
            return
        origin = watch.state.origin_of(output)
        kind = origin.kind if origin else _value_kind(output)
        if kind is None or kind == "sigmoid":
            return
        if name == "cross_entropy":
            if kind == "softmax":
                self._report_softmax(name, origin, where, "warning",
                                     "cross_entropy applies log_softmax itself, so it got "
                                     "softmax twice: gradients shrink and the loss cannot go "
                                     "below a floor",
                                     "pass the raw logits (drop the softmax before the loss; "
                                     "keep softmax only for predictions)")
            elif kind == "log_softmax":
                self._report_softmax(name, origin, where, "info",
                                     "cross_entropy applies log_softmax itself; applying it "
                                     "first gives the same loss but does the work twice",
                                     "pass the raw logits, or use F.nll_loss on log-probabilities")
        elif name == "nll_loss" and kind == "softmax":
            self._report_softmax(name, origin, where, "warning",
                                 "nll_loss expects log-probabilities but got probabilities, so "
                                 "the loss is wrong (it rewards nothing below 1)",
                                 "use log_softmax instead of softmax before nll_loss, or pass "
                                 "logits to F.cross_entropy")

    def _report_softmax(self, name: str, origin: Optional[ProbabilityOrigin], where: dict,
                        severity: str, why: str, fix: str) -> None:
        made = origin.kind if origin else "a softmax"
        if origin is not None and origin.line is None and origin.module is not None:
            site = self.ctx.site_of(origin.module)  # an nn.Softmax layer: where it was built
            if site is not None:
                origin = ProbabilityOrigin(origin.kind, origin.module, site.file, site.line)
        at = short_location(origin.file, origin.line) if origin else ""
        if origin is not None and origin.line is not None:
            where = dict(where, file=origin.file, line=origin.line,
                         module=origin.module if origin.module is not None
                         else where.get("module"))
        self.pending.append(Diagnostic(
            code=codes.SOFTMAX_BEFORE_CROSS_ENTROPY, severity=severity,
            message=f"{name} got the output of {made}" + (f" at {at}" if at else "")
                    + f" instead of logits: {why}",
            fix=(f"At {at}: " if at else "") + fix + ".", **where))

    # ---- element-wise losses --------------------------------------------------------------

    def _check_elementwise(self, name: str, output: torch.Tensor, target: torch.Tensor,
                           where: dict, watch: OpWatch) -> None:
        if name == "binary_cross_entropy_with_logits":
            origin = watch.state.origin_of(output)
            if origin is not None and origin.kind == "sigmoid":
                self._report_softmax(name, origin, where, "warning",
                                     "binary_cross_entropy_with_logits applies sigmoid itself",
                                     "pass the raw logits (drop the sigmoid), or use "
                                     "F.binary_cross_entropy on probabilities")
        if output.shape == target.shape:
            return
        try:
            broadcast = torch.broadcast_shapes(output.shape, target.shape)
        except RuntimeError:
            raise DiagnosedError(Diagnostic(
                code=codes.LOSS_SHAPE_MISMATCH, severity="error",
                message=f"{name} got output {shape_text(output.shape)} and target "
                        f"{shape_text(target.shape)}: they cannot be compared element by "
                        "element" + _batch_note(output, target),
                fix="Make the target the same shape as the output (same batch, same "
                    "trailing dims).", details=(("output", shape_text(output.shape)),
                                                ("target", shape_text(target.shape))),
                **where)) from None
        self.broadcast_reported = True
        pairs = 1
        for d in broadcast:
            pairs *= int(d)
        self.pending.append(Diagnostic(
            code=codes.LOSS_SHAPE_MISMATCH, severity="warning",
            message=f"{name} compares output {shape_text(output.shape)} with target "
                    f"{shape_text(target.shape)}: torch broadcasts them to "
                    f"{shape_text(broadcast)}, so every output is compared with every target "
                    f"({pairs} pairs instead of {max(output.numel(), target.numel())}) and the "
                    "loss is silently wrong",
            fix=_broadcast_fix(output, target),
            details=(("output", shape_text(output.shape)), ("target", shape_text(target.shape))),
            **where))

    def from_warning(self, message: str, file: Optional[str], line: Optional[int]
                     ) -> Optional[Diagnostic]:
        """torch's own broadcasting warning, for losses the watch did not see called."""
        match = BROADCAST_WARNING.search(message)
        if match is None or self.broadcast_reported:
            return None
        self.broadcast_reported = True
        target, output = match.group(1), match.group(2)
        return Diagnostic(
            code=codes.LOSS_SHAPE_MISMATCH, severity="warning", phase=self.ctx.phase,
            message=f"The loss compares output {output} with target {target}: torch "
                    "broadcasts them, so every output is compared with every target and the "
                    "loss is silently wrong",
            fix="Make output and target the same shape (squeeze the output's trailing 1 or "
                "unsqueeze the target).", file=file, line=line)


def _value_kind(t: torch.Tensor) -> Optional[str]:
    """"softmax" when the rows are probabilities, "log_softmax" when they are log-probabilities,
    None for logits. Rows are along dim 1 (the class dim of the losses)."""
    with torch.no_grad(), warnings.catch_warnings():
        x = t.detach().float()
        if x.numel() == 0:
            return None
        # One pass for the extremes (NaN and Inf show in them) instead of a bool tensor per
        # test: logits, the common case, have both signs and stop here.
        lo, hi = (float(v) for v in torch.aminmax(x))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        if lo >= 0 and bool(((x.sum(dim=1) - 1).abs() < 1e-3).all()):
            return "softmax"
        if hi <= 0 and bool((torch.logsumexp(x, dim=1).abs() < 1e-3).all()):
            return "log_softmax"
    return None


def _batch_note(output: torch.Tensor, target: torch.Tensor) -> str:
    if output.dim() and target.dim() and output.shape[0] != target.shape[0]:
        return f" (batch {output.shape[0]} against {target.shape[0]})"
    return ""


def _broadcast_fix(output: torch.Tensor, target: torch.Tensor) -> str:
    if output.dim() == target.dim() + 1 and output.shape[-1] == 1:
        return ("Squeeze the output's trailing dimension: loss(output.squeeze(-1), target), or "
                "give the target the output's shape with target.unsqueeze(-1).")
    if target.dim() == output.dim() + 1 and target.shape[-1] == 1:
        return "Squeeze the target's trailing dimension: target.squeeze(-1)."
    return (f"Make the target the same shape as the output ({shape_text(output.shape)}), for "
            f"example target.view_as(output) if they hold the same number of values.")
