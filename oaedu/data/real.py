"""Loaders for the real datasets, read from a local folder (nothing is ever downloaded).

The course runs on synthetic data by default. With the ``gpu`` profile, notebooks and
``python -m oaedu reproduce`` use these loaders when the data is present under ``$OAEDU_DATA``
(default ``./data/real``). A missing folder raises a :class:`FileNotFoundError` that says what to
download and where to put it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import validate
from .background_challenge import VARIANTS

DATA_ENV_VAR = "OAEDU_DATA"
REAL_DATA_ENV_VAR = "OAEDU_REAL_DATA"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
BG_CHALLENGE = "bg_challenge"  # the test sets, under $OAEDU_DATA
BG_CHALLENGE_TRAIN = "bg_challenge_train"  # the training set, under $OAEDU_DATA
IMAGENET9_REPO = "github.com/MadryLab/backgrounds_challenge"
IMAGENET9_DOWNLOADS = {
    "val": (
        f"the test sets of all eight variants with their foreground masks: the .tar.gz attached to the release "
        f"of {IMAGENET9_REPO} (it unpacks to {BG_CHALLENGE}/original/val/..., .../mixed_rand/val/..., "
        f"fg_mask/val/...)"
    ),
    "train": (
        f"the training set, a separate archive: original.tar.gz, the 'Original' link under 'Training Data' in the "
        f"README of {IMAGENET9_REPO} (in9l.tar.gz is the larger IN-9L; ignore the val/ folder inside either, it is "
        f"not the cleaned test set)"
    ),
}
CLEVR_DOWNLOAD = (
    "clevr_with_masks_train.tfrecords (one GZIP TFRecord file, folder clevr_with_masks of DeepMind's "
    "multi-object-datasets bucket; see github.com/deepmind/multi_object_datasets)"
)


def data_root() -> Path:
    """Where the real datasets live: ``$OAEDU_DATA``, else ``./data/real``."""
    return Path(os.environ.get(DATA_ENV_VAR) or "data/real")


def _misplaced(bases: tuple[Path, ...], expected: Path, looks_right, depth: int = 3) -> str:
    """A hint for a missing ``expected`` folder: a folder of the same name under one of ``bases`` (at most
    ``depth`` levels down) that ``looks_right``, and how to move it; empty if there is none."""
    for base in bases:
        frontier = [base] if base.is_dir() else []
        for _ in range(depth):
            frontier = [c for d in frontier for c in sorted(d.iterdir()) if c.is_dir()]
            found = next((c for c in frontier if c.name == expected.name and c != expected and looks_right(c)), None)
            if found is not None:
                return f" A folder like it is at {found}: move it to {expected} (e.g. `mv '{found}' '{expected}'`)."
    return ""


def _has_class_folders(folder: Path) -> bool:
    return any(c.is_dir() and c.name[:2].isdigit() for c in folder.iterdir())


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _load_rgb(path: Path, size: int | None) -> torch.Tensor:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if size is not None:
            im = im.resize((size, size), Image.BILINEAR)
        return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)


class ImageNet9(torch.utils.data.Dataset):
    """The Background Challenge (ImageNet-9) in its released folder layout.

    Expected layout::

        root/<variant>/<split>/<NN_class>/<image>.JPEG
        root/fg_mask/<split>/<NN_class>/<image>.npy     (optional: foreground masks)

    The release's test sets (split ``val``, all eight variants, masks) unpack to ``$OAEDU_DATA/bg_challenge``;
    the training set is a separate archive (``original.tar.gz``), unpacked to ``$OAEDU_DATA/bg_challenge_train``
    so that ``bg_challenge_train/original/train/00_dog/`` exists. :data:`IMAGENET9_DOWNLOADS` names both.

    Items are ``(image float[3,H,W] in [0,1], label, mask bool[H,W])``; the mask is all-False where no
    mask file exists (``has_mask(i)`` tells). ``image_size`` resizes on load (masks too).
    """

    def __init__(self, root: str | Path, variant: str = "original", split: str = "val", image_size: int | None = 224):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if image_size is not None:
            validate.integer(image_size, "image_size", low=1)
        self.root = Path(root)
        folder = self.root / variant / split
        if not folder.is_dir():
            raise FileNotFoundError(
                f"ImageNet-9 folder {folder} not found. It holds {IMAGENET9_DOWNLOADS[split]}; unpack it so that "
                f"{folder}/00_dog/ exists."
                # A training archive unpacked beside root instead of into it is found too.
                + _misplaced(
                    (self.root, self.root.parent) if split == "train" else (self.root,), folder, _has_class_folders
                )
            )
        self.classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
        if not self.classes:
            raise FileNotFoundError(
                f"{folder} holds no class folders (expected 00_dog/, 01_bird/, ...): unpack "
                f"{IMAGENET9_DOWNLOADS[split]} so that the class folders are directly in {folder}"
            )
        self.samples = [(f, i) for i, c in enumerate(self.classes) for f in _image_files(folder / c)]
        if not self.samples:
            raise FileNotFoundError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.mask_dir = self.root / "fg_mask" / split
        self.variant, self.split, self.image_size = variant, split, image_size

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> torch.Tensor:
        """All labels as ``int64 (N,)``, like :class:`MaskedImageDataset`."""
        return torch.tensor([label for _, label in self.samples], dtype=torch.int64)

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None, num_workers: int = 4
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yield ``(images, labels, masks)`` batches from disk, so ``oaedu.train`` works unchanged."""
        if self.image_size is None:
            raise ValueError("batching needs a fixed image_size")
        batch_size = validate.integer(batch_size, "batch_size", low=1)
        loader = torch.utils.data.DataLoader(
            self, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=num_workers
        )
        for images, labels, masks in loader:
            yield images, labels.long(), masks

    def num_batches(self, batch_size: int) -> int:
        """How many batches :meth:`batches` yields: the last one may be smaller."""
        return -(-len(self) // validate.integer(batch_size, "batch_size", low=1))

    def _mask_path(self, index: int) -> Path:
        path, label = self.samples[index]
        return self.mask_dir / self.classes[label] / (path.stem + ".npy")

    def has_mask(self, index: int) -> bool:
        return self._mask_path(index).is_file()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        path, label = self.samples[index]
        image = _load_rgb(path, self.image_size)
        mask_path = self._mask_path(index)
        if mask_path.is_file():
            mask = torch.from_numpy(np.load(mask_path)).float()
            if mask.ndim == 3:
                mask = mask.amax(-1) if mask.shape[-1] in (1, 3) else mask.amax(0)
            if mask.shape != image.shape[1:]:
                mask = torch.nn.functional.interpolate(mask[None, None], size=image.shape[1:], mode="nearest")[0, 0]
            mask = mask > 0
        else:
            mask = torch.zeros(image.shape[1:], dtype=torch.bool)
        return image, label, mask


class CLEVRWithMasks(torch.utils.data.Dataset):
    """CLEVR scenes with instance masks, from PNG files.

    Expected layout, as ``python -m oaedu convert-clevr`` writes it from DeepMind's TFRecords
    (:mod:`oaedu.data.clevr_tfrecord`)::

        root/<split>/images/<id>.png    RGB scene
        root/<split>/masks/<id>.png     8-bit instance ids, 0 = background

    Items are ``(image float[3,H,W], instance_mask int64[H,W], {})``, like :class:`SceneDataset`.
    """

    def __init__(self, root: str | Path, split: str = "train", image_size: int | None = 128):
        if image_size is not None:
            validate.integer(image_size, "image_size", low=1)
        self.root = Path(root)
        images, masks = self.root / split / "images", self.root / split / "masks"
        for folder in (images, masks):
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"CLEVR folder {folder} not found. Download {CLEVR_DOWNLOAD} and convert it with "
                    f"`python -m oaedu convert-clevr clevr_with_masks_train.tfrecords {self.root} --split {split}`."
                    + _misplaced((self.root,), folder, lambda f: any(f.glob("*.png")))
                )
        self.files = _image_files(images)
        if not self.files:
            raise FileNotFoundError(f"{images} holds no images")
        missing = [f.name for f in self.files if not (masks / (f.stem + ".png")).is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} images have no mask in {masks}, e.g. {missing[0]}")
        self.mask_dir, self.image_size = masks, image_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
        path = self.files[index]
        image = _load_rgb(path, self.image_size)
        with Image.open(self.mask_dir / (path.stem + ".png")) as im:
            if self.image_size is not None:
                im = im.resize((self.image_size, self.image_size), Image.NEAREST)
            mask = torch.from_numpy(np.asarray(im, dtype=np.int64))
        if mask.ndim == 3:
            mask = mask[..., 0]
        return image, mask, {}


