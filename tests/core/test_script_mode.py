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
    assert [s["batch_index"] for s in report["steps"]] == [0, 1, 2, 0, 1, 2]  # in each pass
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


@pytest.mark.parametrize("workers", ["0", "2"])
def test_collate_size_mismatch_names_sizes_and_getitem(capsys, workers):
    from case_tools import marker_line

    code, report, _ = run_json(capsys, script("collate_sizes"), workers)
    assert code == 1
    # In worker processes torch's error names no sizes (and the abandoned loader's feeder
    # threads are no script-threads of the user's): one diagnostic either way.
    assert [x["code"] for x in report["diagnostics"]] == ["collate-size-mismatch"]
    d = report["diagnostics"][0]
    assert "[3, 32]" in d["message"] and "[3, 30]" in d["message"] and "Crops" in d["message"]
    assert d["line"] == marker_line(script("collate_sizes"), "getitem")
    assert d["file"].endswith("collate_sizes.py")
    assert "collate_fn" in d["fix"] and "pad" in d["fix"]
    import multiprocessing

    assert not multiprocessing.active_children()  # the abandoned loader's workers are gone


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
    assert "Daemon threads end with `python SCRIPT`" in left[0]["fix"]  # not "make it daemon"
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
    import torch.nn.functional as F
    from torch.utils.data.dataloader import _BaseDataLoaderIter

    for patched in (F.cross_entropy, F.nll_loss, _BaseDataLoaderIter.__next__):
        assert patched.__module__.startswith("torch.") and not hasattr(patched, "__wrapped__")


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


# Several optimizers: a step ends at the step of the first optimizer that ever stepped (the
# discriminator's here), so a "step" holds the generator's half of one iteration and the
# discriminator's half of the next, and the last one only a generator half. Today 6 iterations
# make 8 steps: a step 1 of disc(real) and bce alone (see the siamese test below), the
# discriminator's first update, five mixed steps and the generator's last half.
def test_gan_steps_are_the_scripts_iterations(capsys):
    _, report, _ = run_json(capsys, script("gan_two_optimizers"), "6")
    assert len(report["steps"]) == 6
    assert len({tuple(s["lr"]) for s in report["steps"]}) == 1  # both rates, in one order
    assert "batch-shape" not in [d["code"] for d in report["diagnostics"]]


def test_gan_losses_of_different_scales_are_no_diverging_loss(capsys):
    code, report, _ = run_json(capsys, script("gan_two_optimizers"), "6")
    assert "diverging-loss" not in [d["code"] for d in report["diagnostics"]]


def test_a_model_called_twice_per_iteration_is_one_step(capsys):
    _, report, _ = run_json(capsys, script("siamese"))
    assert [s["ended_by"] for s in report["steps"]] == ["optimizer"] * 4


def test_labels_out_of_range_at_a_later_step_are_named_before_the_loss_runs(capsys):
    from case_tools import marker_line

    code, report, _ = run_json(capsys, script("label_late"))
    # The step cut short by the error is kept (no loss, no gradients).
    assert code == 1 and len(report["steps"]) == 5 and report["steps"][4]["loss"] is None
    d = report["diagnostics"][0]
    assert (d["code"], d["step"], d["phase"], d["module"], d["line"]) == (
        "label-out-of-range", 5, "loss", "criterion", marker_line(script("label_late"), "loss"))
    assert "got label 3 but the output has 3 classes" in d["message"]
    assert "1 of 8 labels" in d["message"] and "0..2" in d["fix"]


def test_functional_cross_entropy_labels_checked_in_a_light_step(tmp_path, capsys):
    path = tmp_path / "negative_label.py"
    path.write_text("import torch, torch.nn as nn, torch.nn.functional as F\n"
                    "net = nn.Linear(4, 5)\n"
                    "for step in range(6):\n"
                    "    y = torch.full((3,), -1 if step == 3 else 2)\n"
                    "    F.cross_entropy(net(torch.randn(3, 4)), y).backward()\n")
    code, report, _ = run_json(capsys, str(path))
    d = report["diagnostics"][0]
    assert (d["code"], d["step"], d["module"], d["line"]) == ("label-out-of-range", 4, None, 5)
    assert "got label -1 but the output has 5 classes" in d["message"]
    import torch.nn.functional as F

    assert F.cross_entropy.__module__ == "torch.nn.functional"  # the original is back
    assert not hasattr(F.cross_entropy, "__wrapped__")


