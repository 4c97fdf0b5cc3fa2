"""Script mode: `torchlens-gui run --headless SCRIPT ARGS...` on unmodified training scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from torchlens_gui.cli import main
from torchlens_gui.core.engine.gate import StepGate
from torchlens_gui.core.engine.script_session import ScriptSession

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), "cases", "scripts")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "resources", "examples")


def script(name: str) -> str:
    return os.path.join(SCRIPTS, name + ".py")


def run_json(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["run", "--headless", "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def codes(report: dict) -> list[tuple[str, int]]:
    return [(d["code"], d["step"]) for d in report["diagnostics"]]


def test_argparse_script_gets_its_own_arguments_and_steps_stop_it(capsys):
    code, report, err = run_json(capsys, "--steps", "3", script("argparse_train"),
                                 "--lr", "0.1", "--steps", "50")
    assert code == 0
    assert "lr=0.1 steps=50" in err  # its argv, its prints on stderr
    assert "done" not in err  # stopped after 3 steps, not run to the end
    steps = report["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert all(s["ended_by"] == "optimizer" and s["lr"] == [0.1] for s in steps)
    assert steps[0]["loss"] > steps[2]["loss"] > 0
    assert set(steps[0]["modules"]) == {"model.0", "model.2"}
    assert all(m["update_ratio"] > 0 for m in steps[1]["modules"].values())
    paths = [m["path"] for m in report["modules"]]
    assert paths[:2] == ["", "model"]  # the script's model is a root, under its name
    assert sys.argv[0] != script("argparse_train")  # restored


def test_without_steps_the_script_runs_to_its_end(capsys):
    code, report, err = run_json(capsys, script("argparse_train"), "--lr", "0.05", "--steps", "4")
    assert code == 0 and "done" in err and len(report["steps"]) == 4


def test_guarded_main_with_two_models_and_an_eval_forward(capsys):
    code, report, _ = run_json(capsys, script("guarded_main"), "5")
    assert code == 0, report["diagnostics"]
    assert len(report["steps"]) == 5  # the no_grad evaluation is no step of its own
    roots = {m["path"] for m in report["modules"] if m["path"] and "." not in m["path"]}
    assert roots == {"gen", "disc"}
    assert report["diagnostics"] == []  # the evaluation batch is not a "batch shape" change


def test_dataloader_loop_notes_the_smaller_last_batch(capsys):
    code, report, _ = run_json(capsys, script("dataloader_loop"))
    assert code == 0
    assert len(report["steps"]) == 6  # 2 epochs of 3 batches
    shape = [d for d in report["diagnostics"] if d["code"] == "batch-shape"]
    assert [(d["severity"], d["step"]) for d in shape] == [("info", 3)]
    assert "[8, 5]" in shape[0]["message"] and "[16, 5]" in shape[0]["message"]


def test_dataloader_with_worker_processes(capsys):
    code, report, _ = run_json(capsys, script("dataloader_loop"), "2")
    assert code == 0 and len(report["steps"]) == 6


def test_nan_batch_is_reported_as_data_with_its_index(capsys):
    code, report, _ = run_json(capsys, script("nan_batch"))
    assert code == 1
    first = report["diagnostics"][0]
    assert (first["code"], first["step"], first["module"]) == ("data-non-finite", 4, "model")
    assert "batch 3" in first["message"] and "data" in first["message"]
    assert [d["code"] for d in report["diagnostics"]] == ["data-non-finite"]
    assert report["steps"][3]["nonfinite"] == "data"


def test_diverging_example_names_step_rate_module_and_input_scale(capsys):
    code, report, err = run_json(capsys, os.path.join(EXAMPLES, "diverging_training.py"),
                                 "--epochs", "2")
    assert code == 1
    diverging = [d for d in report["diagnostics"] if d["code"] == "diverging-loss"]
    assert len(diverging) == 1
    d = diverging[0]
    assert d["severity"] == "warning" and 5 < d["step"] < 20
    assert "learning rate" in d["message"] and "update-to-weight ratio" in d["message"]
    assert "far from normalised" in d["message"]
    assert d["module"] in ("model.hidden", "model.out")
    assert "clip_grad_norm_" in d["fix"] and "normalise" in d["fix"]
    losses = [s["loss"] for s in report["steps"]]
    assert losses[0] > losses[5]  # it first learns
    assert None in losses  # then the loss is no longer finite
    later = [x for x in report["diagnostics"] if x["code"] == "non-finite"]
    assert later and later[0]["step"] > d["step"]


def test_collate_size_mismatch_names_sizes_and_getitem(capsys):
    code, report, _ = run_json(capsys, script("collate_sizes"))
    assert code == 1
    d = report["diagnostics"][0]
    assert d["code"] == "collate-size-mismatch"
    assert "[3, 32]" in d["message"] and "[3, 30]" in d["message"] and "Crops" in d["message"]
    assert d["line"] == 10 and d["file"].endswith("collate_sizes.py")
    assert "collate_fn" in d["fix"] and "pad" in d["fix"]


def test_script_that_never_calls_a_module(capsys):
    code, report, err = run_json(capsys, script("no_module"))
    assert code == 1 and "sum: 6" in err
    assert codes(report) == [("no-module-called", None)]


@pytest.mark.parametrize("name, code, expected", [
    ("exit_three", 1, [("script-exit", 1)]),
    ("exit_zero", 0, []),
])
def test_sys_exit(capsys, name, code, expected):
    got, report, _ = run_json(capsys, script(name))
    assert got == code and codes(report) == expected


def test_threads_are_ignored_and_one_left_running_is_named(capsys):
    before = set(threading.enumerate())
    code, report, _ = run_json(capsys, script("threads"))
    assert [s["ended_by"] for s in report["steps"]] == ["backward"] * 3
    left = [d for d in report["diagnostics"] if d["code"] == "script-threads"]
    assert len(left) == 1 and "sleeper" in left[0]["message"]
    for thread in set(threading.enumerate()) - before:
        thread.join(5)


@pytest.mark.parametrize("name, ended_by, count", [
    ("forward_only", "module", 5), ("backward_only", "backward", 4)])
def test_steps_without_an_optimizer(capsys, name, ended_by, count):
    _, report, _ = run_json(capsys, script(name))
    assert [s["ended_by"] for s in report["steps"]] == [ended_by] * count


def test_exceptions_are_diagnostics_at_the_scripts_line(tmp_path, capsys):
    path = tmp_path / "shape_bug.py"
    path.write_text("import torch, torch.nn as nn\nmodel = nn.Linear(4, 2)\n"
                    "for _ in range(3):\n    model(torch.randn(2, 5)).sum().backward()\n")
    code, report, _ = run_json(capsys, str(path))
    assert code == 1
    d = report["diagnostics"][0]
    assert (d["code"], d["step"], d["module"], d["line"]) == ("shape-mismatch", 1, "model", 2)
    assert "nn.Linear(5, 2)" in d["fix"]  # the layer's line, as for model files


def test_hooks_and_patches_are_gone_afterwards():
    import torch

    original = torch.autograd.backward
    ScriptSession(script("backward_only")).run()
    assert torch.autograd.backward is original
    from torch.optim import optimizer as opt_module

    assert not opt_module._global_optimizer_pre_hooks
    assert not opt_module._global_optimizer_post_hooks


def test_break_at_step_pauses_at_that_steps_start():
    gate = StepGate()
    session = ScriptSession(script("argparse_train"), ["--lr", "0.1"], gate=gate)
    paused = []

    def listener(event):
        from torchlens_gui.core.recording.events import Paused

        if isinstance(event, Paused):
            paused.append((session.tracker.step, event.location.reason))
            from torchlens_gui.core.engine.gate import Command

            threading.Thread(target=gate.command, args=(Command.CONTINUE,)).start()

    session.listener = listener
    session.set_break_at_step(4)
    record = session.run()
    assert paused == [(4, "step-start")]
    assert len(record.steps) == 10


def test_run_subprocess_exit_status_and_json_on_stdout():
    result = subprocess.run([sys.executable, "-m", "torchlens_gui", "run", "--headless", "--json",
                             "--steps", "2", script("argparse_train"), "--lr", "0.1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["steps"][1]["step"] == 2


def test_a_finished_session_and_its_record_can_be_freed():
    import gc
    import weakref

    session = ScriptSession(script("argparse_train"), ["--lr", "0.1", "--steps", "3"])
    record = weakref.ref(session.run())
    session = weakref.ref(session)
    gc.collect()
    assert record() is None and session() is None  # nothing of torch's holds them


def test_text_report_header_says_run_with_the_scripts_arguments(capsys):
    main(["run", "--headless", "--steps", "2", script("argparse_train"), "--lr", "0.1"])
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "torchlens-gui run --steps 2: argparse_train.py --lr 0.1 on cpu"



@pytest.mark.parametrize("break_at, found", [(3, "at the next forward"), (6, "at the end")])
def test_an_update_that_breaks_one_unsampled_weight_is_named_at_its_step(capsys, break_at,
                                                                         found):
    """Light steps read a sample of each weight after the update; a single overflowed value
    outside it is found whole when a NaN is born next (or when the run ends) and still
    reported at the optimizer of the step that made it."""
    _, report, _ = run_json(capsys, script("sparse_update_break"), "--break-at", str(break_at))
    nonfinite = [d for d in report["diagnostics"] if d["code"] == "non-finite"]
    assert [(d["phase"], d["step"], d["module"]) for d in nonfinite] == \
        [("optimizer", break_at, "layer")], found
    assert "learning rate 100" in nonfinite[0]["message"]
    # The gradient of 3e38 is finite: its norm (3e38) must not overflow into "NaN/Inf".
    assert report["steps"][break_at - 1]["grad_norm"] == pytest.approx(3e38, rel=1e-6)


@pytest.mark.parametrize("deferred", [False, True])
def test_a_nan_born_in_a_light_step_is_found_at_its_module_and_op(capsys, monkeypatch,
                                                                  deferred):
    """Step 4 is recorded light. With ``deferred`` the outputs are tested as on an
    accelerator (together, when the outermost call returns): the same birth is found."""
    from torchlens_gui.core.engine import step_hooks

    if deferred:
        monkeypatch.setattr(step_hooks, "IMMEDIATE_DEVICES", frozenset({"meta"}))
        reads = []
        original = step_hooks.probe_values
        monkeypatch.setattr(step_hooks, "probe_values",
                            lambda probes: reads.append(len(probes)) or original(probes))
    _, report, _ = run_json(capsys, script("late_forward_nan"))
    nonfinite = [d for d in report["diagnostics"] if d["code"] == "non-finite"]
    assert [(d["phase"], d["step"], d["module"], d["line"]) for d in nonfinite] == \
        [("forward", 4, "model.2", 14)]
    assert "torch.sqrt at late_forward_nan.py:14 makes NaN" in nonfinite[0]["message"]
    if deferred:  # one read per light forward (steps 2-6) with the tests of its 4 layers (the
        assert reads == [4] * 5  # Sequential returns its last layer's output: tested once)
