"""Explain an exception raised in forward, loss or backward: shape, dtype, device, in-place and
label errors, recognised from torch's message, the op that raised (from the op watch) and the
failing module's own configuration. Anything not recognised is left to the ``runtime-error``
fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Optional

import torch
import torch.nn as nn

from ..context import ActiveCall, SessionContext
from ..events import Diagnostic
from ..loader import format_exception_only
from ..user_frames import innermost_user_frame
from .findings import DiagnosedError, listing
from .module_shapes import explain_layer_shape
from .op_shapes import explain_op_shape
from .op_watch import InplaceOp, OpFailure, WatchState
from .sources import assignment_line, described, function_return_line, short_location


@dataclass
class Where:
    """Where an exception happened, as precisely as we can say it."""

    module: Optional[str]
    call_index: Optional[int]
    file: Optional[str]
    line: Optional[int]
    failing: Optional[ActiveCall]
    failure: Optional[OpFailure]
    state: WatchState

    def fields(self) -> dict:
        return dict(module=self.module, call_index=self.call_index, file=self.file,
                    line=self.line)


def locate(exc: BaseException, ctx: SessionContext, failing: Optional[ActiveCall],
           state: WatchState) -> Where:
    failure = state.failure_for(exc)
    module = failure.module if failure is not None and failure.module is not None else (
        failing.path if failing is not None else None)
    index = failure.call_index if failure is not None and failure.module is not None else (
        failing.call_index if failing is not None else None)
    if failure is not None and failure.line is not None:
        file, line = failure.file, failure.line
    else:
        found = innermost_user_frame(exc.__traceback__, ctx.user_file)
        site = ctx.site_of(module)
        # no user line ran it (a layer inside nn.Sequential): point at where it was built
        file, line = found if found else ((site.file, site.line) if site else (ctx.user_file,
                                                                                None))
    return Where(module, index, file, line, failing, failure, state)


Explainer = Callable[[BaseException, str, str, SessionContext, Where], Optional[Diagnostic]]


class ExceptionExplainer:
    """Tries each explainer in turn; the first that recognises the exception wins."""

    def __init__(self, state: WatchState) -> None:
        self.state = state
        self.explainers: tuple[Explainer, ...] = (
            explain_inplace, explain_device, explain_dtype, explain_label, explain_shape)

    def explain(self, exc: BaseException, phase: str, ctx: SessionContext,
                failing: Optional[ActiveCall]) -> Optional[Diagnostic]:
        if isinstance(exc, DiagnosedError):
            return exc.diagnostic
        where = locate(exc, ctx, failing, self.state)
        text = str(exc)
        for explainer in self.explainers:
            found = explainer(exc, text, phase, ctx, where)
            if found is not None:
                return found
        return None


# ---- in-place --------------------------------------------------------------------------------

_MODIFIED = re.compile(r"modified by an inplace operation: \[[\w.]+ \[([\d, ]*)\]\], which is "
                       r"output (\d+) of (\w+), is at version (\d+); expected version (\d+)")


def explain_inplace(exc, text: str, phase: str, ctx: SessionContext, where: Where
                    ) -> Optional[Diagnostic]:
    if "leaf Variable that requires grad is being used in an in-place operation" in text:
        return Diagnostic(
            code="inplace-modification", severity="error", phase=phase,
            message="An in-place op changes a tensor that requires grad and is a leaf (a "
                    f"parameter or an input with requires_grad=True): {format_exception_only(exc)}",
            fix="Do the change out of place (x = x + 1), or under torch.no_grad() when it is "
                "an initialisation.", **where.fields())
    match = _MODIFIED.search(text)
    if match is None:
        return None
    shape = tuple(int(d) for d in match.group(1).split(",") if d.strip())
    made_by = match.group(3)
    version, expected = int(match.group(4)), int(match.group(5))
    op = _matching_inplace(where.state, shape, made_by)
    producer = re.sub(r"Backward\d*$", "", made_by).lower()
    what = f"the output of {producer} [{', '.join(map(str, shape))}]"
    if op is None:
        return Diagnostic(
            code="inplace-modification", severity="error", phase=phase,
            message=f"Backward needs {what} as it was in forward, but an in-place op changed it "
                    f"(version {expected} -> {version}).",
            fix="Replace in-place ops on that tensor (x += y, x.relu_(), nn.ReLU(inplace=True), "
                "x[...] = v) with their out-of-place forms.", **where.fields())
    at = short_location(op.file, op.line)
    return Diagnostic(
        code="inplace-modification", severity="error", phase=phase,
        message=f"Backward needs {what} as it was in forward, but {op.op}"
                + (f" at {at}" if at else "") + (f" in {op.module}" if op.module else "")
                + f" changed it in place (version {expected} -> {version}).",
        module=op.module, file=op.file, line=op.line,
        fix=f"Use the out-of-place form at {at or 'that line'}: x = x + y instead of x += y or "
            "x.add_(y), torch.relu(x) instead of x.relu_(), nn.ReLU() without inplace=True, "
            "or .clone() the tensor before changing it.",
        details=(("op", op.op), ("tensor", what)))


def _matching_inplace(state: WatchState, shape: tuple[int, ...], made_by: str
                      ) -> Optional[InplaceOp]:
    """The recorded in-place op that most likely broke backward: same shape and the same
    producing node, else same shape, else None."""
    producer = re.sub(r"Backward\d*$", "", made_by)
    same_shape = [op for op in state.inplace if op.shape == shape]
    for op in same_shape:
        if re.sub(r"Backward\d*$", "", op.made_by) == producer:
            return op
    return same_shape[0] if same_shape else None


# ---- device ---------------------------------------------------------------------------------

_DEVICE = re.compile(r"Expected all tensors to be on the same device|is not on the expected "
                     r"device|Input type \(torch\.cuda\.|weight type \(torch\.cuda\.|found at "
                     r"least two devices|to be on the same device")
_DEVICES_NAMED = re.compile(r"\b(cuda:\d+|cuda|cpu|meta|mps|xpu)\b")


def explain_device(exc, text: str, phase: str, ctx: SessionContext, where: Where
                   ) -> Optional[Diagnostic]:
    if not _DEVICE.search(text):
        return None
    devices = sorted(set(_DEVICES_NAMED.findall(text)))
    for path, module in _modules_running(ctx, where):
        for attr, value in vars(module).items():
            if isinstance(value, torch.Tensor) and value.device != ctx.device:
                found = assignment_line(type(module), attr)
                file, line = found if found else (where.file, where.line)
                return Diagnostic(
                    code="device-mismatch", severity="error", phase=phase,
                    message=f"{path or '(root)'}.{attr} is a plain tensor attribute on "
                            f"{value.device}, not a registered buffer, so moving the model to "
                            f"{ctx.device} left it behind; the op then mixed "
                            f"{listing(devices) or 'two devices'}.",
                    module=path, file=file, line=line,
                    fix=f"Register it as a buffer at {short_location(file, line) or 'its line'}: "
                        f"self.register_buffer('{attr}', ...) instead of self.{attr} = ..., so "
                        "model.to(device) moves it.",
                    details=(("tensor", f"{path}.{attr}"), ("device", str(value.device))))
    return Diagnostic(
        code="device-mismatch", severity="error", phase=phase,
        message=f"An op mixes tensors on different devices ({listing(devices) or '?'})"
                + (f" in {where.module}" if where.module else "") + f": {text.splitlines()[0]}",
        fix="Create tensors inside forward on the input's device (torch.zeros(..., "
            "device=x.device)), and register constant tensors as buffers so model.to() moves "
            "them.", **where.fields())


def _modules_running(ctx: SessionContext, where: Where) -> list[tuple[str, nn.Module]]:
    """The failing module first, then its callers (innermost first)."""
    out = []
    if where.module is not None and where.module in ctx.modules:
        out.append((where.module, ctx.modules[where.module]))
    for call in reversed(ctx.stack):
        if call.path != where.module:
            out.append((call.path, call.module))
    return out


# ---- dtype ----------------------------------------------------------------------------------

_DTYPE = re.compile(r"must have the same dtype|to have the same dtype|Input type \(\w+\) and "
                    r"(bias|weight) type|expected scalar type \w+ but found \w+|mixed dtype|"
                    r"Found dtype \w+ but expected \w+|same dtype")
_INDEX_DTYPE = re.compile(r"'indices' to have one of the following scalar types")
_TARGET_DTYPE = re.compile(r"expected target dtype to be Long|Expected dtype int32/int64 for "
                           r"index")


def explain_dtype(exc, text: str, phase: str, ctx: SessionContext, where: Where
                  ) -> Optional[Diagnostic]:
    if _INDEX_DTYPE.search(text):
        return Diagnostic(
            code="dtype-mismatch", severity="error", phase=phase,
            message=f"{described(ctx, where.module)} looks up rows by integer ids, but got a "
                    "floating-point tensor.",
            fix="Pass token ids as integers: ids.long() (or build them with torch.randint / "
                "dtype=torch.long).", **where.fields())
    if _TARGET_DTYPE.search(text):
        return Diagnostic(
            code="dtype-mismatch", severity="error", phase=phase,
            message="The loss got floating-point class labels; cross_entropy / nll_loss take "
                    "class indices as int64 (or class probabilities of the output's shape).",
            fix="Convert the labels: target.long().", **where.fields())
    if not _DTYPE.search(text):
        return None
    floats = _float_dtypes(ctx, where)
    model_dtype = _model_dtype(ctx, where)
    other = next((d for d in floats if d != model_dtype), None)
    if model_dtype is None or other is None:
        return Diagnostic(
            code="dtype-mismatch", severity="error", phase=phase,
            message=f"An op mixes floating-point dtypes: {text.splitlines()[0]}",
            fix="Convert one side so both match (x.to(weight.dtype)).", **where.fields())
    name, model_name = _dt(other), _dt(model_dtype)
    root = ctx.record.calls_of("")
    from_inputs = bool(root) and any(s.dtype == name for s in root[0].inputs)
    who = described(ctx, where.module) if where.module is not None else "an op"
    message = f"{who} got a {name} tensor but its parameters are {model_name}."
    if from_inputs:
        message += f" The {name} comes from the model's inputs (example_inputs()); numpy " \
                   "arrays and torch.from_numpy default to float64."
        returned = function_return_line(ctx.user_file, "example_inputs")
        at = f" at {short_location(ctx.user_file, returned)}" if returned else ""
        fix = f"Convert the batch, not the model: return x.to(torch.{model_name}) (or " \
              f"torch.as_tensor(x, dtype=torch.{model_name})) from example_inputs(){at}; " \
              f"only use model.to(torch.{name}) if you really want {name} weights."
        if returned:
            where = replace(where, file=ctx.user_file, line=returned)
    else:
        at = short_location(where.file, where.line)
        message += f" It was made inside forward" + (f" before {at}" if at else "") + "."
        fix = f"Create that tensor with dtype=x.dtype (or .to(torch.{model_name})) where it " \
              "is made."
    return Diagnostic(code="dtype-mismatch", severity="error", phase=phase, message=message,
                      fix=fix, details=(("expected", model_name), ("got", name)),
                      **where.fields())


def _dt(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _float_dtypes(ctx: SessionContext, where: Where) -> list[torch.dtype]:
    if where.failure is not None:
        return [t.dtype for t in where.failure.tensors if t.dtype.is_floating_point]
    if where.failing is not None:
        return [getattr(torch, s.dtype) for s in where.failing.inputs
                if s.is_tensor and s.dtype and s.dtype.startswith(("float", "bfloat"))]
    return []


def _model_dtype(ctx: SessionContext, where: Where) -> Optional[torch.dtype]:
    for _, module in _modules_running(ctx, where) + [("", ctx.model)]:
        if module is None:
            continue
        for p in module.parameters():
            if p.is_floating_point():
                return p.dtype
    return None


# ---- labels ---------------------------------------------------------------------------------

_TARGET_BOUNDS = re.compile(r"Target (-?\d+) is out of bounds")


def explain_label(exc, text: str, phase: str, ctx: SessionContext, where: Where
                  ) -> Optional[Diagnostic]:
    match = _TARGET_BOUNDS.search(text)
    device_assert = "t >= 0 && t < n_classes" in text
    if match is None and not device_assert:
        return None
    label = match.group(1) if match else "?"
    return Diagnostic(
        code="label-out-of-range", severity="error", phase=phase,
        message=f"The loss got class label {label}, outside [0, number of classes).",
        fix="Make the output layer produce as many classes as the labels use, or map the "
            "labels into range.", **where.fields())


# ---- shapes -----------------------------------------------------------------------------------

def explain_shape(exc, text: str, phase: str, ctx: SessionContext, where: Where
                  ) -> Optional[Diagnostic]:
    failing = where.failing
    if failing is not None and failing.inputs and failing.inputs[0].is_tensor and (
            where.failure is None or where.failure.module == failing.path):
        failure = where.failure
        maker = where.state.maker_of(failure.refs[0]) if failure and failure.refs else None
        found = explain_layer_shape(ctx, failing.path, failing.call_index, failing.module,
                                    failing.inputs[0], text, maker)
        if found is not None:
            return found
    return explain_op_shape(exc, text, phase, ctx, where)
