"""Reports of a finished run: the `check --json` object (a public contract) and readable text."""

from __future__ import annotations

import math
import os
import shlex
from typing import Any, Optional, Sequence

from .events import (SCRIPT_ROOT, CallStatus, Diagnostic, ParamInfo, RunStatus, StepFigures,
                     TensorSummary)
from .paths import last_segment
from .record import RunRecord

SCHEMA_VERSION = 1
# Above this many modules `--json` is compact by default (check --json --full: everything).
COMPACT_ABOVE_MODULES = 2000
# Significant digits of floats in a compact report (float32 statistics carry about 7).
COMPACT_DIGITS = 7

EXIT_CODES = {RunStatus.OK: 0, RunStatus.PROBLEMS: 1, RunStatus.FAILED: 2, RunStatus.STOPPED: 2}
# The report says "failed" for any run that did not get to its end (stopped ones included).
REPORTED_STATUSES = (RunStatus.OK, RunStatus.PROBLEMS)


def exit_code(record: RunRecord) -> int:
    """0 clean, 1 problems found, 2 could not load or build."""
    return EXIT_CODES.get(record.status or RunStatus.FAILED, 2)


def _num(value: Optional[float]) -> Optional[float]:
    """JSON has no NaN or Infinity literals: they become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def summary_json(s: TensorSummary, histogram: bool = True) -> dict[str, Any]:
    """One tensor's summary; ``histogram=False`` keeps the histogram only of a tensor holding
    NaN/Inf (a compact report)."""
    if not s.is_tensor:
        return {"name": s.name, "kind": "value", "shape": None, "dtype": None, "device": None,
                "text": s.text}
    return {
        "name": s.name, "kind": "tensor",
        "shape": list(s.shape) if s.shape is not None else None,
        "dtype": s.dtype, "device": s.device,
        "min": _num(s.min), "max": _num(s.max), "mean": _num(s.mean), "std": _num(s.std),
        "nan": s.nan, "inf": s.inf, "zero_fraction": _num(s.zero_fraction),
        "hist": {"edges": [_num(e) for e in s.hist.edges], "counts": list(s.hist.counts)}
        if s.hist is not None and (histogram or s.nan or s.inf) else None,
    }


def param_json(p: ParamInfo, histogram: bool = True) -> dict[str, Any]:
    return {
        "name": p.name,
        "shape": list(p.shape) if p.shape is not None else None,
        "dtype": p.dtype,
        "requires_grad": p.requires_grad,
        "stats": summary_json(p.stats, histogram) if p.stats is not None else None,
        "grad": summary_json(p.grad, histogram) if p.grad is not None else None,
    }


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {"code": d.code, "severity": d.severity, "phase": d.phase, "module": d.module,
            "file": d.file, "line": d.line, "message": d.message, "fix": d.fix,
            "step": d.step}


def step_json(f: StepFigures, modules: tuple[str, ...]) -> dict[str, Any]:
    """One training step's figures (`steps` of the report)."""
    return {
        "step": f.step, "loss": _num(f.loss), "grad_norm": _num(f.grad_norm),
        "lr": [_num(v) for v in f.lr], "nonfinite": f.nonfinite or None,
        "ended_by": f.ended_by, "batch_index": f.batch_index,
        "input_mean": _num(f.input_mean), "input_std": _num(f.input_std),
        "modules": {m: {"grad_norm": _num(g), "update_ratio": _num(r)}
                    for m, g, r in zip(modules, f.module_grad_norms, f.module_update_ratios)},
    }


