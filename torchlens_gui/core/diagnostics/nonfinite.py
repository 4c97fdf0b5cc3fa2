"""``non-finite`` in forward and loss: where NaN or Inf is born, not where it is passed along.

Forward: the first module call whose inputs held no NaN (and no unintended Inf) and whose output
does, and no module inside it already did. That module is re-run op by op (op_trace) to name the
op and the user-file line: a division by a zero sum, a log of zero, the softmax of a fully masked
row, a float16 overflow. An Inf written on purpose (an attention mask) is not reported; the NaN
the softmax then makes of a fully masked row is.

Loss: a non-finite loss from a finite model output, traced while the loss runs.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch

from ..usercode.context import ActiveCall, SessionContext
from ..recording.events import Diagnostic, Phase, TensorSummary
from ..recording.structures import tensors
from . import codes
from .findings import count_text, listing, number
from .op_trace import PLUS_INF_HINT, NonFiniteTracer, OpEvent, TraceResult, rerun_traced
from .op_watch import WatchState
from .rule import Rule
from .sources import described, function_return_line, short_location

_DIVISIONS = {"__truediv__", "__rtruediv__", "div", "true_divide", "__itruediv__", "div_",
              "divide"}
_LOGS = {"log", "log2", "log10", "log_", "log1p"}
_SOFTMAXES = {"softmax", "log_softmax", "scaled_dot_product_attention"}
_LOW_PRECISION = {torch.float16, torch.bfloat16}


def _denominator(func: Callable, args: tuple, kwargs: dict) -> Any:
    name = getattr(func, "__name__", "")
    if name == "__rtruediv__":
        return args[0] if args else None
    return args[1] if len(args) > 1 else kwargs.get("other")


def op_hint(func: Callable, args: tuple, kwargs: dict, kind: str) -> str:
    """What about an op's inputs explains the NaN/Inf it made (empty when nothing specific)."""
    name = getattr(func, "__name__", "")
    if name in _DIVISIONS:
        d = _denominator(func, args, kwargs)
        if isinstance(d, torch.Tensor):
            zeros = int((d == 0).sum())
            if zeros:
                return f"the denominator has {count_text(zeros, 'zero')} " \
                       f"(0/0 gives NaN, x/0 gives Inf)"
        elif d == 0:
            return "it divides by the constant 0"
    if name in _LOGS and args and isinstance(args[0], torch.Tensor):
        x = args[0]
        zeros, negatives = int((x == 0).sum()), int((x < 0).sum())
        parts = []
        if zeros:
            parts.append(f"{count_text(zeros, 'zero')} (log 0 = -inf)")
        if negatives:
            parts.append(f"{count_text(negatives, 'negative value')} (log of x<0 is NaN)")
        return "its input has " + " and ".join(parts) if parts else ""
    if name == "sqrt" and args and isinstance(args[0], torch.Tensor):
        negatives = int((args[0] < 0).sum())
        return f"its input has {count_text(negatives, 'negative value')}" if negatives else ""
    if name in _SOFTMAXES and args and isinstance(args[0], torch.Tensor):
        return _masked_rows_hint(args, kwargs)
    if kind == "inf" and args:
        dtype = next((t.dtype for t in tensors((args, kwargs)) if t.is_floating_point()), None)
        if dtype in _LOW_PRECISION:
            return f"the result exceeds the largest {str(dtype).replace('torch.', '')} " \
                   f"({number(torch.finfo(dtype).max)})"
        if name in ("exp", "exp_", "pow", "__pow__"):
            return f"the result exceeds the largest {str(dtype).replace('torch.', '')}"
    return ""


def _masked_rows_hint(args: tuple, kwargs: dict) -> str:
    x = args[0]
    dim = kwargs.get("dim", args[1] if len(args) > 1 and isinstance(args[1], int) else -1)
    if not isinstance(dim, int) or not x.is_floating_point():
        return ""
    masked = torch.isneginf(x).all(dim=dim)
    rows = int(masked.sum())
    if rows:
        return f"{count_text(rows, 'row')} of {masked.numel()} are entirely -inf (fully " \
               "masked): softmax of a row with nothing left is 0/0"
    return ""


