"""One registry of the reference/fast twins: each readable ``*_reference`` and the fast function that agrees with it.

Both twins of a pair take the same arguments and return the same type. A :class:`Twin` names them and builds
deterministic inputs at three sizes: ``"test"`` (tiny; ``tests/test_twins.py`` checks on them that the twins agree),
``"quick"`` and ``"full"`` (the benchmark rows of ``python -m oaedu.bench [--quick]``, built by :func:`bench_cases`).
So a new pair is tested and benchmarked by adding one entry to :data:`TWINS`: a subpackage's ``bench`` module places
its twins' rows among its other rows (and names them in its ``TWINS``), and :func:`cases` gives the rows of any
twin that no bench module places (:func:`oaedu.bench.discover` reads it last).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .contracam import (
    ContrastiveScore,
    contracam,
    contracam_reference,
    gradcam,
    gradcam_reference,
    largest_empty_rectangle,
    largest_empty_rectangle_reference,
)
from .contrastive import MoCo, SmallEncoder
from .metrics import adjusted_rand_index, adjusted_rand_index_reference
from .models import tiny_vit
from .oamixer import (
    attention,
    attention_reference,
    conv_mixing,
    conv_mixing_method,
    conv_mixing_reference,
    local_distance,
    mixer_linearisation,
    mixer_mixing,
    mixer_mixing_reference,
    pairwise_distance,
)
from .relevance import relevance_map, relevance_map_reference
from .slots import (
    cossim_loss,
    cossim_loss_reference,
    ctr_all_loss,
    ctr_all_loss_reference,
    ctr_img_loss,
    ctr_img_loss_reference,
    hungarian_match,
    hungarian_match_reference,
    match_slots,
    otsu_threshold,
    otsu_threshold_reference,
    segmentation_iou,
    segmentation_iou_reference,
    simclr_loss,
    simclr_loss_reference,
)
from .spatial_entropy import (
    connected_components,
    connected_components_reference,
    spatial_entropy,
    spatial_entropy_reference,
)

SIZES = ("test", "quick", "full")


@dataclass
class Example:
    """One set of inputs for both twins: ``twin(*args, **kwargs)``.

    The rest only matters to the benchmark row: ``label`` completes the row's name (:attr:`Twin.title`),
    ``reference_args`` (if given) are what the reference is timed on instead (a slow reference on fewer items),
    and ``peer`` is the zero-argument callable a user would otherwise call, named ``peer_name``.
    """

    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    reference_args: tuple | None = None
    peer: Callable[[], object] | None = None
    peer_name: str = ""
    note: str = ""


@dataclass(frozen=True)
class Twin:
    """A readable ``reference`` and its ``fast`` twin (same arguments, same return type) and how to check and time them.

    ``examples(size)`` builds the inputs for ``size`` in :data:`SIZES`. The twins agree on an example when
    ``agree(fast_out, reference_out, example)`` passes (default: ``torch.testing.assert_close``, ``atol``, ``rtol``).
    ``title`` (formatted with the example's ``label``) names the benchmark row; ``min_vs_reference`` and
    ``min_vs_peer`` are its goals (see :class:`oaedu.bench.Case`). ``fast_only`` names the fast twin's extra
    arguments, knobs of its algorithm with defaults (e.g. which branch), which the reference has no use for.
    """

    name: str
    reference: Callable[..., Any]
    fast: Callable[..., Any]
    examples: Callable[[str], list[Example]]
    title: str
    min_vs_reference: float
    min_vs_peer: float | None = None
    note: str = ""
    atol: float = 1e-6
    rtol: float = 1e-5
    agree: Callable[[Any, Any, Example], None] | None = None
    fast_only: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        """The subpackage whose bench module shows this twin's rows (the part of ``name`` before the dot)."""
        return self.name.split(".")[0]

    def check(self, example: Example) -> None:
        """Raise ``AssertionError`` unless both twins give the same result on ``example``."""
        got = self.fast(*example.args, **example.kwargs)
        want = self.reference(*example.args, **example.kwargs)
        if self.agree is not None:
            self.agree(got, want, example)
        else:
            torch.testing.assert_close(got, want, atol=self.atol, rtol=self.rtol)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _check_size(size: str) -> str:
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return size


# ------------------------------------------------------------------------------------------------ oamixer
def _attention_examples(size: str) -> list[Example]:
    if _check_size(size) == "test":
        g = _gen(1)
        q, k, v = (torch.randn(3, 2, 10, 8, generator=g, dtype=torch.float64) for _ in range(3))
        labels = torch.rand(3, 10, 1, generator=g, dtype=torch.float64)
        mask = torch.exp(-2.3 * pairwise_distance(labels))
        return [Example((q, k, v), {"mask": mask}), Example((q, k, v), {"log_mask": mask.log()})]
    batch, heads, n, d = (2 if size == "quick" else 8), 3, 197, 64
    g = _gen()
    q, k, v = (torch.randn(batch, heads, n, d, generator=g) for _ in range(3))
    log_mask = -1.5 * pairwise_distance(torch.rand(batch, n, 1, generator=g))
    return [
        Example(
            (q, k, v),
            {"log_mask": log_mask},
            f"B={batch} H={heads} N={n} D={d}",
            peer=lambda: F.scaled_dot_product_attention(q, k, v),
            peer_name="SDPA, no mask",
        )
    ]


def _mixer_examples(size: str) -> list[Example]:
    batch, channels, n, hidden = (3, 8, 16, 12) if _check_size(size) == "test" else (8, 64, 64, 256)
    if size == "quick":
        batch = 2
    dtype = torch.float64 if size == "test" else torch.float32
    g = _gen(2)
    x = torch.randn(batch, channels, n, generator=g, dtype=dtype)
    lin = mixer_linearisation(
        torch.randn(hidden, n, generator=g, dtype=dtype) / n**0.5,
        torch.randn(n, hidden, generator=g, dtype=dtype) / hidden**0.5,
    )
    f_x = x @ lin.T + torch.randn(batch, channels, n, generator=g, dtype=dtype)  # a linear part plus a residual
    log_mask = -1.3 * pairwise_distance(torch.rand(batch, n, 1, generator=g, dtype=dtype))
    label = f"B={batch} C={channels} N={n}"
    if size == "test":
        return [Example((f_x, x, lin), {"mask": log_mask.exp()}), Example((f_x, x, lin), {"log_mask": log_mask})]
    return [Example((f_x, x, lin), {"log_mask": log_mask}, label)]


def _conv_example(
    batch: int, channels: int, side: tuple[int, int], kernel: int, dtype: torch.dtype, bench: bool
) -> Example:
    g = _gen(3 if not bench else 0)
    h, w = side
    x = torch.randn(batch, channels, h, w, generator=g, dtype=dtype)
    weight = torch.randn(kernel, kernel, generator=g, dtype=dtype)
    labels = torch.rand(batch, h * w, 1, generator=g, dtype=dtype)
    # what a layer receives: its κ times the local label distances of this forward
    log_mask = -1.5 * local_distance(labels.transpose(1, 2).reshape(batch, 1, h, w), kernel)
    if not bench:
        return Example((x, weight, 0.25), {"log_mask": log_mask})
    method = conv_mixing_method(h * w, kernel)
    other = "local" if method == "dense" else "dense"
    from .bench import clock, time_fn  # the bench imports this module

    conv2d_ms = time_fn(
        lambda: F.conv2d(x, weight.expand(channels, 1, kernel, kernel), padding=kernel // 2, groups=channels),
        timer=clock()[0],
    )
    return Example(
        (x, weight, 0.0),
        {"log_mask": log_mask},
        f"{h}×{w} C={channels} S={kernel}: fast ({method})",
        peer=lambda: conv_mixing(x, weight, 0.0, log_mask=log_mask, method=other),
        peer_name=f"conv_mixing, {other} branch",
        note=f"unmasked conv2d would take {conv2d_ms:.2g} ms",
    )


def _conv_examples(size: str) -> list[Example]:
    if _check_size(size) == "test":  # 7×9 with S = 5 takes the dense branch, 11×11 with S = 3 the local one
        return [
            _conv_example(2, 4, (7, 9), 5, torch.float64, False),
            _conv_example(2, 3, (11, 11), 3, torch.float64, False),
        ]
    channels = 32 if size == "quick" else 64
    sides = (14, 28) if size == "quick" else (14, 28, 56)
    return [_conv_example(2 if size == "quick" else 8, channels, (s, s), 9, torch.float32, True) for s in sides]


# ------------------------------------------------------------------------------------------------ contracam
def _moco() -> MoCo:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MoCo(queue_size=0)
        model.train()
        with torch.no_grad():  # non-trivial BN statistics, so eval mode is not the identity
            model(torch.rand(64, 3, 32, 32, generator=_gen(2)))
    return model.eval()


def _classifier() -> tuple[nn.Module, nn.Module]:
    with torch.random.fork_rng():
        torch.manual_seed(1)
        enc = SmallEncoder()
        clf = nn.Sequential(enc, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(enc.out_dim, 9)).eval()
    return clf, enc.layer


def _images(size: str) -> torch.Tensor:
    batch = {"test": 6, "quick": 8, "full": 64}[_check_size(size)]
    return torch.rand(batch, 3, 32, 32, generator=_gen(0 if size != "test" else 1))


def _contracam_examples(size: str) -> list[Example]:
    model, images = _moco(), _images(size)
    if size == "test":
        return [Example((model, model.encoder.layer, images), {"nsr": nsr}) for nsr in (True, False)]
    peer = None
    try:
        from captum.attr import LayerGradCam

        lgc = LayerGradCam(ContrastiveScore(model).eval(), model.encoder.layer)

        def peer():
            with torch.no_grad():
                keys = F.normalize(model(images), dim=1)
            return lgc.attribute(images, additional_forward_args=(keys,), attr_dim_summation=False)
    except ImportError:
        pass
    return [
        Example(
            (model, model.encoder.layer, images),
            {"upsample": False},
            f"{len(images)} images 32 px",
            peer=peer,
            peer_name="captum LayerGradCam (score model)" if peer else "",
        )
    ]


def _gradcam_examples(size: str) -> list[Example]:
    (clf, layer), images = _classifier(), _images(size)
    targets = torch.arange(len(images)) % 9
    if size == "test":
        return [Example((clf, layer, images, targets)), Example((clf, layer, images, targets), {"normalize": False})]
    peer = None
    try:
        from captum.attr import LayerGradCam

        lgc = LayerGradCam(clf, layer)

        def peer():
            return lgc.attribute(images, target=targets, relu_attributions=True)
    except ImportError:
        pass
    return [
        Example(
            (clf, layer, images, targets),
            {"normalize": False},
            f"{len(images)} images 32 px",
            peer=peer,
            peer_name="captum LayerGradCam" if peer else "",
        )
    ]


def _rectangle_examples(size: str) -> list[Example]:
    n, h, w = {"test": (12, 7, 9), "quick": (4, 10, 10), "full": (8, 12, 12)}[_check_size(size)]
    masks = torch.rand(n, h, w, generator=_gen(3)) < 0.25
    examples = [Example((masks,), label=f"{n} maps {h}×{w}")]
    if size == "test":
        examples += [Example((masks[0],)), Example((torch.ones(2, 4, 4, dtype=torch.bool),))]
    return examples


def _same_area_and_empty(got: torch.Tensor, want: torch.Tensor, example: Example) -> None:
    """Rectangles agree when they have the same area (ties may pick different ones) and hold no True pixel."""
    assert got.shape == want.shape and got.dtype == want.dtype == torch.int64, (got.shape, want.shape)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])
    assert torch.equal(area(got), area(want)), (got, want)
    masks = example.args[0]
    for m, (y0, x0, y1, x1) in zip(masks.reshape(-1, *masks.shape[-2:]), got.reshape(-1, 4).tolist(), strict=True):
        assert not m[y0:y1, x0:x1].any()


