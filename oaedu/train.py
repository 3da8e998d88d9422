"""Training and evaluation loops shared by every notebook.

A training step is a function ``step(model, images, labels, masks) -> (loss, logits)``; the default is
plain cross-entropy. Papers plug in their own step (an extra loss term, patch labels passed to the
model, ...) and keep the loop, the optimiser, the progress bar and the timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import validate
from .data.background_challenge import VARIANTS, background_challenge_suite
from .data.datasets import MaskedImageDataset
from .data.transforms import paired_hflip
from .metrics import bg_gap
from .utils import get_device, parse_device

StepFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
ForwardFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def plain_forward(model: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``model(images)``: the forward pass of a model that needs no masks."""
    del masks
    validate.images(images, model=model)
    return model(images)


def cross_entropy_step(label_smoothing: float = 0.0, forward: ForwardFn = plain_forward) -> StepFn:
    """The default step: cross-entropy of ``forward(model, images, masks)`` against the labels."""
    validate.probability(label_smoothing, "label_smoothing")
    validate.is_callable(forward, "forward")

    def step(model, images, labels, masks):
        logits = forward(model, images, masks)
        _check_classes(labels, logits)
        return F.cross_entropy(logits, labels, label_smoothing=label_smoothing), logits

    return step


def _check_classes(labels: torch.Tensor, logits: torch.Tensor) -> None:
    """The labels are classes of the model: ``0 <= label < logits.shape[1]``."""
    validate.class_labels(labels, f"labels (classes of a model with {logits.shape[1]} outputs)", logits.shape[1])


@dataclass
class History:
    """Per-epoch training loss, training accuracy (%) and wall time (s)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        return sum(self.epoch_time) / max(len(self.epoch_time), 1)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases, norms, embeddings' scalars or learnable κ (ndim ≤ 1)."""
    validate.non_negative(weight_decay, "weight_decay")
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or "kappa" in name or name.endswith(("pos_embed", "cls_token")) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def fit(
    model: torch.nn.Module,
    data: MaskedImageDataset,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    step: StepFn | None = None,
    flip: bool = True,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    desc: str = "train",
) -> History:
    """Train ``model`` on ``data`` with AdamW and a cosine schedule; return the :class:`History`.

    Each batch is ``(images, labels, masks)``; with ``flip`` the image and its mask are flipped
    together. ``step`` computes ``(loss, logits)`` (default: cross-entropy).
    """
    validate.integer(epochs, "epochs", low=1)
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    validate.positive(lr, "lr")
    validate.integer(seed, "seed", low=0)
    if not len(data):
        raise ValueError("data is empty: there is nothing to train on")
    if step is not None:
        validate.is_callable(step, "step")
    device = parse_device(device) if device is not None else get_device()
    step = step or cross_entropy_step()
    model.to(device).train()
    opt = torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr)
    steps_per_epoch = -(-len(data) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15
    )
    gen = torch.Generator().manual_seed(seed)
    history = History()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        start, total_loss, correct, seen = time.perf_counter(), 0.0, 0, 0
        for images, labels, masks in data.batches(batch_size, shuffle=True, generator=gen):
            if flip:
                images, masks = paired_hflip(images, masks, generator=gen)
            images, labels, masks = images.to(device), labels.to(device), masks.to(device)
            loss, logits = step(model, images, labels, masks)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()}; lower the learning rate")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
        history.loss.append(total_loss / seen)
        history.accuracy.append(100.0 * correct / seen)
        history.epoch_time.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}", acc=f"{history.accuracy[-1]:.1f}")
    model.eval()
    return history


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    data: MaskedImageDataset,
    batch_size: int = 512,
    forward: ForwardFn = plain_forward,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Logits for every image in ``data``, on the CPU."""
    validate.integer(batch_size, "batch_size", low=1)
    if not len(data):
        raise ValueError("data is empty: there is nothing to predict")
    device = parse_device(device) if device is not None else next(model.parameters()).device
    model.eval()
    out = [forward(model, x.to(device), m.to(device)).cpu() for x, _, m in data.batches(batch_size)]
    return torch.cat(out)


def evaluate(model: torch.nn.Module, data: MaskedImageDataset, forward: ForwardFn = plain_forward) -> float:
    """Top-1 accuracy (%) of ``model`` on ``data``."""
    logits = predict(model, data, forward=forward)
    _check_classes(data.labels, logits)
    return (logits.argmax(1) == data.labels).double().mean().item() * 100.0


def evaluate_background_challenge(
    model: torch.nn.Module,
    suite: Mapping[str, MaskedImageDataset] | None = None,
    n: int = 1000,
    seed: int = 1,
    image_size: int = 32,
    num_classes: int = 9,
    forward: ForwardFn = plain_forward,
) -> dict[str, float]:
    """Accuracy (%) on all eight variants plus ``bg_gap`` (Mixed-Same − Mixed-Rand).

    Pass a prepared ``suite`` (from :func:`background_challenge_suite`) to evaluate several models on
    the same images; otherwise one is generated from ``n``, ``seed``, ``image_size`` and ``num_classes``.
    """
    if suite is None:
        suite = background_challenge_suite(n, seed, image_size, num_classes)
    if not isinstance(suite, Mapping):
        raise TypeError(f"suite must map variant names to datasets, got {type(suite).__name__}")
    missing = [v for v in VARIANTS if v not in suite]
    if missing:
        raise ValueError(f"suite lacks variant(s) {missing}: pass all eight, or suite=None to generate them")
    result = {v: evaluate(model, suite[v], forward) for v in VARIANTS}
    result["bg_gap"] = bg_gap(result["mixed_same"], result["mixed_rand"])
    return result
