"""Tensor statistics: correctness against torch on every kind of tensor a model hands us, the
identity cache, batching, and "auto" histograms in the hooks. No timing here."""

from __future__ import annotations

import collections
import dataclasses
import math

import pytest
import torch
import torch.nn as nn

from torchlens_gui.core.recording import events as ev
from torchlens_gui.core.statistics import stats
from torchlens_gui.core.engine.gate import Command, StepGate
from torchlens_gui.core.usercode.loader import spec_from_objects
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.statistics.stats import (SummaryCache, shape_only, summarize,
                                      summarize_many, summarize_nested)
from torchlens_gui.core.usercode.tree import all_param_infos, describe_params


def close(a, b, rel=1e-5, abs_=1e-6):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def reference(t: torch.Tensor) -> dict:
    """What the summary should say, computed the slow obvious way in float64."""
    x = t.detach().reshape(-1).to(torch.float64)
    finite = x[torch.isfinite(x)]
    out = {"nan": int(torch.isnan(x).sum()), "inf": int(torch.isinf(x).sum()),
           "zero_fraction": float((x == 0).sum()) / x.numel()}
    if finite.numel():
        out.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()),
                   std=float(finite.std()) if finite.numel() > 1 else 0.0,
                   norm=float(finite.norm()))
    return out


def assert_matches(summary: ev.TensorSummary, t: torch.Tensor, rel=1e-5) -> None:
    ref = reference(t)
    assert summary.shape == tuple(t.shape)
    assert summary.numel == t.numel()
    assert summary.nan == ref["nan"] and summary.inf == ref["inf"]
    assert close(summary.zero_fraction, ref["zero_fraction"])
    for key in ("min", "max", "mean", "std", "norm"):
        assert close(getattr(summary, key), ref[key], rel=rel, abs_=1e-6), \
            (key, getattr(summary, key), ref[key])


@pytest.mark.parametrize("shape", [(), (1,), (7,), (64, 256), (2, 3, 4, 5)])
def test_float32_statistics_match_torch(shape):
    torch.manual_seed(0)
    t = torch.randn(shape) * 3 + 1
    summary = summarize(t, "x")
    assert summary.name == "x" and summary.dtype == "float32" and summary.device == "cpu"
    assert_matches(summary, t)
    if t.numel() > 1:
        assert close(summary.std, float(t.std()), rel=1e-5)


def test_std_is_the_sample_std_of_torch():
    t = torch.arange(10, dtype=torch.float32)
    assert close(summarize(t).std, float(torch.std(t)), rel=1e-7)


def test_std_survives_cancellation():
    # mean 1000, spread 1e-3: E[x^2]-E[x]^2 in float32 would lose every digit
    torch.manual_seed(1)
    t = 1000 + torch.randn(10_000) * 1e-3
    summary = summarize(t)
    assert close(summary.std, float(t.double().std()), rel=1e-3)
    assert close(summary.mean, float(t.double().mean()), rel=1e-6)


def test_constant_tensor_has_exact_mean_and_zero_std():
    summary = summarize(torch.full((1000,), 0.1))
    assert summary.std == 0.0
    assert summary.mean == summary.min == summary.max == pytest.approx(0.1)


def test_nan_and_inf_are_counted_and_the_rest_is_over_finite_values():
    t = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), 0.0, 3.0, float("nan")])
    summary = summarize(t)
    assert (summary.nan, summary.inf) == (2, 2)
    assert not summary.finite
    assert (summary.min, summary.max, summary.mean) == (0.0, 3.0, pytest.approx(4 / 3))
    assert_matches(summary, t)


def test_all_nan_tensor():
    summary = summarize(torch.full((5,), float("nan")))
    assert summary.nan == 5 and summary.inf == 0
    assert summary.min is None and summary.mean is None and summary.std is None
    assert summary.zero_fraction == 0.0


