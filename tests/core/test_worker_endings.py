"""Issue 10, failure 2: every way a session's worker can end (KeyboardInterrupt, inputs nested
5,000 deep, a bug of ours, a second stop during cleanup) ends it with SessionEnded and a
diagnostic; the process state is restored either way."""

from __future__ import annotations

import torch

from case_tools import case_path, marker_line
from torchlens_gui.core.engine import session as session_module
from torchlens_gui.core.engine.gate import SessionStopped
from torchlens_gui.core.engine.isolation import hook_registry_sizes
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.recording import events as ev


def _run(source, **kwargs):
    seen = []
    record = Session(source, device="cpu", listener=seen.append, **kwargs).run()
    ended = [e for e in seen if isinstance(e, ev.SessionEnded)]
    assert len(ended) == 1, "exactly one SessionEnded"
    return record, ended[0]


def test_keyboard_interrupt_in_forward_ends_with_a_diagnostic():
    path = case_path("rel_keyboard_interrupt")
    record, ended = _run(path)
    assert ended.status == "stopped"
    (diagnostic,) = [d for d in record.diagnostics if d.code == "interrupted"]
    assert diagnostic.phase == "forward" and diagnostic.module == ""
    assert diagnostic.line == marker_line(path, "interrupted")


def test_inputs_nested_5000_deep_run_normally():
    record, ended = _run(case_path("rel_deep_inputs"))
    assert ended.status == "ok", record.diagnostics
    assert record.nodes["fc"] and record.calls_of("fc")


def test_a_bug_of_ours_is_an_internal_error_with_a_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug in the tree walk")

    monkeypatch.setattr(session_module, "describe_module_tree", broken)
    hooks = hook_registry_sizes()
    record, ended = _run(case_path("eng_surrogate"))
    assert ended.status == "failed"
    (diagnostic,) = [d for d in record.diagnostics if d.code == "internal-error"]
    assert "ValueError: a bug in the tree walk" in diagnostic.message
    assert "Traceback (most recent call last)" in diagnostic.message
    assert "describe_module_tree" in diagnostic.message or "broken" in diagnostic.message
    assert hook_registry_sizes() == hooks
    assert torch.is_grad_enabled()


def test_a_second_stop_during_cleanup_still_ends_the_session(monkeypatch):
    from torchlens_gui.core.engine.hooks import ModuleHooks

    real_remove = ModuleHooks.remove
    stops = []

    def remove_interrupted(self):
        if not stops:  # the stop that arrives while the first one is being cleaned up
            stops.append(True)
            raise SessionStopped()
        real_remove(self)

    monkeypatch.setattr(ModuleHooks, "remove", remove_interrupted)
    hooks = hook_registry_sizes()
    record, ended = _run(case_path("eng_surrogate"))
    assert stops and ended.status == "ok"
    assert hook_registry_sizes() == hooks


def test_overlapping_captures_give_stdout_back_whatever_order_they_end_in():
    """A run abandoned in a C call may end after the next run started capturing."""
    import sys

    from torchlens_gui.core.engine.capture import capture_output

    real_out, real_err = sys.stdout, sys.stderr
    first = capture_output(lambda stream, text: None)
    first.__enter__()
    second = capture_output(lambda stream, text: None)
    second.__enter__()
    first.__exit__(None, None, None)  # the older session ends first
    assert sys.stdout is not real_out  # the newer one still captures
    second.__exit__(None, None, None)
    assert sys.stdout is real_out and sys.stderr is real_err
