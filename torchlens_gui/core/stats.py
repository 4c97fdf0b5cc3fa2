"""Tensor statistics: plain reductions on the tensor's own device, one host transfer per batch.

Only the small results leave this module (as TensorSummary); the tensor itself is never kept.

The common path per tensor is four reductions (sum, L2 norm, aminmax, count of non-zeros),
stacked into one small vector on the tensor's device; the vectors of every tensor in a batch
(the outputs of one module call, the parameters of a model) cross to the host in one
``tolist()``. Python does a constant amount of work per tensor, never per element.

NaN and Inf counts cost extra passes, so they are computed only when the sum, norm or extremes
show that something is not finite. float16/bfloat16 accumulate in float32, integers in float64.
The standard deviation comes from the sum of squares (one pass); where that formula would lose
its digits to cancellation (variance tiny against the squared mean) it is recomputed with
torch's two-pass ``var``. Histograms cost more than everything else together, so callers ask for
them only where someone looks (``histogram=True``), or only for tensors holding NaN/Inf
(``histogram="problem"``; "auto" means the same here: the hooks turn it into True while the
session is being stepped).
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Iterable, Optional, Sequence, Union

import torch

from .events import Histogram, TensorSummary
from .structures import describe_value, leaves

HIST_BINS = 32

# ``histograms`` settings: a bool, or "auto" (a Session: histograms while stepping and at
# problems), or "problem" (only for tensors holding NaN/Inf). In summarize(), "auto" reads as
# "problem": a lone summary cannot know whether anyone is stepping.
HISTOGRAMS_AUTO = "auto"
HISTOGRAMS_ON_PROBLEM = "problem"
HistogramWanted = Union[bool, str]

# The one-pass variance (E[x^2] - E[x]^2) keeps about -log10(eps * mean^2 / var) digits: with
# float32 sums, when var < 1e-3 * mean^2 we redo it in two passes.
CANCELLATION_RATIO = 1e-3

# Stacking equal-sized small tensors saves dispatches; above this size the row-wise reductions
# cost more than they save.
GROUP_MAX_NUMEL = 4096
_SMALL_NUMEL = 4096
_INT32_LIMIT = 2**31 - 1
_DTYPE_NAMES: dict[torch.dtype, str] = {}
_DEVICE_NAMES: dict[torch.device, str] = {}
_NATIVE_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)

_DisableTorchFunction = torch._C.DisableTorchFunction
_set_grad_enabled = torch._C._set_grad_enabled
_is_grad_enabled = torch.is_grad_enabled


def _dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).replace("torch.", "")
    return name


def _device_name(device: torch.device) -> str:
    name = _DEVICE_NAMES.get(device)
    if name is None:
        name = _DEVICE_NAMES[device] = str(device)
    return name


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
_tensor_summary = _pick_summary_factory()


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    try:
        return tuple(t.shape)
    except Exception:  # symbolic sizes
        return tuple(int(d) for d in t.shape)


def shape_only(t: torch.Tensor, name: str = "") -> TensorSummary:
    """A summary with structure only (no values read): shape, dtype, device."""
    return _tensor_summary(name, _shape(t), _dtype_name(t.dtype), _device_name(t.device),
                           t.numel(), None, None, None, None, None, 0, 0, None, None,
                           t.requires_grad)


def _accumulate_dtype(t: torch.Tensor) -> torch.dtype:
    if t.dtype == torch.float64 or not t.is_floating_point():
        return torch.float64
    return torch.float32


def _wants_histogram(histogram: HistogramWanted, finite: bool) -> bool:
    if histogram is True:
        return True
    if not histogram:
        return False
    return not finite  # "problem" / "auto": only where something is wrong


# ---- the raw pass -----------------------------------------------------------------------------


def _readable(t: torch.Tensor) -> bool:
    """Whether we can read values of ``t`` at all (not meta, empty, complex, sparse...)."""
    return (t.numel() != 0 and t.layout == torch.strided and t.device.type != "meta"
            and not t.is_complex() and not t.is_quantized)


def _count_nonzero(x: torch.Tensor) -> torch.Tensor:
    # count_nonzero is one dispatch but a slow, branchy kernel; for large tensors a cast to
    # bool and a byte sum is several times faster.
    if x.numel() <= _SMALL_NUMEL:
        return torch.count_nonzero(x)
    return x.bool().view(torch.uint8).sum(dtype=torch.float32 if x.numel() < 2**24
                                          else torch.float64)


def _reduce(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(sum, L2 norm, min, max, non-zero count) of ``t`` as 0-d tensors on its device.

    Call with autograd off. Raises for tensors torch cannot reduce (callers fall back to the
    shape)."""
    dtype = t.dtype
    if dtype is torch.float32 or dtype is torch.float64:  # accumulate in their own precision
        lo, hi = torch.aminmax(t)
        return t.sum(), torch.linalg.vector_norm(t), lo, hi, _count_nonzero(t)
    if dtype is torch.float16 or dtype is torch.bfloat16:
        acc = torch.float32
        x = t
    else:  # integers, bool, float8...: count and reduce a float64 copy
        acc = torch.float64
        x = t.to(acc)
    lo, hi = torch.aminmax(x)
    return x.sum(dtype=acc), torch.linalg.vector_norm(x, dtype=acc), lo, hi, _count_nonzero(x)