def test_finite_values_whose_sum_overflows_are_not_called_infinite():
    t = torch.full((4,), 3e38)
    summary = summarize(t)
    assert (summary.nan, summary.inf) == (0, 0)
    assert summary.min == summary.max == pytest.approx(3e38)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_accumulates_in_float32(dtype):
    # 70,000 ones: a float16 accumulator would stop at 2048 (and overflow at 65504)
    t = torch.ones(70_000, dtype=dtype)
    t[::2] = 2
    summary = summarize(t)
    assert summary.dtype == str(dtype).replace("torch.", "")
    assert summary.mean == pytest.approx(1.5)
    assert summary.norm == pytest.approx(math.sqrt(35_000 * 4 + 35_000))
    assert summary.std == pytest.approx(float(t.float().std()), rel=1e-4)


def test_float64_keeps_float64_precision():
    t = torch.tensor([1.0, 1.0 + 1e-12], dtype=torch.float64)
    summary = summarize(t)
    assert summary.max - summary.min == pytest.approx(1e-12, rel=1e-3)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.int8])
def test_integer_tensors(dtype):
    t = torch.tensor([0, 1, 2, 3, 0, 100], dtype=dtype)
    summary = summarize(t)
    assert (summary.min, summary.max) == (0.0, 100.0)
    assert summary.mean == pytest.approx(106 / 6)
    assert summary.zero_fraction == pytest.approx(2 / 6)
    assert summary.finite
    assert_matches(summary, t)


def test_large_integer_values_are_exact():
    t = torch.tensor([2**40, 2**40 + 1], dtype=torch.int64)
    summary = summarize(t)
    assert summary.min == 2**40 and summary.max == 2**40 + 1


def test_bool_tensor():
    summary = summarize(torch.tensor([True, False, True, True]))
    assert (summary.min, summary.max, summary.mean) == (0.0, 1.0, 0.75)
    assert summary.zero_fraction == 0.25 and summary.dtype == "bool"


def test_empty_tensor_has_shape_but_no_statistics():
    summary = summarize(torch.empty(0, 3))
    assert summary.shape == (0, 3) and summary.numel == 0
    assert summary.min is None and summary.mean is None and summary.zero_fraction is None


def test_meta_tensor_has_shape_but_no_statistics():
    summary = summarize(torch.empty(4, 5, device="meta"), "m")
    assert (summary.shape, summary.device, summary.name) == ((4, 5), "meta", "m")
    assert summary.min is None and summary.nan == 0


def test_complex_and_sparse_tensors_get_their_shape():
    assert summarize(torch.ones(3, dtype=torch.complex64)).min is None
    sparse = torch.eye(3).to_sparse()
    summary = summarize(sparse)
    assert summary.shape == (3, 3) and summary.min is None


def test_non_contiguous_and_zero_dim_tensors():
    t = torch.randn(8, 6).t()[::2]
    assert_matches(summarize(t), t)
    zero_dim = torch.tensor(-2.5)
    summary = summarize(zero_dim)
    assert summary.shape == () and summary.min == summary.max == summary.mean == -2.5
    assert summary.std == 0.0


def test_values_off_reads_nothing():
    summary = summarize(torch.randn(3, requires_grad=True), "x", values=False)
    assert summary == shape_only(torch.randn(3, requires_grad=True), "x")
    assert summary.min is None and summary.requires_grad


def test_summaries_are_plain_frozen_dataclasses():
    summary = summarize(torch.randn(4, 4), "a", histogram=True)
    assert summary == ev.TensorSummary(**{f.name: getattr(summary, f.name)
                                          for f in dataclasses.fields(ev.TensorSummary)})
    hash(summary)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.min = 0.0  # type: ignore[misc]
    assert isinstance(summary.min, float) and isinstance(summary.numel, int)


def test_statistics_of_a_tensor_that_requires_grad_build_no_graph():
    x = torch.randn(5, requires_grad=True)
    y = x * 2
    before = y.grad_fn
    summary = summarize(y)
    assert summary.requires_grad and y.grad_fn is before


