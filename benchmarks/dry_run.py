"""A dry run against bare torch on the meta device, on the 70B Llama configuration.

    python benchmarks/dry_run.py [--runs 3]

Two commands, each in a fresh process (imports are part of what a user waits for), run
interleaved ``--runs`` times; the figures are the medians of their wall-clock times:

1. dry run: ``torchlens-gui check benchmarks/models/llama70b.py --dry-run --json``: load the
   file, build under the meta device with creation sites recorded, run the forward under the
   hooks and the op watch, the diagnostics and the JSON report;
2. bare: a Python process importing the same libraries (torch, transformers), building the
   same model under ``torch.device("meta")`` and running its forward on the same inputs.

It also times a small model (tests/cases/diag_clean_gpt2.py) checked with and without
``--dry-run``: a dry run should never take longer than the full run of the same file.

Wall-clock time is the figure (what a user waits for); the CPU time of each process (user +
system) is printed beside it, since on a shared machine the wall clock also counts waiting.

The last line reads ``dry-run llama70b=T1 bare=T2 ratio=R`` (seconds; R = T1 / T2).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LLAMA = os.path.join(ROOT, "benchmarks", "models", "llama70b.py")
SMALL = os.path.join(ROOT, "tests", "cases", "diag_clean_gpt2.py")

BARE = f"""
import importlib.util, torch, transformers
spec = importlib.util.spec_from_file_location("llama70b", {LLAMA!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
with torch.device("meta"):
    model = module.build_model()
inputs = {{k: v.to("meta") for k, v in module.example_inputs().items()}}
model(**inputs)
"""


CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], check_json: bool = False, name: str = "") -> float:
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    CPU.setdefault(name, []).append(_children_cpu() - cpu)
    if check_json:
        report = json.loads(done.stdout)
        stops = [d["code"] for d in report["diagnostics"] if d["severity"] != "info"]
        if done.returncode != 0 or stops:
            sys.exit(f"{command[-2:]} exited {done.returncode}: {stops}")
    elif done.returncode != 0:
        sys.exit(f"{command} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    check = [sys.executable, "-m", "torchlens_gui", "check"]
    times: dict[str, list[float]] = {"dry": [], "bare": [], "small full": [], "small dry": []}
    for _ in range(args.runs):
        times["dry"].append(timed(check + [LLAMA, "--dry-run", "--json"], True, "dry"))
        times["bare"].append(timed([sys.executable, "-c", BARE], name="bare"))
        times["small full"].append(timed(check + [SMALL, "--device", "cpu", "--json"], True,
                                         "small full"))
        times["small dry"].append(timed(check + [SMALL, "--dry-run", "--json"], True,
                                        "small dry"))
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:>10}: median {median[name]:.2f} s wall, "
              f"{statistics.median(CPU[name]):.2f} s CPU  (wall of each run: "
              f"{', '.join(f'{v:.2f}' for v in values)})")
    print(f"small model: dry run {median['small dry']:.2f} s, full run {median['small full']:.2f} s")
    print(f"dry-run llama70b={median['dry']:.2f} bare={median['bare']:.2f} "
          f"ratio={median['dry'] / median['bare']:.2f}")


if __name__ == "__main__":
    main()
