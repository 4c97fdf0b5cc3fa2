"""``dry-run-incomplete`` (info): where a dry run cannot go on.

The meta device has shapes but no data, so a data-dependent op (``.item()``, ``bool(t)``,
``.tolist()``, ``nonzero``, boolean-mask indexing, ``unique``), an op with no meta kernel or a
copy to the host stops a dry run. That is a limit of the dry run, not a bug in the model: the
run stops there, everything that ran keeps its shapes, and the finding is an info naming the
module, the op and the line (exit 0 when nothing before it was wrong). Tensors on two devices
(``cpu`` and ``meta``) are left to ``device-mismatch``: that mix fails on CUDA too.
"""

from __future__ import annotations

import os
import re
from typing import Optional

import torch

from ..recording.events import Diagnostic
from . import codes
from ..usercode.context import SessionContext
from ..usercode.user_frames import innermost_user_frame
from .sources import short_location
from .where import Where

_META_LIMIT = re.compile(
    r"cannot be called on meta tensors|with Meta tensors|from the 'Meta' backend|"
    r"meta tensor|meta device type tensor|device_type 'meta'|data-independent implementation "
    r"does not exist|data-dependent", re.IGNORECASE)
_READS_VALUES = "reads a tensor's value (.item(), bool(t), int(t) or an if on a tensor)"
_WHAT_STOPS = {
    "Tensor.item": _READS_VALUES, "Tensor.__bool__": _READS_VALUES,
    "Tensor.__int__": _READS_VALUES, "Tensor.__float__": _READS_VALUES,
    "Tensor.tolist": "copies values out (.tolist())", "Tensor.numpy": "copies values to NumPy",
    "Tensor.cpu": "copies values to the CPU", "torch.autocast": "asks for autocast on its inputs' "
    "device type (meta)",
}
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + \
    os.sep


def explain_meta_limit(exc: BaseException, text: str, phase: str, ctx: SessionContext,
                       where: Where) -> Optional[Diagnostic]:
    """The info for an exception that only means "the meta device cannot do this"."""
    if not ctx.dry_run or not _META_LIMIT.search(text):
        return None
    op = where.failure.op if where.failure is not None else _op_from_text(text)
    what = _WHAT_STOPS.get(op) or (
        "makes an output whose shape depends on the values" if "data-" in text else
        "has no meta kernel" if "Meta" in text else "needs the tensors' values")
    file, line = _line_that_ran(exc, ctx, where)
    at = short_location(file, line)
    module = f" in {where.module or '(root)'}" if where.module is not None else ""
    return Diagnostic(
        code=codes.DRY_RUN_INCOMPLETE, severity="info", phase=phase,
        message=f"The dry run stopped at {op}{module}"
                + (f" ({at})" if at else "") + f": it {what}, which the meta device cannot "
                "do (it holds shapes, no data). Everything before it ran, with the shapes "
                f"shown; the rest was not checked. ({text.splitlines()[0][:160]})",
        fix=("build_model() does more than build here (it reads values, as a training step "
             "does): move that work out of build_model(), or run" if phase == "build" else
             "Nothing to fix in the model. Run") + " without --dry-run (on a smaller batch or "
            "config if memory is short) to check past this point.", module=where.module,
        call_index=where.call_index, file=file, line=line,
        details=(("op", op),))


def _line_that_ran(exc: BaseException, ctx: SessionContext, where: Where
                   ) -> tuple[Optional[str], Optional[int]]:
    """The user's line that ran the op; inside a library's forward (a transformers model), the
    library's line, which says more than the line that built the model."""
    found = innermost_user_frame(exc.__traceback__, ctx.user_file)
    if found is not None:
        return found
    tb, last = exc.__traceback__, None
    while tb is not None:
        name = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if not name.startswith((_TORCH_DIR, _PACKAGE_DIR)) and not name.startswith("<"):
            last = (name, tb.tb_lineno)
        tb = tb.tb_next
    return last if last is not None else (where.file, where.line)


def _op_from_text(text: str) -> str:
    """The op named in torch's message when the op watch did not see it raise."""
    match = re.search(r"(Tensor\.\w+)\(\)", text)
    if match:
        return match.group(1)
    match = re.search(r"aten::(\w+)|torch\.(\w+)\(\)|(\w+) a meta tensor", text)
    if match:
        return "torch." + next(g for g in match.groups() if g)
    if "autocast" in text:
        return "torch.autocast"
    return "an op"
