"""In-memory datasets of images with masks, with a fast batch iterator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from .. import validate


def _check_images(images: torch.Tensor) -> None:
    validate.images(images, "images", min_batch=0)


@dataclass
class MaskedImageDataset(torch.utils.data.Dataset):
    """Labelled images with foreground masks; item ``i`` is ``(image[3,H,W], label, mask bool[H,W])``.

    ``bg_labels`` holds the background class of each image (synthetic data only), ``variant`` the
    Background Challenge variant the images come from.
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    bg_labels: torch.Tensor | None = None
    variant: str = "original"
    num_classes: int = 0

    def __post_init__(self) -> None:
        _check_images(self.images)
        validate.tensor(self.labels, "labels")
        validate.tensor(self.masks, "masks")
        n, _, h, w = self.images.shape
        if self.labels.shape != (n,) or self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be int64 ({n},), got {self.labels.dtype} {tuple(self.labels.shape)}")
        if self.masks.shape != (n, h, w) or self.masks.dtype != torch.bool:
            raise ValueError(f"masks must be bool ({n}, {h}, {w}), got {self.masks.dtype} {tuple(self.masks.shape)}")
        validate.class_labels(self.labels, "labels", self.num_classes or None)
        if self.bg_labels is not None:
            validate.tensor(self.bg_labels, "bg_labels", shape=(n,), dtype="integer")
        if not self.num_classes:
            self.num_classes = int(self.labels.max()) + 1 if n else 0

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        return self.images[index], int(self.labels[index]), self.masks[index]

    def subset(self, index: torch.Tensor | slice) -> MaskedImageDataset:
        """The items at ``index`` as a new dataset (views where possible)."""
        bg = self.bg_labels[index] if self.bg_labels is not None else None
        return MaskedImageDataset(
            self.images[index], self.labels[index], self.masks[index], bg, self.variant, self.num_classes
        )

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yield ``(images, labels, masks)`` batches by slicing the tensors (much faster than a DataLoader)."""
        yield from iterate_batches((self.images, self.labels, self.masks), batch_size, shuffle, generator)

    def num_batches(self, batch_size: int) -> int:
        """How many batches :meth:`batches` yields: the last one may be smaller."""
        return -(-len(self) // validate.integer(batch_size, "batch_size", low=1))


@dataclass
class SceneDataset(torch.utils.data.Dataset):
    """Multi-object scenes; item ``i`` is ``(image[3,H,W], instance_mask int64[H,W], attributes)``.

    ``instance_mask`` is 0 on the background and ``k`` on object ``k`` (1-based); the attributes of
    object ``k`` sit at index ``k - 1`` of every per-object tensor in ``attributes``.
    """

    images: torch.Tensor
    instance_masks: torch.Tensor
    attributes: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_images(self.images)
        validate.tensor(self.instance_masks, "instance_masks")
        n, _, h, w = self.images.shape
        if self.instance_masks.shape != (n, h, w) or self.instance_masks.dtype != torch.int64:
            raise ValueError(
                f"instance_masks must be int64 ({n}, {h}, {w}), got "
                f"{self.instance_masks.dtype} {tuple(self.instance_masks.shape)}"
            )
        low = int(self.instance_masks.min()) if n else 0
        if low < 0:
            raise ValueError(f"instance_masks must hold ids >= 0 (0 = background), got {low}")
        if not isinstance(self.attributes, dict):
            raise TypeError(f"attributes must be a dict of per-scene tensors, got {type(self.attributes).__name__}")
        for key, value in self.attributes.items():
            validate.tensor(value, f"attributes[{key!r}]", min_ndim=1)
            if value.shape[0] != n:
                raise ValueError(f"attributes[{key!r}] must have one row per scene ({n}), got {tuple(value.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        return self.images[index], self.instance_masks[index], {k: v[index] for k, v in self.attributes.items()}

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(images, instance_masks)`` batches."""
        yield from iterate_batches((self.images, self.instance_masks), batch_size, shuffle, generator)


def iterate_batches(
    tensors: tuple[torch.Tensor, ...],
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Slice equally long tensors into batches, optionally in a seeded random order."""
    if not isinstance(tensors, (tuple, list)) or not tensors:
        raise TypeError(f"tensors must be a non-empty tuple of tensors, got {validate.describe(tensors)}")
    for i, t in enumerate(tensors):
        validate.tensor(t, f"tensors[{i}]", min_ndim=1)
    lengths = [t.shape[0] for t in tensors]
    if len(set(lengths)) > 1:
        raise ValueError(f"tensors must have the same length (size of dim 0), got lengths {lengths}")
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    return _batches(tuple(tensors), batch_size, shuffle, generator)


def _batches(tensors, batch_size, shuffle, generator):
    n = tensors[0].shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            yield tuple(t[start : start + batch_size] for t in tensors)
        else:
            idx = order[start : start + batch_size]
            yield tuple(t[idx] for t in tensors)


def take(dataset: torch.utils.data.Dataset, indices) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack items ``(image, label, mask)`` of any course dataset (synthetic or loaded from disk)."""
    indices = [validate.integer(i, "indices[i]") for i in indices]
    if not indices:
        raise ValueError("take needs at least one index (indices is empty)")
    n = len(dataset)
    bad = [i for i in indices if not -n <= i < n]
    if bad:
        raise IndexError(f"indices must lie in [0, {n}) for a dataset of {n} items, got {bad[:5]}")
    items = [dataset[i] for i in indices]
    if any(torch.as_tensor(it[1]).numel() != 1 for it in items):
        raise TypeError(f"dataset must yield (image, label, mask) items, got a {type(items[0][1]).__name__} label")
    images = torch.stack([it[0] for it in items])
    labels = torch.tensor([int(it[1]) for it in items], dtype=torch.int64)
    masks = torch.stack([it[2] for it in items])
    return images, labels, masks


def first_of_each_class(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Index of the first item of every class (``ValueError`` if a class is missing)."""
    validate.tensor(labels, "labels", ndim=1)
    num_classes = validate.integer(num_classes, "num_classes", low=1)
    firsts = []
    for c in range(num_classes):
        hits = (labels == c).nonzero()
        if not len(hits):
            raise ValueError(f"class {c} does not occur in labels (num_classes={num_classes})")
        firsts.append(int(hits[0, 0]))
    return torch.tensor(firsts)
