"""Record, while build_model() runs, the user-file line that constructed each module.

nn.Module.__init__ is wrapped for the duration of the build. The constructor chain of the new
module (its class's __init__ and its bases', whose ``self`` is the module) is skipped, and the
first frame above it in the user's code is the creation site: the line a diagnostic can quote
("nn.Linear(30, 10) at model.py:14").
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Iterator, Optional

import torch.nn as nn

from ..recording.events import SourceLocation
from .user_frames import is_user_file


class CreationSites:
    """Maps modules (by identity) to where the user's code created them."""

    def __init__(self) -> None:
        self._sites: dict[int, SourceLocation] = {}
        self._alive: list[nn.Module] = []  # keeps ids unique while we hold them
        self._in_forward: set[int] = set()  # made while the model ran, not by build_model()

    def get(self, module: nn.Module) -> Optional[SourceLocation]:
        return self._sites.get(id(module))

    def add(self, module: nn.Module, site: SourceLocation) -> None:
        if id(module) not in self._sites:
            self._sites[id(module)] = site
            self._alive.append(module)

    def made_in_forward(self, module: nn.Module) -> bool:
        """Whether the user's code constructed ``module`` while the model ran (inside forward
        or the loss), where it gets fresh weights on every call."""
        return id(module) in self._in_forward

    def __len__(self) -> int:
        return len(self._sites)

    @contextlib.contextmanager
    def recording(self, user_file: Optional[str], in_forward: bool = False
                  ) -> Iterator["CreationSites"]:
        """Record creation sites of modules constructed on this thread inside the block
        (``in_forward``: the block runs the model, not build_model())."""
        original_init = nn.Module.__init__
        thread = threading.get_ident()
        sites = self

        def recording_init(module_self, *args, **kwargs):
            original_init(module_self, *args, **kwargs)
            if threading.get_ident() == thread and id(module_self) not in sites._sites:
                site = _find_site(module_self, user_file)
                if site is not None:
                    sites.add(module_self, site)
                    if in_forward:
                        sites._in_forward.add(id(module_self))

        nn.Module.__init__ = recording_init
        try:
            yield self
        finally:
            nn.Module.__init__ = original_init


def _find_site(module: nn.Module, user_file: Optional[str]) -> Optional[SourceLocation]:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is module:
            frame = frame.f_back  # still inside this module's own constructor chain
            continue
        if is_user_file(frame.f_code.co_filename, user_file):
            return SourceLocation(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None
