"""``non-finite`` in backward: the first autograd node whose incoming gradient was finite and whose
outgoing gradient is not (the derivative of sqrt at 0, of a norm of a zero vector, a division by
a tiny denominator), named by module, parameter and, where we can find it, the forward line.

Before backward (and only when forward and loss were finite) a hook is put on every node of the
autograd graph that can make a NaN/Inf (not views, copies or masks), up to MAX_GRAPH_NODES; it
checks the gradients the node sends on, except those that go straight into one parameter's
gradient (summarised after backward anyway). Nodes are attributed to modules by walking the
graph from the loss: a module's output node starts that module; passing through one of its
inputs' nodes leaves it for its parent.
"""

from __future__ import annotations

import collections
import math
import re
from dataclasses import dataclass
from typing import Any, Optional

import torch

from . import codes
from ..usercode.context import ActiveCall, SessionContext
from ..recording.events import Diagnostic, Phase
from ..statistics.stats import all_finite
from ..recording.structures import tensors
from ..usercode.tree import join_path, own_parameters, parent_path
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


# Nodes whose outgoing gradient is a view, copy, mask or broadcast of the incoming one (finite
# in, finite out): a NaN/Inf can never be born in them, so they get no hook.
PRESERVING = frozenset({
    "TBackward0", "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0",
    "PermuteBackward0", "TransposeBackward0", "UnsqueezeBackward0", "SqueezeBackward0",
    "SqueezeBackward1", "SqueezeBackward2", "SelectBackward0", "SliceBackward0",
    "SplitBackward0", "SplitWithSizesBackward0", "CatBackward0", "CloneBackward0",
    "AliasBackward0", "SumBackward0", "SumBackward1", "MeanBackward0", "MeanBackward1",
    "ReluBackward0", "ThresholdBackward0", "NegBackward0"})
# Add and Sub pass the gradient on unchanged (|alpha| <= 1) unless they sum it down to a
# broadcast operand's shape (a sum can overflow).
_ADD_SUB = frozenset({"AddBackward0", "SubBackward0"})
_HALF = (torch.float16, torch.bfloat16)
_DisableTorchFunction = torch._C.DisableTorchFunction


def _preserving(node) -> bool:
    name = type(node).__name__
    if name in PRESERVING:
        return True
    if name not in _ADD_SUB:
        return False
    try:  # _input_metadata (shapes) is missing in older torch: then the node is checked
        if abs(getattr(node, "_saved_alpha", 1)) > 1:
            return False
        shape = node._input_metadata[0].shape
        return all(nxt is None or nxt._input_metadata[nr].shape == shape
                   for nxt, nr in node.next_functions)
    except Exception:
        return False


def _finite(g: Any) -> bool:
    """Whether a gradient holds no NaN/Inf: a sum (float32 for half precision) is not finite
    exactly when it does, or when finite values overflow it; the exact test only then."""
    if not isinstance(g, torch.Tensor) or not g.is_floating_point() or g.numel() == 0:
        return True
    try:
        with _DisableTorchFunction():
            total = (g.sum(dtype=torch.float32) if g.dtype in _HALF else g.sum()).item()
            return math.isfinite(total) or bool(torch.isfinite(g).all())
    except Exception:  # sparse, meta or exotic gradients: not judged here
        return True


class BackwardWatch:
    """Graph hooks for one backward, and what they found.

    Only nodes that can make a NaN/Inf are hooked, and an edge that leads (through views) into
    the gradient of one parameter is not checked: that gradient is summarised after backward,
    which tells the same, and ``settle`` then names the node that sent it."""

    def __init__(self) -> None:
        self.output_nodes: dict[int, str] = {}  # id(grad_fn) of a module output -> module path
        self.input_nodes: dict[str, set[int]] = collections.defaultdict(set)
        self.owner: dict[int, Optional[str]] = {}
        self.param_names: dict[int, str] = {}
        self.param_edges: dict[str, Any] = {}  # parameter name -> the node sending its gradient
        self.ran: dict[int, int] = {}  # id(node) -> position in backward, up to the birth
        self.handles: list[Any] = []
        self.birth: Optional[BackwardBirth] = None
        self.birth_at = -1

    def on_module_output(self, call: ActiveCall, args: tuple, output: Any) -> None:
        # Bookkeeping, not the user's ops: a grad_fn read is a torch function the op watch
        # would otherwise see, four times a module.
        with _DisableTorchFunction():
            for t in tensors(output):
                node = t.grad_fn
                if node is not None:
                    self.output_nodes.setdefault(id(node), call.path)  # innermost exits first
            for t in tensors(args):
                node = t.grad_fn
                if node is not None:
                    self.input_nodes[call.path].add(id(node))

    def install(self, ctx: SessionContext, loss_value: torch.Tensor) -> None:
        root = loss_value.grad_fn
        if root is None:
            return
        nodes = self._walk(root)
        if nodes is None:
            return
        fresh = set()  # parameters without a gradient yet: theirs will come from this backward
        for path, module in ctx.modules.items():
            for name, p in own_parameters(module):
                self.param_names[id(p)] = join_path(path, name)
                if p.grad is None:
                    fresh.add(id(p))
        senders = collections.Counter(id(nxt) for node in nodes
                                      for nxt, _ in node.next_functions if nxt is not None)
        for node in nodes:
            if not node.next_functions or _preserving(node):
                continue
            checked = []
            for i, (nxt, _) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                param = _only_param_behind(nxt, senders)
                name = self.param_names.get(id(param)) if id(param) in fresh else None
                if name is not None:
                    self.param_edges[name] = node
                else:
                    checked.append(i)
            self.handles.append(node.register_hook(self._make_hook(node, tuple(checked))))

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

    def _make_hook(self, node, checked: tuple[int, ...]):
        ran = self.ran

        def hook(grad_inputs, grad_outputs):
            if self.birth is not None:
                return
            ran[id(node)] = len(ran)
            try:
                # Nodes run in topological order, so the first node with a non-finite outgoing
                # gradient is the birth: what flowed into it came from nodes already checked.
                bad = [i for i in checked if not _finite(grad_inputs[i])]
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
        self.birth_at = self.ran.get(id(node), -1)

    def settle(self, bad_params: list[str], kind_of) -> None:
        """Take the parameters whose gradients came out non-finite into account: the node that
        sent one along an unchecked edge is the birth if it ran before the one found (or none
        was); the birth's own unchecked parameters are named with it."""
        if self.birth is not None and self.birth.node_name == "?":
            return
        sent = [(self.ran[id(node)], node, name) for name in bad_params
                for node in [self.param_edges.get(name)]
                if node is not None and id(node) in self.ran]
        if not sent:
            return
        at, node, name = min(sent, key=lambda item: item[0])
        if self.birth is None or at < self.birth_at:
            self.birth = BackwardBirth(type(node).__name__, self.owner.get(id(node)), [],
                                       kind_of(name))
            self.birth_at = at
        self.birth.params.extend(n for a, _, n in sent if a == self.birth_at
                                 and n not in self.birth.params)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.owner.clear()
        self.ran.clear()
        self.param_edges.clear()


