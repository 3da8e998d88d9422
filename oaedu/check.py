"""One-line checks for notebooks and exercises.

Each check prints a short ``✓`` line when it holds and raises :class:`CheckFailed` (an
``AssertionError``) with the numbers when it does not, so a notebook run under CI fails loudly at the
line that broke. Use them to assert the *effect* a notebook teaches::

    check.greater("Mixed-Rand accuracy, OAMixer vs ViT", acc_oa, acc_vit)
    check.ratio_at_least("entropy drop (baseline / SAR)", h_base, h_sar, factor=2.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class CheckFailed(AssertionError):
    """A course check did not hold."""


def _scalar(name: str, value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: expected a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    value = float(value)
    if math.isnan(value):
        raise CheckFailed(f"{name}: value is NaN")
    return value


def _ok(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"✓ {message}")


def true(name: str, condition: bool, detail: str = "", quiet: bool = False) -> None:
    """Check that ``condition`` holds."""
    if not bool(condition):
        raise CheckFailed(f"{name}: does not hold. {detail}".strip())
    _ok(name, quiet)


def close(name: str, actual, expected, atol: float = 1e-6, rtol: float = 1e-5, quiet: bool = False) -> None:
    """Check that two tensors (or numbers) agree elementwise within ``atol + rtol·|expected|``."""
    a = torch.as_tensor(actual).detach().cpu().double()
    e = torch.as_tensor(expected).detach().cpu().double()
    if a.shape != e.shape:
        raise CheckFailed(f"{name}: shape {tuple(a.shape)} != expected {tuple(e.shape)}")
    if torch.isnan(a).any():
        raise CheckFailed(f"{name}: result contains NaN")
    diff = (a - e).abs()
    bad = diff > atol + rtol * e.abs()
    maxdiff = diff.max().item() if diff.numel() else 0.0
    if bad.any():
        raise CheckFailed(f"{name}: {int(bad.sum())} of {bad.numel()} values differ; max |diff| = {maxdiff:.3g}")
    _ok(f"{name} (max |diff| = {maxdiff:.2g})", quiet)


def shape(name: str, tensor: torch.Tensor, expected: Sequence[int | None], quiet: bool = False) -> None:
    """Check a tensor's shape; ``None`` in ``expected`` matches any size."""
    got = tuple(tensor.shape)
    ok = len(got) == len(expected) and all(e is None or g == e for g, e in zip(got, expected, strict=True))
    if not ok:
        raise CheckFailed(f"{name}: shape {got}, expected {tuple(expected)}")
    _ok(f"{name} has shape {got}", quiet)


def greater(name: str, a, b, margin: float = 0.0, quiet: bool = False) -> None:
    """Check ``a > b + margin``."""
    a, b = _scalar(name, a), _scalar(name, b)
    if not a > b + margin:
        raise CheckFailed(f"{name}: expected {a:.4g} > {b:.4g} + {margin:g}")
    _ok(f"{name}: {a:.4g} > {b:.4g}" + (f" + {margin:g}" if margin else ""), quiet)


def less(name: str, a, b, margin: float = 0.0, quiet: bool = False) -> None:
    """Check ``a < b - margin``."""
    a, b = _scalar(name, a), _scalar(name, b)
    if not a < b - margin:
        raise CheckFailed(f"{name}: expected {a:.4g} < {b:.4g} - {margin:g}")
    _ok(f"{name}: {a:.4g} < {b:.4g}" + (f" - {margin:g}" if margin else ""), quiet)


def greater_over_seeds(
    name: str, a: Sequence[float], b: Sequence[float], k: float = 2.0, quiet: bool = False
) -> tuple[float, float]:
    """Check that arm ``a`` beats arm ``b`` beyond seed noise: the mean of the per-seed differences ``a_s − b_s``
    exceeds ``k`` standard errors (``stdev / √n``, paired by seed; at least 2 seeds). Returns ``(mean, se)``."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"{name}: need two equally long lists of at least 2 seeds, got {len(a)} and {len(b)}")
    d = [_scalar(name, x) - _scalar(name, y) for x, y in zip(a, b, strict=True)]
    mean = math.fsum(d) / len(d)
    se = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))
    if not mean > k * se:
        raise CheckFailed(f"{name}: mean difference {mean:.4g} is not above {k:g} standard errors ({k * se:.4g})")
    _ok(f"{name}: mean difference {mean:.4g} > {k:g} × SE {se:.3g} over {len(d)} seeds", quiet)
    return mean, se


def between(name: str, value, low: float, high: float, quiet: bool = False) -> None:
    """Check ``low <= value <= high``."""
    v = _scalar(name, value)
    if not low <= v <= high:
        raise CheckFailed(f"{name}: {v:.4g} is outside [{low:g}, {high:g}]")
    _ok(f"{name}: {v:.4g} in [{low:g}, {high:g}]", quiet)


def ratio_at_least(name: str, numerator, denominator, factor: float, quiet: bool = False) -> None:
    """Check ``numerator / denominator >= factor`` (e.g. an entropy that drops several-fold)."""
    n, d = _scalar(name, numerator), _scalar(name, denominator)
    if d <= 0:
        raise CheckFailed(f"{name}: denominator {d:.4g} must be positive")
    if n / d < factor:
        raise CheckFailed(f"{name}: ratio {n:.4g} / {d:.4g} = {n / d:.3g} < {factor:g}")
    _ok(f"{name}: {n:.4g} / {d:.4g} = {n / d:.3g} ≥ {factor:g}", quiet)


def finite(name: str, tensor: torch.Tensor, quiet: bool = False) -> None:
    """Check that a tensor holds no NaN or infinity."""
    t = torch.as_tensor(tensor)
    if not torch.isfinite(t).all():
        raise CheckFailed(f"{name}: {int((~torch.isfinite(t)).sum())} non-finite values")
    _ok(f"{name} is finite", quiet)
