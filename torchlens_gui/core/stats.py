"""Tensor statistics: one pass of plain reductions on the tensor's own device, one host sync.

Only the small results leave this module (as TensorSummary); the tensor itself is never kept.
NaN and Inf counts cost an extra pass, so they are computed only when the sum or the extremes
show that something is not finite. float16/bfloat16 accumulate in float32.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

from .events import Histogram, TensorSummary
from .structures import describe_value, leaves

HIST_BINS = 32


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def shape_only(t: torch.Tensor, name: str = "") -> TensorSummary:
    """A summary with structure only (no values read): shape, dtype, device."""
    return TensorSummary(
        name=name,
        shape=tuple(int(d) for d in t.shape),
        dtype=_dtype_name(t.dtype),
        device=str(t.device),
        numel=int(t.numel()),
        requires_grad=bool(t.requires_grad),
    )


def _accumulate_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def summarize(
    t: torch.Tensor, name: str = "", *, values: bool = True, histogram: bool = False
) -> TensorSummary:
    """Summarise one tensor. ``values=False`` reads no data (for speed or meta tensors)."""
    base = shape_only(t, name)
    if not values or t.device.type == "meta" or t.numel() == 0 or t.is_complex():
        return base
    if t.layout != torch.strided or t.is_quantized:
        return base
    try:
        return _summarize_values(t.detach(), base, histogram)
    except Exception:  # exotic subclasses (fake, functional wrappers) still get their shape
        return base


def _summarize_values(t: torch.Tensor, base: TensorSummary, histogram: bool) -> TensorSummary:
    flat = t.reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    acc = _accumulate_dtype(flat)
    n = flat.numel()
    with torch.no_grad():
        total = flat.sum(dtype=acc)
        sq = torch.linalg.vector_norm(flat.to(acc) if not flat.is_floating_point() else flat, dtype=acc)
        extremes = torch.stack([flat.min().to(acc), flat.max().to(acc)])
        nonzero = torch.count_nonzero(flat).to(acc)
        packed = torch.cat([total.reshape(1), sq.reshape(1), extremes, nonzero.reshape(1)])
        s, norm, lo, hi, nz = packed.tolist()  # the one host sync of the common path

    nan = inf = 0
    if not all(math.isfinite(v) for v in (s, norm, lo, hi)) and flat.is_floating_point():
        with torch.no_grad():
            nan_mask = torch.isnan(flat)
            counts = torch.stack([nan_mask.sum(), torch.isinf(flat).sum()]).tolist()
            nan, inf = int(counts[0]), int(counts[1])
            finite = flat[torch.isfinite(flat)]
        if finite.numel() == 0:
            return _replace(base, nan=nan, inf=inf, zero_fraction=1.0 - nz / n if n else None)
        with torch.no_grad():
            packed = torch.stack(
                [
                    finite.sum(dtype=acc),
                    torch.linalg.vector_norm(finite, dtype=acc),
                    finite.min().to(acc),
                    finite.max().to(acc),
                ]
            ).tolist()
        s, norm, lo, hi = packed
        flat, n_finite = finite, finite.numel()
    else:
        n_finite = n

    mean = s / n_finite
    sumsq = norm * norm
    var = (sumsq - n_finite * mean * mean) / (n_finite - 1) if n_finite > 1 else 0.0
    std = math.sqrt(var) if var > 0 and math.isfinite(var) else 0.0
    hist = _histogram(flat, lo, hi) if histogram else None
    return _replace(
        base,
        min=lo,
        max=hi,
        mean=mean,
        std=std,
        norm=norm,
        nan=nan,
        inf=inf,
        zero_fraction=1.0 - nz / n,
        hist=hist,
    )


def _histogram(flat: torch.Tensor, lo: float, hi: float, bins: int = HIST_BINS) -> Histogram:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Histogram((), ())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    with torch.no_grad():
        counts = torch.histc(flat.to(torch.float32), bins=bins, min=lo, max=hi).tolist()
    step = (hi - lo) / bins
    edges = tuple(lo + i * step for i in range(bins + 1))
    return Histogram(edges, tuple(int(c) for c in counts))


def _replace(base: TensorSummary, **changes: Any) -> TensorSummary:
    from dataclasses import replace

    return replace(base, **changes)


def summarize_value(
    value: Any, name: str = "", *, values: bool = True, histogram: bool = False
) -> TensorSummary:
    """Summarise a leaf: a tensor gets statistics, anything else a short description."""
    if isinstance(value, torch.Tensor):
        return summarize(value, name, values=values, histogram=histogram)
    return TensorSummary(name=name, kind="value", text=describe_value(value))


def summarize_nested(
    value: Any, name: str = "", *, values: bool = True, histogram: bool = False
) -> tuple[TensorSummary, ...]:
    """Summaries of every leaf of a nested structure (tuple, dict, dataclass, ModelOutput)."""
    return tuple(
        summarize_value(leaf, leaf_name, values=values, histogram=histogram)
        for leaf_name, leaf in leaves(value, name)
    )


def histogram_of(t: torch.Tensor) -> Optional[Histogram]:
    """Histogram of the finite values of ``t`` (used where someone looks at one tensor)."""
    summary = summarize(t, histogram=True)
    return summary.hist
