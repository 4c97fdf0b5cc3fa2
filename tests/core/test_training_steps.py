"""Training steps of model files (`check --steps N`), their figures, and bounded memory."""

from __future__ import annotations

import json
import math

import torch
import torch.nn as nn

from case_tools import case_path, marker_line
from torchlens_gui.cli import main
from torchlens_gui.core.engine.training_session import TrainingSession
from torchlens_gui.core.recording import events as ev
from torchlens_gui.core.recording.record import RunRecord
from torchlens_gui.core.recording.steps import KEEP_LAST
from torchlens_gui.core.usercode.loader import spec_from_objects


def check_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["check", "--json", "--device", "cpu", *args])
    return code, json.loads(capsys.readouterr().out)


def test_steps_cycle_through_batches_with_optimizer_and_target_loss(capsys):
    code, report = check_json(capsys, "--steps", "7", case_path("train_contract"))
    assert code == 0
    steps = report["steps"]
    assert [s["step"] for s in steps] == list(range(1, 8))
    assert [s["batch_index"] for s in steps] == [0, 1, 2, 3, 4, 5, 6]
    assert all(s["lr"] == [0.1] and s["ended_by"] == "optimizer" for s in steps)
    assert set(steps[0]["modules"]) == {"0", "2"}
    assert all(0 < m["update_ratio"] < 1 for s in steps for m in s["modules"].values())
    assert report["loss"]["value"] is not None and report["modules"][1]["calls"] == 1


def test_plain_check_has_no_steps_and_diagnostics_have_a_null_step(capsys):
    code, report = check_json(capsys, case_path("diag_nan_log"))
    assert report["steps"] == []
    assert all(d["step"] is None for d in report["diagnostics"])


def test_plain_check_of_a_file_with_batches_and_a_target_loss(capsys):
    code, report = check_json(capsys, case_path("train_contract"))
    assert code == 0 and report["loss"]["value"] is not None


def test_diverging_training_is_named_at_its_step(capsys):
    code, report = check_json(capsys, "--steps", "30", case_path("train_diverging"))
    assert code == 1
    found = [(d["code"], d["step"]) for d in report["diagnostics"]]
    assert found[0] == ("diverging-loss", 3)
    assert ("non-finite", 5) in found
    d = report["diagnostics"][0]
    assert "learning rate 0.0003" in d["message"] and "try 3e-05" in d["fix"]
    assert "mean 51.6" in d["message"]


