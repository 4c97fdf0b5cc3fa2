"""The engine on case files: load failures, build failures, runtime failures and clean runs,
each asserting the exact report (codes, modules, lines, shapes, call counts)."""

from __future__ import annotations

import pytest

from case_tools import case_path, marker_line, module_entry, run_case


def only_error(report: dict) -> dict:
    errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert len(errors) == 1, report["diagnostics"]
    return errors[0]


@pytest.mark.parametrize("name, message_part", [
    ("eng_syntax_error", "Syntax error"),
    ("eng_import_error", "No module named 'package_that_does_not_exist_anywhere'"),
    ("eng_sys_exit", "sys.exit(3)"),
    ("eng_raise_at_import", "KeyError"),
])
def test_load_errors_point_at_the_users_line(name, message_part):
    report = run_case(name)
    error = only_error(report)
    assert report["status"] == "failed"
    assert (error["code"], error["phase"]) == ("load-error", "load")
    assert error["file"] == case_path(name)
    assert error["line"] == marker_line(case_path(name), "load-error")
    assert message_part in error["message"]
    assert error["fix"]
    assert report["modules"] == []


def test_file_without_model_is_a_load_error():
    error = only_error(run_case("eng_nothing"))
    assert error["code"] == "load-error"
    assert "build_model()" in error["message"] and error["line"] is None


def test_build_returning_a_non_module_is_a_load_error():
    error = only_error(run_case("eng_not_a_module"))
    assert (error["code"], error["phase"]) == ("load-error", "build")
    assert "dict" in error["message"]


def test_missing_file_is_a_load_error():
    error = only_error(run_case("does_not_exist_anywhere"))
    assert error["code"] == "load-error" and "No such file" in error["message"]


def test_exception_in_build_model_points_at_the_constructor_line_not_torch():
    path = case_path("eng_build_raises")
    report = run_case("eng_build_raises")
    error = only_error(report)
    assert (error["code"], error["phase"]) == ("creation-error", "build")
    assert (error["file"], error["line"]) == (path, marker_line(path, "creation-error"))
    assert "negative dimension" in error["message"]


def test_exception_in_forward_names_innermost_module_and_line():
    path = case_path("eng_forward_raises")
    report = run_case("eng_forward_raises")
    error = only_error(report)
    assert (error["code"], error["phase"], error["module"]) == ("runtime-error", "forward", "router")
    assert (error["file"], error["line"]) == (path, marker_line(path, "runtime-error"))
    assert "KeyError" in error["message"]
    assert report["status"] == "problems"
    # modules that ran before the failure keep their records
    assert module_entry(report, "pre")["outputs"][0]["shape"] == [2, 4]
    assert module_entry(report, "router.experts.a")["calls"] == 0


def test_clean_nested_model_report():
    path = case_path("eng_nested")
    report = run_case("eng_nested")
    assert report["status"] == "ok" and report["diagnostics"] == []
    assert [m["path"] for m in report["modules"]] == [
        "", "stem", "stem.0", "stem.1", "shared", "shared.fc", "shared.act", "head"]
    calls = {m["path"]: m["calls"] for m in report["modules"]}
    assert calls == {"": 1, "stem": 1, "stem.0": 1, "stem.1": 1, "shared": 3, "shared.fc": 3,
                     "shared.act": 3, "head": 1}
    assert module_entry(report, "")["created_at"] == {"file": path, "line": marker_line(path, "site:root")}
    assert module_entry(report, "stem")["created_at"]["line"] == marker_line(path, "site:stem")
    assert module_entry(report, "stem.0")["created_at"]["line"] == marker_line(path, "site:stem")
    assert module_entry(report, "shared")["created_at"]["line"] == marker_line(path, "site:shared")
    assert module_entry(report, "shared.fc")["created_at"]["line"] == marker_line(path, "site:block.fc")
    head = module_entry(report, "head")
    assert head["inputs"][0]["shape"] == [5, 8] and head["outputs"][0]["shape"] == [5, 2]
    weight = head["params"][0]
    assert (weight["name"], weight["shape"], weight["dtype"], weight["requires_grad"]) == (
        "weight", [2, 8], "float32", True)
    assert weight["grad"]["shape"] == [2, 8] and weight["grad"]["nan"] == 0
    assert sum(weight["grad"]["hist"]["counts"]) == 16
    assert report["loss"]["surrogate"] is False and report["loss"]["value"] > 0


