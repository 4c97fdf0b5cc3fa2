"""A pause inside a light training step shows the step as far as it ran: its module calls, the
parameters and gradients of that moment, where its NaN/Inf was born; stepping on records in
full, and a clean light step sends none of it."""

from __future__ import annotations

import copy
import math
import os

from torchlens_gui.core.diagnostics import codes
from torchlens_gui.core.engine.gate import Command, StepGate
from torchlens_gui.core.engine.script_session import ScriptSession
from torchlens_gui.core.recording import events as ev

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), "cases", "scripts")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "resources", "examples")


def run_paused(script: str, args=(), commands=(Command.CONTINUE,), **kwargs):
    """Run ``script`` breaking on problems; at each pause, note what the session's record
    shows, then give the next command (continue once they run out). Returns (events,
    what each pause showed, the session)."""
    gate = StepGate(break_on_problems=True)
    session = ScriptSession(script, list(args), gate=gate, **kwargs)
    events: list = []
    pauses: list = []
    queue = list(commands)

    def listener(event: ev.Event) -> None:
        events.append(event)
        if isinstance(event, ev.Paused):
            record = session.record
            pauses.append({
                "at": event.location, "step": record.step,
                "calls": {(c.path, c.call_index): copy.copy(c) for c in record.calls},
                "birth": record.nonfinite_birth(codes.NONFINITE_CODES),
                "grads_bad": {p for p in record.nodes if record.param_grads_nonfinite(p)},
                "index": len(events)})
            # Same thread, re-entrant lock: the pause returns at once.
            gate.command(queue.pop(0) if queue else Command.CONTINUE)

    session.listener = listener
    session.run()
    return events, pauses, session


def step_events(events: list, step: int) -> list:
    start = next(i for i, e in enumerate(events) if isinstance(e, ev.StepStarted)
                 and e.step == step)
    end = next(i for i, e in enumerate(events) if isinstance(e, ev.StepEnded)
               and e.figures.step == step)
    return events[start:end + 1]


def test_pause_at_a_backward_nan_in_a_light_step_shows_its_calls_and_gradients():
    events, pauses, session = run_paused(os.path.join(SCRIPTS, "nan_backward_midstep.py"))
    pause = pauses[0]
    assert (pause["step"], pause["at"].phase, pause["at"].path) == (4, ev.Phase.BACKWARD,
                                                                     "model.0")
    calls = pause["calls"]  # the forward of step 4 (a light step), in entry order
    assert list(calls) == [("model", 0), ("model.0", 0), ("model.1", 0), ("model.2", 0)]
    assert all(c.status == ev.CallStatus.DONE for c in calls.values())
    first = calls[("model.0", 0)]
    assert [(s.shape, s.dtype, s.device, s.nan) for s in first.outputs] == [
        ((8, 4), "float32", "cpu", 0)]
    assert first.outputs[0].min is None  # shapes only: a light step reads no values
    assert first.elapsed_s is not None and first.elapsed_s > 0
    # The parameters and gradients of that moment came before the pause.
    before = events[:pause["index"]]
    params = [e for e in step_events(before + [ev.StepEnded(ev.StepFigures(4))], 4)
              if isinstance(e, ev.ParamsUpdated)]
    assert len(params) == 1
    grads = {path: {p.name: p.grad for p in infos} for path, infos in params[0].params}
    assert (grads["model.0"]["weight"].nan, grads["model.0"]["bias"].inf) == (16, 4)
    assert grads["model.2"]["weight"].finite
    assert pause["grads_bad"] == {"model.0"}
    birth = pause["birth"]
    assert (birth.code, birth.module, birth.step, birth.phase) == (
        codes.NON_FINITE, "model.0", 4, ev.Phase.BACKWARD)
    kept = session.record.steps.kept[4]  # kept with its calls after the run
    assert [c.path for c in kept.calls] == ["model", "model.0", "model.1", "model.2"]


