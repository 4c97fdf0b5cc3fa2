"""The diagnostics interface the session calls at each point of a run, and the fallbacks.

Specific detectors (shape, dtype, NaN origin, gradients...) subclass or plug into
:class:`Diagnostician`; the session only knows these methods. Every method runs on the session
thread and may look at live tensors; what it returns is immutable Diagnostic objects.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, ContextManager, Iterable, Optional

import torch.nn as nn

from ..usercode.context import ActiveCall, SessionContext
from ..recording.events import Diagnostic, TensorSummary
from ..usercode.loader import LoadError, format_exception_only
from ..usercode.user_frames import caller_user_frame, innermost_user_frame


def load_error(exc: LoadError, phase: str = "load") -> Diagnostic:
    return Diagnostic(code="load-error", severity="error", phase=phase, message=exc.message,
                      file=exc.file, line=exc.line, fix=exc.fix)


def user_location(exc: BaseException, ctx: SessionContext) -> tuple[Optional[str], Optional[int]]:
    """The innermost user-code frame of an exception's traceback."""
    found = innermost_user_frame(exc.__traceback__, ctx.user_file)
    return found if found else (ctx.user_file, None)


class Diagnostician:
    """Turns what a session sees into Diagnostics. The base class knows only the fallbacks."""

    def creation_error(self, exc: BaseException, ctx: SessionContext) -> Diagnostic:
        file, line = user_location(exc, ctx)
        return Diagnostic(
            code="creation-error", severity="error", phase="build",
            message=f"build_model() raised {format_exception_only(exc)}",
            file=file, line=line,
            fix="Fix the constructor call at the marked line (arguments, sizes, typos).",
        )

    def runtime_error(self, exc: BaseException, phase: str, ctx: SessionContext,
                      failing: Optional[ActiveCall]) -> Diagnostic:
        """Any exception in forward, loss or backward: the fallback when nothing specific fits."""
        file, line = user_location(exc, ctx)
        where = f" in {failing.path or '(root)'} ({type(failing.module).__name__})" if failing else ""
        return Diagnostic(
            code="runtime-error", severity="error", phase=phase,
            message=f"{format_exception_only(exc)}{where}",
            module=failing.path if failing else None,
            call_index=failing.call_index if failing else None,
            file=file, line=line,
            fix="Read the message and the marked line; step to the module to inspect its inputs.",
        )

    # ---- hooks the session calls; detectors override these -----------------------------------

    def explain_exception(self, exc: BaseException, phase: str, ctx: SessionContext,
                          failing: Optional[ActiveCall]) -> Diagnostic:
        """The one diagnostic for an exception raised in forward, loss or backward."""
        return self.runtime_error(exc, phase, ctx, failing)

    def after_build(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return ()

    def phase_guard(self, phase: str, ctx: SessionContext) -> ContextManager[Any]:
        """A context the session wraps around forward, loss and backward (for op-level watches)."""
        return contextlib.nullcontext()

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> Iterable[Diagnostic]:
        return ()

    def on_warning(self, ctx: SessionContext, warning: warnings.WarningMessage
                   ) -> Iterable[Diagnostic]:
        return ()

    def after_forward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return ()

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> Iterable[Diagnostic]:
        return ()

    def on_gradient(self, ctx: SessionContext, path: str, call_index: int,
                    grad: TensorSummary) -> Iterable[Diagnostic]:
        return ()

    def after_backward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return ()


def here_in_user_code(ctx: SessionContext) -> tuple[Optional[str], Optional[int]]:
    """The nearest user-code line on the current call stack (for detectors inside hooks)."""
    found = caller_user_frame(ctx.user_file, skip=2)
    return found if found else (ctx.user_file, None)


def module_type(module: Optional[nn.Module]) -> str:
    return type(module).__name__ if module is not None else "?"
