"""Trace ops one by one to find the first that turned finite values into NaN or Inf.

Used on demand: a module whose inputs were finite produced a non-finite output, so it is re-run
(hooks suspended, no grad, its buffers restored afterwards, the global RNG untouched) under
:class:`NonFiniteTracer`, which checks every op's tensor inputs and outputs. The loss phase runs
under the tracer directly (it is small).

NaN and Inf are told apart: a -inf written on purpose (``masked_fill(mask, float('-inf'))``,
``torch.full(..., -inf)``) is *intended*; a +inf written the same way is not (a sign slip); the softmax of a fully masked row, which turns those
-inf into NaN, is the op to report.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from ..usercode.context import SessionContext
from ..recording.structures import iter_leaves, map_tensors
from ..usercode.user_frames import caller_user_frame
from .op_watch import op_name


@dataclass
class OpEvent:
    """One op that introduced non-finite values."""

    op: str
    func: Callable
    kind: str  # "nan" | "inf"
    intended: bool  # the op wrote +-inf given as an argument (a mask)
    module: Optional[str]
    file: Optional[str]
    line: Optional[int]
    dtype: Optional[torch.dtype]
    hint: str = ""  # what about the inputs explains it ("3 zeros in the denominator")


@dataclass(frozen=True)
class LossTerm:
    """A scalar that takes part in autograd, made in the loss: one term of a total loss."""

    op: str
    file: Optional[str]
    line: Optional[int]
    value: Any  # the detached 1-element tensor (read once per step, with the others)


# Ops that add terms up: their results are partial sums, not terms.
_SUMS = {"x + y", "x - y", "+=", "-=", "torch.add", "torch.sub", "Tensor.add", "Tensor.sub",
         "Tensor.add_", "Tensor.sub_", "x += y", "x -= y"}


@dataclass
class TraceResult:
    events: list[OpEvent] = field(default_factory=list)
    terms: list[LossTerm] = field(default_factory=list)  # kept when tracing a loss

    @property
    def first_nan(self) -> Optional[OpEvent]:
        return next((e for e in self.events if e.kind == "nan"), None)

    @property
    def first_unintended_inf(self) -> Optional[OpEvent]:
        return next((e for e in self.events if e.kind == "inf" and not e.intended), None)

    @property
    def intended_infs(self) -> list[OpEvent]:
        return [e for e in self.events if e.kind == "inf" and e.intended]

    def culprit(self) -> Optional[OpEvent]:
        """The op to report: an unintended Inf that came before the first NaN (the NaN is then
        its consequence), else the first NaN, else the first unintended Inf."""
        nan, inf = self.first_nan, self.first_unintended_inf
        if inf is not None and (nan is None or self.events.index(inf) < self.events.index(nan)):
            return inf
        return nan


def _floats(value: Any) -> list[torch.Tensor]:
    return [leaf for _, leaf in iter_leaves(value)
            if isinstance(leaf, torch.Tensor) and leaf.is_floating_point()
            and leaf.device.type != "meta" and leaf.numel()]


def _flags(ts: list[torch.Tensor]) -> tuple[bool, bool]:
    """(any NaN, any Inf) over tensors, with one host sync."""
    if not ts:
        return False, False
    with torch.no_grad():
        parts = [torch.stack([torch.isnan(t).any(), torch.isinf(t).any()]) for t in ts]
        nan, inf = torch.stack(parts).any(dim=0).tolist()
    return bool(nan), bool(inf)


def _infinity_written(args: tuple, kwargs: dict) -> int:
    """-1 or +1 for an op given -inf or +inf as an argument (masked_fill's value, full's fill
    value), else 0."""
    for _, leaf in iter_leaves((args, kwargs)):
        if isinstance(leaf, float) and math.isinf(leaf):
            return -1 if leaf < 0 else 1
        if isinstance(leaf, torch.Tensor) and leaf.dim() == 0 and leaf.is_floating_point() \
                and leaf.device.type != "meta" and bool(torch.isinf(leaf)):
            return -1 if float(leaf) < 0 else 1
    return 0


PLUS_INF_HINT = ("its fill value is +inf, not -inf (-float('-inf') is +inf), so the masked "
                 "positions get the largest score instead of the smallest")


class NonFiniteTracer(TorchFunctionMode):
    """Checks each torch op; records the ops that introduced NaN or Inf (first 16)."""

    MAX_EVENTS = 16
    MAX_TERMS = 64

    def __init__(self, ctx: SessionContext, hint: Callable[[Callable, tuple, dict, str], str],
                 terms: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.hint = hint
        self.result = TraceResult()
        self.done = False  # after the first NaN nothing more is learned
        self.keep_terms = terms  # a loss: keep its scalar terms (which one exploded)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if self.keep_terms and isinstance(result, torch.Tensor) and result.requires_grad \
                and result.numel() == 1 and len(self.result.terms) < self.MAX_TERMS:
            self._note_term(func, result)
        if not self.done:
            try:
                self._check(func, args, kwargs, result)
            except Exception:
                self.done = True  # a check that fails stops checking, never the user's code
        return result

    def _check(self, func, args, kwargs, result) -> None:
        outs = _floats(result)
        if not outs:
            return
        out_nan, out_inf = _flags(outs)
        if not (out_nan or out_inf):
            return
        in_nan, in_inf = _flags(_floats((args, kwargs)))
        kind = None
        if out_nan and not in_nan:
            kind = "nan"
        elif out_inf and not (in_nan or in_inf):
            kind = "inf"
        if kind is None:
            return
        found = caller_user_frame(self.ctx.user_file)
        file, line = found if found else (None, None)
        call = self.ctx.current
        written = _infinity_written(args, kwargs) if kind == "inf" else 0
        intended = written < 0  # a mask is -inf; +inf is a slip (PLUS_INF_HINT)
        hint = "" if intended else PLUS_INF_HINT if written > 0 else \
            self.hint(func, args, kwargs, kind)
        self.result.events.append(OpEvent(op_name(func), func, kind, intended,
                                          call.path if call else None, file, line,
                                          outs[0].dtype, hint))
        if kind == "nan" or len(self.result.events) >= self.MAX_EVENTS:
            self.done = True

    def _note_term(self, func, result: torch.Tensor) -> None:
        try:
            op = op_name(func)
            if op in _SUMS or not result.is_floating_point() or result.device.type == "meta":
                return
            found = caller_user_frame(self.ctx.user_file)
            file, line = found if found else (None, None)
            self.result.terms.append(LossTerm(op, file, line, result.detach()))
        except Exception:
            self.keep_terms = False  # never break the user's loss


@contextlib.contextmanager
def buffers_restored(module: nn.Module) -> Iterator[None]:
    """A re-run must not change the model: BatchNorm running stats and counters come back."""
    saved = [(b, b.detach().clone()) for b in module.buffers() if b.device.type != "meta"]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy in saved:
                buffer.copy_(copy)


def rerun_traced(ctx: SessionContext, module: nn.Module, args: tuple, kwargs: dict,
                 hint: Callable[[Callable, tuple, dict, str], str]) -> TraceResult:
    """Re-run ``module`` on (copies of) the inputs it just had, op by op."""
    tracer = NonFiniteTracer(ctx, hint)
    args, kwargs = map_tensors((args, kwargs), lambda t: t.detach().clone())
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    with ctx.suspend_hooks(), torch.no_grad(), buffers_restored(module), \
            torch.random.fork_rng(devices=devices):
        try:
            with tracer:
                module(*args, **kwargs)
        except Exception:
            pass  # what ran before a failure was traced; the original run did not fail
    return tracer.result
