"""What an optimizer step did, measured cheaply: per-module gradient norms before it and
update-to-weight ratios after it.

A step reads every gradient once (one foreach norm; the global gradient norm needs all of it)
and a fixed sample of every weight twice (before and after the update): the update ratio of a
parameter is ||sample after - sample before|| / ||sample before||, each scaled to the
parameter's size. The sample views are made once per parameter and reused step after step (the
optimizer updates weights in place), so a step costs a handful of foreach kernels and one host
transfer each for gradients and updates, whatever the number of parameters.

Whether the update left every weight finite is known exactly for the parameters the sample
covers whole (up to UPDATE_SAMPLE values) and for any sampled value that broke; the rest of a
large weight is *unverified* until `verify` reads it, which the step tracker does where it
matters (the next NaN birth, a fully recorded step, the end of the run) instead of reading every
weight after every step.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from ..usercode.context import SessionContext
from ..usercode.tree import own_parameters

# Update ratios read this many values of each parameter (all of a smaller one): copying and
# comparing whole weights every step would cost a tenth of a ResNet's step. They are read as
# SAMPLE_RUNS runs of contiguous values spread evenly over the parameter: single values spread
# evenly would each touch their own cache line, costing as much memory traffic as the whole
# weight.
UPDATE_SAMPLE = 1024
SAMPLE_RUNS = 8
OTHER = "(other parameters)"  # parameters of no module in the tree


def sample_view(p: torch.Tensor) -> torch.Tensor:
    """A view of at most UPDATE_SAMPLE values of ``p`` (its storage, not a copy, when ``p`` is
    contiguous): all of it, or SAMPLE_RUNS contiguous runs spread evenly over it."""
    flat = p.detach().reshape(-1)
    count = flat.numel()
    if count <= UPDATE_SAMPLE:
        return flat
    stride = count // SAMPLE_RUNS
    return flat[:stride * SAMPLE_RUNS].view(SAMPLE_RUNS, stride)[:, :UPDATE_SAMPLE // SAMPLE_RUNS]


class UpdateMeter:
    """Gradient norms and update ratios of the parameters an optimizer steps."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx
        self._owners: dict[int, str] = {}
        self._known_modules = -1
        # The last parameters measured: their views stay valid while the parameters keep
        # their storage (an optimizer updates in place).
        self._plan: Optional[_Plan] = None
        # Parameters updated but not read whole since: the step that updated them, and them.
        self.unverified_step = 0
        self.unverified: list[torch.Tensor] = []

    def owner(self, p: torch.Tensor) -> str:
        """The path of the module owning ``p`` (its first owner when shared)."""
        modules = self.ctx.modules
        if len(modules) != self._known_modules:
            self._known_modules = len(modules)
            table: dict[int, str] = {}
            for path, module in modules.items():
                for _, param in own_parameters(module):
                    table.setdefault(id(param), path)
            self._owners = table
        return self._owners.get(id(p), OTHER)

    def _plan_for(self, params: list[torch.Tensor]) -> "_Plan":
        """The plan for these parameters: the last one while they, their storage and the
        tree are the same (an optimizer steps the same list every step)."""
        plan = self._plan
        if plan is not None and plan.key == tuple(map(id, params)) \
                and plan.known_modules == len(self.ctx.modules) \
                and plan.pointers == [p.data_ptr() for p in params]:
            return plan
        plan = _Plan(params, [self.owner(p) for p in params], len(self.ctx.modules))
        self._plan = plan if plan.reusable else None
        return plan

    # ---- before the update ------------------------------------------------------------------

    def gradient_norms(self, params: list[torch.Tensor]) -> tuple[dict[str, float],
                                                                   Optional[str]]:
        """Per-module gradient norms of ``params`` (which all have a .grad), and the first
        module whose gradient is not finite (None when all are)."""
        plan = self._plan_for(params)
        with torch.no_grad():
            norms = _norms([p.grad.detach() for p in params])
        squares: dict[str, float] = {}
        bad = None
        for path, norm in zip(plan.owners, norms):
            squares[path] = squares.get(path, 0.0) + norm * norm
            if bad is None and not math.isfinite(norm):
                bad = path
        return {path: math.sqrt(total) for path, total in squares.items()}, bad

    def sample(self, params: list[torch.Tensor]) -> "Samples":
        """Copies of the sampled values of ``params``, before the optimizer changes them: one
        stacked copy per group of samples of one shape, dtype and device (a ResNet's or a
        transformer's parameters fall in a few groups), so a step costs a few kernels rather
        than a few per parameter."""
        plan = self._plan_for(params)
        with torch.no_grad():
            return Samples(plan, [torch.stack(views) for _, views in plan.groups])

    # ---- after the update -------------------------------------------------------------------

    def update_ratios(self, params: list[torch.Tensor], before: "Samples", step: int,
                      verify_all: bool, trusted: bool = True
                      ) -> tuple[dict[str, float], Optional[str]]:
        """Per-module ||delta w|| / ||w|| from the samples, and the first module whose weights
        the update made non-finite (None when none is known to be). ``verify_all`` reads every
        weight whole; otherwise what the samples do not cover is left unverified. An update
        from gradients that were not ``trusted`` (not finite) is not verified: its NaN is the
        gradients' doing."""
        plan = before.plan
        n = len(params)
        norms = []
        with torch.no_grad():
            for (indices, views), copied in zip(plan.groups, before.copies):
                if not plan.reusable:  # (a copy of a non-contiguous one is not updated)
                    views[:] = [sample_view(params[i]) for i in indices]
                rows = (torch.stack(views) - copied).flatten(1), copied.flatten(1)
                norms += [torch.linalg.vector_norm(r, dim=1).float() for r in rows]
            flat = _to_floats(norms, stacked=False)
        delta_norms, weight_norms = [0.0] * n, [0.0] * n
        offset = 0
        for (indices, views), copied in zip(plan.groups, before.copies):
            k = len(indices)
            for j, i in enumerate(indices):
                delta_norms[i] = flat[offset + j]
                weight_norms[i] = flat[offset + k + j]
                if not math.isfinite(delta_norms[i]):  # float32 overflow, or a real NaN/Inf
                    delta_norms[i] = _wide_norm(views[j] - copied[j])
            offset += 2 * k
        delta_sq: dict[str, float] = {}
        weight_sq: dict[str, float] = {}
        bad = None
        for path, scale, d, w in zip(plan.owners, plan.scales, delta_norms, weight_norms):
            delta_sq[path] = delta_sq.get(path, 0.0) + d * d * scale
            weight_sq[path] = weight_sq.get(path, 0.0) + w * w * scale
            if bad is None and not math.isfinite(d) and math.isfinite(w):
                bad = path
        ratios = {}
        for path, d2 in delta_sq.items():
            w = math.sqrt(weight_sq[path])
            ratios[path] = math.sqrt(d2) / w if w > 0 else math.nan
        self.unverified_step, self.unverified = step, plan.partial if trusted else []
        if bad is None and verify_all:
            bad = self.verify()
        return ratios, bad

    def verify(self) -> Optional[str]:
        """Read the unverified weights whole: the first module whose weights are not finite,
        or None. Clears the list either way."""
        params, self.unverified = self.unverified, []
        if not params:
            return None
        with torch.no_grad():
            norms = _norms([p.detach() for p in params])
        return next((self.owner(p) for p, v in zip(params, norms) if not math.isfinite(v)),
                    None)


