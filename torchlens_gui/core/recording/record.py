"""RunRecord: everything a session reported, rebuilt from its events alone.

The session keeps one for its diagnostics; the CLI keeps one for the report; the GUI keeps one on
its own thread for the tree and panels. Because it is fed only immutable events, each owner can
read it without locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

from . import events as ev


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
    status: str = "running"  # running | done | failed
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
        self.status: Optional[str] = None
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
        self._handlers: dict[type, Optional[Callable[[Any], None]]] = {}
        # calls_by_key without building a CallKey per lookup (the hot path of every event)
        self._calls_by_pair: dict[tuple[str, int], CallRecord] = {}

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
        call = CallRecord(e.path, e.call_index, e.depth, len(self.calls), inputs=e.inputs)
        self.calls.append(call)
        self.calls_by_key[ev.CallKey(e.path, e.call_index)] = call
        self._calls_by_pair[(e.path, e.call_index)] = call
        calls = self.calls_by_path.get(e.path)
        if calls is None:
            self.calls_by_path[e.path] = [call]
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
            call.elapsed_s, call.status = e.elapsed_s, "done"

    def _on_ModuleFailed(self, e: ev.ModuleFailed) -> None:
        call = self._call(e.path, e.call_index)
        if call is not None:
            call.status = "failed"

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

    def _on_SessionEnded(self, e: ev.SessionEnded) -> None:
        self.status, self.elapsed_s = e.status, e.elapsed_s
        self.paused_at = None

    # ---- queries ---------------------------------------------------------------------------

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

    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


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
