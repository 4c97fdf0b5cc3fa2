"""Explain an exception raised in forward, loss or backward: shape, dtype, device, in-place and
label errors, recognised from torch's message, the op that raised (from the op watch) and the
failing module's own configuration. Anything not recognised is left to the ``runtime-error``
fallback.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

import torch

from ..usercode.context import ActiveCall, SessionContext
from ..recording.events import Diagnostic, Phase
from ..usercode.loader import format_exception_only
from .backward_errors import explain_backward_failure, explain_backward_node
from .batch_errors import explain_batch_errors
from .device_factories import stray_for, stray_text
from .dtypes import explain_dtype
from .dry_run_limits import explain_meta_limit
from . import codes
from .findings import DiagnosedError, listing
from .module_shapes import explain_layer_shape
from .op_shapes import explain_op_shape
from .op_watch import InplaceOp, WatchState
from .rule import Rule
from .sources import assignment_line, short_location
from .where import Where, locate, modules_running


Explainer = Callable[[BaseException, str, str, SessionContext, Where], Optional[Diagnostic]]


class ExceptionExplainer(Rule):
    """Tries each explainer in turn; the first that recognises the exception wins."""

    name = "exception"
    reports = (codes.INPLACE_MODIFICATION, codes.DEVICE_MISMATCH, codes.DTYPE_MISMATCH,
               codes.LABEL_OUT_OF_RANGE, codes.SHAPE_MISMATCH, codes.RUNTIME_ERROR,
               codes.DRY_RUN_INCOMPLETE)

    def __init__(self, state: WatchState) -> None:
        super().__init__(state)
        self.explainers: tuple[Explainer, ...] = (
            explain_inplace, explain_backward_failure, explain_backward_node, explain_device, explain_meta_limit,
            explain_dtype, explain_label, explain_batch_errors, explain_shape, explain_input_type)

    def explain(self, exc: BaseException, phase: Phase, ctx: SessionContext,
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


def explain_inplace(exc, text: str, phase: Phase, ctx: SessionContext, where: Where
                    ) -> Optional[Diagnostic]:
    if "leaf Variable that requires grad is being used in an in-place operation" in text:
        return Diagnostic(
            code=codes.INPLACE_MODIFICATION, severity="error", phase=phase,
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
            code=codes.INPLACE_MODIFICATION, severity="error", phase=phase,
            message=f"Backward needs {what} as it was in forward, but an in-place op changed it "
                    f"(version {expected} -> {version}).",
            fix="Replace in-place ops on that tensor (x += y, x.relu_(), nn.ReLU(inplace=True), "
                "x[...] = v) with their out-of-place forms.", **where.fields())
    at = short_location(op.file, op.line)
    return Diagnostic(
        code=codes.INPLACE_MODIFICATION, severity="error", phase=phase,
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


def explain_device(exc, text: str, phase: Phase, ctx: SessionContext, where: Where
                   ) -> Optional[Diagnostic]:
    if not _DEVICE.search(text):
        return None
    devices = sorted(set(_DEVICES_NAMED.findall(text)))
    for path, module in modules_running(ctx, where):
        for attr, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not _same_device(value.device, ctx.device):
                found = assignment_line(type(module), attr)
                file, line = found if found else (where.file, where.line)
                return Diagnostic(
                    code=codes.DEVICE_MISMATCH, severity="error", phase=phase,
                    message=f"{path or '(root)'}.{attr} is a plain tensor attribute on "
                            f"{value.device}, not a registered buffer, so moving the model to "
                            f"{ctx.device} left it behind; the op then mixed "
                            f"{listing(devices) or 'two devices'}.",
                    module=path, file=file, line=line,
                    fix=f"Register it as a buffer at {short_location(file, line) or 'its line'}: "
                        f"self.register_buffer('{attr}', ...) instead of self.{attr} = ..., so "
                        "model.to(device) moves it.",
                    details=(("tensor", f"{path}.{attr}"), ("device", str(value.device))))
    stray = stray_for(where.state.strays, devices)
    made, fix = stray_text(stray) if stray is not None else (
        "", "Create tensors inside forward on the input's device (torch.zeros(..., "
            "device=x.device)), and register constant tensors as buffers so model.to() moves "
            "them.")
    return Diagnostic(
        code=codes.DEVICE_MISMATCH, severity="error", phase=phase,
        message=f"An op mixes tensors on different devices ({listing(devices) or '?'})"
                + (f" in {where.module}" if where.module else "") + f": {text.splitlines()[0]}"
                + made, fix=fix, **where.fields())


def _same_device(a: torch.device, b: torch.device) -> bool:
    """cuda and cuda:0 are the same device when one side has no index."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


# ---- labels ---------------------------------------------------------------------------------

_TARGET_BOUNDS = re.compile(r"Target (-?\d+) is out of bounds")


def explain_label(exc, text: str, phase: Phase, ctx: SessionContext, where: Where
                  ) -> Optional[Diagnostic]:
    match = _TARGET_BOUNDS.search(text)
    device_assert = "t >= 0 && t < n_classes" in text
    if match is None and not device_assert:
        return None
    label = match.group(1) if match else "?"
    return Diagnostic(
        code=codes.LABEL_OUT_OF_RANGE, severity="error", phase=phase,
        message=f"The loss got class label {label}, outside [0, number of classes).",
        fix="Make the output layer produce as many classes as the labels use, or map the "
            "labels into range.", **where.fields())


# ---- shapes -----------------------------------------------------------------------------------

def explain_shape(exc, text: str, phase: Phase, ctx: SessionContext, where: Where
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


# ---- not a tensor -----------------------------------------------------------------------------

_NOT_A_TENSOR = re.compile(r"must be Tensor, not (\w+)")


def explain_input_type(exc, text: str, phase: Phase, ctx: SessionContext, where: Where
                       ) -> Optional[Diagnostic]:
    """A torch op got a list, a string or a number where it needs a tensor. At the root that is
    what example_inputs() returned, so the fix is the model-file contract."""
    match = _NOT_A_TENSOR.search(text) if isinstance(exc, TypeError) else None
    if match is None:
        return None
    got = match.group(1)
    message = f"{format_exception_only(exc)}: a {got} reached an op that needs a Tensor"
    if phase == Phase.FORWARD and _inputs_hold(ctx, got):
        message += f"; the model's inputs (example_inputs()) hold a {got}."
        fix = ("Return a Tensor (called as model(x)), a tuple of arguments (model(*args)) or a "
               "dict of keyword arguments (model(**kwargs)) from example_inputs(); any other "
               "value, a list included, is passed as one argument"
               + (" (tuple(your_list) spreads a list)." if got == "list" else "."))
    else:
        message += "."
        fix = f"Convert the {got} with torch.as_tensor(...) (or torch.stack for a list of " \
              "tensors) before the marked line."
    return Diagnostic(code=codes.RUNTIME_ERROR, severity="error", phase=phase, message=message,
                      fix=fix, **where.fields())


def _inputs_hold(ctx: SessionContext, type_name: str) -> bool:
    """Whether the root call's arguments hold a value of this type (a list shows as nested
    leaf names such as "[0][0]")."""
    calls = ctx.record.calls_of("")
    if not calls:
        return False
    if type_name in ("list", "tuple"):
        return any(s.name.count("[") > 1 for s in calls[0].inputs)
    return type_name in ("str", "int", "float", "bool", "NoneType") and \
        any(not s.is_tensor for s in calls[0].inputs)
