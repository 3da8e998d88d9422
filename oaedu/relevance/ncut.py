"""TokenCut-style foreground masks from patch features (Wang et al., 2022), the mask source RobustViT uses
when no ground truth exists (§4, "✗" rows of its Table 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import validate


def normalized_cut_mask(features: torch.Tensor, tau: float = 0.2, eps: float = 1e-5) -> torch.Tensor:
    """Bipartition the patches of each image by the normalised cut; returns ``bool (B, N)`` foreground.

    ``W_ij = 1`` if ``cos(f_i, f_j) > tau`` else ``eps`` (a connected graph), ``D`` its degrees; the second
    smallest generalised eigenvector of ``(D − W) y = λ D y`` (via ``torch.linalg.eigh`` on
    ``D^{-1/2}(D − W)D^{-1/2}``) splits the graph at its mean. The foreground is the side that holds the
    *seed*, the patch with the largest absolute eigenvector entry.
    """
    validate.tensor(features, "features", finite_values=True)
    if features.ndim != 3 or features.shape[1] < 2:
        raise ValueError(f"features must be (B, N, D) with N >= 2 patches, got {tuple(features.shape)}")
    validate.number(tau, "tau")
    validate.positive(eps, "eps")
    f = F.normalize(features.double(), dim=-1)
    sim = f @ f.transpose(1, 2)
    w = torch.where(sim > tau, torch.ones_like(sim), torch.full_like(sim, eps))
    d = w.sum(-1)
    d_isqrt = d.rsqrt()
    lap = torch.eye(w.shape[-1], dtype=w.dtype, device=w.device) - d_isqrt[:, :, None] * w * d_isqrt[:, None, :]
    _, vecs = torch.linalg.eigh(lap)
    y = vecs[..., 1] * d_isqrt
    side = y > y.mean(-1, keepdim=True)
    seed = y.abs().argmax(-1)
    seed_side = side.gather(1, seed[:, None])
    return side == seed_side