def test_histogram_counts_finite_values_and_spans_min_to_max():
    t = torch.tensor([0.0, 1.0, 1.0, 2.0, float("nan")])
    hist = summarize(t, histogram=True).hist
    assert hist is not None and sum(hist.counts) == 4
    assert hist.edges[0] == 0.0 and hist.edges[-1] == 2.0
    assert len(hist.edges) == len(hist.counts) + 1 == stats.HIST_BINS + 1


def test_histograms_on_problem_only_for_non_finite_tensors():
    clean = summarize(torch.randn(10), histogram="problem")
    bad = summarize(torch.tensor([1.0, float("inf"), 2.0]), histogram="problem")
    assert clean.hist is None and bad.hist is not None and sum(bad.hist.counts) == 2
    assert summarize(torch.randn(10), histogram="auto").hist is None
    assert summarize(torch.randn(10), histogram=False).hist is None
    assert summarize(torch.randn(10), histogram=True).hist is not None


def test_nested_structures_name_their_leaves():
    out = summarize_nested({"logits": torch.ones(2, 3), "extra": (torch.zeros(1), 3, None)},
                           "out")
    assert [s.name for s in out] == ["out['logits']", "out['extra'][0]", "out['extra'][1]",
                                     "out['extra'][2]"]
    assert out[0].mean == 1.0 and out[1].zero_fraction == 1.0
    assert (out[2].kind, out[2].text) == ("value", "3")
    assert out[3].text == "None"
    single = summarize_nested((torch.ones(2),))
    assert [s.name for s in single] == ["[0]"]
    assert summarize_nested(torch.ones(2), "y")[0].name == "y"


def test_nested_dataclass_and_namedtuple():
    Pair = collections.namedtuple("Pair", "a b")

    @dataclasses.dataclass
    class Out:
        loss: torch.Tensor
        pair: Pair

    out = summarize_nested(Out(torch.tensor(1.0), Pair(torch.ones(2), torch.zeros(2))))
    assert [s.name for s in out] == [".loss", ".pair.a", ".pair.b"]


def test_batch_matches_one_by_one_and_groups_small_tensors():
    torch.manual_seed(2)
    tensors = [torch.randn(16), torch.randn(16), torch.randn(4, 4), torch.randn(300, 300),
               torch.randn(16).half(), torch.tensor([1.0, float("nan")]), torch.arange(5),
               torch.empty(0), "text", torch.randn(16, dtype=torch.float64)]
    items = [(f"t{i}", t) for i, t in enumerate(tensors)]
    for group in (False, True):
        batch = summarize_many(items, group=group)
        for (name, value), summary in zip(items, batch):
            if isinstance(value, torch.Tensor):
                single = summarize(value, name)
                assert summary.name == name and summary.nan == single.nan
                for key in ("min", "max", "mean", "std", "norm", "zero_fraction"):
                    a, b = getattr(summary, key), getattr(single, key)
                    assert (a is None and b is None) or close(a, b, rel=1e-5), (name, key)
            else:
                assert summary.kind == "value"


def test_cache_reuses_by_identity_and_version_and_never_holds_the_tensor():
    import gc
    import weakref

    cache = SummaryCache()
    t = torch.ones(4)
    first = summarize_nested(t, "out", cache=cache)[0]
    again = summarize_nested((t,), cache=cache)[0]
    assert again.name == "[0]" and again.mean == first.mean == 1.0
    t.mul_(3)  # in place: the version counter moves, the summary must be computed again
    assert summarize_nested(t, cache=cache)[0].mean == 3.0
    ref = weakref.ref(t)
    del t
    gc.collect()
    assert ref() is None  # the cache kept no reference
    other = torch.zeros(4)  # may reuse the id: must not get the old summary
    assert summarize_nested(other, cache=cache)[0].mean == 0.0


