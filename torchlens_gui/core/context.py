"""SessionContext: what the diagnostics can see of a running session (session thread only)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import torch
import torch.nn as nn

from .creation_sites import CreationSites
from .events import SourceLocation
from .record import RunRecord


@dataclass
class ActiveCall:
    """A module call in progress (on the module stack)."""

    module: nn.Module
    path: str
    call_index: int
    depth: int
    started: float
    inputs: tuple = ()
    child_nonfinite: bool = False  # a descendant already produced a non-finite output


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
    phase: str = "loading"
    output: Any = None  # the model's forward output, once there is one
    # Modules that ran in forward without being registered under the root.
    unregistered: dict[str, nn.Module] = field(default_factory=dict)
    hooks_suspended: int = 0  # >0 while a detector re-runs a module (its calls are not events)

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

    @property
    def current(self) -> Optional[ActiveCall]:
        return self.stack[-1] if self.stack else None
