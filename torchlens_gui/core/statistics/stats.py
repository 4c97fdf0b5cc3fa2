"""Tensor statistics: plain reductions on the tensor's own device, one host transfer per batch.

Only the small results leave this module (as TensorSummary); the tensor itself is never kept.

The common path per tensor is four reductions (sum, L2 norm, aminmax, count of non-zeros:
stats_reduce), stacked into one small vector on the tensor's device; the vectors of every
tensor in a batch (the outputs of one module call, the parameters of a model) cross to the host
in one ``tolist()``; stats_summary turns them into summaries. Python does a constant amount of
work per tensor, never per element.

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
from typing import Any, Iterable, Optional, Sequence

import torch

from ..recording.events import TensorSummary
from .stats_reduce import raw_rows, raw_values, readable
from .stats_summary import (HIST_BINS, HISTOGRAMS_AUTO, HISTOGRAMS_ON_PROBLEM,  # noqa: F401
                            HistogramWanted, dtype_name, finish, renamed, shape_only,
                            wants_histogram)
from ..recording.structures import describe_value, leaves

_DisableTorchFunction = torch._C.DisableTorchFunction
_set_grad_enabled = torch._C._set_grad_enabled
_is_grad_enabled = torch.is_grad_enabled
_mode_stack_len = torch._C._len_torch_function_stack
_STRIDED = torch.strided
_Tensor = torch.Tensor


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

    def get(self, t: torch.Tensor, histogram: HistogramWanted, zeros: bool = True
            ) -> Optional[TensorSummary]:
        entry = self._entries.get(id(t))
        if entry is None:
            return None
        ref, version, ptr, summary = entry
        try:
            if ref() is not t or t._version != version or t.data_ptr() != ptr:
                return None
        except Exception:
            return None
        if summary.hist is None and wants_histogram(histogram, summary.finite):
            return None
        if summary.requires_grad != t.requires_grad:
            return None
        if zeros and summary.zero_fraction is None:
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
                   group: bool = False, zeros: bool = True) -> tuple[TensorSummary, ...]:
    """Summaries of (name, value) pairs with one host transfer for the lot.

    Non-tensors get a short description. ``cache`` reuses summaries of tensors already seen.
    ``group=True`` stacks small tensors of equal dtype, device and size and reduces them
    together (fewer dispatches for many small tensors: for parameter sets). ``zeros=False``
    leaves zero_fraction None: counting non-zeros is the costliest reduction on large tensors."""
    if type(items) is not tuple:
        items = tuple(items)
    # Our own reads are not the user's ops: torch-function modes (the diagnostics' op watch)
    # and tensor subclasses do not see them.
    with _DisableTorchFunction():
        if len(items) == 1:  # the hooks' common case: one tensor
            name, value = items[0]
            if isinstance(value, torch.Tensor) and values:
                return (_summarize_one(value, name, histogram, cache, zeros),)
        out: list[Optional[TensorSummary]] = [None] * len(items)
        pending: list[tuple[int, str, torch.Tensor]] = []
        for index, (name, value) in enumerate(items):
            if not isinstance(value, torch.Tensor):
                out[index] = TensorSummary(name=name, kind="value", text=describe_value(value))
            elif not values or not readable(value):
                out[index] = shape_only(value, name)
            else:
                hit = cache.get(value, histogram, zeros) if cache is not None else None
                if hit is not None:
                    out[index] = renamed(hit, name)
                else:
                    pending.append((index, name, value))
        if pending:
            _summarize_pending(pending, out, histogram, cache, group, zeros)
    return tuple(out)  # type: ignore[arg-type]


def _summarize_one(t: torch.Tensor, name: str, histogram: HistogramWanted,
                   cache: Optional[SummaryCache], zeros: bool) -> TensorSummary:
    if not readable(t):
        return shape_only(t, name)
    if cache is not None:
        hit = cache.get(t, histogram, zeros)
        if hit is not None:
            return renamed(hit, name)
    grad_was = _is_grad_enabled()
    if grad_was:
        _set_grad_enabled(False)
    try:
        summary = finish(t, name, raw_values(t, zeros), histogram)
    except Exception:  # exotic subclasses (fake, functional wrappers) keep their shape
        return shape_only(t, name)
    finally:
        if grad_was:
            _set_grad_enabled(True)
    if cache is not None:
        cache.put(t, summary)
    return summary


def _summarize_pending(pending, out, histogram, cache, group, zeros) -> None:
    grad_was = _is_grad_enabled()
    if grad_was:
        _set_grad_enabled(False)
    try:
        rows = raw_rows([t for _, _, t in pending], group, zeros)
        for (index, name, t), row in zip(pending, rows):
            summary = None
            if row is not None:
                try:
                    summary = finish(t, name, row, histogram)
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
                if not t.is_floating_point() or not readable(t):
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


_PLAIN_FLOATS = (torch.float32, torch.float64)


def tensor_finite(t: torch.Tensor) -> bool:
    """``all_finite((t,))[0]`` with less ceremony for the common case (a strided float32/64
    tensor): the light recording's test of every module output, some 3 us on the CPU."""
    if t.dtype not in _PLAIN_FLOATS or t.layout != _STRIDED or not t.numel() or t.is_meta:
        return all_finite((t,))[0]
    if type(t) is not _Tensor or _mode_stack_len():  # keep the sum out of modes/subclasses
        with _DisableTorchFunction():
            return _finite_by_sum(t.detach())
    grad_was = _is_grad_enabled()
    if grad_was:
        _set_grad_enabled(False)  # (cheaper than a detached view)
    try:
        return _finite_by_sum(t)
    finally:
        if grad_was:
            _set_grad_enabled(True)