def test_param_infos_in_one_batch_match_describe_params():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.LazyLinear(2), nn.Linear(4, 4), nn.LayerNorm(4))
    model[0].weight.grad = torch.ones(4, 3)
    model[2].bias.grad = torch.full((4,), float("nan"))
    modules = dict(model.named_modules())
    for values in (True, False):
        expected = tuple((path, describe_params(m, values=values, grads=True))
                         for path, m in modules.items() if describe_params(m))
        got = all_param_infos(modules, grads=True, values=values)
        assert [p for p, _ in got] == [p for p, _ in expected]
        for (_, a), (_, b) in zip(got, expected):
            assert [(i.name, i.shape, i.numel, i.grad is None, i.stats is None) for i in a] == \
                [(i.name, i.shape, i.numel, i.grad is None, i.stats is None) for i in b]
            for x, y in zip(a, b):
                for sa, sb in ((x.stats, y.stats), (x.grad, y.grad)):
                    if sa is not None:
                        assert (sa.name, sa.nan, sa.inf) == (sb.name, sb.nan, sb.inf)
                        assert sa.mean is None or close(sa.mean, sb.mean)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.ReLU()
        self.c = nn.Linear(4, 2)

    def forward(self, x):
        return self.c(self.b(self.a(x)))


def _run(histograms, gate=None, on_event=None):
    torch.manual_seed(0)
    events = []

    def listener(event):
        events.append(event)
        if on_event is not None:
            on_event(event)

    spec = spec_from_objects(_Net(), torch.randn(3, 4), lambda out: out.sum())
    Session(spec, device="cpu", listener=listener, gate=gate, histograms=histograms).run()
    return events


def test_session_statistics_reach_the_events_and_inputs_repeat_outputs():
    events = _run(False)
    exits = {e.path: e for e in events if isinstance(e, ev.ModuleExited)}
    # b's input is a's output: same numbers (from the cache), its own name
    assert exits["b"].inputs[0].mean == exits["a"].outputs[0].mean
    assert exits["b"].inputs[0].name == "[0]" and exits["a"].outputs[0].name == ""
    grads = [e for e in events if isinstance(e, ev.GradientArrived)]
    assert {g.path for g in grads} == {"", "a", "b", "c"}
    # loss = out.sum(): the gradient at the output (c's, the root's) is all ones, [3, 2]
    at_output = [g.grad for g in grads if g.path in ("", "c")]
    assert [(s.shape, s.min, s.max) for s in at_output] == [((3, 2), 1.0, 1.0)] * 2
    assert all(math.isclose(s.norm, 6 ** 0.5, rel_tol=1e-6) for s in at_output)
    assert all(g.grad.norm > 0 for g in grads)
    params = [e for e in events if isinstance(e, ev.ParamsUpdated)][0].params
    infos = dict(params)["a"]
    assert infos[0].stats.norm > 0 and infos[0].grad.norm > 0


def test_histograms_auto_only_while_stepping():
    def hists(events):
        return [s.hist for e in events if isinstance(e, ev.ModuleExited) for s in e.outputs]

    free = _run("auto", StepGate(break_on_problems=True))
    assert hists(free) and all(h is None for h in hists(free))
    assert all(h is not None for h in hists(_run(True)))

    # Step into every event: the listener answers each pause at once (on the session thread,
    # which the gate's re-entrant lock allows).
    gate = StepGate(pause_at_start=True)
    stepped = _run("auto", gate, on_event=lambda e: isinstance(e, ev.Paused) and
                   gate.command(Command.STEP_INTO))
    assert any(isinstance(e, ev.Paused) for e in stepped)
    assert hists(stepped) and all(h is not None for h in hists(stepped))


def test_histograms_auto_not_inside_a_module_stepped_over():
    # paused at the root's entry, step over: the children run inside the step, only the root's
    # exit (where the session pauses next) gets histograms
    gate = StepGate(pause_at_start=True)
    events = _run("auto", gate, on_event=lambda e: isinstance(e, ev.Paused) and
                  gate.command(Command.STEP))
    exits = {e.path: e for e in events if isinstance(e, ev.ModuleExited)}
    assert exits[""].outputs[0].hist is not None
    assert all(exits[p].outputs[0].hist is None for p in ("a", "b", "c"))


