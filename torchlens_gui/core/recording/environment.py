"""Where a run happened: the environment block of snapshots and HTML reports."""

from __future__ import annotations

import datetime
import platform
import socket
import sys
from typing import Any, Optional


def environment_block(command: Optional[list[str]] = None) -> dict[str, Any]:
    """Host, time (UTC), Python, torch, CUDA and device names, and the command line."""
    import torch

    from ..._version import __version__

    devices: list[str] = []
    cuda = None
    try:
        if torch.cuda.is_available():
            cuda = torch.version.cuda
            devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver is not a reason to lose the snapshot
        devices = []
    return {
        "host": socket.gethostname(),
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": cuda,
        "devices": devices,
        "torchlens_gui": __version__,
        "command": list(command) if command is not None else list(sys.argv),
    }
