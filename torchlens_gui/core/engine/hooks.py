"""Module hooks: one global forward-pre and forward hook for every module call of the session
thread, and a tensor hook on each output for backward.

Global hooks (rather than one per module) see modules that are not registered under the root,
cost nothing to install on a model of 10,000 modules, and are removed with two handles. Hooks on
output tensors cost far less in backward than full module backward hooks, and parameter
gradients are read once after backward.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

import torch
import torch.nn as nn
from torch.nn.modules import module as nn_module

from ..recording import events as ev
from ..recording.events import PauseKind, PauseReason, Phase
from ..usercode.context import ActiveCall, SessionContext
from ..diagnostics import Diagnostician
from ..diagnostics.sources import assigned_name
from .gate import StepGate
from .histogram_keeper import HistogramKeeper, paired
from ..statistics.stats import HISTOGRAMS_AUTO, HISTOGRAMS_ON_PROBLEM, SummaryCache, summarize_many, \
    summarize_nested
from ..recording.paths import escape_name, join_path
from ..recording.structures import leaves, tensors
from .tensor_keeper import TensorKeeper
from ..usercode.tree import describe_module_tree
from ..usercode.user_frames import caller_user_frame


_get_ident = threading.get_ident
_perf_counter = time.perf_counter
_Tensor = torch.Tensor
_DisableTorchFunction = torch._C.DisableTorchFunction


class ModuleHooks:
    """Records every module call of the session thread and lets the step gate pause it.

    ``histograms`` is True, False or "auto": histograms only while the gate is not free-running
    (someone is stepping or has breakpoints) and for tensors holding NaN/Inf. Summaries of
    tensors already summarised (a module's input is the previous module's output) are reused.
    """

    def __init__(self, ctx: SessionContext, emit: Callable[[ev.Event], None], gate: StepGate,
                 diagnostician: Diagnostician, report: Callable[[ev.Diagnostic], None],
                 values: bool = True, histograms: bool = False, zeros: bool = True,
                 tensor_keeper: Optional[TensorKeeper] = None) -> None:
        self.ctx = ctx
        self.emit = emit
        self.gate = gate
        self.diagnostician = diagnostician
        self.report = report
        self.values = values
        self.histograms = histograms
        self.zeros = zeros  # count non-zeros (zero_fraction): the costliest statistic
        self.tensor_keeper = tensor_keeper  # copies of actual tensors (viewer, snapshots), or None
        self.cache = SummaryCache()
        # "auto": tensors summarised without a histogram are held a while, so the calls around
        # a problem (and the last calls of the run) can be given one after all.
        self.keeper = HistogramKeeper(emit) if histograms == HISTOGRAMS_AUTO else None
        self.thread = threading.get_ident()
        self.call_counts: dict[str, int] = {}
        self._handles: list[Any] = []
        self._unregistered_names = 0

    # ---- install / remove -------------------------------------------------------------------

    def install(self) -> None:
        self._handles.append(nn_module.register_module_forward_pre_hook(self._on_enter))
        self._handles.append(
            nn_module.register_module_forward_hook(self._on_exit, with_kwargs=True))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
            # handle.remove() leaves the id in this table (torch 2.x): one entry per run.
            nn_module._global_forward_hooks_with_kwargs.pop(handle.id, None)
        self._handles.clear()
        self.cache.clear()
        if self.keeper is not None:
            self.keeper.clear()

    def keep_histograms(self, failing: Optional[ActiveCall] = None) -> None:
        """Give the recently held tensors (and ``failing``'s inputs) their histograms: a
        problem happened or the forward ended."""
        if self.keeper is not None:
            if failing is not None and failing.args is not None:
                self.keeper.hold(paired(failing.args, failing.inputs))
            self.keeper.keep()

    def histogram_wanted(self, phase: Optional[Phase] = None, kind: Optional[PauseKind] = None,
                         path: str = "", depth: int = 0):
        """What to ask summaries for now: True, False or "problem" (only NaN/Inf tensors).

        With "auto", histograms are made where the session is about to pause: at the event
        (phase, kind, path, depth) when the gate will stop there, and for anything else only at
        a problem. Stepping over a large module thus costs no histogram for what runs inside
        it. Without an event (the parameters at the end), whenever someone is stepping."""
        wanted = self.histograms
        if wanted != HISTOGRAMS_AUTO:
            return wanted
        gate = self.gate
        if gate.free_running:
            return HISTOGRAMS_ON_PROBLEM
        if phase is None or gate.should_pause(phase, kind, path, depth) is not None:
            return True
        return HISTOGRAMS_ON_PROBLEM

    # ---- forward ----------------------------------------------------------------------------

    def _on_enter(self, module: nn.Module, args: tuple) -> None:
        ctx = self.ctx
        if ctx.phase != Phase.FORWARD or ctx.hooks_suspended or _get_ident() != self.thread:
            return
        path, call_index = self._next_call(module)
        depth = len(ctx.stack)
        histogram = self.histogram_wanted(Phase.FORWARD, PauseKind.ENTER, path, depth)
        inputs = summarize_nested(args, "", values=self.values, cache=self.cache,
                                  histogram=histogram, zeros=self.zeros)
        if depth == 0 and self.keeper is not None and histogram == HISTOGRAMS_ON_PROBLEM:
            self.keeper.hold(paired(args, inputs))  # the model's input: no module produced it
        ctx.stack.append(ActiveCall(module, path, call_index, depth,
                                     _perf_counter() - self.gate.paused_seconds, inputs,
                                     args=args if self.keeper is not None else None))
        self.emit(ev.ModuleEntered(path, call_index, depth, inputs))
        gate = self.gate
        if self.tensor_keeper is not None and self.tensor_keeper.wants(
                path, pausing=not gate.free_running
                and gate.should_pause(Phase.FORWARD, PauseKind.ENTER, path, depth) is not None):
            self._keep(path, call_index, "input", leaves(args, ""))
        if not gate.free_running:  # free-running: nothing but a problem pauses
            gate.checkpoint(Phase.FORWARD, PauseKind.ENTER, path, call_index, depth)

    def _next_call(self, module: nn.Module) -> tuple[str, int]:
        """The module's path (adopting an unregistered one) and the index of this call."""
        path = self.ctx.paths.get(id(module))
        if path is None:
            path = self._adopt_unregistered(module)
        call_index = self.call_counts.get(path, 0)
        self.call_counts[path] = call_index + 1
        return path, call_index

    def _on_exit(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        ctx = self.ctx
        if ctx.phase != Phase.FORWARD or ctx.hooks_suspended or _get_ident() != self.thread:
            return
        call = self._pop(module)
        if call is None:
            return
        elapsed = _perf_counter() - self.gate.paused_seconds - call.started
        inputs = call.inputs
        histogram = self.histogram_wanted(Phase.FORWARD, PauseKind.EXIT, call.path, call.depth)
        if kwargs:
            inputs = inputs + summarize_nested(kwargs, "", values=self.values,
                                               histogram=histogram, cache=self.cache,
                                               zeros=self.zeros)
        outputs = summarize_nested(output, "", values=self.values, histogram=histogram,
                                   cache=self.cache, zeros=self.zeros)
        self.emit(ev.ModuleExited(call.path, call.call_index, call.depth, inputs, outputs, elapsed))

        born_here = self._track_nonfinite(call, inputs, outputs)
        if self.keeper is not None and histogram == HISTOGRAMS_ON_PROBLEM:
            self.keeper.hold(paired(output, outputs))
            if born_here:  # the birth of a NaN/Inf: this call and its inputs' producers
                self.keeper.hold(paired(args, call.inputs))
                self.keeper.keep()
        found = False
        for diagnostic in self.diagnostician.on_module_output(ctx, call, args, kwargs, output,
                                                              inputs, outputs):
            self.report(diagnostic)
            found = True
        if torch.is_grad_enabled():
            self._hook_gradients(call, output)
        gate = self.gate
        if self.tensor_keeper is not None:
            pausing = (born_here and gate.problem_pause_wanted(PauseReason.NON_FINITE)) or (
                not gate.free_running and gate.should_pause(
                    Phase.FORWARD, PauseKind.EXIT, call.path, call.depth) is not None)
            problem = found or born_here  # not every call a NaN merely passes through
            if self.tensor_keeper.wants(call.path, pausing=pausing, problem=problem):
                self._keep(call.path, call.call_index, "input", leaves(args, "")
                           + (leaves(kwargs, "") if kwargs else []))
                self._keep(call.path, call.call_index, "output", leaves(output, ""))
        if born_here and gate.problem_pause_wanted(PauseReason.NON_FINITE):
            gate.pause(ev.PauseLocation(Phase.FORWARD, PauseKind.EXIT, call.path, call.call_index,
                                        call.depth, PauseReason.NON_FINITE))
        elif not gate.free_running:
            gate.checkpoint(Phase.FORWARD, PauseKind.EXIT, call.path, call.call_index, call.depth)

    def _pop(self, module: nn.Module) -> Optional[ActiveCall]:
        stack = self.ctx.stack
        # A forward that caught an exception of a child leaves that child on the stack: unwind.
        while stack and stack[-1].module is not module:
            stack.pop()
        return stack.pop() if stack else None

    def _track_nonfinite(self, call: ActiveCall, inputs, outputs) -> bool:
        """True when this call is where a non-finite value was born (finite in, non-finite out,
        and no module inside it already produced one)."""
        out_bad = any(s.nan or s.inf for s in outputs)
        if not out_bad:
            return False
        born = not call.child_nonfinite and not any(s.nan or s.inf for s in inputs)
        if self.ctx.stack:
            self.ctx.stack[-1].child_nonfinite = True
        return born

    # ---- backward ---------------------------------------------------------------------------

    def _hook_gradients(self, call: ActiveCall, output: Any) -> None:
        outs = (output,) if isinstance(output, _Tensor) else tensors(output)
        with _DisableTorchFunction():  # our bookkeeping, not user ops for a torch-function mode
            for index, t in enumerate(outs):
                if t.requires_grad and t.is_floating_point():
                    t.register_hook(self._make_grad_hook(call.path, call.call_index, call.depth,
                                                         index))

    def _make_grad_hook(self, path: str, call_index: int, depth: int, index: int):
        name = f"grad[{index}]"

        def on_grad(grad: torch.Tensor) -> None:
            if self.ctx.phase != Phase.BACKWARD or _get_ident() != self.thread:
                return
            # The same gradient often reaches a container and its last child: cached.
            histogram = self.histogram_wanted(Phase.BACKWARD, PauseKind.GRAD, path, depth)
            summary = summarize_many(((name, grad),), values=self.values,
                                     histogram=histogram, cache=self.cache, zeros=self.zeros)[0]
            self.emit(ev.GradientArrived(path, call_index, depth, index, summary))
            gate = self.gate
            if self.tensor_keeper is not None and self.tensor_keeper.wants(
                    path, problem=not summary.finite,
                    pausing=not gate.free_running
                    and gate.should_pause(Phase.BACKWARD, PauseKind.GRAD, path, depth) is not None):
                self._keep(path, call_index, "grad", ((name, grad),))
            if not gate.free_running:
                gate.checkpoint(Phase.BACKWARD, PauseKind.GRAD, path, call_index, depth)

        return on_grad

    def _keep(self, path: str, call_index: int, role: str, items) -> None:
        for event in self.tensor_keeper.keep(path, call_index, role, items):
            self.emit(event)

    # ---- modules outside the registered tree --------------------------------------------------

    def _adopt_unregistered(self, module: nn.Module) -> str:
        """Give a module that is not under the root a readable path and add it (and its own
        submodules) to the tree, flagged unregistered."""
        ctx = self.ctx
        parent = ctx.stack[-1] if ctx.stack else None
        owner = parent.module if parent else ctx.model
        base = parent.path if parent else ""
        registered_as = _registered_name(owner, module)
        name = escape_name(registered_as) if registered_as is not None \
            else _attribute_name(owner, module)
        if name is None:
            self._unregistered_names += 1
            site = ctx.sites.get(module)
            # No dots in a path segment: "model.py" would split it.
            if site and ctx.sites.made_in_forward(module):  # "<proj: Linear made at line 13>"
                variable = assigned_name(site.file, site.line)
                name = f"<{variable + ': ' if variable else ''}{type(module).__name__} made " \
                       f"at line {site.line}>"
            else:
                name = f"<unregistered {type(module).__name__} #{self._unregistered_names}>"
        path = join_path(base, name)
        if path in ctx.modules:  # a new module from the same line (forward ran again)
            path = f"{path[:-1]} #{self._unregistered_names}>"
        parent_depth = ctx.record.nodes[base].depth if base in ctx.record.nodes else -1
        # add_module (or an attribute assignment) during forward registers it under its owner
        # after the tree was read: registered, but new; anything else is unregistered.
        entries = describe_module_tree(module, ctx.sites, prefix=path, parent=base,
                                       depth=parent_depth + 1,
                                       registered=registered_as is not None)
        called_at = caller_user_frame(ctx.user_file, skip=2) if registered_as is not None \
            else None
        for node, sub in entries:
            ctx.paths[id(sub)] = node.path
            ctx.modules[node.path] = sub
            if registered_as is not None:
                ctx.added_in_forward[node.path] = (sub, called_at)
            else:
                ctx.unregistered[node.path] = sub
            self.emit(ev.ModuleAdded(node))
        return path


def _registered_name(owner: Optional[nn.Module], target: nn.Module) -> Optional[str]:
    """The name ``owner`` registered ``target`` under (in its ``_modules``), if it did."""
    table = getattr(owner, "_modules", None) if owner is not None else None
    if isinstance(table, dict):
        for key, item in table.items():
            if item is target:
                return key
    return None


def _attribute_name(owner: Optional[nn.Module], target: nn.Module) -> Optional[str]:
    """How ``owner`` holds ``target`` in a plain attribute: "layers[2]", "heads['a']", "fc"."""
    if owner is None:
        return None
    for attr, value in vars(owner).items():
        if value is target:
            return attr
        if attr == "_modules":  # registered children are named by _registered_name
            continue
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if item is target:
                    return f"{attr}[{index}]"
        elif isinstance(value, dict):
            for key, item in value.items():
                if item is target:
                    return f"{attr}[{key!r}]"
    return None
