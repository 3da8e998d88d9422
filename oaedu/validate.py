"""Argument checks shared by the public API: bad input gets a clear error, never a silent wrong number.

Every check raises ``TypeError`` (the wrong kind of object, e.g. a list for a tensor or a string for a
number) or ``ValueError`` (the right kind with a wrong value, shape or dtype) whose message names the
argument, says what was expected and what it got, e.g. ``tau must be a positive finite number, got 0.0``.
Checks return the value (as a plain ``float``/``int`` for scalars), so an entry point reads
``tau = validate.positive(tau, "tau")``.

Entry points validate once, at the top; the loops of readable ``*_reference`` implementations do not.

Beyond shapes, arguments have *kinds* (:data:`KINDS`): a seed, a probability, a fraction, an accuracy, a crop
scale, a box, a binary map, an id map, each with one validator here (:func:`seed`, :func:`probability`,
:func:`fraction`, :func:`accuracy`, :func:`crop_scale`, :func:`boxes`, :func:`binary_map`, :func:`label_ids`).
What tensors entry points accept: no complex tensor anywhere (:func:`tensor`); images are floating point in the
model's dtype (:func:`images`, :func:`like_model`: uint8 and bool images are refused with the conversion to use);
tensors that meet in one computation share a dtype (:func:`same_dtype`); masks are bool (integer id maps where
a function says so); class labels and ids are integers. Finite input that overflows the dtype is refused
(:func:`overflow`), and sizes that cannot be allocated or loops that cannot finish are refused at the entry
(:func:`fits_memory`, :func:`steps`, and every :func:`integer` is at most ``2**31 − 1``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

DTypeSpec = str | torch.dtype | tuple[torch.dtype, ...]


# ------------------------------------------------------------------------------------------------- scalars
def describe(x: Any) -> str:
    """A short description of ``x`` for error messages."""
    if isinstance(x, torch.Tensor):
        return f"a {str(x.dtype).removeprefix('torch.')} tensor of shape {tuple(x.shape)}"
    if isinstance(x, (bool, numbers.Number, str)) or x is None:
        return repr(x)
    if isinstance(x, (tuple, list)) and len(x) <= 6 and all(isinstance(v, (numbers.Number, str)) for v in x):
        return repr(x)
    return f"a {type(x).__name__}"


def _as_number(x: Any, name: str, expected: str) -> float | int:
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_complex():
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {describe(x)}")
    return x


def number(
    x: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    what: str | None = None,
    allow_nan: bool = False,
) -> float:
    """A real number (never NaN unless ``allow_nan``, never ±inf unless ``allow_inf``) in the given range; returns
    it as a float. ``what`` replaces the generated description of what is expected in the message."""
    if what is None:
        bounds = [f"{'>' if low_open else '>='} {low:g}"] if low is not None else []
        bounds += [f"{'<' if high_open else '<='} {high:g}"] if high is not None else []
        what = ("a number" if allow_inf else "a finite number") + (" " + " and ".join(bounds) if bounds else "")
    value = float(_as_number(x, name, what))
    if math.isnan(value) and allow_nan:
        return value
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be {what}, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {what}, got {value:g}")
    return value


def positive(x: Any, name: str) -> float:
    """A finite number > 0 (a temperature τ, a scale σ, a learning rate)."""
    return number(x, name, low=0.0, low_open=True, what="a positive finite number")


def non_negative(x: Any, name: str) -> float:
    """A finite number >= 0 (a loss weight λ, a weight decay, a margin)."""
    return number(x, name, low=0.0, what="a non-negative finite number")


def probability(x: Any, name: str) -> float:
    """A number in [0, 1]."""
    return number(x, name, low=0.0, high=1.0, what="a probability in [0, 1]")


def integer(x: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """An int (not a bool, not a float) in ``[low, high]``; returns it as an int."""
    if high is not None:
        what = f"an integer in [{low}, {high}]" if low is not None else f"an integer <= {high}"
    else:
        named = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}
        what = named.get(low, f"an integer >= {low}")
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_floating_point() and x.dtype != torch.bool:
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {describe(x)}")
    x = int(x)
    if (low is not None and x < low) or (high is not None and x > high):
        raise ValueError(f"{name} must be {what}, got {x}")
    if high is None and abs(x) > MAX_INT:  # no size, count or index of this course comes near 2**31
        raise ValueError(f"{name} must be {what} of at most {MAX_INT:,} in magnitude, got {x}")
    return x


MAX_INT = 2**31 - 1
MAX_STEPS = 10_000  # layers, iterations, warm-up runs: a loop count beyond this is a typo, not a plan


def steps(x: Any, name: str, low: int = 1) -> int:
    """A count of repeated steps (layers, iterations, warm-up runs) in ``[low, MAX_STEPS]``."""
    return integer(x, name, low=low, high=MAX_STEPS)


def memory_bytes() -> int:
    """This machine's physical memory in bytes (a generous 64 GiB where the OS does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 64 * 2**30


