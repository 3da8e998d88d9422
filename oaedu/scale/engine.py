"""The paper-scale training loop: the course's steps (:class:`oaedu.train.StepFn`) on image folders, at any world size.

:func:`oaedu.train.fit` is the notebooks' loop: in memory, one process. :func:`train_stage` runs the *same* steps with
what a paper-scale run needs: a DataLoader with workers and pinned memory, a ``DistributedSampler`` (``set_epoch`` every
epoch), DistributedDataParallel, mixed precision, a warm-up + cosine schedule, checkpoints every N steps and resume.

DDP wraps the step, not the model: :class:`StepModule` runs ``step(model, images, labels, masks)`` as its forward, so a
step may call the model several times (two views, a relevance map) and still make one DDP forward per iteration.

Batches and learning rate: ``global_batch`` is the paper's batch, whatever the world size; each of ``W`` ranks takes
``global_batch / W`` images of every global batch, and the learning rate stays that of the global batch. Rank ``r`` of
``W`` sees positions ``r, r + W, ...`` of one shuffled order, so the global batches are those of a single process.
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from .. import validate
from ..distributed import Context, barrier, convert_batchnorm
from ..train import StepFn, StepOutput, parameter_groups

AMP_MODES = ("off", "bf16", "fp16", "auto")


@dataclass(frozen=True)
class Schedule:
    """How a stage trains: ``epochs`` over the data in global batches of ``global_batch``; peak learning rate ``lr``
    (for the global batch) after a linear warm-up over ``warmup`` of the steps, then a cosine decay to 0."""

    epochs: int
    global_batch: int
    lr: float
    weight_decay: float = 0.05
    optimizer: str = "adamw"  # "adamw" (ViTs, as DeiT) or "sgd" (momentum 0.9, as MoCo-v2)
    warmup: float = 0.05
    max_steps: int | None = None  # a dry run stops every stage after this many steps

    def __post_init__(self) -> None:
        validate.integer(self.epochs, "epochs", low=1)
        validate.integer(self.global_batch, "global_batch", low=1)
        validate.positive(self.lr, "lr")
        validate.non_negative(self.weight_decay, "weight_decay")
        validate.choice(self.optimizer, "optimizer", ("adamw", "sgd"))
        validate.probability(self.warmup, "warmup")
        if self.max_steps is not None:
            validate.integer(self.max_steps, "max_steps", low=1)


@dataclass
class Options:
    """What the run, not the recipe, decides: where to write, resume, precision, workers, checkpoint period."""

    out: Path
    ctx: Context = field(default_factory=Context)
    resume: bool = False
    amp: str = "off"
    workers: int = 0
    checkpoint_every: int = 500
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        validate.choice(self.amp, "amp", AMP_MODES)
        validate.integer(self.workers, "workers", low=0)
        validate.integer(self.checkpoint_every, "checkpoint_every", low=1)
        validate.integer(self.seed, "seed", low=0)


@dataclass
class StageResult:
    """A finished stage: the mean loss over ranks at every step, the loss terms of rank 0, steps, seconds."""

    losses: list[float] = field(default_factory=list)
    terms: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    model: torch.nn.Module | None = None


class StepModule(torch.nn.Module):
    """``forward(images, labels, masks)`` runs ``step(model, ...)`` and returns ``(loss, logits)``; the step's terms
    wait in ``last_terms``. Wrapping this module in DDP makes one DDP forward per training step."""

    def __init__(self, model: torch.nn.Module, step: StepFn) -> None:
        super().__init__()
        self.model, self.step = model, step
        self.last_terms: dict[str, float] = {}

    def forward(self, images, labels, masks):
        out = self.step(self.model, images, labels, masks)
        if not isinstance(out, StepOutput):
            raise TypeError(f"a step must return oaedu.train.StepOutput, got {validate.describe(out)}")
        self.last_terms = dict(out.terms)
        return out.loss, out.logits


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``mode``: ``auto`` is bf16 where the device supports it (CPUs, Ampere and newer GPUs),
    else fp16 on CUDA (with a gradient scaler); ``off`` is ``None``."""
    validate.choice(mode, "amp", AMP_MODES)
    if mode == "off":
        return None
    if mode == "auto":
        bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else torch.float16
    return torch.bfloat16 if mode == "bf16" else torch.float16