# ------------------------------------------------------------------------------------------------ metrics
def _ari_examples(size: str) -> list[Example]:
    batch, pixels = {"test": (6, 200), "quick": (8, 256), "full": (64, 64 * 64)}[_check_size(size)]
    g = _gen()
    true = torch.randint(0, 7, (batch, pixels), generator=g)
    pred = torch.randint(0, 7, (batch, pixels), generator=g)
    if size == "test":
        pred = torch.where(torch.rand(batch, pixels, generator=g) < 0.6, true, pred)  # a partial agreement
        return [Example((true, pred)), Example((true, pred), {"foreground_only": True}), Example((true[0], pred[0]))]
    peer = None
    try:
        from sklearn.metrics import adjusted_rand_score

        t_np, p_np = true.numpy(), pred.numpy()
        peer = lambda: [adjusted_rand_score(a, b) for a, b in zip(t_np, p_np, strict=True)]
    except ImportError:
        pass
    return [
        Example(
            (true, pred),
            label=f"{batch} maps × {pixels} px",
            peer=peer,
            peer_name="sklearn adjusted_rand_score (loop)" if peer else "",
        )
    ]


# ------------------------------------------------------------------------------------------------ slots
@functools.lru_cache(maxsize=3)
def _slots_data(size: str) -> dict[str, Any]:
    """The inputs of the slots twins, drawn in one order from one generator (as the slots benchmarks always were)."""
    g = _gen()
    quick = size != "full"
    b = {"test": 5, "quick": 64, "full": 512}[size]
    cost = torch.rand(b, 4, 4, generator=g)
    bl, k, d = {"test": (3, 4, 8), "quick": (4, 5, 16), "full": (16, 5, 64)}[size]
    dtype = torch.float64 if size == "test" else torch.float32
    p0, p1 = torch.randn(bl, k, d, generator=g, dtype=dtype), torch.randn(bl, k, d, generator=g, dtype=dtype)
    s0, s1 = torch.randn(bl, k, d, generator=g, dtype=dtype), torch.randn(bl, k, d, generator=g, dtype=dtype)
    perm = match_slots(p0, p1)
    maps = torch.rand(bl * k, 64, generator=g)
    n_img = 4 if quick else 32
    side = 12 if size == "test" else 32
    inst = torch.randint(0, 4, (n_img, side, side), generator=g)
    inst[:, 0, 0] = 1
    masks = torch.rand(n_img, k, side, side, generator=g) < 0.3
    return {
        "b": b,
        "cost": cost,
        "bl": bl,
        "k": k,
        "p0": p0,
        "p1": p1,
        "s0": s0,
        "s1": s1,
        "perm": perm,
        "z0": p0[:, 0],
        "z1": p1[:, 0],
        "maps": maps,
        "n_img": n_img,
        "inst": inst,
        "masks": masks,
    }