def _only_param_behind(node, senders: collections.Counter) -> Any:
    """The parameter whose gradient is all that ``node`` passes on (through views, each node
    fed by this edge alone), or None."""
    while senders[id(node)] == 1:
        variable = getattr(node, "variable", None)
        if variable is not None:
            return variable
        edges = [nxt for nxt, _ in node.next_functions if nxt is not None]
        if len(edges) != 1 or type(node).__name__ not in PRESERVING:
            return None
        node = edges[0]
    return None


def backward_nonfinite(ctx: SessionContext, watch: BackwardWatch) -> list[Diagnostic]:
    """The diagnostic for a gradient that turned non-finite in backward (or nothing)."""
    bad_params = _nonfinite_grads(ctx)
    if watch.birth is None and not bad_params:
        return []
    watch.settle(bad_params, lambda name: _grad_kind(ctx, name))
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
        code=codes.NON_FINITE, severity="error", phase=Phase.BACKWARD, message=message, module=owner,
        file=file, line=line,
        fix=(f"At {at}: " if at else "") + _OP_FIXES.get(
            key, "keep the op away from the point where its derivative is infinite (add an "
                 "epsilon), or clip gradients with torch.nn.utils.clip_grad_norm_") + ".",
        details=(("node", birth.node_name), ("parameters", ", ".join(reached))))]


def _nonfinite_grads(ctx: SessionContext) -> list[str]:
    """Parameters whose gradient is not finite, output side first (backward order)."""
    order = {c.path: c.order for c in ctx.record.calls}
    found, unknown = [], []
    for path, module in ctx.modules.items():
        for name, p in own_parameters(module):
            if p.grad is None or not p.grad.is_floating_point():
                continue
            entry = (order.get(path, -1), join_path(path, name))
            summary = ctx.grad_summary(path, name)  # NaN/Inf already counted: no new pass
            if summary is None:
                unknown.append((entry, p.grad))
            elif not summary.finite:
                found.append(entry)
    flags = all_finite(grad for _, grad in unknown)
    found += [entry for (entry, _), ok in zip(unknown, flags) if not ok]
    return [name for _, name in sorted(found, reverse=True)]


def _grad_kind(ctx: SessionContext, name: str) -> str:
    """"NaN" or "Inf": what a parameter's gradient holds ("gate.weight")."""
    path, _, own = name.rpartition(".")
    summary = ctx.grad_summary(path, own)
    if summary is not None:
        return "NaN" if summary.nan else "Inf"
    module = ctx.modules.get(path)
    grad = getattr(getattr(module, own, None), "grad", None)
    return "NaN" if grad is not None and bool(torch.isnan(grad).any()) else "Inf"


def _module_level(ctx: SessionContext, bad_params: list[str]) -> Diagnostic:
    first = bad_params[0]
    path = first.rsplit(".", 1)[0] if "." in first else ""
    site = ctx.site_of(path)
    return Diagnostic(
        code=codes.NON_FINITE, severity="error", phase=Phase.BACKWARD,
        message=f"Gradients turn non-finite in backward although forward and loss were finite; "
                f"the first parameter reached is {first} ({len(bad_params)} parameters have "
                "NaN/Inf gradients).", module=path,
        file=site.file if site else ctx.user_file, line=site.line if site else None,
        fix="Look for sqrt, norm, division or pow near zero in that module's forward and add "
            "an epsilon; clip gradients with torch.nn.utils.clip_grad_norm_.")
