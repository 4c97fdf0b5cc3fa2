"""Where the autograd graph was cut, for ``no-gradient``: ``.item()``, ``float(t)``,
``.tolist()``, ``.detach()``, ``.data`` or ``.numpy()`` on a tensor that requires grad, seen by
the op watch during forward and loss with the module running and the user's line. A module that
ran but got no gradient is then explained by the cuts whose tensor was computed from its
parameters (the leaves the cut tensor's autograd graph reaches, walked once when it is cut).
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
    leaves: frozenset = frozenset()  # id() of the parameters (leaves) the cut tensor came from


def cut_made(func: Any, name: str) -> str:
    return _NAMES.get(func, name)


def leaves_of(t: Any, limit: int = 20_000) -> frozenset:
    """id() of every leaf tensor (parameter) the autograd graph of ``t`` reaches."""
    found, seen = set(), set()
    todo = [getattr(t, "grad_fn", None)]
    while todo and len(seen) < limit:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)  # AccumulateGrad: a leaf's gradient sink
        if variable is not None:
            found.add(id(variable))
        todo.extend(next_node for next_node, _ in node.next_functions)
    return frozenset(found)


def cuts_after(cuts: list[GraphCut], first_call: int, params: set[int]) -> list[GraphCut]:
    """The cuts made after the module's first call started from a tensor computed with its
    parameters (``params``: their id()s), one per line."""
    seen, found = set(), []
    for cut in cuts:
        if cut.after_calls > first_call and cut.line is not None and cut.leaves & params and \
                (cut.file, cut.line) not in seen:
            seen.add((cut.file, cut.line))
            found.append(cut)
    return found


def cut_text(cuts: list[GraphCut]) -> str:
    """"Tensor.item at model.py:15 (then Tensor.detach at model.py:16)"."""
    parts = [f"{c.op} at {short_location(c.file, c.line)}" for c in cuts[:3]]
    return parts[0] + (f" (then {', '.join(parts[1:])})" if len(parts) > 1 else "")
