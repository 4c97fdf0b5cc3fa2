"""Diagnostics of a run that could not go on: the file, the device, the inputs, the loss's type,
memory and time. The session (and the watchdog) report them; no rule finds them.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..recording.events import Diagnostic, Phase, RUN_PHASES
from ..usercode.context import ActiveCall, SessionContext
from ..usercode.loader import LoadError
from ..usercode.user_frames import innermost_user_frame
from . import codes



def user_location(exc: BaseException, ctx: SessionContext) -> tuple[Optional[str], Optional[int]]:
    """The innermost user-code frame of an exception's traceback."""
    found = innermost_user_frame(exc.__traceback__, ctx.user_file)
    return found if found else (ctx.user_file, None)


def load_error(exc: LoadError, phase: Phase = Phase.LOAD) -> Diagnostic:
    return Diagnostic(code=codes.LOAD_ERROR, severity="error", phase=phase, message=exc.message,
                      file=exc.file, line=exc.line, fix=exc.fix)


def device_unavailable(reason: str) -> Diagnostic:
    return Diagnostic(
        code=codes.DEVICE_UNAVAILABLE, severity="error", phase=Phase.BUILD, message=reason,
        fix="Choose CPU (--device cpu), or install a CUDA build of PyTorch on a machine "
            "with an NVIDIA GPU.")


def not_a_module(model: Any, file: str) -> Diagnostic:
    return Diagnostic(
        code=codes.LOAD_ERROR, severity="error", phase=Phase.BUILD,
        message=f"build_model() returned a {type(model).__name__}, not an nn.Module",
        file=file, fix="Return the model instance from build_model().")


def inputs_raised(exc: BaseException, ctx: SessionContext) -> Diagnostic:
    file, line = user_location(exc, ctx)
    return Diagnostic(
        code=codes.LOAD_ERROR, severity="error", phase=Phase.BUILD,
        message=f"example_inputs() raised {type(exc).__name__}: {exc}", file=file,
        line=line, fix="Fix example_inputs() so it returns the model's inputs.")


def inputs_not_tensors(wrong: str, file: str) -> Diagnostic:
    """``wrong`` describes the array-like input, e.g. "a numpy.ndarray at x"."""
    return Diagnostic(
        code=codes.LOAD_ERROR, severity="error", phase=Phase.BUILD,
        message=f"example_inputs() returned {wrong}, but models take torch tensors",
        file=file,
        fix="Convert it in example_inputs(), for example torch.as_tensor(x, "
            "dtype=torch.float32).")


def loss_not_scalar(value: Any, file: str) -> Diagnostic:
    what = f"a tensor of shape {list(value.shape)}" if isinstance(value, torch.Tensor) \
        else f"a {type(value).__name__}"
    return Diagnostic(
        code=codes.RUNTIME_ERROR, severity="error", phase=Phase.LOSS,
        message=f"loss(output) returned {what}; backward needs a scalar tensor",
        file=file, fix="Reduce the loss to a scalar (for example .mean()).")


def loss_without_grad(file: str) -> Diagnostic:
    return Diagnostic(
        code=codes.NO_GRADIENT, severity="warning", phase=Phase.LOSS,
        message="The loss does not require grad: no parameter takes part in it, so "
                "backward cannot run",
        file=file, fix="Make sure the loss is computed from the model's output "
        "without .detach(), torch.no_grad() or .item().")


def out_of_memory(exc: BaseException, phase: Phase, ctx: SessionContext) -> Diagnostic:
    failing = ctx.stack[-1] if ctx.stack else None
    file, line = user_location(exc, ctx)
    return Diagnostic(
        code=codes.OUT_OF_MEMORY, severity="error", phase=phase,
        message=f"Out of memory on {ctx.device} during {phase}"
                + (f" in {failing.path or '(root)'}" if failing else "")
                + f": {str(exc).splitlines()[0][:200]}",
        module=failing.path if failing else None, file=file, line=line,
        fix="Use a smaller batch in example_inputs(), a smaller model, or check shapes "
            "first without memory: torchlens-gui check FILE --dry-run.")


def timeout(phase: Phase, limit_s: float, inside: Optional[ActiveCall],
            where: Optional[tuple[str, int]], file: Optional[str]) -> Diagnostic:
    """A run stopped after ``limit_s``; ``inside`` is the innermost module call then running,
    ``where`` the user line the thread was executing."""
    module = inside.path if inside is not None else None
    return Diagnostic(
        code=codes.TIMEOUT, severity="error",
        phase=phase if phase in RUN_PHASES else Phase.FORWARD,
        message=f"The {phase} did not finish within {limit_s:g} s"
                + (f"; it was inside {module or '(root)'}" if inside is not None else "")
                + " and was stopped",
        module=module, file=where[0] if where else file, line=where[1] if where else None,
        fix="Look for a loop that never ends in forward (or a very large input); raise the "
            "limit with --timeout if the model is just slow.")
