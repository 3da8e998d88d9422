"""Object labellers that turn an image (and, for the ground truth, its mask) into patch labels ``(B, N, K)``.

OAMixer §3.3 / App. B use BigBiGAN saliency (L1), ReLabel class maps (cosine) and Bbox+GrabCut
(L1). Here: area-pooled ground-truth masks, CAM saliency of a small CNN trained with image labels
only, and a ReLabel-style dense class map from the same CNN. Each labeller is a callable
``labeller(images, masks) -> (B, N, K)`` and runs on train and test images alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .. import validate
from ..data.transforms import patch_fractions
from ..maps import minmax
from .mask import pairwise_distance


def _check_grid(grid: tuple[int, int]) -> tuple[int, int]:
    return validate.size2(grid, "grid", allow_int=False)


def _pool_to_grid(maps: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Area-pool ``(B, K, H, W)`` maps to ``(B, h·w, K)`` (upsampling first if the map is coarser)."""
    h, w = grid
    if maps.shape[-2] % h or maps.shape[-1] % w:
        maps = F.interpolate(
            maps,
            size=(h * max(1, -(-maps.shape[-2] // h)), w * max(1, -(-maps.shape[-1] // w))),
            mode="bilinear",
            align_corners=False,
        )
    return F.adaptive_avg_pool2d(maps, (h, w)).flatten(2).transpose(1, 2)  # (B, K, h, w) -> (B, K, N) -> (B, N, K)


class GTLabeller:
    """Ground-truth labels: the object fraction of each patch, ``(B, N, 1)`` for L1 (Bbox+GrabCut analogue)."""

    def __init__(self, grid: tuple[int, int]) -> None:
        self.grid = _check_grid(grid)

    def __call__(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        validate.tensor(images, "images", ndim=4)
        validate.tensor(masks, "masks")
        if masks.ndim != 3:
            raise ValueError(f"masks must be (B, H, W), got {tuple(masks.shape)}")
        if masks.shape[0] != images.shape[0]:
            raise ValueError(f"{masks.shape[0]} masks for {images.shape[0]} images")
        # (B, h, w) -> (B, N) -> (B, N, 1)
        return patch_fractions(masks, self.grid).flatten(1)[..., None].to(images.dtype)


class UniformLabeller:
    """Uninformative labels (all patches equal, so D = 0): the OAMixer model behaves like vanilla."""

    def __init__(self, grid: tuple[int, int]) -> None:
        self.grid = _check_grid(grid)

    def __call__(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        del masks
        validate.tensor(images, "images", ndim=4)
        return images.new_ones(images.shape[0], self.grid[0] * self.grid[1], 1)


class RotatedLabeller:
    """Another labeller's patch labels rotated by 180° on the patch grid: a control where the premise fails.

    The labels keep their values and statistics (as many object patches, the same distances, the same
    κ to learn), but they no longer separate *this* image's object from its background.
    """

    def __init__(self, labeller: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], grid: tuple[int, int]) -> None:
        if not callable(labeller):
            raise ValueError(f"labeller must be callable, got {type(labeller).__name__}")
        self.labeller, self.grid = labeller, _check_grid(grid)

    def __call__(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        labels = self.labeller(images, masks)
        b, n, k = labels.shape
        if n != self.grid[0] * self.grid[1]:
            raise ValueError(f"the labeller returned {n} patches, expected {self.grid[0]}×{self.grid[1]}")
        # (B, N, K) -> (B, h, w, K), rotated -> (B, N, K)
        return labels.view(b, *self.grid, k).flip(1, 2).reshape(b, n, k)


class DenseCNN(torch.nn.Module):
    """A small fully convolutional classifier: logits are the spatial mean of a dense class map (CAM).

    Trained with image labels only (``oaedu.train.fit``), it provides a CAM saliency labeller and a
    ReLabel-style dense class labeller (Yun et al.; OAMixer App. B).
    """

    def __init__(self, num_classes: int, width: int = 32) -> None:
        super().__init__()
        validate.integer(num_classes, "num_classes", low=2)
        validate.integer(width, "width", low=1)
        validate.fits_memory(width * (16 * width + num_classes), "num_classes and width: the weights")

        def block(cin, cout, stride):
            return [torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(cout), torch.nn.ReLU()]

        self.features = torch.nn.Sequential(
            *block(3, width, 1), *block(width, 2 * width, 2), *block(2 * width, 2 * width, 1)
        )
        self.classifier = torch.nn.Conv2d(2 * width, num_classes, 1)

    def class_map(self, images: torch.Tensor) -> torch.Tensor:
        """Dense class logits ``(B, C, H/2, W/2)``."""
        validate.images(images)
        return self.classifier(self.features(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.class_map(images).mean((2, 3))

    @torch.no_grad()
    def saliency(self, images: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """CAM of the predicted class, ReLU, min–max per image, area-pooled: ``(B, N, 1)`` in [0, 1].

        A constant map (no activation) becomes all zeros instead of NaN (:func:`oaedu.maps.minmax`).
        """
        grid = _check_grid(grid)
        maps = self.class_map(images)
        pred = maps.mean((2, 3)).argmax(1)
        cam = maps[torch.arange(len(pred)), pred].relu()
        return _pool_to_grid(minmax(cam)[:, None], grid)

    @torch.no_grad()
    def relabel(self, images: torch.Tensor, grid: tuple[int, int], temperature: float = 1.0) -> torch.Tensor:
        """ReLabel-style multi-class patch maps: pooled class logits, softmax over classes, ``(B, N, C)``."""
        validate.positive(temperature, "temperature")
        grid = _check_grid(grid)
        return torch.softmax(_pool_to_grid(self.class_map(images), grid) / temperature, dim=-1)


class CamLabeller:
    """Labeller from a trained :class:`DenseCNN`: ``mode="saliency"`` (L1) or ``"relabel"`` (cosine)."""

    def __init__(self, cnn: DenseCNN, grid: tuple[int, int], mode: str = "saliency") -> None:
        if mode not in ("saliency", "relabel"):
            raise ValueError(f"mode must be 'saliency' or 'relabel', got {mode!r}")
        if not isinstance(cnn, DenseCNN):
            raise TypeError(f"cnn must be a DenseCNN, got {type(cnn).__name__}")
        self.cnn, self.grid, self.mode = cnn, _check_grid(grid), mode

    def __call__(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        del masks
        self.cnn.eval()
        images = images.to(next(self.cnn.parameters()).device)
        return self.cnn.saliency(images, self.grid) if self.mode == "saliency" else self.cnn.relabel(images, self.grid)


def label_separation(labels: torch.Tensor, masks: torch.Tensor, grid: tuple[int, int], distance: str = "l1") -> float:
    """How well labels separate object from background, as the mask sees them (Eq. 3 uses only ``D``).

    Per image: the mean distance ``D_ij`` over object–background patch pairs minus the mean over pairs
    on the same side (object: at least half the patch covered), averaged over images that have both.
    1 for exact binary labels, 0 for uninformative ones (``D`` the same everywhere), negative when
    labels group object patches with background patches.
    """
    grid = _check_grid(grid)
    validate.tensor(labels, "labels", ndim=3, dtype="float", finite_values=True)
    validate.binary_map(masks, "masks", ndim=3)
    if labels.shape[:2] != (masks.shape[0], grid[0] * grid[1]):
        raise ValueError(
            f"labels must be (B, N, K) with B = {masks.shape[0]} masks and N = {grid[0] * grid[1]} patches, "
            f"got {tuple(labels.shape)}"
        )
    dist = validate.overflow(pairwise_distance(labels, distance), "labels", "the distance between labels")
    obj = patch_fractions(masks, grid).flatten(1).to(dist.device) >= 0.5  # (B, h, w) -> (B, N)
    cross = obj[:, :, None] ^ obj[:, None, :]
    both = cross.any(2).any(1)
    if not both.any():
        raise ValueError("no image has both object and background patches")
    dist, cross = dist[both], cross[both].to(dist.dtype)
    within = 1.0 - cross
    gap = (dist * cross).sum((1, 2)) / cross.sum((1, 2)) - (dist * within).sum((1, 2)) / within.sum((1, 2))
    return float(gap.mean())
