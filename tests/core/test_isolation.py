"""Issue 10, failure 1: a load leaves nothing behind in the process (sys.modules, torch's global
hook tables, grad/anomaly mode, default dtype and device), and the file's globals are freed."""

from __future__ import annotations

import gc
import sys
import weakref

import torch
import torch.nn as nn

from case_tools import case_path
from torchlens_gui.core.engine.isolation import hook_registry_sizes
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.usercode.loader import USER_MODULE_PREFIX


def _user_modules() -> list[str]:
    return [name for name in sys.modules if name.startswith(USER_MODULE_PREFIX)]


def test_runs_restore_torch_state_hooks_and_sys_modules():
    hooks = hook_registry_sizes()
    modules = _user_modules()
    dtype, grad, anomaly = torch.get_default_dtype(), torch.is_grad_enabled(), \
        torch.is_anomaly_enabled()
    for _ in range(3):
        record = Session(case_path("rel_global_state"), device="cpu").run()
        assert record.status == "ok", record.diagnostics
    assert hook_registry_sizes() == hooks
    assert _user_modules() == modules
    assert torch.get_default_dtype() == dtype
    assert torch.is_grad_enabled() == grad
    assert torch.is_anomaly_enabled() == anomaly
    assert torch.empty(1).device.type == "cpu"


def test_with_kwargs_hook_table_does_not_grow_per_run():
    table = torch.nn.modules.module._global_forward_hooks_with_kwargs
    size = len(table)
    for _ in range(5):
        Session(case_path("eng_surrogate"), device="cpu").run()
    assert len(table) == size


def test_the_files_globals_are_freed_after_the_run(monkeypatch):
    from torchlens_gui.core.engine import session as session_module

    refs = []
    real_load = session_module.load_model_file

    def load(path):
        spec = real_load(path)
        refs.append(weakref.ref(spec.namespace["BIG"]))
        return spec

    monkeypatch.setattr(session_module, "load_model_file", load)
    gc.disable()  # freed at once, not by a full collection some time later
    try:
        record = Session(case_path("rel_global_state"), device="cpu").run()
        assert record.status == "ok"
        assert refs and refs[0]() is None
    finally:
        gc.enable()


def test_live_model_works_normally_after_a_debug_run():
    from torchlens_gui.core.usercode.loader import spec_from_objects

    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
    x = torch.randn(2, 3)
    hooks = hook_registry_sizes()
    Session(spec_from_objects(model, x), device="cpu").run()
    assert hook_registry_sizes() == hooks
    model.zero_grad()
    model(x).sum().backward()  # plain autograd, no hook of ours in the way
    assert model[0].weight.grad is not None
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None  # the session kept no reference to the live model
