"""The step gate driven from another thread, as the GUI drives it: the exact order of pauses."""

from __future__ import annotations

import queue
import threading

import pytest
import torch
import torch.nn as nn

from torchlens_gui.core.recording import events as ev
from torchlens_gui.core.engine.gate import Command, StepGate
from torchlens_gui.core.usercode.loader import spec_from_objects
from torchlens_gui.core.engine.session import Session


def nested_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("stem", nn.Sequential(nn.Linear(3, 4), nn.ReLU()))
    model.add_module("head", nn.Linear(4, 2))
    return model


class Driver:
    """Runs a session on a thread and hands each pause to the test."""

    def __init__(self, model: nn.Module, inputs, gate: StepGate, loss=None):
        self.gate = gate
        self.pauses: "queue.Queue[ev.Event]" = queue.Queue()
        self.events: list[ev.Event] = []
        spec = spec_from_objects(model, inputs, loss)
        self.session = Session(spec, device="cpu", gate=gate, listener=self._listen)
        self.thread = threading.Thread(target=self.session.run, daemon=True)

    def _listen(self, event: ev.Event) -> None:
        self.events.append(event)
        if isinstance(event, (ev.Paused, ev.SessionEnded)):
            self.pauses.put(event)

    def start(self) -> "Driver":
        self.thread.start()
        return self

    def next_stop(self):
        event = self.pauses.get(timeout=20)
        if isinstance(event, ev.SessionEnded):
            return ("ended", event.status)
        loc = event.location
        return (loc.phase, loc.kind, loc.path)

    def drive(self, command: Command, target=None):
        self.gate.command(command, target)
        return self.next_stop()

    def finish(self):
        self.thread.join(20)
        assert not self.thread.is_alive()


FORWARD_EVENTS = [
    ("forward", "enter", ""), ("forward", "enter", "stem"), ("forward", "enter", "stem.0"),
    ("forward", "exit", "stem.0"), ("forward", "enter", "stem.1"), ("forward", "exit", "stem.1"),
    ("forward", "exit", "stem"), ("forward", "enter", "head"), ("forward", "exit", "head"),
    ("forward", "exit", ""),
]
# Gradient hooks on a shared output tensor fire in registration order: the innermost module
# that produced the tensor first, then the containers that returned it unchanged.
BACKWARD_EVENTS = [
    ("backward", "grad", "head"), ("backward", "grad", ""), ("backward", "grad", "stem.1"),
    ("backward", "grad", "stem"), ("backward", "grad", "stem.0"),
]


def test_step_into_visits_every_module_event_forward_then_backward():
    driver = Driver(nested_model(), torch.randn(2, 3), StepGate(pause_at_start=True)).start()
    stops = [driver.next_stop()]
    while stops[-1][0] != "ended":
        stops.append(driver.drive(Command.STEP_INTO))
    driver.finish()
    assert stops == FORWARD_EVENTS + BACKWARD_EVENTS + [("ended", "ok")]


def test_step_over_runs_children_through():
    driver = Driver(nested_model(), torch.randn(2, 3), StepGate(pause_at_start=True)).start()
    assert driver.next_stop() == ("forward", "enter", "")
    assert driver.drive(Command.STEP_INTO) == ("forward", "enter", "stem")
    assert driver.drive(Command.STEP) == ("forward", "exit", "stem")
    assert driver.drive(Command.STEP) == ("forward", "enter", "head")
    assert driver.drive(Command.STEP) == ("forward", "exit", "head")
    assert driver.drive(Command.STEP) == ("forward", "exit", "")
    assert driver.drive(Command.STEP) == ("backward", "grad", "head")
    assert driver.drive(Command.CONTINUE) == ("ended", "ok")
    driver.finish()


def test_step_out_finishes_the_current_module_then_its_parent():
    driver = Driver(nested_model(), torch.randn(2, 3), StepGate(pause_at_start=True)).start()
    driver.next_stop()
    driver.drive(Command.STEP_INTO)
    assert driver.drive(Command.STEP_INTO) == ("forward", "enter", "stem.0")
    assert driver.drive(Command.STEP_OUT) == ("forward", "exit", "stem.0")
    assert driver.drive(Command.STEP_OUT) == ("forward", "exit", "stem")
    assert driver.drive(Command.STEP_OUT) == ("forward", "exit", "")
    assert driver.drive(Command.CONTINUE) == ("ended", "ok")
    driver.finish()


