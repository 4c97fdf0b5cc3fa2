"""Find the autograd node whose backward failed, and the forward call that created it, by
running forward + loss + backward of the same inputs once more under anomaly mode.

Torch names neither the node nor the forward line when one of its own backward nodes raises;
anomaly mode records each node's forward traceback and warns with the failing node's. It costs
a second run, so it is only done on that error path: the RNG state of the first forward is
restored first (dropout masks match), gradients and buffers are put back afterwards, and a
re-run that does not fail the same way is not trusted.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..usercode.context import SessionContext
from .op_trace import buffers_restored

_DETECTED = re.compile(r"Error detected in (\w+)\. Traceback of forward call that caused the "
                       r"error:\n(.*)", re.S)
_FRAME = re.compile(r'File "(.+?)", line (\d+), in (\S+)')


@dataclass(frozen=True)
class FailedNode:
    """The autograd node whose backward raised and where forward created it."""

    node: str  # "SqueezeBackward0"
    frames: tuple[tuple[str, int, str], ...]  # (file, line, function), outermost first


@dataclass(frozen=True)
class RngState:
    cpu: torch.Tensor
    cuda: Optional[list[torch.Tensor]]


def capture_rng(device: torch.device) -> RngState:
    """The generator states before forward (a few KiB; the re-run starts from them)."""
    cuda = torch.cuda.get_rng_state_all() if device.type == "cuda" else None
    return RngState(torch.get_rng_state(), cuda)


def replay_backward(ctx: SessionContext, exc: BaseException, rng: RngState,
                    forward_and_loss: Callable[[], torch.Tensor]) -> Optional[FailedNode]:
    """Re-run under anomaly mode; the failing node, or None when the re-run does not raise
    ``exc`` again (a different error, or none) or anomaly mode named no node."""
    model = ctx.model
    if model is None:
        return None
    grads = [(p, None if p.grad is None else p.grad.detach().clone())
             for p in model.parameters()]
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    again: Optional[BaseException] = None
    try:
        with ctx.suspend_hooks(), buffers_restored(model), \
                torch.random.fork_rng(devices=devices), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.set_rng_state(rng.cpu)
            if rng.cuda is not None:
                torch.cuda.set_rng_state_all(rng.cuda)
            with torch.autograd.detect_anomaly(check_nan=False), \
                    torch.autograd.set_multithreading_enabled(False):
                try:
                    forward_and_loss().backward()
                except Exception as error:  # the user's code: anything may come out
                    again = error
    except Exception:
        return None
    finally:
        for param, grad in grads:
            param.grad = grad
    if again is None or type(again) is not type(exc) or _first_line(again) != _first_line(exc):
        return None
    for warning in caught:
        match = _DETECTED.search(str(warning.message))
        if match:
            frames = tuple((file, int(line), function)
                           for file, line, function in _FRAME.findall(match.group(2)))
            return FailedNode(match.group(1), frames)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
