"""From raw reductions to a TensorSummary: mean and a numerically sound std, NaN/Inf counts,
histograms, and building the frozen summaries fast (the hooks make one per tensor)."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch

from ..recording.events import Histogram, TensorSummary
from ..recording.summary_factory import tensor_summary
from .stats_reduce import raw as raw_vector

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

_DTYPE_NAMES: dict[torch.dtype, str] = {}
_DEVICE_NAMES: dict[torch.device, str] = {}

def dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).replace("torch.", "")
    return name


def device_name(device: torch.device) -> str:
    name = _DEVICE_NAMES.get(device)
    if name is None:
        name = _DEVICE_NAMES[device] = str(device)
    return name




def _shape(t: torch.Tensor) -> tuple[int, ...]:
    try:
        return tuple(t.shape)
    except Exception:  # symbolic sizes
        return tuple(int(d) for d in t.shape)


def shape_only(t: torch.Tensor, name: str = "") -> TensorSummary:
    """A summary with structure only (no values read): shape, dtype, device."""
    return tensor_summary(name, _shape(t), dtype_name(t.dtype), device_name(t.device),
                           t.numel(), None, None, None, None, None, 0, 0, None, None,
                           t.requires_grad)


def wants_histogram(histogram: HistogramWanted, finite: bool) -> bool:
    if histogram is True:
        return True
    if not histogram:
        return False
    return not finite  # "problem" / "auto": only where something is wrong


def finish(t: torch.Tensor, name: str, raw: Sequence[float], histogram: HistogramWanted
            ) -> TensorSummary:
    """The summary of ``t`` from its raw vector; extra passes only for NaN/Inf, cancellation
    and histograms. A raw vector without the non-zero count leaves zero_fraction None."""
    s, norm, lo, hi = raw[:4]
    n = t.numel()
    zero_fraction = None if len(raw) < 5 else 0.0 if raw[4] >= n else 1.0 - raw[4] / n
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
                    return tensor_summary(name, _shape(t), dtype_name(t.dtype),
                                           device_name(t.device), n, None, None, None, None,
                                           None, nan, inf, zero_fraction, None,
                                           t.requires_grad)
                s, norm, lo, hi = raw_vector(values, zeros=False).tolist()
    mean, std = _moments(values, n_finite, s, norm, lo, hi)
    finite = nan == 0 and inf == 0
    hist = _histogram(values, lo, hi) if wants_histogram(histogram, finite) else None
    return tensor_summary(name, _shape(t), dtype_name(t.dtype), device_name(t.device), n,
                           lo, hi, mean, std, norm, nan, inf, zero_fraction, hist,
                           t.requires_grad)


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



def renamed(s: TensorSummary, name: str) -> TensorSummary:
    if s.name == name:
        return s
    return tensor_summary(name, s.shape, s.dtype, s.device, s.numel, s.min, s.max, s.mean,
                           s.std, s.norm, s.nan, s.inf, s.zero_fraction, s.hist,
                           s.requires_grad)



def with_histogram(t: torch.Tensor, summary: TensorSummary) -> Optional[Histogram]:
    """The histogram ``summary`` would have had, made later from the same tensor ``t`` (finite
    values only, over the summary's own min..max); None when there is nothing to count."""
    if summary.min is None or summary.max is None or not t.numel():
        return None
    with torch.no_grad():
        values = t.detach()
        if not summary.finite:
            flat = values.reshape(-1)
            values = flat[torch.isfinite(flat)]
        return _histogram(values, summary.min, summary.max)