def _fix_for(event: OpEvent) -> str:
    name = getattr(event.func, "__name__", "")
    at = f" at {short_location(event.file, event.line)}" if event.line else ""
    if name in _DIVISIONS:
        return f"Guard the denominator{at}: divide by (d + 1e-8) or d.clamp_min(1e-8), or skip " \
               "rows whose sum is zero."
    if name in _LOGS:
        return f"Keep the log's input positive{at}: torch.log(x.clamp_min(1e-8)), or compute " \
               "in log space (F.log_softmax, torch.logsumexp) instead of log(softmax)."
    if name == "sqrt":
        return f"Clamp before the square root{at}: torch.sqrt(x.clamp_min(0) + 1e-8)."
    if name in _SOFTMAXES:
        return f"Make sure every row keeps at least one unmasked position before the softmax" \
               f"{at}, or fill with torch.finfo(x.dtype).min instead of -inf, or zero the " \
               "fully masked rows afterwards (torch.nan_to_num(p, nan=0.0))."
    if event.hint == PLUS_INF_HINT:
        return f"Fill with float('-inf') (or torch.finfo(x.dtype).min){at}, not +inf."
    if event.dtype in _LOW_PRECISION:
        return f"Compute this op in float32{at} (x.float(), or torch.autocast which keeps " \
               "reductions and exponentials in float32), or scale the values down first."
    return f"Check the values going into {event.op}{at} (step to the module and look at the " \
           "NaN/Inf panel)."