def fits_memory(numel: int, what: str, itemsize: int = 4) -> int:
    """Raise unless ``numel`` values of ``itemsize`` bytes fit in half of this machine's memory: a size argument
    that would allocate terabytes is refused with the arguments named, not by torch's allocator."""
    need = int(numel) * int(itemsize)
    limit = memory_bytes() // 2
    if need > limit:
        raise ValueError(f"{what}: would allocate {need / 2**30:,.3g} GiB, more than half of this machine's memory")
    return need


def size2(x: Any, name: str, allow_int: bool = True) -> tuple[int, int]:
    """A 2-D size or grid: a pair of ints >= 1, or (with ``allow_int``) one int ``s`` meaning ``(s, s)``."""
    if allow_int and isinstance(x, numbers.Integral) and not isinstance(x, bool):
        x = (x, x)
    if not isinstance(x, (tuple, list, torch.Size)) or len(x) != 2:
        expected = "an int or a pair (h, w) of ints >= 1" if allow_int else "a pair (h, w) of ints >= 1"
        raise TypeError(f"{name} must be {expected}, got {describe(x)}")
    return integer(x[0], f"{name}[0]", low=1), integer(x[1], f"{name}[1]", low=1)


def interval(
    x: Any, name: str, low: float | None = None, high: float | None = None, low_open: bool = False
) -> tuple[float, float]:
    """A pair ``(a, b)`` of finite numbers with ``a <= b``, both within ``[low, high]`` (``(low, high]`` if
    ``low_open``)."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError(f"{name} must be a pair (low, high) of numbers, got {describe(x)}")
    a = number(x[0], f"{name}[0]", low=low, high=high, low_open=low_open)
    b = number(x[1], f"{name}[1]", low=low, high=high, low_open=low_open)
    if a > b:
        raise ValueError(f"{name} must satisfy low <= high, got {tuple(x)}")
    return a, b


def choice(x: Any, name: str, options: Iterable[str]) -> str:
    """One of ``options``."""
    options = tuple(options)
    if not isinstance(x, str) or x not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {describe(x)}")
    return x


def is_callable(x: Any, name: str) -> Callable:
    """Something callable (a step, a labeller, a forward function)."""
    if not callable(x):
        raise TypeError(f"{name} must be callable, got {describe(x)}")
    return x


def module(x: Any, name: str = "model") -> torch.nn.Module:
    """A ``torch.nn.Module``."""
    if not isinstance(x, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {describe(x)}")
    return x


# ------------------------------------------------------------------------------------------------- tensors
_KINDS = {
    "float": (lambda t: t.is_floating_point(), "a floating-point"),
    "integer": (lambda t: not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool, "an integer"),
    "bool": (lambda t: t.dtype == torch.bool, "a bool"),
    "real": (lambda t: not t.is_complex() and t.dtype != torch.bool, "a real (integer or floating-point)"),
}


def finite(t: torch.Tensor, name: str) -> torch.Tensor:
    """Raise unless every value of a tensor is finite (integer and bool tensors always are).

    The common case costs one ``sum`` (NaN and ±inf propagate into it); only when that sum is not finite are
    the values inspected one by one, so a sum that merely overflows is not mistaken for a NaN.
    """
    if t.is_floating_point() or t.is_complex():
        d = t.detach()
        if d.numel() and not torch.isfinite(d.sum()) and not torch.isfinite(d).all():
            bad = int((~torch.isfinite(d)).sum())
            kinds = " and ".join(k for k, hit in (("NaN", d.isnan().any()), ("inf", d.isinf().any())) if hit)
            raise ValueError(f"{name} must be finite, got {kinds} in {bad} of {d.numel()} values")
    return t


def values_in(
    t: torch.Tensor,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> torch.Tensor:
    """Every value of a real tensor lies in the range (NaN never does; ±inf only if the range is unbounded
    there). Two reductions (``amin``, ``amax``), which propagate NaN."""
    if not t.numel():
        return t
    d = t.detach() if t.dtype != torch.bool else t.detach().float()
    # one reduction per bound (amin and amax propagate NaN); an unbounded side still needs one to see a NaN
    lo_v = float(d.amin()) if low is not None or high is None else -math.inf
    hi_v = float(d.amax()) if high is not None else lo_v
    bad = math.isnan(lo_v) or math.isnan(hi_v)
    bad |= low is not None and (lo_v <= low if low_open else lo_v < low)
    bad |= high is not None and (hi_v >= high if high_open else hi_v > high)
    if bad:
        left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
        right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
        interval = f"{left}, {right}"
        if math.isnan(lo_v) or math.isnan(hi_v):
            got = "NaN"
        elif low is not None and high is not None:
            got = f"values from {lo_v:.4g} to {hi_v:.4g}"
        else:
            got = f"a {'largest' if high is not None else 'smallest'} value of {hi_v if high is not None else lo_v:.4g}"
        raise ValueError(f"{name} must hold values in {interval}, got {got}")
    return t


def tensor(
    x: Any,
    name: str,
    ndim: int | Sequence[int] | None = None,
    dtype: DTypeSpec | None = None,
    shape: Sequence[int | None] | None = None,
    min_batch: int = 0,
    finite_values: bool = False,
    min_ndim: int | None = None,
) -> torch.Tensor:
    """A tensor with the given number of dims (one or several allowed, or at least ``min_ndim``), dtype kind
    (``"float"``, ``"integer"``, ``"bool"``, ``"real"`` or torch dtypes), shape (``None`` matches any size),
    at least ``min_batch`` items along dim 0, and, with ``finite_values``, no NaN or inf."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(x)}")
    if x.is_complex():  # no entry point computes with complex values: taking the real part would be silent
        raise ValueError(f"{name} must be a real tensor, got {describe(x)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if dtype is not None:
        if isinstance(dtype, str):
            ok, what = _KINDS[dtype]
            good = ok(x)
        else:
            dtypes = (dtype,) if isinstance(dtype, torch.dtype) else tuple(dtype)
            good, what = x.dtype in dtypes, "a " + " or ".join(str(d).removeprefix("torch.") for d in dtypes)
        if not good:
            raise ValueError(f"{name} must be {what} tensor, got {describe(x)}")
    if shape is not None:
        ok = x.ndim == len(shape) and all(s is None or s == g for s, g in zip(shape, x.shape, strict=False))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if min_batch and (x.ndim == 0 or x.shape[0] < min_batch):
        raise ValueError(
            f"{name} must hold at least {min_batch} item{'s' * (min_batch > 1)} along dim 0, got shape {tuple(x.shape)}"
        )
    if finite_values:
        finite(x, name)
    return x


def same_batch(**named: torch.Tensor) -> int:
    """Every tensor has the same size along dim 0; returns it. ``same_batch(images=x, masks=m)``."""
    sizes = {n: (t.shape[0] if t.ndim else None) for n, t in named.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n} has {s}" for n, s in sizes.items())
        raise ValueError(f"{' and '.join(named)} must hold the same number of items, but {listed}")
    return next(iter(sizes.values()))


def same_dtype(**named: torch.Tensor) -> torch.dtype:
    """Every tensor has the same dtype; returns it. ``same_dtype(q=q, k=k)``: mixing float32 with float16 or
    float64 is refused at the entry, not deep inside a matrix product."""
    dtypes = {n: t.dtype for n, t in named.items()}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n} is {str(d).removeprefix('torch.')}" for n, d in dtypes.items())
        raise ValueError(f"{' and '.join(named)} must have the same dtype, but {listed}")
    return next(iter(dtypes.values()))


