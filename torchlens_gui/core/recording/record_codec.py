"""A RunRecord as plain JSON values and back: the body of a snapshot.

Size and reading time matter (a 10,000-module run has some 50,000 summaries): every summary is
written once in a table and referred to by its index (a module's input is often the previous
module's output, the very same summary object); the table's numbers are binary arrays (see
SummaryTable), and a histogram's evenly spaced edges are a start and a step when that rebuilds
them exactly. Reading rebuilds the same frozen dataclasses, so a record read back compares
equal, module for module and call for call, to the one written.
Floats are written as JSON numbers; NaN and infinities use Python's json extensions (NaN,
Infinity), which this reader accepts: a loss of NaN is a finding worth keeping.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import fields
from typing import Any, Optional

from . import events as ev
from .record import CallRecord, RunRecord
from .summary_factory import tensor_summary

_SUMMARY_DEFAULTS = {f.name: f.default for f in fields(ev.TensorSummary)}


class RecordFormatError(ValueError):
    """The JSON does not describe a record this version can read."""


# ---- writing ------------------------------------------------------------------------------


def _even_edges(start: float, step: float, count: int) -> tuple[float, ...]:
    # The formula statistics/stats_summary.py uses, so the floats come out identical.
    return tuple(start + i * step for i in range(count))


_FLOATS = ("min", "max", "mean", "std", "norm", "zero_fraction")


class SummaryTable:
    """Every distinct summary of a record, written once and referred to by index.

    Text fields go to JSON as columns; numbers go to arrays (``arrays()``, stored in
    safetensors): a 10,000-module run's 50,000 summaries with histograms would be some 17 MB
    of JSON digits, seconds to parse, against one read of a few binary arrays.
    """

    def __init__(self) -> None:
        self.items: list[ev.TensorSummary] = []
        self._index: dict[int, int] = {}

    def ref(self, s: ev.TensorSummary) -> int:
        index = self._index.get(id(s))  # the record keeps every summary alive meanwhile
        if index is None:
            index = self._index[id(s)] = len(self.items)
            self.items.append(s)
        return index

    def refs(self, items) -> list[int]:
        return [self.ref(s) for s in items]

    def columns(self) -> dict[str, Any]:
        items = self.items
        odd_edges = {}
        for i, s in enumerate(items):
            if s.hist is not None and _hist_start_step(s.hist) is None:
                odd_edges[str(i)] = list(s.hist.edges)
        return {
            "count": len(items),
            "name": [s.name for s in items],
            "shape": [list(s.shape) if s.shape is not None else None for s in items],
            "dtype": [s.dtype for s in items],
            "device": [s.device for s in items],
            "kind": {str(i): s.kind for i, s in enumerate(items) if s.kind != "tensor"},
            "text": {str(i): s.text for i, s in enumerate(items) if s.text},
            "edges": odd_edges,
        }

    def arrays(self) -> dict[str, Any]:
        import numpy as np

        items = self.items
        ints = np.zeros((len(items), 6), dtype=np.int64)
        floats = np.zeros((len(items), 8), dtype=np.float64)
        missing = np.zeros((len(items), len(_FLOATS)), dtype=np.uint8)
        counts: list[int] = []
        for i, s in enumerate(items):
            hist = s.hist
            ints[i] = (s.numel, s.nan, s.inf, s.requires_grad,
                       -1 if hist is None else len(hist.edges),
                       0 if hist is None else len(hist.counts))
            for j, name in enumerate(_FLOATS):
                value = getattr(s, name)
                if value is None:
                    missing[i, j] = 1
                else:
                    floats[i, j] = value
            if hist is not None:
                counts.extend(hist.counts)
                start_step = _hist_start_step(hist)
                if start_step is not None:
                    floats[i, 6:8] = start_step
        return {"summary_ints": ints, "summary_floats": floats, "summary_missing": missing,
                "hist_counts": np.asarray(counts, dtype=np.int64)}


def _hist_start_step(hist: ev.Histogram) -> Optional[tuple[float, float]]:
    """(start, step) when the edges are evenly spaced exactly as the statistics make them."""
    edges = hist.edges
    if len(edges) < 2:
        return (0.0, 0.0) if not edges else None
    start, step = edges[0], (edges[-1] - edges[0]) / (len(edges) - 1)
    return (start, step) if _even_edges(start, step, len(edges)) == edges else None


def summaries_from_columns(columns: dict[str, Any], arrays: dict[str, Any]
                           ) -> list[ev.TensorSummary]:
    """The summary table ``SummaryTable`` wrote, as TensorSummary objects in index order."""
    count = columns["count"]
    names, shapes = columns["name"], columns["shape"]
    dtypes, devices = columns["dtype"], columns["device"]
    kinds, texts, odd_edges = columns["kind"], columns["text"], columns["edges"]
    import numpy as np

    int_array, float_array = arrays["summary_ints"], arrays["summary_floats"]
    ints, floats = int_array.tolist(), float_array.tolist()
    # Every even histogram's edges in one pass: start + i * step, the statistics' own formula
    # in the same float64 arithmetic, so the values are identical.
    widest = int(int_array[:, 4].max()) if len(int_array) else 0
    even = (float_array[:, 6:7] + np.arange(max(widest, 0))[None, :] * float_array[:, 7:8]
            ).tolist()
    missing = arrays["summary_missing"].tolist()
    counts = arrays["hist_counts"].tolist()
    if not (len(ints) == len(floats) == len(missing) == len(names) == count):
        raise ValueError("the summary table's columns disagree in length")
    out = []
    position = 0
    Summary, Histogram = ev.TensorSummary, ev.Histogram
    for i in range(count):
        numel, nan, inf, requires_grad, n_edges, n_counts = ints[i]
        f, m = floats[i], missing[i]
        if n_edges < 0:
            hist = None
        else:
            key = str(i)
            edges = tuple(odd_edges[key]) if key in odd_edges else tuple(even[i][:n_edges])
            hist = Histogram(edges, tuple(counts[position:position + n_counts]))
            position += n_counts
        shape = shapes[i]
        key = str(i)
        values = (names[i], tuple(shape) if shape is not None else None, dtypes[i], devices[i],
                  numel, None if m[0] else f[0], None if m[1] else f[1], None if m[2] else f[2],
                  None if m[3] else f[3], None if m[4] else f[4], nan, inf,
                  None if m[5] else f[5], hist, bool(requires_grad))
        if key in kinds or key in texts:  # a non-tensor value, or one with a text
            out.append(Summary(*values[:1], kinds.get(key, "tensor"), *values[1:],
                               texts.get(key, "")))
        else:
            out.append(tensor_summary(*values))
    return out


def _location(loc: Optional[ev.SourceLocation]) -> Optional[list]:
    return [loc.file, loc.line] if loc is not None else None


def param_to_plain(p: ev.ParamInfo, table: SummaryTable) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "shape": list(p.shape) if p.shape is not None else None,
                           "dtype": p.dtype, "requires_grad": p.requires_grad, "numel": p.numel}
    if p.stats is not None:
        out["stats"] = table.ref(p.stats)
    if p.grad is not None:
        out["grad"] = table.ref(p.grad)
    return out


def node_to_plain(n: ev.ModuleNode, table: SummaryTable) -> dict[str, Any]:
    out: dict[str, Any] = {"path": n.path, "type": n.type_name, "parent": n.parent,
                           "depth": n.depth, "param_count": n.param_count}
    if not n.registered:
        out["registered"] = False
    if n.created_at is not None:
        out["created_at"] = _location(n.created_at)
    if n.lazy:
        out["lazy"] = True
    if n.params:
        out["params"] = [param_to_plain(p, table) for p in n.params]
    return out


def call_to_plain(c: CallRecord, table: SummaryTable) -> dict[str, Any]:
    out: dict[str, Any] = {"path": c.path, "call": c.call_index, "depth": c.depth,
                           "status": c.status}
    if c.inputs:
        out["inputs"] = table.refs(c.inputs)
    if c.outputs:
        out["outputs"] = table.refs(c.outputs)
    if c.elapsed_s is not None:
        out["elapsed_s"] = c.elapsed_s
    if c.grads:
        out["grads"] = [[index, table.ref(s)] for index, s in c.grads.items()]
    return out


def diagnostic_to_plain(d: ev.Diagnostic) -> dict[str, Any]:
    return {"code": d.code, "severity": d.severity, "phase": d.phase, "message": d.message,
            "module": d.module, "file": d.file, "line": d.line, "fix": d.fix,
            "call_index": d.call_index, "details": [list(pair) for pair in d.details]}


def record_to_plain(record: RunRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything the views read from a finished record: JSON-ready values, and the numeric
    arrays of the summary table (numpy, for safetensors)."""
    loss = record.loss
    table = SummaryTable()
    nodes = [node_to_plain(n, table) for n in record.nodes.values()]
    calls = [call_to_plain(c, table) for c in record.calls]
    loss_plain = None if loss is None else {
        "value": loss.value, "surrogate": loss.surrogate,
        "summary": table.ref(loss.summary) if loss.summary is not None else None}
    return {
        "file": record.file, "device": record.device, "dry_run": record.dry_run,
        "phase": record.phase, "status": record.status, "elapsed_s": record.elapsed_s,
        "summaries": table.columns(), "nodes": nodes, "calls": calls,
        # Calls in the order backward reached them (position in ``calls``).
        "backward_order": _backward_positions(record),
        "diagnostics": [diagnostic_to_plain(d) for d in record.diagnostics],
        "loss": loss_plain,
        "log": [list(entry) for entry in record.log],
    }, table.arrays()


