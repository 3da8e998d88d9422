"""One-line checks for notebooks and exercises.

Each check prints a short ``✓`` line when it holds and raises :class:`CheckFailed` (an
``AssertionError``) with the numbers when it does not, so a notebook run under CI fails loudly at the
line that broke. Use them to assert the *effect* a notebook teaches::

    check.greater("Mixed-Rand accuracy, OAMixer vs ViT", acc_oa, acc_vit)
    check.ratio_at_least("entropy drop (baseline / SAR)", h_base, h_sar, factor=2.0)

A NaN or an infinity fails every check (a comparison with NaN means nothing, and an infinite loss is a
bug, not a win); pass ``allow_nonfinite=True`` where an infinity is the expected value.

Every comparison is also written to :data:`LEDGER` with its *margin*, how far it held (or failed) in the units of
the quantity, and for an effect its mean difference in standard errors. ``python -m oaedu reproduce NAME
--seed-bases ...`` collects the ledger of each run (through the file ``$OAEDU_LEDGER``, written as the checks are
made, so a run that stops early keeps its earlier checks) to show how much room every claim has at seeds nobody
chose.
With ``$OAEDU_CHECKS=record`` a failed comparison is written to the ledger and printed with ``✗`` instead of
raised, so that one run measures every claim of a notebook (what that command does).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import numpy as np
import torch

from . import validate


class CheckFailed(AssertionError):
    """A course check did not hold."""


def _scalar(name: str, value, what: str, allow_nonfinite: bool = False) -> float:
    """``value`` as a float; NaN always fails the check, ±inf fails unless ``allow_nonfinite``."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: {what} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    try:
        if isinstance(value, (bool, str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}") from None
    if math.isnan(value):
        raise CheckFailed(f"{name}: {what} is NaN")
    if math.isinf(value) and not allow_nonfinite:
        raise CheckFailed(f"{name}: {what} is {value} (pass allow_nonfinite=True if an infinity is expected)")
    return value


def _tensor(name: str, value, what: str) -> torch.Tensor:
    """``value`` as a real tensor; a check never passes on nothing (no values), on text or on complex numbers."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: {what} must be a tensor or numbers, got {value!r}")
    try:
        t = torch.as_tensor(value).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name}: {what} must be a tensor or numbers, got {type(value).__name__}: {e}") from None
    if t.is_complex():
        raise TypeError(f"{name}: {what} must be real, got complex values (compare .real and .imag separately)")
    if not t.numel():
        raise CheckFailed(f"{name}: {what} holds no values (shape {tuple(t.shape)}): nothing was checked")
    return t


LEDGER: list[dict] = []  # one entry per comparison made in this process: name, kind, margin, passed, ...
RECORD_ENV_VAR = "OAEDU_CHECKS"
LEDGER_ENV_VAR = "OAEDU_LEDGER"  # a file that receives each entry as a JSON line the moment it is made


def _ok(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"✓ {message}")


def _judge(name: str, kind: str, margin: float, message: str, failure: str, quiet: bool, **extra) -> None:
    """Write the comparison to :data:`LEDGER`; print ``✓`` when ``margin > 0`` (``>= 0`` for ``between`` and
    ``ratio_at_least``, whose bounds are inclusive), else raise (or, under ``$OAEDU_CHECKS=record``, print ``✗``)."""
    passed = margin >= 0 if kind in ("between", "ratio_at_least") else margin > 0
    entry = {"name": name, "kind": kind, "margin": margin, "passed": passed, **extra}
    LEDGER.append(entry)
    path = os.environ.get(LEDGER_ENV_VAR, "").strip()
    if path:  # kept even if the run stops later (a kernel that dies, an error in another cell)
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")
    if passed:
        _ok(message, quiet)
    elif os.environ.get(RECORD_ENV_VAR, "").strip() == "record":
        print(f"✗ {failure}")
    else:
        raise CheckFailed(failure)


def true(name: str, condition: bool, detail: str = "", quiet: bool = False) -> None:
    """Check that ``condition`` holds: a bool (Python's or NumPy's) or a one-element bool tensor. Anything else
    (a string such as ``"False"``, a number, a list, NaN) is refused: its truth value would not be the claim."""
    if isinstance(condition, torch.Tensor):
        if condition.numel() != 1:
            raise ValueError(
                f"{name}: condition must be one truth value, got a tensor of shape {tuple(condition.shape)} "
                "(use .all() or .any())"
            )
        if condition.dtype != torch.bool:
            raise TypeError(f"{name}: condition must be a bool tensor, got {condition.dtype} (compare it first)")
        condition = condition.item()
    if isinstance(condition, float) and math.isnan(condition):
        raise CheckFailed(f"{name}: condition is NaN. {detail}".strip())
    if not isinstance(condition, (bool, np.bool_)):
        raise TypeError(f"{name}: condition must be a bool, got {validate.describe(condition)}")
    _judge(name, "true", 1.0 if bool(condition) else -1.0, name, f"{name}: does not hold. {detail}".strip(), quiet)


def close(
    name: str,
    actual,
    expected,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    quiet: bool = False,
    allow_nonfinite: bool = False,
) -> None:
    """Check that two tensors (or numbers) agree elementwise within ``atol + rtol·|expected|``.

    A NaN or an infinity on either side fails the check, unless ``allow_nonfinite=True``: then NaN must meet
    NaN and an infinity the same infinity, position by position.
    """
    atol = validate.non_negative(atol, "atol")
    rtol = validate.non_negative(rtol, "rtol")
    a = _tensor(name, actual, "actual").double()
    e = _tensor(name, expected, "expected").double()
    if a.shape != e.shape:
        raise CheckFailed(f"{name}: actual has shape {tuple(a.shape)}, expected has {tuple(e.shape)}")
    odd_a, odd_e = ~torch.isfinite(a), ~torch.isfinite(e)
    if not allow_nonfinite:
        for what, odd in (("actual", odd_a), ("expected", odd_e)):
            if odd.any():
                raise CheckFailed(
                    f"{name}: {what} holds {int(odd.sum())} NaN/inf value(s) "
                    "(pass allow_nonfinite=True if they are expected)"
                )
    same_odd = (odd_a == odd_e) & (a.isnan() == e.isnan()) & ((a == e) | a.isnan() | ~odd_a)
    if not same_odd.all():
        raise CheckFailed(f"{name}: {int((~same_odd).sum())} NaN/inf value(s) differ from expected")
    both = ~odd_a & ~odd_e
    diff = torch.where(both, (a - e).abs(), torch.zeros_like(a))
    bad = diff > atol + rtol * torch.where(both, e.abs(), torch.zeros_like(e))
    maxdiff = diff.max().item() if diff.numel() else 0.0
    if bad.any():
        raise CheckFailed(f"{name}: {int(bad.sum())} of {bad.numel()} values differ; max |diff| = {maxdiff:.3g}")
    _ok(f"{name} (max |diff| = {maxdiff:.2g})", quiet)


def shape(name: str, tensor: torch.Tensor, expected: Sequence[int | None], quiet: bool = False) -> None:
    """Check a tensor's shape; ``None`` in ``expected`` matches any size."""
    if not hasattr(tensor, "shape"):
        raise TypeError(f"{name}: tensor must be a tensor (anything with a shape), got {type(tensor).__name__}")
    got = tuple(tensor.shape)
    ok = len(got) == len(expected) and all(e is None or g == e for g, e in zip(got, expected, strict=True))
    if not ok:
        raise CheckFailed(f"{name}: tensor has shape {got}, expected {tuple(expected)}")
    _ok(f"{name} has shape {got}", quiet)


def greater(name: str, a, b, margin: float = 0.0, quiet: bool = False, allow_nonfinite: bool = False) -> None:
    """Check ``a > b + margin``."""
    a, b = _scalar(name, a, "a", allow_nonfinite), _scalar(name, b, "b", allow_nonfinite)
    margin = validate.number(margin, "margin")
    message = f"{name}: {a:.4g} > {b:.4g}" + (f" + {margin:g}" if margin else "")
    _judge(name, "greater", a - (b + margin), message, f"{name}: expected {a:.4g} > {b:.4g} + {margin:g}", quiet)


def less(name: str, a, b, margin: float = 0.0, quiet: bool = False, allow_nonfinite: bool = False) -> None:
    """Check ``a < b - margin``."""
    a, b = _scalar(name, a, "a", allow_nonfinite), _scalar(name, b, "b", allow_nonfinite)
    margin = validate.number(margin, "margin")
    message = f"{name}: {a:.4g} < {b:.4g}" + (f" - {margin:g}" if margin else "")
    _judge(name, "less", (b - margin) - a, message, f"{name}: expected {a:.4g} < {b:.4g} - {margin:g}", quiet)


def between(name: str, value, low: float, high: float, quiet: bool = False, allow_nonfinite: bool = False) -> None:
    """Check ``low <= value <= high`` (the bounds may be infinite; ``low <= high`` is required)."""
    low = validate.number(low, "low", allow_inf=True)
    high = validate.number(high, "high", allow_inf=True)
    if low > high:
        raise ValueError(f"{name}: low must be <= high, got low={low:g}, high={high:g}")
    v = _scalar(name, value, "value", allow_nonfinite)
    message, failure = f"{name}: {v:.4g} in [{low:g}, {high:g}]", f"{name}: {v:.4g} is outside [{low:g}, {high:g}]"
    _judge(name, "between", min(v - low, high - v), message, failure, quiet)


def ratio_at_least(
    name: str, numerator, denominator, factor: float, quiet: bool = False, allow_nonfinite: bool = False
) -> None:
    """Check ``numerator / denominator >= factor`` (e.g. an entropy that drops several-fold)."""
    factor = validate.number(factor, "factor")
    n = _scalar(name, numerator, "numerator", allow_nonfinite)
    d = _scalar(name, denominator, "denominator", allow_nonfinite)
    if d <= 0:
        raise CheckFailed(f"{name}: denominator {d:.4g} must be positive")
    message, failure = (
        f"{name}: {n:.4g} / {d:.4g} = {n / d:.3g} ≥ {factor:g}",
        f"{name}: ratio {n:.4g} / {d:.4g} = {n / d:.3g} < {factor:g}",
    )
    _judge(name, "ratio_at_least", n / d - factor, message, failure, quiet)


def finite(name: str, tensor: torch.Tensor, quiet: bool = False) -> None:
    """Check that a tensor holds no NaN or infinity."""
    t = _tensor(name, tensor, "tensor")
    if not torch.isfinite(t).all():
        raise CheckFailed(f"{name}: tensor holds {int((~torch.isfinite(t)).sum())} non-finite values")
    _ok(f"{name} is finite", quiet)


def effect(
    name: str,
    treated,
    control,
    direction: int = 1,
    k: float = 2.0,
    min_seeds: int = 3,
    quiet: bool = False,
):
    """Check a paired effect over seeds (:mod:`oaedu.stats`): at least ``min_seeds`` seeds and a mean difference
    ``treated − control`` beyond ``k`` standard errors, upwards (``direction=1``) or downwards (``-1``). Returns the
    :class:`oaedu.stats.Effect`."""
    from .stats import effect as paired_effect

    if isinstance(direction, bool) or direction not in (1, -1):
        raise ValueError(f"{name}: direction must be +1 or -1, got {direction!r}")
    k = validate.positive(k, "k")
    min_seeds = validate.integer(min_seeds, "min_seeds", low=1)
    e = paired_effect(treated, control)
    want = ">" if direction > 0 else "<"
    failure = f"{name}: {e}; expected Δ {want} {'' if direction > 0 else '−'}{k:g}·SE over ≥ {min_seeds} seeds"
    if e.n < min_seeds:
        raise CheckFailed(failure)  # too few seeds is a wrong call, not a measurement
    d = direction * e.difference
    z = d / e.se if e.se > 0 else (math.inf if d > 0 else -math.inf if d < 0 else 0.0)  # Δ in SE, claimed way
    extra = {"difference": e.difference, "se": e.se, "n": e.n, "k": k, "direction": direction}
    _judge(name, "effect", z - k, f"{name}: {e}", failure, quiet, **extra)
    return e
