"""A RunRecord as plain JSON values and back: the body of a snapshot.

Only fields that differ from their defaults are written (a 10,000-module run has some 30,000
summaries, mostly zeros and Nones), and reading rebuilds the very same frozen dataclasses, so a
record read back compares equal, module for module and call for call, to the one written.
Floats are written as JSON numbers; NaN and infinities use Python's json extensions (NaN,
Infinity), which this reader accepts: a loss of NaN is a finding worth keeping.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Optional

from . import events as ev
from .record import CallRecord, RunRecord

_SUMMARY_DEFAULTS = {f.name: f.default for f in fields(ev.TensorSummary)}


class RecordFormatError(ValueError):
    """The JSON does not describe a record this version can read."""


# ---- writing ------------------------------------------------------------------------------


def summary_to_plain(s: ev.TensorSummary) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, default in _SUMMARY_DEFAULTS.items():
        value = getattr(s, name)
        if value == default and type(value) is type(default):
            continue
        if name == "hist":
            value = {"edges": list(value.edges), "counts": list(value.counts)}
        elif name == "shape":
            value = list(value)
        out[name] = value
    return out


def _summaries(items) -> list[dict[str, Any]]:
    return [summary_to_plain(s) for s in items]


def _location(loc: Optional[ev.SourceLocation]) -> Optional[list]:
    return [loc.file, loc.line] if loc is not None else None


def param_to_plain(p: ev.ParamInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "shape": list(p.shape) if p.shape is not None else None,
                           "dtype": p.dtype, "requires_grad": p.requires_grad, "numel": p.numel}
    if p.stats is not None:
        out["stats"] = summary_to_plain(p.stats)
    if p.grad is not None:
        out["grad"] = summary_to_plain(p.grad)
    return out


def node_to_plain(n: ev.ModuleNode) -> dict[str, Any]:
    out: dict[str, Any] = {"path": n.path, "type": n.type_name, "parent": n.parent,
                           "depth": n.depth, "param_count": n.param_count}
    if not n.registered:
        out["registered"] = False
    if n.created_at is not None:
        out["created_at"] = _location(n.created_at)
    if n.lazy:
        out["lazy"] = True
    if n.params:
        out["params"] = [param_to_plain(p) for p in n.params]
    return out


def call_to_plain(c: CallRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"path": c.path, "call": c.call_index, "depth": c.depth,
                           "status": c.status}
    if c.inputs:
        out["inputs"] = _summaries(c.inputs)
    if c.outputs:
        out["outputs"] = _summaries(c.outputs)
    if c.elapsed_s is not None:
        out["elapsed_s"] = c.elapsed_s
    if c.grads:
        out["grads"] = [[index, summary_to_plain(s)] for index, s in c.grads.items()]
    return out


def diagnostic_to_plain(d: ev.Diagnostic) -> dict[str, Any]:
    return {"code": d.code, "severity": d.severity, "phase": d.phase, "message": d.message,
            "module": d.module, "file": d.file, "line": d.line, "fix": d.fix,
            "call_index": d.call_index, "details": [list(pair) for pair in d.details]}


def record_to_plain(record: RunRecord) -> dict[str, Any]:
    """Everything the views read from a finished record, as JSON-ready values."""
    loss = record.loss
    return {
        "file": record.file, "device": record.device, "dry_run": record.dry_run,
        "phase": record.phase, "status": record.status, "elapsed_s": record.elapsed_s,
        "nodes": [node_to_plain(n) for n in record.nodes.values()],
        "calls": [call_to_plain(c) for c in record.calls],
        # Calls in the order backward reached them (position in ``calls``).
        "backward_order": _backward_positions(record),
        "diagnostics": [diagnostic_to_plain(d) for d in record.diagnostics],
        "loss": None if loss is None else {
            "value": loss.value, "surrogate": loss.surrogate,
            "summary": summary_to_plain(loss.summary) if loss.summary is not None else None},
        "log": [list(entry) for entry in record.log],
    }


def _backward_positions(record: RunRecord) -> list[int]:
    position = {id(call): i for i, call in enumerate(record.calls)}
    return [position[id(record.calls_by_key[key])] for key in record.backward_order
            if key in record.calls_by_key]


# ---- reading ------------------------------------------------------------------------------


def summary_from_plain(d: dict[str, Any]) -> ev.TensorSummary:
    if "shape" in d or "hist" in d:
        d = dict(d)
        if d.get("shape") is not None:
            d["shape"] = tuple(d["shape"])
        hist = d.get("hist")
        if hist is not None:
            d["hist"] = ev.Histogram(tuple(hist["edges"]), tuple(hist["counts"]))
    return ev.TensorSummary(**d)


def _summary_or_none(d: Optional[dict]) -> Optional[ev.TensorSummary]:
    return summary_from_plain(d) if d is not None else None


def param_from_plain(d: dict[str, Any]) -> ev.ParamInfo:
    shape = d.get("shape")
    return ev.ParamInfo(d["name"], tuple(shape) if shape is not None else None, d["dtype"],
                        d["requires_grad"], d["numel"], _summary_or_none(d.get("stats")),
                        _summary_or_none(d.get("grad")))


def node_from_plain(d: dict[str, Any]) -> ev.ModuleNode:
    created = d.get("created_at")
    return ev.ModuleNode(
        d["path"], d["type"], d["parent"], d["depth"], d["param_count"],
        registered=d.get("registered", True),
        created_at=ev.SourceLocation(created[0], created[1]) if created else None,
        lazy=d.get("lazy", False),
        params=tuple(param_from_plain(p) for p in d.get("params", ())))


def diagnostic_from_plain(d: dict[str, Any]) -> ev.Diagnostic:
    return ev.Diagnostic(d["code"], d["severity"], d["phase"], d["message"], d.get("module"),
                         d.get("file"), d.get("line"), d.get("fix"), d.get("call_index"),
                         tuple(tuple(pair) for pair in d.get("details", ())))


def record_from_plain(data: dict[str, Any]) -> RunRecord:
    """Rebuild the RunRecord ``record_to_plain`` wrote. Raises RecordFormatError on anything
    that is not such a record (missing keys, wrong types)."""
    try:
        return _record_from_plain(data)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise RecordFormatError(f"the run record is damaged ({type(exc).__name__}: {exc})") \
            from None


def _record_from_plain(data: dict[str, Any]) -> RunRecord:
    record = RunRecord()
    record.file, record.device = data["file"], data["device"]
    record.dry_run, record.phase = bool(data["dry_run"]), data["phase"]
    record.status, record.elapsed_s = data["status"], float(data["elapsed_s"])
    record.nodes = {}
    for plain in data["nodes"]:
        node = node_from_plain(plain)
        record.nodes[node.path] = node
    for order, plain in enumerate(data["calls"]):
        call = CallRecord(plain["path"], plain["call"], plain["depth"], order,
                          inputs=tuple(summary_from_plain(s) for s in plain.get("inputs", ())),
                          outputs=tuple(summary_from_plain(s) for s in plain.get("outputs", ())),
                          elapsed_s=plain.get("elapsed_s"), status=plain["status"],
                          grads={int(i): summary_from_plain(s) for i, s in plain.get("grads", ())})
        record.add_call(call)
    for rank, position in enumerate(data["backward_order"]):
        call = record.calls[position]
        call.grad_order = rank
        record.backward_order.append(call.key)
    record.diagnostics = [diagnostic_from_plain(d) for d in data["diagnostics"]]
    loss = data.get("loss")
    if loss is not None:
        record.loss = ev.LossComputed(loss["value"], loss["surrogate"],
                                      _summary_or_none(loss.get("summary")))
    record.log = [(stream, text) for stream, text in data.get("log", ())]
    return record
