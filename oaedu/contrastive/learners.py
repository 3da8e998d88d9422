"""MoCo-v2-style and BYOL learners on a small ResNet-style CNN (ContraCAM §2.1, Eq. 1; §3 set-up).

Everything is batched and CPU-friendly: 32 px images, ~150k parameters, augmentations on whole batches
with one ``grid_sample``.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ..data.transforms import crop_boxes
from ..distributed import all_gather_cat
from ..models import mlp
from ..train import StepFn, StepOutput, fit


class _Block(nn.Module):
    """conv-BN-ReLU, conv-BN plus a (projected) shortcut, then ReLU: a basic residual block."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


class SmallEncoder(nn.Module):
    """A tiny ResNet: stem conv then residual blocks; ``forward`` returns the non-negative spatial map.

    ``layer`` (the last block) is the activation ``A`` that (Contra)CAM explains; at 32 px with the default
    strides it is ``(B, widths[-1], 8, 8)``. ``pooled(x)`` is the global-average-pooled feature.
    """

    def __init__(self, widths: tuple[int, ...] = (24, 48, 64), strides: tuple[int, ...] = (1, 1, 2)) -> None:
        super().__init__()
        if len(widths) != len(strides) or not widths:
            raise ValueError("widths and strides must be non-empty and of the same length")
        for i, (w, s) in enumerate(zip(widths, strides, strict=True)):
            validate.integer(w, f"widths[{i}]", low=1)
            validate.integer(s, f"strides[{i}]", low=1)
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, c = [], widths[0]
        for w, s in zip(widths, strides, strict=False):
            blocks.append(_Block(c, w, s))
            c = w
        self.blocks = nn.Sequential(*blocks[:-1])
        self.layer = blocks[-1]
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.images(x)
        return self.layer(self.blocks(self.stem(x)))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).mean((2, 3))


