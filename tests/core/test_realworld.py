"""The real-world regression set (tests/realworld/): well-known architectures built from small
configs run clean, full and dry; bugs as people post them are each named by code, module and
the exact user line (the ``# <- code`` marker in the file)."""

from __future__ import annotations

import glob
import os

import pytest

from case_tools import marker_line

REALWORLD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "realworld")
CLEAN = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REALWORLD, "clean",
                                                                         "*.py")))
# torch.compile pulls in TorchDynamo (seconds of import on the first use).
SLOW = {"compiled_model", "compiled_helper"}


def realworld_path(kind: str, name: str) -> str:
    return os.path.join(REALWORLD, kind, name + ".py")


def run_realworld(kind: str, name: str, **kwargs) -> dict:
    from torchlens_gui.core.engine.session import Session
    from torchlens_gui.core.recording.report import to_json

    kwargs.setdefault("device", "cpu")
    return to_json(Session(realworld_path(kind, name), **kwargs).run())


def problems(report: dict) -> list[tuple]:
    return [(d["code"], d["module"], d["line"], d["message"]) for d in report["diagnostics"]
            if d["severity"] in ("error", "warning")]


def test_the_clean_set_is_large_enough():
    assert len(CLEAN) >= 15


@pytest.mark.parametrize("dry_run", [False, True], ids=["full", "dry"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in CLEAN])
def test_clean_architecture_raises_nothing(name, dry_run):
    report = run_realworld("clean", name, dry_run=dry_run)
    assert problems(report) == []
    assert report["status"] == "ok"
    ran = [m for m in report["modules"] if m["outputs"]]
    if not dry_run:
        assert report["modules"][0] in ran and report["loss"]["value"] is not None
    else:  # a dry run may stop early at a data-dependent op: what ran has its shapes
        stops = [d for d in report["diagnostics"] if d["code"] == "dry-run-incomplete"]
        assert (ran or stops) and all(s["shape"] is not None for m in ran
                                      for s in m["outputs"] if s["kind"] == "tensor")
        for stop in stops:
            assert (stop["module"] is not None or stop["phase"] == "build") and stop["line"] and "stopped at " in stop["message"]


# ---- forum-style bugs: (file, code, module, words the message or fix must hold) --------------

BUGS = [
    ("sigmoid_mlp", "vanishing-gradient", "0", ["per layer", "Sigmoid", "nn.ReLU"]),
    ("layer_made_in_forward", "unregistered-module", "<proj: Linear made at line 13>",
     ["constructed inside forward", "fresh random weights", "in __init__"]),
    ("view_regroups_batch", "loss-shape-mismatch", "",
     ["[16, 16, 5, 5] (batch 16) into [25, 256]", "x.flatten(1)",
      "nn.Linear(16 * 4 * 4, 10) at view_regroups_batch.py:13 to nn.Linear(400, 10)"]),
    ("onehot_wrong_classes", "loss-shape-mismatch", None,
     ["over 5 classes", "has 4 classes", "onehot_wrong_classes.py:19", "num_classes=4"]),
    ("lstm_not_batch_first", "rnn-batch-first", "lstm",
     ["batch_first=False", "[8, 20, 16]", "nn.LSTM(..., batch_first=True) at "
      "lstm_not_batch_first.py:10"]),
    ("lstm_hidden_batch_first", "shape-mismatch", "lstm",
     ["batch_first=False", "[4, 15, 10]", "hidden state for a batch of 15", "batch_first=True"]),
    ("batchnorm_batch_of_one", "shape-mismatch", "1",
     ["training mode", "[1, 16]", "at least 2", "model.eval()"]),
    ("squeeze_last_batch", "runtime-error", "",
     ["RoundSTE.backward (squeeze_last_batch.py:15)", "RoundSTE.apply at "
      "squeeze_last_batch.py:24", "drops the batch dimension", ".squeeze(-1)"]),
    ("squeeze_weighted_last_batch", "runtime-error", "",
     ["has changed the size of value", "at SqueezeBackward0", "the squeeze at "
      "squeeze_weighted_last_batch.py:16 in (root)", "drops the batch dimension", ".squeeze(-1)",
      "drop_last=True"]),
    ("graph_cut_item", "no-gradient", "encoder",
     ["Tensor.item at graph_cut_item.py:15", "Tensor.detach at graph_cut_item.py:16"]),
    ("unused_branch_with_logging", "no-gradient", "unused", ["never reached the loss"]),
    ("graph_cut_numpy", "no-gradient", "encoder",
     ["Tensor.detach at graph_cut_numpy.py:15", "NumPy"]),
    ("masked_fill_plus_inf", "non-finite", "",
     ["Tensor.masked_fill", "+inf, not -inf", "float('-inf')"]),
    ("class_weight_float64", "dtype-mismatch", None,
     ["float64 class-weight tensor", "output is float32", "torch.from_numpy"]),
    ("arange_bad_args", "runtime-error", "",
     ["TypeError: arange() received an invalid combination of arguments"]),
]


