"""Device choice: cpu, cuda, cuda:N, auto, meta; what is available and why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


class DeviceUnavailable(Exception):
    """The requested device does not exist on this machine."""


@dataclass(frozen=True)
class DeviceChoice:
    """One entry of a device menu. ``reason`` says why a disabled entry cannot be used."""

    name: str
    label: str
    available: bool
    reason: Optional[str] = None


def cuda_unavailable_reason() -> Optional[str]:
    """None when CUDA works; otherwise a sentence a user can act on."""
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return f"this PyTorch build ({torch.__version__}) has no CUDA support"
    try:
        if not torch.cuda.is_available():
            return "no CUDA device or driver was found"
    except Exception as exc:  # a broken driver raises instead of returning False
        return f"CUDA failed to initialise: {exc}"
    return None


def list_devices() -> list[DeviceChoice]:
    """CPU and every CUDA device, with a reason on entries that cannot be used."""
    choices = [DeviceChoice("cpu", "CPU", True)]
    reason = cuda_unavailable_reason()
    if reason is not None:
        choices.append(DeviceChoice("cuda", "CUDA", False, reason))
        return choices
    for index in range(torch.cuda.device_count()):
        name = torch.cuda.get_device_name(index)
        choices.append(DeviceChoice(f"cuda:{index}", f"cuda:{index} ({name})", True))
    return choices


def resolve_device(name: str) -> torch.device:
    """Turn a user's device string into a torch.device, or raise DeviceUnavailable."""
    text = (name or "auto").strip().lower()
    if text == "auto":
        return torch.device("cuda" if cuda_unavailable_reason() is None else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise DeviceUnavailable(
            f"Unknown device '{name}'. Use cpu, cuda, cuda:N, meta or auto."
        ) from None
    if device.type == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise DeviceUnavailable(f"CUDA was requested but {reason}. Use --device cpu.")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceUnavailable(
                f"{device} was requested but only {count} CUDA device(s) exist "
                f"(cuda:0..cuda:{count - 1})."
            )
    elif device.type not in ("cpu", "meta"):
        raise DeviceUnavailable(f"Device type '{device.type}' is not supported here.")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so timings and errors land where they belong."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA (or CPU allocator) out-of-memory errors, however torch phrased them."""
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    )


def free_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        try:
            torch.cuda.empty_cache()
        except Exception:
            pass
