"""Diagnostics on case files: each bug is named by code, module, phase and the exact user line
(found by its ``# <- code`` marker), with a message naming the numbers and a fix naming the
user's code. Clean real-world models raise nothing."""

from __future__ import annotations

import math

import pytest

from case_tools import case_path, marker_line, run_case


def problems(report: dict) -> list[dict]:
    return [d for d in report["diagnostics"] if d["severity"] in ("error", "warning")]


def the_problem(name: str, **session_kwargs) -> dict:
    """The one error/warning a case file produces."""
    report = run_case(name, **session_kwargs)
    found = problems(report)
    assert len(found) == 1, [(d["code"], d["module"], d["message"]) for d in found]
    return found[0]


def assert_at(diagnostic: dict, name: str, code: str, module, phase: str,
              marker: str | None = None) -> None:
    path = case_path(name)
    got = (diagnostic["code"], diagnostic["module"], diagnostic["phase"], diagnostic["file"],
           diagnostic["line"])
    assert got == (code, module, phase, path, marker_line(path, marker or code)), \
        diagnostic["message"]
    assert diagnostic["fix"]


# ---- shape-mismatch --------------------------------------------------------------------------

@pytest.mark.parametrize("name, module, message_parts, fix_part", [
    ("diag_shape_linear", "body.2",
     ["expects 30 input features", "[8, 20]", "comes from body.0 (nn.Linear(12, 20)"],
     "change nn.Linear(30, 4) at diag_shape_linear.py:12 to nn.Linear(20, 4)"),
    ("diag_shape_conv", "stem", ["expects 1 input channels but got 3", "example_inputs()"],
     "nn.Conv2d(3, 8, kernel_size=3, padding=1)"),
    ("diag_shape_flatten", "fc", ["expects 150 input features", "6 x 12 x 12 = 864"],
     "to nn.Linear(864, 10)"),
    ("diag_shape_embedding", "tokens", ["has 50 rows", "got index 64"],
     "to nn.Embedding(65, 8)"),
    ("diag_shape_layernorm", "norm", ["[2, 5, 24]", "comes from proj"],
     "to nn.LayerNorm(24)"),
    ("diag_shape_batchnorm", "2", ["expects 8 channels", "got 16", "comes from 1 (nn.Conv2d(8, 16"],
     "change nn.BatchNorm2d(8) at diag_shape_batchnorm.py:10 to nn.BatchNorm2d(16)"),
])
def test_layer_built_for_another_size(name, module, message_parts, fix_part):
    found = the_problem(name)
    assert_at(found, name, "shape-mismatch", module, "forward")
    for part in message_parts:
        assert part in found["message"], found["message"]
    assert fix_part.lower() in found["fix"].lower(), found["fix"]


@pytest.mark.parametrize("name, module, message_parts, fix_part", [
    ("diag_shape_matmul", "attn", ["[2, 5, 8] and [2, 5, 8]", "output of attn.k"],
     "transpose(-2, -1)"),
    ("diag_shape_cat", "", ["torch.cat", "[3, 5, 4] and [3, 4]", "output of left"],
     "unsqueeze"),
    ("diag_shape_view", "", ["[2, 100]", "288 (2 x 144)"], "x.view(x.size(0), -1)"),
])
def test_op_in_forward_names_the_line(name, module, message_parts, fix_part):
    found = the_problem(name)
    assert_at(found, name, "shape-mismatch", module, "forward")
    for part in message_parts:
        assert part in found["message"], found["message"]
    assert fix_part in found["fix"]


@pytest.mark.parametrize("name, code, module, fix_part", [
    ("diag_shape_linear", "shape-mismatch", "body.2", "nn.Linear(20, 4)"),
    ("diag_shape_conv", "shape-mismatch", "stem", "nn.Conv2d(3, 8, kernel_size=3, padding=1)"),
    ("diag_dtype_input", "dtype-mismatch", "0", "x.to(torch.float32)"),
])
def test_dry_run_finds_shape_and_dtype_problems_without_compute(name, code, module, fix_part):
    report = run_case(name, dry_run=True)
    found = problems(report)
    assert [d["code"] for d in found] == [code]
    assert_at(found[0], name, code, module, "forward")
    assert fix_part in found[0]["fix"]
    infos = [d for d in report["diagnostics"] if d["code"] == "dry-run"]
    assert infos and "NaN" in infos[0]["message"] and "gradients" in infos[0]["message"]


