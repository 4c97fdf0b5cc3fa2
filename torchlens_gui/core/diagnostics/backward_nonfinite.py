"""``non-finite`` in backward: the first autograd node whose incoming gradient was finite and whose
outgoing gradient is not (the derivative of sqrt at 0, of a norm of a zero vector, a division by
a tiny denominator), named by module, parameter and, where we can find it, the forward line.

Before backward (and only when forward and loss were finite) a hook is put on every node of the
autograd graph, up to MAX_GRAPH_NODES; it checks the gradients the node sends on. Nodes are
attributed to modules by walking the graph from the loss: a module's output node starts that
module; passing through one of its inputs' nodes leaves it for its parent.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import torch

from ..context import ActiveCall, SessionContext
from ..events import Diagnostic
from ..stats import all_finite
from ..structures import tensors
from ..tree import parent_path
from .findings import listing
from .sources import described, forward_line_with, short_location

# Graphs bigger than this are not hooked node by node (each hook costs a finiteness check);
# the module-level fallback still names the first parameter with a non-finite gradient.
MAX_GRAPH_NODES = 20_000

# Words that find a backward node's forward op in a forward's source text.
_OP_WORDS = {"sqrt": ("sqrt",), "div": ("/", "div"), "log": ("log",), "pow": ("**", "pow"),
             "norm": ("norm",), "linalgvectornorm": ("norm",), "rsqrt": ("rsqrt",),
             "acos": ("acos",), "asin": ("asin",), "atan2": ("atan2",), "exp": ("exp",)}
_OP_FIXES = {
    "sqrt": "sqrt's derivative at 0 is infinite: use torch.sqrt(x + 1e-8) or "
            "x.clamp_min(1e-8).sqrt()",
    "norm": "the norm's derivative at a zero vector is 0/0: add an epsilon (x.norm() + 1e-8 is "
            "not enough; use torch.sqrt((x * x).sum() + 1e-8))",
    "linalgvectornorm": "the norm's derivative at a zero vector is 0/0: use "
                        "torch.sqrt((x * x).sum(-1) + 1e-8)",
    "div": "the division's derivative blows up for a tiny denominator: add an epsilon to it",
    "pow": "a fractional power of 0 has an infinite derivative: add an epsilon to the base",
    "log": "log's derivative at 0 is infinite: clamp the input (x.clamp_min(1e-8))",
}


@dataclass
class BackwardBirth:
    node_name: str
    owner: Optional[str]
    params: list[str]  # parameters the non-finite gradient flowed straight into
    kind: str  # "NaN" | "Inf"


def _op_key(node_name: str) -> str:
    return re.sub(r"Backward\d*$", "", node_name).lower()


def _finite_flags(grads: Iterable[Any]) -> list[bool]:
    """Per gradient: all finite? One host sync for all of them."""
    present = [g for g in grads if isinstance(g, torch.Tensor) and g.is_floating_point()]
    if not present:
        return []
    return all_finite(present)  # a sum per gradient, not a bool per element


class BackwardWatch:
    """Graph hooks for one backward, and what they found."""

    def __init__(self) -> None:
        self.output_nodes: dict[int, str] = {}  # id(grad_fn) of a module output -> module path
        self.input_nodes: dict[str, set[int]] = collections.defaultdict(set)
        self.owner: dict[int, Optional[str]] = {}
        self.param_names: dict[int, str] = {}
        self.handles: list[Any] = []
        self.birth: Optional[BackwardBirth] = None
        self.hooked = False

    def on_module_output(self, call: ActiveCall, args: tuple, output: Any) -> None:
        for t in tensors(output):
            if t.grad_fn is not None:
                self.output_nodes.setdefault(id(t.grad_fn), call.path)  # innermost exits first
        for t in tensors(args):
            if t.grad_fn is not None:
                self.input_nodes[call.path].add(id(t.grad_fn))

    def install(self, ctx: SessionContext, loss_value: torch.Tensor) -> None:
        root = loss_value.grad_fn
        if root is None:
            return
        nodes = self._walk(root)
        if nodes is None:
            return
        self.param_names = {id(p): f"{path}.{name}" if path else name
                            for path, module in ctx.modules.items()
                            for name, p in module.named_parameters(recurse=False)}
        for node in nodes:
            self.handles.append(node.register_hook(self._make_hook(node)))
        self.hooked = True

    def _walk(self, root) -> Optional[list]:
        """Every node under ``root`` with its owning module; None when the graph is too big."""
        self.owner[id(root)] = self.output_nodes.get(id(root))
        queue, nodes, seen = collections.deque([root]), [root], {id(root)}
        while queue:
            node = queue.popleft()
            owner = self.owner[id(node)]
            for nxt, _ in node.next_functions:
                if nxt is None or id(nxt) in seen:
                    continue
                seen.add(id(nxt))
                if id(nxt) in self.output_nodes:
                    self.owner[id(nxt)] = self.output_nodes[id(nxt)]
                elif owner is not None and id(nxt) in self.input_nodes.get(owner, ()):
                    self.owner[id(nxt)] = parent_path(owner)
                else:
                    self.owner[id(nxt)] = owner
                nodes.append(nxt)
                queue.append(nxt)
                if len(nodes) > MAX_GRAPH_NODES:
                    return None
        return nodes

    def _make_hook(self, node):
        def hook(grad_inputs, grad_outputs):
            if self.birth is not None:
                return
            try:
                # Nodes run in topological order, so the first node with a non-finite outgoing
                # gradient is the birth: what flowed into it came from nodes already checked.
                outgoing = [(i, g) for i, g in enumerate(grad_inputs)
                            if isinstance(g, torch.Tensor) and g.is_floating_point()]
                flags = _finite_flags(g for _, g in outgoing)
                bad = [i for (i, _), ok in zip(outgoing, flags) if not ok]
                if bad:
                    self._record(node, bad, grad_inputs)
            except Exception:
                self.birth = BackwardBirth("?", None, [], "NaN")  # stop checking

        return hook

    def _record(self, node, bad: list[int], grad_inputs) -> None:
        params = []
        for i in bad:
            nxt = node.next_functions[i][0] if i < len(node.next_functions) else None
            variable = getattr(nxt, "variable", None) if nxt is not None else None
            if variable is not None and id(variable) in self.param_names:
                params.append(self.param_names[id(variable)])
        kind = "NaN" if any(bool(torch.isnan(grad_inputs[i]).any()) for i in bad) else "Inf"
        self.birth = BackwardBirth(type(node).__name__, self.owner.get(id(node)), params, kind)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.owner.clear()


def backward_nonfinite(ctx: SessionContext, watch: BackwardWatch) -> list[Diagnostic]:
    """The diagnostic for a gradient that turned non-finite in backward (or nothing)."""
    bad_params = _nonfinite_grads(ctx)
    if watch.birth is None and not bad_params:
        return []
    if watch.birth is None or watch.birth.node_name == "?":
        return [_module_level(ctx, bad_params)]
    birth = watch.birth
    owner = birth.owner if birth.owner in ctx.modules else None
    module = ctx.modules.get(owner) if owner is not None else None
    key = _op_key(birth.node_name)
    found = forward_line_with(module, _OP_WORDS.get(key, (key,))) if module is not None else None
    site = ctx.site_of(owner)
    file, line = found if found else ((site.file, site.line) if site else (ctx.user_file, None))
    reached = birth.params or bad_params[:4]
    at = short_location(file, line)
    article = "A NaN" if birth.kind == "NaN" else "An Inf"
    message = f"{article} gradient is born in backward at {birth.node_name} (the " \
              f"derivative of {key}" + (f" at {at}" if found else "") + ")" + \
              (f" in {described(ctx, owner)}" if owner is not None else "") + \
              ": the gradient flowing into it was finite, the gradient flowing out is not." + \
              (f" It reaches {listing(reached)}." if reached else "")
    return [Diagnostic(
        code="non-finite", severity="error", phase="backward", message=message, module=owner,
        file=file, line=line,
        fix=(f"At {at}: " if at else "") + _OP_FIXES.get(
            key, "keep the op away from the point where its derivative is infinite (add an "
                 "epsilon), or clip gradients with torch.nn.utils.clip_grad_norm_") + ".",
        details=(("node", birth.node_name), ("parameters", ", ".join(reached))))]


def _nonfinite_grads(ctx: SessionContext) -> list[str]:
    """Parameters whose gradient is not finite, output side first (backward order)."""
    order = {c.path: c.order for c in ctx.record.calls}
    named = [(order.get(path, -1), f"{path}.{name}" if path else name, p.grad)
             for path, module in ctx.modules.items()
             for name, p in module.named_parameters(recurse=False)
             if p.grad is not None and p.grad.is_floating_point()]
    flags = all_finite(grad for _, _, grad in named)
    found = [(rank, name) for (rank, name, _), ok in zip(named, flags) if not ok]
    return [name for _, name in sorted(found, reverse=True)]


def _module_level(ctx: SessionContext, bad_params: list[str]) -> Diagnostic:
    first = bad_params[0]
    path = first.rsplit(".", 1)[0] if "." in first else ""
    site = ctx.site_of(path)
    return Diagnostic(
        code="non-finite", severity="error", phase="backward",
        message=f"Gradients turn non-finite in backward although forward and loss were finite; "
                f"the first parameter reached is {first} ({len(bad_params)} parameters have "
                "NaN/Inf gradients).", module=path,
        file=site.file if site else ctx.user_file, line=site.line if site else None,
        fix="Look for sqrt, norm, division or pow near zero in that module's forward and add "
            "an epsilon; clip gradients with torch.nn.utils.clip_grad_norm_.")