def _scipy_loop(cost: torch.Tensor) -> torch.Tensor:
    from scipy.optimize import linear_sum_assignment

    return torch.from_numpy(np.stack([linear_sum_assignment(c)[1] for c in cost.numpy()]))


def _hungarian_examples(size: str) -> list[Example]:
    s = _slots_data(_check_size(size))
    cost = s["cost"]
    return [Example((cost,), label=f"B={s['b']} K=4", peer=lambda: _scipy_loop(cost), peer_name="scipy loop")]


def _same_total_cost(got: torch.Tensor, want: torch.Tensor, example: Example) -> None:
    """Matchings agree when they cost the same (on ties each solver may pick its own optimum)."""
    cost = example.args[0]
    total = lambda perm: cost.gather(2, perm[:, :, None]).squeeze(-1).sum(-1)
    assert got.shape == want.shape and got.dtype == want.dtype == torch.int64
    torch.testing.assert_close(total(got), total(want))


def _simclr_examples(size: str) -> list[Example]:
    s = _slots_data(_check_size(size))
    return [Example((s["z0"], s["z1"]), label=f"B={s['bl']}")] + (
        [Example((s["z0"], s["z1"], 0.3))] if size == "test" else []
    )


def _ctr_examples(size: str) -> list[Example]:
    s = _slots_data(_check_size(size))
    return [Example((s["p0"], s["p1"], s["perm"]), label=f"B={s['bl']} K={s['k']}")] + (
        [Example((s["p0"], s["p1"], s["perm"], 0.5))] if size == "test" else []
    )


