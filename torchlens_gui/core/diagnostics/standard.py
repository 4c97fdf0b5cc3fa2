"""The diagnostician every front door uses: all detectors behind the session's call points.

Each detector call is wrapped: a detector that raises is dropped for that call (and noted once
in the log as a warning), so a bug in a detector can never break a session; an exception the
explainers cannot handle falls back to ``runtime-error``.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any, Callable, ContextManager, Iterable, Optional

from ..usercode.context import ActiveCall, SessionContext
from ..recording.events import Diagnostic, TensorSummary
from .base import Diagnostician
from .exceptions import ExceptionExplainer
from .gradients import GradientChecks
from .loss import WATCHED_LOSSES, LossChecks
from .loss_logic import LossLogicWatch
from .nonfinite import NonFiniteDetector
from .op_watch import OpWatch, WatchState
from .structure import StructureChecks


class StandardDiagnostician(Diagnostician):
    """Shape, dtype, device, in-place, loss, NaN/Inf, gradient and structure diagnostics."""

    def __init__(self) -> None:
        self.watch_state = WatchState()
        self.explainer = ExceptionExplainer(self.watch_state)
        self.nonfinite = NonFiniteDetector()
        self.gradients = GradientChecks(self.watch_state)
        self.structure = StructureChecks()
        self._loss_checks: Optional[LossChecks] = None
        self._loss_logic: Optional[LossLogicWatch] = None
        self.broken: list[str] = []  # detectors that raised (kept for tests and the log)

    # ---- safety -------------------------------------------------------------------------------

    def _safe(self, name: str, detector: Callable[[], Iterable[Diagnostic]]) -> list[Diagnostic]:
        """Run one detector; a detector that raises yields nothing instead of breaking the run."""
        try:
            return list(detector() or ())
        except Exception as exc:  # a detector bug must never end the user's session
            if name not in self.broken:
                self.broken.append(name)
                print(f"torchlens-gui: the {name} detector failed and was skipped: "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return []

    def loss_checks(self, ctx: SessionContext) -> LossChecks:
        if self._loss_checks is None or self._loss_checks.ctx is not ctx:
            self._loss_checks = LossChecks(ctx)
        return self._loss_checks

    def _pending(self, ctx: SessionContext) -> list[Diagnostic]:
        return self.loss_checks(ctx).take_pending()

    # ---- call points --------------------------------------------------------------------------

    def explain_exception(self, exc: BaseException, phase: str, ctx: SessionContext,
                          failing: Optional[ActiveCall]) -> Diagnostic:
        found = self._safe("exception", lambda: [self.explainer.explain(exc, phase, ctx,
                                                                         failing)])
        found = [d for d in found if d is not None]
        return found[0] if found else self.runtime_error(exc, phase, ctx, failing)

    def after_build(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return self._safe("structure", lambda: self.structure.after_build(ctx))

    def phase_guard(self, phase: str, ctx: SessionContext) -> ContextManager[Any]:
        stack = contextlib.ExitStack()
        try:
            if phase in ("forward", "loss"):
                checks = self.loss_checks(ctx)
                stack.enter_context(OpWatch(ctx, self.watch_state, checks.before_loss,
                                            WATCHED_LOSSES))
            if phase == "loss" and not ctx.dry_run:
                stack.enter_context(self.nonfinite.loss_tracer_for(ctx))
                self._loss_logic = stack.enter_context(LossLogicWatch(ctx, self.watch_state))
        except Exception:
            stack.close()
            return contextlib.nullcontext()
        return stack

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> Iterable[Diagnostic]:
        self._safe("producers", lambda: self.watch_state.note_outputs(call.path, output))
        found = self._safe("non-finite", lambda: self.nonfinite.on_module_output(
            ctx, call, args, kwargs, inputs, outputs))
        found += self._safe("gradient-graph", lambda: self.gradients.on_module_output(
            ctx, call, args, output))
        if ctx.dry_run:
            found += self._safe("dry-run dtype", lambda: self.structure.dry_run_dtypes(
                ctx, call, inputs))
        return found

    def on_warning(self, ctx: SessionContext, warning: warnings.WarningMessage
                   ) -> Iterable[Diagnostic]:
        def from_warning():
            checks = self.loss_checks(ctx)
            found = checks.from_warning(str(warning.message), warning.filename, warning.lineno)
            return [found] if found is not None else []

        return self._safe("warning", from_warning)

    def after_forward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        found = self._pending(ctx)
        found += self._safe("non-finite inputs", lambda: self.nonfinite.check_model_inputs(ctx))
        found += self._safe("structure", lambda: self.structure.after_forward(ctx))
        return found

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> Iterable[Diagnostic]:
        found = self._pending(ctx)
        found += self._safe("non-finite loss", lambda: self.nonfinite.on_loss(
            ctx, output, loss_value))
        found += self._safe("gradient-graph", lambda: self.gradients.on_loss(
            ctx, output, loss_value, surrogate))
        if self._loss_logic is not None:
            found += self._loss_logic.found
        return found

    def on_gradient(self, ctx: SessionContext, path: str, call_index: int,
                    grad: TensorSummary) -> Iterable[Diagnostic]:
        return ()

    def after_backward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return self._safe("gradients", lambda: self.gradients.after_backward(ctx))
