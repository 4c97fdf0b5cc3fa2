"""A backward error raised by one of torch's own autograd nodes is traced, by one re-run under
anomaly mode, to the forward op and user line that created the node; a re-run that does not
fail the same way is not trusted, and the re-run leaves gradients, buffers and RNG as they were."""

from __future__ import annotations

import textwrap

import torch
import torch.nn as nn

from torchlens_gui.core.diagnostics.backward_replay import capture_rng, replay_backward
from torchlens_gui.core.recording.record import RunRecord
from torchlens_gui.core.usercode.context import SessionContext
from torchlens_gui.core.usercode.creation_sites import CreationSites


def run_file(tmp_path, source: str) -> dict:
    from torchlens_gui.core.engine.session import Session
    from torchlens_gui.core.recording.report import to_json

    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source))
    return to_json(Session(str(path), device="cpu").run())


NESTED_HOOK = """
    import torch
    import torch.nn as nn


    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            y = self.fc(x).sum(dim=1)
            y.register_hook(lambda g: g.expand(2, 2))  # a hook with a wrong shape
            return y


    def build_model():
        return nn.Sequential(nn.Linear(4, 4), Head())


    def example_inputs():
        return torch.randn(2, 4)
"""


def test_a_builtin_node_error_names_the_module_and_line_that_made_the_node(tmp_path):
    report = run_file(tmp_path, NESTED_HOOK)
    error, = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert (error["code"], error["module"], error["line"], error["phase"]) == \
        ("runtime-error", "1", 12, "backward")
    assert "at SumBackward1: the gradient of the sum at model.py:12 in 1" in error["message"]
    assert "hook registered on the result of model.py:12" in error["fix"]
    # the re-run put no gradient anywhere: backward failed before any reached a parameter
    assert all(p["grad"] is None for m in report["modules"] for p in m["params"])


FAILS_ONCE = """
    import torch
    import torch.nn as nn

    calls = []


    def shrink(g):
        calls.append(1)
        return g[:1] if len(calls) == 1 else g  # only the first backward fails


    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            y = self.fc(x) * 2
            y.register_hook(shrink)
            return y


    def build_model():
        return M()


    def example_inputs():
        return torch.randn(4, 3)
"""


def test_a_replay_that_does_not_fail_again_is_not_trusted(tmp_path):
    report = run_file(tmp_path, FAILS_ONCE)
    error, = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert error["code"] == "runtime-error" and "Backward" not in error["message"]
    assert "has changed the size of value" in error["message"]


class _Noisy(nn.Module):
    """Fails in backward only when the first random draw is below 0.5: reproducible only with
    the RNG state of the first forward."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x):
        y = self.bn(self.fc(x))
        if torch.rand(()) < 0.5:
            y.register_hook(lambda g: g[:1])
        return y * torch.rand_like(y)


def test_the_replay_starts_from_the_first_forward_rng_and_restores_the_model():
    torch.manual_seed(3)
    while True:  # a seed whose first draw fails the backward
        state = torch.get_rng_state()
        if torch.rand(()) < 0.5:
            break
    torch.set_rng_state(state)
    model = _Noisy()
    torch.set_rng_state(state)  # the first forward's RNG
    x = torch.randn(4, 3)
    model.fc.weight.grad = torch.full_like(model.fc.weight, 7.0)
    ctx = SessionContext(__file__, torch.device("cpu"), False, RunRecord(), CreationSites(),
                         model=model)
    rng = capture_rng(ctx.device)
    try:
        model(x).sum().backward()
        raise AssertionError("backward should fail")
    except RuntimeError as exc:
        error = exc
    running_mean = model.bn.running_mean.clone()
    while True:  # the generator now draws >= 0.5 first: a replay that did not restore the
        after = torch.get_rng_state()  # first forward's state would not fail
        if torch.rand(()) >= 0.5:
            torch.set_rng_state(after)
            break
    failed = replay_backward(ctx, error, rng, lambda: model(x).sum())
    assert failed is not None and failed.node == "NativeBatchNormBackward0", failed
    assert any(file == __file__ for file, _, _ in failed.frames)
    assert torch.equal(model.bn.running_mean, running_mean)
    assert torch.equal(torch.get_rng_state(), after)
    assert torch.equal(model.fc.weight.grad, torch.full_like(model.fc.weight, 7.0))
