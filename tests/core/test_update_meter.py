"""UpdateMeter: gradient norms and update-to-weight ratios from sampled weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from torchlens_gui.core.engine.update_meter import UPDATE_SAMPLE, UpdateMeter, sample_view
from torchlens_gui.core.recording.record import RunRecord
from torchlens_gui.core.usercode.context import SessionContext
from torchlens_gui.core.usercode.creation_sites import CreationSites


def meter_for(model: nn.Module) -> UpdateMeter:
    ctx = SessionContext(None, torch.device("cpu"), False, RunRecord(), CreationSites())
    ctx.modules = dict(model.named_modules())
    return UpdateMeter(ctx)


def test_sample_is_a_view_of_contiguous_runs_spread_over_the_weight():
    p = torch.arange(100_000, dtype=torch.float32)
    view = sample_view(p)
    assert view.numel() == UPDATE_SAMPLE and view.data_ptr() == p.data_ptr()
    starts = view[:, 0].tolist()
    assert starts[0] == 0 and starts[-1] > 80_000  # spread over the whole parameter
    assert all(b - a == 1 for a, b in zip(view[0].tolist(), view[0].tolist()[1:]))


def test_ratios_per_module_from_samples_match_the_exact_ratio():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(200, 300), nn.Linear(300, 2))
    # One weight stored transposed (not contiguous): its sample is made again each step.
    model[1].weight = nn.Parameter(torch.randn(2, 300).t().contiguous().t())
    meter = meter_for(model)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.full_like(p, 2.0)
    norms, bad = meter.gradient_norms(params)
    assert bad is None
    assert norms["0"] == pytest.approx(2.0 * math.sqrt(200 * 300 + 300))
    weights_before = [p.detach().clone() for p in params]
    before = meter.sample(params)
    with torch.no_grad():
        for p in params:
            p.mul_(1.01)  # every weight moves by 1% of itself
    ratios, bad = meter.update_ratios(params, before, step=1, verify_all=False)
    assert bad is None
    assert ratios["0"] == pytest.approx(0.01, rel=1e-3)
    assert ratios["1"] == pytest.approx(0.01, rel=1e-3)
    assert [p.numel() for p in meter.unverified] == [200 * 300]  # only what was sampled
    assert all(torch.equal(w * 1.01, p.detach()) for w, p in zip(weights_before, params))


def test_a_broken_value_outside_the_sample_is_found_by_verify():
    model = nn.Linear(100, 100)
    meter = meter_for(model)
    params = [model.weight]
    model.weight.grad = torch.ones_like(model.weight)
    before = meter.sample(params)
    with torch.no_grad():
        model.weight.view(-1)[UPDATE_SAMPLE + 700] = math.inf  # between two sampled runs
    assert meter.update_ratios(params, before, step=3, verify_all=False)[1] is None
    assert meter.unverified_step == 3 and meter.verify() == ""
    assert meter.unverified == [] and meter.verify() is None


def test_half_precision_and_huge_finite_gradients():
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8).to(torch.bfloat16))
    meter = meter_for(model)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.full_like(p, 1e30 if p.dtype == torch.float32 else 1.0)
    norms, bad = meter.gradient_norms(params)
    assert bad is None and norms["0"] == pytest.approx(1e30 * math.sqrt(72), rel=1e-5)
    before = meter.sample(params)
    ratios, bad = meter.update_ratios(params, before, step=1, verify_all=True)
    assert bad is None and ratios["1"] == 0.0
