"""Find the user's own lines in tracebacks and call stacks, skipping torch and our own code."""

from __future__ import annotations

import os
import sys
import sysconfig
from types import FrameType, TracebackType
from typing import Optional

# core/usercode/user_frames.py -> the torchlens_gui package folder
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LIBRARY_DIRS = tuple(
    os.path.abspath(p) + os.sep
    for p in {sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("purelib"),
              sysconfig.get_paths().get("platlib")}
    if p
)
# In a PyInstaller bundle the libraries lie in sys._MEIPASS, and the modules it archived carry
# file names relative to that folder ("torch/nn/modules/module.py").
_BUNDLE_DIR = getattr(sys, "_MEIPASS", None)
if _BUNDLE_DIR:
    _LIBRARY_DIRS += (os.path.abspath(_BUNDLE_DIR) + os.sep,)


def is_library_file(filename: str) -> bool:
    """True for files of the standard library, installed packages and torchlens_gui itself."""
    if not filename or filename.startswith("<"):
        return True
    if _BUNDLE_DIR and not os.path.isabs(filename):
        return True
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) or path.startswith(_LIBRARY_DIRS) or (
        "site-packages" in path
    )


def is_user_file(filename: str, user_file: Optional[str]) -> bool:
    """The model file itself when we know it, otherwise any file that is not library code."""
    if user_file:
        return os.path.abspath(filename) == user_file
    return not is_library_file(filename)


def innermost_user_frame(tb: Optional[TracebackType], user_file: Optional[str]
                         ) -> Optional[tuple[str, int]]:
    """(file, line) of the innermost traceback entry in the user's code."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if is_user_file(filename, user_file):
            found = (os.path.abspath(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found


def innermost_user_line(tb: Optional[TracebackType], user_file: Optional[str]) -> Optional[int]:
    found = innermost_user_frame(tb, user_file)
    return found[1] if found else None


def caller_user_frame(user_file: Optional[str], skip: int = 1) -> Optional[tuple[str, int]]:
    """(file, line) of the nearest frame on the current call stack in the user's code."""
    frame: Optional[FrameType] = sys._getframe(skip)
    while frame is not None:
        if is_user_file(frame.f_code.co_filename, user_file):
            return os.path.abspath(frame.f_code.co_filename), frame.f_lineno
        frame = frame.f_back
    return None