# ---- dtype, fallback ---------------------------------------------------------------------------

def test_float64_batch_says_to_convert_the_batch():
    found = the_problem("diag_dtype_input")
    assert_at(found, "diag_dtype_input", "dtype-mismatch", "0", "forward")
    assert "float64" in found["message"] and "float32" in found["message"]
    assert "x.to(torch.float32)" in found["fix"] and "example_inputs()" in found["fix"]


def test_integer_batch_into_a_linear_says_to_convert_it():
    found = the_problem("diag_dtype_int_input")
    assert_at(found, "diag_dtype_int_input", "dtype-mismatch", "1", "forward")
    assert "got an int64 tensor but its parameters are float32" in found["message"]
    assert "x.to(torch.float32)" in found["fix"] and "example_inputs()" in found["fix"]


def test_a_list_of_inputs_is_one_argument_says_the_contract():
    found = the_problem("diag_input_list")
    assert_at(found, "diag_input_list", "runtime-error", "image", "forward")
    assert "must be Tensor, not list" in found["message"]
    assert "hold a list" in found["message"] and "tuple(your_list)" in found["fix"]


def test_unrecognised_exception_falls_back_to_runtime_error():
    found = the_problem("diag_runtime")
    assert_at(found, "diag_runtime", "runtime-error", "picky", "forward")
    assert "ValueError" in found["message"]
    assert found["fix"] == ("Read the message and the marked line; step to the module to inspect "
                            "its inputs.")


def test_a_broken_detector_degrades_to_the_fallback(monkeypatch):
    from torchlens_gui.core.diagnostics import exceptions, nonfinite

    def broken(*args, **kwargs):
        raise AttributeError("detector bug")

    monkeypatch.setattr(exceptions.ExceptionExplainer, "explain", broken)
    monkeypatch.setattr(nonfinite.NonFiniteDetector, "on_module_output", broken)
    found = the_problem("diag_shape_linear")
    assert (found["code"], found["module"]) == ("runtime-error", "body.2")
    report = run_case("diag_nan_div")
    assert report["status"] == "ok"  # the NaN detector is gone, the session still completes


# ---- non-finite ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, module, op, kind, message_parts", [
    ("diag_nan_div", "pool", "Tensor.div", "NaN", ["denominator has 1 zero"]),
    ("diag_nan_log", "", "torch.log", "Inf", ["12 zeros (log 0 = -inf)"]),
    ("diag_nan_masked_softmax", "attn", "torch.softmax", "NaN",
     ["4 rows of 8 are entirely -inf", "masked_fill at diag_nan_masked_softmax.py:15 is intended"]),
    ("diag_nan_mask_module", "attend", "torch.softmax", "NaN", ["3 rows of 6"]),
    ("diag_nan_fp16", "", "Tensor.mul", "Inf", ["largest float16 (65504)"]),
])
def test_forward_nan_is_named_where_born(name, module, op, kind, message_parts):
    found = the_problem(name)
    assert_at(found, name, "non-finite", module, "forward")
    assert found["message"].startswith(f"{kind} is born in")
    assert f"{op} at {name}.py:{found['line']}" in found["message"]
    for part in message_parts:
        assert part in found["message"], found["message"]
    assert found["fix"].startswith(FORWARD_NAN_FIXES[op].format(at=f"{name}.py:{found['line']}"))


# The fix names the op's line and the remedy for that op.
FORWARD_NAN_FIXES = {
    "Tensor.div": "Guard the denominator at {at}: divide by (d + 1e-8) or d.clamp_min(1e-8)",
    "torch.log": "Keep the log's input positive at {at}: torch.log(x.clamp_min(1e-8))",
    "torch.softmax": "Make sure every row keeps at least one unmasked position before the "
                     "softmax at {at}, or fill with torch.finfo(x.dtype).min instead of -inf",
    "Tensor.mul": "Compute this op in float32 at {at} (x.float(), or torch.autocast",
}


def test_non_finite_loss_from_finite_output_names_the_loss_line():
    found = the_problem("diag_nan_loss")
    assert_at(found, "diag_nan_loss", "non-finite", None, "loss")
    assert "torch.log" in found["message"] and "inf" in found["message"]
    assert found["fix"].startswith(
        f"Keep the log's input positive at diag_nan_loss.py:{found['line']}: "
        "torch.log(x.clamp_min(1e-8))")


