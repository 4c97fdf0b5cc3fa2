"""Tensors made inside forward without ``device=``: the op watch notes each factory call
(``torch.zeros``, ``ones``, ``arange``...) whose result lands on another device than the
model's (only possible on CUDA or in a dry run on meta), so a ``device-mismatch`` can name the
line that made the stray tensor rather than only the line that mixed it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from .sources import short_location

FACTORIES = frozenset({torch.zeros, torch.ones, torch.empty, torch.full, torch.arange,
                       torch.randn, torch.rand, torch.randint, torch.tensor, torch.eye,
                       torch.linspace, torch.as_tensor})
MAX_KEPT = 32


@dataclass(frozen=True)
class StrayTensor:
    op: str
    device: str
    module: Optional[str]
    file: Optional[str]
    line: Optional[int]


def is_stray(kwargs: dict, result: Any, device: torch.device) -> bool:
    """A factory call without device= whose tensor is not on the session's device."""
    return "device" not in kwargs and isinstance(result, torch.Tensor) and \
        result.device.type != device.type


def stray_for(strays: list[StrayTensor], devices: list[str]) -> Optional[StrayTensor]:
    """The latest stray tensor on one of the devices the failing op mixed."""
    for stray in reversed(strays):
        if stray.device in devices and stray.line is not None:
            return stray
    return None


def stray_text(stray: StrayTensor) -> tuple[str, str]:
    """(sentence for the message, fix) naming the line that made the stray tensor."""
    at = short_location(stray.file, stray.line)
    return (f" The {stray.device} tensor comes from {stray.op} at {at}, called without "
            "device= (it makes CPU tensors; on CUDA this fails the same way).",
            f"Pass the device where the tensor is made, at {at}: {stray.op}(..., "
            "device=x.device) (and dtype=x.dtype where it matters); constant tensors belong "
            "in buffers (self.register_buffer) so model.to() moves them.")