def model_dtype(model: torch.nn.Module) -> torch.dtype | None:
    """The dtype of the model's floating-point parameters (None for a model without any)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def like_model(x: torch.Tensor, name: str, model: torch.nn.Module) -> torch.Tensor:
    """A float tensor in the dtype of the model's parameters: float16/float64 images into a float32 model are
    refused here with the conversion to use, not by torch's "Input type and bias type" deep inside."""
    want = model_dtype(model)
    if want is not None and x.dtype != want:
        w = str(want).removeprefix("torch.")
        raise ValueError(f"{name} must be {w} like the model's parameters, got {describe(x)} (use {name}.to({w}))")
    return x


def overflow(result: torch.Tensor, names: str, what: str = "the result") -> torch.Tensor:
    """Raise when finite inputs gave a non-finite result: values too large for the dtype (e.g. products of
    values near 3e38 in float32 or 6e4 in float16) overflowed. One check of the output, at the entry point."""
    if result.is_floating_point() and result.numel() and not bool(torch.isfinite(result.detach()).all()):
        dtype = str(result.dtype).removeprefix("torch.")
        raise ValueError(f"{names}: values too large for {dtype}: {what} overflowed to inf or NaN (rescale the input)")
    return result


def input_channels(model: torch.nn.Module) -> int | None:
    """Channels the model's first convolution expects (its stem), or None when it has none."""
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            return m.in_channels
    return None


