"""Watch torch calls during forward and loss with a TorchFunctionMode.

What it keeps is small and only what a later diagnostic needs:

- the torch op that raised (its readable name, the shapes/dtypes/devices of its tensor arguments,
  the module running and the user-file line), so an exception can be explained at the op;
- in-place ops on tensors that require grad (for autograd's "modified by an inplace operation");
- where softmax / log_softmax / sigmoid outputs were made (for softmax-before-cross-entropy);
- loss-function calls, handed to :class:`LossChecks` before they run.

The common path of ``__torch_function__`` is a dict lookup and a try block, so the watch costs
microseconds per op. User-frame lookups happen only for the few ops that are kept.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from ..usercode.context import SessionContext
from ..recording.events import shape_text
from .batch_trace import RESHAPES, ReshapeRecord
from .graph_cuts import GRAPH_CUTS, MAX_CUTS, GraphCut, cut_made, leaves_of
from ..recording.structures import iter_leaves, tensors
from ..usercode.user_frames import caller_user_frame

_OPERATORS = {
    "__matmul__": "@", "__rmatmul__": "@", "__truediv__": "/", "__rtruediv__": "/",
    "__add__": "+", "__radd__": "+", "__sub__": "-", "__rsub__": "-", "__mul__": "*",
    "__rmul__": "*", "__pow__": "**", "__rpow__": "**", "__floordiv__": "//",
    "__iadd__": "+=", "__isub__": "-=", "__imul__": "*=", "__itruediv__": "/=",
    "__setitem__": "[...] =", "__getitem__": "[...]",
}
_INPLACE_DUNDERS = {"__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__",
                    "__setitem__", "__imatmul__"}
PROBABILITY_MAKERS = {F.softmax: "softmax", torch.softmax: "softmax", torch.Tensor.softmax:
                      "softmax", F.log_softmax: "log_softmax", torch.log_softmax: "log_softmax",
                      torch.Tensor.log_softmax: "log_softmax", torch.sigmoid: "sigmoid",
                      torch.Tensor.sigmoid: "sigmoid", F.sigmoid: "sigmoid"}

# Ops that rearrange values without changing them: a softmax's output stays probabilities.
_SAME_VALUES = {getattr(torch.Tensor, name) for name in (
    "squeeze", "unsqueeze", "view", "reshape", "flatten", "contiguous", "transpose", "permute",
    "__getitem__", "float", "to", "view_as", "reshape_as")}
_SAME_VALUES |= {torch.squeeze, torch.unsqueeze, torch.reshape, torch.flatten, torch.transpose,
                 torch.permute}


def op_name(func: Callable) -> str:
    """A readable name for a torch callable: "x @ y", "Tensor.view", "F.linear", "torch.cat"."""
    name = getattr(func, "__name__", None) or repr(func)
    if name in _OPERATORS:
        return f"x {_OPERATORS[name]} y" if name != "__getitem__" else "x[...]"
    module = getattr(func, "__module__", None) or ""
    if getattr(torch.Tensor, name, None) is func or "Tensor" in getattr(func, "__qualname__", ""):
        return f"Tensor.{name}"
    if module.startswith("torch.nn.functional") or module == "torch._C._nn":
        return f"F.{name}"
    return f"torch.{name}"


def is_inplace(func: Callable, kwargs: dict) -> bool:
    name = getattr(func, "__name__", "")
    return (name.endswith("_") and not name.startswith("_")) or name in _INPLACE_DUNDERS or \
        kwargs.get("inplace") is True


@dataclass(frozen=True)
class TensorFacts:
    """Shape, dtype and device of one tensor argument (no data)."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    device: str

    def shape_text(self) -> str:
        return shape_text(self.shape)


def tensor_facts(args: tuple, kwargs: dict) -> tuple[TensorFacts, ...]:
    out = []
    for name, leaf in iter_leaves((args, kwargs)):
        if isinstance(leaf, torch.Tensor):
            out.append(TensorFacts(name, tuple(int(d) for d in leaf.shape), leaf.dtype,
                                   str(leaf.device)))
    return tuple(out)


