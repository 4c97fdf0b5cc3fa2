"""The diagnostician: what the session calls at each point of a run, dispatched to the rules.

Every rule call is wrapped: a rule that raises is dropped for that call (and noted once on
stderr), so a bug in a rule can never break a session; an exception no rule explains falls back
to ``runtime-error``. ``Diagnostician()`` with no rules knows only the fallbacks (the overhead
benchmark uses it to measure the engine alone).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any, Callable, ContextManager, Iterable, Optional, Sequence

from ..recording.events import Diagnostic, Phase, TensorSummary
from ..usercode.context import ActiveCall, SessionContext
from ..usercode.loader import format_exception_only
from . import codes
from .rule import EVENTS, Rule
from .run_failures import user_location


class Diagnostician:
    """Turns what a session sees into Diagnostics, through ``rules`` (in their order)."""

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self.rules = tuple(rules)
        self.broken: list[str] = []  # names of rules that raised (kept for tests and the log)
        # per event, the bound methods of the rules taking part: an event no rule wants costs
        # one empty loop
        self._taking_part: dict[str, tuple[tuple[str, Callable], ...]] = {
            event: tuple((rule.name, getattr(rule, event)) for rule in self.rules
                         if event in type(rule).events())
            for event in EVENTS}

    # ---- safety -------------------------------------------------------------------------------

    def _note_broken(self, name: str, exc: Exception) -> None:
        if name not in self.broken:
            self.broken.append(name)
            print(f"torchlens-gui: the {name} detector failed and was skipped: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)

    def _each(self, event: str, *args: Any) -> list[Diagnostic]:
        """Every rule taking part in ``event``; a rule that raises yields nothing."""
        found: list[Diagnostic] = []
        for name, method in self._taking_part[event]:
            try:
                found.extend(method(*args) or ())
            except Exception as exc:  # a rule's bug must never end the user's session
                self._note_broken(name, exc)
        return found

    # ---- fallbacks ----------------------------------------------------------------------------

    def creation_error(self, exc: BaseException, ctx: SessionContext) -> Diagnostic:
        file, line = user_location(exc, ctx)
        return Diagnostic(
            code=codes.CREATION_ERROR, severity="error", phase=Phase.BUILD,
            message=f"build_model() raised {format_exception_only(exc)}",
            file=file, line=line,
            fix="Fix the constructor call at the marked line (arguments, sizes, typos).",
        )

    def runtime_error(self, exc: BaseException, phase: Phase, ctx: SessionContext,
                      failing: Optional[ActiveCall]) -> Diagnostic:
        """Any exception in forward, loss or backward: the fallback when nothing specific fits."""
        file, line = user_location(exc, ctx)
        where = f" in {failing.path or '(root)'} ({type(failing.module).__name__})" if failing else ""
        return Diagnostic(
            code=codes.RUNTIME_ERROR, severity="error", phase=phase,
            message=f"{format_exception_only(exc)}{where}",
            module=failing.path if failing else None,
            call_index=failing.call_index if failing else None,
            file=file, line=line,
            fix="Read the message and the marked line; step to the module to inspect its inputs.",
        )

    # ---- the session's call points ------------------------------------------------------------

    def explain_exception(self, exc: BaseException, phase: Phase, ctx: SessionContext,
                          failing: Optional[ActiveCall]) -> Diagnostic:
        """The one diagnostic for an exception raised in forward, loss or backward."""
        for name, explain in self._taking_part["explain"]:
            try:
                found = explain(exc, phase, ctx, failing)
            except Exception as error:
                self._note_broken(name, error)
                continue
            if found is not None:
                return found
        return self.runtime_error(exc, phase, ctx, failing)

    def after_build(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return self._each("after_build", ctx)

    def phase_guard(self, phase: Phase, ctx: SessionContext) -> ContextManager[Any]:
        """The rules' contexts (op watches) around forward, loss or backward, entered in the
        rules' order; one that fails to start is left out."""
        stack = contextlib.ExitStack()
        for name, guard_for in self._taking_part["phase_guard"]:
            try:
                guard = guard_for(phase, ctx)
                if guard is not None:
                    stack.enter_context(guard)
            except Exception as exc:
                self._note_broken(name, exc)
        return stack

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> Iterable[Diagnostic]:
        return self._each("on_module_output", ctx, call, args, kwargs, output, inputs, outputs)

    def on_warning(self, ctx: SessionContext, warning: warnings.WarningMessage
                   ) -> Iterable[Diagnostic]:
        return self._each("on_warning", ctx, warning)

    def after_forward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return self._each("after_forward", ctx)

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> Iterable[Diagnostic]:
        return self._each("on_loss", ctx, output, loss_value, surrogate)

    def after_backward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return self._each("after_backward", ctx)