def test_pause_at_the_diverging_examples_inf_shows_the_light_step_it_was_born_in():
    _, pauses, _ = run_paused(os.path.join(EXAMPLES, "diverging_training.py"),
                              ["--epochs", "2"])
    pause = pauses[0]
    assert (pause["at"].phase, pause["at"].path) == (ev.Phase.FORWARD, "loss_fn")
    assert pause["step"] > 1  # a light step
    calls = pause["calls"]
    assert list(calls) == [("model", 0), ("model.hidden", 0), ("model.out", 0), ("loss_fn", 0)]
    assert calls[("model.hidden", 0)].outputs[0].shape == (32, 16)
    assert calls[("model.out", 0)].outputs[0].finite
    assert calls[("loss_fn", 0)].outputs[0].inf == 1
    assert pause["birth"].module == "loss_fn"


def test_pause_at_a_forward_nan_in_a_light_step_and_stepping_on_records_in_full():
    events, pauses, session = run_paused(os.path.join(SCRIPTS, "nan_midstep.py"),
                                         commands=(Command.STEP_INTO, Command.STEP_INTO))
    birth, out_of_block, into_last = pauses[:3]
    assert birth["step"] == 4 and birth["at"].path == "model.1.act"
    calls = birth["calls"]
    # In entry order: what ran before the birth, the birth, the modules it runs inside.
    assert list(calls) == [("model", 0), ("model.0", 0), ("model.1", 0), ("model.1.fc", 0),
                           ("model.1.act", 0)]
    assert calls[("model.0", 0)].status == ev.CallStatus.DONE
    assert calls[("model.1", 0)].status == ev.CallStatus.RUNNING
    act = calls[("model.1.act", 0)]
    assert act.outputs[0].nan == 32 and not act.input_nonfinite
    assert birth["birth"].module == "model.1.act" and birth["birth"].step == 4
    # Step into: the block's exit, recorded in full (statistics, its inputs summarised).
    assert (out_of_block["at"].kind, out_of_block["at"].path) == (ev.PauseKind.EXIT, "model.1")
    block = out_of_block["calls"][("model.1", 0)]
    assert block.status == ev.CallStatus.DONE and block.outputs[0].nan == 32
    assert block.inputs and block.inputs[0].min is not None
    # Again: the next module's entry, with its inputs' statistics.
    assert (into_last["at"].kind, into_last["at"].path) == (ev.PauseKind.ENTER, "model.2")
    assert into_last["calls"][("model.2", 0)].inputs[0].nan == 32
    # The step ended with every call done, gradients at the calls recorded in full.
    kept = session.record.steps.kept[4]
    assert all(c.status == ev.CallStatus.DONE for c in kept.calls)
    assert [e.path for e in step_events(events, 4) if isinstance(e, ev.GradientArrived)]


def test_a_clean_light_step_sends_no_calls():
    events, pauses, session = run_paused(os.path.join(SCRIPTS, "nan_midstep.py"))
    assert [p["step"] for p in pauses] == [4]
    # Continued after the pause: the rest of step 4 ran light and was sent as it ended, the
    # NaN it passed on counted.
    last = [c for c in session.record.steps.kept[4].calls if c.path == "model.2"]
    assert [(c.status, c.outputs[0].shape, c.outputs[0].nan) for c in last] == [
        (ev.CallStatus.DONE, (8, 1), 8)]
    assert 5 not in session.record.steps.kept  # broken by the weights, nothing new: figures
    for step in (2, 3):
        assert not [e for e in step_events(events, step)
                    if isinstance(e, (ev.ModuleEntered, ev.ModuleExited, ev.ParamsUpdated))]
    assert [e for e in step_events(events, 1) if isinstance(e, ev.ModuleEntered)]  # full


def test_an_exception_in_a_light_step_marks_the_calls_it_ran_inside():
    events, pauses, _ = run_paused(os.path.join(SCRIPTS, "raise_midstep.py"))
    pause = pauses[0]
    assert pause["at"].reason == ev.PauseReason.EXCEPTION and pause["step"] == 3
    assert pause["at"].path == "model.1.1"
    status = {path: call.status for (path, _), call in pause["calls"].items()}
    assert status == {"model": ev.CallStatus.FAILED, "model.0": ev.CallStatus.DONE,
                      "model.1": ev.CallStatus.FAILED, "model.1.0": ev.CallStatus.DONE,
                      "model.1.1": ev.CallStatus.FAILED}