class _Learner(nn.Module):
    """Shared pieces: online encoder + projector, a momentum (EMA) copy of both, ``embed`` for ContraCAM."""

    def __init__(self, encoder: nn.Module | None, proj_dim: int, momentum: float) -> None:
        super().__init__()
        validate.number(momentum, "momentum")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        validate.integer(proj_dim, "proj_dim", low=1)
        validate.fits_memory(proj_dim * (2 * proj_dim + 1024), "proj_dim: the projection and prediction heads")
        self.encoder = encoder or SmallEncoder()
        d = self.encoder.out_dim
        self.projector = mlp(d, d, proj_dim)
        self.momentum = momentum
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The online embedding ``z(x)`` (L2-normalised), the one ContraCAM explains (official code §1.1)."""
        return F.normalize(self.projector(self.encoder(x).mean((2, 3))), dim=1)

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.target_projector(self.target_encoder(x).mean((2, 3))), dim=1)

    @torch.no_grad()
    def update_target(self) -> None:
        """EMA update ``θ_m ← m θ_m + (1 − m) θ``; buffers (BN statistics) are copied."""
        for online, tgt in ((self.encoder, self.target_encoder), (self.projector, self.target_projector)):
            for p, q in zip(online.parameters(), tgt.parameters(), strict=False):
                q.mul_(self.momentum).add_(p.detach(), alpha=1 - self.momentum)
            for b, c in zip(online.buffers(), tgt.buffers(), strict=False):
                c.copy_(b)


def info_nce(q: torch.Tensor, k: torch.Tensor, negatives: torch.Tensor | None, tau: float) -> torch.Tensor:
    """Mean InfoNCE loss, the negative of Eq. (1): positive ``q_i·k_i``, negatives ``negatives`` (a queue) or,
    when ``negatives`` is None, the other keys of the batch (in-batch negatives, positive on the diagonal)."""
    validate.tensor(q, "q", dtype="float", min_batch=1, finite_values=True)
    validate.tensor(k, "k", dtype="float", finite_values=True)
    if q.shape != k.shape or q.ndim != 2:
        raise ValueError(f"q and k must both be (B, D), got {tuple(q.shape)} and {tuple(k.shape)}")
    validate.positive(tau, "tau")
    if negatives is not None:
        validate.tensor(negatives, "negatives", shape=(None, q.shape[1]), dtype="float", finite_values=True)
        validate.same_dtype(q=q, k=k, negatives=negatives)
    validate.same_dtype(q=q, k=k)
    if negatives is None:
        logits = validate.overflow(q @ k.t() / tau, "q, k", "the logits q·k/tau")
        return F.cross_entropy(logits, torch.arange(len(q), device=q.device))
    pos = (q * k).sum(1, keepdim=True)
    logits = validate.overflow(torch.cat([pos, q @ negatives.t()], 1) / tau, "q, k, negatives", "the logits")
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


def _check_views(view1: torch.Tensor, view2: torch.Tensor) -> None:
    validate.images(view1, "view1")
    validate.images(view2, "view2")
    if view1.shape != view2.shape:
        raise ValueError(f"view1 and view2 must have the same shape, got {tuple(view1.shape)} and {tuple(view2.shape)}")


class MoCo(_Learner):
    """MoCo-v2 (He et al. 2020; ContraCAM §2.1): query from the online net, key from the momentum net,
    negatives from a FIFO queue of past keys (``queue_size=0`` uses in-batch negatives instead)."""

    def __init__(
        self,
        encoder: nn.Module | None = None,
        proj_dim: int = 64,
        queue_size: int = 1024,
        momentum: float = 0.99,
        tau: float = 0.2,
    ) -> None:
        super().__init__(encoder, proj_dim, momentum)
        validate.integer(queue_size, "queue_size")
        if queue_size < 0:
            raise ValueError(f"queue_size must be >= 0, got {queue_size}")
        validate.fits_memory(queue_size * proj_dim, "queue_size and proj_dim: the queue")
        validate.positive(tau, "tau")
        self.tau = tau
        self.queue_size = queue_size
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, proj_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        """Symmetrised InfoNCE between the two views; enqueues the keys."""
        _check_views(view1, view2)
        q1, q2 = self(view1), self(view2)
        k1, k2 = self.target(view1), self.target(view2)
        negs = self.queue.clone() if self.queue_size else None
        loss = 0.5 * (info_nce(q1, k2, negs, self.tau) + info_nce(q2, k1, negs, self.tau))
        if self.queue_size:
            self._enqueue(torch.cat([k1, k2]))
        return loss

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        keys = all_gather_cat(keys)  # under DDP, every rank's keys enter every rank's queue (MoCo's concat_all_gather)
        n = min(len(keys), self.queue_size)
        idx = (self.queue_ptr + torch.arange(n, device=keys.device)) % self.queue_size
        self.queue[idx] = keys[:n]
        self.queue_ptr.fill_(int((self.queue_ptr + n) % self.queue_size))


class BYOL(_Learner):
    """BYOL (Grill et al. 2020): the online predictor ``h`` regresses the momentum projection of the other view,
    loss ``2 − 2 cos(h(z(x₁)), z̄(x₂))``, symmetrised; no negatives."""

    def __init__(self, encoder: nn.Module | None = None, proj_dim: int = 64, momentum: float = 0.99) -> None:
        super().__init__(encoder, proj_dim, momentum)
        self.predictor = mlp(proj_dim, proj_dim, proj_dim)

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        _check_views(view1, view2)

        def one(a, b):
            p = F.normalize(self.predictor(self.projector(self.encoder(a).mean((2, 3)))), dim=1)
            return (2 - 2 * (p * self.target(b)).sum(1)).mean()

        return 0.5 * (one(view1, view2) + one(view2, view1))


def augment(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = (0.2, 1.0),
    jitter: float = 0.4,
    p_jitter: float = 0.8,
    p_gray: float = 0.2,
) -> torch.Tensor:
    """One random view per image (the MoCo-v2 recipe, Chen et al. 2020, at toy scale; ContraCAM App. B.1): random
    resized crop with area share in ``scale``, horizontal flip, brightness/contrast/saturation jitter, random
    grayscale. Batched."""
    validate.images(images)
    validate.interval(scale, "scale", low=0.0, high=1.0, low_open=True)
    validate.non_negative(jitter, "jitter")
    validate.probability(p_jitter, "p_jitter")
    validate.probability(p_gray, "p_gray")
    b, _, h, w = images.shape
    dev = images.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator).to(dev)

    area = scale[0] + (scale[1] - scale[0]) * rand(b)
    aspect = torch.exp(math.log(3 / 4) + math.log(16 / 9) * rand(b))
    cw = torch.sqrt(area * aspect).clamp(max=1.0)
    ch = torch.sqrt(area / aspect).clamp(max=1.0)
    x0, y0 = (1 - cw) * rand(b), (1 - ch) * rand(b)
    flip = rand(b) < 0.5
    boxes = torch.stack([x0, y0, x0 + cw, y0 + ch], 1)
    boxes = torch.where(flip[:, None], boxes[:, [2, 1, 0, 3]], boxes)
    out, _ = crop_boxes(images, torch.zeros(b, h, w, dtype=torch.bool, device=dev), boxes.cpu(), (h, w))
    on = (rand(b) < p_jitter)[:, None, None, None]
    bright = 1 + jitter * (2 * rand(b, 1, 1, 1) - 1)
    contrast = 1 + jitter * (2 * rand(b, 1, 1, 1) - 1)
    sat = 1 + jitter * (2 * rand(b, 1, 1, 1) - 1)
    j = out * bright
    mean = j.mean((1, 2, 3), keepdim=True)
    j = (j - mean) * contrast + mean
    gray = (0.299 * j[:, 0] + 0.587 * j[:, 1] + 0.114 * j[:, 2])[:, None]
    j = (j - gray) * sat + gray
    out = torch.where(on, j, out).clamp(0, 1)
    g = rand(b)[:, None, None, None] < p_gray
    gray = (0.299 * out[:, 0] + 0.587 * out[:, 1] + 0.114 * out[:, 2])[:, None].expand_as(out)
    return torch.where(g, gray, out)


def two_view_step() -> StepFn:
    """The training step of MoCo and BYOL as an :class:`oaedu.train.StepFn` on batches of two views
    ``(B, 2, 3, H, W)``: the learner's loss on the pair (MoCo: the symmetrised InfoNCE of Eq. (1), its keys entering
    the queue; BYOL: the normalised regression of each view's prediction onto the other's target). The momentum
    update of the target is the loop's post-step hook, :meth:`update_target`."""

    def step(model, images, labels, masks):
        if not isinstance(images, torch.Tensor) or images.ndim != 5 or images.shape[1] != 2 or not len(images):
            raise ValueError(f"images must be two views of a batch (B, 2, C, H, W), got {validate.describe(images)}")
        validate.images(images.flatten(0, 1), "images", model=model)  # (B, 2, C, H, W) -> (2B, C, H, W)
        loss = model.loss(images[:, 0], images[:, 1])
        return StepOutput(loss, None, {"contrastive": loss.item()})

    return step


