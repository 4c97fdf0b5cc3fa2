"""The run's domain questions, answered once on the record: where the first NaN/Inf was born,
the gradient norm that stands for a module, and which diagnostics belong to a module."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.recording import events as ev
from torchlens_gui.core.recording.record import RunRecord
from torchlens_gui.core.usercode.loader import spec_from_objects

from case_tools import case_path, marker_line


def run(name: str) -> RunRecord:
    return Session(case_path(name), device="cpu").run()


def test_nan_origin_is_the_innermost_call_with_finite_inputs_and_nonfinite_outputs():
    record = run("diag_nan_div")
    origin = record.nonfinite_origin()
    assert (origin.path, origin.call_index) == ("pool", 0)
    # 2 of 3 rows x 6 features: row 2 divides 0 by 0
    assert origin.output_nonfinite_count == 6
    # head and the root pass it along: non-finite out, but not born there
    passed = {c.path for c in record.calls if c.output_nonfinite} - {"pool"}
    assert passed == {"head", ""}


def test_a_finite_run_has_no_nan_origin():
    assert run("diag_clean_reused").nonfinite_origin() is None


def test_module_grad_norm_is_its_parameters_norm_else_its_output_gradient():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    record = Session(spec_from_objects(model, x, lambda out: (out ** 2).mean()),
                     device="cpu").run()
    # the reference, by torch itself
    model.zero_grad()
    (model(x) ** 2).mean().backward()
    first = math.sqrt(model[0].weight.grad.norm() ** 2 + model[0].bias.grad.norm() ** 2)
    norm, of_params = record.module_grad_norm("0")
    assert of_params and math.isclose(norm, first, rel_tol=1e-5)
    # ReLU owns no parameter: the gradient that arrived at its output stands for it
    relu_out = model[0](x).relu().detach().requires_grad_()
    (model[2](relu_out) ** 2).mean().backward()
    norm, of_params = record.module_grad_norm("1")
    assert not of_params and math.isclose(norm, float(relu_out.grad.norm()), rel_tol=1e-5)
    assert record.module_grad_norm("nothing here") == (None, False)


def test_diagnostics_of_a_module_and_of_one_call():
    record = RunRecord()
    a0 = ev.Diagnostic("non-finite", "error", ev.Phase.FORWARD, "m", module="a", call_index=0)
    a1 = ev.Diagnostic("non-finite", "error", ev.Phase.FORWARD, "m", module="a", call_index=1)
    a_any = ev.Diagnostic("unregistered-module", "warning", ev.Phase.FORWARD, "m", module="a")
    b = ev.Diagnostic("shape-mismatch", "error", ev.Phase.FORWARD, "m", module="b", line=3,
                      file="f.py")
    loss = ev.Diagnostic("non-finite", "error", ev.Phase.LOSS, "m", line=9, file="f.py")
    for d in (a0, a1, a_any, b, loss):
        record.apply(ev.DiagnosticRaised(d))
    assert record.diagnostics_of("a") == [a0, a1, a_any]
    assert record.diagnostics_of("a", 1) == [a1, a_any]
    assert record.diagnostics_of("c") == []
    assert record.problem_paths() == {"a", "b"}
    # beside a module: its own problem with a line, else the run's first error with a line
    assert record.problem_beside("b") is b
    assert record.problem_beside("a") is b
    assert record.problem_beside(None) is loss  # nothing selected: one that names no module


def test_problem_beside_a_module_in_a_case_names_the_marked_line():
    record = run("diag_shape_linear")
    problem = record.problem_beside("body.2")
    assert (problem.code, problem.line) == (
        "shape-mismatch", marker_line(case_path("diag_shape_linear"), "shape-mismatch"))
