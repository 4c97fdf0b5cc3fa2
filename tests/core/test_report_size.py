"""Issue 10, failure 7: a report and its statistics stay small. The JSON of a model of more
than 2,000 modules is compact by default (histograms only where NaN/Inf are) and complete with
``full``; counting zeros of a large tensor does not copy it at 8 bytes per element."""

from __future__ import annotations

import json

import torch

from torchlens_gui.core.recording import events as ev
from torchlens_gui.core.recording.record import RunRecord
from torchlens_gui.core.recording.report import COMPACT_ABOVE_MODULES, to_json_text
from torchlens_gui.core.statistics import stats_reduce


def _record(modules: int) -> RunRecord:
    hist = ev.Histogram(tuple(float(i) / 7 for i in range(33)), tuple(range(32)))
    summary = ev.TensorSummary(name="", shape=(4, 8), dtype="float32", device="cpu",
                               min=-0.123456789123, max=0.987654321987, mean=0.1, std=0.2,
                               hist=hist)
    bad = ev.TensorSummary(name="", shape=(4, 8), dtype="float32", device="cpu", nan=3,
                           hist=hist)
    record = RunRecord()
    nodes = [ev.ModuleNode("", "Root", None, 0, 0)] + [
        ev.ModuleNode(f"m{i}", "Linear", "", 1, 0) for i in range(modules - 1)]
    record.apply(ev.SessionStarted("model.py", "cpu", False))
    record.apply(ev.TreeBuilt(tuple(nodes)))
    for i, node in enumerate(nodes):
        out = bad if i == 1 else summary
        record.apply(ev.ModuleEntered(node.path, 0, node.depth, (summary,)))
        record.apply(ev.ModuleExited(node.path, 0, node.depth, (summary,), (out,), 0.0))
    record.apply(ev.SessionEnded("ok", 1.0, ()))
    return record


def test_a_large_models_json_is_compact_by_default_and_complete_when_asked():
    record = _record(COMPACT_ABOVE_MODULES + 1)
    compact, full = to_json_text(record), to_json_text(record, full=True)
    assert len(compact) * 3 < len(full)
    report = json.loads(compact)
    assert report["detail"] == "compact"
    outputs = [m["outputs"][0] for m in report["modules"]]
    assert outputs[1]["hist"] is not None  # a NaN keeps its histogram
    assert all(o["hist"] is None for i, o in enumerate(outputs) if i != 1)
    assert outputs[0]["min"] == -0.1234568  # 7 significant digits
    assert json.loads(full)["detail"] == "full"
    assert all(m["outputs"][0]["hist"] for m in json.loads(full)["modules"])


def test_a_small_models_json_keeps_everything():
    report = json.loads(to_json_text(_record(10)))
    assert report["detail"] == "full"
    assert all(m["outputs"][0]["hist"] for m in report["modules"])


def test_zeros_of_a_large_tensor_are_counted_in_chunks():
    t = torch.ones(stats_reduce._COUNT_CHUNK * 2 + 5)
    t[::3] = 0
    expected = int(torch.count_nonzero(t))
    assert int(stats_reduce._count_nonzero(t)) == expected
    strided = t[::2]
    assert int(stats_reduce._count_nonzero(strided)) == int(torch.count_nonzero(strided))