def test_a_script_that_calls_backward_but_no_module_is_told_so(tmp_path, capsys):
    path = tmp_path / "bare_tensors.py"
    path.write_text("import torch\nw = torch.randn(3, requires_grad=True)\n"
                    "for _ in range(2):\n    (w * 2).sum().backward()\n")
    code, report, _ = run_json(capsys, str(path))
    assert code == 1 and codes(report) == [("no-module-called", 2)]


def test_an_error_in_a_dataloader_worker_names_the_original_error_and_line(capsys):
    from case_tools import marker_line

    code, report, _ = run_json(capsys, script("worker_raises"))
    assert code == 1 and [x["code"] for x in report["diagnostics"]] == ["runtime-error"]
    d = report["diagnostics"][0]
    # step 2: the last step that ran (batch 2 failed to load before its own step began)
    assert (d["step"], d["line"]) == (2, marker_line(script("worker_raises"), "raise"))
    assert d["file"].endswith("worker_raises.py")
    assert "raised FileNotFoundError: sample_9.npy in __getitem__" in d["message"]
    assert "num_workers=0" in d["fix"]


def test_a_script_stopped_by_its_time_limit_is_told_about_steps(tmp_path, capsys):
    path = tmp_path / "endless.py"
    path.write_text("import torch, torch.nn as nn\nm = nn.Linear(2, 2)\n"
                    "while True:\n    m(torch.randn(3, 2)).sum().backward()\n")
    code, report, _ = run_json(capsys, "--timeout", "0.5", str(path))
    d = report["diagnostics"][-1]
    assert code == 1 and d["code"] == "timeout" and d["step"] > 1 and d["line"] == 4
    assert "--steps N" in d["fix"]


def test_a_hand_written_update_without_an_optimizer_keeps_gradient_figures(tmp_path, capsys):
    path = tmp_path / "manual_sgd.py"
    path.write_text("import torch, torch.nn as nn\nnet = nn.Linear(3, 1)\n"
                    "for _ in range(3):\n    net.zero_grad()\n"
                    "    net(torch.randn(4, 3)).pow(2).mean().backward()\n"
                    "    with torch.no_grad():\n        for p in net.parameters():\n"
                    "            p -= 0.1 * p.grad\n")
    _, report, _ = run_json(capsys, str(path))
    steps = report["steps"]
    assert [s["ended_by"] for s in steps] == ["backward"] * 3
    assert all(s["grad_norm"] > 0 and set(s["modules"]) == {"net"} for s in steps)


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


def test_gan_that_calls_the_discriminator_first_is_one_step_per_iteration(capsys):
    """disc(real) comes before gen: the steps still end after opt_g (the iteration's last
    optimizer). An optimizer made but never stepped drops out of the cycle when opt_d steps a
    second time (step 1 ends there, before that update: iteration 2's is then step 2's)."""
    _, report, _ = run_json(capsys, script("gan_disc_first"))
    steps = report["steps"]
    assert [(s["ended_by"], s["lr"]) for s in steps] == [("optimizer", [0.05, 0.02])] * 5
    assert all(set(s["modules"]) == {"disc.0", "disc.2", "gen.0", "gen.2"} for s in steps)
    assert "diverging-loss" not in [d["code"] for d in report["diagnostics"]]


def test_a_grad_scaler_s_skipped_updates_end_their_steps_and_are_no_problem(capsys):
    code, report, err = run_json(capsys, script("grad_scaler_skips"))
    assert code == 0 and report["diagnostics"] == []
    steps = report["steps"]
    assert [s["ended_by"] for s in steps] == ["skipped"] * 6 + ["optimizer", "skipped"]
    assert steps[0]["loss"] == pytest.approx(24.1486, abs=1e-3)  # unscaled, as printed
    assert "step 0 loss 24.1486" in err
    assert steps[6]["grad_norm"] > 0 and steps[0]["grad_norm"] is None


