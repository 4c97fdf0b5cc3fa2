"""Start-up without a usable display: a message naming what is missing and exit 2, never Qt's
abort and core dump. The probe takes the loader and the X connection test as parameters, so
machines without libraries or a display are simulated exactly; two real processes check the
exit status end to end."""

from __future__ import annotations

import os
import subprocess
import sys

from torchlens_gui.gui.display_check import (
    XCB_LIBRARIES, display_problem, missing_libraries, requested_platforms,
)


def loader_without(*absent: str):
    def load(soname: str):
        if soname in absent:
            raise OSError(f"{soname}: cannot open shared object file: No such file or directory")
        return object()
    return load


def reachable(_display: str) -> bool:
    return True


def test_all_present_and_a_display_opens():
    assert display_problem({"DISPLAY": ":0"}, loader_without(), reachable, "linux") is None


def test_missing_xcb_libraries_are_named_with_their_debian_packages():
    load = loader_without("libxcb-cursor.so.0", "libxkbcommon-x11.so.0")
    message = display_problem({"DISPLAY": ":0"}, load, reachable, "linux")
    assert "libxcb-cursor.so.0, libxkbcommon-x11.so.0" in message
    assert "sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0" in message
    assert "torchlens-gui check MODEL.py" in message and "--screenshot" in message


def test_no_display_says_so_and_offers_the_headless_ways():
    message = display_problem({}, loader_without(), reachable, "linux")
    assert "DISPLAY is not set" in message
    assert "torchlens-gui check MODEL.py" in message


def test_unreachable_x_server():
    message = display_problem({"DISPLAY": ":9"}, loader_without(), lambda d: False, "linux")
    assert "cannot connect to the X display ':9'" in message


def test_headless_platforms_need_no_display_but_still_qt_gui_libraries():
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, loader_without(), reachable,
                           "linux") is None
    message = display_problem({"QT_QPA_PLATFORM": "offscreen"}, loader_without("libEGL.so.1"),
                              reachable, "linux")
    assert "libEGL.so.1" in message and "libegl1" in message


def test_wayland_session_falls_back_to_x11(tmp_path):
    env = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0",
           "XDG_RUNTIME_DIR": str(tmp_path), "DISPLAY": ":0"}
    # no Wayland socket, but XWayland's DISPLAY works
    assert display_problem(env, loader_without(), reachable, "linux") is None
    (tmp_path / "wayland-0").touch()
    env.pop("DISPLAY")
    assert display_problem(env, loader_without(), reachable, "linux") is None
    message = display_problem(env, loader_without("libwayland-client.so.0"), reachable, "linux")
    assert "libwayland-client0" in message and "DISPLAY is not set" in message


def test_platform_list_parsing_and_other_systems():
    assert requested_platforms({"QT_QPA_PLATFORM": "xcb:dpi=96;offscreen"}) == ["xcb", "offscreen"]
    assert requested_platforms({}) == ["xcb"]
    assert display_problem({}, loader_without("libGL.so.1"), reachable, "win32") is None


def test_the_real_loader_finds_libc_and_not_a_missing_library():
    rows = [("libc.so.6", "libc6"), ("libtorchlens-nonexistent.so.9", "nothing")]
    assert missing_libraries(rows) == [rows[1]]
    assert len({package for _, package in XCB_LIBRARIES}) == len(XCB_LIBRARIES)


def _start_app(env_changes: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-m", "torchlens_gui"], env=env, capture_output=True,
                          text=True, timeout=120)


def test_app_without_a_display_exits_2_with_the_message():
    result = _start_app({})
    assert result.returncode == 2, result.stderr
    assert "torchlens-gui cannot open its window" in result.stderr
    assert "DISPLAY is not set" in result.stderr


def test_a_platform_plugin_that_fails_in_qt_exits_2_not_a_core_dump():
    # Past the probe (a plugin name it does not know), Qt's own fatal error is caught.
    result = _start_app({"QT_QPA_PLATFORM": "no-such-platform"})
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert 'Could not find the Qt platform plugin "no-such-platform"' in result.stderr
    assert "torchlens-gui check MODEL.py" in result.stderr
