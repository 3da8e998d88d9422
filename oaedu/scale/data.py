"""Datasets for paper-scale runs: per-sample augmentation that does not depend on the world size, two-view items for
the contrastive learners, sharded evaluation, and small fake copies of the real datasets' folder layouts.

Randomness of an augmentation is keyed by ``(seed, epoch, index)`` of the item, so an image gets the same views
whichever rank or DataLoader worker loads it, and a run is reproducible at any world size.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset

from .. import validate
from ..contracam.augment import background_mixup, background_only
from ..data.background_challenge import VARIANTS
from ..distributed import Context, gather_objects, shard
from ..metrics import bg_gap

Augment = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def item_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator seeded from ``(seed, epoch, index)`` alone (CRC-32 of the three numbers)."""
    key = zlib.crc32(f"{seed}/{epoch}/{index}".encode())
    return torch.Generator().manual_seed(key)


class _Keyed(Dataset):
    """The items of ``dataset``, each with the generator of :func:`item_generator` for this epoch; call
    :meth:`set_epoch` every epoch (the training loop does)."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, validate.integer(seed, "seed", low=0), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = validate.integer(epoch, "epoch", low=0)

    def __len__(self) -> int:
        return len(self.dataset)

    def _keyed(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor, torch.Generator]:
        image, label, mask = self.dataset[index]
        return image, label, mask, item_generator(self.seed, self.epoch, index)


class Augmented(_Keyed):
    """``dataset`` with ``augment(image[None], mask[None], generator)`` applied per item (a batch of one, so the
    course's batched transforms serve here too). ``views=2`` returns two views stacked, ``(2, 3, H, W)``, and the
    first view's mask."""

    def __init__(self, dataset: Dataset, augment: Augment, seed: int = 0, views: int = 1) -> None:
        validate.is_callable(augment, "augment")
        validate.integer(views, "views", low=1, high=2)
        super().__init__(dataset, seed)
        self.augment, self.views = augment, views

    def __getitem__(self, index: int):
        image, label, mask, gen = self._keyed(index)
        out = [self.augment(image[None], torch.as_tensor(mask)[None], gen) for _ in range(self.views)]
        if self.views == 1:
            return out[0][0][0], label, out[0][1][0]
        return torch.stack([o[0][0] for o in out]), label, out[0][1][0]


def resize_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Maps ``(B, s, s)`` resized (bilinear) to the images' ``size``, clamped to [0, 1]."""
    return F.interpolate(maps[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)


class BackgroundMixupViews(_Keyed):
    """Two views of each training image for MoCo with BG-Mixup (ContraCAM Eq. 4, §2.3), one image at a time: with
    probability ``p`` the first view's base image is ``CAM(x)⊙x + (1 − CAM(x))⊙x^bg``, where ``x^bg`` is the
    tiled background (:func:`~oaedu.contracam.augment.background_only`) of a random training image whose CAM has
    one (``valid``); the second view keeps the image's own background. ``cams`` ``(N, s, s)`` are the fixed maps of
    every training image (stored small, resized to the image here); ``augment(image, generator)`` makes a view.
    The draws are keyed by ``(seed, epoch, index)`` like :class:`Augmented`'s."""

    def __init__(
        self,
        dataset: Dataset,
        cams: torch.Tensor,
        valid: torch.Tensor,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
        p: float = 0.4,
        threshold: float = 0.2,
        seed: int = 0,
    ) -> None:
        validate.is_callable(augment, "augment")
        validate.probability(p, "p")
        validate.fraction(threshold, "threshold")
        super().__init__(dataset, seed)
        if not isinstance(cams, torch.Tensor) or cams.ndim != 3 or len(cams) != len(dataset):
            raise ValueError(f"cams must be (N, s, s) with N = {len(dataset)} images, got {validate.describe(cams)}")
        if not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool or valid.shape != (len(dataset),):
            raise ValueError(f"valid must be a bool tensor of shape ({len(dataset)},), got {validate.describe(valid)}")
        self.cams, self.donors, self.augment = cams, valid.nonzero()[:, 0], augment
        self.p, self.threshold = p, threshold

    def __getitem__(self, index: int):
        image, label, mask, gen = self._keyed(index)
        base = image[None]
        if len(self.donors) and torch.rand((), generator=gen) < self.p:
            donor = int(self.donors[torch.randint(len(self.donors), (), generator=gen)])
            size = tuple(image.shape[-2:])
            backgrounds, _ = background_only(
                self.dataset[donor][0][None], resize_maps(self.cams[donor][None], size), self.threshold
            )
            base = background_mixup(base, resize_maps(self.cams[index][None], size), backgrounds)
        views = [self.augment(base, gen)[0], self.augment(image[None], gen)[0]]
        return torch.stack(views), label, torch.as_tensor(mask)


class SceneItems(Dataset):
    """Scenes (``(image, instance_mask, attributes)`` items) as the ``(image, 0, instance_mask)`` items that the
    training loop takes (the self-supervised steps use no label)."""

    def __init__(self, scenes: Dataset) -> None:
        self.scenes = scenes

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int):
        image, mask, _ = self.scenes[index]
        return image, 0, mask


def limited(dataset: Dataset, n: int | None) -> Dataset:
    """The first ``n`` items of ``dataset`` (all of them for ``None``)."""
    if n is None or n >= len(dataset):
        return dataset
    return Subset(dataset, range(validate.integer(n, "n", low=1)))


def _batches(index: list[int], batch_size: int, min_batch: int) -> list[list[int]]:
    """``index`` cut into consecutive batches of ``batch_size`` items and a remainder; where the remainder would hold
    fewer than ``min_batch`` items, the batches are balanced instead (sizes differing by one at most, each at least
    ``min_batch`` when ``index`` has that many, at most ``batch_size`` where that allows)."""
    n = len(index)
    if n % batch_size == 0 or n % batch_size >= min_batch or n < min_batch:
        return [index[a : a + batch_size] for a in range(0, n, batch_size)]
    count = -(-n // batch_size)
    if n // count < min_batch:
        count = n // min_batch
    bounds = [n * i // count for i in range(count + 1)]
    return [index[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@torch.no_grad()
def sharded_outputs(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    dataset: Dataset,
    ctx: Context,
    batch_size: int = 64,
    workers: int = 0,
    min_batch: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn(images, masks)`` over every item of ``dataset``; returns ``(outputs, labels)`` of all items in dataset
    order on every rank (each item computed exactly once). The items are cut into batches in dataset order, of at
    most ``batch_size`` items and, where there are that many, at least ``min_batch`` (ContraCAM needs the other
    images of its batch), and the ranks take whole batches in turn (:func:`shard`): an item meets the same batch at
    any world size."""
    validate.integer(batch_size, "batch_size", low=1)
    validate.integer(min_batch, "min_batch", low=1, high=batch_size)
    everything = _batches(list(range(len(dataset))), batch_size, min_batch)
    batches = [everything[b] for b in shard(len(everything), ctx)]
    rows: list[tuple[int, torch.Tensor, int]] = []
    if batches:
        loader = DataLoader(dataset, batch_sampler=batches, num_workers=workers)
        for batch, (images, labels, masks) in zip(batches, loader, strict=True):
            out = fn(images.to(ctx.device), masks.to(ctx.device)).float().cpu()
            rows += [(batch[i], out[i], int(labels[i])) for i in range(len(out))]
    rows = sorted(gather_objects(rows, ctx), key=lambda r: r[0])
    if [r[0] for r in rows] != list(range(len(dataset))):
        raise RuntimeError("sharded evaluation lost or duplicated items")
    return torch.stack([r[1] for r in rows]), torch.tensor([r[2] for r in rows])


def accuracy(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], dataset: Dataset, ctx: Context, **kw
) -> float:
    """Top-1 accuracy (%) of ``forward(images, masks) -> logits`` on ``dataset``, sharded over ranks."""
    logits, labels = sharded_outputs(forward, dataset, ctx, **kw)
    return 100.0 * (logits.argmax(1) == labels).double().mean().item()


def suite_accuracy(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], suite: Mapping[str, Dataset], ctx: Context, **kw
) -> dict[str, float]:
    """Accuracy (%) on every Background Challenge variant of ``suite`` and ``bg_gap`` (Mixed-Same − Mixed-Rand)."""
    out = {v: accuracy(forward, suite[v], ctx, **kw) for v in VARIANTS if v in suite}
    if "mixed_same" in out and "mixed_rand" in out:
        out["bg_gap"] = bg_gap(out["mixed_same"], out["mixed_rand"])
    return out


def _blob_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy RGB image with one bright ellipse and its mask (for fake dataset trees)."""
    yy, xx = np.mgrid[:size, :size] / size
    cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
    mask = ((xx - cx) ** 2 + (yy - cy) ** 2) < r**2
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    image[mask] = rng.integers(0, 256, 3, dtype=np.uint8)
    return image, mask


def write_fake_imagenet9(root: str | Path, per_class: int = 2, size: int = 64, seed: int = 0) -> Path:
    """A tiny ImageNet-9 in the released layout under ``root`` (``bg_challenge/<variant>/val/<NN_class>/*.JPEG`` with
    ``fg_mask/val/...npy``, and ``bg_challenge_train/original/train/...``): for tests and dry runs, not results."""
    validate.integer(per_class, "per_class", low=1)
    validate.integer(size, "size", low=8)
    root, rng = Path(root), np.random.default_rng(seed)
    classes = ["00_dog", "01_bird", "02_wheeled vehicle", "03_reptile", "04_carnivore", "05_insect"]
    classes += ["06_musical instrument", "07_primate", "08_fish"]
    for c in classes:
        for i in range(per_class):
            name = f"n{i:08d}_{c[:2]}"
            for variant, split, base in [(v, "val", "bg_challenge") for v in VARIANTS] + [
                ("original", "train", "bg_challenge_train")
            ]:
                folder = root / base / variant / split / c
                folder.mkdir(parents=True, exist_ok=True)
                image, mask = _blob_image(rng, size)
                Image.fromarray(image).save(folder / f"{name}.JPEG")
                if base == "bg_challenge" and variant == "original":
                    masks = root / base / "fg_mask" / split / c
                    masks.mkdir(parents=True, exist_ok=True)
                    np.save(masks / f"{name}.npy", mask.astype(np.uint8))
    return root


def write_fake_clevr(root: str | Path, n: int = 8, size: int = 64, seed: int = 0, splits=("train", "val")) -> Path:
    """A tiny CLEVR-with-masks tree as ``python -m oaedu convert-clevr`` writes it (``<split>/images/*.png`` and
    ``<split>/masks/*.png`` of 8-bit instance ids): for tests and dry runs."""
    validate.integer(n, "n", low=1)
    root, rng = Path(root), np.random.default_rng(seed)
    for split in splits:
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "masks").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image, mask = _blob_image(rng, size)
            ids = mask.astype(np.uint8)
            ids[: size // 4, : size // 4] = 2  # a second object in a corner
            Image.fromarray(image).save(root / split / "images" / f"{i:06d}.png")
            Image.fromarray(ids).save(root / split / "masks" / f"{i:06d}.png")
    return root
