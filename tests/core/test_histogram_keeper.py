"""Histograms kept where they matter during a free run (histograms="auto" and nobody stepping):
the call where a problem happened, the calls that produced its inputs, the last calls of the
forward; nothing else pays for one."""

from __future__ import annotations

import os

import torch

from torchlens_gui.core.engine.gate import StepGate
from torchlens_gui.core.engine.histogram_keeper import HistogramKeeper
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.recording import events as ev
from torchlens_gui.core.statistics.stats import summarize

CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cases")


def free_run(name: str):
    gate = StepGate(pause_at_start=False, break_on_problems=False)
    return Session(os.path.join(CASES, name), gate=gate, histograms="auto").run()


def has_hist(summaries) -> list[bool]:
    return [s.hist is not None for s in summaries if s.is_tensor]


def test_shape_error_keeps_the_failing_call_and_its_producers():
    record = free_run("gui_shape_error.py")
    calls = {c.path: c for c in record.calls}
    assert calls["2"].status == "failed"
    assert has_hist(calls["2"].inputs) == [True]  # what the failing Linear was given
    assert has_hist(calls["1"].outputs) == [True]  # the ReLU that produced it
    assert has_hist(calls["0"].inputs) == [True]  # the model's own input
    counts = calls["2"].inputs[0].hist.counts
    assert sum(counts) == calls["2"].inputs[0].numel


def test_nan_birth_keeps_the_birth_call_inputs():
    record = free_run("diag_nan_log.py")
    born = next(d for d in record.diagnostics if d.code == "non-finite")
    call = record.last_call(born.module)
    assert all(has_hist(call.inputs)) and has_hist(call.inputs)


def test_a_healthy_free_run_keeps_only_its_last_calls():
    record = free_run("gui_tiny.py")
    with_hist = [c.path for c in record.calls if any(has_hist(c.outputs))]
    assert "head" in with_hist and "" in with_hist  # the end of the forward
    assert len(with_hist) <= len(record.calls)


def test_keeper_stays_within_its_budget():
    events: list = []
    keeper = HistogramKeeper(events.append, max_held=3, max_bytes=10 * 4 * 100)
    tensors = [torch.randn(100) for _ in range(5)] + [torch.randn(10_000)]  # the last: too big
    keeper.hold((t, summarize(t)) for t in tensors)
    keeper.keep()
    (kept,) = events
    assert isinstance(kept, ev.HistogramsKept)
    assert [s for s, _ in kept.histograms] == [summarize(t) for t in tensors[2:5]]
    assert all(sum(h.counts) == 100 for _, h in kept.histograms)


def test_a_tensor_changed_in_place_gets_no_histogram():
    events: list = []
    keeper = HistogramKeeper(events.append)
    t = torch.randn(50)
    keeper.hold([(t, summarize(t))])
    t.mul_(2)
    keeper.keep()
    assert events == []
