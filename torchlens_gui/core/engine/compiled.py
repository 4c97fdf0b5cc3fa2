"""torch.compile under the debugger: everything runs eagerly.

A compiled module or function would hand its forward to TorchDynamo, which traces into the
debugger's own module hooks, op watch and statistics (graph breaks, wrong results) and hides
every op and submodule call inside one graph. For the session, compiled code runs eagerly
(``torch.compiler.set_stance("force_eager")``, torch 2.6+; ``torch._dynamo.config.disable`` on
older versions), so the hooks see each module and op and Dynamo never traces our code; a model
returned as ``torch.compile(net)`` is debugged through ``net``.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator, Optional

import torch
import torch.nn as nn

from ..recording.events import Diagnostic, Phase
from ..diagnostics import codes


@contextlib.contextmanager
def compiled_code_eager() -> Iterator[None]:
    """Run every torch.compile'd module and function inside the block eagerly. Nothing to do
    (and 3 s of importing Dynamo saved) while nothing has imported Dynamo: nothing is compiled."""
    if "torch._dynamo" not in sys.modules:
        yield
        return
    set_stance = getattr(getattr(torch, "compiler", None), "set_stance", None)
    if set_stance is not None:
        with set_stance("force_eager"):
            yield
        return
    try:
        import torch._dynamo as dynamo
    except Exception:  # no Dynamo: nothing can be compiled
        yield
        return
    with dynamo.config.patch(disable=True):
        yield


def original_module(model: nn.Module) -> Optional[nn.Module]:
    """The module ``torch.compile`` wrapped, or None when ``model`` is not a compiled module."""
    original = getattr(model, "_orig_mod", None)
    if isinstance(original, nn.Module) and type(model).__name__ == "OptimizedModule":
        return original
    return None


def compiled_model_info(compiled: nn.Module, original: nn.Module, file: Optional[str]
                        ) -> Diagnostic:
    """The info a session gives when build_model() returned torch.compile(net)."""
    name = type(original).__name__
    return Diagnostic(
        code=codes.COMPILED_MODEL, severity="info", phase=Phase.BUILD,
        message=f"build_model() returned torch.compile({name}): the debugger runs the original "
                f"{name} eagerly (torch.compile'd functions too), so every module and op can be "
                "watched; compiled code is numerically the same, but compile-only errors "
                "(graph breaks, recompilations) are not looked at.",
        file=file, fix="Nothing to fix. To check the compiled graph itself, run the model "
                       "outside the debugger with TORCH_LOGS=graph_breaks.")
