"""Where the autograd graph was cut, for ``no-gradient``: ``.item()``, ``float(t)``,
``.tolist()``, ``.detach()``, ``.data`` or ``.numpy()`` on a tensor that requires grad, seen by
the op watch during forward and loss with the module running and the user's line. A module that
ran but got no gradient is then explained by the first cuts made after it ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from .sources import short_location

GRAPH_CUTS = frozenset({torch.Tensor.item, torch.Tensor.detach, torch.Tensor.numpy,
                        torch.Tensor.tolist, torch.Tensor.__float__, torch.Tensor.__int__,
                        torch.Tensor.data.__get__})
_NAMES = {torch.Tensor.data.__get__: "Tensor.data"}
MAX_CUTS = 64


@dataclass(frozen=True)
class GraphCut:
    op: str
    module: Optional[str]
    file: Optional[str]
    line: Optional[int]
    after_calls: int  # how many module calls had started when it ran


def cut_made(func: Any, name: str) -> str:
    return _NAMES.get(func, name)


def cuts_after(cuts: list[GraphCut], first_call: int) -> list[GraphCut]:
    """The cuts made after the module's first call started (one per line)."""
    seen, found = set(), []
    for cut in cuts:
        if cut.after_calls > first_call and cut.line is not None and \
                (cut.file, cut.line) not in seen:
            seen.add((cut.file, cut.line))
            found.append(cut)
    return found


def cut_text(cuts: list[GraphCut]) -> str:
    """"Tensor.item at model.py:15 (then Tensor.detach at model.py:16)"."""
    parts = [f"{c.op} at {short_location(c.file, c.line)}" for c in cuts[:3]]
    return parts[0] + (f" (then {', '.join(parts[1:])})" if len(parts) > 1 else "")
