"""RunRecord: everything a session reported, rebuilt from its events alone.

The session keeps one (its detectors read it; the CLI reports it); the GUI keeps one on its own
thread for the tree and panels. Because it is fed only immutable events, each owner can read it
without locks. The queries below answer the run's domain questions once (where a NaN was
born, a module's gradient norm, its diagnostics) so that every view asks instead of
recomputing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Collection, Optional

from . import events as ev
from .steps import KeptStep, StepHistory


@dataclass
class CallRecord:
    """One call of one module: what went in, what came out, gradients that arrived at it."""

    path: str
    call_index: int
    depth: int
    order: int  # position in execution order
    inputs: tuple[ev.TensorSummary, ...] = ()
    outputs: tuple[ev.TensorSummary, ...] = ()
    elapsed_s: Optional[float] = None
    status: ev.CallStatus = ev.CallStatus.RUNNING
    grads: dict[int, ev.TensorSummary] = field(default_factory=dict)
    grad_order: Optional[int] = None  # position in backward order of the first gradient

    @property
    def key(self) -> ev.CallKey:
        return ev.CallKey(self.path, self.call_index)

    @property
    def output_nonfinite(self) -> bool:
        return _any_nonfinite(self.outputs)

    @property
    def input_nonfinite(self) -> bool:
        return _any_nonfinite(self.inputs)

    @property
    def grad_nonfinite(self) -> bool:
        return _any_nonfinite(self.grads.values())

    @property
    def output_nonfinite_count(self) -> int:
        """NaN + Inf elements over the call's outputs."""
        return sum(s.nan + s.inf for s in self.outputs)

    @property
    def output_grad(self) -> Optional[ev.TensorSummary]:
        """The gradient that arrived at the call's first output that got one."""
        return self.grads[min(self.grads)] if self.grads else None


def _any_nonfinite(summaries) -> bool:
    # A plain loop, not any() over a generator: the GUI asks this of every call of a run on
    # its own thread (10,000 modules: the NaN/Inf chart's refresh).
    for summary in summaries:
        if summary.nan or summary.inf:
            return True
    return False


HISTOGRAM_LOOKBACK_CALLS = 256


def _same_tensor_key(s: ev.TensorSummary) -> tuple:
    """What tells one tensor's summary from another's, whatever name it was reported under."""
    return (s.shape, s.dtype, s.device, s.numel, s.min, s.max, s.mean, s.std, s.norm, s.nan,
            s.inf)


def _with_histograms(summaries: tuple[ev.TensorSummary, ...], hists: dict
                     ) -> tuple[ev.TensorSummary, ...]:
    out: Optional[list] = None
    for index, s in enumerate(summaries):
        if s.hist is None and s.min is not None:
            hist = hists.get(_same_tensor_key(s))
            if hist is not None:
                out = out or list(summaries)
                out[index] = replace(s, hist=hist)
    return summaries if out is None else tuple(out)


