"""An exception raised in backward, traced to the forward line that created the failing
autograd node and the module running it: for the user's own ``torch.autograd.Function`` from
the traceback (its ``.apply`` line), for torch's own nodes from a re-run under anomaly mode
(backward_replay). The typical cause is a shape backward was not written for: ``.squeeze()`` on
a ``[batch, 1]`` tensor also drops the batch dimension when the batch (often the last one) has
one sample.
"""

from __future__ import annotations

import linecache
import os
import re
from typing import Optional

from ..recording.events import Diagnostic
from . import codes
from ..usercode.context import SessionContext
from ..usercode.loader import format_exception_only
from ..usercode.user_frames import is_user_file
from .sources import forward_line_with, short_location
from .where import Where


def explain_backward_failure(exc: BaseException, text: str, phase: str, ctx: SessionContext,
                             where: Where) -> Optional[Diagnostic]:
    if phase != "backward":
        return None
    found = _user_backward(exc)
    if found is None:
        return None
    function, raised_at = found
    applied = _applied_at(ctx, function.__name__)
    if applied is None:
        return None
    module, file, line = applied
    code = linecache.getline(file, line)
    at = short_location(file, line)
    message = (f"{format_exception_only(exc)} in {function.__name__}.backward "
               f"({short_location(*raised_at)}), the gradient of {function.__name__}.apply at "
               f"{at} in {module or '(root)'}.")
    fix = (f"Make {function.__name__}.backward handle every shape its forward gets, or give "
           f"it the shape it expects at {at}.")
    message, fix = _squeezed_batch(ctx, code, at, message, fix)
    return Diagnostic(code=codes.RUNTIME_ERROR, severity="error", phase=phase, message=message,
                      module=module, file=file, line=line, fix=fix,
                      details=(("backward", short_location(*raised_at)),))


def explain_backward_node(exc: BaseException, text: str, phase: str, ctx: SessionContext,
                          where: Where) -> Optional[Diagnostic]:
    """An error raised by one of torch's own autograd nodes: the node and the forward line
    that created it come from a re-run under anomaly mode."""
    if phase != "backward" or ctx.replay_backward is None:
        return None
    failed = ctx.replay_backward(exc)
    if failed is None:
        return None
    user = [(file, line, function) for file, line, function in failed.frames
            if is_user_file(file, ctx.user_file)]
    if not user:
        return None
    file, line, _ = user[-1]
    file = os.path.abspath(file)
    module = _module_running(ctx, user)
    op = re.sub(r"Backward\d*$", "", failed.node)
    at = short_location(file, line)
    code = linecache.getline(file, line)
    message = (f"{format_exception_only(exc)} in backward, at {failed.node}: the gradient of "
               f"the {op.lower()} at {at} in {module or '(root)'}.")
    fix = (f"Torch's backward of the {op.lower()} at {at} got a gradient it cannot take: check "
           "the shape that line gives (and any hook registered on its result) against what "
           "the rest of the model expects.")
    if "has changed the size of value" in text:
        fix = (f"A hook registered on the result of {at} returns a gradient of another shape "
               "than the tensor's; make it return the gradient's shape.")
    message, fix = _squeezed_batch(ctx, code, at, message, fix)
    return Diagnostic(code=codes.RUNTIME_ERROR, severity="error", phase=phase, message=message,
                      module=module, file=file, line=line, fix=fix,
                      details=(("node", failed.node),))


def _squeezed_batch(ctx: SessionContext, code: str, at: str, message: str, fix: str
                    ) -> tuple[str, str]:
    """The message and fix for a ``.squeeze()`` line run on a batch of one sample."""
    if ".squeeze()" not in code.split("#", 1)[0] or _model_batch(ctx) != 1:
        return message, fix
    message += (" The input batch has 1 sample, and .squeeze() on that line drops the batch "
                "dimension along with the size-1 one, so the node got a shape without it.")
    fix = (f"Squeeze only the dimension you mean at {at}: .squeeze(-1) (or .squeeze(1)) keeps "
           "the batch dimension when the batch has one sample; or drop the short last batch "
           "(DataLoader(..., drop_last=True)).")
    return message, fix


def _module_running(ctx: SessionContext, user: list[tuple[str, int, str]]) -> Optional[str]:
    """The module whose forward holds the innermost user frame that is inside a forward that
    ran (the deepest such module when several instances share a class)."""
    for file, line, _ in reversed(user):
        found = [path for path, module in ctx.modules.items()
                 if ctx.record.calls_of(path) and _forward_spans(module, file, line)]
        if found:
            return max(found, key=lambda path: path.count(".") + bool(path))
    return None


def _forward_spans(module, file: str, line: int) -> bool:
    code = getattr(type(module).forward, "__code__", None)
    if code is None or os.path.abspath(code.co_filename) != os.path.abspath(file):
        return False
    lines = [number for _, _, number in code.co_lines() if number]
    return bool(lines) and code.co_firstlineno <= line <= max(lines)


def _user_backward(exc: BaseException) -> Optional[tuple[type, tuple[str, int]]]:
    """(the autograd.Function class, (file, line) where its backward raised), innermost."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "backward":
            node = frame.f_locals.get("ctx")
            function = getattr(node, "_forward_cls", None)
            if isinstance(function, type):
                found = (function, (os.path.abspath(frame.f_code.co_filename), tb.tb_lineno))
        tb = tb.tb_next
    return found


def _applied_at(ctx: SessionContext, name: str) -> Optional[tuple[str, str, int]]:
    """(module path, file, line) of the forward line that applies Function ``name``: the
    innermost module that ran whose forward mentions it."""
    best = None
    for path, module in ctx.modules.items():
        if not ctx.record.calls_of(path):
            continue
        found = forward_line_with(module, (f"{name}.apply", f"{name}("))
        if found is not None and (best is None or path.count(".") >= best[0].count(".")):
            best = (path, found[0], found[1])
    return best


def _model_batch(ctx: SessionContext) -> Optional[int]:
    calls = ctx.record.calls_of("")
    if not calls or not calls[0].inputs or not calls[0].inputs[0].is_tensor:
        return None
    shape = calls[0].inputs[0].shape
    return int(shape[0]) if shape else None
