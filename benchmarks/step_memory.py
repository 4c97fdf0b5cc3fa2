"""Memory a long training run adds: a script of ``--steps`` steps (default 10,000) training a
model of ``--modules`` parameterised modules (default 100 Linear layers) under ScriptSession.

    python benchmarks/step_memory.py [--steps 10000] [--modules 100]

The figure is the size of the session's record once it has ended, measured by walking it (every
object reachable from the record, each counted once with sys.getsizeof: the figures of every
step, the kept full records, the nodes, diagnostics and log). The model's tensors are not in
the record.
Last line: ``step-memory steps=N modules=M record=X MB``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import collections
import time
import types

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


def deep_size(root) -> int:
    """Bytes of every object reachable from ``root`` (each once), stopping at classes,
    functions and modules (shared with the program, not owned by the record)."""
    seen, stack, total = set(), [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, types.FunctionType, types.ModuleType,
                                               types.MethodType)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset, collections.deque)):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(obj.__dict__)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--modules", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "long_run.py")
        with open(path, "w") as fh:
            fh.write(SCRIPT.format(modules=args.modules, steps=args.steps))
        started = time.perf_counter()
        record = ScriptSession(path).run()
        elapsed = time.perf_counter() - started
        steps, kept = len(record.steps), len(record.steps.kept)
        calls = sum(len(k.calls) for k in record.steps.kept.values())
        status = record.status
        mb = deep_size(record) / 1e6
    print(f"{steps} steps of {args.modules} modules in {elapsed:.1f} s ({status}); "
          f"{kept} steps kept in full ({calls} module calls)")
    print(f"step-memory steps={steps} modules={args.modules} record={mb:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
