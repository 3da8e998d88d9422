"""Training and evaluation loops shared by every notebook.

A training step is a :class:`StepFn`: ``step(model, images, labels, masks) -> StepOutput``. The default is plain
cross-entropy; each paper plugs in its own step (an extra loss term, patch labels passed to the model, two views
of the batch, ...) and keeps the loop, the optimiser, the progress bar and the timing. Every step of the course
names its loss weights ``lambda_<term>`` and reports the parts of its loss in ``StepOutput.terms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import validate
from .data.background_challenge import VARIANTS, background_challenge_suite
from .data.datasets import MaskedImageDataset
from .data.transforms import paired_hflip
from .metrics import bg_gap
from .utils import get_device, parse_device

ForwardFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class StepOutput:
    """What a training step hands to :func:`fit`.

    ``loss``: the scalar to minimise; ``logits``: the class scores behind ``fit``'s training accuracy, ``None`` for a
    self-supervised step (then ``History.accuracy`` stays empty); ``terms``: the named parts of the loss (floats),
    logged step by step in ``History.terms``.
    """

    loss: torch.Tensor
    logits: torch.Tensor | None = None
    terms: Mapping[str, float] = field(default_factory=dict)


class TrainingData(Protocol):
    """What :func:`fit` trains on: a :class:`~oaedu.data.MaskedImageDataset`, or anything with its ``batches``
    (``(images, labels, masks)`` per batch, shuffled by ``generator``) and ``num_batches`` (batches per epoch), such
    as :class:`oaedu.contrastive.TwoViewData`."""

    def __len__(self) -> int: ...

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]: ...

    def num_batches(self, batch_size: int) -> int: ...


OPTIMIZERS = ("adamw", "sgd")


class StepFn(Protocol):
    """``step(model, images, labels, masks) -> StepOutput``: one batch's loss (see :func:`cross_entropy_step`)."""

    def __call__(
        self, model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor
    ) -> StepOutput: ...


def plain_forward(model: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``model(images)``: the forward pass of a model that needs no masks."""
    del masks
    validate.images(images, model=model)
    return validate.overflow(model(images), "images", "the model's output")


def cross_entropy_step(label_smoothing: float = 0.0, forward: ForwardFn = plain_forward) -> StepFn:
    """The default step: cross-entropy of ``forward(model, images, masks)`` against the labels."""
    validate.probability(label_smoothing, "label_smoothing")
    validate.is_callable(forward, "forward")

    def step(model, images, labels, masks):
        logits = forward(model, images, masks)
        _check_classes(labels, logits)
        loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        return StepOutput(loss, logits, {"cross_entropy": loss.item()})

    return step


def _check_classes(labels: torch.Tensor, logits: torch.Tensor) -> None:
    """The labels are classes of the model: ``0 <= label < logits.shape[1]``."""
    validate.class_labels(labels, f"labels (classes of a model with {logits.shape[1]} outputs)", logits.shape[1])


@dataclass
class History:
    """Per-epoch training loss, training accuracy (%, empty for self-supervised steps) and wall time (s), and
    the parts of the loss (``StepOutput.terms``) step by step."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    terms: list[dict[str, float]] = field(default_factory=list)

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
    data: TrainingData,
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
    optimizer: str = "adamw",
    after_step: Callable[[torch.nn.Module], None] | None = None,
) -> History:
    """Train ``model`` on ``data`` and return the :class:`History`: ``optimizer="adamw"``, AdamW with a one-cycle
    schedule (the ViTs'), or ``"sgd"``, SGD with momentum 0.9 and a cosine schedule (MoCo-v2's, ContraCAM App. B).

    Each batch is ``(images, labels, masks)``; with ``flip`` the image and its mask are flipped
    together. ``step`` returns a :class:`StepOutput` (default: :func:`cross_entropy_step`); ``after_step(model)``
    runs after every optimiser step (the momentum update of MoCo's and BYOL's target network).
    """
    validate.steps(epochs, "epochs")
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    validate.positive(lr, "lr")
    validate.seed(seed)
    validate.choice(optimizer, "optimizer", OPTIMIZERS)
    if not len(data):
        raise ValueError("data is empty: there is nothing to train on")
    if step is not None:
        validate.is_callable(step, "step")
    if after_step is not None:
        validate.is_callable(after_step, "after_step")
    device = parse_device(device) if device is not None else get_device()
    step = step or cross_entropy_step()
    model.to(device).train()
    total_steps = epochs * data.num_batches(batch_size)
    make = _one_cycle_adamw if optimizer == "adamw" else _cosine_sgd
    opt, sched = make(model, lr, weight_decay, total_steps=total_steps)
    gen = torch.Generator().manual_seed(seed)
    history = History()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        start = time.perf_counter()
        batches = _training_batches(data, batch_size, flip, gen, device)
        loss, accuracy = _train_epoch(model, batches, step, opt, sched, history.terms, after_step)
        history.loss.append(loss)
        if accuracy is not None:
            history.accuracy.append(accuracy)
        history.epoch_time.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{loss:.3f}", **({} if accuracy is None else {"acc": f"{accuracy:.1f}"}))
    model.eval()
    return history


def _one_cycle_adamw(
    model: torch.nn.Module, lr: float, weight_decay: float, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW over :func:`parameter_groups` and a one-cycle schedule peaking at ``lr`` after 15 % of the steps."""
    opt = torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps, pct_start=0.15)


def _cosine_sgd(
    model: torch.nn.Module, lr: float, weight_decay: float, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """SGD with momentum 0.9 and weight decay on every trainable parameter, and a cosine schedule to 0."""
    validate.non_negative(weight_decay, "weight_decay")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, total_steps)


def _training_batches(
    data: TrainingData, batch_size: int, flip: bool, generator: torch.Generator, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled ``(images, labels, masks)`` batches on ``device``, each image flipped with its mask."""
    for images, labels, masks in data.batches(batch_size, shuffle=True, generator=generator):
        if flip:
            images, masks = paired_hflip(images, masks, generator=generator)
        yield images.to(device), labels.to(device), masks.to(device)


def _train_epoch(
    model: torch.nn.Module,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    step: StepFn,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    terms: list[dict[str, float]],
    after_step: Callable[[torch.nn.Module], None] | None = None,
) -> tuple[float, float | None]:
    """One pass over ``batches``: the mean loss and the training accuracy (%, ``None`` without logits). Each step's
    terms are appended to ``terms``; ``after_step(model)`` follows every optimiser step."""
    total_loss, correct, seen, classified = 0.0, 0, 0, True
    for images, labels, masks in batches:
        out = step(model, images, labels, masks)
        if not isinstance(out, StepOutput):
            raise TypeError(
                f"a step must return oaedu.train.StepOutput(loss, logits, terms), got {validate.describe(out)}"
            )
        if not torch.isfinite(out.loss):
            raise FloatingPointError(f"training loss became {out.loss.item()}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        sched.step()
        if after_step is not None:
            after_step(model)
        terms.append(dict(out.terms))
        total_loss += out.loss.item() * len(labels)
        seen += len(labels)
        classified = classified and out.logits is not None
        if classified:
            correct += (out.logits.argmax(1) == labels).sum().item()
    return total_loss / seen, 100.0 * correct / seen if classified else None


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
