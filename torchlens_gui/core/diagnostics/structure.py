"""Structural findings: ``unregistered-module`` (unregistered.py), and as
``info``: lazy modules and the shapes they materialised to, frozen parameters, and what a dry
run cannot see. In a dry run, where the meta device does not check dtypes, a float input of
another dtype than a layer's weights is reported as ``dtype-mismatch`` here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

import torch
import torch.nn as nn

from ..usercode.context import ActiveCall, SessionContext
from ..recording.events import Diagnostic, Phase, TensorSummary, shape_text
from ..statistics.stats import dtype_name
from ..usercode.tree import subtree_all
from . import codes
from .findings import count_text, listing
from .dtypes import float_mix
from .op_watch import WatchState
from .rule import Rule
from .sources import described
from .where import Where
from .unregistered import unregistered_modules

DRY_RUN_BLIND_SPOTS = ("values (no statistics), NaN/Inf, the loss, gradients, label ranges and "
                       "embedding indices (the meta device holds no data)")


def _top_level(paths: Iterable[str], parent_of) -> list[str]:
    """The paths whose parent is not itself in ``paths`` (one finding per subtree)."""
    chosen = set(paths)
    return [p for p in chosen if parent_of(p) not in chosen]


class StructureChecks(Rule):
    """How the model is put together: unregistered, lazy and frozen modules, dry-run limits."""

    name = "structure"
    reports = (codes.UNREGISTERED_MODULE, codes.LAZY_MODULE, codes.FROZEN_PARAMETERS,
               codes.DRY_RUN, codes.DTYPE_MISMATCH)

    def __init__(self, state: WatchState) -> None:
        super().__init__(state)
        self.lazy_at_build: set[str] = set()
        self.dtype_reported = False

    def after_build(self, ctx: SessionContext) -> list[Diagnostic]:
        self.lazy_at_build = {path for path, node in ctx.record.nodes.items() if node.lazy}
        found = self.frozen(ctx)
        if ctx.dry_run:  # said up front: a failing forward must not hide it
            found.append(Diagnostic(
                code=codes.DRY_RUN, severity="info", phase=Phase.BUILD,
                message="Dry run on the meta device: module shapes and dtypes are checked "
                        f"without memory or compute. Not seen: {DRY_RUN_BLIND_SPOTS}.",
                file=ctx.user_file, fix="Run without --dry-run (on a smaller batch if memory "
                                        "is short) to check values, NaNs and gradients."))
        return found

    def frozen(self, ctx: SessionContext) -> list[Diagnostic]:
        frozen = subtree_all(ctx.modules, lambda p: True, lambda p: not p.requires_grad)
        nodes = ctx.record.nodes
        found = []
        for path in sorted(_top_level(frozen, lambda p: nodes[p].parent if p in nodes else None)):
            module = ctx.modules[path]
            names = [n for n, _ in module.named_parameters()]
            count = sum(p.numel() for p in module.parameters())
            site = ctx.site_of(path)
            found.append(Diagnostic(
                code=codes.FROZEN_PARAMETERS, severity="info", phase=Phase.BUILD,
                message=f"{described(ctx, path, module)} is frozen: "
                        f"{count_text(len(names), 'parameter')} ({listing(names)}, {count:,} "
                        "values) have requires_grad=False, so they get no gradient and the "
                        "optimizer does not change them.", module=path,
                file=site.file if site else ctx.user_file, line=site.line if site else None,
                fix="Nothing to do if that is intended (fine-tuning a head); otherwise "
                    "requires_grad_(True) on it."))
        return found

    def after_forward(self, ctx: SessionContext) -> list[Diagnostic]:
        return unregistered_modules(ctx) + self.lazy(ctx)

    def lazy(self, ctx: SessionContext) -> list[Diagnostic]:
        found = []
        for path in sorted(self.lazy_at_build):
            module = ctx.modules.get(path)
            if module is None or any(isinstance(p, nn.parameter.UninitializedParameter)
                                     for p in module.parameters(recurse=False)):
                continue
            shapes = [f"{n} {shape_text(p.shape)}" for n, p in module.named_parameters(
                recurse=False)]
            calls = ctx.record.calls_of(path)
            given = calls[0].inputs[0].shape if calls and calls[0].inputs else None
            site = ctx.site_of(path)
            found.append(Diagnostic(
                code=codes.LAZY_MODULE, severity="info", phase=Phase.FORWARD,
                message=f"{described(ctx, path, module)} is lazy: its parameters had no shape "
                        f"until the first forward, which gave it "
                        f"{shape_text(given) if given else 'its input'} and made "
                        f"{listing(shapes)}.", module=path,
                file=site.file if site else ctx.user_file, line=site.line if site else None,
                fix=f"Nothing to fix; to make the shape explicit, replace it with "
                    f"{type(module).__name__.replace('Lazy', '')}(...) using these sizes."))
        return found

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> list[Diagnostic]:
        """In a dry run, meta tensors skip dtype checks: compare a layer's input with its own
        weight, and report the first layer where they differ (later ones follow from it)."""
        if not ctx.dry_run:
            return []
        weight = getattr(call.module, "weight", None)
        if self.dtype_reported or not isinstance(weight, nn.Parameter) or \
                not weight.is_floating_point() or isinstance(call.module, nn.Embedding) or \
                not inputs:
            return []
        x = inputs[0]
        if not x.is_tensor or not x.dtype or not x.dtype.startswith(("float", "bfloat")) or \
                x.dtype == dtype_name(weight.dtype):
            return []
        self.dtype_reported = True
        site = ctx.site_of(call.path)
        where = Where(call.path, call.call_index, site.file if site else ctx.user_file,
                      site.line if site else None, call, None, WatchState())
        found = float_mix(ctx, Phase.FORWARD, where, weight.dtype, getattr(torch, x.dtype))
        return [replace(found, message=found.message + " A real run fails here.")]
