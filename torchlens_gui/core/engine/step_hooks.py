"""Module hooks for runs of many steps: full recording in the steps someone looks at, a light
one in between, and outermost calls reported to the step tracker.

Light recording keeps the module stack and one finiteness test per output (a sum per tensor):
no summaries, no events. On the CPU each test is read at once; on an accelerator the tests of a
forward are read together when its outermost call returns (one host transfer per forward, not
per module). Where a light call turns finite inputs
into NaN/Inf, that call is summarised after all and handed to the detectors as in a full run, so
a problem is explained the same way whichever mode found it. The light calls are listed
(light_calls.py) and sent as events when the step pauses, turns full or ends with a problem.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Optional

import torch
import torch.nn as nn

from ..diagnostics import codes
from ..recording import events as ev
from ..recording.events import PauseKind, PauseReason, Phase
from ..recording.structures import tensors
from ..statistics.stats import all_finite, finite_probe, probe_values, summarize_nested, \
    tensor_finite
from ..usercode.context import ActiveCall
from ..usercode.tree import describe_module_tree
from ..usercode.user_frames import is_user_file
from .hooks import ModuleHooks
from .light_calls import LightCalls, counted_outputs, seen_outputs
from .steps import StepTracker

_get_ident = threading.get_ident
_is_grad_enabled = torch.is_grad_enabled
# Outputs on these devices are tested as they come (a host read costs little there); on others
# (an accelerator) a forward's tests are read together when its outermost call returns. Under
# no_grad they are tested at once too: holding an evaluation's activations would cost memory.
IMMEDIATE_DEVICES = frozenset({"cpu", "meta"})
_Tensor = torch.Tensor
_perf_counter = time.perf_counter


class StepHooks(ModuleHooks):
    """ModuleHooks that switch between full and light recording per step.

    ``roots`` (script mode) names modules called at top level that are not in the tree yet:
    a dict to look their variable name up in (the script's globals), or None when the session
    built the model itself."""

    def __init__(self, *args: Any, tracker: StepTracker, roots: Optional[dict] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = tracker
        self.roots = roots
        self._counted_step = 0
        # The last single output tested (held, so its identity cannot be reused) and its
        # version counter then.
        self._last_tested: Optional[torch.Tensor] = None
        self._last_version = -1
        self._last_call: Optional[ActiveCall] = None  # the light call that returned it
        self._last_finite = False  # and it was tested finite
        self._deferred: list[tuple] = []  # outputs on an accelerator, tested per forward
        self._aliases: list[tuple] = []  # (call, the deferred call whose output it returned)
        self.light = LightCalls()
        tracker.before_step_ended = self._on_step_ending

    def _on_enter(self, module: nn.Module, args: tuple) -> None:
        ctx = self.ctx
        if ctx.phase != "forward" or ctx.hooks_suspended or _get_ident() != self.thread:
            return
        tracker = self.tracker
        if not ctx.stack:
            if self._deferred:  # a forward that raised before its outermost call returned
                self._settle()
            if self.roots is not None and id(module) not in ctx.paths:
                self._adopt_root(module)
            tracker.top_level_call(ctx.paths.get(id(module), ""), args)
        if tracker.step != self._counted_step:  # call indices count within a step
            self._counted_step = tracker.step
            self.call_counts.clear()
        if tracker.full:
            if self.light.calls:  # the step turned full (someone steps): its light calls first
                self.send_light_calls()
            super()._on_enter(module, args)
            return
        path, call_index = self._next_call(module)
        # light: its exit takes the light path while the step stays light
        call = ActiveCall(module, path, call_index, len(ctx.stack), _perf_counter(), light=True)
        ctx.stack.append(call)
        self.light.calls.append(call)

    def _on_exit(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        ctx = self.ctx
        if ctx.phase != "forward" or ctx.hooks_suspended or _get_ident() != self.thread:
            return
        stack = ctx.stack
        call = stack[-1] if stack and stack[-1].module is module else None
        if call is None or not call.light:
            if call is not None and call.sent:  # entered lightly, shown since
                call.inputs = summarize_nested(args, "", values=self.values, cache=self.cache,
                                               zeros=self.zeros)
            super()._on_exit(module, args, kwargs, output)
        else:
            self._light_exit(stack.pop(), args, kwargs, output)
        if not ctx.stack:
            if self._deferred:
                self._settle()
            self.tracker.top_level_exit(ctx.paths.get(id(module), ""), output)

    def _light_exit(self, call: ActiveCall, args: tuple, kwargs: dict, output: Any) -> None:
        """``call`` (just taken off the stack) returned ``output``."""
        call.elapsed = _perf_counter() - call.started  # no pause inside: it would be shown
        if isinstance(output, _Tensor):
            # A container returns its last child's output: already tested, unless changed
            # in place since (its version counter moved).
            if output is self._last_tested and output._version == self._last_version:
                source = self._last_call
                call.seen = source.seen
                if call.seen is None:  # that output's test is deferred: settled with it
                    self._aliases.append((call, source))
                return
            finite_input = self._last_finite and len(args) == 1 and not kwargs \
                and args[0] is self._last_tested and args[0]._version == self._last_version
            self._last_tested, self._last_version = output, output._version
            self._last_call = call
            self._last_finite = False
            if finite_input and _keeps_finite(call.module):
                finite = True  # (a ReLU of a finite tensor: not tested)
            elif _tested_later(output):
                self._defer(call, args, kwargs, output, (output,))
                return
            else:
                finite = tensor_finite(output)
            if finite:  # the common case, inline: metadata only, no value read
                call.seen = (output.shape, output.dtype, output.device, output.requires_grad)
                self._last_finite = True
                return
        else:
            outs = tensors(output)
            if outs and _tested_later(outs[0]):
                self._defer(call, args, kwargs, output, outs)
                return
            if all(all_finite(outs)):
                call.seen = seen_outputs(outs)
                return
        self._light_nonfinite(call, self.ctx.stack[-1] if self.ctx.stack else None, args,
                              kwargs, output)

    def _defer(self, call: ActiveCall, args: tuple, kwargs: dict, output: Any,
               outs: Any) -> None:
        """Test this output with the others of the forward, in one host transfer when the
        outermost call returns (a transfer per module would stall an accelerator). Its
        arguments and output are held until then (autograd holds most of them anyway)."""
        total = finite_probe(outs)
        if total is None:  # nothing to test
            call.seen = seen_outputs(outs)
            return
        parent = self.ctx.stack[-1] if self.ctx.stack else None
        self._deferred.append((total, call, parent, args, kwargs, output))

    def _settle(self) -> None:
        """The deferred tests of a forward, in the order the calls returned (children before
        their parents, as the immediate tests run)."""
        pending, self._deferred = self._deferred, []
        values = probe_values([entry[0] for entry in pending])
        for value, (_, call, parent, args, kwargs, output) in zip(values, pending):
            if not value and not all(all_finite(tensors(output))):  # (not a sum's overflow)
                self._light_nonfinite(call, parent, args, kwargs, output)
            else:
                call.seen = seen_outputs(tensors(output))
        aliases, self._aliases = self._aliases, []
        for call, source in aliases:
            call.seen = source.seen

    def _light_nonfinite(self, call: ActiveCall, parent: Optional[ActiveCall], args: tuple,
                         kwargs: dict, output: Any) -> None:
        """A light call's output holds NaN/Inf: explain it where it was born."""
        inputs_finite = all(all_finite(tensors(args) + tensors(kwargs)))
        born = not call.child_nonfinite and inputs_finite
        if parent is not None:
            parent.child_nonfinite = True
        # A NaN/Inf passed on is counted in a step that will be shown (already shown, or with
        # a problem: a NaN batch); in a step broken by weights whose birth was explained,
        # every call would pay for it: its outputs stay unknown. A birth is summarised below.
        if self.light.shown_step == self.tracker.step or self.ctx.record.step_has_problem():
            outs = tensors(output)
            call.seen = counted_outputs(outs, all_finite(outs))
        else:
            call.seen = ()
        if self.tracker.nonfinite == "" and not inputs_finite:
            return  # the batch itself (a data diagnostic names it)
        if not born:
            return
        self.tracker.nonfinite = self.tracker.nonfinite or "forward"
        if any(d.code in (codes.NON_FINITE, codes.DATA_NON_FINITE) for d in self.ctx.record.diagnostics):
            return  # born again from already broken weights: the first birth says it all
        if self.tracker.verify_updates():
            return  # the last update had broken weights its samples missed: reported there
        # Explain it as a full run would: summarise this one call, show the step's calls so
        # far, and ask the detectors.
        inputs = call.inputs = summarize_nested(args, "", values=True, histogram="problem")
        outputs = call.seen = summarize_nested(output, "", values=True, histogram="problem")
        self.send_light_calls()
        if _is_grad_enabled():  # stepping on into backward stops at the birth's gradient
            self._hook_gradients(call, output)
        for diagnostic in self.diagnostician.on_module_output(self.ctx, call, args, kwargs,
                                                              output, inputs, outputs):
            self.report(diagnostic)
        if self.gate.problem_pause_wanted(PauseReason.NON_FINITE):
            self.gate.pause(ev.PauseLocation(Phase.FORWARD, PauseKind.EXIT, call.path,
                                             call.call_index, call.depth, PauseReason.NON_FINITE))

    # ---- a light step's calls -----------------------------------------------------------------

    def send_light_calls(self) -> bool:
        """Send the light calls of this step not sent yet (a pause, a problem, the step turned
        full). The calls still running return through the full hooks (their exits are shown,
        stepping stops at them), their inputs summarised then. True when this step ran light
        calls: it has been shown as far as it ran."""
        light = self.light
        if light.calls:
            light.shown_step = self.tracker.step
            for event in light.take_events():
                self.emit(event)
            paused = self.gate.paused_seconds
            for call in self.ctx.stack:
                if call.light:  # the full exit's time leaves out the pauses from now on
                    call.light, call.started = False, call.started - paused
        return light.shown_step == self.tracker.step

    def _on_step_ending(self) -> None:
        """The step's calls go out with it when it was shown or has a problem; a clean
        step's are thrown away."""
        if self.light.calls and (self.light.shown_step == self.tracker.step
                                 or self.ctx.record.step_has_problem()):
            self.send_light_calls()
        self.light.clear()

    def _adopt_root(self, module: nn.Module) -> None:
        """A module the script calls at top level: a root of the tree under its variable name
        (``model``), else its class name."""
        ctx = self.ctx
        name = _variable_name(module, ctx.user_file) or next(
            (key for key, value in self.roots.items()
             if value is module and not key.startswith("_")), None)
        if name is None:
            name = type(module).__name__
        taken = {n.split(".")[0] for n in ctx.modules}
        base, number = name, 2
        while name in taken:
            name, number = f"{base}#{number}", number + 1
        entries = describe_module_tree(module, ctx.sites, prefix=name, parent="", depth=1)
        for node, sub in entries:
            if id(sub) in ctx.paths:  # shared with an earlier root: keep its first name
                continue
            ctx.paths[id(sub)] = node.path
            ctx.modules[node.path] = sub
            self.emit(ev.ModuleAdded(node))


def _tested_later(t: torch.Tensor) -> bool:
    """Whether a light output on ``t``'s device is tested with its forward's others (an
    accelerator, with gradients on) rather than at once."""
    return not (t.is_cpu and "cpu" in IMMEDIATE_DEVICES) \
        and t.device.type not in IMMEDIATE_DEVICES and _is_grad_enabled()


# Modules whose output is finite whenever their input is (no parameters, no division, no
# log; not Softplus or CELU, which divide by a setting that may be 0): a light step does not
# test their output when their one input was just tested finite.
_FINITE_IN_FINITE_OUT = frozenset({
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softsign,
    nn.Softmax, nn.LogSoftmax, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
    nn.Dropout3d, nn.AlphaDropout, nn.Flatten})


def _keeps_finite(module: nn.Module) -> bool:
    """A plain module of _FINITE_IN_FINITE_OUT (not a subclass, no hooks or forward of the
    user's on it)."""
    return type(module) in _FINITE_IN_FINITE_OUT and not module._forward_hooks \
        and not module._forward_pre_hooks and "forward" not in module.__dict__


def _variable_name(module: nn.Module, user_file: Optional[str]) -> Optional[str]:
    """The name the script's calling function holds ``module`` under (``gen`` in main())."""
    frame = sys._getframe(2)
    while frame is not None:
        if is_user_file(frame.f_code.co_filename, user_file):
            for key, value in frame.f_locals.items():
                if value is module and not key.startswith("_") and key != "self":
                    return key
            return None
        frame = frame.f_back
    return None