def to_json(record: RunRecord, full: bool = False) -> dict[str, Any]:
    """The `check --json` object. Field names and meanings are a stable, documented contract.

    A model of more than COMPACT_ABOVE_MODULES modules gets a compact report unless ``full``:
    histograms only for tensors holding NaN/Inf (a 20,000-module model: 70 MB -> under 20 MB).
    """
    compact = is_compact(record, full)
    modules = []
    for path, node in record.nodes.items():
        calls = record.calls_of(path)
        first = calls[0] if calls else None
        modules.append({
            "path": path,
            "type": node.type_name,
            "calls": len(calls),
            "registered": node.registered,
            "created_at": {"file": node.created_at.file, "line": node.created_at.line}
            if node.created_at else None,
            "inputs": [summary_json(s, not compact) for s in first.inputs] if first else [],
            "outputs": [summary_json(s, not compact) for s in first.outputs] if first else [],
            "params": [param_json(p, not compact) for p in node.params],
        })
    loss = record.loss
    return {
        "schema": SCHEMA_VERSION,
        "file": record.file,
        "device": record.device,
        "status": record.status if record.status in REPORTED_STATUSES else RunStatus.FAILED,
        "dry_run": record.dry_run,
        "loss": {"value": _num(loss.value) if loss else None,
                 "surrogate": bool(loss.surrogate) if loss else False},
        "modules": modules,
        "diagnostics": [diagnostic_json(d) for d in record.diagnostics],
        "steps": [step_json(f, record.steps.modules(f.step)) for f in record.steps],
        "detail": "compact" if compact else "full",
    }


def is_compact(record: RunRecord, full: bool = False) -> bool:
    """Whether the report of ``record`` leaves out histograms (a large model, not asked for
    everything)."""
    return not full and len(record.nodes) > COMPACT_ABOVE_MODULES


# ---- text ---------------------------------------------------------------------------------

