"""`overhead.py --train`: a training step under `torchlens-gui run` against the plain step.

A training step is forward, loss, backward and an optimizer step (Adam) with zero_grad. Each
round runs ``--steps`` plain steps, then a script of the same steps under a ScriptSession as
`torchlens-gui run --headless` runs it (step tracker, light recording after the first step,
every event to a listener). Steps are timed one by one inside the loop; the session's first
step (recorded in full) and its start-up are left out, so the figure is what every later step
of a long run pays. Rounds alternate which side goes first; each figure is the median of all
timed steps.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import types
from typing import Callable

import torch

from torchlens_gui.core.engine.script_session import ScriptSession

REGISTRY = "_torchlens_train_bench"
SCRIPT = f"""import time
import {REGISTRY} as bench

for _ in range(bench.steps):
    started = time.perf_counter()
    bench.step()
    bench.times.append(time.perf_counter() - started)
"""


def make_step(model, inputs, loss) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss(model(inputs)).backward()
        optimizer.step()

    return step


def bench_train(build, name: str, device: torch.device, rounds: int, steps: int
                ) -> dict[str, list[float]]:
    model, inputs, loss = build(name, device)
    step = make_step(model, inputs, loss)
    bench = types.ModuleType(REGISTRY)
    bench.step, bench.steps, bench.times = step, steps, []
    sys.modules[REGISTRY] = bench
    times: dict[str, list[float]] = {"plain": [], "run": []}
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "train_loop.py")
        with open(script, "w") as fh:
            fh.write(SCRIPT)
        for _ in range(3):  # warm-up: allocator, Adam's state
            step()
        for round_index in range(rounds):
            order = ("plain", "run") if round_index % 2 == 0 else ("run", "plain")
            for mode in order:
                bench.times = []
                if mode == "plain":
                    for _ in range(steps):
                        started = time.perf_counter()
                        step()
                        bench.times.append(time.perf_counter() - started)
                    times["plain"] += bench.times[1:]
                else:
                    record = ScriptSession(script, listener=lambda event: None).run()
                    if record.status != "ok":
                        raise RuntimeError("; ".join(d.message for d in record.diagnostics))
                    times["run"] += bench.times[1:]  # the first step is recorded in full
    del sys.modules[REGISTRY]
    return times


def main_train(build, models: list[str], device: torch.device, rounds: int, steps: int) -> int:
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads; "
          f"training steps (Adam): {rounds} rounds of {steps} steps per mode, alternating, "
          "the session's first (full) step left out")
    ratios = {}
    for name in models:
        times = bench_train(build, name, device, rounds, steps)
        plain, run = statistics.median(times["plain"]), statistics.median(times["run"])
        ratios[name] = run / plain
        print(f"  {name:<8} plain step {plain * 1000:8.2f} ms   under run {run * 1000:8.2f} ms"
              f"   ratio {run / plain:5.2f}   ({len(times['run'])} steps each)")
    print("train-overhead " + " ".join(f"{name}={r:.2f}" for name, r in ratios.items()))
    return 0
