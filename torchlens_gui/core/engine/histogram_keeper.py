"""Histograms where they matter during a free run.

A free-running session makes no histograms (they cost a pass over every tensor), so after a run
that stops on a problem the window would have nothing to plot. The keeper holds the last few
summarised tensors, within a memory budget, and when a problem happens (a NaN/Inf born, an
exception) or the forward ends it makes their histograms and reports them in one
HistogramsKept event: the problem call, the calls that produced its inputs, and the last calls of
the run get a histogram; nothing else costs one.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterable

import torch

from ..recording import events as ev
from ..recording.structures import leaves
from ..statistics.stats_summary import with_histogram

# The budget: at most this many tensors and bytes held at once (the tensors would otherwise be
# freed after their call). Histograms themselves are small (HIST_BINS counts each).
MAX_HELD = 16
MAX_HELD_BYTES = 64 * 2**20


def paired(value: Any, summaries: tuple[ev.TensorSummary, ...]
           ) -> Iterable[tuple[torch.Tensor, ev.TensorSummary]]:
    """(tensor, its summary) for the tensors of ``value``, summarised in the same order."""
    if isinstance(value, torch.Tensor):
        items: list = [("", value)]
    else:
        items = leaves(value, "")
    return [(t, s) for (_, t), s in zip(items, summaries) if isinstance(t, torch.Tensor)]


class HistogramKeeper:
    """Holds recent tensors without histograms; ``keep`` makes and reports them."""

    def __init__(self, emit: Callable[[ev.Event], None], max_held: int = MAX_HELD,
                 max_bytes: int = MAX_HELD_BYTES) -> None:
        self.emit = emit
        self.max_held, self.max_bytes = max_held, max_bytes
        self._held: deque = deque()  # (tensor, version, summary, bytes)
        self._ids: set[int] = set()
        self._bytes = 0

    def hold(self, pairs: Iterable[tuple[torch.Tensor, ev.TensorSummary]]) -> None:
        for t, summary in pairs:
            if summary.hist is not None or summary.min is None or id(t) in self._ids:
                continue
            size = t.numel() * t.element_size()
            if size > self.max_bytes:
                continue
            try:
                version = t._version
            except Exception:  # inference tensors have no version counter
                version = None
            self._held.append((t, version, summary, size))
            self._ids.add(id(t))
            self._bytes += size
            while len(self._held) > self.max_held or self._bytes > self.max_bytes:
                self._drop_oldest()

    def keep(self) -> None:
        """Make the held tensors' histograms, report them, and let the tensors go."""
        kept = []
        with torch._C.DisableTorchFunction():
            for t, version, summary, _size in self._held:
                try:
                    if version is not None and t._version != version:
                        continue  # changed in place since: its histogram would lie
                    hist = with_histogram(t, summary)
                except Exception:  # a tensor that cannot be read any more: no histogram
                    continue
                if hist is not None and hist.counts:
                    kept.append((summary, hist))
        self.clear()
        if kept:
            self.emit(ev.HistogramsKept(tuple(kept)))

    def clear(self) -> None:
        self._held.clear()
        self._ids.clear()
        self._bytes = 0

    def _drop_oldest(self) -> None:
        t, _version, _summary, size = self._held.popleft()
        self._ids.discard(id(t))
        self._bytes -= size
