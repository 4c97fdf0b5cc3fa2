"""The module calls of a light step, remembered cheaply until someone wants to see them.

A light step (step_hooks.py) summarises nothing and sends no events. So that a pause inside one
(a NaN/Inf found in forward, backward or the optimizer's update, an exception, someone pressing
Pause) still shows the step, StepHooks lists every light call: its ActiveCall (path, call index,
depth) and, at its exit, the shape, dtype, device and requires_grad of each output tensor beside
the finiteness test the light exit makes anyway: no tensor is held and no value read. Where
a NaN/Inf is born, the call is summarised in full (the detectors need it); an output that
merely passes one on gets its NaN and Inf counted where the step will be shown. When the step
pauses or has a problem, the list turns into the ModuleEntered/ModuleExited events a full step
would have sent; a step that ends clean throws it away.
"""

from __future__ import annotations

import math

import torch

from ..recording import events as ev
from ..recording.summary_factory import tensor_summary
from ..statistics.stats_summary import device_name, dtype_name
from ..usercode.context import ActiveCall


def seen_outputs(outs: list) -> tuple:
    """What a light exit keeps of its finite output tensors: (shape, dtype, device,
    requires_grad) each, read from the tensors' metadata (StepHooks inlines the one-tensor
    case: that tuple alone)."""
    return tuple([(t.shape, t.dtype, t.device, t.requires_grad) for t in outs])


def counted_outputs(outs: list, finite: list[bool]) -> tuple:
    """What a light exit keeps of outputs holding NaN/Inf that it does not summarise (a NaN
    passed on from broken weights, every call of a broken step): the metadata of each and its
    NaN and Inf counts, counted in the tensors not finite only, one host transfer."""
    bad = [t for t, ok in zip(outs, finite) if not ok]
    with torch.no_grad(), torch._C.DisableTorchFunction():
        # (outputs on several devices: gathered on the first's)
        counts = iter(torch.stack([c.to(bad[0].device) for t in bad for c in (
            torch.isnan(t).sum(), torch.isinf(t).sum())]).tolist()) if bad else iter(())
    return tuple([(t.shape, t.dtype, t.device, t.requires_grad)
                  + ((0, 0) if ok else (next(counts), next(counts)))
                  for t, ok in zip(outs, finite)])


class LightCalls:
    """A light step's calls in entry order, and the step whose calls were sent already."""

    def __init__(self) -> None:
        self.calls: list[ActiveCall] = []  # appended to by StepHooks (the hot path)
        self.shown_step = 0  # the last step whose calls were (partly) sent

    def take_events(self) -> list[ev.Event]:
        """Events for what was not sent yet, in entry order: each call's ModuleEntered and,
        once it returned, its ModuleExited. Calls still running stay listed for their exit."""
        events: list[ev.Event] = []
        running = []
        for call in self.calls:
            if not call.sent:
                call.sent = True
                events.append(ev.ModuleEntered(call.path, call.call_index, call.depth,
                                               call.inputs))
            if call.seen is None:
                if call.light:  # a call the full hooks took over sends its own exit
                    running.append(call)
                continue
            events.append(ev.ModuleExited(call.path, call.call_index, call.depth, call.inputs,
                                          _summaries(call.seen), call.elapsed))
        self.calls = running
        return events

    def clear(self) -> None:
        self.calls = []


def _summaries(seen: tuple) -> tuple[ev.TensorSummary, ...]:
    """Output summaries from what a light exit kept: summaries already where it made them
    (non-finite outputs), else shape, dtype and device with no statistics (None: not read)."""
    if seen and isinstance(seen[0], ev.TensorSummary):
        return seen
    if seen and type(seen[0]) is not tuple:  # one tensor's (shape: a torch.Size, dtype, ...)
        return (_shape_only("", seen),)
    single = len(seen) == 1
    return tuple(_shape_only("" if single else f"[{index}]", item)
                 for index, item in enumerate(seen))


def _shape_only(name: str, item: tuple) -> ev.TensorSummary:
    shape, dtype, device, requires_grad = item[:4]
    nan, inf = item[4:] or (0, 0)
    shape = tuple(int(d) for d in shape)
    return tensor_summary(name, shape, dtype_name(dtype), device_name(device),
                          math.prod(shape), None, None, None, None, None, nan, inf, None, None,
                          requires_grad)