def test_unregistered_modules_are_recorded_and_flagged():
    path = case_path("eng_unregistered")
    report = run_case("eng_unregistered")
    layer = module_entry(report, "layers[0]")
    assert layer["registered"] is False and layer["calls"] == 1
    assert layer["created_at"]["line"] == marker_line(path, "site:layers")
    assert layer["outputs"][0]["shape"] == [3, 6]
    assert module_entry(report, "layers[1]")["registered"] is False
    assert module_entry(report, "inp")["registered"] is True


def test_nested_inputs_and_outputs_are_summarised():
    report = run_case("eng_structures")
    root = module_entry(report, "")
    assert [(s["name"], s["kind"]) for s in root["inputs"]] == [
        ("['query']", "tensor"), ("['doc']", "tensor"), ("['temperature']", "value")]
    assert [s["name"] for s in root["outputs"]] == [
        ".logits", ".extras['pair'].left", ".extras['pair'].right", ".extras['note']"]
    assert root["outputs"][0]["shape"] == [4]
    assert root["outputs"][3]["text"] == "'scores'"


def test_surrogate_loss_and_module_level_model():
    report = run_case("eng_surrogate")
    assert report["loss"]["surrogate"] is True
    assert report["status"] == "ok"
    # the surrogate sums every output: each output element's gradient is 1, so the last
    # layer's bias gets the batch size (4) in each of its 2 entries
    bias = module_entry(report, "2")["params"][1]
    assert bias["name"] == "bias" and (bias["grad"]["min"], bias["grad"]["max"]) == (4.0, 4.0)


def test_lazy_modules_report_materialised_shapes():
    report = run_case("eng_lazy")
    first = module_entry(report, "0")
    assert first["params"][0]["shape"] == [12, 20]
    assert module_entry(report, "2")["params"][0]["shape"] == [3, 12]


def test_out_of_memory_becomes_a_diagnostic():
    path = case_path("eng_oom")
    report = run_case("eng_oom")
    error = only_error(report)
    assert (error["code"], error["module"], error["phase"]) == ("out-of-memory", "big", "forward")
    assert error["file"] == path and "dry-run" in error["fix"]


def test_cuda_requested_without_cuda_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    report = run_case("eng_nested", device="cuda")
    error = only_error(report)
    assert error["code"] == "device-unavailable"
    assert "--device cpu" in error["message"]
    assert report["status"] == "failed"


def test_hooks_are_removed_and_model_left_intact():
    import torch
    from torch.nn.modules import module as nn_module

    from torchlens_gui.core.usercode.loader import spec_from_objects
    from torchlens_gui.core.engine.session import Session

    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pre, post = len(nn_module._global_forward_pre_hooks), len(nn_module._global_forward_hooks)
    Session(spec_from_objects(model, torch.randn(2, 3)), device="cpu").run()
    assert len(nn_module._global_forward_pre_hooks) == pre
    assert len(nn_module._global_forward_hooks) == post
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model._forward_hooks and not model[0]._forward_pre_hooks


def test_check_from_code_returns_the_json_report():
    import torch

    import torchlens_gui

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    report = torchlens_gui.check(model, torch.randn(2, 4), loss=lambda out: out.mean(),
                                 device="cpu")
    assert report["status"] == "ok"
    assert [m["path"] for m in report["modules"]] == ["", "0", "1"]
    assert report["loss"]["surrogate"] is False


def test_dry_run_on_meta_sees_shapes_but_no_values():
    report = run_case("eng_nested", dry_run=True)
    assert report["device"] == "meta" and report["dry_run"] is True
    head = module_entry(report, "head")
    assert head["outputs"][0]["shape"] == [5, 2] and head["outputs"][0]["min"] is None
    assert head["params"][0]["grad"] is None
    assert report["loss"]["value"] is None


def test_numpy_inputs_are_refused_with_a_conversion_hint():
    report = run_case("eng_numpy_inputs")
    error = only_error(report)
    assert (error["code"], error["phase"]) == ("load-error", "build")
    assert "numpy.ndarray" in error["message"] and "torch.as_tensor" in error["fix"]
    assert report["status"] == "failed"