class TwoViewData:
    """Images as :func:`oaedu.train.fit`'s training data for MoCo and BYOL (a :class:`~oaedu.train.TrainingData`).

    Each epoch draws one order of the images and drops the last partial batch; each batch's two base images come
    from ``prepare(batch, index, generator) -> (base1, base2)`` (the identity by default; the object-aware crop or
    the background mixup of ContraCAM §2.3 plug in here), and each base is augmented (:func:`augment`) on ``device``.
    A batch is ``(views (B, 2, C, H, W), index (B,), masks (B, 0))``: the images' indices stand in the labels' place
    (a self-supervised step reads neither)."""

    def __init__(
        self,
        images: torch.Tensor,
        prepare: Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
        | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        validate.images(images, min_batch=2)
        if prepare is not None:
            validate.is_callable(prepare, "prepare")
        self.images, self.prepare, self.device = images, prepare, device

    def __len__(self) -> int:
        return len(self.images)

    def num_batches(self, batch_size: int) -> int:
        """Full batches per epoch (at least one: with fewer images than ``batch_size``, one batch of all of them)."""
        return max(1, len(self) // validate.integer(batch_size, "batch_size", low=1))

    def batches(
        self, batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One epoch of two-view batches, in a random order (contrastive training always shuffles)."""
        perm = torch.randperm(len(self), generator=generator)
        for s in range(self.num_batches(batch_size)):
            idx = perm[s * batch_size : (s + 1) * batch_size]
            batch = self.images[idx]
            a, b = self.prepare(batch, idx, generator) if self.prepare is not None else (batch, batch)
            views = torch.stack([augment(a.to(self.device), generator), augment(b.to(self.device), generator)], 1)
            yield views, idx, torch.zeros(len(idx), 0)  # (B, 2, C, H, W) views


def train_contrastive(
    learner: _Learner,
    images: torch.Tensor,
    epochs: int,
    batch_size: int = 128,
    lr: float = 0.06,
    weight_decay: float = 5e-4,
    seed: int = 0,
    prepare: Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None = None,
    progress: bool = True,
    desc: str = "contrastive",
) -> list[float]:
    """Train ``learner`` (MoCo or BYOL) with :func:`oaedu.train.fit`: SGD and a cosine schedule, one
    :func:`two_view_step` per batch of :class:`TwoViewData` and the target's momentum update after it; return the
    mean loss per epoch. ``prepare``: see :class:`TwoViewData`."""
    validate.steps(epochs, "epochs")
    validate.seed(seed)
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    validate.positive(lr, "lr")
    validate.non_negative(weight_decay, "weight_decay")
    device = next(learner.parameters()).device
    history = fit(
        learner,
        TwoViewData(images, prepare, device),
        epochs,
        batch_size,
        lr,
        weight_decay,
        step=two_view_step(),
        flip=False,
        seed=seed,
        device=device,
        progress=progress,
        desc=desc,
        optimizer="sgd",
        after_step=lambda model: model.update_target(),
    )
    return history.loss


def save_online(learner: _Learner, path) -> None:
    """Save only the online encoder and projector (what ContraCAM and the probe use) to ``path``."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise FileNotFoundError(f"path {path}: the folder {folder} does not exist")
    torch.save({"encoder": learner.encoder.state_dict(), "projector": learner.projector.state_dict()}, path)


def load_online(path, learner: _Learner | None = None) -> _Learner:
    """Load :func:`save_online` weights strictly into ``learner`` (default: a fresh :class:`MoCo`); eval mode."""
    learner = learner or MoCo(queue_size=0)
    if not Path(path).is_file():
        raise FileNotFoundError(f"path {path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        raise ValueError(f"path {path} is not a save_online checkpoint: {str(e).splitlines()[0]}") from None
    if not isinstance(state, dict) or set(state) != {"encoder", "projector"}:
        got = f"keys {sorted(state)}" if isinstance(state, dict) else validate.describe(state)
        raise ValueError(f"{path} is not a save_online checkpoint: {got}")
    learner.encoder.load_state_dict(state["encoder"], strict=True)
    learner.projector.load_state_dict(state["projector"], strict=True)
    learner.target_encoder.load_state_dict(state["encoder"], strict=True)
    learner.target_projector.load_state_dict(state["projector"], strict=True)
    return learner.eval()