@dataclass
class OpFailure:
    """A torch op that raised, and where."""

    exc: BaseException
    op: str
    func: Callable
    tensors: tuple[TensorFacts, ...]
    others: tuple[str, ...]  # reprs of non-tensor positional arguments (a view's shape...)
    refs: tuple[Any, ...]  # weak references to the tensor arguments, in ``tensors`` order
    module: Optional[str]
    call_index: Optional[int]
    file: Optional[str]
    line: Optional[int]


@dataclass
class InplaceOp:
    """An in-place op on a tensor that takes part in autograd."""

    op: str
    module: Optional[str]
    file: Optional[str]
    line: Optional[int]
    shape: tuple[int, ...]
    made_by: str  # autograd node that produced the tensor before the op ("ReluBackward0")
    version: int  # the tensor's version counter after the op


@dataclass(frozen=True)
class ProbabilityOrigin:
    kind: str  # "softmax" | "log_softmax" | "sigmoid"
    module: Optional[str]
    file: Optional[str]
    line: Optional[int]


@dataclass
class WatchState:
    """What the watch found; shared by all phases of one session."""

    failures: list[OpFailure] = field(default_factory=list)
    inplace: list[InplaceOp] = field(default_factory=list)
    reshapes: list[ReshapeRecord] = field(default_factory=list)  # views that changed the batch
    cuts: list[GraphCut] = field(default_factory=list)  # .item()/.detach()... in the graph
    probabilities: dict[int, tuple[Any, ProbabilityOrigin]] = field(default_factory=dict)
    # id(tensor) -> (weak ref, module path) for module outputs: who made an operand
    made_by: dict[int, tuple[Any, str]] = field(default_factory=dict)

    def note_outputs(self, path: str, output: Any) -> None:
        for t in tensors(output):
            known = self.made_by.get(id(t))
            if known is not None and known[0]() is t:
                continue  # a child returned it first: the innermost maker is kept
            try:
                self.made_by[id(t)] = (weakref.ref(t), path)
            except TypeError:
                pass

    def maker_of(self, ref: Any) -> Optional[str]:
        """The innermost module whose output the (weakly referenced) tensor is, if any."""
        t = ref() if ref is not None else None
        entry = self.made_by.get(id(t)) if t is not None else None
        return entry[1] if entry is not None and entry[0]() is t else None

    def failure_for(self, exc: BaseException) -> Optional[OpFailure]:
        """The recorded op failure behind ``exc`` (or behind what it was raised from)."""
        seen = exc
        while seen is not None:
            for failure in reversed(self.failures):
                if failure.exc is seen:
                    return failure
            seen = seen.__cause__ or seen.__context__
        return None

    def origin_of(self, t: torch.Tensor) -> Optional[ProbabilityOrigin]:
        entry = self.probabilities.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]


MAX_KEPT = 256  # records per kind; a model doing thousands of in-place ops keeps the first ones


