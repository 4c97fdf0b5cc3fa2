"""The module tree as immutable nodes, and parameter descriptions."""

from __future__ import annotations

from typing import Callable, Optional

import torch.nn as nn
from torch.nn.parameter import UninitializedTensorMixin

from .creation_sites import CreationSites
from ..recording.events import ModuleNode, ParamInfo
from ..statistics.stats import dtype_name, summarize, summarize_many


def join_path(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return f"{prefix}.{name}" if name else prefix


def parent_path(path: str) -> Optional[str]:
    """"" for a top-level child, None for the root itself."""
    if path == "":
        return None
    return path.rsplit(".", 1)[0] if "." in path else ""


def own_parameters(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``module.named_parameters(recurse=False)`` in a fraction of the time (detectors ask for
    every module's parameters, and that builds a generator chain per module)."""
    table = getattr(module, "_parameters", None)
    if not isinstance(table, dict):  # (an OrderedDict in older torch passes) not a Module: ask
        return list(module.named_parameters(recurse=False))
    out, seen = [], set()
    for name, p in table.items():
        if p is not None and id(p) not in seen:  # the same parameter twice: named once
            seen.add(id(p))
            out.append((name, p))
    return out


def subtree_all(modules: dict[str, nn.Module], include: Callable[[nn.Parameter], bool],
                holds: Callable[[nn.Parameter], bool]) -> set[str]:
    """The paths whose module has, among all its parameters (``module.parameters()``, its
    submodules' included), at least one that ``include`` accepts, and ``holds`` for every one
    of those. Each module is visited once, where ``parameters()`` per module would walk every
    subtree again."""
    memo: dict[int, tuple[bool, bool]] = {}

    def visit(module: nn.Module) -> tuple[bool, bool]:
        key = id(module)
        if key in memo:
            return memo[key]
        memo[key] = (False, True)  # a module containing itself adds nothing
        found, ok = False, True
        for _, p in own_parameters(module):
            if include(p):
                found, ok = True, ok and holds(p)
        for child in module.children():
            child_found, child_ok = visit(child)
            found, ok = found or child_found, ok and child_ok
        memo[key] = (found, ok)
        return found, ok

    return {path for path, module in modules.items() if all(visit(module))}


def describe_params(module: nn.Module, *, values: bool = False, grads: bool = False,
                    histogram: bool = False) -> tuple[ParamInfo, ...]:
    """The module's own parameters (not its children's). ``values=False`` reads no values:
    gradients get their shape only."""
    infos = []
    for name, p in own_parameters(module):
        if isinstance(p, UninitializedTensorMixin):  # UninitializedParameter, cheap test
            infos.append(ParamInfo(name, None, dtype_name(p.dtype), p.requires_grad, 0))
            continue
        stats = summarize(p, name, values=values, histogram=histogram) if values else None
        grad = None
        if grads and p.grad is not None:
            grad = summarize(p.grad, f"{name}.grad", values=values, histogram=histogram)
        infos.append(ParamInfo(name, tuple(int(d) for d in p.shape), dtype_name(p.dtype),
                               bool(p.requires_grad), int(p.numel()), stats, grad))
    return tuple(infos)


def describe_module_tree(root: nn.Module, sites: CreationSites, *, prefix: str = "",
                         parent: Optional[str] = None, depth: int = 0, registered: bool = True
                         ) -> list[tuple[ModuleNode, nn.Module]]:
    """Every module under ``root`` (root first, in definition order) as (node, module)."""
    out = []
    base_depth = prefix.count(".") + 1 if prefix else 0
    for name, module in root.named_modules():
        path = join_path(prefix, name)
        if name == "":
            node_parent, node_depth = parent, depth
        else:
            node_parent = parent_path(path)
            node_depth = depth + (path.count(".") + 1 - base_depth)
        params = describe_params(module)
        out.append((ModuleNode(
            path=path, type_name=type(module).__name__, parent=node_parent, depth=node_depth,
            param_count=sum(p.numel for p in params), registered=registered,
            created_at=sites.get(module), lazy=any(p.shape is None for p in params),
            params=params,
        ), module))
    return out


def all_param_infos(modules: dict[str, nn.Module], *, grads: bool, values: bool = True,
                    histogram: bool = False, zeros: bool = True
                    ) -> tuple[tuple[str, tuple[ParamInfo, ...]], ...]:
    """(path, params) for every module that owns parameters, as describe_params gives them.

    The statistics of every parameter and gradient are computed as one batch: one host
    transfer, small tensors of equal size reduced together."""
    owned = []
    items = []
    for path, module in modules.items():
        params = own_parameters(module)
        if not params:
            continue
        owned.append((path, params))
        for name, p in params:
            if isinstance(p, UninitializedTensorMixin):
                continue
            if values:
                items.append((name, p))
            if grads and p.grad is not None:
                items.append((f"{name}.grad", p.grad))
    # Statistics off: gradients get their shape only, like every other tensor of the run.
    summaries = iter(summarize_many(items, values=values, histogram=histogram, group=True,
                                    zeros=zeros))
    out = []
    for path, params in owned:
        infos = []
        for name, p in params:
            if isinstance(p, UninitializedTensorMixin):
                infos.append(ParamInfo(name, None, dtype_name(p.dtype), p.requires_grad, 0))
                continue
            stats = next(summaries) if values else None
            grad = next(summaries) if grads and p.grad is not None else None
            infos.append(ParamInfo(name, tuple(int(d) for d in p.shape), dtype_name(p.dtype),
                                   bool(p.requires_grad), int(p.numel()), stats, grad))
        out.append((path, tuple(infos)))
    return tuple(out)
