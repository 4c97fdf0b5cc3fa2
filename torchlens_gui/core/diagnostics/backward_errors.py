"""An exception raised in backward by the user's own ``torch.autograd.Function.backward``,
traced to the forward line that applied the Function (the line that created the failing
autograd node) and the module running it. The typical cause is a shape the backward was not
written for: ``.squeeze()`` on a ``[batch, 1]`` tensor also drops the batch dimension when the
batch (often the last one) has one sample.
"""

from __future__ import annotations

import linecache
import os
from typing import Optional

from ..recording.events import Diagnostic
from . import codes
from ..usercode.context import SessionContext
from ..usercode.loader import format_exception_only
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
    batch = _model_batch(ctx)
    if ".squeeze()" in code.split("#", 1)[0] and batch == 1:
        message += (" The input batch has 1 sample, and .squeeze() on that line drops the batch "
                    "dimension along with the size-1 one, so the node got a shape without it.")
        fix = (f"Squeeze only the dimension you mean at {at}: .squeeze(-1) (or .squeeze(1)) "
               "keeps the batch dimension when the batch has one sample.")
    return Diagnostic(code=codes.RUNTIME_ERROR, severity="error", phase=phase, message=message,
                      module=module, file=file, line=line, fix=fix,
                      details=(("backward", short_location(*raised_at)),))


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