@pytest.mark.parametrize("name, code, module, words", BUGS, ids=[b[0] for b in BUGS])
def test_bug_is_named_at_its_line(name, code, module, words):
    report = run_realworld("bugs", name)
    found = problems(report)
    path = realworld_path("bugs", name)
    assert [(c, m, line) for c, m, line, _ in found] == [(code, module, marker_line(path, code))], \
        found
    diagnostic = next(d for d in report["diagnostics"] if d["code"] == code)
    assert diagnostic["file"] == path and diagnostic["fix"]
    for word in words:
        assert word in diagnostic["message"] + diagnostic["fix"], diagnostic
    assert "intended" not in diagnostic["message"] and "made inside forward" not in \
        diagnostic["message"]


def test_a_tensor_made_without_device_is_a_device_mismatch_in_a_dry_run():
    """Fine on CPU (no finding in a full run), fails on CUDA: the dry run on meta reports it."""
    assert problems(run_realworld("bugs", "tensor_without_device")) == []
    found = problems(run_realworld("bugs", "tensor_without_device", dry_run=True))
    path = realworld_path("bugs", "tensor_without_device")
    assert [(c, m, line) for c, m, line, _ in found] == [
        ("device-mismatch", "", marker_line(path, "device-mismatch"))]
    assert "cpu and meta" in found[0][3]
    assert "torch.ones at tensor_without_device.py:13, called without device=" in found[0][3]


def test_a_dry_run_stops_gracefully_where_values_are_needed():
    report = run_realworld("clean", "torch_detector_nonzero", dry_run=True)
    stop, = [d for d in report["diagnostics"] if d["code"] == "dry-run-incomplete"]
    path = realworld_path("clean", "torch_detector_nonzero")
    assert (stop["severity"], stop["module"], stop["file"], stop["line"]) == \
        ("info", "", path, 20)
    assert "Tensor.nonzero" in stop["message"] and "shape depends on the values" in \
        stop["message"]
    shapes = {m["path"]: m["outputs"][0]["shape"] for m in report["modules"] if m["outputs"]}
    assert shapes["backbone"] == [2, 8, 8, 8] and shapes["box"] == [2, 4, 8, 8]
    assert report["status"] == "ok"


def test_values_read_in_build_model_stop_a_dry_run_with_an_info():
    report = run_realworld("clean", "torch_trained_in_build", dry_run=True)
    stop, = [d for d in report["diagnostics"] if d["code"] == "dry-run-incomplete"]
    assert (stop["phase"], stop["line"]) == ("build", 16) and "Tensor.item" in stop["message"]
    assert "move that work out of build_model()" in stop["fix"]
    assert report["status"] == "ok"


@pytest.mark.slow
def test_a_compiled_model_is_debugged_eagerly_through_its_original_module():
    import torch

    report = run_realworld("clean", "compiled_model")
    info, = [d for d in report["diagnostics"] if d["code"] == "compiled-model"]
    assert "torch.compile(Sequential)" in info["message"] and info["severity"] == "info"
    assert [m["path"] for m in report["modules"]] == ["", "0", "1", "2"]  # no _orig_mod
    assert all(m["params"][0]["grad"] for m in report["modules"] if m["params"])
    # the session's eager stance ends with it
    assert torch.compiler.is_compiling() is False
    from torch._dynamo.eval_frame import _stance
    assert _stance.stance == "default"


def test_a_multi_line_message_keeps_its_error_statement():
    from torchlens_gui.core.usercode.loader import format_exception_only

    dynamo_like = RuntimeError("Dynamo failed to run FX node with fake tensors\n\nfrom user "
                               "code:\n  File \"m.py\", line 3\n\nSet TORCHDYNAMO_VERBOSE=1 for "
                               "the internal stack trace")
    assert format_exception_only(dynamo_like) == \
        "RuntimeError: Dynamo failed to run FX node with fake tensors"
    hint_first = RuntimeError("\nSet TORCHDYNAMO_VERBOSE=1 for more\nshape [2, 3] is invalid")
    assert format_exception_only(hint_first) == "RuntimeError: shape [2, 3] is invalid"
    try:
        compile("x = (", "f.py", "exec")
    except SyntaxError as exc:
        assert format_exception_only(exc).startswith("SyntaxError: ")
