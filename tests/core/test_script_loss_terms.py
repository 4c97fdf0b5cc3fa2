"""Script mode names the term of a summed loss that exploded or turned NaN/Inf (op and line),
through the loss watch (core/diagnostics/loss_watch.py), and the watch costs the run nothing
that grows: no torch function mode is left behind, a step keeps a bounded number of ops."""

from __future__ import annotations

import json
import os

import torch

from torchlens_gui.cli import main
from torchlens_gui.core.diagnostics.loss_watch import LossWatch
from torchlens_gui.core.engine.script_session import ScriptSession
from torchlens_gui.core.recording import events as ev

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(os.path.dirname(HERE), "cases")
SCRIPTS = os.path.join(CASES, "scripts")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "resources", "examples")


def script(name: str) -> str:
    return os.path.join(SCRIPTS, name + ".py")


def run_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["run", "--headless", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def watched_run(path: str, *args: str):
    """Run a script; per step, (step, modes on the stack at its end, terms read, ops kept)."""
    session = ScriptSession(path, list(args))
    seen = []

    def listen(event):
        if isinstance(event, ev.StepEnded):
            watch = session.tracker._loss_watch
            seen.append((event.figures.step, torch._C._len_torch_function_stack(),
                         len(session.tracker.terms), len(watch.kept) if watch else 0))

    session.listener = listen
    record = session.run()
    return session, record, seen


def test_an_exploding_penalty_term_is_named_with_its_op_and_line(capsys):
    code, report = run_json(capsys, script("penalty_explodes"))
    assert code == 1
    diverging = [d for d in report["diagnostics"] if d["code"] == "diverging-loss"]
    assert len(diverging) == 1 and diverging[0]["step"] == 7
    assert diverging[0]["line"] == 16  # the penalty's line, not the total's (17)
    assert diverging[0]["file"] == script("penalty_explodes")
    assert "the term Tensor.mul at penalty_explodes.py:16 grew the most" in \
        diverging[0]["message"]


def test_a_term_that_turns_infinite_is_a_nonfinite_loss_at_its_op_and_line(capsys):
    code, report = run_json(capsys, script("barrier_term"))
    assert code == 1
    nonfinite = [d for d in report["diagnostics"] if d["code"] == "non-finite"]
    assert [(d["step"], d["phase"], d["line"]) for d in nonfinite] == [(5, "loss", 16)]
    assert "torch.log at barrier_term.py:16 makes it non-finite: its input has 1 zero" in \
        nonfinite[0]["message"]
    diverging = [d for d in report["diagnostics"] if d["code"] == "diverging-loss"]
    assert [(d["step"], d["line"]) for d in diverging] == [(5, 16)]
    assert "the term torch.log at barrier_term.py:16 turned -inf" in diverging[0]["message"]


def test_a_nonfinite_loss_born_in_an_op_on_a_whole_tensor_names_that_op(tmp_path, capsys):
    path = tmp_path / "vector_log.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\ntorch.manual_seed(0)\n"
        "net = nn.Linear(2, 1)\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
        "x = torch.randn(4, 2)\nfor step in range(3):\n    opt.zero_grad()\n"
        "    out = net(x)\n    scale = 1.0 if step < 2 else 0.0\n"
        "    loss = out.pow(2).mean() - torch.log(torch.sigmoid(out) * scale).mean()\n"
        "    loss.backward()\n    opt.step()\n")
    _, report = run_json(capsys, str(path))
    nonfinite = [d for d in report["diagnostics"] if d["code"] == "non-finite"]
    assert [(d["step"], d["phase"], d["line"]) for d in nonfinite] == [(3, "loss", 12)]
    assert "torch.log at vector_log.py:12 makes it non-finite: its input has 4 zeros" in \
        nonfinite[0]["message"]


def test_after_a_nonfinite_loss_the_watch_stops():
    session, record, seen = watched_run(script("barrier_term"))
    assert [s for s, *_ in seen] == list(range(1, 9))
    assert all(modes == 0 for _, modes, _, _ in seen)
    assert all(terms > 0 for step, _, terms, _ in seen if step <= 5)
    assert all(terms == 0 for step, _, terms, _ in seen if step > 5)  # nothing read any more
    assert not session.tracker.watch_loss


def test_diverging_example_leaves_no_mode_on_the_stack_at_any_step():
    """The first try left one tracer per step on the stack (the run slowed without end)."""
    _, record, seen = watched_run(os.path.join(EXAMPLES, "diverging_training.py"),
                                  "--epochs", "2")
    assert len(seen) == 32
    assert all(modes == 0 and kept == 0 for _, modes, _, kept in seen), seen
    assert torch._C._len_torch_function_stack() == 0
    assert [d.code for d in record.diagnostics] == ["diverging-loss", "non-finite"]


def test_many_terms_are_bounded_and_the_scripts_own_mode_is_left_alone():
    """300 scalar terms a step, a `with torch.device(...)` around the forward: the script's
    own assertion that its mode came and went with its block holds (no error)."""
    _, record, seen = watched_run(script("many_terms"))
    assert record.status == "ok", [d.message for d in record.diagnostics]
    assert len(seen) == 4
    assert all(modes == 0 and 0 < terms <= LossWatch.MAX_OPS for _, modes, terms, _ in seen)


def test_a_script_that_never_calls_backward_is_watched_in_its_first_step_only(tmp_path,
                                                                             monkeypatch):
    path = tmp_path / "scores.py"
    path.write_text("import torch\nimport torch.nn as nn\n\nmodel = nn.Linear(3, 1)\n"
                    "for _ in range(5):\n"
                    "    score = model(torch.randn(2, 3)).sigmoid().mean()  # grad on\n")
    starts = []
    original = LossWatch.start
    monkeypatch.setattr(LossWatch, "start",
                        lambda self, *a: (starts.append(1), original(self, *a))[1])
    _, record, seen = watched_run(str(path))
    assert record.status == "ok" and len(seen) == 5
    assert len(starts) == 1 and all(modes == 0 for _, modes, _, _ in seen)


def test_a_script_that_raises_or_is_stopped_in_its_loss_leaves_no_mode_behind(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text("import torch\nimport torch.nn as nn\n\nmodel = nn.Linear(4, 1)\n"
                    "loss = model(torch.randn(2, 4)).mean() * 2\n"
                    "raise ValueError('no target')\n")
    record = ScriptSession(str(path)).run()
    assert [(d.code, d.line) for d in record.diagnostics] == [("runtime-error", 6)]
    assert torch._C._len_torch_function_stack() == 0
    session = ScriptSession(script("penalty_explodes"), max_steps=3)
    session.run()
    assert session.tracker.step == 3 and torch._C._len_torch_function_stack() == 0


def test_model_file_steps_with_a_nonfinite_loss_name_its_op(capsys):
    """`check --steps` on a file whose loss turns inf: the loss rule names the op (the step
    tracker once raised AttributeError here)."""
    main(["check", "--steps", "2", "--json", os.path.join(CASES, "diag_nan_loss.py")])
    report = json.loads(capsys.readouterr().out)
    assert [(d["code"], d["phase"], d["line"], d["step"]) for d in report["diagnostics"]] == \
        [("non-finite", "loss", 16, 1)]
