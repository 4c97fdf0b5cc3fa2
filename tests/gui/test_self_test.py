"""`torchlens-gui --self-test`, as the installers' build and a user run it."""

from __future__ import annotations

import subprocess
import sys

import torch


def test_self_test_prints_one_line_and_exits_0():
    result = subprocess.run([sys.executable, "-m", "torchlens_gui", "--self-test",
                             "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("self-test OK: torchlens-gui ")
    assert f"torch {torch.__version__}" in line and "PySide6 " in line and "device cpu" in line
    assert "mlp_nan.py -> non-finite in norm at mlp_nan.py:16, forward+backward" in line
    assert line.endswith(" s")
