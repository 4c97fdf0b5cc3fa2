"""The device selector: CPU and each CUDA device; unusable entries are listed, disabled, with
the reason as their tooltip."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QComboBox, QWidget

from ..core.engine.devices import list_devices


def make_device_combo(current: str, parent: Optional[QWidget] = None) -> QComboBox:
    """A combo whose item data are device names; ``current`` selected when it is listed."""
    combo = QComboBox(parent)
    combo.setToolTip("Device the model runs on; changing it restarts the session")
    for choice in list_devices():
        combo.addItem(choice.label, choice.name)
        if not choice.available:
            item = combo.model().item(combo.count() - 1)
            item.setEnabled(False)  # listed so the user learns why it cannot be used
            item.setToolTip(choice.reason or "")
            combo.setItemText(combo.count() - 1, f"{choice.label} (unavailable)")
    index = combo.findData(current)
    combo.setCurrentIndex(index if index >= 0 else 0)
    return combo