def test_file_that_trains_at_import_stops_at_once(capsys):
    code = main(["check", case_path("eng_trains_at_import")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "this file runs a training loop when imported: use `torchlens-gui run" in out.lower()
    assert "epoch 1" not in err  # stopped in the first epoch, not after twenty


def test_optimizer_phase_nonfinite_when_the_update_breaks_finite_weights():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    # Gradients of some 10 to 100 (finite) times a rate of 3e38 pass float32's largest value.
    spec = spec_from_objects(model, 10 * torch.randn(4, 3), lambda out: out.pow(2).mean())
    spec.optimizer = lambda m: torch.optim.SGD(m.parameters(), lr=3e38)
    record = TrainingSession(spec, steps=2, device="cpu").run()
    first = [d for d in record.diagnostics if d.code == "non-finite"][0]
    assert (first.phase, first.step, first.module) == ("optimizer", 1, "")
    assert record.steps.figures(1).nonfinite == "optimizer"


def test_history_keeps_figures_of_every_step_and_bounded_full_records():
    record = RunRecord()
    modules = tuple(f"m{i}" for i in range(100))
    for step in range(1, 201):
        record.apply(ev.StepStarted(step))
        record.apply(ev.ModuleEntered("m0", 0, 0, ()))
        if step == 7:
            record.apply(ev.DiagnosticRaised(ev.Diagnostic("x", "error", "forward", "bad",
                                                           step=7)))
        record.apply(ev.StepEnded(ev.StepFigures(step, loss=1.0 / step,
                                                 module_grad_norms=(0.5,) * 100,
                                                 module_update_ratios=(1e-3,) * 100), modules))
    assert len(record.steps) == 200
    assert record.steps.figures(150).module_grad_norms[99] == 0.5
    assert math.isclose(record.steps.figures(150).module_update_ratios[0], 1e-3, rel_tol=1e-6)
    kept = sorted(record.steps.kept)
    assert kept == [7] + list(range(201 - KEEP_LAST, 201))
    assert record.show_step(7) and record.calls[0].path == "m0"
    assert not record.show_step(50)
    names, rows = record.steps.module_matrix("update_ratio")
    assert names == modules and len(rows) == 200


def test_steps_with_dry_run_is_the_one_pass_dry_run(capsys):
    code, report = check_json(capsys, "--steps", "3", "--dry-run", case_path("train_contract"))
    assert code == 0 and report["dry_run"] and report["steps"] == []
    assert [d["code"] for d in report["diagnostics"]] == ["dry-run"]


def test_a_loss_that_overflows_at_a_later_step_is_named_not_an_internal_failure(capsys):
    code, report = check_json(capsys, "--steps", "6", case_path("train_loss_inf"))
    line = marker_line(case_path("train_loss_inf"), "overflow")
    found = [(d["code"], d["step"], d["phase"], d["line"]) for d in report["diagnostics"]]
    assert code == 1 and found == [("diverging-loss", 2, "loss", line),
                                   ("non-finite", 3, "loss", line)]
    assert "Tensor.pow" in report["diagnostics"][1]["message"]
    assert "2e+13x its lowest value so far" in report["diagnostics"][0]["message"]  # not 14 digits
    assert [s["nonfinite"] for s in report["steps"]] == [None, None, "loss"]


def test_module_matrix_covers_the_modules_of_every_step_and_marks_absent_ones():
    record = RunRecord()  # a GAN-like run: the discriminator alone at step 1, both after it
    for step, modules in ((1, ("disc.0",)), (2, ("disc.0", "gen.0")), (3, ("gen.0",))):
        record.apply(ev.StepStarted(step))
        record.apply(ev.StepEnded(ev.StepFigures(step, loss=1.0,
                                                 module_grad_norms=(float(step),) * len(modules),
                                                 module_update_ratios=(math.nan,) * len(modules)),
                                  modules))
    names, rows = record.steps.module_matrix("grad_norm")
    assert names == ("disc.0", "gen.0")
    assert rows == [[1.0, None], [2.0, 2.0], [None, 3.0]]
    _, ratios = record.steps.module_matrix("update_ratio")
    assert math.isnan(ratios[1][0]) and ratios[0][1] is None  # NaN figure vs no figure


def test_steps_without_an_optimizer_keep_their_gradient_figures():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    spec = spec_from_objects(model, torch.randn(5, 3), lambda out: out.pow(2).mean())
    record = TrainingSession(spec, steps=3, device="cpu").run()  # grads cleared after backward
    for figures in record.steps:
        assert figures.ended_by == "backward" and figures.grad_norm > 0
        assert record.steps.modules(figures.step) == ("0", "2")


def test_batches_that_yield_nothing_say_so(tmp_path, capsys):
    path = tmp_path / "empty_batches.py"
    path.write_text("import torch, torch.nn as nn\ndef build_model():\n    return nn.Linear(2, 1)\n"
                    "def batches():\n    return iter(())\n")
    code, report = check_json(capsys, "--steps", "2", str(path))
    d = report["diagnostics"][0]
    assert code == 2 and d["code"] == "load-error" and "batches() yielded nothing" in d["message"]


def test_a_bug_in_the_step_hooks_is_reported_and_does_not_break_training(monkeypatch):
    """Our hooks run inside the script's backward and optimizer.step(): a bug there is one
    internal-error, and the script's own loop trains on with its steps still counted."""
    import os

    from torchlens_gui.core.engine import steps
    from torchlens_gui.core.engine.script_session import ScriptSession

    def broken(self, params):
        raise RuntimeError("meter bug")

    monkeypatch.setattr(steps.UpdateMeter, "gradient_norms", broken)
    script = os.path.join(os.path.dirname(case_path("train_contract")), "scripts",
                          "argparse_train.py")
    record = ScriptSession(script, ["--lr", "0.1", "--steps", "3"]).run()
    assert [d.code for d in record.diagnostics] == ["internal-error"]
    assert "meter bug" in record.diagnostics[0].message
    assert len(record.steps) == 3 and record.steps.last.loss < record.steps.figures(1).loss
