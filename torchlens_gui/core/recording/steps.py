"""StepHistory: the figures of every training step, and full records of a bounded few.

Every step keeps its StepFigures (the per-module figures packed into float32 arrays: 100
modules cost 800 bytes a step). Full module-call records are kept for the current step, the
last ``KEEP_LAST`` steps and the first ``KEEP_PROBLEMS`` steps with a problem; older records are
dropped, so a run of 10,000 steps holds figures and at most ~70 records.
"""

from __future__ import annotations

import collections
import math
from array import array
from dataclasses import dataclass, replace
from typing import Any, Iterator, Optional

from .events import StepFigures

KEEP_LAST = 20
KEEP_PROBLEMS = 50


@dataclass
class KeptStep:
    """A step's full record: its module calls as the RunRecord held them."""

    step: int
    calls: list  # list[CallRecord], in execution order
    backward_order: list
    loss: Any  # the LossComputed of the step, if any
    problem: bool


class StepHistory:
    def __init__(self) -> None:
        self._figures: list[StepFigures] = []  # module tuples emptied: packed below instead
        self._grad_norms: list[array] = []
        self._ratios: list[array] = []
        self._modules: list[tuple[str, ...]] = []
        self.kept: dict[int, KeptStep] = {}
        self._recent: collections.deque[int] = collections.deque()
        self._problems = 0

    # ---- feeding ---------------------------------------------------------------------------

    def add(self, figures: StepFigures, modules: tuple[str, ...], kept: Optional[KeptStep]
            ) -> None:
        self._grad_norms.append(array("f", figures.module_grad_norms))
        self._ratios.append(array("f", figures.module_update_ratios))
        self._figures.append(replace(figures, module_grad_norms=(), module_update_ratios=()))
        if self._modules and self._modules[-1] == modules:
            modules = self._modules[-1]  # one shared tuple while the modules do not change
        self._modules.append(modules)
        if kept is None:
            return
        if kept.problem and self._problems < KEEP_PROBLEMS:
            self._problems += 1
            self.kept[kept.step] = kept
            return
        self.kept[kept.step] = kept
        self._recent.append(kept.step)
        while len(self._recent) > KEEP_LAST:
            self.kept.pop(self._recent.popleft(), None)

    # ---- queries ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._figures)

    def __iter__(self) -> Iterator[StepFigures]:
        for index in range(len(self._figures)):
            yield self.figures(index + 1)

    def figures(self, step: int) -> StepFigures:
        """A step's figures with its per-module figures unpacked (steps count from 1)."""
        index = step - 1
        base = self._figures[index]
        return replace(base, module_grad_norms=tuple(self._grad_norms[index]),
                       module_update_ratios=tuple(self._ratios[index]))

    def modules(self, step: int) -> tuple[str, ...]:
        return self._modules[step - 1]

    @property
    def last(self) -> Optional[StepFigures]:
        return self.figures(len(self._figures)) if self._figures else None

    def losses(self) -> list[float]:
        return [f.loss if f.loss is not None else math.nan for f in self._figures]

    def series(self, name: str) -> list[float]:
        """One figure of every step as floats (NaN where unknown): "loss" or "grad_norm"
        (learning rates, one per param group: lr_groups)."""
        out = []
        for f in self._figures:
            value = getattr(f, name, None)
            out.append(float(value) if value is not None else math.nan)
        return out

    def lr_groups(self) -> list[list[float]]:
        """The learning rate of each param group, one list per group over every step (in the
        order the optimizers stepped; NaN where a step had fewer groups)."""
        width = max((len(f.lr) for f in self._figures), default=0)
        return [[float(f.lr[i]) if i < len(f.lr) else math.nan for f in self._figures]
                for i in range(width)]

    def module_matrix(self, which: str = "grad_norm"
                      ) -> tuple[tuple[str, ...], list[list[Optional[float]]]]:
        """(modules, rows): one row per step over the modules of every step, in the order they
        first had figures ("grad_norm" or "update_ratio"); None where a step did not have that
        module (a GAN's generator in a discriminator-only step), NaN where its figure was."""
        if not self._figures:
            return (), []
        modules: dict[str, None] = {}
        seen: set[int] = set()
        for own in self._modules:  # steps share one tuple while their modules do not change
            if id(own) not in seen:
                seen.add(id(own))
                modules.update(dict.fromkeys(own))
        names = tuple(modules)
        source = self._grad_norms if which == "grad_norm" else self._ratios
        rows: list[list[Optional[float]]] = []
        for index, values in enumerate(source):
            own = self._modules[index]
            if own == names:
                rows.append(list(values))
            else:
                position = {m: i for i, m in enumerate(own)}
                rows.append([values[position[m]] if m in position else None for m in names])
        return names, rows

    def nbytes(self) -> int:
        """Rough bytes held by the figures (the kept records not included)."""
        import sys

        per_figure = sys.getsizeof(self._figures[0]) + 400 if self._figures else 0
        return sum(a.buffer_info()[1] * a.itemsize + 64 for a in self._grad_norms) + \
            sum(a.buffer_info()[1] * a.itemsize + 64 for a in self._ratios) + \
            per_figure * len(self._figures)
