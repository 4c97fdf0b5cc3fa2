"""The raw pass of tensor statistics: plain reductions on the tensor's own device, one host
transfer per batch. [sum, L2 norm, min, max] and, where asked, the count of non-zeros (the
costliest of them on large tensors: a bool cast and a byte sum)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch

# Stacking equal-sized small tensors saves dispatches; above this size the row-wise reductions
# cost more than they save.
GROUP_MAX_NUMEL = 4096
_SMALL_NUMEL = 4096
_COUNT_CHUNK = 2**22  # elements counted at once: temporaries of at most ~36 MB
_NATIVE_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def readable(t: torch.Tensor) -> bool:
    """Whether we can read values of ``t`` at all (not meta, empty, complex, sparse...)."""
    return (t.numel() != 0 and t.layout == torch.strided and t.device.type != "meta"
            and not t.is_complex() and not t.is_quantized)


def _count_nonzero(x: torch.Tensor) -> torch.Tensor:
    # count_nonzero is one dispatch but a slow, branchy kernel; for large tensors a cast to
    # bool and a byte sum is several times faster. The sum converts the bytes to its
    # accumulation dtype (8 bytes per element in float64), so a large tensor is counted in
    # chunks: a 2 GiB input must not cost another 4 GiB of temporaries.
    n = x.numel()
    if n <= _SMALL_NUMEL:
        return torch.count_nonzero(x)
    if n <= _COUNT_CHUNK:
        return x.bool().view(torch.uint8).sum(dtype=torch.float32 if n < 2**24
                                              else torch.float64)
    if not x.is_contiguous():
        return torch.count_nonzero(x).to(torch.float64)  # no copy of a strided view
    flat = x.reshape(-1)
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for chunk in flat.split(_COUNT_CHUNK):
        total += chunk.bool().view(torch.uint8).sum(dtype=torch.float64)
    return total


def _reduce(t: torch.Tensor, zeros: bool = True) -> tuple[torch.Tensor, ...]:
    """(sum, L2 norm, min, max[, non-zero count]) of ``t`` as 0-d tensors on its device.

    Call with autograd off. Raises for tensors torch cannot reduce (callers fall back to the
    shape)."""
    dtype = t.dtype
    if dtype is torch.float32 or dtype is torch.float64:  # accumulate in their own precision
        lo, hi = torch.aminmax(t)
        if not zeros:
            return t.sum(), torch.linalg.vector_norm(t), lo, hi
        return t.sum(), torch.linalg.vector_norm(t), lo, hi, _count_nonzero(t)
    if dtype is torch.float16 or dtype is torch.bfloat16:
        acc = torch.float32
        x = t
    else:  # integers, bool, float8...: count and reduce a float64 copy
        acc = torch.float64
        x = t.to(acc)
    lo, hi = torch.aminmax(x)
    parts = (x.sum(dtype=acc), torch.linalg.vector_norm(x, dtype=acc), lo, hi)
    return parts + (_count_nonzero(x),) if zeros else parts


def raw(t: torch.Tensor, zeros: bool = True) -> torch.Tensor:
    """[sum, L2 norm, min, max(, non-zero count)] of ``t`` as one small float tensor on its
    device (for one transfer with others)."""
    parts = _reduce(t, zeros)
    acc = parts[0].dtype
    return torch.stack([p if p.dtype == acc else p.to(acc) for p in parts])


def raw_values(t: torch.Tensor, zeros: bool = True) -> list:
    """The raw values of one tensor on the host. On the CPU an item() per value costs less
    than stacking; elsewhere one stacked transfer (one synchronisation)."""
    if t.device.type == "cpu":
        return [p.item() for p in _reduce(t, zeros)]
    return raw(t, zeros).tolist()


def _raw_grouped(ts: Sequence[torch.Tensor], zeros: bool) -> torch.Tensor:
    """The raw vectors of several tensors of one dtype, device and size, as one (k, 4 or 5)
    tensor: the tensors are stacked (one copy) and reduced row by row, a dispatch per column
    for all."""
    dtype = ts[0].dtype
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    rows = torch.stack([t.reshape(-1) for t in ts])
    lo, hi = torch.aminmax(rows, dim=1)
    if lo.dtype != acc:
        lo, hi = lo.to(acc), hi.to(acc)
    columns = [rows.sum(dim=1, dtype=acc), torch.linalg.vector_norm(rows, dim=1, dtype=acc),
               lo, hi]
    if zeros:
        columns.append(rows.bool().view(torch.uint8).sum(dim=1, dtype=acc))
    return torch.stack(columns, dim=1)


def raw_rows(ts: list[torch.Tensor], group: bool, zeros: bool = True
             ) -> list[Optional[list]]:
    """The raw values of each tensor on the host (None where it cannot be reduced).

    CPU tensors are read at once. Tensors on other devices leave their reductions on the
    device and cross to the host together, one transfer per device. With ``group``, small
    tensors of equal dtype, device and size are stacked and reduced together."""
    rows: list[Optional[list]] = [None] * len(ts)
    waiting: dict[torch.device, list[tuple[list[int], torch.Tensor]]] = {}
    done: set[int] = set()
    if group and len(ts) > 1:
        groups: dict[tuple, list[int]] = {}
        for i, t in enumerate(ts):
            if t.dtype in _NATIVE_FLOATS and t.numel() <= GROUP_MAX_NUMEL:
                groups.setdefault((t.dtype, t.device, t.numel()), []).append(i)
        for members in groups.values():
            if len(members) < 2:
                continue
            try:
                block = _raw_grouped([ts[i] for i in members], zeros)
            except Exception:
                continue  # each on its own, below
            waiting.setdefault(block.device, []).append((members, block))
            done.update(members)
    for i, t in enumerate(ts):
        if i in done:
            continue
        try:
            if t.device.type == "cpu":
                rows[i] = raw_values(t, zeros)
            else:
                waiting.setdefault(t.device, []).append(([i], raw(t, zeros).unsqueeze(0)))
        except Exception:
            continue
    for blocks in waiting.values():
        flat = blocks[0][1].tolist() if len(blocks) == 1 else \
            torch.cat([block for _, block in blocks]).tolist()
        position = 0
        for members, _ in blocks:
            for i in members:
                rows[i] = flat[position]
                position += 1
    return rows