def _cossim_examples(size: str) -> list[Example]:
    s = _slots_data(_check_size(size))
    return [Example((s["p0"], s["p1"], s["s0"], s["s1"], s["perm"]), label=f"B={s['bl']} K={s['k']}")]


def _otsu_examples(size: str) -> list[Example]:
    s = _slots_data(_check_size(size))
    maps = s["maps"]
    examples = [Example((maps,), label=f"{maps.shape[0]} maps × {maps.shape[1]}")]
    if size == "test":
        examples += [Example((maps, None)), Example((maps.view(2, -1, 64), 16))]
    return examples


def _segmentation_iou_examples(size: str) -> list[Example]:
    s = _slots_data(_check_size(size))
    return [Example((s["masks"], s["inst"]), label=f"{s['n_img']} images × {s['k']} masks")]


# ------------------------------------------------------------------------------------------------ relevance
def _relevance_examples(size: str) -> list[Example]:
    batch, depth = {"test": (3, 3), "quick": (8, 2), "full": (64, 4)}[_check_size(size)]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = tiny_vit(depth=depth).eval()
    dtype = torch.float64 if size == "test" else torch.float32
    model = model.to(dtype)
    images = torch.rand(batch, 3, 32, 32, generator=_gen(), dtype=dtype)
    if size == "test":
        target = torch.arange(batch) % 9
        return [Example((model, images, target)), Example((model, images, target), {"create_graph": True})]
    return [Example((model, images), label=f"{batch} images, depth {depth}")]


