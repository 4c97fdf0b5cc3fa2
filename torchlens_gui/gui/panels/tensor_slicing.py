"""Slicing kept tensors for the viewer: a 2-D view chosen by two dims and an index for each of the
others, and small pictures of it. Nothing here copies a whole tensor: indexing gives a view,
pictures are taken with a stride (at most MAX_SIDE values a side), and the value table reads the
2-D view cell by cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

MAX_SIDE = 512  # heatmap pixels a side (larger slices are shown with a stride)
MAP_SIDE = 96  # feature-map pixels a side
MAX_MAPS = 64  # feature maps in the grid (the first channels)


@dataclass(frozen=True)
class SliceSpec:
    """Which 2-D slice: ``rows`` and ``cols`` are dims, ``index`` holds one index per dim (those
    of ``rows`` and ``cols`` are ignored)."""

    rows: int
    cols: int
    index: tuple[int, ...]


def default_spec(shape: Sequence[int]) -> SliceSpec:
    """The last two dims, index 0 elsewhere (a 1-D tensor is one row; a scalar one cell)."""
    dims = len(shape)
    if dims < 2:
        return SliceSpec(-1, max(dims - 1, -1), (0,) * dims)
    return SliceSpec(dims - 2, dims - 1, (0,) * dims)


def slice_2d(tensor: torch.Tensor, spec: SliceSpec) -> torch.Tensor:
    """The 2-D view of ``tensor`` the spec names (rows x cols), without copying."""
    if tensor.dim() == 0:
        return tensor.reshape(1, 1)
    if tensor.dim() == 1:
        return tensor.reshape(1, -1)
    index = []
    for dim, size in enumerate(tensor.shape):
        if dim in (spec.rows, spec.cols):
            index.append(slice(None))
        else:
            index.append(min(max(spec.index[dim], 0), size - 1))
    view = tensor[tuple(index)]
    return view.t() if spec.rows > spec.cols else view


def as_array(view: torch.Tensor) -> np.ndarray:
    """A float64 numpy array of a (small) tensor; bool, half and bfloat16 included."""
    with torch._C.DisableTorchFunction():
        if view.is_complex():
            view = view.abs()
        return view.detach().to(torch.float64).cpu().numpy()


def picture(view: torch.Tensor, side: int = MAX_SIDE) -> tuple[np.ndarray, int, int]:
    """The 2-D view with a stride so neither side exceeds ``side``: (values, row step, col
    step). Only the picked values are copied."""
    rows, cols = view.shape
    row_step, col_step = max(1, math.ceil(rows / side)), max(1, math.ceil(cols / side))
    return as_array(view[::row_step, ::col_step]), row_step, col_step


def finite_range(values: np.ndarray) -> tuple[float, float]:
    """Colour levels: min and max of the finite values (a flat or empty slice gets a unit
    range around its value)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return low - 0.5, high + 0.5
    return low, high


def is_feature_maps(shape: Sequence[int]) -> bool:
    """A conv activation: [N, C, H, W] with a picture in the last two dims."""
    return len(shape) == 4 and shape[2] > 1 and shape[3] > 1


def feature_maps(tensor: torch.Tensor, sample: int, limit: int = MAX_MAPS,
                 side: int = MAP_SIDE) -> list[np.ndarray]:
    """The first ``limit`` channel pictures of one sample of an [N, C, H, W] tensor."""
    sample = min(max(sample, 0), tensor.shape[0] - 1)
    maps = []
    for channel in range(min(tensor.shape[1], limit)):
        maps.append(picture(tensor[sample, channel], side)[0])
    return maps


def cell_kind(value: float) -> Optional[str]:
    """"nan", "inf" or "zero" for a cell that the table highlights; None otherwise."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    if value == 0:
        return "zero"
    return None