class NonFiniteDetector(Rule):
    """Where NaN/Inf is born in forward and in the loss. Per-session state: which calls already
    contain a reported (or passed-along) birth."""

    name = "non-finite"
    reports = (codes.NON_FINITE,)

    def __init__(self, state: WatchState) -> None:
        super().__init__(state)
        self._inside_birth: set[int] = set()  # id(ActiveCall) of calls a birth happened inside
        self.reported_forward = False
        self.unintended_inf_reported = False
        self.intended_inf_seen = False  # a module wrote -inf on purpose (a mask)
        self.loss_tracer: Optional[NonFiniteTracer] = None

    def _mark_parent(self, ctx: SessionContext) -> None:
        if ctx.stack:
            self._inside_birth.add(id(ctx.stack[-1]))

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> Iterable[Diagnostic]:
        child_birth = id(call) in self._inside_birth
        self._inside_birth.discard(id(call))  # ids of finished calls may be reused
        out_nan = any(s.nan for s in outputs)
        out_inf = any(s.inf for s in outputs)
        if ctx.dry_run or not (out_nan or out_inf):
            return ()
        in_nan = any(s.nan for s in inputs)
        in_inf = any(s.inf for s in inputs)
        if child_birth or (in_nan and self.reported_forward) or (
                in_inf and self.unintended_inf_reported):
            self._mark_parent(ctx)  # passed along from a birth already reported
            return ()
        if in_nan or (in_inf and not self.intended_inf_seen):
            # Born outside any module we saw: in an op of a caller's forward. The caller, whose
            # inputs were finite, is traced when it returns.
            return ()
        if in_inf and not out_nan:
            self._mark_parent(ctx)  # an intended Inf (a mask) passed along
            return ()
        trace = rerun_traced(ctx, call.module, args, kwargs, op_hint)
        event = trace.culprit()
        if event is None and not out_nan and trace.intended_infs:
            self.intended_inf_seen = True
            return ()  # only an Inf written on purpose (a mask): not a problem by itself
        self._mark_parent(ctx)
        self.reported_forward = True
        if event is not None and event.kind == "inf":
            self.unintended_inf_reported = True
        return (self._diagnostic(ctx, call, outputs, trace, event),)

    def _diagnostic(self, ctx: SessionContext, call: ActiveCall,
                    outputs: tuple[TensorSummary, ...], trace: TraceResult,
                    event: Optional[OpEvent]) -> Diagnostic:
        nan = sum(s.nan for s in outputs)
        inf = sum(s.inf for s in outputs)
        total = sum(s.numel for s in outputs)
        counts = listing([x for x in (f"{nan} NaN" if nan else "", f"{inf} Inf" if inf else "")
                          if x])
        who = described(ctx, call.path, call.module)
        if event is None:
            return self._module_level(ctx, call, who, counts, total)
        what = "NaN" if event.kind == "nan" else "Inf"
        at = short_location(event.file, event.line)
        message = f"{what} is born in {who}: {event.op}" + (f" at {at}" if at else "") + \
            (" makes NaN from inputs without NaN" if what == "NaN" else
             " turns finite values into Inf") + (f": {event.hint}" if event.hint else "") + \
            f". The module's output has {counts} of {total} values."
        masks = [e for e in trace.intended_infs if e.line]
        if event.kind == "nan" and masks:
            mask = masks[0]
            message += f" The -inf written by {mask.op} at " \
                       f"{short_location(mask.file, mask.line)} is intended (a mask); the NaN " \
                       f"comes from {event.op}."
        site = ctx.site_of(call.path)
        file = event.file or (site.file if site else None)
        line = event.line or (site.line if site else None)
        return Diagnostic(code=codes.NON_FINITE, severity="error", phase=Phase.FORWARD, message=message,
                          module=call.path, call_index=call.call_index, file=file, line=line,
                          fix=_fix_for(event), details=(("op", event.op), ("kind", what)))

    def _module_level(self, ctx: SessionContext, call: ActiveCall, who: str, counts: str,
                      total: int) -> Diagnostic:
        """No single op explains it (or the re-run did not reproduce it): name the module, and
        its parameters when they are the non-finite part."""
        bad = [name for name, p in call.module.named_parameters(recurse=False)
               if p.is_floating_point() and not bool(torch.isfinite(p).all())]
        site = ctx.site_of(call.path)
        if bad:
            plural = len(bad) > 1
            message = f"NaN/Inf comes out of {who} from finite inputs because its " \
                      f"parameter{'s' if plural else ''} {listing(bad)} " \
                      f"{'are' if plural else 'is'} not finite ({counts} of {total} output " \
                      "values)."
            fix = "Re-initialise those parameters; look for an earlier training step or a " \
                  "checkpoint that wrote NaN into them."
        else:
            message = f"NaN/Inf is born in {who}: its inputs were finite and its output has " \
                      f"{counts} of {total} values."
            fix = "Step into the module (F11) and watch the NaN/Inf panel op by op."
        return Diagnostic(code=codes.NON_FINITE, severity="error", phase=Phase.FORWARD, message=message,
                          module=call.path, call_index=call.call_index,
                          file=site.file if site else ctx.user_file,
                          line=site.line if site else None, fix=fix)

    # ---- inputs and loss ---------------------------------------------------------------------

    def after_forward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        """NaN/Inf already in the model's inputs (example_inputs), before any module."""
        calls = ctx.record.calls_of("")
        if self.reported_forward or not calls or not calls[0].input_nonfinite:
            return ()
        bad = [f"input {s.name}".strip() + f" ({s.nan} NaN, {s.inf} Inf)"
               for s in calls[0].inputs if not s.finite]
        return (Diagnostic(
            code=codes.NON_FINITE, severity="error", phase=Phase.FORWARD,
            message=f"The model's inputs already contain NaN/Inf: {listing(bad)}. Nothing in "
                    "the model made them.", module="", file=ctx.user_file,
            line=function_return_line(ctx.user_file, "example_inputs"),
            fix="Clean the data in example_inputs() (torch.nan_to_num, or drop the bad rows)."),)

    def phase_guard(self, phase: Phase, ctx: SessionContext) -> Optional[NonFiniteTracer]:
        """The loss's ops are traced, so a non-finite loss from finite outputs names its op."""
        if phase != Phase.LOSS or ctx.dry_run:
            return None
        self.loss_tracer = NonFiniteTracer(ctx, op_hint, terms=True)
        ctx.loss_trace = self.loss_tracer.result  # its terms, for the step tracker
        return self.loss_tracer

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> Iterable[Diagnostic]:
        if ctx.dry_run or not isinstance(loss_value, torch.Tensor):
            return ()
        if bool(torch.isfinite(loss_value.detach()).all()):
            return ()
        if any(not bool(torch.isfinite(t.detach()).all()) for t in tensors(output)
               if t.is_floating_point()):
            return ()  # the output was already non-finite: reported in forward
        event = self.loss_tracer.result.culprit() if self.loss_tracer else None
        return (loss_nonfinite(ctx, float(loss_value.detach().float().reshape(-1)[0]), event),)


def loss_nonfinite(ctx: SessionContext, loss: float, event: Optional[OpEvent]) -> Diagnostic:
    """A non-finite loss from a finite model output, at the op of the loss that made it."""
    value = number(loss)
    if event is None:
        return Diagnostic(
            code=codes.NON_FINITE, severity="error", phase=Phase.LOSS,
            message=f"The loss is {value} although the model's output is finite.",
            file=ctx.user_file, fix="Check loss(output) step by step.")
    at = short_location(event.file, event.line)
    return Diagnostic(
        code=codes.NON_FINITE, severity="error", phase=Phase.LOSS,
        message=f"The loss is {value} although the model's output is finite: {event.op}"
                + (f" at {at}" if at else "") + " makes it non-finite"
                + (f": {event.hint}" if event.hint else "") + ".",
        file=event.file or ctx.user_file, line=event.line, fix=_fix_for(event),
        details=(("op", event.op),))
