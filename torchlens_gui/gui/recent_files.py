"""Recent files, kept in QSettings and shown as a menu."""

from __future__ import annotations

import os
from typing import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

KEY = "recent_files"
MAX_FILES = 10


class RecentFiles:
    """Most recent first, existing files only, at most MAX_FILES."""

    def __init__(self, settings: QSettings, menu: QMenu, open_file: Callable[[str], None]) -> None:
        self.settings = settings
        self.menu = menu
        self.open_file = open_file
        self._rebuild()

    def files(self) -> list[str]:
        value = self.settings.value(KEY, [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [f for f in (value or []) if isinstance(f, str)]

    def add(self, path: str) -> None:
        path = os.path.abspath(path)
        files = [path] + [f for f in self.files() if f != path]
        self.settings.setValue(KEY, files[:MAX_FILES])
        self._rebuild()

    def _rebuild(self) -> None:
        self.menu.clear()
        files = [f for f in self.files() if os.path.isfile(f)]
        for index, path in enumerate(files):
            action = self.menu.addAction(f"&{index + 1} {os.path.basename(path)}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_file(p))
        self.menu.setEnabled(bool(files))
