"""Overhead of the debugger against plain PyTorch and against TorchLens.

    python benchmarks/overhead.py [--device cpu|cuda] [--runs 15] [--models mlp50,resnet,gpt]

For each model, in one process and interleaving the modes run by run, it times:

1. plain forward + loss + backward;
2. our Session running to the end as the GUI's continue mode runs it: a StepGate in continue
   with break_on_problems=True, histograms "auto" (none while nobody steps), a listener that
   puts every event on a queue.SimpleQueue as the GUI's session controller does for its drain
   timer, every statistic on (every module input/output and every gradient summarised,
   parameter values and gradients after backward), the app's diagnostics included;
2b. (only with ``--modes ...,no-zeros``) mode 2 without non-zero counts: every zero_fraction
   left None, the costliest statistic on large tensors (``Session(zero_counts=False)``; the
   window keeps it on for its Zeros column);
3. the same with statistics off (structure, shapes and dtypes only);
4. TorchLens tracing the same forward with gradients saved plus its backward logging (skipped
   with a note when ``torchlens`` is not importable).

Each figure is the median of ``--runs`` runs after ``--warmup`` warm-up rounds. The model, its
inputs and the loss are built once, outside the timed region, and reused by every mode
(``spec_from_objects``); gradients are set to None between runs, outside the timed region.
On CUDA every timed region starts and ends with ``torch.cuda.synchronize()``.

Peak memory (mode 2 against mode 1): on CUDA, ``torch.cuda.max_memory_allocated`` after
``reset_peak_memory_stats``, in this process. On CPU, torch's allocations are invisible to
tracemalloc and torch keeps no CPU allocator statistics, so each mode runs in a fresh
subprocess: after a warm-up, the process's resident-set high-water mark (VmHWM) is reset
through /proc/self/clear_refs and read again after the runs; glibc's malloc is told to map
every block of 4 KiB or more on its own and to keep no free memory at the top of its heap
(MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_), so the resident set follows
live memory, tensors and Python objects alike. The figure is the peak resident memory above the
state before the runs (model, inputs and the imported libraries already resident): what the
forward and backward themselves need, activations, gradients and the session's records
included, which is the stricter comparison.

The last line reads ``overhead mlp50=R1 resnet=R2 gpt=R3``: mode 2 over mode 1.

``--train`` times training steps instead (benchmarks/train_overhead.py): forward, loss,
backward and an Adam step, plain against under ``torchlens-gui run``; its last line reads
``train-overhead mlp50=R1 resnet=R2 gpt=R3``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchlens_gui.core.engine.gate import StepGate  # noqa: E402
from torchlens_gui.core.usercode.loader import spec_from_objects  # noqa: E402
from torchlens_gui.core.engine.session import Session  # noqa: E402

MODES = ("plain", "session", "stats-off", "torchlens")
EXTRA_MODES = ("no-zeros",)  # only when asked for with --modes
MODE_TITLES = {
    "plain": "1 plain fwd+bwd",
    "session": "2 session, stats on",
    "stats-off": "3 session, stats off",
    "torchlens": "4 TorchLens + grads",
    "no-zeros": "2b no zero counts",
}

# ---- the models -------------------------------------------------------------------------------


def mlp50() -> nn.Module:
    return nn.Sequential(*[m for _ in range(50) for m in (nn.Linear(256, 256), nn.ReLU())])


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet-18 layout: BasicBlock [2, 2, 2, 2], widths 64-512, 10 classes."""

    def __init__(self, layers=(2, 2, 2, 2), classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], 64
        for i, blocks in enumerate(layers):
            cout = 64 * 2 ** i
            stage = [BasicBlock(cin, cout, 1 if i == 0 else 2)]
            stage += [BasicBlock(cout, cout) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int = 1024, d: int = 256, heads: int = 4, layers: int = 4,
                 context: int = 128) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.Sequential(*[Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(positions)
        return self.head(self.ln_f(self.blocks(x)))


def build(name: str, device: torch.device):
    """(model, inputs, loss) for a model name; inputs is what model(inputs) takes."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    if name == "mlp50":
        model = mlp50()
        inputs = torch.randn(64, 256, generator=gen)
        target = torch.randn(64, 256, generator=gen)

        def loss(out):
            return F.mse_loss(out, target)
    elif name == "resnet":
        model = ResNet()
        inputs = torch.randn(8, 3, 64, 64, generator=gen)
        target = torch.randint(0, 10, (8,), generator=gen)

        def loss(out):
            return F.cross_entropy(out, target)
    elif name == "gpt":
        model = GPT()
        tokens = torch.randint(0, 1024, (8, 129), generator=gen)
        inputs, target = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

        def loss(out):
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))
    else:
        raise SystemExit(f"unknown model {name!r}")
    model.to(device)
    inputs = inputs.to(device)
    target = target.to(device)
    return model, inputs, loss


# ---- the modes --------------------------------------------------------------------------------


DIAGNOSTICS = "standard"  # or "none": the base Diagnostician (engine cost without detectors)


def make_diagnostician():
    from torchlens_gui.core.diagnostics import Diagnostician, default_diagnostician

    return default_diagnostician() if DIAGNOSTICS == "standard" else Diagnostician()


def make_runner(mode: str, model: nn.Module, inputs: Any, loss: Callable, device: torch.device
                ) -> Callable[[], Any]:
    """A function that does one forward+backward in the given mode."""
    if mode == "plain":
        def run_plain():
            loss(model(inputs)).backward()
        return run_plain

    if mode in ("session", "stats-off", "no-zeros"):
        spec = spec_from_objects(model, inputs, loss)
        values = mode != "stats-off"
        # 2b: mode 2 without non-zero counts (zero_fraction)
        zero_counts = mode != "no-zeros"

        def run_session():
            # As the GUI's session controller runs it: a gate in continue that breaks on
            # problems, histograms "auto", every event put on a queue for the GUI thread.
            events: queue.SimpleQueue = queue.SimpleQueue()
            gate = StepGate(break_on_problems=True)
            record = Session(spec, device=str(device), gate=gate, values=values,
                             histograms="auto", zero_counts=zero_counts,
                             diagnostician=make_diagnostician(),
                             listener=lambda event: events.put((1, event))).run()
            if record.status not in ("ok", "problems"):
                raise RuntimeError(f"session ended {record.status}: "
                                   + "; ".join(d.message for d in record.diagnostics))
            return events
        return run_session

    if mode == "torchlens":
        import torchlens as tl

        options = tl.options.CaptureOptions(save_grads=True)

        def run_torchlens():
            trace = tl.trace(model, inputs, capture=options)
            trace.log_backward(loss(trace.output_ops[0].out))
            return trace
        return run_torchlens

    raise ValueError(mode)


def torchlens_available() -> str:
    """'' when TorchLens can be used, else why not."""
    try:
        import torchlens as tl  # noqa: F401

        tl.options.CaptureOptions(save_grads=True)
        return ""
    except Exception as exc:  # not installed, or an API this script does not know
        return f"{type(exc).__name__}: {exc}"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(runner: Callable[[], Any], model: nn.Module, device: torch.device) -> float:
    model.zero_grad(set_to_none=True)
    sync(device)
    start = time.perf_counter()
    result = runner()
    sync(device)
    elapsed = time.perf_counter() - start
    del result
    return elapsed


# ---- memory -----------------------------------------------------------------------------------

_PROC_STATUS = "/proc/self/status"


def _status_kib(field: str) -> int:
    with open(_PROC_STATUS) as fh:
        match = re.search(rf"^{field}:\s+(\d+) kB", fh.read(), re.M)
    return int(match.group(1)) if match else -1


def probe_memory(model_name: str, mode: str, device: torch.device, runs: int = 3) -> dict:
    """Peak memory of ``runs`` runs of one mode, above the state before the runs (bytes)."""
    model, inputs, loss = build(model_name, device)
    runner = make_runner(mode, model, inputs, loss, device)
    for _ in range(2):
        timed(runner, model, device)
    model.zero_grad(set_to_none=True)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        for _ in range(runs):
            timed(runner, model, device)
        peak = torch.cuda.max_memory_allocated(device)
        return {"method": "cuda.max_memory_allocated", "base": base, "peak": peak,
                "extra": peak - base}
    base = _status_kib("VmRSS") * 1024
    with open("/proc/self/clear_refs", "w") as fh:  # resets VmHWM to the current RSS
        fh.write("5")
    for _ in range(runs):
        timed(runner, model, device)
    peak = _status_kib("VmHWM") * 1024
    return {"method": "VmHWM above VmRSS before the runs", "base": base, "peak": peak,
            "extra": peak - base}


def memory_in_subprocess(model_name: str, mode: str, device: torch.device) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="4096", MALLOC_TRIM_THRESHOLD_="0",
               MALLOC_TOP_PAD_="0")
    cmd = [sys.executable, os.path.abspath(__file__), "--probe-memory", model_name, mode,
           "--device", str(device), "--threads", str(torch.get_num_threads()),
           "--diagnostics", DIAGNOSTICS]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_memory(model_name: str, device: torch.device) -> dict[str, dict]:
    out = {}
    for mode in ("plain", "session"):
        if device.type == "cuda":
            out[mode] = probe_memory(model_name, mode, device)
            gc.collect()
            torch.cuda.empty_cache()
        else:
            out[mode] = memory_in_subprocess(model_name, mode, device)
    return out


# ---- the benchmark ----------------------------------------------------------------------------


def bench_model(name: str, device: torch.device, runs: int, warmup: int, modes: list[str]
                ) -> dict[str, list[float]]:
    model, inputs, loss = build(name, device)
    runners = {mode: make_runner(mode, model, inputs, loss, device) for mode in modes}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    for round_index in range(warmup + runs):
        # Interleave, rotating the order so no mode always runs right after another.
        shift = round_index % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            elapsed = timed(runners[mode], model, device)
            if round_index >= warmup:
                times[mode].append(elapsed)
    model.zero_grad(set_to_none=True)
    return times


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f}"


def fmt_mib(n: int) -> str:
    return f"{n / 2**20:8.1f} MiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per mode (>= 15)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up rounds, not counted")
    parser.add_argument("--models", default="mlp50,resnet,gpt")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="which of plain,session,stats-off,torchlens,no-zeros (plain is "
                             "always run)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--diagnostics", choices=("standard", "none"), default="standard",
                        help="the detectors the app runs (standard), or none: the engine alone")
    parser.add_argument("--probe-memory", nargs=2, metavar=("MODEL", "MODE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--train", action="store_true",
                        help="training steps (forward, loss, backward, optimizer step) under "
                             "`torchlens-gui run` against the plain step")
    parser.add_argument("--steps", type=int, default=12,
                        help="with --train: steps per round (the first of a session's is left "
                             "out)")
    args = parser.parse_args(argv)

    global DIAGNOSTICS
    DIAGNOSTICS = args.diagnostics
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available in this PyTorch build or on this machine.", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.train:
        from train_overhead import main_train

        return main_train(build, [m for m in args.models.split(",") if m], device,
                          max(1, args.runs // 3), args.steps)
    if args.probe_memory:
        print(json.dumps(probe_memory(args.probe_memory[0], args.probe_memory[1], device)))
        return 0

    modes = [m for m in args.modes.split(",") if m]
    if "plain" not in modes:
        modes.insert(0, "plain")
    notes = []
    if "torchlens" in modes:
        why = torchlens_available()
        if why:
            modes.remove("torchlens")
            notes.append(f"TorchLens skipped (pip install torchlens to compare): {why}")
    models = [m for m in args.models.split(",") if m]

    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
             f", {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
          + f"; median of {args.runs} runs after {args.warmup} warm-up rounds, modes interleaved"
          + f"; diagnostics: {args.diagnostics}")
    results: dict[str, dict[str, float]] = {}
    for name in models:
        times = bench_model(name, device, args.runs, args.warmup, modes)
        results[name] = {mode: statistics.median(ts) for mode, ts in times.items()}
        spread = {mode: (min(ts), max(ts)) for mode, ts in times.items()}
        print(f"\n{name}")
        print(f"  {'mode':<24}{'median ms':>10}{'min':>9}{'max':>9}{'ratio':>8}")
        plain = results[name]["plain"]
        for mode in modes:
            med = results[name][mode]
            lo, hi = spread[mode]
            print(f"  {MODE_TITLES[mode]:<24}{fmt_ms(med)}{lo * 1000:9.1f}{hi * 1000:9.1f}"
                  f"{med / plain:8.2f}")
        if not args.no_memory and "session" in modes:
            try:
                mem = measure_memory(name, device)
                p, s = mem["plain"], mem["session"]
                ratio = s["extra"] / p["extra"] if p["extra"] > 0 else float("nan")
                print(f"  peak memory above the model and inputs: plain {fmt_mib(p['extra'])}, "
                      f"session {fmt_mib(s['extra'])} ({(ratio - 1) * 100:+.1f}%)  "
                      f"[{p['method']}; whole process/device: plain {fmt_mib(p['peak'])}, "
                      f"session {fmt_mib(s['peak'])}]")
            except Exception as exc:
                print(f"  peak memory not measured: {type(exc).__name__}: {exc}")
    for note in notes:
        print(f"\nnote: {note}")

    print("\nsummary (ratio to plain fwd+bwd)")
    header = f"  {'model':<8}" + "".join(f"{MODE_TITLES[m]:>24}" for m in modes)
    print(header)
    for name in models:
        r = results[name]
        print(f"  {name:<8}" + "".join(
            f"{r[m] * 1000:>14.1f} ms {r[m] / r['plain']:5.2f}x" for m in modes))
    if "session" in modes:
        print("overhead " + " ".join(
            f"{name}={results[name]['session'] / results[name]['plain']:.2f}" for name in models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
