"""Script mode's loss: the ops between a model's outermost call and backward, kept cheaply.

A script has no loss phase to trace, so from the moment the model's outermost call returns (with
gradients on) until backward, the next outermost module call or the optimizer step, its ops run
under :class:`LossWatch`: a TorchFunctionMode that checks nothing per op. It keeps the first
MAX_OPS float results of a step with their op and the user's line (frames walked with a verdict
cached per code object). Backward reads the loss and the scalar terms (1-element results that
take part in autograd, partial sums left out) at once; only a NaN/Inf loss tests the kept
results, to name the op that made it non-finite.

Memory: results up to KEEP_ELEMENTS values (and the arguments of such ops) are held until
backward; larger ones only weakly, so the watch never keeps a big temporary alive.

The mode stack: the watch sits at the bottom of the thread's torch function mode stack, so a
mode the script enters and leaves meanwhile (``with torch.device(...)``) pops its own, never
ours; there is at most one watch on it, and it is taken off at the step's end. (The first try
pushed a new mode at every step and lost track of it: ``loss.backward()`` is dispatched through
the mode, which torch takes off the stack while its handler runs, so the handler's "pop my
mode" found nothing and the mode stayed; the next step pushed another. Each op then ran through
every leftover tracer, each tracing the others' checks, and the steps slowed without end.)
"""

from __future__ import annotations

import os
import sys
import weakref
from types import CodeType, FrameType
from typing import Any, Optional

import torch
from torch.overrides import TorchFunctionMode

from .nonfinite import op_hint
from .op_trace import _SUMS, LossTerm, OpEvent, TraceResult, _infinity_written
from .op_watch import op_name
from ..usercode.user_frames import is_user_file

_Tensor = torch.Tensor
_stack_len = torch._C._len_torch_function_stack
_stack_at = torch._C._get_function_stack_at
_push = torch._C._push_on_torch_function_stack
_pop = torch._C._pop_torch_function_stack
_NAMES: dict[Any, str] = {}  # torch callable -> its readable name (op_name)


class _Kept:
    """One op of the loss region: its name (or func), the user's line, the result."""

    __slots__ = ("func", "file", "line", "result", "args", "kwargs")

    def __init__(self, func: Any, file: Optional[str], line: Optional[int], result: Any,
                 args: Optional[tuple], kwargs: Optional[dict]) -> None:
        self.func, self.file, self.line = func, file, line
        self.result, self.args, self.kwargs = result, args, kwargs

    def tensor(self) -> Optional[torch.Tensor]:
        result = self.result
        return result() if isinstance(result, weakref.ref) else result

    @property
    def op(self) -> str:
        func = self.func
        if isinstance(func, str):
            return func
        name = _NAMES.get(func)
        if name is None:
            name = _NAMES[func] = op_name(func)
        return name


class LossWatch(TorchFunctionMode):
    """Keeps the float results of a script's loss region (see the module docstring)."""

    MAX_OPS = 64  # ops kept per step: a loss is a handful; an evaluation loop is not kept
    KEEP_ELEMENTS = 1 << 16  # larger results are held weakly

    def __init__(self, user_file: Optional[str]) -> None:
        super().__init__()
        self.user_file = os.path.abspath(user_file) if user_file else None
        self.recording = False
        self.kept: list[_Kept] = []
        self._pushed = False  # on this thread's mode stack (or taken off it by a dispatch)
        self._dispatching = 0  # inside func of our handler: torch has taken us off the stack
        self._user_code: dict[CodeType, bool] = {}

    # ---- the mode ---------------------------------------------------------------------------

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self._dispatching += 1
        try:
            result = func(*args, **(kwargs or {}))
        finally:
            self._dispatching -= 1
        if self.recording and isinstance(result, _Tensor) and len(self.kept) < self.MAX_OPS:
            try:
                self._keep(func, result, args, kwargs)
            except Exception:
                self.recording = False  # never break the user's loss
        return result

    def _keep(self, func: Any, result: torch.Tensor, args: tuple, kwargs: Optional[dict]) -> None:
        # ~2 us an op: no device test (a meta loss is never read), one loop over the arguments.
        if not result.is_floating_point():
            return
        small = result.numel() <= self.KEEP_ELEMENTS
        held = small
        if small:
            for a in args:
                if isinstance(a, _Tensor) and a.numel() > self.KEEP_ELEMENTS:
                    held = False  # a big input: not held, not tested
                    break
        file, line = self._user_line()
        self.kept.append(_Kept(func, file, line, result if small else weakref.ref(result),
                               args if held else None, (kwargs or {}) if held else None))

    def _user_line(self) -> tuple[Optional[str], Optional[int]]:
        """The innermost frame of the user's file on the stack (a verdict per code object)."""
        frame: Optional[FrameType] = sys._getframe(1)
        verdicts = self._user_code
        while frame is not None:
            code = frame.f_code
            mine = verdicts.get(code)
            if mine is None:
                mine = verdicts[code] = is_user_file(code.co_filename, self.user_file)
            if mine:
                return code.co_filename, frame.f_lineno
            frame = frame.f_back
        return None, None

    # ---- on and off the mode stack ----------------------------------------------------------

    def start(self, module_path: str, output: Any) -> None:
        """The model's outermost call returned: record from here; a scalar it returned (a loss
        module's) is a term already."""
        if isinstance(output, _Tensor) and output.requires_grad and output.numel() == 1 \
                and len(self.kept) < self.MAX_OPS and output.is_floating_point():
            file, line = self._user_line()
            self.kept.append(_Kept(module_path or "(model)", file, line, output, None, None))
        self.recording = True
        if not self._dispatching and not self.on_stack():
            _insert_at_bottom(self)
        self._pushed = True

    def stop(self) -> None:
        """Stop recording and leave the mode stack. Inside a dispatch through this mode (the
        backward of ``loss.backward()``) torch has taken it off the stack and puts it back
        afterwards: it is then taken off at the next call (a module call, the optimizer step,
        the step's end)."""
        self.recording = False
        if self._pushed and not self._dispatching:
            _remove(self)  # False: someone popped it already
            self._pushed = False

    def on_stack(self) -> bool:
        return any(_stack_at(i) is self for i in range(_stack_len()))

    # ---- what backward reads ----------------------------------------------------------------

    def take(self, root: torch.Tensor) -> tuple[list[LossTerm], list[_Kept]]:
        """The loss's terms (root and partial sums left out) and the ops kept; forgets both."""
        kept, self.kept = self.kept, []
        terms = []
        for op in kept:
            result = op.tensor()
            if result is None or result is root or result.numel() != 1 \
                    or not result.requires_grad:
                continue
            name = op.op
            if name not in _SUMS:
                terms.append(LossTerm(name, op.file, op.line, result))  # read by item()
        return terms, kept