def test_a_nan_batch_in_a_light_step_keeps_its_calls_with_their_counts():
    _, pauses, session = run_paused(os.path.join(SCRIPTS, "nan_batch.py"))
    # The data's NaN breaks once, as it enters the model (then it is the data's, not a birth).
    assert [(p["step"], p["at"].kind, p["at"].path) for p in pauses] == [(4, "enter", "model")]
    kept = session.record.steps.kept[4]
    # One NaN in row 2 of the batch: a row of 8 after the first Linear, 1 in the output.
    assert [(c.path, c.status, c.outputs[0].shape, c.outputs[0].nan) for c in kept.calls] == [
        ("model", ev.CallStatus.DONE, (8, 1), 1), ("model.0", ev.CallStatus.DONE, (8, 8), 8),
        ("model.1", ev.CallStatus.DONE, (8, 8), 8), ("model.2", ev.CallStatus.DONE, (8, 1), 1)]


def test_light_calls_become_the_events_of_a_full_step_as_far_as_known():
    import torch
    import torch.nn as nn

    from torchlens_gui.core.engine.light_calls import LightCalls, counted_outputs, seen_outputs
    from torchlens_gui.core.usercode.context import ActiveCall

    light = LightCalls()
    outer = ActiveCall(nn.Identity(), "outer", 0, 0, 0.0, light=True)
    inner = ActiveCall(nn.Identity(), "outer.inner", 1, 1, 0.0, light=True)
    inner.seen = seen_outputs([torch.empty(2, 3, device="meta"),
                               torch.ones(4, dtype=torch.int64)])
    inner.elapsed = 0.25
    light.calls = [outer, inner]
    first = light.take_events()
    assert [type(e).__name__ for e in first] == ["ModuleEntered", "ModuleEntered",
                                                 "ModuleExited"]
    done = first[2]
    assert (done.path, done.call_index, done.elapsed_s) == ("outer.inner", 1, 0.25)
    assert [(s.name, s.shape, s.dtype, s.device, s.numel, s.min) for s in done.outputs] == [
        ("[0]", (2, 3), "float32", "meta", 6, None), ("[1]", (4,), "int64", "cpu", 4, None)]
    assert light.calls == [outer]  # still running: its exit comes later
    value = torch.tensor([1.0, float("nan"), float("inf"), float("-inf")])
    outer.seen = counted_outputs([value], [False])
    (exited,) = light.take_events()
    assert (exited.path, exited.outputs[0].nan, exited.outputs[0].inf) == ("outer", 1, 2)
    assert not light.calls and not light.take_events()


def test_activations_after_a_finite_output_are_not_tested_but_births_are_found(monkeypatch):
    """A light step tests Linear outputs, not the ReLU/Sigmoid after them (finite in, finite
    out); the NaN that late_forward_nan.py's Root makes from a sigmoid's output is still
    found at Root."""
    from torchlens_gui.core.engine import step_hooks

    tested = []
    original = step_hooks.tensor_finite
    monkeypatch.setattr(step_hooks, "tensor_finite",
                        lambda t: tested.append(tuple(t.shape)) or original(t))
    _, _, session = run_paused(os.path.join(SCRIPTS, "late_forward_nan.py"))
    nonfinite = [d for d in session.record.diagnostics if d.code == "non-finite"]
    assert [(d.step, d.module) for d in nonfinite] == [(4, "model.2")]
    # Per light step (2 to 6): Linear(4, 4), Root and Linear(4, 1), not the Sigmoid nor the
    # Sequential (4 a step would be 20 and more; step 4's birth adds a few of its own).
    assert tested[:3] == [(8, 4), (8, 4), (8, 1)] and 15 <= len(tested) < 20
