"""How a session ends when it cannot end normally: interrupted, or stopped by a bug of ours.

Both are ordinary diagnostics, so the window, ``check`` and ``debug()`` show them like any other
(the window never stays "Running…", ``check`` always prints its JSON object).
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..recording.events import Diagnostic
from ..recording.structures import MAX_LOOK_DEPTH, tensors
from ..recording.internal_error import diagnostic_phase, internal_error  # noqa: F401 (re-export)
from ..usercode.context import SessionContext
from ..usercode.user_frames import innermost_user_frame


def interrupted(exc: BaseException, phase: Optional[str],
                ctx: Optional[SessionContext]) -> Diagnostic:
    """KeyboardInterrupt (Ctrl+C in a terminal, or raised by the model's code)."""
    user_file = ctx.user_file if ctx is not None else None
    where = innermost_user_frame(exc.__traceback__, user_file)
    module = ctx.stack[-1].path if ctx is not None and ctx.stack else None
    return Diagnostic(
        code="interrupted", severity="error", phase=diagnostic_phase(phase),
        message=f"KeyboardInterrupt during {diagnostic_phase(phase)}"
                + (f" in {module or '(root)'}" if module is not None else "")
                + ": the run was interrupted (Ctrl+C, or the model's code raised it)",
        module=module, file=where[0] if where else user_file, line=where[1] if where else None,
        fix="Run again; if the model's code raises KeyboardInterrupt itself, raise an ordinary "
            "exception instead.")


def nothing_to_backward(output: Any, file: Optional[str]) -> Diagnostic:
    """The file has no loss() and the forward output holds no tensor backward can start from
    (None, a string, a generator, tensors nested deeper than we look, or ones without grad)."""
    if output is None:
        what = "None"
    elif isinstance(output, torch.Tensor):
        what = f"a {output.dtype} tensor that does not require grad"
    elif tensors(output):
        what = (f"a {type(output).__name__} whose tensors do not require grad (or are not "
                "floating-point)")
    else:
        what = f"a {type(output).__name__} with no tensor in it" + (
            f" (looked {MAX_LOOK_DEPTH} levels deep)" if isinstance(output, (list, tuple, dict))
            else "")
    return Diagnostic(
        code="nothing-to-backward", severity="warning", phase="loss",
        message=f"forward() returned {what}: backward has nothing to start from, so no "
                "gradient was computed",
        module="", file=file,
        fix="Return the output tensor from forward(), or define loss(output) in the file "
            "returning a scalar tensor computed from it.")


def no_parameters(file: Optional[str]) -> Diagnostic:
    """A model without trainable parameters: nothing for backward to do, nothing wrong."""
    return Diagnostic(
        code="no-parameters", severity="info", phase="loss",
        message="The model has no trainable parameters, so there is no gradient to compute: "
                "backward was skipped",
        file=file, fix=None)
