"""SessionContext: what the diagnostics can see of a running session (session thread only)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import torch
import torch.nn as nn

from .creation_sites import CreationSites
from ..recording.events import ParamInfo, Phase, SourceLocation, TensorSummary
from ..recording.record import RunRecord


@dataclass(slots=True)  # one per module call: slots make them cheaper to make and read
class ActiveCall:
    """A module call in progress (on the module stack)."""

    module: nn.Module
    path: str
    call_index: int
    depth: int
    started: float
    inputs: tuple = ()
    child_nonfinite: bool = False  # a descendant already produced a non-finite output
    args: Any = None  # the call's arguments, held only where histograms may be kept later
    # A light step's call (engine/light_calls.py): what its exit saw (output shapes or, when
    # non-finite, summaries), its time, and whether its ModuleEntered was sent.
    light: bool = False
    seen: Any = None
    elapsed: Optional[float] = None
    sent: bool = False


@dataclass
class SessionContext:
    user_file: Optional[str]
    device: torch.device
    dry_run: bool
    record: RunRecord
    sites: CreationSites
    model: Optional[nn.Module] = None
    paths: dict[int, str] = field(default_factory=dict)  # id(module) -> path
    modules: dict[str, nn.Module] = field(default_factory=dict)  # path -> module
    stack: list[ActiveCall] = field(default_factory=list)
    phase: Phase = Phase.LOAD
    output: Any = None  # the model's forward output, once there is one
    # Modules that ran in forward without being registered under the root.
    unregistered: dict[str, nn.Module] = field(default_factory=dict)
    # Modules registered under a parent during forward (add_module in forward()): path ->
    # (module, (file, line) of the user's line that first called it, if found).
    added_in_forward: dict[str, tuple[nn.Module, Optional[tuple[str, int]]]] = field(
        default_factory=dict)
    hooks_suspended: int = 0  # >0 while a detector re-runs a module (its calls are not events)
    # path -> name -> ParamInfo, filled once backward is done: detectors after backward read
    # the parameter and gradient statistics from here instead of reducing the tensors again.
    param_infos: dict[str, dict[str, ParamInfo]] = field(default_factory=dict)
    # The loss's op trace (its NaN/Inf births and scalar terms) until backward takes it: the
    # step tracker names the term that exploded or turned non-finite.
    loss_trace: Any = None
    # Set before backward: re-runs forward + loss + backward under anomaly mode and returns
    # the autograd node that raised the given error (only called on that error path).
    replay_backward: Optional[Callable[[BaseException], Any]] = None

    @contextlib.contextmanager
    def suspend_hooks(self) -> Iterator[None]:
        """Run modules inside the block without recording or pausing (for op-level re-runs)."""
        self.hooks_suspended += 1
        try:
            yield
        finally:
            self.hooks_suspended -= 1

    def site_of(self, path: Optional[str]) -> Optional[SourceLocation]:
        if path is None:
            return None
        node = self.record.nodes.get(path)
        return node.created_at if node is not None else None

    def module_at(self, path: Optional[str]) -> Optional[nn.Module]:
        if path is None:
            return None
        return self.modules.get(path)

    def grad_summary(self, path: str, name: str) -> Optional[TensorSummary]:
        """The statistics of a parameter's gradient after backward, where values were read."""
        info = self.param_infos.get(path, {}).get(name)
        return info.grad if info is not None and _has_values(info.grad) else None

    def param_summary(self, path: str, name: str) -> Optional[TensorSummary]:
        """The statistics of a parameter's values after backward, where values were read."""
        info = self.param_infos.get(path, {}).get(name)
        return info.stats if info is not None and _has_values(info.stats) else None

    def release(self) -> None:
        """Drop every reference to the user's objects (the session has ended)."""
        self.stack.clear()
        self.output = None
        self.model = None
        self.replay_backward = None
        self.paths.clear()
        self.modules.clear()
        self.unregistered.clear()
        self.added_in_forward.clear()

    @property
    def current(self) -> Optional[ActiveCall]:
        return self.stack[-1] if self.stack else None


def _has_values(summary: Optional[TensorSummary]) -> bool:
    """Whether a summary's values were read (not a shape-only or empty summary): its norm is
    known, or it counted NaN/Inf."""
    return summary is not None and (summary.norm is not None or not summary.finite)
