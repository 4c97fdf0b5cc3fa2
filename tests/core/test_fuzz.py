"""Issue 10: random stacks of layers with random (often wrong) sizes, dtypes, devices and
inputs. Every run ends with a clean report or a diagnostic naming a module: never an unhandled
exception, an internal error, a hang, or a hook or thread left behind."""

from __future__ import annotations

import threading

import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchlens_gui.core.engine.isolation import hook_registry_sizes
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.usercode.loader import spec_from_objects

SIZES = st.sampled_from([1, 2, 3, 4, 8])
LAYER = st.one_of(
    st.tuples(st.just("linear"), SIZES, SIZES),
    st.tuples(st.just("conv"), SIZES, SIZES),
    st.tuples(st.just("norm"), SIZES, st.just(0)),
    st.tuples(st.sampled_from(["relu", "tanh", "softmax", "log", "sqrt", "flatten", "double",
                               "half", "detach"]), st.just(0), st.just(0)),
)
INPUT_DTYPES = st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool])


class _Func(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x):
        k = self.kind
        if k == "relu":
            return torch.relu(x)
        if k == "tanh":
            return torch.tanh(x)
        if k == "softmax":
            return torch.softmax(x, dim=-1)
        if k == "log":
            return torch.log(x)
        if k == "sqrt":
            return torch.sqrt(x)
        if k == "flatten":
            return torch.flatten(x, 1)
        if k == "double":
            return x.double()
        if k == "half":
            return x.half()
        return x.detach()


def _layer(kind: str, a: int, b: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(a, b)
    if kind == "conv":
        return nn.Conv1d(a, b, kernel_size=1)
    if kind == "norm":
        return nn.LayerNorm(a)
    return _Func(kind)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(LAYER, min_size=1, max_size=5),
       shape=st.lists(SIZES, min_size=1, max_size=3), dtype=INPUT_DTYPES,
       dry_run=st.booleans(), with_loss=st.booleans())
def test_random_models_end_cleanly_or_with_a_diagnostic_naming_a_module(
        layers, shape, dtype, dry_run, with_loss):
    torch.manual_seed(0)
    model = nn.Sequential(*[_layer(*spec) for spec in layers])
    x = (torch.randn(*shape) * 3).to(dtype)
    loss = (lambda out: out.float().mean()) if with_loss else None
    hooks, threads = hook_registry_sizes(), threading.active_count()

    record = Session(spec_from_objects(model, x, loss), device="cpu", dry_run=dry_run,
                     histograms=True).run()  # never raises

    codes = [d.code for d in record.diagnostics]
    assert record.status in ("ok", "problems", "failed"), (record.status, codes)
    assert "internal-error" not in codes, [d.message for d in record.diagnostics]
    errors = [d for d in record.diagnostics if d.severity == "error"]
    for d in errors:
        assert d.module is not None or d.phase == "loss", (d.code, d.message)
    if record.status == "ok":
        assert not errors
    assert hook_registry_sizes() == hooks
    assert threading.active_count() == threads
    assert torch.is_grad_enabled()
