"""Object-aware token mixing for MLP-Mixer (Eqs. 6–8) and ConvMixer (Eqs. 9–11), OAMixer §3.2."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import validate
from .mask import as_mask, check_masks


def _check_tokens(x: torch.Tensor, n: int | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or not x.is_floating_point():
        raise ValueError(f"x must be a floating (B, C, N) tensor (tokens last), got {getattr(x, 'shape', type(x))}")
    validate.finite(x, "x")
    if n is not None and x.shape[-1] != n:
        raise ValueError(f"x has {x.shape[-1]} tokens but the mixing matrix is {n}×{n}")


def mixer_linearisation(fc1_weight: torch.Tensor, fc2_weight: torch.Tensor) -> torch.Tensor:
    """``L = W2 · W1``, the token-mixing MLP with its non-linearity dropped, Eq. (8), OAMixer §3.2."""
    validate.tensor(fc1_weight, "fc1_weight", dtype="float", finite_values=True)
    validate.tensor(fc2_weight, "fc2_weight", dtype="float", finite_values=True)
    if fc1_weight.ndim != 2 or fc2_weight.ndim != 2 or fc2_weight.shape[1] != fc1_weight.shape[0]:
        raise ValueError(f"expected W1 (T, N) and W2 (N, T), got {tuple(fc1_weight.shape)}, {tuple(fc2_weight.shape)}")
    validate.same_dtype(fc1_weight=fc1_weight, fc2_weight=fc2_weight)
    return validate.overflow(fc2_weight @ fc1_weight, "fc1_weight, fc2_weight")


def mixer_mixing_reference(
    f_x: torch.Tensor,
    x: torch.Tensor,
    lin: torch.Tensor,
    mask: torch.Tensor | None = None,
    log_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. (7) literally: ``(M ⊙ L)·x + (f(x) − L·x)``, per image and channel.

    ``x``, ``f_x``: ``(B, C, N)`` (tokens last, as inside timm's ``MixerBlock``); ``lin``: ``(N, N)``; exactly one
    of ``mask`` ``(B, N, N)`` in ``[0, 1]`` and ``log_mask = −κ·D`` (``M = exp(log_mask)``).
    """
    # shapes and values of the Eq. (7) inputs
    validate.tensor(lin, "lin", ndim=2)
    _check_tokens(x, lin.shape[0])
    _check_mixer(f_x, x, lin, mask, log_mask)
    m = as_mask(mask, log_mask)  # M = exp(−κ·D), Eq. (3)
    out = f_x.clone()  # f(x), the token MLP's output
    for b in range(x.shape[0]):  # one image b at a time (its own M_b)
        masked = m[b] * lin  # M_b ⊙ L
        out[b] = out[b] + x[b] @ (masked - lin).T  # f(x) + (M_b ⊙ L)·x − L·x, every channel, Eq. (7)
    return validate.overflow(out, "f_x, x, lin")  # (B, C, N), tokens last


