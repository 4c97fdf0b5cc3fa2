"""The desktop debugger (PySide6 + pyqtgraph). Only this package imports Qt."""

from . import refcounts  # noqa: F401  (first: every Qt call after it is safe)