def test_backward_nan_names_module_parameter_and_op():
    found = the_problem("diag_nan_backward")
    assert_at(found, "diag_nan_backward", "non-finite", "gate", "backward")
    assert "SqrtBackward0" in found["message"] and "gate.weight" in found["message"]
    assert "sqrt" in found["fix"]


# ---- no false alarms ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["diag_clean_gpt2", "diag_clean_bert", "diag_clean_resnet",
                                  "diag_clean_dict", "diag_clean_reused", "diag_clean_onehot"])
def test_clean_models_raise_no_alarm(name):
    report = run_case(name)
    assert problems(report) == [], [(d["code"], d["message"]) for d in problems(report)]
    assert report["status"] == "ok"


# ---- loss ----------------------------------------------------------------------------------------

def test_silent_mse_broadcast_is_one_warning_at_the_loss_line():
    found = the_problem("diag_loss_broadcast")
    assert_at(found, "diag_loss_broadcast", "loss-shape-mismatch", None, "loss")
    assert found["severity"] == "warning"
    assert "[10, 1]" in found["message"] and "[10, 10]" in found["message"]
    assert "squeeze(-1)" in found["fix"]


def test_loss_batch_mismatch_names_both_batches():
    found = the_problem("diag_loss_batch")
    assert_at(found, "diag_loss_batch", "loss-shape-mismatch", None, "loss")
    assert "batch 5" in found["message"] and "batch 10" in found["message"]
    assert found["fix"] == ("Give the model and the loss the same batch: build the labels from "
                            "the same samples as the inputs (5 of them), or slice both alike.")


def test_label_out_of_range_names_label_range_and_output_layer():
    found = the_problem("diag_label_range")
    assert_at(found, "diag_label_range", "label-out-of-range", None, "loss")
    assert "label 3" in found["message"] and "[0, 2]" in found["message"]
    assert "nn.Linear(16, 3) at diag_label_range.py:8 to nn.Linear(16, 4)" in found["fix"]


@pytest.mark.parametrize("name, module", [("diag_softmax_ce", ""), ("diag_softmax_module", "3")])
def test_softmax_before_cross_entropy_points_at_the_softmax(name, module):
    found = the_problem(name)
    assert_at(found, name, "softmax-before-cross-entropy", module, "loss")
    assert "logits" in found["message"]
    assert found["fix"] == (f"At {name}.py:{found['line']}: pass the raw logits (drop the "
                            "softmax before the loss; keep softmax only for predictions).")


@pytest.mark.parametrize("name, shapes", [
    ("diag_handwritten_ce", "log-probabilities [8, 3] (log of a softmax) by class indices [8, 1]"),
    ("diag_handwritten_nll", "log-probabilities [4, 4] (log_softmax in the model) by class "
                             "indices [4] (float32)"),
])
def test_hand_written_cross_entropy_multiplying_by_labels(name, shapes):
    found = the_problem(name)
    assert_at(found, name, "hand-written-cross-entropy", None, "loss")
    assert shapes in found["message"]
    assert "F.cross_entropy(logits, target)" in found["fix"] and "F.one_hot" in found["fix"]


# ---- device, in-place ------------------------------------------------------------------------

def test_plain_tensor_attribute_on_another_device_says_register_buffer():
    found = the_problem("diag_device_attribute")
    assert_at(found, "diag_device_attribute", "device-mismatch", "", "forward")
    assert "scale is a plain tensor attribute on meta" in found["message"]
    assert "self.register_buffer('scale', ...)" in found["fix"]


def test_inplace_change_that_breaks_backward_names_the_op_line():
    found = the_problem("diag_inplace")
    assert_at(found, "diag_inplace", "inplace-modification", "gate", "backward")
    assert "Tensor.mul_" in found["message"] and "sigmoid [3, 6]" in found["message"]
    assert found["fix"].startswith(f"Use the out-of-place form at diag_inplace.py:{found['line']}:"
                                   " x = x + y instead of x += y")


# ---- gradients -------------------------------------------------------------------------------

