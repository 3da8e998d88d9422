"""Device, seeds, threads, batched inference and an environment report."""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import validate

DEVICE_ENV_VAR = "OAEDU_DEVICE"


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the compute device: ``$OAEDU_DEVICE`` if set, else CUDA, then Apple MPS, then CPU.

    Raises:
        ValueError: the requested device is not available on this machine.
    """
    name = prefer or os.environ.get(DEVICE_ENV_VAR, "").strip()
    if name:
        device = parse_device(name, "prefer" if prefer else f"${DEVICE_ENV_VAR}")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{DEVICE_ENV_VAR}={name!r} asks for CUDA, but torch sees no CUDA device")
        if device.type == "mps" and not _mps_available():
            raise ValueError(f"{DEVICE_ENV_VAR}={name!r} asks for MPS, but it is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def parse_device(device: torch.device | str, name: str = "device") -> torch.device:
    """``torch.device(device)``, with a ``ValueError`` naming ``name`` for a string torch does not know."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"{name} must be a device name such as 'cpu' or 'cuda:0', got {type(device).__name__}")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"{name} must be a device such as 'cpu', 'cuda', 'cuda:1' or 'mps', got {device!r}") from None


@torch.no_grad()
def map_batches(
    fn: Callable[[torch.Tensor], Any], x: torch.Tensor, batch_size: int, device: torch.device | str | None = None
) -> Any:
    """``fn`` (a model, in the mode the caller set) over ``x`` in batches of ``batch_size`` under ``no_grad``, each
    batch moved to ``device`` (default: where it is); the outputs, a tensor or a named tuple of tensors, come back
    concatenated on the CPU. Code inside ``fn`` may still turn gradients on (ContraCAM does)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable (a model or a function of a batch), got {validate.describe(fn)}")
    validate.tensor(x, "x", min_batch=1, finite_values=True)
    if isinstance(fn, torch.nn.Module):
        validate.like_model(x, "x", fn)
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    device = parse_device(device) if device is not None else x.device
    parts = [fn(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
    if isinstance(parts[0], torch.Tensor):
        return torch.cat([p.cpu() for p in parts])
    return type(parts[0])(*(torch.cat([p[j].cpu() for p in parts]) for j in range(len(parts[0]))))


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded the same way."""
    seed = validate.seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds the legacy global RNG that libraries use)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


MAX_THREADS = 1024  # one rule for $OAEDU_THREADS and set_threads: a count torch can start, not a typo's 10**9


def default_threads() -> int:
    """The thread count :func:`set_threads` uses without an argument: ``$OAEDU_THREADS``, else every core, at most 8."""
    env = os.environ.get("OAEDU_THREADS", "").strip()
    if env:
        if not env.isdigit() or not 1 <= int(env) <= MAX_THREADS:
            raise ValueError(f"$OAEDU_THREADS must be an integer in [1, {MAX_THREADS}], got {env!r}")
        return int(env)
    return min(os.cpu_count() or 1, 8)


def set_threads(n: int | None = None) -> int:
    """Use ``n`` intra-op threads (default: :func:`default_threads`); return the number set.

    Small models on small batches gain nothing from more threads and lose to contention: when several
    notebooks share a machine, give each ``OAEDU_THREADS=1``. Results are bit-identical for a fixed seed
    *and* thread count (a different thread count may change the order of floating-point sums).
    """
    n = default_threads() if n is None else validate.integer(n, "n", low=1, high=MAX_THREADS)
    torch.set_num_threads(n)
    return n


def env_report() -> dict[str, str]:
    """Versions and hardware facts worth pasting into a bug report (threads: torch's count, and
    ``$OAEDU_THREADS`` when set; call :func:`set_threads` first to apply it)."""
    import matplotlib
    import timm

    from . import __version__
    from .config import get_profile

    device = get_device()
    threads = os.environ.get("OAEDU_THREADS", "").strip()
    info = {
        "oaedu": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "device": str(device),
        "threads": str(torch.get_num_threads()) + (f" ($OAEDU_THREADS={threads})" if threads else ""),
        "profile": get_profile(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
