"""Script mode's batch numbers: the index of each batch in its DataLoader pass, so a step's
figures and data diagnostics say "batch 5" of the loop rather than a guess from the step.

While a script runs, ``DataLoader`` iterators' ``__next__`` is wrapped: a batch fetched with
gradients enabled (a training batch; evaluation loops usually run under ``no_grad``) tells
the step tracker its index in the current pass over the loader (from 0).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import torch
from torch.utils.data.dataloader import _BaseDataLoaderIter

from .steps import StepTracker


@contextlib.contextmanager
def numbering_batches(tracker: StepTracker) -> Iterator[None]:
    thread = threading.get_ident()
    original = _BaseDataLoaderIter.__next__

    def __next__(self: _BaseDataLoaderIter) -> Any:
        batch = original(self)
        if threading.get_ident() == thread and torch.is_grad_enabled():
            index = self._num_yielded - 1
            tracker.next_batch_index = index
            if tracker.open and tracker.first_input is None:  # fetched inside an open step
                tracker.batch_index = index
        return batch

    _BaseDataLoaderIter.__next__ = __next__
    try:
        yield
    finally:
        _BaseDataLoaderIter.__next__ = original