def test_exploding_gradients():
    found = the_problem("diag_exploding")
    assert_at(found, "diag_exploding", "exploding-gradient", "layers.3", "backward")
    assert "clip_grad_norm_" in found["fix"]


def test_vanishing_gradients_blame_the_sigmoids():
    found = the_problem("diag_vanishing")
    assert_at(found, "diag_vanishing", "vanishing-gradient", "0", "backward")
    assert "12 saturating activations (Sigmoid" in found["message"]
    assert "nn.ReLU" in found["fix"]


def test_no_gradient_for_unused_head_and_detached_branch():
    report = run_case("diag_no_grad")
    found = problems(report)
    assert [(d["code"], d["module"]) for d in found] == [("no-gradient", "aux_head"),
                                                          ("no-gradient", "context")]
    assert_at(found[0], "diag_no_grad", "no-gradient", "aux_head", "backward", "no-gradient:aux")
    assert_at(found[1], "diag_no_grad", "no-gradient", "context", "backward",
              "no-gradient:context")
    assert "never ran" in found[0]["message"] and "Tensor.detach at diag_no_grad.py:16" in \
        found[1]["message"]
    assert found[0]["fix"].startswith("Remove it, or call it in forward;")
    assert found[1]["fix"].startswith("Keep the computation in torch tensors at "
                                      "diag_no_grad.py:16")


# ---- structure -------------------------------------------------------------------------------

def test_layers_in_a_plain_list_are_one_unregistered_warning():
    found = the_problem("diag_unregistered")
    assert_at(found, "diag_unregistered", "unregistered-module", "blocks[0]", "forward")
    assert "blocks[0], blocks[1] and blocks[2]" in found["message"]
    assert "self.blocks = nn.ModuleList([...])" in found["fix"]


def test_lazy_and_frozen_modules_are_info_only():
    report = run_case("diag_info")
    assert report["status"] == "ok" and problems(report) == []
    info = {d["code"]: d for d in report["diagnostics"]}
    assert_at(info["frozen-parameters"], "diag_info", "frozen-parameters", "encoder", "build")
    assert_at(info["lazy-module"], "diag_info", "lazy-module", "head", "forward")
    assert "weight [4, 32]" in info["lazy-module"]["message"]
    assert "nn.LazyLinear(4)" in info["lazy-module"]["message"]
    assert info["lazy-module"]["fix"] == ("Nothing to fix; to make the shape explicit, replace "
                                          "it with Linear(...) using these sizes.")
    assert info["frozen-parameters"]["fix"].endswith("otherwise requires_grad_(True) on it.")


# ---- dry run ---------------------------------------------------------------------------------

def test_dry_run_checks_a_billion_parameter_transformer_in_seconds():
    import time

    started = time.perf_counter()
    report = run_case("diag_big_transformer", dry_run=True)
    elapsed = time.perf_counter() - started
    assert report["status"] == "ok" and problems(report) == []
    params = sum(math.prod(p["shape"]) for m in report["modules"] for p in m["params"]
                 if m["path"] != "lm_head")  # lm_head shares the embedding's weight
    assert params > 1e9
    head = next(m for m in report["modules"] if m["path"] == "lm_head")
    assert head["outputs"][0]["shape"] == [2, 128, 50257]
    assert elapsed < 20, elapsed


def test_nan_in_a_parameter_names_the_parameter():
    found = the_problem("diag_nan_param")
    assert_at(found, "diag_nan_param", "non-finite", "2", "forward")
    assert "parameter weight is not finite" in found["message"]
    assert found["fix"].startswith("Re-initialise those parameters;")


def test_nan_already_in_the_inputs_points_at_example_inputs():
    found = the_problem("diag_nan_input")
    assert_at(found, "diag_nan_input", "non-finite", "", "forward")
    assert "1 NaN" in found["message"]
    assert found["fix"] == ("Clean the data in example_inputs() (torch.nan_to_num, or drop the "
                            "bad rows).")


def test_sigmoid_before_the_with_logits_loss():
    found = the_problem("diag_sigmoid_bce")
    assert_at(found, "diag_sigmoid_bce", "softmax-before-cross-entropy", "1", "loss")
    assert "sigmoid" in found["message"]
    assert found["fix"] == (f"At diag_sigmoid_bce.py:{found['line']}: pass the raw logits (drop "
                            "the sigmoid), or use F.binary_cross_entropy on probabilities.")
