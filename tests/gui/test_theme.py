"""Light and dark: View > Theme switches the palette, the meaning colours follow it, the choice
is remembered, and the dock layout survives the switch."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from conftest import EXAMPLES
from torchlens_gui.gui import style
from torchlens_gui.gui.theme import palette_is_dark
from torchlens_gui.gui.window_layout import Dock


def contrast(a, b) -> float:
    """WCAG contrast ratio of two QColors."""
    def luminance(c):
        channels = []
        for v in (c.redF(), c.greenF(), c.blueF()):
            channels.append(v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_palette_switch_follows_the_view_menu(driver, window, settings):
    driver.open(f"{EXAMPLES}/mlp_nan.py", run=True)
    sizes = window.docks[Dock.TENSORS].width()
    try:
        window.theme.actions["dark"].trigger()
        app = QApplication.instance()
        assert palette_is_dark(app.palette()) and style.is_dark()
        assert settings.value("theme") == "dark"
        text = app.palette().color(QPalette.ColorRole.Text)
        # Every tint that carries meaning keeps the text readable on it (WCAG AA: 4.5).
        for color in (style.CURRENT_COLOR, style.NONFINITE_COLOR, style.ERROR_COLOR,
                      style.CREATION_LINE_COLOR):
            assert contrast(color, text) >= 4.5
        assert style.NONFINITE_BRUSH.color() == style.NONFINITE_COLOR  # brushes follow
        plot = window.nonfinite_panel.plot
        assert plot.backgroundBrush().color().lightness() < 60
        assert abs(window.docks[Dock.TENSORS].width() - sizes) <= 2  # layout kept

        window.theme.actions["light"].trigger()
        assert not palette_is_dark(app.palette()) and not style.is_dark()
        text = app.palette().color(QPalette.ColorRole.Text)
        for color in (style.CURRENT_COLOR, style.NONFINITE_COLOR, style.ERROR_COLOR,
                      style.CREATION_LINE_COLOR):
            assert contrast(color, text) >= 4.5
        assert plot.backgroundBrush().color().lightness() > 200
    finally:
        window.theme.apply("system")
    assert settings.value("theme") == "system"


def test_the_chosen_theme_is_restored_at_start(qtbot, settings):
    from torchlens_gui.gui.main_window import MainWindow

    settings.setValue("theme", "dark")
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    try:
        assert win.theme.theme == "dark" and win.theme.actions["dark"].isChecked()
        assert style.is_dark()
    finally:
        win.theme.apply("system")
        win.close()
    assert not style.is_dark()