def _fixed_size(model: torch.nn.Module) -> tuple[int, int] | None:
    embed = getattr(model, "patch_embed", None) or getattr(model, "stem", None)
    size = getattr(embed, "img_size", None)
    if size is None or not getattr(embed, "strict_img_size", False) or getattr(embed, "dynamic_img_size", False):
        return None
    return int(size[0]), int(size[1])


def images(
    x: Any, name: str = "images", channels: int | None = 3, model: torch.nn.Module | None = None, min_batch: int = 1
) -> torch.Tensor:
    """A finite float batch ``(B, C, H, W)`` with ``B >= min_batch``. With ``model``, the channels (and, for a
    timm ViT/Mixer with a fixed input size, ``H × W``) are those the model expects, and the dtype is the model's.

    Images are floating point, in the model's dtype: uint8 images (0–255) and bool images are refused with the
    conversion to use (``images.float() / 255``), never read as numbers of another scale."""
    if isinstance(x, torch.Tensor) and x.dtype in (torch.uint8, torch.bool):
        how = f"{name}.float() / 255" if x.dtype == torch.uint8 else f"{name}.float()"
        raise ValueError(f"{name} must be a floating-point tensor (values in [0, 1]), got {describe(x)} (use {how})")
    if model is not None:
        channels = input_channels(model)
    x = tensor(x, name, ndim=4, dtype="float", min_batch=min_batch)
    if model is not None:
        like_model(x, name, model)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels, (B, {channels}, H, W), got shape {tuple(x.shape)}")
    size = _fixed_size(model) if model is not None else None
    if size is not None and tuple(x.shape[-2:]) != size:
        raise ValueError(f"{name} must be {size[0]}×{size[1]} pixels for this model, got shape {tuple(x.shape)}")
    return finite(x, name)


def class_labels(x: Any, name: str, num_classes: int | None = None, ndim: int = 1) -> torch.Tensor:
    """Integer class indices in ``[0, num_classes)`` (``>= 0`` when ``num_classes`` is None)."""
    x = tensor(x, name, ndim=ndim, dtype="integer")
    if x.numel():
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or (num_classes is not None and hi >= num_classes):
            want = f"[0, {num_classes})" if num_classes is not None else ">= 0"
            raise ValueError(f"{name} must hold class indices in {want}, got values from {lo} to {hi}")
    return x


def label_ids(x: Any, name: str, ndim: int | Sequence[int] | None = None) -> torch.Tensor:
    """Non-negative integer ids (instance or cluster labels), renumbered ``0, 1, 2, …`` in sorted order.

    Ids are names, not sizes: ``[0, 7, 1_000_000]`` becomes ``[0, 1, 2]``, so tables indexed by id stay small.
    0 stays 0 (the background), also when no pixel is 0. Returns int64 of the same shape.
    """
    x = tensor(x, name, ndim=ndim, dtype="integer")
    if not x.numel():
        return x.long()
    if int(x.min()) < 0:
        raise ValueError(f"{name} must hold non-negative integer ids, got {int(x.min())}")
    values, inverse = torch.unique(x, return_inverse=True)
    return (inverse + int(values[0] != 0)).long()


# ------------------------------------------------------------------------------------------------- argument kinds
@dataclass(frozen=True)
class Kind:
    """A named kind of argument: what its values mean, beyond their dtype and shape.

    ``what`` is the phrase error messages use; ``low``/``high`` the range of a number kind (or of a tensor kind's
    values); ``parameters`` the parameter names of public entry points that take this kind, so that the probe in
    ``tests/`` tries every one of them with values outside the range.
    """

    name: str
    what: str
    parameters: tuple[str, ...]
    low: float | None = None
    high: float | None = None


