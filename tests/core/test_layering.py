"""The core engine stays Qt-free: nothing under torchlens_gui/core imports Qt or pyqtgraph."""

import ast
import os
import subprocess
import sys

import torchlens_gui

CORE = os.path.join(os.path.dirname(torchlens_gui.__file__), "core")
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "qtpy")


def imported_roots(path: str) -> set[str]:
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), path)
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_core_file_imports_qt():
    offenders = []
    for folder, _, files in os.walk(CORE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                bad = imported_roots(path) & set(FORBIDDEN)
                if bad:
                    offenders.append(f"{os.path.relpath(path, CORE)}: {sorted(bad)}")
    assert offenders == []


def test_importing_core_and_cli_check_loads_no_qt():
    code = ("import sys, torchlens_gui.core.engine.session, torchlens_gui.core.recording.report, torchlens_gui.cli;"
            "print([m for m in sys.modules if m.split('.')[0] in %r])" % (FORBIDDEN,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_debuggers_own_files_are_never_user_code():
    """Frames in any of the package's files (GUI and CLI included) are ours, not the user's."""
    import torchlens_gui.cli
    from torchlens_gui.core.usercode.user_frames import is_library_file, is_user_file

    gui_file = os.path.join(os.path.dirname(torchlens_gui.cli.__file__), "gui", "main_window.py")
    assert is_library_file(torchlens_gui.cli.__file__)
    assert is_library_file(gui_file)
    assert not is_user_file(gui_file, None)
    assert is_user_file(os.path.abspath("my_model.py"), None)
