"""Issue 10, failure 6: odd outputs and models get a clear outcome, never a misleading one."""

from __future__ import annotations

import pytest

from case_tools import case_path, marker_line, module_entry, run_case


def _codes(report):
    return [d["code"] for d in report["diagnostics"]]


@pytest.mark.parametrize("name, what", [
    ("rel_out_none", "returned None"),
    ("rel_out_str", "returned a str"),
    ("rel_out_generator", "returned a generator"),
    ("rel_out_deep", "returned a list"),
])
def test_outputs_backward_cannot_start_from(name, what):
    report = run_case(name)
    (diagnostic,) = report["diagnostics"]
    assert diagnostic["code"] == "nothing-to-backward" and diagnostic["module"] == ""
    assert what in diagnostic["message"] and "nothing to start from" in diagnostic["message"]
    assert "loss(output)" in diagnostic["fix"] and "Return the output tensor" in diagnostic["fix"]
    assert report["status"] == "problems"


def test_complex_output_runs_backward_through_both_parts():
    report = run_case("rel_out_complex")
    assert report["status"] == "ok", report["diagnostics"]
    (weight,) = [p for p in module_entry(report, "fc")["params"] if p["name"] == "weight"]
    assert weight["grad"] is not None and weight["grad"]["max"] != 0


def test_a_model_without_parameters_is_clean():
    report = run_case("rel_no_params")
    assert report["status"] == "ok"
    assert _codes(report) == ["no-parameters"]
    assert report["diagnostics"][0]["severity"] == "info"


@pytest.mark.parametrize("name", ["rel_meta_model", "rel_meta_default"])
def test_a_meta_model_says_to_build_on_a_real_device_or_dry_run(name):
    report = run_case(name)
    assert report["status"] == "failed"
    (diagnostic,) = report["diagnostics"]
    assert diagnostic["code"] == "meta-model" and "--dry-run" in diagnostic["fix"]


def test_add_module_during_forward_is_named_as_such():
    path = case_path("rel_add_module")
    report = run_case("rel_add_module")
    (diagnostic,) = [d for d in report["diagnostics"] if d["module"] == "late"]
    assert diagnostic["code"] == "module-added-in-forward"
    assert diagnostic["line"] == marker_line(path, "module-added-in-forward")
    assert "unregistered-module" not in _codes(report)
    assert module_entry(report, "late")["registered"] is True


def test_a_dotted_module_name_is_told_apart_from_a_nested_path():
    report = run_case("rel_dotted_name")
    assert report["status"] == "ok", report["diagnostics"]
    paths = [m["path"] for m in report["modules"]]
    assert "enc.`a.b`" in paths and "enc.a.b" in paths
    assert module_entry(report, "enc.`a.b`")["calls"] == 1
    assert module_entry(report, "enc.a.b")["calls"] == 1
