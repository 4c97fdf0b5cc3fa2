"""How a session ends when it cannot end normally: interrupted, or stopped by a bug of ours.

Both are ordinary diagnostics, so the window, ``check`` and ``debug()`` show them like any other
(the window never stays "Running…", ``check`` always prints its JSON object).
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..recording.events import Diagnostic, Phase
from ..recording.structures import MAX_LOOK_DEPTH, tensors
from ..diagnostics import codes
from ..recording.internal_error import INTERNAL_ERROR_FIX, diagnostic_phase, traceback_text
from ..usercode.context import SessionContext
from ..usercode.user_frames import innermost_user_frame


def interrupted(exc: BaseException, phase: Optional[str],
                ctx: Optional[SessionContext]) -> Diagnostic:
    """KeyboardInterrupt (Ctrl+C in a terminal, or raised by the model's code)."""
    user_file = ctx.user_file if ctx is not None else None
    where = innermost_user_frame(exc.__traceback__, user_file)
    module = ctx.stack[-1].path if ctx is not None and ctx.stack else None
    return Diagnostic(
        code=codes.INTERRUPTED, severity="error", phase=diagnostic_phase(phase),
        message=f"KeyboardInterrupt during {diagnostic_phase(phase)}"
                + (f" in {module or '(root)'}" if module is not None else "")
                + ": the run was interrupted (Ctrl+C, or the model's code raised it)",
        module=module, file=where[0] if where else user_file, line=where[1] if where else None,
        fix="Run again; if the model's code raises KeyboardInterrupt itself, raise an ordinary "
            "exception instead.")


def interrupted_by_user(phase: Optional[str], inside, where: Optional[tuple[str, int]],
                        file: Optional[str]) -> Diagnostic:
    """Ctrl+C in the terminal while a check ran on its worker thread."""
    module = inside.path if inside is not None else None
    return Diagnostic(
        code=codes.INTERRUPTED, severity="error", phase=diagnostic_phase(phase),
        message=f"Interrupted (Ctrl+C) during {diagnostic_phase(phase)}"
                + (f" inside {module or '(root)'}" if inside is not None else ""),
        module=module, file=where[0] if where else file, line=where[1] if where else None,
        fix="Run again and let it finish; --timeout limits how long a run may take.")


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
        code=codes.NOTHING_TO_BACKWARD, severity="warning", phase=Phase.LOSS,
        message=f"forward() returned {what}: backward has nothing to start from, so no "
                "gradient was computed",
        module="", file=file,
        fix="Return the output tensor from forward(), or define loss(output) in the file "
            "returning a scalar tensor computed from it.")


def no_parameters(file: Optional[str]) -> Diagnostic:
    """A model without trainable parameters: nothing for backward to do, nothing wrong."""
    return Diagnostic(
        code=codes.NO_PARAMETERS, severity="info", phase=Phase.LOSS,
        message="The model has no trainable parameters, so there is no gradient to compute: "
                "backward was skipped",
        file=file, fix=None)


def internal_error(exc: BaseException, phase: Optional[str]) -> Diagnostic:
    """A bug of torchlens-gui: the message carries the traceback, ready to copy into a report."""
    first, text = traceback_text(exc)
    return Diagnostic(
        code=codes.INTERNAL_ERROR, severity="error", phase=diagnostic_phase(phase),
        message=f"torchlens-gui failed during {diagnostic_phase(phase)}: {first}\n\n{text}",
        fix=INTERNAL_ERROR_FIX)


def meta_model(file: Optional[str]) -> Diagnostic:
    return Diagnostic(
        code=codes.META_MODEL, severity="error", phase=Phase.BUILD,
        message="The model was built on the meta device (device='meta', torch.device('meta') "
                "or torch.set_default_device('meta')): its parameters hold no data, so it "
                "cannot run for real",
        file=file, fix="Build it on a real device (remove the meta device from the file), or "
                       "check shapes and dtypes only: torchlens-gui check FILE --dry-run.")
