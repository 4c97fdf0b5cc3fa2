"""Read the user's own source text so a fix can quote and rewrite it.

A diagnostic is worth most when it says "change nn.Linear(30, 10) at model.py:14 to
nn.Linear(20, 10)": that needs the constructor call as the user wrote it (from the creation site
the engine recorded) and a copy of it with one argument replaced.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import os
import re
from typing import Optional

import torch.nn as nn

from ..usercode.context import SessionContext
from ..recording.events import SourceLocation


def short_location(file: Optional[str], line: Optional[int]) -> str:
    """"model.py:14" (or "" when unknown)."""
    if not file or not line:
        return ""
    return f"{os.path.basename(file)}:{line}"


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


@functools.lru_cache(maxsize=32)
def _parsed_file(file: str, mtime: float) -> Optional[ast.AST]:
    try:
        with open(file, encoding="utf-8") as fh:
            return ast.parse(fh.read(), file)
    except (OSError, SyntaxError, ValueError):
        return None


def calls_on_line(file: str, line: int) -> list[ast.Call]:
    """Every call expression that starts on ``line`` of ``file`` (the whole file is parsed, so
    a constructor inside a ``nn.Sequential(...)`` spread over lines is found too)."""
    try:
        tree = _parsed_file(file, os.path.getmtime(file))
    except OSError:
        return []
    if tree is None:
        return []
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and node.lineno == line]


def constructor_call(site: Optional[SourceLocation], type_name: str, rank: int = 0
                     ) -> Optional[ast.Call]:
    """The ``TypeName(...)`` call on the creation-site line, parsed (a fresh copy each time, so
    callers may edit it). ``rank`` picks among several such calls on one line, in source order
    (``nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))``); a single call made in
    a loop or comprehension serves every rank. None when not found."""
    if site is None:
        return None
    calls = sorted((node for node in calls_on_line(site.file, site.line)
                    if _call_name(node) == type_name), key=lambda n: n.col_offset)
    if not calls:
        return None
    return copy.deepcopy(calls[rank] if rank < len(calls) else calls[0])


def call_text(call: ast.Call) -> str:
    return ast.unparse(call)


def constructor_text(ctx: SessionContext, path: Optional[str], module: Optional[nn.Module]
                     ) -> str:
    """How the user wrote the module: "nn.Linear(30, 10)" from the source when we can read it,
    else the module's own repr ("Linear(in_features=30, out_features=10, bias=True)")."""
    site = ctx.site_of(path)
    if module is None:
        return path or "(root)"
    call = _written_call(ctx, path, module)
    if call is not None:
        return call_text(call)
    return _short_repr(module)


def _written_call(ctx: SessionContext, path: Optional[str], module: nn.Module
                  ) -> Optional[ast.Call]:
    """The constructor call as written, found by the class name now or at build time (a
    LazyLinear turns into a Linear on its first forward)."""
    site = ctx.site_of(path)
    node = ctx.record.nodes.get(path) if path is not None else None
    for name in dict.fromkeys((type(module).__name__, node.type_name if node else "")):
        call = constructor_call(site, name, _rank_on_line(ctx, path, name)) if name else None
        if call is not None:
            return call
    return None


def _rank_on_line(ctx: SessionContext, path: Optional[str], type_name: str) -> int:
    """How many modules of the same type were built on the same line before this one (modules
    are registered in the order the line's calls run)."""
    node = ctx.record.nodes.get(path) if path is not None else None
    if node is None or node.created_at is None:
        return 0
    rank = 0
    for other in ctx.record.nodes.values():
        if other.path == path:
            return rank
        if other.created_at == node.created_at and other.type_name == type_name:
            rank += 1
    return 0


def _short_repr(module: nn.Module) -> str:
    extra = module.extra_repr()
    return f"{type(module).__name__}({extra})" if "\n" not in extra else type(module).__name__