def _raw(t: torch.Tensor) -> torch.Tensor:
    """[sum, L2 norm, min, max, non-zero count] of ``t`` as one small float tensor on its
    device (for one transfer with others)."""
    parts = _reduce(t)
    acc = parts[0].dtype
    return torch.stack([p if p.dtype == acc else p.to(acc) for p in parts])


def _raw_values(t: torch.Tensor) -> list:
    """The raw values of one tensor on the host. On the CPU five item() calls cost less than
    stacking; elsewhere one stacked transfer (one synchronisation)."""
    if t.device.type == "cpu":
        return [p.item() for p in _reduce(t)]
    return _raw(t).tolist()


def _raw_grouped(ts: Sequence[torch.Tensor]) -> torch.Tensor:
    """The raw vectors of several tensors of one dtype, device and size, as one (k, 5) tensor:
    the tensors are stacked (one copy) and reduced row by row, five dispatches for all."""
    dtype = ts[0].dtype
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    rows = torch.stack([t.reshape(-1) for t in ts])
    lo, hi = torch.aminmax(rows, dim=1)
    if lo.dtype != acc:
        lo, hi = lo.to(acc), hi.to(acc)
    return torch.stack((
        rows.sum(dim=1, dtype=acc),
        torch.linalg.vector_norm(rows, dim=1, dtype=acc),
        lo,
        hi,
        rows.bool().view(torch.uint8).sum(dim=1, dtype=acc),
    ), dim=1)


def _raw_rows(ts: list[torch.Tensor], group: bool) -> list[Optional[list]]:
    """The raw values of each tensor on the host (None where it cannot be reduced).

    CPU tensors are read at once. Tensors on other devices leave their reductions on the
    device and cross to the host together, one transfer per device. With ``group``, small
    tensors of equal dtype, device and size are stacked and reduced together."""
    rows: list[Optional[list]] = [None] * len(ts)
    waiting: dict[torch.device, list[tuple[list[int], torch.Tensor]]] = {}
    done: set[int] = set()
    if group and len(ts) > 1:
        groups: dict[tuple, list[int]] = {}
        for i, t in enumerate(ts):
            if t.dtype in _NATIVE_FLOATS and t.numel() <= GROUP_MAX_NUMEL:
                groups.setdefault((t.dtype, t.device, t.numel()), []).append(i)
        for members in groups.values():
            if len(members) < 2:
                continue
            try:
                block = _raw_grouped([ts[i] for i in members])
            except Exception:
                continue  # each on its own, below
            waiting.setdefault(block.device, []).append((members, block))
            done.update(members)
    for i, t in enumerate(ts):
        if i in done:
            continue
        try:
            if t.device.type == "cpu":
                rows[i] = _raw_values(t)
            else:
                waiting.setdefault(t.device, []).append(([i], _raw(t).unsqueeze(0)))
        except Exception:
            continue
    for blocks in waiting.values():
        flat = blocks[0][1].tolist() if len(blocks) == 1 else \
            torch.cat([block for _, block in blocks]).tolist()
        position = 0
        for members, _ in blocks:
            for i in members:
                rows[i] = flat[position]
                position += 1
    return rows


