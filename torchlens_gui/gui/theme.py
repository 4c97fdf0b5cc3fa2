"""Light and dark: the window follows the system's palette unless View > Theme overrides it,
and the colours that carry meaning (style.py) follow whichever palette is in use."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QStyleFactory

from . import style

THEMES = {"system": "&System", "light": "&Light", "dark": "&Dark"}
SETTING = "theme"


def palette_is_dark(palette: QPalette) -> bool:
    """A palette whose window is darker than its text."""
    return palette.color(QPalette.ColorRole.Window).lightness() < \
        palette.color(QPalette.ColorRole.WindowText).lightness()


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (the base of VS Code's and PyCharm's dark themes)."""
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colors = {role.Window: (45, 45, 48), role.WindowText: (220, 220, 220),
              role.Base: (30, 30, 30), role.AlternateBase: (40, 40, 44),
              role.ToolTipBase: (60, 60, 64), role.ToolTipText: (230, 230, 230),
              role.PlaceholderText: (140, 140, 140), role.Text: (220, 220, 220),
              role.Button: (55, 55, 58), role.ButtonText: (220, 220, 220),
              role.BrightText: (255, 90, 90), role.Link: (110, 165, 240),
              role.Highlight: (38, 99, 170), role.HighlightedText: (255, 255, 255),
              role.Light: (75, 75, 78), role.Midlight: (62, 62, 65), role.Mid: (50, 50, 53),
              role.Dark: (25, 25, 27), role.Shadow: (10, 10, 10)}
    for r, rgb in colors.items():
        p.setColor(r, QColor(*rgb))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(120, 120, 120))
    return p


class ThemeSwitcher(QObject):
    """Applies a theme to the application and keeps the meaning colours in step with it."""

    def __init__(self, settings: QSettings, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.settings = settings
        app = QApplication.instance()
        # The system's own look, to go back to from an explicit light or dark theme.
        self._system_style = app.style().name()
        self._system_palette = QPalette(app.palette())
        self.theme = "system"
        self.actions: dict[str, QAction] = {}
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):  # Qt 6.5+: the desktop switched light/dark
            hints.colorSchemeChanged.connect(self._on_system_scheme_changed)

    def build_menu(self, view_menu: QMenu) -> QMenu:
        """View > Theme: System, Light, Dark (exclusive)."""
        menu = view_menu.addMenu("&Theme")
        group = QActionGroup(menu)
        for name, text in THEMES.items():
            action = QAction(text, menu, checkable=True)
            action.setStatusTip(f"Draw the window with the {name} palette" if name != "system"
                                else "Follow the system's light or dark palette")
            action.triggered.connect(lambda _checked=False, n=name: self.apply(n))
            group.addAction(action)
            menu.addAction(action)
            self.actions[name] = action
        self.actions[self.theme].setChecked(True)
        return menu

    def restore(self) -> None:
        """The theme chosen last time (the system's by default)."""
        saved = str(self.settings.value(SETTING, "system"))
        self.apply(saved if saved in THEMES else "system", save=False)

    def apply(self, theme: str, save: bool = True) -> None:
        app = QApplication.instance()
        window = self.parent()
        # A new style brings new metrics, and the docks would be laid out anew: keep them.
        state = window.saveState() if isinstance(window, QMainWindow) else None
        if theme == "system":
            app.setStyle(QStyleFactory.create(self._system_style) or app.style())
            app.setPalette(self._system_palette)
        else:
            app.setStyle(QStyleFactory.create("Fusion"))
            app.setPalette(dark_palette() if theme == "dark" else
                           app.style().standardPalette())
        self.theme = theme
        if theme in self.actions:
            self.actions[theme].setChecked(True)
        if save:
            self.settings.setValue(SETTING, theme)
        style.set_dark(palette_is_dark(app.palette()))
        if state is not None:
            window.restoreState(state)

    def _on_system_scheme_changed(self, _scheme) -> None:
        if self.theme == "system":
            app = QApplication.instance()
            self._system_palette = QPalette(app.palette())
            style.set_dark(palette_is_dark(self._system_palette))
