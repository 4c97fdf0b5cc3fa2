"""Load a user's model file into its own module namespace and find what the contract names.

The model-file contract (public, documented in the README):

    def build_model():      # or a module-level `model` (an nn.Module instance)
    def example_inputs():   # or a module-level `inputs`: a Tensor, a tuple of args, or a dict of kwargs
    def loss(output):       # optional; returns a scalar tensor

Anything that goes wrong while the file itself runs becomes a LoadError carrying the user's file
and line, never a traceback into our code.
"""

from __future__ import annotations

import inspect
import itertools
import os
import sys
import re
import traceback
import types
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch.nn as nn

from .user_frames import innermost_user_line, is_library_file

USER_MODULE_PREFIX = "torchlens_user_model_"  # sys.modules names of loaded model files

_counter = itertools.count()


# The start of a load-error's message for a file that trains when imported (the window offers
# to run such a file as a training script).
TRAINS_AT_IMPORT = "This file runs a training loop when imported"


class TrainsAtImport(BaseException):
    """Raised (by the engine's guard) when a file runs backward or an optimizer step while it
    is being imported: a training script, not a model file. BaseException so the file's own
    ``except Exception`` cannot swallow it."""


class LoadError(Exception):
    """The file could not be loaded or does not follow the contract."""

    def __init__(self, message: str, file: Optional[str] = None, line: Optional[int] = None,
                 fix: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.fix = fix


@dataclass
class ModelSpec:
    """What a session needs: how to get the model, the inputs and (optionally) the loss."""

    build: Callable[[], nn.Module]
    inputs: Callable[[], Any]
    loss: Optional[Callable[[Any], Any]]
    file: Optional[str]  # the user's file, used to pick "their" lines out of tracebacks
    name: str = "model"
    # A file to show beside a live model (no model file): where its class is defined.
    shown_file: Optional[str] = None
    # The namespace the file ran in (None for a live model): emptied by unload().
    namespace: Optional[dict] = None

    def unload(self) -> None:
        """Let go of everything the file defined (its globals hold the model, its tensors and
        functions whose globals point back at them: a cycle only a full collection would
        free). Called once the session that loaded it has ended; a live model is untouched."""
        if self.namespace is not None:
            sys.modules.pop(self.namespace.get("__name__", ""), None)
            self.namespace.clear()
            self.namespace = None
    # Training steps (optional): optimizer(model) -> torch optimizer; batches() -> iterable of
    # inputs or of (inputs, target) pairs, then loss(output, target).
    optimizer: Optional[Callable[[nn.Module], Any]] = None
    batches: Optional[Callable[[], Any]] = None
    target_loss: Optional[Callable[[Any, Any], Any]] = None  # loss(output, target), if so


def spec_from_objects(model: nn.Module, inputs: Any, loss: Optional[Callable] = None,
                      file: Optional[str] = None) -> ModelSpec:
    """A spec over live objects, for ``torchlens_gui.debug(model, inputs)``."""
    return ModelSpec(build=lambda: model, inputs=lambda: inputs, loss=loss, file=file,
                     name=type(model).__name__, shown_file=file or _class_file(model))


def _class_file(model: nn.Module) -> Optional[str]:
    """The user's file defining the model's class (None for torch's own, nn.Sequential...)."""
    try:
        found = inspect.getsourcefile(type(model))
    except (TypeError, OSError):
        return None
    return os.path.abspath(found) if found and not is_library_file(found) else None


def load_model_file(path: str) -> ModelSpec:
    """Run ``path`` in a fresh module namespace and return its ModelSpec, or raise LoadError."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise LoadError(f"No such file: {path}", fix="Check the path of the model file.")
    try:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"Cannot read {path}: {exc}", file=path) from None

    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        raise LoadError(
            f"Syntax error: {exc.msg}", file=path, line=exc.lineno,
            fix="Fix the syntax at the marked line; the file must be valid Python.",
        ) from None

    module_name = f"{USER_MODULE_PREFIX}{next(_counter)}"
    module = types.ModuleType(module_name)
    module.__file__ = path
    # Registered while its session runs so dataclasses, pickling and relative lookups work as in
    # a script; ModelSpec.unload (or a failed load) removes it.
    sys.modules[module_name] = module
    loaded = False
    folder = os.path.dirname(path)
    added_path = folder not in sys.path
    if added_path:
        sys.path.insert(0, folder)
    try:
        exec(code, module.__dict__)
        spec = _spec_from_namespace(module.__dict__, path)
        loaded = True
    except LoadError:
        raise
    except SystemExit as exc:
        line = innermost_user_line(exc.__traceback__, path)
        raise LoadError(
            f"The file called sys.exit({exc.code!r}) while loading",
            file=path, line=line,
            fix="Move script code under `if __name__ == \"__main__\":` so importing the file "
                "does not exit.",
        ) from None
    except TrainsAtImport as exc:
        line = innermost_user_line(exc.__traceback__, path)
        raise LoadError(
            f"{TRAINS_AT_IMPORT}: use `torchlens-gui run "
            f"{os.path.basename(path)}` ({exc} while loading)",
            file=path, line=line,
            fix="Run it as a script (torchlens-gui run FILE), or move the loop under "
                "`if __name__ == \"__main__\":` and define build_model() and example_inputs().",
        ) from None
    except ImportError as exc:
        line = innermost_user_line(exc.__traceback__, path)
        raise LoadError(
            f"Import failed: {exc}", file=path, line=line,
            fix=f"Install the missing package into this environment or fix the import at line {line}.",
        ) from None
    except BaseException as exc:  # KeyboardInterrupt included: a file must never kill the app
        line = innermost_user_line(exc.__traceback__, path)
        raise LoadError(
            f"{type(exc).__name__} while loading the file: {exc}", file=path, line=line,
            fix="Code at module level runs on load; fix the line shown or move it into a function.",
        ) from None
    finally:
        if added_path:
            try:
                sys.path.remove(folder)
            except ValueError:
                pass
        if not loaded:
            sys.modules.pop(module_name, None)
            module.__dict__.clear()
    spec.namespace = module.__dict__
    return spec


def _spec_from_namespace(ns: dict, path: str) -> ModelSpec:
    build = ns.get("build_model")
    model_obj = ns.get("model")
    if callable(build) and not isinstance(build, nn.Module):
        build_fn = build
    elif isinstance(model_obj, nn.Module):
        build_fn = lambda: model_obj  # noqa: E731 - the file already built it
    elif model_obj is not None:
        raise LoadError(
            f"`model` is a {type(model_obj).__name__}, not an nn.Module", file=path,
            line=_line_of_name(path, "model"),
            fix="Set `model` to an nn.Module instance, or define build_model() returning one.",
        )
    else:
        raise LoadError(
            "No model found: the file defines neither build_model() nor a module-level `model`",
            file=path,
            fix="Add `def build_model():` returning your nn.Module (see the README's model-file "
                "contract).",
        )

    make_inputs = ns.get("example_inputs")
    inputs_obj = ns.get("inputs", None)
    if callable(make_inputs):
        inputs_fn = make_inputs
    elif "inputs" in ns:
        inputs_fn = lambda: inputs_obj  # noqa: E731
    elif callable(ns.get("batches")):  # the first batch serves as the example
        inputs_fn = lambda: split_batch(_first_batch(ns["batches"]), ns.get("loss"))[0]  # noqa
    else:
        raise LoadError(
            "No inputs found: the file defines neither example_inputs() nor a module-level `inputs`",
            file=path,
            fix="Add `def example_inputs():` returning a Tensor, a tuple of args or a dict of kwargs.",
        )

    loss_fn = ns.get("loss")
    if loss_fn is not None and not callable(loss_fn):
        raise LoadError(
            f"`loss` is a {type(loss_fn).__name__}, not a function", file=path,
            line=_line_of_name(path, "loss"),
            fix="Define `def loss(output):` returning a scalar tensor, or remove `loss`.",
        )
    user_loss = None
    if callable(loss_fn) and takes_target(loss_fn) and callable(ns.get("batches")):
        user_loss = loss_fn

        def loss_fn(output):  # a single run: the first batch's target
            return user_loss(output, split_batch(_first_batch(ns["batches"]), user_loss)[1])
    name = os.path.splitext(os.path.basename(path))[0]
    optimizer_fn, batches_fn = ns.get("optimizer"), ns.get("batches")
    return ModelSpec(build=build_fn, inputs=inputs_fn, loss=loss_fn, file=path, name=name,
                     optimizer=optimizer_fn if callable(optimizer_fn) else None,
                     batches=batches_fn if callable(batches_fn) else None,
                     target_loss=user_loss)


def takes_target(loss_fn: Callable) -> bool:
    """Whether ``loss`` is ``loss(output, target)`` (two required positional parameters)."""
    try:
        params = [p for p in inspect.signature(loss_fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


def _first_batch(batches: Callable[[], Any]) -> Any:
    for item in batches():
        return item
    raise ValueError("batches() yielded nothing, and without example_inputs() its first batch "
                     "is the example input: make batches() yield at least one batch")


def split_batch(batch: Any, loss_fn: Optional[Callable]) -> tuple[Any, Any]:
    """(inputs, target) of one item of batches(): a pair when the loss takes a target."""
    if loss_fn is not None and takes_target(loss_fn) and isinstance(batch, (tuple, list)) \
            and len(batch) == 2:
        return batch[0], batch[1]
    return batch, None


def _line_of_name(path: str, name: str) -> Optional[int]:
    """The first line that assigns ``name`` at module level (for errors about it)."""
    try:
        with open(path, encoding="utf-8") as fh:
            for number, text in enumerate(fh, 1):
                if text.startswith(f"{name} ") or text.startswith(f"{name}="):
                    return number
    except OSError:
        return None
    return None


def format_exception_only(exc: BaseException) -> str:
    """``Type: message`` on one line: the error statement of a multi-line message (never a
    hint such as "Set TORCHDYNAMO_VERBOSE=1 ..." or a fragment of a listed signature)."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    name = type(exc).__name__
    # The statement starts with the type name; a SyntaxError puts its code lines before it.
    for line in lines:
        if re.match(rf"[\w.]*\b{re.escape(name)}\b(:|$)", line) and not _HINT.match(line) \
                and not line.endswith(name + ":"):
            return line
    meaningful = [line for line in lines if not _HINT.match(line)
                  and not line.endswith(name + ":")]
    return f"{name}: {meaningful[0]}" if meaningful else lines[0]


# Lines torch and TorchDynamo append to a message that say how to debug, not what failed.
_HINT = re.compile(r"(Set TORCHDYNAMO_|For even more developer context|from user code:|"
                   r"You can suppress this exception|HINT:|Hint:|Explanation:|Developer debug "
                   r"context:|For more information|File \")")