class OpWatch(TorchFunctionMode):
    """The TorchFunctionMode a session runs forward and loss under."""

    def __init__(self, ctx: SessionContext, state: WatchState,
                 before_loss: Optional[Callable[[Callable, tuple, dict, "OpWatch"], None]] = None,
                 watched_losses: frozenset = frozenset()) -> None:
        super().__init__()
        self.ctx = ctx
        self.state = state
        self.before_loss = before_loss
        self.watched_losses = watched_losses

    def where(self) -> tuple[Optional[str], Optional[int], Optional[int], Optional[str]]:
        """(module path, call index, user file, user line) of the op running now."""
        call = self.ctx.current
        found = caller_user_frame(self.ctx.user_file)
        file, line = found if found else (None, None)
        return (call.path if call else None, call.call_index if call else None, file, line)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.watched_losses and not self.ctx.hooks_suspended:
            if self.before_loss is not None:
                self.before_loss(func, args, kwargs, self)  # may raise DiagnosedError on purpose
            return self._call_at_user_line(func, args, kwargs)
        inplace = is_inplace(func, kwargs)
        before = _grad_fn_name(args[0]) if inplace and args else ""
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            self._note_failure(func, args, kwargs, exc)
            raise
        if func in RESHAPES:
            self._note_reshape(func, args, result)
        elif func in GRAPH_CUTS:
            self._note_cut(func, args)
        if inplace and args:
            self._note_inplace(func, args[0], before)
        elif func in PROBABILITY_MAKERS and isinstance(result, torch.Tensor):
            self._note_probabilities(PROBABILITY_MAKERS[func], result)
        elif func in _SAME_VALUES and args and id(args[0]) in self.state.probabilities:
            self._pass_on_origin(args[0], result)
        return result

    def _call_at_user_line(self, func, args, kwargs):
        """Run a loss function, re-issuing its warnings at the user's line: torch warns with
        stacklevel=2, which would otherwise name this file (MSELoss broadcasting warnings)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                self._note_failure(func, args, kwargs, exc)
                raise
        if caught:
            _, _, file, line = self.where()
            for w in caught:
                warnings.warn_explicit(w.message, w.category, file or w.filename,
                                       line or w.lineno)
        return result

    def _pass_on_origin(self, source: Any, result: Any) -> None:
        """probs.squeeze(1) still holds probabilities: keep where they were made."""
        origin = self.state.origin_of(source) if isinstance(source, torch.Tensor) else None
        if origin is not None and isinstance(result, torch.Tensor):
            try:
                self.state.probabilities[id(result)] = (weakref.ref(result), origin)
            except TypeError:
                pass

    # ---- records (never raise: a broken record must not break the user's forward) ----------

    def _note_failure(self, func, args, kwargs, exc: BaseException) -> None:
        try:
            if len(self.state.failures) >= MAX_KEPT or self.ctx.hooks_suspended:
                return
            module, call_index, file, line = self.where()
            others = tuple(repr(a) for a in args[1:] if not isinstance(a, torch.Tensor))[:8]
            refs = tuple(weakref.ref(t) for _, t in iter_leaves((args, kwargs))
                         if isinstance(t, torch.Tensor))
            self.state.failures.append(OpFailure(exc, op_name(func), func,
                                                 tensor_facts(args, kwargs), others, refs,
                                                 module, call_index, file, line))
        except Exception:
            pass

    def _note_inplace(self, func, target: Any, before: str) -> None:
        try:
            if not isinstance(target, torch.Tensor) or not target.requires_grad or \
                    len(self.state.inplace) >= MAX_KEPT or self.ctx.hooks_suspended:
                return
            module, _, file, line = self.where()
            self.state.inplace.append(InplaceOp(op_name(func), module, file, line,
                                                tuple(int(d) for d in target.shape), before,
                                                int(target._version)))
        except Exception:
            pass

    def _note_reshape(self, func, args: tuple, result: Any) -> None:
        """A view/reshape that changed dim 0 (the batch), for a later batch mismatch."""
        try:
            source = args[0] if args else None
            if not isinstance(source, torch.Tensor) or not isinstance(result, torch.Tensor) or \
                    not source.dim() or not result.dim() or source.shape[0] == result.shape[0] \
                    or len(self.state.reshapes) >= MAX_KEPT or self.ctx.hooks_suspended:
                return
            module, _, file, line = self.where()
            self.state.reshapes.append(ReshapeRecord(
                op_name(func), tuple(int(d) for d in source.shape),
                tuple(int(d) for d in result.shape), module, file, line))
        except Exception:
            pass

    def _note_cut(self, func, args: tuple) -> None:
        """.item()/.detach()/.numpy()... on a tensor in the graph: where the graph may be cut."""
        try:
            source = args[0] if args else None
            if not isinstance(source, torch.Tensor) or not source.requires_grad or \
                    not torch.is_grad_enabled() or len(self.state.cuts) >= MAX_CUTS or \
                    self.ctx.hooks_suspended:
                return
            module, _, file, line = self.where()
            self.state.cuts.append(GraphCut(cut_made(func, op_name(func)), module, file, line,
                                            len(self.ctx.record.calls), leaves_of(source)))
        except Exception:
            pass

    def _note_probabilities(self, kind: str, result: torch.Tensor) -> None:
        try:
            if len(self.state.probabilities) >= MAX_KEPT or self.ctx.hooks_suspended:
                return
            module, _, file, line = self.where()
            self.state.probabilities[id(result)] = (weakref.ref(result),
                                                    ProbabilityOrigin(kind, module, file, line))
        except Exception:
            pass


def _grad_fn_name(t: Any) -> str:
    if isinstance(t, torch.Tensor) and t.grad_fn is not None:
        return type(t.grad_fn).__name__
    return ""
