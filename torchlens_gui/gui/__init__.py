"""The desktop debugger (PySide6 + pyqtgraph). Only this package imports Qt."""