def test_all_finite_is_exact():
    from torchlens_gui.core.statistics.stats import all_finite

    tensors = [torch.randn(100), torch.tensor([1.0, float("nan")]),
               torch.tensor([float("inf"), 1.0]), torch.full((4,), 3e38),  # sum overflows
               torch.full((100_000,), 60000.0, dtype=torch.float16),  # fp16 sum would overflow
               torch.tensor([1.0, float("inf")], dtype=torch.bfloat16), torch.arange(3),
               torch.empty(0), torch.tensor(float("-inf"), dtype=torch.float64)]
    assert all_finite(tensors) == [True, False, False, True, True, False, True, True, False]
    assert all_finite([]) == [] and all_finite([torch.tensor([float("nan")])]) == [False]


def test_record_params_update_replaces_nodes_like_dataclasses_replace():
    from torchlens_gui.core.recording.record import RunRecord

    record = RunRecord()
    node = ev.ModuleNode("fc", "Linear", "", 1, 0)
    record.apply(ev.TreeBuilt((node,)))
    info = ev.ParamInfo("weight", (2, 3), "float32", True, 6)
    record.apply(ev.ParamsUpdated((("fc", (info,)),)))
    assert record.nodes["fc"] == dataclasses.replace(node, params=(info,), param_count=6)
    assert node.params == ()  # the old node is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.nodes["fc"].depth = 3  # type: ignore[misc]


def test_a_finished_session_is_not_kept_alive():
    # Nothing of a run may outlive it but what the caller keeps: not the session, its record or
    # its hooks (a retired stdout tee once held the session's sink, and so every record).
    import gc
    import weakref

    spec = spec_from_objects(_Net(), torch.randn(3, 4), lambda out: out.sum())
    session = Session(spec, device="cpu", histograms="auto")
    session.run()
    refs = [weakref.ref(session), weakref.ref(session.record)]
    del session
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_zero_counts_off_leaves_zero_fraction_none_and_the_rest_equal():
    torch.manual_seed(4)
    tensors = [torch.relu(torch.randn(300, 300)), torch.randn(16), torch.randn(16),
               torch.tensor([0.0, float("nan"), 2.0]), torch.arange(6).half()]
    items = [(f"t{i}", t) for i, t in enumerate(tensors)]
    for group in (False, True):
        with_zeros = summarize_many(items, group=group)
        without = summarize_many(items, group=group, zeros=False)
        for a, b in zip(with_zeros, without):
            assert a.zero_fraction is not None and b.zero_fraction is None
            assert (a.min, a.max, a.mean, a.std, a.norm, a.nan, a.inf) == \
                (b.min, b.max, b.mean, b.std, b.norm, b.nan, b.inf)
    cache = SummaryCache()
    t = torch.relu(torch.randn(64, 64))
    assert summarize_nested(t, cache=cache, zeros=False)[0].zero_fraction is None
    # a summary made without the count is not served where the count is wanted
    assert summarize_nested(t, cache=cache)[0].zero_fraction == \
        pytest.approx(float((t == 0).sum()) / t.numel())


def test_session_without_zero_counts_still_summarises_everything_else():
    spec = spec_from_objects(_Net(), torch.randn(3, 4), lambda out: out.sum())
    events = []
    Session(spec, device="cpu", listener=events.append, zero_counts=False).run()
    exits = [e for e in events if isinstance(e, ev.ModuleExited)]
    assert exits and all(s.zero_fraction is None and s.norm is not None
                         for e in exits for s in e.outputs)
    params = [e for e in events if isinstance(e, ev.ParamsUpdated)][0].params
    infos = dict(params)["a"]
    assert infos[0].stats.zero_fraction is None and infos[0].grad.norm > 0