def _backward_positions(record: RunRecord) -> list[int]:
    position = {id(call): i for i, call in enumerate(record.calls)}
    return [position[id(record.calls_by_key[key])] for key in record.backward_order
            if key in record.calls_by_key]


# ---- reading ------------------------------------------------------------------------------


def _summary_or_none(table: list, index: Optional[int]) -> Optional[ev.TensorSummary]:
    return table[index] if index is not None else None


def param_from_plain(d: dict[str, Any], table: list) -> ev.ParamInfo:
    shape = d.get("shape")
    return ev.ParamInfo(d["name"], tuple(shape) if shape is not None else None, d["dtype"],
                        d["requires_grad"], d["numel"], _summary_or_none(table, d.get("stats")),
                        _summary_or_none(table, d.get("grad")))


def node_from_plain(d: dict[str, Any], table: list) -> ev.ModuleNode:
    created = d.get("created_at")
    return ev.ModuleNode(
        d["path"], d["type"], d["parent"], d["depth"], d["param_count"],
        registered=d.get("registered", True),
        created_at=ev.SourceLocation(created[0], created[1]) if created else None,
        lazy=d.get("lazy", False),
        params=tuple(param_from_plain(p, table) for p in d.get("params", ())))


def diagnostic_from_plain(d: dict[str, Any]) -> ev.Diagnostic:
    return ev.Diagnostic(d["code"], d["severity"], ev.Phase(d["phase"]), d["message"], d.get("module"),
                         d.get("file"), d.get("line"), d.get("fix"), d.get("call_index"),
                         tuple(tuple(pair) for pair in d.get("details", ())))


