"""What a session may change in the process, noted before it runs and put back after it.

A model file runs with the debugger's own interpreter: it can switch grad or anomaly mode, set a
default dtype or device, register torch global hooks, import helper modules from its folder. A
session that ended must leave none of that behind (the next load, the user's live model after
``debug()`` and the debugger itself all run in the same process).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Optional

import torch
from torch.nn.modules import module as nn_module

from ..usercode.loader import USER_MODULE_PREFIX

# torch's process-wide module hook tables (a handle's remove() does not clear every one of them:
# ``_global_forward_hooks_with_kwargs`` keeps its entry).
HOOK_REGISTRIES = (
    "_global_buffer_registration_hooks", "_global_module_registration_hooks",
    "_global_parameter_registration_hooks", "_global_backward_pre_hooks",
    "_global_backward_hooks", "_global_forward_pre_hooks", "_global_forward_hooks",
    "_global_forward_hooks_always_called", "_global_forward_hooks_with_kwargs",
)


def hook_registry_sizes() -> dict[str, int]:
    """The size of each torch global module hook table (what must come back after a run)."""
    return {name: len(getattr(nn_module, name, {})) for name in HOOK_REGISTRIES}


class ProcessState:
    """A snapshot of the torch and interpreter state a session may disturb.

    ``restore()`` puts back, on the calling thread: grad mode and the default device (per
    thread in torch), and, process-wide, anomaly mode, the default dtype, the torch global hook
    tables (entries added since the snapshot are dropped, including the user's own) and
    ``sys.modules`` (modules imported from ``folder``, the model file's, are dropped so an
    edited helper is re-read on restart).

    Sessions can overlap (a run abandoned in a C call finishes while the next one runs): the
    process-wide part is restored by the last one to end, to the state before the first began,
    so an old session never removes a newer one's hooks.
    """

    def __init__(self, folder: Optional[str] = None) -> None:
        with _LOCK:
            _ACTIVE.append(self)
            self.baseline = _ACTIVE[0].baseline if len(_ACTIVE) > 1 else self
        self.folder = os.path.abspath(folder) if folder else None
        self.grad_enabled = torch.is_grad_enabled()
        self.inference_mode = torch.is_inference_mode_enabled()
        self.anomaly = torch.is_anomaly_enabled()
        self.anomaly_nan = torch.is_anomaly_check_nan_enabled()
        self.dtype = torch.get_default_dtype()
        self.device_context = _device_context()
        self.hook_keys = {name: set(getattr(nn_module, name, {})) for name in HOOK_REGISTRIES}
        self.full_backward = getattr(nn_module, "_global_is_full_backward_hook", None)
        self.modules = set(sys.modules)

    def restore(self) -> None:
        torch.set_grad_enabled(self.grad_enabled)
        if _device_context() is not self.device_context:
            _set_device_context(self.device_context)
        with _LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            if _ACTIVE:
                return  # another session still runs: the last one out restores
            self.baseline._restore_process_wide()

    def _restore_process_wide(self) -> None:
        if torch.is_anomaly_enabled() != self.anomaly or \
                torch.is_anomaly_check_nan_enabled() != self.anomaly_nan:
            torch.set_anomaly_enabled(self.anomaly, self.anomaly_nan)
        if torch.get_default_dtype() != self.dtype:
            torch.set_default_dtype(self.dtype)
        for name, keys in self.hook_keys.items():
            table = getattr(nn_module, name, None)
            if table is None:
                continue
            for key in [k for k in table if k not in keys]:
                table.pop(key, None)
        if hasattr(nn_module, "_global_is_full_backward_hook"):
            nn_module._global_is_full_backward_hook = self.full_backward
        for name in [n for n in sys.modules if n not in self.modules]:
            if self._user_module(name, sys.modules.get(name)):
                sys.modules.pop(name, None)

    def _user_module(self, name: str, module: Any) -> bool:
        if name.startswith(USER_MODULE_PREFIX):
            return True
        file = getattr(module, "__file__", None)
        if not self.folder or not isinstance(file, str):
            return False
        file = os.path.abspath(file)
        return file.startswith(self.folder + os.sep) and "site-packages" not in file


_LOCK = threading.Lock()
_ACTIVE: list[ProcessState] = []  # sessions that have not ended, oldest first


def _device_context() -> Any:
    """The DeviceContext torch.set_default_device entered on this thread (None: none)."""
    return getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None)


def _set_device_context(context: Any) -> None:
    """Leave the current default-device context and re-enter ``context`` (None: no default)."""
    current = _device_context()
    if current is not None:
        try:
            current.__exit__(None, None, None)
        except Exception:  # a mode stack the user left unbalanced: still drop ours
            pass
    if context is not None:
        context.__enter__()
    torch._GLOBAL_DEVICE_CONTEXT.device_context = context
