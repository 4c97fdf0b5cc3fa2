"""A DataLoader whose items differ in size: the default collate cannot stack them.

torch's message ("stack expects each tensor to be equal size, but got [3, 32] at entry 0 and
[3, 30] at entry 1") names neither the dataset nor what to do; this names the sizes, the line of
the dataset's ``__getitem__`` and the fixes.
"""

from __future__ import annotations

import inspect
import re
import time
from typing import Optional

from . import codes
from ..recording.events import Diagnostic, Phase
from ..usercode.context import ActiveCall, SessionContext
from ..usercode.user_frames import is_library_file
from .rule import Rule


class CollateSizeMismatch(Rule):
    """Explains the default collate's "stack expects each tensor to be equal size"."""

    name = "collate size mismatch"
    reports = (codes.COLLATE_SIZE_MISMATCH,)

    def explain(self, exc: BaseException, phase: Phase, ctx: SessionContext,
                failing: Optional[ActiveCall]) -> Optional[Diagnostic]:
        return collate_size_mismatch(exc)

class DataLoaderWorkerError(Rule):
    """An exception raised in a DataLoader worker process: torch re-raises it in the loop as
    "Caught X in DataLoader worker process N", with the worker's traceback only as text. This
    names the original error and the line of the user's dataset code that raised it."""

    name = "dataloader worker error"
    reports = (codes.RUNTIME_ERROR,)

    def explain(self, exc: BaseException, phase: Phase, ctx: SessionContext,
                failing: Optional[ActiveCall]) -> Optional[Diagnostic]:
        return worker_error(exc)


_WORKER = re.compile(r"Caught (\w+) in DataLoader worker process (\d+)\.")
_TEXT_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def worker_error(exc: BaseException) -> Optional[Diagnostic]:
    """The diagnostic for an error re-raised from a DataLoader worker, or None."""
    text = str(exc)
    match = _WORKER.search(text)
    if match is None or "Original Traceback" not in text:
        return None
    statement = text.rstrip().splitlines()[-1].strip()
    frames = [(f, int(n), fn) for f, n, fn in _TEXT_FRAME.findall(text)
              if not is_library_file(f)]
    file, line, function = frames[-1] if frames else (None, None, None)
    return Diagnostic(
        code=codes.RUNTIME_ERROR, severity="error", phase=Phase.FORWARD,
        message=f"DataLoader worker process {match.group(2)} raised {statement}"
                + (f" in {function}" if function else ""),
        file=file, line=line, details=(("error", statement),),
        fix="Fix the data code at the marked line (it ran in a worker process); to step "
            "through it, run the loader with num_workers=0.")


_STACK = re.compile(r"stack expects each tensor to be equal size, but got (\[[^\]]*\]) at entry "
                    r"(\d+) and (\[[^\]]*\]) at entry (\d+)")


# In a worker process the default collate stacks into shared memory, and unequal items fail
# there with this instead (inside torch's "Caught RuntimeError in DataLoader worker process N").
_WORKER_STACK = "Trying to resize storage that is not resizable"
PROBE_ITEMS = 64  # items read again in this process to find two sizes a worker's error hides
PROBE_S = 1.0


def collate_size_mismatch(exc: BaseException) -> Optional[Diagnostic]:
    """The diagnostic for a default-collate failure, or None for any other exception."""
    text = str(exc)
    match = _STACK.search(text)
    in_worker = match is None and _WORKER_STACK in text and "collate" in text \
        and "DataLoader worker process" in text
    if not (match or in_worker) or not _raised_in_collate(exc):
        return None
    dataset = _dataset_of(exc)
    file = line = None
    name = "the dataset"
    if dataset is not None:
        name = type(dataset).__name__
        try:
            getitem = type(dataset).__getitem__
            file = inspect.getsourcefile(getitem)
            line = inspect.getsourcelines(getitem)[1]
        except (TypeError, OSError):
            pass
    if match is not None:
        first, first_at, other, other_at = match.groups()
        sizes = f"{first} at entry {first_at}, {other} at entry {other_at}"
    else:
        probed = _probe_sizes(dataset) if dataset is not None else None
        first, other = (probed[0], probed[2]) if probed else ("?", "?")
        sizes = (f"{probed[0]} for item {probed[1]}, {probed[2]} for item {probed[3]}; "
                 "read again here, as the batch was made in a worker process") if probed \
            else "in a worker process, which does not say which sizes"
    return Diagnostic(
        code=codes.COLLATE_SIZE_MISMATCH, severity="error", phase=Phase.FORWARD,
        message=f"The DataLoader cannot stack a batch: {name} returned items of different sizes "
                f"({sizes})",
        file=file, line=line, details=(("sizes", f"{first} / {other}"),),
        fix="Make every item the same size in __getitem__ (crop or pad it, e.g. a fixed-size "
            "resize or torch.nn.functional.pad), or pass DataLoader(collate_fn=...) that pads "
            "the batch (torch.nn.utils.rnn.pad_sequence).")


def _probe_sizes(dataset) -> Optional[tuple[str, int, str, int]]:
    """(size, item, other size, other item) of two of the dataset's first items whose tensors
    differ in size, read again in this process (within PROBE_ITEMS items and PROBE_S)."""
    started = time.perf_counter()
    try:
        count = min(len(dataset), PROBE_ITEMS)
        first = _sizes(dataset[0]) if count else None
        for index in range(1, count):
            sizes = _sizes(dataset[index])
            if len(sizes) == len(first):
                for a, b in zip(first, sizes):
                    if a != b:
                        return a, 0, b, index
            if time.perf_counter() - started > PROBE_S:
                break
    except Exception:
        return None  # the dataset cannot be read here (worker-only state): say less
    return None


def _sizes(item) -> list[str]:
    """The sizes of the tensors and arrays in one item, in collate's order."""
    if isinstance(item, dict):
        return [s for value in item.values() for s in _sizes(value)]
    if isinstance(item, (tuple, list)):
        return [s for value in item for s in _sizes(value)]
    shape = getattr(item, "shape", None)
    return [str(list(shape))] if shape is not None else []


def _frames(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _in_torch_data(frame) -> bool:
    return "torch/utils/data" in frame.f_code.co_filename.replace("\\", "/")


def _raised_in_collate(exc: BaseException) -> bool:
    return any(_in_torch_data(f) for f in _frames(exc))


def _dataset_of(exc: BaseException):
    """The dataset being fetched from, read off the fetcher's frame."""
    for frame in _frames(exc):
        # Only torch's frames: reading f_locals of a live frame (the session's own, which
        # holds this exception) would keep a snapshot of its locals, and so the exception.
        if not _in_torch_data(frame):
            continue
        owner = frame.f_locals.get("self")  # a fetcher's dataset, or a worker iterator's
        dataset = getattr(owner, "dataset", None) or getattr(owner, "_dataset", None)
        if dataset is not None and hasattr(type(dataset), "__getitem__"):
            return dataset
    return None