def mixer_mixing(
    f_x: torch.Tensor,
    x: torch.Tensor,
    lin: torch.Tensor,
    mask: torch.Tensor | None = None,
    log_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. (7) simplified (biases fold in and cancel): ``f(x) − ((1 − M) ⊙ L)·x`` in one batched product.

    Same arguments as :func:`mixer_mixing_reference`; with ``log_mask``, ``1 − M = −expm1(log M)`` exactly.
    """
    validate.tensor(lin, "lin", ndim=2)
    _check_tokens(x, lin.shape[0])
    _check_mixer(f_x, x, lin, mask, log_mask)
    one_minus = 1.0 - mask if mask is not None else -torch.expm1(log_mask)
    return validate.overflow(f_x - torch.einsum("bij,bcj->bci", one_minus * lin, x), "f_x, x, lin")


def _check_mixer(
    f_x: torch.Tensor, x: torch.Tensor, lin: torch.Tensor, mask: torch.Tensor | None, log_mask: torch.Tensor | None
) -> None:
    """``f_x`` like ``x``, ``lin`` a finite (N, N) matrix, one (B, N, N) ``mask`` in [0, 1] or ``log_mask`` ≤ 0."""
    validate.tensor(f_x, "f_x", shape=tuple(x.shape), dtype="float", finite_values=True)
    validate.tensor(lin, "lin", shape=(x.shape[-1], x.shape[-1]), dtype="float", finite_values=True)
    check_masks(mask, log_mask, (x.shape[0], x.shape[-1], x.shape[-1]), floating=True)
    validate.same_dtype(f_x=f_x, x=x, lin=lin, **{"mask" if mask is not None else "log_mask": _given(mask, log_mask)})


def _given(mask: torch.Tensor | None, log_mask: torch.Tensor | None) -> torch.Tensor:
    return mask if mask is not None else log_mask


def _check_kernel(weight: torch.Tensor) -> int:
    validate.tensor(weight, "weight (the kernel)", dtype="float")
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1] or weight.shape[0] % 2 == 0:
        raise ValueError(f"kernel must be a square (S, S) tensor with S odd, got {tuple(weight.shape)}")
    validate.finite(weight, "weight (the kernel)")
    return weight.shape[0]


_INDEX_CACHE: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor]] = {}


def toeplitz_index(h: int, w: int, kernel_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Index map ``idx[i, j]`` into the flattened ``S×S`` kernel and a validity mask, both ``(N, N)``.

    ``T = kernel.flatten()[idx] * valid`` is the doubly block-Toeplitz matrix of a 'same'-padded
    convolution (cross-correlation, as ``F.conv2d``) on an ``h×w`` grid, Eq. (10).
    """
    h, w = validate.integer(h, "h", low=1), validate.integer(w, "w", low=1)
    validate.integer(kernel_size, "kernel_size", low=1)
    validate.fits_memory(3 * (h * w) ** 2, "h and w: the (hw)×(hw) Toeplitz matrix", itemsize=8)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    key = (h, w, kernel_size)
    if key not in _INDEX_CACHE:
        r = kernel_size // 2
        rows = torch.arange(h).repeat_interleave(w)
        cols = torch.arange(w).repeat(h)
        dr = rows[None, :] - rows[:, None] + r  # kernel row for output i, input j
        dc = cols[None, :] - cols[:, None] + r
        valid = (dr >= 0) & (dr < kernel_size) & (dc >= 0) & (dc < kernel_size)
        idx = dr.clamp(0, kernel_size - 1) * kernel_size + dc.clamp(0, kernel_size - 1)
        _INDEX_CACHE[key] = (idx, valid)
    return _INDEX_CACHE[key]


def conv_toeplitz(weight: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The ``(N, N)`` matrix ``W_linear`` with ``conv(x) = W_linear · x̃``, Eq. (10), OAMixer §3.2."""
    s = _check_kernel(weight)
    idx, valid = toeplitz_index(h, w, s)
    idx, valid = idx.to(weight.device), valid.to(weight.device)
    return weight.flatten()[idx] * valid.to(weight.dtype)  # (S, S) -> (S²,), gathered at idx (N, N) -> (N, N)


def _check_conv(x: torch.Tensor, bias: torch.Tensor | float) -> None:
    validate.tensor(x, "x")
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"x must be a floating (B, C, h, w) tensor, got {tuple(x.shape)}")
    validate.finite(x, "x")
    validate.number(bias, "bias")


def _check_conv_dtypes(x: torch.Tensor, weight: torch.Tensor, mask, log_mask) -> None:
    validate.same_dtype(x=x, weight=weight, **{"mask" if mask is not None else "log_mask": _given(mask, log_mask)})


def conv_mixing_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | float,
    mask: torch.Tensor | None = None,
    log_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. (11): ``(M ⊙ W_linear) · x̃ + b`` with a dense Toeplitz matrix, ``O(N²)`` per channel.

    ``x``: ``(B, C, h, w)``; ``weight``: one ``(S, S)`` kernel shared over channels; ``bias``: scalar. The mask
    is local, as :func:`conv_mixing` takes it: exactly one of ``mask`` ``(B, S², N)`` in ``[0, 1]`` and
    ``log_mask = −κ · local_distance(...)``; entry ``[b, s, i]`` weighs patch ``i``'s ``s``-th neighbour, the only
    entries of ``M`` that ``W_linear`` does not zero. Returns ``(B, C, h, w)``.
    """
    # shapes and values of the Eq. (11) inputs; S, the kernel side
    s = _check_kernel(weight)
    _check_conv(x, bias)
    b, _, h, w = x.shape
    check_masks(mask, log_mask, (b, s * s, h * w), "(B, S², N)", floating=True)
    _check_conv_dtypes(x, weight, mask, log_mask)
    t = conv_toeplitz(weight, h, w)  # W_linear (N, N): conv(x) = W_linear · x̃, Eq. (10)
    idx, _ = toeplitz_index(h, w, s)  # kernel offset s(i, j) of every entry of W_linear
    rows = torch.arange(h * w, device=x.device)[:, None]  # output patch i of every entry
    m = as_mask(mask, log_mask)[:, idx.to(x.device), rows]  # M_ij = M_local[s(i, j), i], (B, N, N), Eq. (3)
    xt = x.flatten(2)  # x̃: (B, C, N)
    out = torch.einsum("bij,bcj->bci", m * t, xt) + bias  # (M ⊙ W_linear) · x̃ + b, Eq. (11)
    return validate.overflow(out.view_as(x), "x, weight")  # (B, C, h, w): back to the grid


# Dense (N×N matrix, one batched GEMM) up to N = 64 + 4.5·S² patches, local (S² shifted multiply-adds) above:
# where the two cost the same, measured on CPU with C = 64 for S = 3, 5, 7, 9 (N ≈ 95, 185, 290, 430).
_DENSE_UP_TO = (64.0, 4.5)
_METHODS = ("auto", "dense", "local")
_SCATTER_CACHE: dict[tuple[int, int, int, torch.device], tuple[torch.Tensor, int]] = {}


def conv_mixing(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | float,
    mask: torch.Tensor | None = None,
    log_mask: torch.Tensor | None = None,
    *,
    method: str = "auto",
) -> torch.Tensor:
    """Eq. (11) from the local mask: ``(M ⊙ W_linear) · x̃ + b`` without an ``N×N`` matrix as input.

    Same arguments as :func:`conv_mixing_reference` (exactly one of ``mask`` ``(B, S², N)`` and
    ``log_mask = −κ · local_distance(...)``); each output patch sums its ``S×S`` neighbours weighted by
    ``kernel · M``. Two ways to compute it, chosen by the keyword-only ``method`` (``"auto"`` picks by size):

    * ``"dense"`` scatters the ``B·S²·N`` coefficients into the ``(B, N, N)`` matrix ``M ⊙ W_linear`` and
      multiplies once, ``O(N²·C)`` but at matrix-product speed: faster on small grids;
    * ``"local"`` adds one shifted, per-patch weighted copy of ``x`` per kernel offset, ``O(N·S²·C)`` and
      no ``N×N`` matrix: faster (and the only one that fits in memory) on large grids.
    """
    s = _check_kernel(weight)
    _check_conv(x, bias)
    b, c, h, w = x.shape
    check_masks(mask, log_mask, (b, s * s, h * w), "(B, S², N)", floating=True)
    _check_conv_dtypes(x, weight, mask, log_mask)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if method == "auto":
        method = conv_mixing_method(h * w, s)
    coeff = (weight.flatten()[None, :, None] * as_mask(mask, log_mask)).to(x.dtype)  # (B, S², N): kernel ⊙ M
    if method == "dense":
        return validate.overflow(_conv_mixing_dense(x, coeff, bias, s), "x, weight")
    return validate.overflow(_conv_mixing_local(x, coeff, bias, s), "x, weight")


def conv_mixing_method(num_patches: int, kernel_size: int) -> str:
    """The branch ``conv_mixing(..., method="auto")`` takes for ``N`` patches and an ``S×S`` kernel."""
    validate.integer(num_patches, "num_patches", low=1)
    validate.integer(kernel_size, "kernel_size", low=1)
    return "dense" if num_patches <= _DENSE_UP_TO[0] + _DENSE_UP_TO[1] * kernel_size**2 else "local"


def _scatter_index(h: int, w: int, s: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """Where each of the ``S²·N`` local coefficients goes in the flattened transposed matrix ``(M ⊙ W_linear)ᵀ``.

    Entry ``(i, j)`` of the Toeplitz matrix (:func:`toeplitz_index`) takes kernel offset ``k = idx[i, j]``, i.e.
    ``coeff[k, i]``, and sits at ``j·N + i`` in the transposed matrix (so that ``x̃ᵀ·(M ⊙ W)ᵀ`` is a plain
    matrix product). Coefficients of out-of-grid neighbours go to slots past ``N²``, each its own, and are dropped.
    Returns the index and the number of slots.
    """
    key = (h, w, s, device)
    if key not in _SCATTER_CACHE:
        idx, valid = toeplitz_index(h, w, s)
        n = h * w
        pos = valid.flatten().nonzero().squeeze(1)  # (nnz,): i·N + j of the nonzeros
        index = torch.full((s * s * n,), -1, dtype=torch.int64)
        index[idx.flatten()[pos] * n + pos // n] = (pos % n) * n + pos // n  # idx.flatten(): (N²,)
        unused = int((index < 0).sum())
        index[index < 0] = n * n + torch.arange(unused)
        _SCATTER_CACHE[key] = (index.to(device), n * n + unused)
    return _SCATTER_CACHE[key]


def _conv_mixing_dense(x: torch.Tensor, coeff: torch.Tensor, bias: torch.Tensor | float, s: int) -> torch.Tensor:
    b, c, h, w = x.shape
    n = h * w
    index, slots = _scatter_index(h, w, s, x.device)
    flat = x.new_zeros(b, slots).index_copy_(1, index, coeff.reshape(b, -1))  # (B, slots) from (B, S²·N)
    matrix_t = flat[:, : n * n].view(b, n, n)  # (B, N, N): (M ⊙ W_linear)ᵀ
    out = torch.baddbmm(torch.as_tensor(bias, dtype=x.dtype, device=x.device), x.flatten(2), matrix_t)  # (B, C, N)
    return out.view_as(x)  # (B, C, h, w)


def _conv_mixing_local(x: torch.Tensor, coeff: torch.Tensor, bias: torch.Tensor | float, s: int) -> torch.Tensor:
    b, c, h, w = x.shape
    r = s // 2
    # channels last: each multiply-add below runs over C contiguous values with one coefficient per patch
    xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, r, r, r, r))  # (B, h + 2r, w + 2r, C)
    coeff = coeff.view(b, s * s, h, w, 1)  # (B, S², h, w, 1)
    out = x.new_zeros(b, h, w, c).add_(bias)
    for dy in range(s):  # one shifted multiply-add per kernel offset: O(N·S²·C), no N×N, no unfold copy
        for dx in range(s):
            out.addcmul_(coeff[:, dy * s + dx], xp[:, dy : dy + h, dx : dx + w])
    return out.permute(0, 3, 1, 2)  # (B, C, h, w)