# ---- from raw values to a summary -------------------------------------------------------------


def _finish(t: torch.Tensor, name: str, raw: Sequence[float], histogram: HistogramWanted
            ) -> TensorSummary:
    """The summary of ``t`` from its raw vector; extra passes only for NaN/Inf, cancellation
    and histograms."""
    s, norm, lo, hi, nz = raw
    n = t.numel()
    nan = inf = 0
    values = t
    n_finite = n
    if not math.isfinite(s + norm + lo + hi) and t.is_floating_point():
        with torch.no_grad():
            flat = t.reshape(-1)
            counts = torch.stack((torch.isnan(flat).sum(), torch.isinf(flat).sum())).tolist()
            nan, inf = int(counts[0]), int(counts[1])
            if nan or inf:
                values = flat[torch.isfinite(flat)]
                n_finite = values.numel()
                if n_finite == 0:
                    return _tensor_summary(name, _shape(t), _dtype_name(t.dtype),
                                           _device_name(t.device), n, None, None, None, None,
                                           None, nan, inf, max(0.0, 1.0 - nz / n), None,
                                           t.requires_grad)
                s, norm, lo, hi = _raw(values)[:4].tolist()
    mean, std = _moments(values, n_finite, s, norm, lo, hi)
    finite = nan == 0 and inf == 0
    hist = _histogram(values, lo, hi) if _wants_histogram(histogram, finite) else None
    return _tensor_summary(name, _shape(t), _dtype_name(t.dtype), _device_name(t.device), n,
                           lo, hi, mean, std, norm, nan, inf,
                           0.0 if nz >= n else 1.0 - nz / n, hist, t.requires_grad)


def _moments(values: torch.Tensor, n: int, s: float, norm: float, lo: float, hi: float
             ) -> tuple[float, float]:
    """Mean and (sample) standard deviation, numerically sound for display."""
    if lo == hi:  # constant (also every 1-element tensor): exact, whatever the sums say
        return lo, 0.0
    mean = min(max(s / n, lo), hi)
    var = (norm * norm - n * mean * mean) / (n - 1)
    if not var > CANCELLATION_RATIO * mean * mean:  # cancellation (or overflow): two passes
        with torch.no_grad():
            try:
                var = float(torch.var(values.to(torch.float64)))
            except (RuntimeError, TypeError):  # a device without float64
                var = float(torch.var(values.to(torch.float32)))
    if not (var > 0 and math.isfinite(var)):
        return mean, 0.0
    return mean, min(math.sqrt(var), hi - lo)


def _histogram(flat: torch.Tensor, lo: float, hi: float, bins: int = HIST_BINS) -> Histogram:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Histogram((), ())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    with torch.no_grad():
        counts = torch.histc(flat.reshape(-1).to(torch.float32), bins=bins, min=lo,
                             max=hi).tolist()
    step = (hi - lo) / bins
    edges = tuple(lo + i * step for i in range(bins + 1))
    return Histogram(edges, tuple(int(c) for c in counts))


def _replace(base: TensorSummary, **changes: Any) -> TensorSummary:
    from dataclasses import replace

    return replace(base, **changes)


def _renamed(s: TensorSummary, name: str) -> TensorSummary:
    if s.name == name:
        return s
    return _tensor_summary(name, s.shape, s.dtype, s.device, s.numel, s.min, s.max, s.mean,
                           s.std, s.norm, s.nan, s.inf, s.zero_fraction, s.hist,
                           s.requires_grad)