def background_challenge_data(
    n_train: int,
    n_test: int,
    seed: int = 0,
    image_size: int = 32,
    num_classes: int = 9,
    bg_correlation: float = 0.9,
    profile: str | None = None,
) -> tuple[torch.utils.data.Dataset, dict[str, torch.utils.data.Dataset], str]:
    """Training set, the eight test variants and the source's name, for the active profile.

    Under the ``gpu`` profile the real ImageNet-9 is used when ``$OAEDU_DATA/bg_challenge`` (the test sets) or
    ``$OAEDU_DATA/bg_challenge_train`` (the training set) exists; both are then needed (``n_train``/``n_test``
    are ignored; images are resized to ``image_size``). ``$OAEDU_REAL_DATA`` is ``auto`` (default), ``off``
    (always synthetic) or ``require`` (real data or a clear ``FileNotFoundError``, on any profile). Otherwise
    the synthetic Background Challenge is generated.
    """
    from ..config import get_profile
    from .background_challenge import background_challenge, background_challenge_suite

    validate.integer(n_train, "n_train", low=1)
    validate.integer(n_test, "n_test", low=1)
    mode = os.environ.get(REAL_DATA_ENV_VAR, "auto").strip().lower()
    if mode not in ("auto", "off", "require"):
        raise ValueError(f"${REAL_DATA_ENV_VAR} must be auto, off or require, got {mode!r}")
    tests, training = data_root() / BG_CHALLENGE, data_root() / BG_CHALLENGE_TRAIN
    present = tests.is_dir() or training.is_dir()
    if mode == "require" or (mode == "auto" and get_profile(profile) == "gpu" and present):
        train = ImageNet9(training, "original", "train", image_size)
        suite = {v: ImageNet9(tests, v, "val", image_size) for v in VARIANTS}
        if any(data.classes != train.classes for data in suite.values()):
            raise ValueError(f"the class folders of {training} and {tests} differ: {train.classes}")
        return train, suite, f"ImageNet-9 from {training} (training) and {tests} (tests)"
    train = background_challenge("original", n_train, seed, image_size, num_classes, bg_correlation)
    suite = background_challenge_suite(n_test, seed + 1, image_size, num_classes, bg_correlation)
    return train, suite, "synthetic Background Challenge"