class RunRecord:
    """Accumulates events into a queryable picture of the run."""

    MAX_LOG_CHARS = 200_000

    def __init__(self) -> None:
        self.file: Optional[str] = None
        self.device: str = ""
        self.dry_run = False
        self.phase = ev.Phase.LOAD
        self.status: Optional[ev.RunStatus] = None  # set when the session ended
        self.nodes: dict[str, ev.ModuleNode] = {}
        self.calls: list[CallRecord] = []
        self.calls_by_key: dict[ev.CallKey, CallRecord] = {}
        self.calls_by_path: dict[str, list[CallRecord]] = {}
        self.backward_order: list[ev.CallKey] = []
        self.diagnostics: list[ev.Diagnostic] = []
        self.loss: Optional[ev.LossComputed] = None
        self.paused_at: Optional[ev.PauseLocation] = None
        self.log: list[tuple[str, str]] = []
        self._log_chars = 0
        self.elapsed_s = 0.0
        # CPU copies the session kept for the tensor viewer and snapshots:
        # (path, call_index, role "input"|"output"|"grad", summary name) -> tensor
        self.tensors: dict[tuple[str, int, str, str], Any] = {}
        # Set on a record read from a snapshot file (None for a live run).
        self.snapshot: Optional[Any] = None
        self._handlers: dict[type, Optional[Callable[[Any], None]]] = {}
        # calls_by_key without building a CallKey per lookup (the hot path of every event)
        self._calls_by_pair: dict[tuple[str, int], CallRecord] = {}
        # Training runs: figures of every step, full records of a bounded few. The calls above
        # are always the current step's.
        self.steps = StepHistory()
        self.step: Optional[int] = None
        self._step_diagnostics = 0  # len(diagnostics) when the current step started
        self.calls_step: Optional[int] = None  # the step the calls are of (None: no steps)

    # ---- feeding ---------------------------------------------------------------------------

    def apply(self, event: ev.Event) -> None:
        kind = type(event)
        try:
            handler = self._handlers[kind]
        except KeyError:  # first event of this type: find its handler once
            handler = self._handlers[kind] = getattr(self, "_on_" + kind.__name__, None)
        if handler is not None:
            handler(event)

    def _on_SessionStarted(self, e: ev.SessionStarted) -> None:
        self.file, self.device, self.dry_run = e.file, e.device, e.dry_run

    def _on_PhaseChanged(self, e: ev.PhaseChanged) -> None:
        self.phase = e.phase

    def _on_TreeBuilt(self, e: ev.TreeBuilt) -> None:
        self.nodes = {n.path: n for n in e.nodes}

    def _on_ModuleAdded(self, e: ev.ModuleAdded) -> None:
        self.nodes[e.node.path] = e.node

    def _on_ModuleEntered(self, e: ev.ModuleEntered) -> None:
        self.add_call(CallRecord(e.path, e.call_index, e.depth, len(self.calls), inputs=e.inputs))

    def add_call(self, call: CallRecord) -> None:
        """Append a call in execution order and index it (events, or a snapshot being read)."""
        self.calls.append(call)
        self.calls_by_key[ev.CallKey(call.path, call.call_index)] = call
        self._calls_by_pair[(call.path, call.call_index)] = call
        calls = self.calls_by_path.get(call.path)
        if calls is None:
            self.calls_by_path[call.path] = [call]
        else:
            calls.append(call)

    def _call(self, path: str, call_index: int) -> Optional[CallRecord]:
        call = self._calls_by_pair.get((path, call_index))
        if call is None:  # a record fed through calls_by_key by hand
            call = self.calls_by_key.get(ev.CallKey(path, call_index))
        return call

    def _on_ModuleExited(self, e: ev.ModuleExited) -> None:
        call = self._call(e.path, e.call_index)
        if call is not None:
            call.inputs, call.outputs = e.inputs, e.outputs
            call.elapsed_s, call.status = e.elapsed_s, ev.CallStatus.DONE

    def _on_ModuleFailed(self, e: ev.ModuleFailed) -> None:
        call = self._call(e.path, e.call_index)
        if call is not None:
            call.status = ev.CallStatus.FAILED

    def _on_GradientArrived(self, e: ev.GradientArrived) -> None:
        call = self._call(e.path, e.call_index)
        if call is not None:
            if call.grad_order is None:
                call.grad_order = len(self.backward_order)
                self.backward_order.append(call.key)
            call.grads[e.output_index] = e.grad

    def _on_HistogramsKept(self, e: ev.HistogramsKept) -> None:
        # The tensors were held for the last few calls only: look that far back.
        hists = {_same_tensor_key(summary): hist for summary, hist in e.histograms}
        for call in self.calls[-HISTOGRAM_LOOKBACK_CALLS:]:
            call.inputs = _with_histograms(call.inputs, hists)
            call.outputs = _with_histograms(call.outputs, hists)

    def _on_ParamsUpdated(self, e: ev.ParamsUpdated) -> None:
        for path, params in e.params:
            node = self.nodes.get(path)
            if node is not None:
                self.nodes[path] = _replaced(node, params=params,
                                             param_count=sum(p.numel for p in params))

    def _on_TensorKept(self, e: ev.TensorKept) -> None:
        self.tensors[(e.path, e.call_index, e.role, e.name)] = e.tensor

    def _on_LossComputed(self, e: ev.LossComputed) -> None:
        self.loss = e

    def _on_DiagnosticRaised(self, e: ev.DiagnosticRaised) -> None:
        self.diagnostics.append(e.diagnostic)

    def _on_Paused(self, e: ev.Paused) -> None:
        self.paused_at = e.location

    def _on_Resumed(self, e: ev.Resumed) -> None:
        self.paused_at = None

    def _on_LogWritten(self, e: ev.LogWritten) -> None:
        if self._log_chars < self.MAX_LOG_CHARS:
            self.log.append((e.stream, e.text))
            self._log_chars += len(e.text)

    def _on_StepStarted(self, e: ev.StepStarted) -> None:
        if self.step is not None:  # the previous step's calls stay with its KeptStep
            self.calls, self.calls_by_key, self.calls_by_path = [], {}, {}
            self._calls_by_pair, self.backward_order, self.loss = {}, [], None
        self.step = self.calls_step = e.step
        self._step_diagnostics = len(self.diagnostics)

    def _on_StepEnded(self, e: ev.StepEnded) -> None:
        figures = e.figures
        problem = bool(figures.nonfinite) or self.step_has_problem()
        kept = KeptStep(figures.step, self.calls, self.backward_order, self.loss, problem) \
            if self.calls else None
        self.steps.add(figures, e.modules, kept)

    def show_step(self, step: int) -> bool:
        """Make a kept step's module calls the current ones (the report and the tree show
        them); False when that step's full record was not kept."""
        kept = self.steps.kept.get(step)
        if kept is None:
            return False
        self.calls, self.backward_order, self.loss = kept.calls, kept.backward_order, kept.loss
        self.calls_step = step
        self.calls_by_path, self.calls_by_key, self._calls_by_pair = {}, {}, {}
        for call in kept.calls:
            self.calls_by_path.setdefault(call.path, []).append(call)
            self.calls_by_key[call.key] = call
            self._calls_by_pair[(call.path, call.call_index)] = call
        return True

    def _on_SessionEnded(self, e: ev.SessionEnded) -> None:
        if not self.calls and self.steps.kept:  # a light last step: show the last full one
            full = [step for step in self.steps.kept if self.steps.figures(step).full]
            self.show_step(max(full or self.steps.kept))
        self.status, self.elapsed_s = e.status, e.elapsed_s
        self.paused_at = None

    # ---- queries ---------------------------------------------------------------------------

    def step_has_problem(self) -> bool:
        """Whether an error or warning was raised in the current training step."""
        return any(d.severity in ("error", "warning")
                   for d in self.diagnostics[self._step_diagnostics:])

    def calls_of(self, path: str) -> list[CallRecord]:
        return self.calls_by_path.get(path, [])

    def last_call(self, path: str) -> Optional[CallRecord]:
        calls = self.calls_by_path.get(path)
        return calls[-1] if calls else None

    def children(self, path: Optional[str]) -> list[ev.ModuleNode]:
        return [n for n in self.nodes.values() if n.parent == path]

    def grad_norm(self, path: str) -> Optional[float]:
        """L2 norm over the gradients of a module's own parameters (None if it has none)."""
        node = self.nodes.get(path)
        if node is None:
            return None
        norms = [p.grad.norm for p in node.params if p.grad is not None and p.grad.norm is not None]
        return sum(n * n for n in norms) ** 0.5 if norms else None

    def module_grad_norm(self, path: str, call: Optional[CallRecord] = None
                         ) -> tuple[Optional[float], bool]:
        """The gradient norm that stands for a module, and whether it is its parameters':
        (grad_norm(path), True) once its own parameters have gradients, else the norm of the
        gradient that arrived at ``call``'s output (default: the module's last call), False.
        (None, False) when it has neither. A non-finite gradient's norm is over its finite
        values, as every summary's."""
        norm = self.grad_norm(path)
        if norm is not None:
            return norm, True
        call = call if call is not None else self.last_call(path)
        grad = call.output_grad if call is not None else None
        return (grad.norm if grad is not None else None), False

    def nonfinite_origin(self) -> Optional[CallRecord]:
        """Where the first NaN/Inf of the forward was born: the first call whose inputs were
        finite and outputs were not, and inside which no call did the same."""
        calls = self.calls
        candidates = [c for c in calls if c.output_nonfinite and not c.input_nonfinite]
        orders = {c.order for c in candidates}
        for candidate in candidates:
            inner = False
            for later in calls[candidate.order + 1:]:
                if later.depth <= candidate.depth:
                    break
                if later.order in orders:
                    inner = True
                    break
            if not inner:
                return candidate
        return None

    def nonfinite_birth(self, codes: Collection[str]) -> Optional[ev.Diagnostic]:
        """The first diagnostic with one of ``codes`` (the caller passes diagnostics'
        NONFINITE_CODES: this layer sits below the codes table) of the step the calls are of
        (of the run when that is not known: a snapshot): where that NaN/Inf was born, also
        when no forward call shows it (born in backward, the loss or the optimizer's update)."""
        step = self.calls_step
        return next((d for d in self.diagnostics
                     if d.code in codes and (step is None or d.step == step)), None)

    def param_grads_nonfinite(self, path: str) -> bool:
        """Whether the gradients of a module's own parameters hold NaN/Inf, or are so large
        that their norm overflowed."""
        node = self.nodes.get(path)
        if node is None:
            return False
        for param in node.params:
            grad = param.grad
            if grad is not None and (grad.nan or grad.inf or (
                    grad.norm is not None and not math.isfinite(grad.norm))):
                return True
        return False

    def diagnostics_of(self, path: str, call_index: Optional[int] = None
                       ) -> list[ev.Diagnostic]:
        """The diagnostics that name module ``path``; with ``call_index``, those of that call
        (and those that name no call)."""
        return [d for d in self.diagnostics if d.module == path and (
            call_index is None or d.call_index is None or d.call_index == call_index)]

    def problem_paths(self) -> set[str]:
        """The modules some diagnostic names."""
        return {d.module for d in self.diagnostics if d.module is not None}

    def problem_beside(self, path: Optional[str]) -> Optional[ev.Diagnostic]:
        """The diagnostic whose line to show beside module ``path``: its own first one with a
        line, else the run's first error with a line."""
        return next((d for d in self.diagnostics if d.module == path and d.line), None) \
            or next((d for d in self.diagnostics if d.severity == "error" and d.line), None)



def _replaced(obj, **changes):
    """dataclasses.replace for a frozen dataclass, in a fraction of the time (one event can
    replace 10,000 nodes): a copy of the instance dict with the changes. Falls back to
    replace() for classes with slots or a __post_init__."""
    cls = type(obj)
    if hasattr(cls, "__post_init__") or not hasattr(obj, "__dict__"):
        return replace(obj, **changes)
    new = object.__new__(cls)
    state = new.__dict__
    for key, value in obj.__dict__.items():  # in field order: the dict keeps sharing its keys
        state[key] = changes[key] if key in changes else value
    return new
