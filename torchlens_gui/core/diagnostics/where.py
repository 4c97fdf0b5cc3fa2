"""Where an exception happened: the module running, its call, and the user's line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch.nn as nn

from ..usercode.context import ActiveCall, SessionContext
from ..usercode.user_frames import innermost_user_frame
from .op_watch import OpFailure, WatchState


@dataclass
class Where:
    """Where an exception happened, as precisely as we can say it."""

    module: Optional[str]
    call_index: Optional[int]
    file: Optional[str]
    line: Optional[int]
    failing: Optional[ActiveCall]
    failure: Optional[OpFailure]
    state: WatchState

    def fields(self) -> dict:
        return dict(module=self.module, call_index=self.call_index, file=self.file,
                    line=self.line)


def locate(exc: BaseException, ctx: SessionContext, failing: Optional[ActiveCall],
           state: WatchState) -> Where:
    failure = state.failure_for(exc)
    module = failure.module if failure is not None and failure.module is not None else (
        failing.path if failing is not None else None)
    index = failure.call_index if failure is not None and failure.module is not None else (
        failing.call_index if failing is not None else None)
    if failure is not None and failure.line is not None:
        file, line = failure.file, failure.line
    else:
        found = innermost_user_frame(exc.__traceback__, ctx.user_file)
        site = ctx.site_of(module)
        # no user line ran it (a layer inside nn.Sequential): point at where it was built
        file, line = found if found else ((site.file, site.line) if site else (ctx.user_file,
                                                                                None))
    return Where(module, index, file, line, failing, failure, state)


def modules_running(ctx: SessionContext, where: Where) -> list[tuple[str, nn.Module]]:
    """The failing module first, then its callers (innermost first)."""
    out = []
    if where.module is not None and where.module in ctx.modules:
        out.append((where.module, ctx.modules[where.module]))
    for call in reversed(ctx.stack):
        if call.path != where.module:
            out.append((call.path, call.module))
    return out
