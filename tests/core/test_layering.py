"""The layers hold: core imports no Qt, GUI or CLI, and core's groups import downward only
(engine > diagnostics > usercode > statistics > recording). The contracts are declared in
pyproject.toml and checked by import-linter."""

import os
import shutil
import subprocess
import sys

import torchlens_gui

PACKAGE = os.path.dirname(torchlens_gui.__file__)
ROOT = os.path.dirname(PACKAGE)
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "qtpy")


def lint_imports(root: str) -> subprocess.CompletedProcess:
    """import-linter over the package found under ``root``, with the project's contracts."""
    env = dict(os.environ, PYTHONPATH=root)
    command = "import sys; from importlinter.cli import lint_imports_command; " \
              "sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", command, os.path.join(ROOT, "pyproject.toml"),
                           "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True)


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_layer_importing_upward_breaks_a_contract(tmp_path):
    """The check bites: recording importing diagnostics, and core importing Qt, are caught."""
    copy = tmp_path / "torchlens_gui"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "core" / "recording" / "report.py", "a", encoding="utf-8") as fh:
        fh.write("\nfrom ..diagnostics import codes  # upward\n")
    with open(copy / "core" / "statistics" / "stats.py", "a", encoding="utf-8") as fh:
        fh.write("\nimport PySide6  # Qt in core\n")
    result = lint_imports(str(tmp_path))
    assert result.returncode == 1
    assert "Contracts: 0 kept, 2 broken." in result.stdout
    assert "torchlens_gui.core.recording.report -> torchlens_gui.core.diagnostics" in \
        result.stdout
    assert "torchlens_gui.core.statistics.stats -> PySide6" in result.stdout


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


def test_the_architecture_page_maps_every_module():
    """docs/architecture.md names every file of the package (a new one gets its line)."""
    with open(os.path.join(ROOT, "docs", "architecture.md"), encoding="utf-8") as fh:
        page = fh.read()
    missing = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py") and name != "__init__.py" and name not in page:
                missing.append(os.path.relpath(os.path.join(folder, name), PACKAGE))
    assert missing == []
