"""Capture what user code prints and warns while a session runs.

sys.stdout/sys.stderr are process-wide, so the capture writes only what the session thread
prints to the session; other threads' output passes straight through to the original stream.
"""

from __future__ import annotations

import collections
import contextlib
import io
import sys
import threading
import warnings
from typing import Callable, Iterator, Optional


class _ThreadTee(io.TextIOBase):
    def __init__(self, original, stream: str, thread: int, sink: Callable[[str, str], None],
                 echo: bool) -> None:
        self._original = original
        self._stream = stream
        self._thread = thread
        self._sink = sink
        self._echo = echo

    def write(self, text: str) -> int:
        if threading.get_ident() == self._thread:
            if text:
                self._sink(self._stream, text)
            if not self._echo:
                return len(text)
        return self._original.write(text) if self._original is not None else len(text)

    def retire(self) -> None:
        """Pass everything through from now on, and let go of the sink (a session's bound
        method: a retired tee that kept it would keep that session's whole record alive)."""
        self._thread = None
        self._sink = _discard

    def flush(self) -> None:
        if self._original is not None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self):  # some libraries query it
        return getattr(self._original, "encoding", "utf-8")


WarningHandler = Callable[[warnings.WarningMessage], None]


def _discard(stream: str, text: str) -> None:
    pass

# print() on CPython 3.11 holds only a borrowed reference to sys.stdout: if the session thread
# restores the old stream while another thread is inside print(), a freed tee would be used
# (AttributeError, then a segfault). Retired tees are kept alive so that can never happen.
_RETIRED: "collections.deque[_ThreadTee]" = collections.deque(maxlen=64)


@contextlib.contextmanager
def capture_output(sink: Callable[[str, str], None], on_warning: Optional[WarningHandler] = None,
                   echo: bool = False) -> Iterator[None]:
    """Send this thread's stdout/stderr text and every warning to ``sink`` / ``on_warning``."""
    thread = threading.get_ident()
    old_out, old_err = sys.stdout, sys.stderr
    tees = (_ThreadTee(old_out, "stdout", thread, sink, echo),
            _ThreadTee(old_err, "stderr", thread, sink, echo))
    sys.stdout, sys.stderr = tees
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            original_show = warnings.showwarning

            def show(message, category, filename, lineno, file=None, line=None):
                if threading.get_ident() != thread:
                    return original_show(message, category, filename, lineno, file, line)
                record = warnings.WarningMessage(message, category, filename, lineno, file, line)
                sink("warning", f"{filename}:{lineno}: {category.__name__}: {message}\n")
                if on_warning is not None:
                    on_warning(record)

            warnings.showwarning = show
            yield
    finally:
        for tee in tees:
            tee.retire()
        _RETIRED.extend(tees)
        # Sessions can overlap (a run abandoned in a C call ends while the next one runs):
        # put back only our own tee, and never a retired one.
        if sys.stdout is tees[0]:
            sys.stdout = _live(old_out)
        if sys.stderr is tees[1]:
            sys.stderr = _live(old_err)


def _live(stream):
    """``stream``, or the stream a retired tee (of an ended session) passes everything to."""
    while isinstance(stream, _ThreadTee) and stream._thread is None:
        stream = stream._original
    return stream