def record_from_plain(data: dict[str, Any], arrays: dict[str, Any]) -> RunRecord:
    """Rebuild the RunRecord ``record_to_plain`` wrote. Raises RecordFormatError on anything
    that is not such a record (missing keys, wrong types)."""
    try:
        with no_collection():
            return _record_from_plain(data, arrays)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise RecordFormatError(f"the run record is damaged ({type(exc).__name__}: {exc})") \
            from None


@contextlib.contextmanager
def no_collection():
    """Reading makes hundreds of thousands of objects and no garbage: the collector's passes
    over them would take longer than the reading itself. Afterwards they go straight to the
    oldest generation (freeze, then unfreeze: a list splice, nothing scanned), instead of
    being scanned as young objects twice over (0.2 s each on a 10,000-module snapshot)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if collecting:
            gc.enable()


def _record_from_plain(data: dict[str, Any], arrays: dict[str, Any]) -> RunRecord:
    record = RunRecord()
    record.file, record.device = data["file"], data["device"]
    record.dry_run, record.phase = bool(data["dry_run"]), ev.Phase(data["phase"])
    record.status = None if data["status"] is None else ev.RunStatus(data["status"])
    record.elapsed_s = float(data["elapsed_s"])
    table = summaries_from_columns(data["summaries"], arrays)
    record.nodes = {}
    for plain in data["nodes"]:
        node = node_from_plain(plain, table)
        record.nodes[node.path] = node
    for order, plain in enumerate(data["calls"]):
        call = CallRecord(plain["path"], plain["call"], plain["depth"], order,
                          inputs=tuple(table[i] for i in plain.get("inputs", ())),
                          outputs=tuple(table[i] for i in plain.get("outputs", ())),
                          elapsed_s=plain.get("elapsed_s"), status=ev.CallStatus(plain["status"]),
                          grads={int(i): table[s] for i, s in plain.get("grads", ())})
        record.add_call(call)
    for rank, position in enumerate(data["backward_order"]):
        call = record.calls[position]
        call.grad_order = rank
        record.backward_order.append(call.key)
    record.diagnostics = [diagnostic_from_plain(d) for d in data["diagnostics"]]
    loss = data.get("loss")
    if loss is not None:
        record.loss = ev.LossComputed(loss["value"], loss["surrogate"],
                                      _summary_or_none(table, loss.get("summary")))
    record.log = [(stream, text) for stream, text in data.get("log", ())]
    return record
