"""Which actual tensors a session copies out (for the tensor viewer and ``--save-tensors``).

Summaries say min/max/mean; sometimes the values themselves are the point. Copies are made on
the session thread, detached and on the CPU, for calls with problems (where a NaN/Inf is born,
a diagnostic, a non-finite gradient; not every call a NaN merely passes through), for pinned
modules, and, when asked, at every pause (what the user is looking at while stepping). A byte budget bounds them all: past it nothing more is kept and ``skipped`` counts
what was left out, so a snapshot can say so.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from ..recording import events as ev

DEFAULT_MAX_BYTES = 256 * 2**20


class TensorKeeper:
    """The policy and the budget; ``keep`` turns chosen tensors into TensorKept events."""

    def __init__(self, *, at_problems: bool = True, at_pauses: bool = False,
                 pinned: Iterable[str] = (), max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.at_problems = at_problems
        self.at_pauses = at_pauses
        self.pinned = set(pinned)
        self.max_bytes = max_bytes
        self.used_bytes = 0
        self.skipped = 0  # tensors wanted but over the budget
        self._kept: set[tuple[str, int, str, str]] = set()

    def wants(self, path: str, *, pausing: bool = False, problem: bool = False) -> bool:
        return (problem and self.at_problems) or (pausing and self.at_pauses) \
            or path in self.pinned

    def keep(self, path: str, call_index: int, role: str,
             items: Iterable[tuple[str, Any]]) -> list[ev.TensorKept]:
        """Copy the tensors among ``items`` ((summary name, value) pairs) within the budget."""
        out = []
        with torch._C.DisableTorchFunction():  # our copies are not the user's ops
            for name, value in items:
                key = (path, call_index, role, name)
                if not isinstance(value, torch.Tensor) or key in self._kept \
                        or value.device.type == "meta" or value.layout != torch.strided:
                    continue
                size = value.numel() * value.element_size()
                if self.used_bytes + size > self.max_bytes:
                    self.skipped += 1
                    continue
                copy = value.detach().to("cpu", copy=True).contiguous()
                self.used_bytes += size
                self._kept.add(key)
                out.append(ev.TensorKept(path, call_index, role, name, copy))
        return out