SEED_MAX = 2**63 - 1
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("seed", "a seed, an integer in [0, 2**63 - 1]", ("seed",), 0, SEED_MAX),
        Kind(
            "probability",
            "a probability in [0, 1]",
            ("p", "p_gray", "p_jitter", "dropout_p", "empty", "bg_correlation", "cooccurrence", "min_visible"),
            0.0,
            1.0,
        ),
        Kind("fraction", "a fraction in [0, 1]", ("threshold", "min_area", "label_smoothing", "fg_mask"), 0.0, 1.0),
        Kind("accuracy", "an accuracy in [0, 100] (%)", ("mixed_same_acc", "mixed_rand_acc"), 0.0, 100.0),
        Kind("crop scale", "a pair (low, high) of area fractions with 0 < low <= high <= 1", ("scale",), 0.0, 1.0),
        Kind("box", "boxes (x0, y0, x1, y1) in [0, 1] with x0 < x1 and y0 < y1", ("boxes",), 0.0, 1.0),
        Kind("binary map", "a bool map (True on the object)", ("mask", "masks", "outline"), 0, 1),
        Kind("id map", "a map of non-negative integer ids", ("instance_masks", "instance", "true", "pred"), 0),
    )
}


def seed(x: Any, name: str = "seed") -> int:
    """A seed: an int in ``[0, 2**63 - 1]``, one rule for every generator and for ``seed_everything``."""
    return integer(x, name, low=0, high=SEED_MAX)


def fraction(x: Any, name: str) -> float:
    """A number in [0, 1] (a threshold on a normalised map, an area share, a label smoothing)."""
    return number(x, name, low=0.0, high=1.0, what=KINDS["fraction"].what)


def accuracy(x: Any, name: str) -> float:
    """An accuracy in percent, in [0, 100]."""
    return number(x, name, low=0.0, high=100.0, what=KINDS["accuracy"].what)


def accuracy_gap(x: Any, name: str) -> float:
    """A difference of two accuracies in percent points (BG-Gap), in [-100, 100]."""
    return number(x, name, low=-100.0, high=100.0, what="a difference of accuracies in [-100, 100] (points)")


def accuracy_row(row: Any, name: str, keys: Iterable[str]) -> dict[str, float]:
    """A mapping holding an accuracy (%) for each of ``keys``; ``"bg_gap"`` is a difference of accuracies."""
    if not hasattr(row, "keys") or not hasattr(row, "__getitem__"):
        raise TypeError(f"{name} must be a dict of accuracies, got {describe(row)}")
    missing = [k for k in keys if k not in row]
    if missing:
        raise ValueError(f"{name} lacks {missing}")
    check = {k: accuracy_gap if k == "bg_gap" else accuracy for k in keys}
    return {k: check[k](row[k], f"{name}[{k!r}]") for k in keys}


def crop_scale(x: Any, name: str = "scale") -> tuple[float, float]:
    """A crop's area range ``(low, high)`` with ``0 < low <= high <= 1``."""
    return interval(x, name, low=0.0, high=1.0, low_open=True)


def binary_map(x: Any, name: str, ndim: int | Sequence[int] | None = None) -> torch.Tensor:
    """A bool map (True on the object). An integer or float map is refused, not thresholded: its values may be
    ids or fractions, and ``masks > 0`` is the caller's decision."""
    x = tensor(x, name, ndim=ndim)
    if x.dtype != torch.bool:
        raise ValueError(f"{name} must be {KINDS['binary map'].what}, got {describe(x)} (use {name} > 0 if intended)")
    return x


def fraction_map(x: Any, name: str, ndim: int | Sequence[int] | None = None) -> torch.Tensor:
    """A float map of fractions in [0, 1] (e.g. a soft foreground mask)."""
    x = tensor(x, name, ndim=ndim, dtype="float", finite_values=True)
    return values_in(x, name, 0.0, 1.0)


def boxes(x: Any, name: str = "boxes", mirrored_ok: bool = False) -> torch.Tensor:
    """Boxes ``(..., 4)`` as ``(x0, y0, x1, y1)`` in [0, 1] (fractions of the image) with ``x0 < x1`` and
    ``y0 < y1``: an inverted, outside or zero-area box is refused. With ``mirrored_ok`` (a crop), ``x1 < x0`` or
    ``y1 < y0`` is a mirrored crop; a zero width or height is still refused."""
    x = tensor(x, name, dtype="float", finite_values=True)
    if x.ndim < 1 or x.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4) as (x0, y0, x1, y1), got {tuple(x.shape)}")
    if not x.numel():
        return x
    values_in(x, name, 0.0, 1.0)
    w, h = x[..., 2] - x[..., 0], x[..., 3] - x[..., 1]
    if mirrored_ok:
        w, h = w.abs(), h.abs()
    if not bool((w > 0).all() and (h > 0).all()):
        kind = "a zero-area" if mirrored_ok else "an inverted or zero-area"
        raise ValueError(f"{name} must be {KINDS['box'].what}: got {kind} box")
    return x