# ---- a cache by tensor identity ---------------------------------------------------------------


class SummaryCache:
    """Value summaries by tensor identity and version, for one session's hooks.

    A module's input is usually the previous module's output (and a container's output its
    last child's): the second look is a dictionary hit. Entries hold a weak reference, never
    the tensor; a hit needs the same live object, the same version counter (in-place changes
    bump it) and the same storage.
    """

    LIMIT = 8192

    def __init__(self) -> None:
        self._entries: dict[int, tuple] = {}

    def get(self, t: torch.Tensor, histogram: HistogramWanted) -> Optional[TensorSummary]:
        entry = self._entries.get(id(t))
        if entry is None:
            return None
        ref, version, ptr, summary = entry
        try:
            if ref() is not t or t._version != version or t.data_ptr() != ptr:
                return None
        except Exception:
            return None
        if summary.hist is None and _wants_histogram(histogram, summary.finite):
            return None
        if summary.requires_grad != t.requires_grad:
            return None
        return summary

    def put(self, t: torch.Tensor, summary: TensorSummary) -> None:
        entries = self._entries
        if len(entries) >= self.LIMIT:
            for key in [k for k, e in entries.items() if e[0]() is None]:
                del entries[key]
            if len(entries) >= self.LIMIT // 2:
                entries.clear()
        try:
            entries[id(t)] = (weakref.ref(t), t._version, t.data_ptr(), summary)
        except Exception:  # inference tensors have no version counter; some have no storage
            pass

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# ---- public entry points ----------------------------------------------------------------------


def summarize(
    t: torch.Tensor, name: str = "", *, values: bool = True, histogram: HistogramWanted = False
) -> TensorSummary:
    """Summarise one tensor. ``values=False`` reads no data (for speed or meta tensors)."""
    return summarize_many(((name, t),), values=values, histogram=histogram)[0]


def summarize_many(items: Iterable[tuple[str, Any]], *, values: bool = True,
                   histogram: HistogramWanted = False, cache: Optional[SummaryCache] = None,
                   group: bool = False) -> tuple[TensorSummary, ...]:
    """Summaries of (name, value) pairs with one host transfer for the lot.

    Non-tensors get a short description. ``cache`` reuses summaries of tensors already seen.
    ``group=True`` stacks small tensors of equal dtype, device and size and reduces them
    together (fewer dispatches for many small tensors: for parameter sets)."""
    if type(items) is not tuple:
        items = tuple(items)
    # Our own reads are not the user's ops: torch-function modes (the diagnostics' op watch)
    # and tensor subclasses do not see them.
    with _DisableTorchFunction():
        if len(items) == 1:  # the hooks' common case: one tensor
            name, value = items[0]
            if isinstance(value, torch.Tensor) and values:
                return (_summarize_one(value, name, histogram, cache),)
        out: list[Optional[TensorSummary]] = [None] * len(items)
        pending: list[tuple[int, str, torch.Tensor]] = []
        for index, (name, value) in enumerate(items):
            if not isinstance(value, torch.Tensor):
                out[index] = TensorSummary(name=name, kind="value", text=describe_value(value))
            elif not values or not _readable(value):
                out[index] = shape_only(value, name)
            else:
                hit = cache.get(value, histogram) if cache is not None else None
                if hit is not None:
                    out[index] = _renamed(hit, name)
                else:
                    pending.append((index, name, value))
        if pending:
            _summarize_pending(pending, out, histogram, cache, group)
    return tuple(out)  # type: ignore[arg-type]