# ------------------------------------------------------------------------------------------------ spatial entropy
def _component_sizes(size: str) -> list[tuple[int, int]]:
    return {"test": [(6, 9)], "quick": [(256, 8), (384, 14)], "full": [(256, 8), (1536, 14)]}[_check_size(size)]


def _scores(num_maps: int, k: int) -> torch.Tensor:
    return torch.randn(num_maps, k, k, generator=_gen())


def _scipy_label_loop(mask: torch.Tensor) -> list[np.ndarray]:
    from scipy import ndimage

    structure = np.ones((3, 3), dtype=int)
    return [ndimage.label(m, structure=structure)[0] for m in mask.reshape(-1, *mask.shape[-2:]).numpy()]


def _components_examples(size: str) -> list[Example]:
    out = []
    for num_maps, k in _component_sizes(size):
        scores = _scores(num_maps, k)
        mask = scores > scores.mean((-2, -1), keepdim=True)
        out.append(
            Example(
                (mask,),
                label=f"{num_maps}×{k}×{k}",
                peer=lambda mask=mask: _scipy_label_loop(mask),
                peer_name="scipy.ndimage.label loop",
            )
        )
    if size == "test":
        out.append(Example((torch.rand(2, 3, 7, 5, generator=_gen(4)) < 0.5,)))
    return out


