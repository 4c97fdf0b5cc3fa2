"""torchlens-gui: a step-through debugger for PyTorch models.

Three front doors over one Qt-free engine (torchlens_gui.core):

- the desktop app: ``torchlens-gui [model.py]``;
- headless: ``torchlens-gui check model.py [--json]``;
- from code: :func:`debug` opens the app on a live model, :func:`check` returns the report.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ._version import __version__


def check(model: Any, inputs: Any, loss: Optional[Callable[[Any], Any]] = None,
          device: str = "auto", dry_run: bool = False) -> dict:
    """Run ``model(inputs)``, the loss and backward under the debugger without a window and
    return the report: the same object `torchlens-gui check --json` prints."""
    from .core.usercode.loader import spec_from_objects
    from .core.recording.report import to_json
    from .core.engine.session import Session

    record = Session(spec_from_objects(model, inputs, loss), device=device, histograms=True,
                     dry_run=dry_run).run()
    return to_json(record)


def debug(model: Any, inputs: Any, loss: Optional[Callable[[Any], Any]] = None,
          device: str = "auto") -> int:
    """Open the debugger window on a live model, paused before its first module (like
    ``breakpoint()``). Returns when the window is closed."""
    from .core.usercode.loader import spec_from_objects
    from .gui.app import run_app

    # No single "user file" here: any frame outside libraries counts as the user's code.
    spec = spec_from_objects(model, inputs, loss, file=None)
    return run_app(spec=spec, device=device)


__all__ = ["check", "debug", "__version__"]
