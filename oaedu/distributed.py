"""One process or many: the ``torch.distributed`` pieces that paper-scale training needs.

``torchrun`` starts one process per GPU and sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init` reads them,
joins the process group (NCCL on CUDA, gloo on the CPU) and returns a :class:`Context`. Without ``torchrun`` the
context is a single process and nothing here talks to another process, so single-process runs are unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from . import validate
from .utils import get_device


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``rank`` of ``world_size`` processes, its ``device``; rank 0 is the main one."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes checkpoints, ``results.json``, figures and progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (``WORLD_SIZE`` is set)."""
    return "WORLD_SIZE" in os.environ


def _env_int(name: str) -> int:
    text = os.environ.get(name, "").strip()
    if not text.isdigit():
        raise ValueError(f"${name} must be a non-negative integer (torchrun sets it), got {text!r}")
    return int(text)


def init(device: torch.device | None = None, backend: str | None = None) -> Context:
    """Join the process group that ``torchrun`` set up (if any) and return this process's :class:`Context`.

    The device is ``cuda:LOCAL_RANK`` when CUDA is available (one GPU per process), else :func:`get_device`.
    The backend is NCCL for CUDA and gloo otherwise, unless ``backend`` (or ``$OAEDU_DIST_BACKEND``) names one.
    """
    if not launched():
        return Context(device=device or get_device())
    rank, world, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    if not 0 <= rank < world:
        raise ValueError(f"$RANK {rank} must lie in [0, $WORLD_SIZE={world})")
    if device is None:
        device = torch.device("cuda", local) if torch.cuda.is_available() else get_device()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = backend or os.environ.get("OAEDU_DIST_BACKEND") or ("nccl" if device.type == "cuda" else "gloo")
    validate.choice(backend, "backend", ("nccl", "gloo"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world)
    return Context(rank, world, local, device)


def shutdown() -> None:
    """Leave the process group (a no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_seed(seed: int, ctx: Context) -> int:
    """The seed of rank ``r``: ``seed + r``, so that random draws differ across ranks and a run stays reproducible."""
    return validate.integer(seed, "seed", low=0) + ctx.rank


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()


def world_size() -> int:
    """The number of processes in the group this process joined (1 outside ``torchrun``)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@torch.no_grad()
def all_gather_cat(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (equal shapes on every rank) from all ranks in rank order, without gradient; ``x`` itself
    in a single process (MoCo gathers its keys so, before they enter the queue)."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather in the forward. Every rank computes the whole loss, so the gradient of this rank's slice is complete
    here; data-parallel training then averages gradients over ranks, so the backward scales the slice by the world
    size to give the gradient of the global loss."""

    @staticmethod
    def forward(ctx_, x: torch.Tensor, rank: int, world: int) -> torch.Tensor:  # type: ignore[override]
        ctx_.rank, ctx_.n, ctx_.world = rank, x.shape[0], world
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx_, grad: torch.Tensor):  # type: ignore[override]
        return grad[ctx_.rank * ctx_.n : (ctx_.rank + 1) * ctx_.n] * ctx_.world, None, None


def gather_for_loss(x: torch.Tensor) -> torch.Tensor:
    """All ranks' ``x`` in rank order, for a loss whose negatives span the global batch (SimCLR's): every rank computes
    the global loss, and the gradient reaches this rank's ``x`` so that DDP's average is the global loss's gradient.
    ``x`` itself in a single process."""
    if world_size() == 1:
        return x
    return _GatherWithGrad.apply(x, dist.get_rank(), dist.get_world_size())


def gather_objects(items: list, ctx: Context) -> list:
    """Every rank's list, concatenated in rank order (any picklable items; for evaluation outputs)."""
    if not ctx.distributed:
        return list(items)
    out: list[list] = [[] for _ in range(ctx.world_size)]
    dist.all_gather_object(out, list(items))
    return [item for part in out for item in part]


def shard(n: int, ctx: Context) -> range:
    """The indices of ``n`` items that this rank evaluates: ``rank, rank + world, ...`` (every item exactly once,
    whether or not ``n`` divides by the world size)."""
    validate.integer(n, "n", low=0)
    return range(ctx.rank, n, ctx.world_size)


class GlobalBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Batch normalisation with statistics over the global batch (every rank's shard), for the gloo backend on the
    CPU, where torch's :class:`~torch.nn.SyncBatchNorm` does not run: the same normalisation, so that a data-parallel
    run normalises as one process over the global batch would. Mean and variance come from all-reduced sums
    (the mean, then the mean squared deviation from it), with gradients through the reductions."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.ndim < 2:
            raise ValueError(f"expected an input of at least 2 dimensions (N, C, ...), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        import warnings

        from torch.distributed.nn.functional import all_reduce

        dims = [0, *range(2, x.ndim)]
        c, shape = x.shape[1], [1, x.shape[1]] + [1] * (x.ndim - 2)
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        with warnings.catch_warnings():  # its successor in _functional_collectives has no gradient
            warnings.simplefilter("ignore", FutureWarning)
            sums = all_reduce(torch.cat([x.sum(dims), count]))
            n = sums[-1]
            mean = sums[:c] / n
            # mean (C,) -> (1, C, 1, ...), broadcast over x (N, C, ...)
            var = all_reduce(((x - mean.view(shape)) ** 2).sum(dims)) / n  # two passes, as BatchNorm computes it
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1).clamp_min(1))
        # mean, var (C,) -> (1, C, 1, ...), broadcast over x (N, C, ...)
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        # weight, bias (C,) -> (1, C, 1, ...)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def convert_batchnorm(module: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    """BatchNorm layers of ``module`` with global-batch statistics under data parallelism: torch's SyncBatchNorm on
    GPUs, :class:`GlobalBatchNorm` elsewhere; ``module`` unchanged in a single process. Converted in place (a bare
    BatchNorm ``module`` is returned converted); the converted layers evaluate as BatchNorm does."""
    if not ctx.distributed:
        return module
    if ctx.device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine)
        new.load_state_dict(module.state_dict())
        return new.to(module.running_mean.device if module.running_mean is not None else "cpu")
    for name, child in module.named_children():
        setattr(module, name, convert_batchnorm(child, ctx))
    return module