def _optimizer(model: torch.nn.Module, schedule: Schedule, total_steps: int):
    if schedule.optimizer == "sgd":
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=schedule.lr, momentum=0.9, weight_decay=schedule.weight_decay)
    else:
        opt = torch.optim.AdamW(parameter_groups(model, schedule.weight_decay), lr=schedule.lr)
    warm = max(1, round(schedule.warmup * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _epoch_batches(sampler: DistributedSampler, local_batch: int, skip: int) -> list[list[int]]:
    """This rank's batches of the sampler's current epoch (full batches only), the first ``skip`` left out."""
    order = list(sampler)
    full = len(order) // local_batch
    return [order[i * local_batch : (i + 1) * local_batch] for i in range(skip, full)]


def _set_epoch(dataset: Dataset, epoch: int) -> None:
    setter = getattr(dataset, "set_epoch", None)
    if callable(setter):
        setter(epoch)


def checkpoint_path(opts: Options, stage: str) -> Path:
    return opts.out / "checkpoints" / f"{stage}.pt"


def _save(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a run killed while writing leaves the previous checkpoint intact


def load_checkpoint(path: Path) -> dict:
    """A checkpoint written by :func:`train_stage` (``model``, ``optimizer``, ``scheduler``, ``scaler``, ``step``)."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: say which
        raise ValueError(f"{path} is not a readable oaedu checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or not {"model", "optimizer", "step", "total_steps"} <= set(state):
        raise ValueError(f"{path} is not an oaedu training checkpoint (keys {validate.describe(state)})")
    return state


def train_stage(
    name: str,
    model: torch.nn.Module,
    data: Dataset,
    step: StepFn,
    schedule: Schedule,
    opts: Options,
    after_step: Callable[[torch.nn.Module], None] | None = None,
    sync_batchnorm: bool = True,
) -> StageResult:
    """Train ``model`` in place on ``data`` (items ``(image, label, mask)``) with ``step``; return its losses.

    Every rank runs this with the same arguments. ``after_step(model)`` runs after each optimiser step (MoCo's
    momentum update). ``sync_batchnorm`` gives BatchNorm the statistics of the global batch under DDP
    (:func:`oaedu.distributed.convert_batchnorm`: SyncBatchNorm on GPUs), as in one process; the converted model, which
    evaluates as before, is ``StageResult.model`` (the layers are replaced in place below the top module). With
    ``opts.resume`` the stage continues from its checkpoint (any world size: the global batch is fixed); a finished
    stage only reloads its weights.
    """
    validate.module(model)
    ctx = opts.ctx
    if schedule.global_batch % ctx.world_size:
        raise ValueError(
            f"global_batch {schedule.global_batch} must divide by the world size {ctx.world_size} "
            "(the paper's batch is kept: pick a number of processes that divides it)"
        )
    local_batch = schedule.global_batch // ctx.world_size
    sampler = DistributedSampler(
        data, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=opts.seed, drop_last=True
    )
    per_epoch = len(sampler) // local_batch
    if per_epoch == 0:
        raise ValueError(f"stage {name!r}: {len(data)} training items make no global batch of {schedule.global_batch}")
    total = schedule.epochs * per_epoch
    if schedule.max_steps is not None:
        total = min(total, schedule.max_steps)
    model.to(ctx.device)
    if sync_batchnorm:
        model = convert_batchnorm(model, ctx)
    opt, sched = _optimizer(model, schedule, total)
    dtype = amp_dtype(opts.amp, ctx.device)
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=dtype == torch.float16 and ctx.device.type == "cuda")
    path = checkpoint_path(opts, name)
    start = 0
    if opts.resume and path.is_file():
        state = load_checkpoint(path)
        if state["total_steps"] != total:
            raise ValueError(f"{path} was written for {state['total_steps']} steps, this stage runs {total}")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start = state["step"]
    step_module = StepModule(model, step)
    wrapped: torch.nn.Module = step_module
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        # some models hold parameters that a step leaves unused (sampled queries, a frozen branch)
        wrapped = DistributedDataParallel(step_module, device_ids=ids, find_unused_parameters=True)
    result = StageResult(steps=total)
    began = time.perf_counter()
    bar = tqdm(total=total, initial=start, desc=name, disable=not (opts.progress and ctx.is_main), leave=False)
    done = start
    model.train()
    while done < total:
        epoch = done // per_epoch
        sampler.set_epoch(epoch)
        _set_epoch(data, epoch)
        batches = _epoch_batches(sampler, local_batch, done - epoch * per_epoch)[: total - done]
        loader = DataLoader(
            data,
            batch_sampler=batches,
            num_workers=opts.workers,
            pin_memory=ctx.device.type == "cuda",
            persistent_workers=False,
        )
        for images, labels, masks in loader:
            images = images.to(ctx.device, non_blocking=True)
            labels, masks = labels.to(ctx.device, non_blocking=True), masks.to(ctx.device, non_blocking=True)
            with torch.autocast(ctx.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss, _ = wrapped(images, labels, masks)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"stage {name!r}: the loss became {loss.item()} at step {done}")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            if after_step is not None:
                after_step(model)
            done += 1
            mean_loss = loss.detach().float().clone()
            if ctx.distributed:
                torch.distributed.all_reduce(mean_loss)
                mean_loss /= ctx.world_size
            result.losses.append(mean_loss.item())
            result.terms.append(step_module.last_terms)
            bar.update()
            bar.set_postfix(loss=f"{result.losses[-1]:.3f}")
            if ctx.is_main and (done % opts.checkpoint_every == 0 or done == total):
                _save(path, _state(model, opt, sched, scaler, done, total, ctx))
    bar.close()
    model.eval()
    result.seconds = time.perf_counter() - began
    result.model = model
    barrier(ctx)  # no rank reads the checkpoint before rank 0 has written it
    return result


def _state(model, opt, sched, scaler, done: int, total: int, ctx: Context) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "scaler": scaler.state_dict(),
        "step": done,
        "total_steps": total,
        "world_size": ctx.world_size,
    }


def peak_memory(device: torch.device) -> dict[str, float]:
    """Peak memory of this process in MiB: the GPU's allocator on CUDA, and the resident set size."""
    out = {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        out["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out
