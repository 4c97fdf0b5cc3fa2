"""Can Qt open a window here? Asked before the QApplication exists, because when it cannot, Qt
aborts the process (and dumps core) instead of raising.

The answer names what is missing (no display, or the system libraries of Qt's xcb plugin with
the Debian packages that bring them) and the headless ways to use the debugger. Qt is not
imported here: the libraries probed are the ones importing QtGui/QtWidgets would need.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Callable, Mapping, Optional, Sequence

# soname -> Debian/Ubuntu package. Needed by QtGui/QtWidgets whatever the platform plugin.
GUI_LIBRARIES = (
    ("libGL.so.1", "libgl1"),
    ("libEGL.so.1", "libegl1"),
    ("libX11.so.6", "libx11-6"),
    ("libxkbcommon.so.0", "libxkbcommon0"),
    ("libfontconfig.so.1", "libfontconfig1"),
    ("libfreetype.so.6", "libfreetype6"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
    ("libdbus-1.so.3", "libdbus-1-3"),
)
# Needed by the xcb platform plugin (X11, and XWayland), on top of the above.
XCB_LIBRARIES = (
    ("libxcb.so.1", "libxcb1"),
    ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-render.so.0", "libxcb-render0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-shm.so.0", "libxcb-shm0"),
    ("libxcb-sync.so.1", "libxcb-sync1"),
    ("libxcb-util.so.1", "libxcb-util1"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
)
WAYLAND_LIBRARIES = (
    ("libwayland-client.so.0", "libwayland-client0"),
    ("libwayland-cursor.so.0", "libwayland-cursor0"),
)
# Platform plugins that draw into memory or straight to the hardware: no display server.
HEADLESS_PLATFORMS = {"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb",
                      "vkkhrdisplay"}
HEADLESS_HINT = (
    "Without a display the same debugger runs in a terminal: `torchlens-gui check MODEL.py` "
    "(add --json for a machine-readable report), and `torchlens-gui MODEL.py --run "
    "--screenshot window.png` saves the window to a PNG.")

Loader = Callable[[str], object]


def _can_load(soname: str, load: Loader) -> bool:
    try:
        load(soname)
    except OSError:
        return False
    return True


def missing_libraries(table: Sequence[tuple[str, str]], load: Loader = ctypes.CDLL
                      ) -> list[tuple[str, str]]:
    """The (soname, package) rows of ``table`` that the dynamic loader cannot find."""
    return [row for row in table if not _can_load(row[0], load)]


def requested_platforms(env: Mapping[str, str]) -> list[str]:
    """Platform plugins Qt will try, in order, the way QGuiApplication picks them on Linux."""
    explicit = env.get("QT_QPA_PLATFORM", "").strip()
    if explicit:
        # "xcb:option=value;wayland" -> ["xcb", "wayland"]
        return [name.split(":")[0].strip() for name in explicit.split(";") if name.strip()]
    if env.get("XDG_SESSION_TYPE") == "wayland":
        return ["wayland", "xcb"]
    return ["xcb"]


def x_server_reachable(display: str, load: Loader = ctypes.CDLL) -> bool:
    """True when libxcb connects to ``display`` (what Qt's xcb plugin does first)."""
    try:
        xcb = load("libxcb.so.1")
    except OSError:
        return False
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return bool(connection) and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)  # also frees the error object of a failed connect


def _wayland_socket(env: Mapping[str, str]) -> Optional[str]:
    name = env.get("WAYLAND_DISPLAY") or "wayland-0"
    if os.path.isabs(name):
        return name
    runtime = env.get("XDG_RUNTIME_DIR")
    return os.path.join(runtime, name) if runtime else None


def _platform_problem(platform: str, env: Mapping[str, str], load: Loader,
                      reachable: Callable[[str], bool]) -> Optional[str]:
    """Why ``platform`` cannot open a window, or None when it can (or we cannot tell)."""
    if platform == "xcb":
        display = env.get("DISPLAY", "")
        if not display:
            return "no X display (DISPLAY is not set)"
        missing = missing_libraries(XCB_LIBRARIES, load)
        if missing:
            return _missing_text("Qt's xcb platform plugin (X11)", missing)
        if not reachable(display):
            return f"cannot connect to the X display {display!r} (is the X server running, " \
                   f"and may this user connect to it?)"
        return None
    if platform == "wayland":
        socket = _wayland_socket(env)
        if not socket or not os.path.exists(socket):
            return "no Wayland display (WAYLAND_DISPLAY/XDG_RUNTIME_DIR name no socket)"
        missing = missing_libraries(WAYLAND_LIBRARIES, load)
        return _missing_text("Qt's wayland platform plugin", missing) if missing else None
    return None  # headless or a plugin we do not know: let Qt decide


def _missing_text(what: str, missing: Sequence[tuple[str, str]]) -> str:
    names = ", ".join(soname for soname, _ in missing)
    packages = " ".join(package for _, package in missing)
    return (f"{what} needs system libraries that are not installed: {names}.\n"
            f"  On Debian/Ubuntu install them with:\n"
            f"    sudo apt-get install {packages}\n"
            f"  (the torchlens-gui .deb package depends on them, so installing it brings them)")


def display_problem(env: Optional[Mapping[str, str]] = None, load: Loader = ctypes.CDLL,
                    reachable: Optional[Callable[[str], bool]] = None,
                    platform: str = sys.platform) -> Optional[str]:
    """A message saying why no window can open here and what to do, or None when one can.

    ``load`` and ``reachable`` are the dynamic loader and the X connection test (parameters so
    tests can simulate machines that lack libraries or a display)."""
    if not platform.startswith("linux"):
        return None  # Windows and macOS plugins need nothing from the system
    env = os.environ if env is None else env
    reachable = reachable or (lambda display: x_server_reachable(display, load))
    missing = missing_libraries(GUI_LIBRARIES, load)
    if missing:
        return _message(_missing_text("Qt (QtGui)", missing))
    platforms = requested_platforms(env)
    if any(name in HEADLESS_PLATFORMS for name in platforms):
        return None
    problems = [_platform_problem(name, env, load, reachable) for name in platforms]
    if any(problem is None for problem in problems):
        return None
    return _message("\n".join(f"{name}: {problem}" for name, problem in zip(platforms, problems)))


def _message(reason: str) -> str:
    return (f"torchlens-gui cannot open its window.\n{reason}\n{HEADLESS_HINT}\n"
            f"To test the window without a screen: QT_QPA_PLATFORM=offscreen torchlens-gui "
            f"--self-test")


def create_application(factory: Callable[[], object]) -> object:
    """Call ``factory`` (which makes the QApplication) so that a fatal error of Qt's start-up
    (a platform plugin that still fails to load) exits 2 with our advice instead of aborting
    with a core dump. Qt's other start-up messages are printed as Qt prints them."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    def on_message(kind, context, text: str) -> None:
        category = f"{context.category}: " if context.category not in (None, "default") else ""
        sys.stderr.write(f"{category}{text}\n")
        if kind == QtMsgType.QtFatalMsg:
            sys.stderr.write(_message("Qt could not start its platform plugin (above).") + "\n")
            sys.stderr.flush()
            os._exit(2)  # qFatal aborts when we return: leave first, without a core dump

    qInstallMessageHandler(on_message)
    try:
        return factory()
    finally:
        qInstallMessageHandler(None)
