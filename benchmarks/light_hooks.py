"""Per-call cost of the light training-step hooks: this tree's StepHooks against another
revision's, in one process, run by run.

    python benchmarks/light_hooks.py [--against main] [--calls 2000] [--rounds 100] [--nan]

The hooks are driven directly (no torch dispatch, no model compute, so the noise of a busy
machine is small): one outermost call of a chain of ``--calls`` ReLU modules on a (4, 8)
tensor, outputs computed beforehand, every step light. ``--nan`` puts a NaN in the input, so
every output holds one (a step broken by its weights or its batch). The other revision's
step_hooks.py is read with ``git show`` and loaded beside this one; both run alternately and
the figure is the median of the paired per-round differences. Last line:
``light-hooks before=B after=A added=D`` in microseconds per module call.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn

from torchlens_gui.core.diagnostics import default_diagnostician
from torchlens_gui.core.engine import step_hooks
from torchlens_gui.core.engine.gate import StepGate
from torchlens_gui.core.engine.steps import StepTracker
from torchlens_gui.core.recording.events import Phase
from torchlens_gui.core.recording.record import RunRecord
from torchlens_gui.core.usercode.context import SessionContext
from torchlens_gui.core.usercode.creation_sites import CreationSites

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hooks_of(revision: str):
    """StepHooks as ``revision`` has it, loaded as a sibling module of this tree's."""
    source = subprocess.run(
        ["git", "show", f"{revision}:torchlens_gui/core/engine/step_hooks.py"], cwd=ROOT,
        check=True, capture_output=True, text=True).stdout
    path = os.path.join(tempfile.mkdtemp(), "step_hooks_then.py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("torchlens_gui.core.engine._hooks_then", path)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "torchlens_gui.core.engine"
    spec.loader.exec_module(module)
    return module.StepHooks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="main", help="git revision to compare with")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--nan", action="store_true", help="every output holds a NaN")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = nn.Sequential(*[nn.ReLU() for _ in range(args.calls)])
    x = torch.randn(4, 8)
    if args.nan:
        x[0, 0] = float("nan")
    outs, y = [], x
    for _ in root:
        y = torch.relu(y)
        outs.append(y)

    def make(cls):
        ctx = SessionContext("bench.py", torch.device("cpu"), False, RunRecord(), CreationSites())
        ctx.paths[id(root)], ctx.modules["model"] = "model", root
        for index, module in enumerate(root):
            path = ctx.paths[id(module)] = f"model.{index}"
            ctx.modules[path] = module
        ctx.phase = Phase.FORWARD
        gate, events = StepGate(), []
        tracker = StepTracker(ctx, events.append, lambda d: None, gate, full_steps=0)
        return cls(ctx, events.append, gate, default_diagnostician(), lambda d: None,
                   tracker=tracker)

    def one_step(hooks) -> float:
        started = time.perf_counter()
        hooks._on_enter(root, (x,))
        previous = x
        for module, out in zip(root, outs):
            hooks._on_enter(module, (previous,))
            hooks._on_exit(module, (previous,), {}, out)
            previous = out
        hooks._on_exit(root, (x,), {}, outs[-1])
        return time.perf_counter() - started

    sides = {"before": make(hooks_of(args.against)), "after": make(step_hooks.StepHooks)}
    times: dict[str, list[float]] = {"before": [], "after": []}
    for round_index in range(args.rounds + 4):
        for side in (("before", "after") if round_index % 2 else ("after", "before")):
            elapsed = one_step(sides[side])
            if round_index >= 4:  # warm-up rounds left out
                times[side].append(elapsed)
    calls = args.calls + 1
    before = statistics.median(times["before"]) / calls * 1e6
    after = statistics.median(times["after"]) / calls * 1e6
    added = statistics.median(a - b for a, b in zip(times["after"], times["before"])) / calls * 1e6
    kind = "NaN" if args.nan else "finite"
    print(f"{calls} light calls a step, {args.rounds} rounds each, {kind} outputs; "
          f"{args.against} against this tree")
    print(f"light-hooks before={before:.2f} after={after:.2f} added={added:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
