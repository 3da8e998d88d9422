"""8-connected components of binary maps (SAR Eq. 6, Fig. 2; also ContraCAM's boxes).

Both functions take ``bool[..., H, W]`` and return ``int64[..., H, W]`` with 0 off the mask and
1..n on the n components, numbered in raster order of each component's first pixel (the same numbering
as ``scipy.ndimage.label`` with a 3×3 structure).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .. import validate

_ROUNDS_PER_CHECK = 2
_NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
# 8-connected inside a map, nothing across maps: labels a (B, H, W) stack as B separate images.
_STACK_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STACK_STRUCTURE[1] = True
_BACKENDS = ("auto", "scipy", "torch")


def _check(mask: torch.Tensor) -> None:
    validate.tensor(mask, "mask", dtype=torch.bool, min_ndim=2)
    if mask.shape[-1] == 0 or mask.shape[-2] == 0:
        raise ValueError(f"connected components need a mask of shape (..., H, W), got {tuple(mask.shape)}")


def connected_components_reference(mask: torch.Tensor) -> torch.Tensor:
    """Breadth-first search from every unlabelled on-pixel, one map at a time: the components ``C_1..C_n`` of
    ``B > 0`` in SAR Eq. (6), each the set of on-pixels joined to its first pixel by 8-neighbour steps."""
    _check(mask)
    h, w = mask.shape[-2:]  # H × W grid of every map
    maps = mask.reshape(-1, h, w).tolist()  # (..., H, W) -> (M, H, W): one B > 0 per map, as nested lists
    out = torch.zeros(len(maps), h, w, dtype=torch.int64)  # 0 = off the mask (no component)
    for b, grid in enumerate(maps):  # each map is labelled on its own
        labels = [[0] * w for _ in range(h)]  # L(p) = 0: p not yet in any C_j
        count = 0  # n, the number of components found so far
        for y in range(h):  # raster order: C_j is numbered by its first pixel
            for x in range(w):
                if not grid[y][x] or labels[y][x]:  # p off the mask, or already in some C_j
                    continue
                count += 1  # p starts a new component C_n
                labels[y][x] = count  # p ∈ C_n
                queue = deque([(y, x)])  # frontier of C_n
                while queue:  # grow C_n until no on-neighbour is left
                    cy, cx = queue.popleft()  # q ∈ C_n
                    for dy, dx in _NEIGHBOURS:  # the 8 neighbours r of q
                        ny, nx = cy + dy, cx + dx  # r = q + (dy, dx)
                        if 0 <= ny < h and 0 <= nx < w and grid[ny][nx] and not labels[ny][nx]:  # r on, unlabelled
                            labels[ny][nx] = count  # r ∈ C_n
                            queue.append((ny, nx))  # and r's neighbours are next
        out[b] = torch.tensor(labels, dtype=torch.int64)  # L(p) = j for p ∈ C_j
    return out.reshape(mask.shape).to(mask.device)  # back to (..., H, W) on the input's device


def connected_components(
    mask: torch.Tensor, max_iterations: int | None = None, *, backend: str = "auto"
) -> torch.Tensor:
    """Batched labelling of every map at once; the same numbering as the reference on any device.

    ``backend="auto"`` picks ``"scipy"`` for a CPU tensor and ``"torch"`` otherwise:

    * ``"scipy"`` hands the whole stack to one ``scipy.ndimage.label`` call whose 3-D structure connects
      the 8 neighbours inside a map and nothing across maps. scipy numbers the stack in raster order, so
      map ``b`` holds the consecutive labels after those of maps ``0..b-1``; subtracting that offset gives
      each map its own 1..n. A CPU tensor only (the labels are computed on the host).
    * ``"torch"`` stays on the tensor's device (no host copy, no loop over maps); see :func:`_label`.
      ``max_iterations`` bounds its rounds (default ``H·W + 1``).
    """
    _check(mask)
    if max_iterations is not None:
        validate.integer(max_iterations, "max_iterations", low=1)
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if backend == "auto":
        backend = "scipy" if mask.device.type == "cpu" else "torch"
    if backend == "scipy":
        if mask.device.type != "cpu":
            raise ValueError(f"the scipy labeller needs a CPU tensor, got one on {mask.device}")
        return _label_scipy(mask)
    if mask.device.type == "cpu" and torch.get_num_threads() > 1:
        # CPU scatter_reduce(amin) is ~30× slower with >1 thread on these small tensors (measured,
        # torch 2.14 on 2 cores); the whole loop is cheaper single-threaded.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return _label(mask, max_iterations)
        finally:
            torch.set_num_threads(threads)
    return _label(mask, max_iterations)


def _label_scipy(mask: torch.Tensor) -> torch.Tensor:
    h, w = mask.shape[-2:]
    maps = mask.reshape(-1, h, w).numpy()  # (M, h, w): every map of the batch
    labels = np.empty(maps.shape, dtype=np.int64)
    ndimage.label(maps, structure=_STACK_STRUCTURE, output=labels)
    flat = labels.reshape(len(maps), h * w)  # (M, N), a view of labels
    if len(maps) > 1:
        last = np.maximum.accumulate(flat.max(1))  # the largest label used by maps 0..b
        flat[1:] -= last[:-1, None]  # off-pixels go negative ...
        np.maximum(flat, 0, out=flat)  # ... and back to 0
    return torch.from_numpy(labels).view(mask.shape)  # (..., h, w)


def _label(mask: torch.Tensor, max_iterations: int | None) -> torch.Tensor:
    """Min-label propagation with root hooking and pointer jumping, batched over maps; any device.

    Every on-pixel starts with its own raster index ``L(p)``. Each round (i) takes the minimum ``m(p)``
    over the 3×3 neighbourhood (separable shifted minima), (ii) *hooks*: the pixel ``L(p)`` points to
    takes ``min(L(L(p)), m(p))`` (a ``scatter_reduce`` with ``amin``), so whole trees merge at once,
    and (iii) jumps twice, ``L(p) ← L(L(p))``, halving path lengths: far fewer rounds than plain propagation,
    whose rounds grow with a component's diameter. Convergence is checked every ``_ROUNDS_PER_CHECK`` rounds
    (each check is a full compare and a device sync). At convergence every pixel holds the index of its
    component's first pixel; ranking those roots gives scipy's numbering.
    """
    h, w = mask.shape[-2:]
    n = h * w
    on = mask.reshape(-1, 1, h, w).contiguous()  # (M, 1, h, w); views below need it contiguous
    off = ~on
    batch = on.shape[0]
    dtype = torch.float32 if n < 2**24 else torch.float64
    big = float(n + 1)
    index = torch.arange(1, n + 1, device=mask.device, dtype=dtype).view(1, 1, h, w)  # (1, 1, h, w)
    labels = index.expand_as(on).masked_fill(off, big).contiguous()
    flat_off = off.view(batch, n)  # (M, N)
    # labels of all pixels plus a sentinel column n that off-pixels (label n+1) point to
    ext = torch.full((batch, n + 1), big, device=mask.device, dtype=dtype)
    limit = max_iterations or n + 1
    rounds = 0
    while True:
        previous = labels
        for _ in range(_ROUNDS_PER_CHECK):
            nmin = torch.minimum(labels, _neighbourhood_min(labels, big)).masked_fill_(off, big)  # (M, 1, h, w)
            nmin = nmin.view(batch, n)  # (M, N)
            flat = labels.view(batch, n)  # (M, N)
            ext[:, :n] = flat
            ext.scatter_reduce_(1, (flat.long() - 1).clamp_(0, n), nmin, "amin")
            ext[:, n] = big
            flat = torch.minimum(nmin, ext[:, :n])
            for _ in range(2):
                ext[:, :n] = flat
                flat = torch.minimum(flat, ext.gather(1, (flat.long() - 1).clamp_(0, n)))
            labels = flat.masked_fill_(flat_off, big).view_as(labels)  # (M, 1, h, w)
            rounds += 1
        if torch.equal(labels, previous):
            break
        if rounds >= limit:
            raise RuntimeError(f"connected components did not converge in {limit} iterations")
    flat_on = on.view(-1, n)  # (M, N)
    flat = labels.view(-1, n).long()  # (M, N)
    roots = flat_on & (flat == torch.arange(1, n + 1, device=mask.device))
    rank = roots.long().cumsum(1)
    result = rank.gather(1, (flat - 1).clamp(0, n - 1)).masked_fill_(~flat_on, 0)
    return result.view(mask.shape)  # (..., h, w)


def _neighbourhood_min(labels: torch.Tensor, fill: float) -> torch.Tensor:
    """Minimum over each pixel's 3×3 neighbourhood, as two separable 1-D passes of shifted minima."""
    padded = F.pad(labels, (1, 1, 1, 1), value=fill)
    rows = torch.minimum(torch.minimum(padded[..., :-2, :], padded[..., 1:-1, :]), padded[..., 2:, :])
    return torch.minimum(torch.minimum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def num_components(labels: torch.Tensor) -> torch.Tensor:
    """Number of components per map of a labelling ``int64[..., H, W]``: ``int64[...]``."""
    validate.tensor(labels, "labels", dtype="integer", min_ndim=2)
    if labels.shape[-1] == 0 or labels.shape[-2] == 0 or (labels.numel() and int(labels.min()) < 0):
        raise ValueError(f"labels must be a non-empty labelling (..., H, W) with ids >= 0, got {tuple(labels.shape)}")
    return labels.flatten(-2).amax(-1)  # (..., H, W) -> (..., H·W) -> (...)
