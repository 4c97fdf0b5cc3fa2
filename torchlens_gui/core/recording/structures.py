"""Walk the nested values modules take and return: tuples, lists, dicts, dataclasses, ModelOutput."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import torch

# A module returning thousands of tensors (a list of per-token outputs) should not flood events.
MAX_LEAVES = 64
# Nesting map_tensors follows (inputs moved to the device): far beyond any real model's inputs,
# well within the interpreter's recursion limit (inputs nested 5,000 deep must not crash us).
MAX_MAP_DEPTH = 100
MAX_LOOK_DEPTH = 6  # how deep iter_leaves looks into nested values


def iter_leaves(value: Any, name: str = "", _depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Yield (name, leaf) for every leaf of a nested structure, tensors and non-tensors alike.

    Names read like the code that would reach the leaf: "[0]", "['logits']", ".last_hidden_state".
    transformers' ModelOutput is an OrderedDict, so dict handling covers it (keys that are None
    are skipped by ModelOutput itself).
    """
    if isinstance(value, torch.Tensor) or _depth > MAX_LOOK_DEPTH:
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_leaves(item, f"{name}[{key!r}]", _depth + 1)
    elif isinstance(value, (tuple, list)):
        fields = getattr(value, "_fields", None)  # namedtuple
        for index, item in enumerate(value):
            label = f"{name}.{fields[index]}" if fields else f"{name}[{index}]"
            yield from iter_leaves(item, label, _depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from iter_leaves(getattr(value, f.name, None), f"{name}.{f.name}", _depth + 1)
    else:
        yield name, value


def leaves(value: Any, name: str = "", limit: int = MAX_LEAVES) -> list[tuple[str, Any]]:
    """The first ``limit`` leaves of ``value`` as a list."""
    out = []
    for item in iter_leaves(value, name):
        out.append(item)
        if len(out) >= limit:
            break
    return out


def tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor inside a nested structure (no limit)."""
    if isinstance(value, torch.Tensor):  # the hooks' common cases, without the generator
        return [value]
    if type(value) is tuple and all(isinstance(item, torch.Tensor) for item in value):
        return list(value)
    return [leaf for _, leaf in iter_leaves(value) if isinstance(leaf, torch.Tensor)]


def map_tensors(value: Any, fn, _depth: int = 0) -> Any:
    """Apply ``fn`` to every tensor of a nested structure, keeping its shape (tuple, dict...).
    Containers nested deeper than MAX_MAP_DEPTH are passed through unchanged."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if _depth >= MAX_MAP_DEPTH:
        return value
    depth = _depth + 1
    if isinstance(value, dict):
        mapped = {k: map_tensors(v, fn, depth) for k, v in value.items()}
        try:
            return type(value)(mapped)
        except Exception:
            return mapped
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(map_tensors(v, fn, depth) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(map_tensors(v, fn, depth) for v in value)
    return value


def describe_value(value: Any) -> str:
    """A short human description of a non-tensor value."""
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return type(value).__name__