def rewrite_argument(ctx: SessionContext, path: Optional[str], module: nn.Module, position: int,
                     keyword: str, value: object) -> Optional[str]:
    """The module's constructor call with one argument replaced: ``nn.Linear(20, 10)`` for
    position 0 / keyword "in_features" / value 20. None when the call cannot be read."""
    call = _written_call(ctx, path, module)
    if call is None:
        return None
    new_value = ast.Constant(value) if not isinstance(value, ast.AST) else value
    replaced = False
    for kw in call.keywords:
        if kw.arg == keyword:
            kw.value, replaced = new_value, True
    if not replaced and len(call.args) > position and not any(
            isinstance(a, ast.Starred) for a in call.args[:position + 1]):
        call.args[position], replaced = new_value, True
    return call_text(call) if replaced else None


def change_fix(ctx: SessionContext, path: Optional[str], module: nn.Module, position: int,
               keyword: str, value: object) -> str:
    """"change nn.Linear(30, 10) at model.py:14 to nn.Linear(20, 10)" (or the nearest wording
    we can give when the source cannot be read)."""
    site = ctx.site_of(path)
    where = f" at {site.short()}" if site else ""
    before = constructor_text(ctx, path, module)
    after = rewrite_argument(ctx, path, module, position, keyword, value)
    if after is not None:
        return f"change {before}{where} to {after}"
    return f"set {keyword}={value!r} in {before}{where}"


def described(ctx: SessionContext, path: Optional[str], module: Optional[nn.Module] = None
              ) -> str:
    """"fc2 (nn.Linear(30, 10) at model.py:14)": a module named the way the user knows it."""
    module = module if module is not None else ctx.module_at(path)
    name = path if path else "the model (root)"
    if module is None:
        return name
    site = ctx.site_of(path)
    where = f" at {site.short()}" if site else ""
    return f"{name} ({constructor_text(ctx, path, module)}{where})"


def assignment_line(cls: type, attribute: str) -> Optional[tuple[str, int]]:
    """(file, line) where ``self.<attribute> = ...`` is written in a class's source."""
    try:
        lines, start = inspect.getsourcelines(cls)
        file = inspect.getsourcefile(cls)
    except (OSError, TypeError):
        return None
    pattern = re.compile(rf"\bself\.{re.escape(attribute)}\s*=[^=]")
    for offset, text in enumerate(lines):
        if pattern.search(text):
            return (os.path.abspath(file), start + offset) if file else None
    return None


def forward_line_with(module: nn.Module, words: tuple[str, ...]) -> Optional[tuple[str, int]]:
    """(file, line) of the first line of ``type(module).forward`` that contains one of
    ``words`` (an op name such as "sqrt" or "/"): where a backward failure's op was written."""
    forward = type(module).forward
    try:
        lines, start = inspect.getsourcelines(forward)
        file = inspect.getsourcefile(forward)
    except (OSError, TypeError):
        return None
    if not file:
        return None
    for offset, text in enumerate(lines[1:], 1):  # skip the def line itself
        code = text.split("#", 1)[0]
        if any(word in code for word in words):
            return os.path.abspath(file), start + offset
    return None


def function_return_line(file: Optional[str], name: str) -> Optional[int]:
    """The line of the last ``return`` in the module-level function ``name`` of ``file`` (where
    example_inputs() hands its batch over), or its ``def`` line."""
    if not file:
        return None
    try:
        tree = _parsed_file(file, os.path.getmtime(file))
    except OSError:
        return None
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            returns = [n.lineno for n in ast.walk(node) if isinstance(n, ast.Return)]
            return max(returns) if returns else node.lineno
    return None


def assigned_name(file: Optional[str], line: Optional[int]) -> Optional[str]:
    """The plain name a statement at ``file:line`` assigns to (``proj`` for
    ``proj = nn.Linear(32, 4)``), or None."""
    if not file or not line:
        return None
    try:
        tree = _parsed_file(file, os.path.getmtime(file))
    except OSError:
        return None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Assign) and node.lineno == line and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
    return None
