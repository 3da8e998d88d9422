"""The "spurious marker" toy of the RobustViT notebook (notebook 05; docs/deviations.md §4): a texture object and a
class-coloured marker patch in the background.

32×32 images on a 4×4 grid of 8-px patches. The **object** is a 2×2-patch block at a random patch-aligned
place; its class is its texture (horizontal, vertical or diagonal stripes, or a checkerboard, in two random
colours). The **marker** is one background patch painted in a class colour (magenta, cyan, white, black).
Splits: ``train``/``id`` (marker agrees with the label with probability ``p``), ``random`` (marker class
independent of the label) and ``conflict`` (marker always of another class), the ImageNet-A/ObjectNet stand-in.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer

from .. import validate
from ..data import MaskedImageDataset

MARKER_COLOURS = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
SPLITS = ("train", "id", "random", "conflict")
NUM_CLASSES = 4
IMAGE_SIZE, PATCH_SIZE = 32, 8
GRID = IMAGE_SIZE // PATCH_SIZE


def marker_dataset(split: str, n: int, seed: int = 0, p: float = 0.95) -> MaskedImageDataset:
    """``n`` images of ``split``; items are ``(image [3,32,32], label, object mask [32,32])``; ``bg_labels`` holds
    each image's marker class."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    validate.integer(n, "n", low=1)
    validate.fits_memory(n * 4 * 32 * 32, "n: the images")
    validate.probability(p, "p")
    seed = validate.seed(seed)
    g = torch.Generator().manual_seed((seed * 4 + SPLITS.index(split)) % 2**64)  # one stream per split
    k, s, patch = NUM_CLASSES, IMAGE_SIZE, PATCH_SIZE
    labels = torch.randint(k, (n,), generator=g)
    if split in ("train", "id"):
        marker = torch.where(torch.rand(n, generator=g) < p, labels, torch.randint(k, (n,), generator=g))
    elif split == "random":
        marker = torch.randint(k, (n,), generator=g)
    else:
        marker = (labels + torch.randint(1, k, (n,), generator=g)) % k
    corner = torch.randint(3, (n, 2), generator=g)  # object's top-left patch (row, col) in a 4×4 grid
    cell = torch.arange(s) // patch
    rows = (cell[None] >= corner[:, :1]) & (cell[None] <= corner[:, :1] + 1)
    cols = (cell[None] >= corner[:, 1:]) & (cell[None] <= corner[:, 1:] + 1)
    masks = rows[:, :, None] & cols[:, None, :]
    # The marker takes one of the 12 patches outside the object.
    free = ~masks[:, ::patch, ::patch].reshape(n, 16)  # (n, 4, 4) -> (n, 16): one flag per patch
    choice = torch.multinomial(free.float(), 1, generator=g)[:, 0]
    mrow, mcol = choice // 4, choice % 4
    marker_mask = ((cell[None] == mrow[:, None])[:, :, None]) & ((cell[None] == mcol[:, None])[:, None, :])

    y, x = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    textures = torch.stack([(y // 2) % 2, (x // 2) % 2, ((x + y) // 2) % 2, (x // 2 + y // 2) % 2]).float()
    pattern = textures[labels]
    c1, c2 = torch.rand(n, 3, generator=g), torch.rand(n, 3, generator=g)
    obj = c1[:, :, None, None] * pattern[:, None] + c2[:, :, None, None] * (1 - pattern[:, None])
    background = torch.rand(n, 3, generator=g)[:, :, None, None] + 0.15 * torch.randn(n, 3, s, s, generator=g)
    images = torch.where(marker_mask[:, None], MARKER_COLOURS[marker][:, :, None, None], background.clamp(0, 1))
    images = torch.where(masks[:, None], obj, images)
    return MaskedImageDataset(images.contiguous(), labels, masks, marker, variant=split, num_classes=k)


def marker_patches(data: MaskedImageDataset) -> torch.Tensor:
    """``bool (n, 4, 4)``: the marker patch of each image of a marker dataset (exactly one per image)."""
    made_here = isinstance(data, MaskedImageDataset) and data.variant in SPLITS and data.bg_labels is not None
    if not made_here or data.images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE) or int(data.bg_labels.max()) >= NUM_CLASSES:
        raise ValueError("data must be a dataset made by marker_dataset (32×32 images, marker classes in bg_labels)")
    colour = MARKER_COLOURS[data.bg_labels][:, :, None, None]
    hit = (data.images == colour).all(1) & ~data.masks
    return hit.view(-1, GRID, PATCH_SIZE, GRID, PATCH_SIZE).all(4).all(2)  # (n, 32, 32) -> (n, 4, 8, 4, 8) -> (n, 4, 4)


class _Centre(torch.nn.Module):
    """``x − 0.5``: zero-centred pixels let the toy ViT learn the texture as well as the marker within its budget."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - 0.5


def marker_vit() -> VisionTransformer:
    """The ViT of the marker toy: 4×4 patches of 8 px, width 64, 4 blocks of 4 heads (docs/deviations.md §4).

    It takes images in [0, 1] and centres them inside its patch embedding."""
    from ..models import tiny_vit

    vit = tiny_vit(
        num_classes=NUM_CLASSES, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE, embed_dim=64, depth=4, num_heads=4
    )
    vit.patch_embed.proj = torch.nn.Sequential(_Centre(), vit.patch_embed.proj)
    return vit
