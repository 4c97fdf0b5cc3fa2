"""A guard against a reference-count bug of the Qt binding.

PySide6 6.12 returns None from void methods, and True or False from Signal.emit, without a
reference of their own. On CPython 3.12 and later those objects are immortal and nothing
happens; on 3.11 every such call takes one of their references for good, and the interpreter
aborts ("deallocating None", "deallocating True or False") once they run out: after some tens of
thousands of calls, a few minutes of a run, or at exit. The guard measures the bug rather than
trusting a version number and, where it is present, gives the three objects a reserve of
references no session can use up. pyproject.toml keeps 6.12.0 out on 3.11 (6.11.3 is clean);
the guard covers environments that have it anyway.
"""

from __future__ import annotations

import ctypes
import sys

RESERVE = 1 << 40  # a million calls a second would take twelve days


def guard_singletons() -> bool:
    """Give None, True and False their reserve when void calls take references (True then)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    from PySide6.QtCore import QModelRoleData

    probe = QModelRoleData(0)
    probe.setData(0)  # the first call also sets things up (imports, caches)
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setData(0)
    if before - sys.getrefcount(None) < 64:
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += RESERVE
    return True


GUARDED = guard_singletons()
