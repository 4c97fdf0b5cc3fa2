"""Memory a long training run adds: a script of ``--steps`` steps (default 10,000) training a
model of ``--modules`` parameterised modules (default 100 Linear layers) under ScriptSession.

    python benchmarks/step_memory.py [--steps 10000] [--modules 100]

Python allocations are traced (tracemalloc) from just before the session starts; the figure is
what is still allocated when it has ended while its record is alive, minus what remains once
the record is dropped: the record itself (figures of every step, the kept full records, the
diagnostics and log). The model's tensors live in torch's allocator and are not counted.
Last line: ``step-memory steps=N modules=M record=X MB``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchlens_gui.core.engine.script_session import ScriptSession  # noqa: E402

SCRIPT = """import sys
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(*[nn.Linear(8, 8) for _ in range({modules})])
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
x, y = torch.randn(4, 8), torch.randn(4, 8)
for step in range({steps}):
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--modules", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "long_run.py")
        with open(path, "w") as fh:
            fh.write(SCRIPT.format(modules=args.modules, steps=args.steps))
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        record = ScriptSession(path).run()
        elapsed = time.perf_counter() - started
        gc.collect()
        with_record = tracemalloc.get_traced_memory()[0]
        steps, kept = len(record.steps), len(record.steps.kept)
        calls = sum(len(k.calls) for k in record.steps.kept.values())
        status = record.status
        del record
        gc.collect()
        without = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    mb = (with_record - without) / 1e6
    print(f"{steps} steps of {args.modules} modules in {elapsed:.1f} s ({status}); "
          f"{kept} steps kept in full ({calls} module calls)")
    print(f"step-memory steps={steps} modules={args.modules} record={mb:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