def read_loss(root: torch.Tensor, terms: list[LossTerm]) -> tuple[float, tuple]:
    """The loss and its terms' values: (loss, ((op, file, line, value), ...)); on an
    accelerator with one host transfer (a CPU tensor's item() is a copy, cheaper than a stack)."""
    with torch.no_grad():
        values = [root.detach()] + [t.value for t in terms]
        read = None
        if terms and root.device.type != "cpu":
            try:
                read = torch.stack([v.float().reshape(()).to(root.device)
                                    for v in values]).tolist()
            except RuntimeError:
                read = None
        if read is None:
            read = [float(v.item()) for v in values]
        return read[0], tuple((t.op, t.file, t.line, v) for t, v in zip(terms, read[1:]))


def born_nonfinite(kept: list[_Kept]) -> TraceResult:
    """The kept ops whose result holds NaN/Inf from finite (or unknown) inputs, in order (none
    when they cannot be tested: this runs inside the user's backward call)."""
    try:
        return _born_nonfinite(kept)
    except Exception:
        return TraceResult()


def _born_nonfinite(kept: list[_Kept]) -> TraceResult:
    result = TraceResult()
    tensors: dict[int, torch.Tensor] = {}
    for op in kept:
        t = op.tensor()
        if t is not None and t.device.type != "meta":
            tensors[id(t)] = t
        for a in list(op.args or ()) + list((op.kwargs or {}).values()):
            if isinstance(a, _Tensor) and a.is_floating_point() and a.numel() \
                    and a.device.type != "meta":
                tensors[id(a)] = a
    flags = _nonfinite_flags(list(tensors.values()))
    for op in kept:
        t = op.tensor()
        if t is None or not t.numel() or id(t) not in flags:
            continue
        out_nan, out_inf = flags[id(t)]
        if not (out_nan or out_inf):
            continue
        inputs = [flags[id(a)] for a in list(op.args or ()) + list((op.kwargs or {}).values())
                  if isinstance(a, _Tensor) and id(a) in flags]
        in_nan = any(n for n, _ in inputs)
        in_inf = any(i for _, i in inputs)
        kind = "nan" if out_nan and not in_nan else \
            "inf" if out_inf and not (in_nan or in_inf) else None
        if kind is None:
            continue
        func = op.func if not isinstance(op.func, str) else None
        written = _infinity_written(op.args or (), op.kwargs or {}) if kind == "inf" and \
            op.args is not None else 0
        hint = ""
        if func is not None and op.args is not None and written >= 0:
            try:
                hint = op_hint(func, op.args, op.kwargs or {}, kind)
            except Exception:
                hint = ""
        result.events.append(OpEvent(op.op, func, kind, written < 0, None, op.file, op.line,
                                     t.dtype, hint))
    return result


def _nonfinite_flags(ts: list[torch.Tensor]) -> dict[int, tuple[bool, bool]]:
    """id -> (any NaN, any Inf), one host transfer per device."""
    out: dict[int, tuple[bool, bool]] = {}
    by_device: dict[torch.device, list[torch.Tensor]] = {}
    for t in ts:
        by_device.setdefault(t.device, []).append(t)
    with torch.no_grad():
        for group in by_device.values():
            flags = torch.stack([torch.stack([torch.isnan(t).any(), torch.isinf(t).any()])
                                 for t in group]).tolist()
            out.update((id(t), (bool(n), bool(i))) for t, (n, i) in zip(group, flags))
    return out


def _insert_at_bottom(mode: TorchFunctionMode) -> None:
    above = [_pop() for _ in range(_stack_len())]
    _push(mode)
    for other in reversed(above):
        _push(other)


def _remove(mode: TorchFunctionMode) -> bool:
    """Take ``mode`` off this thread's stack wherever it is, the others kept in order; False
    when it is not there (torch is dispatching through it)."""
    count = _stack_len()
    index = next((i for i in range(count) if _stack_at(i) is mode), None)
    if index is None:
        return False
    above = [_pop() for _ in range(count - 1 - index)]
    _pop()
    for other in reversed(above):
        _push(other)
    return True
