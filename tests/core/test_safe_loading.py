"""Issue 10, failure 8: any checkpoint the tool itself loads is read with weights_only=True
(unpickling a file runs code); the package never calls torch.load otherwise."""

from __future__ import annotations

import ast
import os

import torchlens_gui

PACKAGE = os.path.dirname(os.path.abspath(torchlens_gui.__file__))


def test_every_torch_load_uses_weights_only():
    unsafe = []
    for folder, _dirs, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            tree = ast.parse(open(path, encoding="utf-8").read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                        node.func.attr == "load" and getattr(node.func.value, "id", "") == "torch":
                    safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                               and k.value.value is True for k in node.keywords)
                    if not safe:
                        unsafe.append(f"{path}:{node.lineno}")
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                    if "pickle" in names:
                        unsafe.append(f"{path}:{node.lineno} imports pickle")
    assert not unsafe, unsafe
