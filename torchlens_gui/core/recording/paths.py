"""Module paths: "encoder.layers.0", the root "", and names torch's dotted form cannot carry.

A submodule registered under a name containing a dot (``module._modules["a.b"] = m``) would be
indistinguishable from a nested path in dotted form, so such a segment is quoted with
backticks: ``encoder.`a.b`.fc``. Subscripts stay part of their segment: ``layers[0]`` and
``heads['a.b']`` name what a plain attribute holds (unregistered modules).
"""

from __future__ import annotations

import re
from typing import Optional

_SEGMENT = re.compile(r"`(?:[^`\\]|\\.)*`|(?:[^.\[`]+|\[(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\]]*)\])+")


def escape_name(name: str) -> str:
    """A child's name as a path segment: itself, or quoted in backticks when it holds a dot."""
    if any(c in name for c in ".[]`"):
        return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
    return name


def join_path(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return f"{prefix}.{name}" if name else prefix


def path_segments(path: str) -> list[str]:
    """"enc.`a.b`.layers[0]" -> ["enc", "`a.b`", "layers[0]"]."""
    return _SEGMENT.findall(path) if path else []


def parent_path(path: str) -> Optional[str]:
    """"" for a top-level child, None for the root itself."""
    if path == "":
        return None
    return ".".join(path_segments(path)[:-1])


def last_segment(path: str) -> str:
    """The last component of a path ("" for the root)."""
    segments = path_segments(path)
    return segments[-1] if segments else ""