def test_step_out_in_backward_goes_to_the_next_shallower_gradient():
    model = nn.Sequential()
    model.add_module("a", nn.Sequential(nn.Linear(3, 4), nn.ReLU()))
    model.add_module("b", nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
    gate = StepGate(pause_at_start=True)
    driver = Driver(model, torch.randn(2, 3), gate).start()
    driver.next_stop()
    gate.set_breakpoints({"b.0"})
    assert driver.drive(Command.CONTINUE) == ("forward", "enter", "b.0")
    assert driver.drive(Command.CONTINUE) == ("backward", "grad", "b.0")  # depth 2
    gate.set_breakpoints(set())
    # backward order after b.0: a.1 (depth 2), a (1), a.0 (2); out of b.0 skips a.1
    assert driver.drive(Command.STEP_OUT) == ("backward", "grad", "a")
    assert driver.drive(Command.STEP_OUT) == ("ended", "ok")  # nothing shallower than a
    driver.finish()


def test_breakpoints_and_run_to_in_forward_and_backward():
    gate = StepGate(pause_at_start=True)
    driver = Driver(nested_model(), torch.randn(2, 3), gate).start()
    driver.next_stop()
    gate.set_breakpoints({"stem.1"})
    assert driver.drive(Command.CONTINUE) == ("forward", "enter", "stem.1")
    assert driver.drive(Command.RUN_TO, "head") == ("forward", "enter", "head")
    assert driver.drive(Command.CONTINUE) == ("backward", "grad", "stem.1")
    gate.set_breakpoints(set())
    assert driver.drive(Command.CONTINUE) == ("ended", "ok")
    driver.finish()


def test_stop_ends_promptly_and_leaves_the_model_intact():
    model = nested_model()
    before = [p.detach().clone() for p in model.parameters()]
    gate = StepGate(pause_at_start=True)
    driver = Driver(model, torch.randn(2, 3), gate).start()
    driver.next_stop()
    driver.drive(Command.STEP_INTO)
    assert driver.drive(Command.STOP) == ("ended", "stopped")
    driver.finish()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    out = model(torch.randn(2, 3))  # still usable, and no hooks fire into the dead session
    assert out.shape == (2, 2)
    ended = driver.events[-1]
    assert isinstance(ended, ev.SessionEnded)
    assert (ended.status, ended.diagnostics) == ("stopped", ()) and ended.elapsed_s > 0


class DivideBySum(nn.Module):
    def forward(self, x):
        return x / x.sum(dim=1, keepdim=True)


def test_break_on_nonfinite_stops_at_the_birth_module_once():
    model = nn.Sequential(nn.ReLU(), DivideBySum(), nn.Linear(3, 1))
    inputs = torch.tensor([[-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]])
    gate = StepGate(pause_at_start=False, break_on_problems=True)
    driver = Driver(model, inputs, gate).start()
    event = driver.pauses.get(timeout=20)
    assert isinstance(event, ev.Paused)
    assert (event.location.path, event.location.kind, event.location.reason) == (
        "1", "exit", "non-finite")
    assert driver.drive(Command.CONTINUE) == ("ended", driver.session.record.status)
    driver.finish()


def test_break_on_exception_pauses_at_the_failing_module():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 1))
    gate = StepGate(break_on_problems=True)
    driver = Driver(model, torch.randn(2, 3), gate).start()
    event = driver.pauses.get(timeout=20)
    assert (event.location.path, event.location.kind, event.location.reason) == (
        "1", "error", "exception")
    assert driver.drive(Command.CONTINUE) == ("ended", "problems")
    driver.finish()


@pytest.mark.parametrize("command", [Command.STEP, Command.STEP_INTO])
def test_pause_command_while_running_pauses_at_next_event(command):
    gate = StepGate()
    gate.command(Command.PAUSE)  # before start: the first event pauses
    driver = Driver(nested_model(), torch.randn(2, 3), gate).start()
    assert driver.next_stop() == ("forward", "enter", "")
    assert driver.drive(command)[0] == "forward"
    driver.drive(Command.STOP)
    driver.finish()


def test_time_spent_paused_is_not_counted_as_module_time(monkeypatch):
    # Paused at the root's entry while someone looks for 100 s of a clock that moves only
    # then: the root's call time must stay its own compute (0 on that clock), not the look.
    import time

    from torchlens_gui.core.engine import hooks

    clock = [1000.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(hooks, "_perf_counter", lambda: clock[0])
    driver = Driver(nested_model(), torch.randn(2, 3), StepGate(pause_at_start=True)).start()
    assert driver.next_stop() == ("forward", "enter", "")
    clock[0] += 100.0
    assert driver.drive(Command.CONTINUE) == ("ended", "ok")
    driver.finish()
    root_exit = [e for e in driver.events if isinstance(e, ev.ModuleExited) and e.path == ""]
    assert [e.elapsed_s for e in root_exit] == [0.0]
    assert driver.gate.paused_seconds == 100.0
