"""The one shape of a diagnostic rule.

A rule overrides the events it takes part in (the others cost nothing: the diagnostician calls a
rule only for the events it overrides) and names the codes it reports (``reports``). Every event
runs on the session thread and may look at live tensors; what a rule returns is immutable
Diagnostic objects. Rules of one session share a :class:`~.op_watch.WatchState` (which module made which
tensor, the op that failed); the registered list is in ``rules.py``.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, ContextManager, Iterable, Optional

from ..recording.events import Diagnostic, Phase, TensorSummary
from ..usercode.context import ActiveCall, SessionContext
from .op_watch import WatchState

# The events, in the order a run meets them (``explain`` whenever forward, loss or backward
# raises).
EVENTS = ("after_build", "phase_guard", "on_module_output", "on_warning", "after_forward",
          "on_loss", "after_backward", "explain")


class Rule:
    """Base of every rule: override the events you take part in; list the codes you report."""

    name: ClassVar[str] = "rule"  # shown in the log when the rule raises and is skipped
    reports: ClassVar[tuple[str, ...]] = ()  # the codes it reports (constants of codes.py)

    def __init__(self, state: WatchState) -> None:
        self.state = state

    @classmethod
    def events(cls) -> tuple[str, ...]:
        """The events this rule takes part in: those it overrides."""
        return tuple(event for event in EVENTS if getattr(cls, event) is not getattr(Rule, event))

    def after_build(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        """The model is built and on its device; no module has run."""
        return ()

    def phase_guard(self, phase: Phase, ctx: SessionContext) -> Optional[ContextManager[Any]]:
        """A context entered around forward, loss or backward (an op watch), or None."""
        return None

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> Iterable[Diagnostic]:
        """A module call returned (every call, so keep it cheap)."""
        return ()

    def on_warning(self, ctx: SessionContext, warning: warnings.WarningMessage
                   ) -> Iterable[Diagnostic]:
        """The user's code (or torch) issued a Python warning."""
        return ()

    def after_forward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return ()

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> Iterable[Diagnostic]:
        return ()

    def after_backward(self, ctx: SessionContext) -> Iterable[Diagnostic]:
        return ()

    def explain(self, exc: BaseException, phase: Phase, ctx: SessionContext,
                failing: Optional[ActiveCall]) -> Optional[Diagnostic]:
        """The diagnostic for an exception raised in forward, loss or backward, or None when
        the rule does not recognise it (the first rule that does wins)."""
        return None
