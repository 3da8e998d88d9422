"""TokenCut-style foreground masks from patch features (Wang et al., 2022), the mask source RobustViT uses
when no ground truth exists (§4, "✗" rows of its Table 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import validate
from ..models import patch_grid


def normalized_cut_mask(features: torch.Tensor, tau: float = 0.2, eps: float = 1e-5) -> torch.Tensor:
    """Bipartition the patches of each image by the normalised cut: ``features (B, h, w, D)`` on the patch grid in,
    ``bool (B, h, w)`` foreground out.

    ``W_ij = 1`` if ``cos(f_i, f_j) > tau`` else ``eps`` (a connected graph), ``D`` its degrees; the second
    smallest generalised eigenvector of ``(D − W) y = λ D y`` (via ``torch.linalg.eigh`` on
    ``D^{-1/2}(D − W)D^{-1/2}``) splits the graph at its mean. The foreground is the side that holds the
    *seed*, the patch with the largest absolute eigenvector entry.
    """
    validate.tensor(features, "features", finite_values=True)
    if features.ndim != 4 or features.shape[1] * features.shape[2] < 2:
        raise ValueError(
            f"features must be (B, h, w, D) on a patch grid of at least 2 patches, got {tuple(features.shape)}"
        )
    validate.number(tau, "tau")
    validate.positive(eps, "eps")
    grid = features.shape[1:3]
    f = F.normalize(features.flatten(1, 2).double(), dim=-1)  # (B, h, w, D) -> (B, N, D)
    sim = f @ f.transpose(1, 2)  # cos(f_i, f_j) (B, N, N)
    w = torch.where(sim > tau, torch.ones_like(sim), torch.full_like(sim, eps))  # W_ij
    d = w.sum(-1)  # degrees (B, N)
    d_isqrt = d.rsqrt()
    lap = torch.eye(w.shape[-1], dtype=w.dtype, device=w.device) - d_isqrt[:, :, None] * w * d_isqrt[:, None, :]
    _, vecs = torch.linalg.eigh(lap)  # D^{-1/2}(D − W)D^{-1/2}, eigenvalues ascending
    y = vecs[..., 1] * d_isqrt  # the second generalised eigenvector (B, N)
    side = y > y.mean(-1, keepdim=True)
    seed = y.abs().argmax(-1)
    seed_side = side.gather(1, seed[:, None])
    return (side == seed_side).unflatten(1, grid)  # (B, N) -> (B, h, w)


@torch.no_grad()
def tokencut_masks(model: torch.nn.Module, images: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """TokenCut-style foreground masks of a timm ViT: :func:`normalized_cut_mask` of its last block's patch tokens,
    ``bool (B, h, w)`` on the patch grid, or at pixel ``size`` (nearest: each patch's value over its pixels)."""
    validate.images(images, model=validate.module(model))
    device = next(model.parameters()).device
    tokens = model.forward_features(images.to(device))[:, model.num_prefix_tokens :]  # (B, N, D), no CLS
    validate.overflow(tokens, "images", "the ViT's patch tokens")
    masks = normalized_cut_mask(tokens.unflatten(1, patch_grid(model)).cpu())  # (B, N, D) -> (B, h, w, D)
    if size is None:
        return masks
    return F.interpolate(masks[:, None].float(), size=validate.size2(size, "size"), mode="nearest")[:, 0] > 0.5
