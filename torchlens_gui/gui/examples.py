"""The bundled examples (resources/examples): one short, commented model file per kind of
problem the debugger explains, plus healthy models to learn the keys on. The welcome page and
Help > Examples list them from here."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from typing import Optional

from ..bundled import resources_dir

# Shown first: the example the README's launch command opens.
FIRST = "mlp_nan.py"
HEALTHY_PREFIX = "Example (healthy):"


@dataclass(frozen=True)
class Example:
    path: str
    title: str  # the docstring's first line, without "Example:" and the kind
    healthy: bool
    kind: str = ""  # the kind of problem (or model), the docstring's last parenthesis

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)


def examples_dir() -> Optional[str]:
    """The examples folder of this installation (checkout, wheel or packaged bundle: see
    torchlens_gui.bundled); None when it ships none."""
    try:
        return os.path.join(resources_dir(), "examples")
    except FileNotFoundError:
        return None


def bundled_examples(directory: Optional[str] = None) -> list[Example]:
    """Every example, the NaN one first, problems before healthy models, then by name."""
    directory = directory or examples_dir()
    if directory is None:
        return []
    found = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py") and not name.startswith("_"):
            found.append(_read(os.path.join(directory, name)))
    return sorted(found, key=lambda e: (e.file_name != FIRST, e.healthy, e.file_name))


def _read(path: str) -> Example:
    try:
        with open(path, encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ""
    except (OSError, SyntaxError, UnicodeDecodeError):
        doc = ""
    first = doc.splitlines()[0] if doc else os.path.basename(path)
    healthy = first.startswith(HEALTHY_PREFIX)
    for prefix in (HEALTHY_PREFIX, "Example:"):
        if first.startswith(prefix):
            first = first[len(prefix):].strip()
    kind = ""
    match = re.match(r"(.*?)\s*\(([^()]*)\)\.?$", first)
    if match:
        first, kind = match.group(1), match.group(2)
    first = first.rstrip(".")
    kind = kind or first
    return Example(path, first[:1].upper() + first[1:], healthy, kind[:1].upper() + kind[1:])