def _entropy_examples(size: str) -> list[Example]:
    if _check_size(size) == "test":
        s = torch.randn(3, 4, 8, 8, generator=_gen(), dtype=torch.float64)
        s[0, 0] = 2.5  # a constant map: entropy 0
        return [Example((s,))]
    out = []
    for num_maps, k in _component_sizes(size):
        scores = _scores(num_maps, k)
        out.append(Example((scores,), label=f"{num_maps}×{k}×{k}", reference_args=(scores[: max(1, num_maps // 8)],)))
    return out


def _exact(got: Any, want: Any, example: Example) -> None:
    assert type(got) is type(want)
    torch.testing.assert_close(got, want, atol=0, rtol=0)


TWINS: tuple[Twin, ...] = (
    Twin(
        "oamixer.attention",
        attention_reference,
        attention,
        _attention_examples,
        "oamixer attention {label}: fast vs Eq.5 reference",
        min_vs_reference=1.0,
        min_vs_peer=1 / 1.3,
        note="both from the layer's log M = −κ·D; fast = one masked SDPA call, the reference exponentiates log M. "
        "Timed in CPU time on 1 thread, the ratio holds under load (with 2 threads and wall time each OpenMP "
        "region may wait a scheduler tick for a descheduled worker)",
        atol=1e-12,
        rtol=0,
    ),
    Twin(
        "oamixer.mixer_mixing",
        mixer_mixing_reference,
        mixer_mixing,
        _mixer_examples,
        "oamixer Mixer token mixing {label}: fast vs Eq.7 reference",
        min_vs_reference=1.0,
        note="both from the layer's log M = −κ·D; the reference loops over images",
        atol=1e-10,
        rtol=0,
    ),
    Twin(
        "oamixer.conv_mixing",
        conv_mixing_reference,
        conv_mixing,
        _conv_examples,
        "oamixer ConvMixer {label} vs Toeplitz",
        min_vs_reference=1.0,
        min_vs_peer=1.0,
        note="all three from the layer's local log M = −κ·D (the reference gathers its N×N mask from it)",
        atol=1e-10,
        rtol=0,
        fast_only=("method",),
    ),
    Twin(
        "contracam.contracam",
        contracam_reference,
        contracam,
        _contracam_examples,
        "ContraCAM, {label}",
        min_vs_reference=3.0,
        min_vs_peer=1.0,
        note="one backward vs one per image; 8×8 maps, no upsampling",
        atol=1e-4,
        rtol=0,
    ),
    Twin(
        "contracam.gradcam",
        gradcam_reference,
        gradcam,
        _gradcam_examples,
        "Grad-CAM, {label}",
        min_vs_reference=2.0,
        min_vs_peer=0.8,
        note="classifier Grad-CAM, raw maps at the layer resolution; as fast as captum",
        atol=1e-5,
        rtol=0,
    ),
    Twin(
        "contracam.largest_empty_rectangle",
        largest_empty_rectangle_reference,
        largest_empty_rectangle,
        _rectangle_examples,
        "BG-Mixup largest empty rectangle, {label}",
        min_vs_reference=10.0,
        note="brute force over every rectangle vs run lengths, batched",
        agree=_same_area_and_empty,
    ),
    Twin(
        "metrics.adjusted_rand_index",
        adjusted_rand_index_reference,
        adjusted_rand_index,
        _ari_examples,
        "ARI, {label}",
        min_vs_reference=10.0,
        min_vs_peer=10.0,
        note="one bincount for the batch",
        atol=1e-12,
        rtol=0,
    ),
    Twin(
        "relevance.relevance_map",
        relevance_map_reference,
        relevance_map,
        _relevance_examples,
        "relevance map, {label}",
        min_vs_reference=1.5,
        note="CLS row only, one grad call",
        atol=1e-10,
        rtol=1e-8,
    ),
    Twin(
        "slots.hungarian_match",
        hungarian_match_reference,
        hungarian_match,
        _hungarian_examples,
        "slots.hungarian_match {label}",
        min_vs_reference=3.0,
        min_vs_peer=3.0,
        note="brute force over the K! permutations, batched",
        agree=_same_total_cost,
    ),
    Twin(
        "slots.simclr_loss",
        simclr_loss_reference,
        simclr_loss,
        _simclr_examples,
        "slots.simclr_loss {label}",
        min_vs_reference=2.0,
    ),
    Twin(
        "slots.ctr_all_loss",
        ctr_all_loss_reference,
        ctr_all_loss,
        _ctr_examples,
        "slots.ctr_all_loss {label}",
        min_vs_reference=50.0,
    ),
    Twin(
        "slots.ctr_img_loss",
        ctr_img_loss_reference,
        ctr_img_loss,
        _ctr_examples,
        "slots.ctr_img_loss {label}",
        min_vs_reference=10.0,
    ),
    Twin(
        "slots.cossim_loss",
        cossim_loss_reference,
        cossim_loss,
        _cossim_examples,
        "slots.cossim_loss {label}",
        min_vs_reference=2.0,
    ),
    Twin(
        "slots.otsu_threshold",
        otsu_threshold_reference,
        otsu_threshold,
        _otsu_examples,
        "slots.otsu_threshold {label}",
        min_vs_reference=2.0,
    ),
    Twin(
        "slots.segmentation_iou",
        segmentation_iou_reference,
        segmentation_iou,
        _segmentation_iou_examples,
        "slots.segmentation_iou {label}",
        min_vs_reference=4.0,
        note="reference: metrics.iou + scipy per image",
    ),
    Twin(
        "spatial_entropy.connected_components",
        connected_components_reference,
        connected_components,
        _components_examples,
        "connected components {label}",
        min_vs_reference=10.0,
        min_vs_peer=3.0,
        note="mean-thresholded random scores; one scipy.ndimage.label call on the stack (a 3-D structure that "
        "keeps maps apart). Issue 14 asked ≥ 10× the loop: scipy's own labelling of the stack costs about 1/5 "
        "of the loop, the rest is per-call overhead, so no scipy call gets there",
        agree=_exact,
        fast_only=("max_iterations", "backend"),
    ),
    Twin(
        "spatial_entropy.spatial_entropy",
        spatial_entropy_reference,
        spatial_entropy,
        _entropy_examples,
        "spatial entropy {label}",
        min_vs_reference=1.5,
        note="reference on 1/8 of the maps",
    ),
)


def twin(name: str) -> Twin:
    """The twin called ``name`` (e.g. ``"metrics.adjusted_rand_index"``)."""
    for t in TWINS:
        if t.name == name:
            return t
    raise ValueError(f"no twin {name!r}; known: {[t.name for t in TWINS]}")


def bench_cases(name: str, quick: bool) -> list:
    """The benchmark rows of twin ``name``, one per example of size ``"quick"`` or ``"full"``."""
    from .bench import Case  # the bench imports this module

    t = twin(name)
    cases = []
    for ex in t.examples("quick" if quick else "full"):
        ref_args = ex.args if ex.reference_args is None else ex.reference_args
        cases.append(
            Case(
                t.title.format(label=ex.label),
                fast=lambda ex=ex: t.fast(*ex.args, **ex.kwargs),
                reference=lambda ex=ex, ref_args=ref_args: t.reference(*ref_args, **ex.kwargs),
                peer=ex.peer,
                peer_name=ex.peer_name,
                note="; ".join(part for part in (t.note, ex.note) if part),
                min_vs_reference=t.min_vs_reference,
                min_vs_peer=t.min_vs_peer if ex.peer is not None else None,
                twin=t.name,
            )
        )
    return cases


def placed() -> set[str]:
    """The twins that some ``oaedu.<subpackage>.bench`` module places among its rows (its ``TWINS``)."""
    import importlib

    names: set[str] = set()
    for package in sorted({t.package for t in TWINS}):
        try:
            module = importlib.import_module(f"oaedu.{package}.bench")
        except ModuleNotFoundError as err:
            if err.name != f"oaedu.{package}.bench":
                raise
            continue
        names.update(getattr(module, "TWINS", ()))
    return names


def cases(quick: bool) -> list:
    """The benchmark rows of every twin that no bench module places (read by :func:`oaedu.bench.discover`)."""
    done = placed()
    return [case for t in TWINS if t.name not in done for case in bench_cases(t.name, quick)]
