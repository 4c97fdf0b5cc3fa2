"""Render resources/icons/torchlens-gui.svg to the PNG sizes desktops use (hicolor theme layout).

Run after editing the SVG: `QT_QPA_PLATFORM=offscreen python packaging/render_icons.py`.
The PNGs are committed, so building the installers does not need this step.
"""

from __future__ import annotations

import os
import sys

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "resources", "icons")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - painting needs an application
    renderer = QSvgRenderer(os.path.join(ICONS, "torchlens-gui.svg"))
    if not renderer.isValid():
        print("could not read the SVG", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        folder = os.path.join(ICONS, "hicolor", f"{size}x{size}", "apps")
        os.makedirs(folder, exist_ok=True)
        image.save(os.path.join(folder, "torchlens-gui.png"), "PNG")
        print(f"{size}x{size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
