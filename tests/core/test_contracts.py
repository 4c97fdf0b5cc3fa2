"""Tests that fail when the code is wrong: exact values of the public contracts (the `check
--json` object field by field on a NaN model, the text report), the surrogate loss, and the
de-duplication of findings."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from torchlens_gui.core.engine.session import Session, surrogate_loss
from torchlens_gui.core.recording.report import to_text

from case_tools import case_path, marker_line, run_case

NAN_CASE = case_path("eng_nan_contract")
SUMMARY_KEYS = ["name", "kind", "shape", "dtype", "device", "min", "max", "mean", "std", "nan",
                "inf", "zero_fraction", "hist"]


@pytest.fixture(scope="module")
def nan_report() -> dict:
    """`torchlens-gui check --json` on a model whose second row divides 0 by 0."""
    result = subprocess.run([sys.executable, "-m", "torchlens_gui", "check", NAN_CASE, "--json",
                             "--device", "cpu"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr  # problems found
    return json.loads(result.stdout)  # strict: NaN/Infinity literals would not parse


def stats(summary: dict) -> tuple:
    return tuple(summary[k] for k in ("min", "max", "mean", "std", "nan", "inf",
                                      "zero_fraction"))


def close(got: tuple, expected: tuple) -> bool:
    return len(got) == len(expected) and all(
        g == e if e is None or isinstance(e, int) else math.isclose(g, e, rel_tol=1e-6)
        for g, e in zip(got, expected))


def test_json_top_level_fields(nan_report):
    assert list(nan_report) == ["schema", "file", "device", "status", "dry_run", "loss",
                                "modules", "diagnostics", "steps"]
    assert nan_report["steps"] == []  # one forward/backward, no training steps
    assert (nan_report["schema"], nan_report["file"], nan_report["device"],
            nan_report["status"], nan_report["dry_run"]) == (1, NAN_CASE, "cpu", "problems",
                                                            False)
    # the surrogate (sum of the outputs) is NaN: JSON has no NaN, so null
    assert nan_report["loss"] == {"value": None, "surrogate": True}


def test_json_modules_field_by_field(nan_report):
    modules = {m["path"]: m for m in nan_report["modules"]}
    assert list(modules) == ["", "scale", "ratio"]
    assert [list(m) for m in modules.values()] == [
        ["path", "type", "calls", "registered", "created_at", "inputs", "outputs", "params"]] * 3
    assert [(m["type"], m["calls"], m["registered"]) for m in modules.values()] == [
        ("Net", 1, True), ("Linear", 1, True), ("Ratio", 1, True)]
    assert modules["scale"]["created_at"] == {"file": NAN_CASE,
                                              "line": marker_line(NAN_CASE, "site:scale")}
    assert modules["ratio"]["created_at"]["line"] == marker_line(NAN_CASE, "site:ratio")

    x = modules["scale"]["inputs"][0]  # [[1, 3], [0, 0], [2, 2]] through an identity layer
    assert list(x) == SUMMARY_KEYS
    assert (x["name"], x["kind"], x["shape"], x["dtype"], x["device"]) == (
        "[0]", "tensor", [3, 2], "float32", "cpu")
    assert close(stats(x), (0.0, 3.0, 8 / 6, math.sqrt(22 / 15), 0, 0, 2 / 6))
    assert close(stats(modules["scale"]["outputs"][0]), stats(x))

    out = modules["ratio"]["outputs"][0]  # [[.25, .75], [nan, nan], [.5, .5]]
    # statistics of the finite values; the NaN count beside them
    assert close(stats(out), (0.25, 0.75, 0.5, math.sqrt(0.125 / 3), 2, 0, 0.0))
    assert out["hist"]["edges"][0] == 0.25 and out["hist"]["edges"][-1] == 0.75
    assert sum(out["hist"]["counts"]) == 4  # the finite ones
    assert close(stats(modules[""]["outputs"][0]), stats(out))


def test_json_parameters_and_their_nan_gradient(nan_report):
    scale = next(m for m in nan_report["modules"] if m["path"] == "scale")
    (weight,) = scale["params"]
    assert list(weight) == ["name", "shape", "dtype", "requires_grad", "stats", "grad"]
    assert (weight["name"], weight["shape"], weight["dtype"], weight["requires_grad"]) == (
        "weight", [2, 2], "float32", True)
    assert close(stats(weight["stats"]), (0.0, 1.0, 0.5, math.sqrt(1 / 3), 0, 0, 0.5))
    grad = weight["grad"]  # every element NaN: no finite value to describe
    assert (grad["name"], grad["shape"], grad["hist"]) == ("weight.grad", [2, 2], None)
    assert stats(grad) == (None, None, None, None, 4, 0, 0.0)


def test_json_diagnostic_field_by_field(nan_report):
    (d,) = nan_report["diagnostics"]
    line = marker_line(NAN_CASE, "non-finite")
    assert d == {
        "code": "non-finite", "severity": "error", "phase": "forward", "module": "ratio",
        "file": NAN_CASE, "line": line,
        "message": f"NaN is born in ratio (Ratio() at eng_nan_contract.py:"
                   f"{marker_line(NAN_CASE, 'site:ratio')}): Tensor.div at "
                   f"eng_nan_contract.py:{line} makes NaN from inputs without NaN: the "
                   "denominator has 1 zero (0/0 gives NaN, x/0 gives Inf). The module's output "
                   "has 2 NaN of 6 values.",
        "fix": f"Guard the denominator at eng_nan_contract.py:{line}: divide by (d + 1e-8) or "
               "d.clamp_min(1e-8), or skip rows whose sum is zero.",
        "step": None,
    }


def test_text_report_of_a_nan_model():
    text = to_text(Session(NAN_CASE, device="cpu").run())
    rows = {line.split()[0]: line for line in text.splitlines()[4:7]}
    assert list(rows) == ["(root)", "scale", "ratio"]
    assert rows["ratio"].split() == ["ratio", "Ratio", "1", "[3,", "2]", "float32", "-",
                                     "NaN", "x2"]
    assert rows["scale"].split() == ["scale", "Linear", "1", "[3,", "2]", "float32", "-"]
    assert rows["(root)"].endswith("NaN x2")
    assert "loss: nan (surrogate: sum of outputs)" in text
    line = marker_line(NAN_CASE, "non-finite")
    assert f"[error] non-finite (forward) ratio eng_nan_contract.py:{line}" in text
    assert f"    fix: Guard the denominator at eng_nan_contract.py:{line}:" in text
    assert text.endswith("status: problems")


def test_surrogate_loss_is_the_sum_of_every_float_output():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = torch.tensor([10.0], requires_grad=True)
    labels = torch.tensor([7])  # integer: not part of it
    loss = surrogate_loss((a, {"b": b, "labels": labels}))
    assert loss.item() == 20.0
    loss.backward()  # so each output element gets gradient exactly 1
    assert a.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]] and b.grad.tolist() == [1.0]


def test_surrogate_loss_value_in_the_report():
    torch.manual_seed(0)
    model, x = nn.Linear(3, 2), torch.randn(4, 3)
    from torchlens_gui import check

    report = check(model, x, device="cpu")
    assert report["loss"]["surrogate"] is True
    assert math.isclose(report["loss"]["value"], float(model(x).sum().detach()), rel_tol=1e-5)


def test_an_unregistered_block_is_one_warning_for_all_modules_inside_it():
    report = run_case("diag_unregistered_nested")
    found = [d for d in report["diagnostics"] if d["code"] == "unregistered-module"]
    assert [(d["module"], d["line"]) for d in found] == [
        ("extra[0]", marker_line(case_path("diag_unregistered_nested"), "unregistered-module"))]
    assert found[0]["message"].startswith("extra[0] (Sequential, 144 parameters in all) ran in "
                                          "forward but is not registered")
    unregistered = [m["path"] for m in report["modules"] if not m["registered"]]
    assert unregistered == ["extra[0]", "extra[0].0", "extra[0].1", "extra[0].2", "extra[0].3"]
