"""Building TensorSummary objects fast: statistics make one per tensor, and reading a snapshot
makes tens of thousands. ``tensor_summary`` takes the fields of a tensor's summary (kind
"tensor", no text) in order."""

from __future__ import annotations

from .events import TensorSummary


def _summary_slow(name, shape, dtype, device, numel, lo, hi, mean, std, norm, nan, inf,
                  zero_fraction, hist, requires_grad) -> TensorSummary:
    return TensorSummary(name, "tensor", shape, dtype, device, numel, lo, hi, mean, std, norm,
                         nan, inf, zero_fraction, hist, requires_grad)


def _summary_fast(name, shape, dtype, device, numel, lo, hi, mean, std, norm, nan, inf,
                  zero_fraction, hist, requires_grad) -> TensorSummary:
    # A frozen dataclass's __init__ sets each of its 17 fields through object.__setattr__;
    # filling the instance dict key by key, in field order (so it keeps sharing its keys with
    # the class, as small as the constructor's), builds the same object in a third of the time.
    summary = _object_new(TensorSummary)
    state = summary.__dict__
    state["name"] = name
    state["kind"] = "tensor"
    state["shape"] = shape
    state["dtype"] = dtype
    state["device"] = device
    state["numel"] = numel
    state["min"] = lo
    state["max"] = hi
    state["mean"] = mean
    state["std"] = std
    state["norm"] = norm
    state["nan"] = nan
    state["inf"] = inf
    state["zero_fraction"] = zero_fraction
    state["hist"] = hist
    state["requires_grad"] = requires_grad
    state["text"] = ""
    return summary


def _pick_summary_factory():
    """The fast factory where it builds exactly what the constructor builds (same fields, no
    __post_init__, instances with a __dict__), else the constructor."""
    sample = ("x", (2, 3), "float32", "cpu", 6, -1.0, 2.0, 0.5, 1.0, 3.0, 1, 2, 0.25, None, True)
    try:
        if hasattr(TensorSummary, "__post_init__") or "__slots__" in vars(TensorSummary):
            return _summary_slow
        fast, slow = _summary_fast(*sample), _summary_slow(*sample)
        if fast == slow and list(vars(fast).items()) == list(vars(slow).items()):
            return _summary_fast
    except Exception:
        pass
    return _summary_slow


_object_new = object.__new__
tensor_summary = _pick_summary_factory()