def _summarize_one(t: torch.Tensor, name: str, histogram: HistogramWanted,
                   cache: Optional[SummaryCache]) -> TensorSummary:
    if not _readable(t):
        return shape_only(t, name)
    if cache is not None:
        hit = cache.get(t, histogram)
        if hit is not None:
            return _renamed(hit, name)
    grad_was = _is_grad_enabled()
    if grad_was:
        _set_grad_enabled(False)
    try:
        summary = _finish(t, name, _raw_values(t), histogram)
    except Exception:  # exotic subclasses (fake, functional wrappers) keep their shape
        return shape_only(t, name)
    finally:
        if grad_was:
            _set_grad_enabled(True)
    if cache is not None:
        cache.put(t, summary)
    return summary


def _summarize_pending(pending, out, histogram, cache, group) -> None:
    grad_was = _is_grad_enabled()
    if grad_was:
        _set_grad_enabled(False)
    try:
        rows = _raw_rows([t for _, _, t in pending], group)
        for (index, name, t), row in zip(pending, rows):
            summary = None
            if row is not None:
                try:
                    summary = _finish(t, name, row, histogram)
                except Exception:  # exotic subclasses (fake, functional wrappers)
                    summary = None
            if summary is None:
                out[index] = shape_only(t, name)
                continue
            out[index] = summary
            if cache is not None:
                cache.put(t, summary)
    finally:
        if grad_was:
            _set_grad_enabled(True)


def all_finite(tensors: Iterable[torch.Tensor]) -> list[bool]:
    """Per tensor: are all its values finite (no NaN, no Inf)? Non-float tensors are.

    ``torch.isfinite(t).all()`` writes a bool per element and costs some 60 times a sum on
    the CPU; a sum is not finite exactly when a NaN or Inf is in the tensor, or when finite
    values overflow it, so one sum per tensor (float32 accumulation for half precision), one
    host transfer, and the exact test only where a sum is not finite."""
    ts = list(tensors)
    flags = [True] * len(ts)
    sums, where = [], []
    with _DisableTorchFunction():
        grad_was = _is_grad_enabled()
        if grad_was:
            _set_grad_enabled(False)
        try:
            for i, t in enumerate(ts):
                if not t.is_floating_point() or not _readable(t):
                    continue
                acc = torch.float32 if t.dtype in (torch.float16, torch.bfloat16) else None
                sums.append(t.sum(dtype=acc) if acc is not None else t.sum())
                where.append(i)
            if not sums:
                return flags
            if len(sums) == 1:
                values = [sums[0].item()]
            else:
                values = torch.stack([v.to(torch.float64) for v in sums]).tolist() \
                    if len({v.dtype for v in sums}) > 1 else torch.stack(sums).tolist()
            for i, value in zip(where, values):
                if not math.isfinite(value):
                    flags[i] = bool(torch.isfinite(ts[i]).all())
        finally:
            if grad_was:
                _set_grad_enabled(True)
    return flags


def summarize_value(
    value: Any, name: str = "", *, values: bool = True, histogram: HistogramWanted = False
) -> TensorSummary:
    """Summarise a leaf: a tensor gets statistics, anything else a short description."""
    if isinstance(value, torch.Tensor):
        return summarize(value, name, values=values, histogram=histogram)
    return TensorSummary(name=name, kind="value", text=describe_value(value))


def summarize_nested(
    value: Any, name: str = "", *, values: bool = True, histogram: HistogramWanted = False,
    cache: Optional[SummaryCache] = None,
) -> tuple[TensorSummary, ...]:
    """Summaries of every leaf of a nested structure (tuple, dict, dataclass, ModelOutput),
    with one host transfer for all of them."""
    if isinstance(value, torch.Tensor):
        items: Any = ((name, value),)
    elif type(value) is tuple and len(value) == 1 and isinstance(value[0], torch.Tensor):
        items = ((f"{name}[0]", value[0]),)  # the common case: one positional tensor
    else:
        items = leaves(value, name)
    return summarize_many(items, values=values, histogram=histogram, cache=cache)


def histogram_of(t: torch.Tensor) -> Optional[Histogram]:
    """Histogram of the finite values of ``t`` (used where someone looks at one tensor)."""
    summary = summarize(t, histogram=True)
    return summary.hist
