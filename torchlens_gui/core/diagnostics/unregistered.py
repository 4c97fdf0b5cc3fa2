"""``unregistered-module``: a module that owns parameters or buffers ran in forward but is
reachable from no registered parent, so its weights are not trained, not moved by ``.to()``
and not saved.

Parameter-free modules made on the fly (``nn.CrossEntropyLoss()`` or ``nn.ReLU()`` built inside a
library's forward) harm nothing and are not reported. Three causes, each with its own fix:
modules kept in a plain list/dict attribute, modules constructed inside forward (fresh random
weights on every call), and modules held somewhere else (a global, a closure).
"""

from __future__ import annotations

import re

import torch.nn as nn

from ..recording.events import Diagnostic, Phase
from . import codes
from ..usercode.context import SessionContext
from .findings import count_text, listing


def owns_state(module: nn.Module) -> bool:
    """Whether ``module`` or a submodule holds a parameter or a buffer."""
    return next(module.parameters(), None) is not None or next(module.buffers(), None) is not None


def unregistered_modules(ctx: SessionContext) -> list[Diagnostic]:
    """One warning per holder of unregistered modules that own state ("layers[0..2]"), per
    module made inside forward, per module held elsewhere."""
    groups: dict[str, list[str]] = {}
    for path, module in ctx.unregistered.items():
        node = ctx.record.nodes.get(path)
        if node is None or node.parent in ctx.unregistered or not owns_state(module):
            continue  # a submodule of an unregistered module is covered by its top
        site = ctx.sites.get(module)
        if ctx.sites.made_in_forward(module) and site is not None:
            holder = f"<made at {site.short()}>"  # every call's new module: one finding
        else:
            holder = path if path.endswith(">") else re.sub(r"\[[^\]]*\]$", "", path)
        groups.setdefault(holder, []).append(path)
    return [_finding(ctx, holder, paths) for holder, paths in groups.items()]


def _finding(ctx: SessionContext, holder: str, paths: list[str]) -> Diagnostic:
    modules = [ctx.unregistered[p] for p in paths]
    kind = type(modules[0]).__name__
    params = sum(p.numel() for m in modules for p in m.parameters())
    buffers = sum(b.numel() for m in modules for b in m.buffers())
    state = count_text(params, "parameter") + (
        f" and {count_text(buffers, 'buffer value')}" if buffers else "")
    site = ctx.site_of(paths[0])
    at = f" at {site.short()}" if site else ""
    one = len(paths) == 1
    unseen = ("so model.parameters(), the optimizer, state_dict() and .to(device) never see "
              f"{'its' if one else 'their'} weights")
    if ctx.sites.made_in_forward(modules[0]):
        if not one:
            state = f"{state} in {len(paths)} modules so far"
        message = (f"nn.{kind}{at} is constructed inside forward ({state}): every call makes a "
                   f"new {kind} with fresh random weights that belongs to no registered module, "
                   f"{unseen}, and nothing it learns survives the call.")
        fix = (f"Create it once in __init__ (self.<name> = nn.{kind}(...)) and call "
               f"self.<name> in forward instead of constructing it{at}.")
    elif holder.endswith(">"):
        message = (f"{holder} ({kind}, {state}) ran in forward but is reachable from no "
                   f"registered module (it is held outside the model, e.g. in a global or a "
                   f"closure), {unseen}.")
        fix = f"Assign it to an attribute of the model in __init__ (self.<name> = ...{at})."
    else:
        plain, container = ("dict", "nn.ModuleDict") if "['" in paths[0] else (
            "list", "nn.ModuleList")
        attr = holder.rsplit(".", 1)[-1]
        message = (f"{listing(paths)} ({kind}, {state} in all) ran in forward but "
                   f"{'is' if one else 'are'} not registered under the model: a plain Python "
                   f"{plain} holds {'it' if one else 'them'}, {unseen}.")
        fix = (f"Wrap them{at}: self.{attr} = {container}"
               f"({'{...}' if plain == 'dict' else '[...]'}) instead of a plain {plain}.")
    return Diagnostic(
        code=codes.UNREGISTERED_MODULE, severity="warning", phase=Phase.FORWARD, message=message,
        module=paths[0], file=site.file if site else ctx.user_file,
        line=site.line if site else None, fix=fix, details=(("modules", ", ".join(paths)),))