def _norms(tensors: list[torch.Tensor]) -> list[float]:
    """The 2-norm of each tensor. A float32 norm overflows from values of about 1e19 on
    (their squares pass float32's largest): those are computed again in float64, so only a
    real NaN/Inf makes a norm non-finite."""
    norms = _to_floats(torch._foreach_norm(tensors))
    for i, value in enumerate(norms):
        if not math.isfinite(value):
            norms[i] = _wide_norm(tensors[i])
    return norms


def _wide_norm(t: torch.Tensor) -> float:
    """The 2-norm of ``t`` in float64 (complex128): not overflowed unless it holds NaN/Inf."""
    if t.dtype in (torch.float64, torch.complex128):
        return float(torch.linalg.vector_norm(t))
    return float(torch.linalg.vector_norm(t.to(torch.complex128 if t.is_complex()
                                                else torch.float64)))


class _Plan:
    """What measuring a list of parameters takes, worked out once: each one's owner, its
    sample view, how much larger than its sample it is, the views grouped by shape, dtype and
    device (stacked together each step), and the parameters their samples do not cover."""

    __slots__ = ("key", "pointers", "known_modules", "owners", "scales", "groups", "partial",
                 "reusable")

    def __init__(self, params: list[torch.Tensor], owners: list[str], known_modules: int
                 ) -> None:
        self.key = tuple(map(id, params))
        self.pointers = [p.data_ptr() for p in params]
        self.known_modules = known_modules
        self.owners = owners
        views = [sample_view(p) for p in params]
        self.scales = [p.numel() / max(1, v.numel()) for p, v in zip(params, views)]
        self.partial = [p for p, scale in zip(params, self.scales) if scale > 1]
        grouped: dict[tuple, list[int]] = {}
        for index, view in enumerate(views):
            grouped.setdefault((view.shape, view.dtype, view.device), []).append(index)
        self.groups = [(indices, [views[i] for i in indices]) for indices in grouped.values()]
        # A non-contiguous parameter's view is a copy (reshape): made again every step.
        self.reusable = all(p.is_contiguous() for p in params)


class Samples:
    """Sampled values of a step's parameters before its update: the plan they follow and a
    stacked copy per group of its views."""

    __slots__ = ("plan", "copies")

    def __init__(self, plan: _Plan, copies: list[torch.Tensor]) -> None:
        self.plan = plan
        self.copies = copies


def _to_floats(tensors: list[torch.Tensor], stacked: bool = True) -> list[float]:
    """One host transfer for a list of 0-dim tensors (of any float dtype), or with
    ``stacked=False`` of 1-dim float32 ones."""
    if not tensors:
        return []
    if not stacked:
        if len({t.device for t in tensors}) > 1:
            tensors = [t.to("cpu") for t in tensors]
        return torch.cat(tensors).tolist()
    if len({t.dtype for t in tensors}) > 1 or tensors[0].dtype != torch.float32:
        tensors = [t.float() for t in tensors]
    if len({t.device for t in tensors}) > 1:  # model parallel: gathered on the CPU
        tensors = [t.to("cpu") for t in tensors]
    return torch.stack(tensors).tolist()