def _finite_by_sum(t: torch.Tensor) -> bool:
    """A finite sum means finite values; an overflowing one is tested exactly."""
    return math.isfinite(t.sum().item()) or bool(torch.isfinite(t).all())


def finite_probe(outs: Sequence[torch.Tensor]) -> Optional[torch.Tensor]:
    """A 0-dim tensor on the outputs' device that is finite exactly when every float value of
    ``outs`` is (the sum of their sums; an overflowing sum is re-checked exactly later), or
    None when there is nothing to test. Nothing is read to the host."""
    sums = []
    with _DisableTorchFunction(), torch.no_grad():
        for t in outs:
            if t.is_floating_point() and readable(t):
                sums.append(t.detach().sum(dtype=torch.float32))
        if not sums:
            return None
        if len(sums) == 1:
            return sums[0]
        device = sums[0].device  # (outputs on several devices: gathered on the first's)
        return torch.stack([v.to(device, non_blocking=True) for v in sums]).sum()


def probe_values(probes: Sequence[torch.Tensor]) -> list[bool]:
    """Per probe of finite_probe: finite? One host transfer (gathered on the first's device)."""
    if not probes:
        return []
    with _DisableTorchFunction():
        values = torch.stack([p.to(probes[0].device) for p in probes]).tolist()
    return [math.isfinite(v) for v in values]


def summarize_nested(
    value: Any, name: str = "", *, values: bool = True, histogram: HistogramWanted = False,
    cache: Optional[SummaryCache] = None, zeros: bool = True,
) -> tuple[TensorSummary, ...]:
    """Summaries of every leaf of a nested structure (tuple, dict, dataclass, ModelOutput),
    with one host transfer for all of them."""
    if isinstance(value, torch.Tensor):
        items: Any = ((name, value),)
    elif type(value) is tuple and len(value) == 1 and isinstance(value[0], torch.Tensor):
        items = ((f"{name}[0]", value[0]),)  # the common case: one positional tensor
    else:
        items = leaves(value, name)
    return summarize_many(items, values=values, histogram=histogram, cache=cache, zeros=zeros)