def _steps_text(record: RunRecord, shown: int = 10) -> list[str]:
    """The first and last steps' figures (all of them when there are few)."""
    figures = list(record.steps)
    picked = figures if len(figures) <= shown else figures[:shown // 2] + figures[-shown // 2:]
    lines = [f"{len(figures)} training step(s):",
             f"  {'step':>6} {'loss':>10} {'grad norm':>10} {'lr':>10}  ended by"]
    previous = 0
    for f in picked:
        if f.step != previous + 1:
            lines.append("  ...")
        previous = f.step
        lr = _fmt(f.lr[0]) if f.lr else "-"
        flag = f"  NaN/Inf in {f.nonfinite}" if f.nonfinite else ""
        lines.append(f"  {f.step:>6} {_fmt(f.loss):>10} {_fmt(f.grad_norm):>10} {lr:>10}  "
                     f"{f.ended_by}{flag}")
    return lines



def _fmt(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"


def _flags(summaries) -> str:
    nan = sum(s.nan for s in summaries)
    inf = sum(s.inf for s in summaries)
    parts = []
    if nan:
        parts.append(f"NaN x{nan}")
    if inf:
        parts.append(f"Inf x{inf}")
    return " ".join(parts)


def to_text(record: RunRecord, command: str = "check", arguments: Sequence[str] = ()) -> str:
    """A readable report: the module tree with shapes and flags, then the diagnostics. The
    header says what ran: ``command`` ("check" or "run") on the file, with ``arguments``."""
    lines = []
    name = os.path.basename(record.file) if record.file else "(live model)"
    name = " ".join([name, *(shlex.quote(a) for a in arguments)])
    mode = " (dry run on meta: shapes and dtypes only)" if record.dry_run else ""
    lines.append(f"torchlens-gui {command}: {name} on {record.device}{mode}")
    lines.append("")
    header = f"{'module':<44} {'type':<18} {'calls':>5}  {'output':<22} {'dtype':<9} " \
             f"{'grad norm':>9}  flags"
    lines.append(header)
    lines.append("-" * len(header))
    for path, node in record.nodes.items():
        calls = record.calls_of(path)
        first = calls[0] if calls else None
        out = first.outputs[0] if first and first.outputs else None
        label = ("  " * node.depth) + (last_segment(path) if path else "(root)")
        flags = _flags([s for c in calls for s in c.outputs])
        if not node.registered:
            flags = (flags + " unregistered").strip()
        if any(c.status == CallStatus.FAILED for c in calls):
            flags = (flags + " FAILED").strip()
        if not calls and record.nodes and not record.dry_run \
                and node.type_name != SCRIPT_ROOT:  # (a script's root is no module)
            flags = (flags + " not run").strip()
        shape = out.shape_text() if out else "-"
        dtype = out.dtype or "-" if out else "-"
        lines.append(f"{label[:44]:<44} {node.type_name[:18]:<18} {len(calls):>5}  "
                     f"{shape[:22]:<22} {dtype:<9} {_fmt(record.grad_norm(path)):>9}  {flags}")
    lines.append("")
    if record.loss is not None:
        kind = " (surrogate: sum of outputs)" if record.loss.surrogate else ""
        lines.append(f"loss: {_fmt(record.loss.value)}{kind}")
    if len(record.steps):
        lines.extend(_steps_text(record))
    if record.dry_run:
        lines.append("A dry run sees shapes and dtypes only: no values, NaNs or gradients.")
    lines.append("")
    if not record.diagnostics:
        lines.append("No problems found.")
    for d in record.diagnostics:
        where = d.module if d.module else ""
        loc = f"{os.path.basename(d.file)}:{d.line}" if d.file and d.line else ""
        at_step = f"step {d.step}" if d.step is not None else ""
        head = " ".join(x for x in (f"[{d.severity}] {d.code}", f"({d.phase})", at_step, where,
                                    loc) if x)
        lines.append(head)
        lines.append(f"    {d.message}")
        if d.fix:
            lines.append(f"    fix: {d.fix}")
    lines.append("")
    lines.append(f"status: {record.status}")
    return "\n".join(lines)


# ---- JSON text that cannot fail ---------------------------------------------------------

def json_safe(value: Any, _depth: int = 0, digits: Optional[int] = None) -> Any:
    """``value`` with only JSON types left: symbolic sizes (SymInt of nested/jagged tensors)
    become ints where they have a value and text otherwise, NaN/Infinity become null, anything
    else unknown becomes its text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}") if digits else value
    if _depth > 64:
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_safe(item, _depth + 1, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item, _depth + 1, digits) for item in value]
    return _scalar_or_text(value)


def _scalar_or_text(value: Any) -> Any:
    """A number-like object (SymInt, SymFloat, numpy scalar, 0-d tensor) as its number."""
    for convert in (int, float):
        try:
            number = convert(value)
        except Exception:
            continue
        if convert is int and not isinstance(value, float) and number == value:
            return number
        if convert is float:
            return number if math.isfinite(number) else None
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def to_json_text(record: RunRecord, full: bool = False) -> str:
    """The `check --json` object as one line of text. Never raises: if the report cannot be
    built, the object still comes out, with what is known and an `internal-error` diagnostic."""
    import json

    try:
        digits = COMPACT_DIGITS if is_compact(record, full) else None
        return json.dumps(json_safe(to_json(record, full=full), digits=digits),
                          allow_nan=False, separators=(",", ":") if digits else None)
    except BaseException as exc:  # a bug of ours must still leave one JSON object
        from .internal_error import INTERNAL_ERROR_FIX, diagnostic_phase, traceback_text

        diagnostics = []
        for d in record.diagnostics:
            try:
                diagnostics.append(diagnostic_json(d))
            except Exception:
                continue
        first, text = traceback_text(exc)
        phase = diagnostic_phase(record.phase)
        # The internal-error entry as JSON directly: the codes table lives above this layer.
        diagnostics.append({"code": "internal-error", "severity": "error", "phase": phase,
                            "module": None, "file": None, "line": None,
                            "message": f"torchlens-gui failed writing the report: {first}"
                                       f"\n\n{text}", "fix": INTERNAL_ERROR_FIX})
        fallback = {"schema": SCHEMA_VERSION, "file": record.file, "device": record.device,
                    "status": RunStatus.FAILED, "dry_run": bool(record.dry_run),
                    "loss": {"value": None, "surrogate": False}, "modules": [],
                    "diagnostics": diagnostics}
        return json.dumps(json_safe(fallback), allow_nan=False)