def test_an_optimizer_wrapping_another_counts_once(tmp_path, capsys):
    path = tmp_path / "lookahead.py"
    path.write_text(
        "import torch, torch.nn as nn\n"
        "class Lookahead(torch.optim.Optimizer):\n"
        "    def __init__(self, inner):\n"
        "        self.inner = inner\n"
        "        super().__init__(inner.param_groups, {})\n"
        "    def step(self, closure=None):\n"
        "        return self.inner.step()\n"
        "net = nn.Linear(3, 1)\n"
        "opt = Lookahead(torch.optim.SGD(net.parameters(), lr=0.1))\n"
        "for _ in range(3):\n"
        "    opt.zero_grad()\n"
        "    net(torch.randn(4, 3)).pow(2).mean().backward()\n"
        "    opt.step()\n")
    _, report, _ = run_json(capsys, str(path))
    assert [(s["ended_by"], s["lr"]) for s in report["steps"]] == [("optimizer", [0.1])] * 3


def test_diverging_loss_fix_names_the_scripts_model_variable(tmp_path, capsys):
    path = tmp_path / "reg_diverges.py"
    path.write_text("import torch, torch.nn as nn\ntorch.manual_seed(0)\n"
                    "reg = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
                    "opt = torch.optim.SGD(reg.parameters(), lr=0.5)\n"
                    "x, y = 50 * torch.randn(64, 4), torch.randn(64, 1)\n"
                    "for _ in range(4):\n"
                    "    opt.zero_grad(); (reg(x) - y).pow(2).mean().backward(); opt.step()\n")
    _, report, _ = run_json(capsys, str(path))
    diverging = [d for d in report["diagnostics"] if d["code"] == "diverging-loss"]
    assert diverging and "clip_grad_norm_(reg.parameters(), 1.0)" in diverging[0]["fix"]


def test_text_report_does_not_call_the_scripts_root_not_run(capsys):
    main(["run", "--headless", "--steps", "2", script("argparse_train"), "--lr", "0.1"])
    root = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("(root)"))
    assert "script" in root and "not run" not in root


def test_an_optimizer_with_a_closure_records_the_forward_it_runs(capsys):
    """LBFGS calls the model inside its step: those calls are the step's forward (they were
    skipped as optimizer work, and the script was told it called no module)."""
    code, report, _ = run_json(capsys, script("lbfgs_closure"))
    assert code == 0 and report["diagnostics"] == []
    assert {m["path"] for m in report["modules"]} == {"", "net", "net.0", "net.1", "net.2"}
    assert [s["ended_by"] for s in report["steps"]] == ["optimizer"] * 4
    assert all(s["grad_norm"] > 0 for s in report["steps"])  # step 1's made in its closure


def test_threads_of_libraries_are_not_the_scripts(tmp_path, capsys):
    """An executor's idle worker (library code) left behind is neither waited for nor named;
    a Timer running the script's function still is."""
    path = tmp_path / "pools.py"
    path.write_text("import threading, concurrent.futures, torch\n"
                    "pool = concurrent.futures.ThreadPoolExecutor(2)\n"
                    "pool.submit(sum, [1, 2]).result()\n"
                    "timer = threading.Timer(30, print)\n"
                    "timer.daemon = True\ntimer.start()\n"
                    "torch.nn.Linear(2, 1)(torch.ones(1, 2))\n")
    _, report, _ = run_json(capsys, str(path))
    threads = [d for d in report["diagnostics"] if d["code"] == "script-threads"]
    assert len(threads) == 1 and "1 thread(s)" in threads[0]["message"]
    assert "ThreadPoolExecutor" not in threads[0]["message"]


def test_gradient_accumulation_is_one_step_per_optimizer_step_from_the_first(capsys):
    """Four backwards per optimizer step: the run holds an optimizer, so the first backwards
    wait for its first step instead of each ending a step of their own."""
    _, report, _ = run_json(capsys, script("grad_accumulation"))
    assert [s["ended_by"] for s in report["steps"]] == ["optimizer"] * 3


def test_an_error_fetching_the_next_batch_is_dated_to_the_step_it_stopped(capsys):
    """Two steps ran; the third batch's __getitem__ raised before step 3's first module: the
    error belongs to step 3 (not to step 2, which had ended cleanly)."""
    code, report, _ = run_json(capsys, script("fetch_fails"))
    assert code == 1 and [s["step"] for s in report["steps"]] == [1, 2]
    error = report["diagnostics"][0]
    assert (error["code"], error["step"], error["line"]) == ("runtime-error", 3, 8)
    assert "row 8 is unreadable" in error["message"]
