"""Bad input gets a clear error, never a silent wrong number: a probe of the whole public API.

Every public callable (the ``__all__`` of each subpackage, and the public functions and classes of the top-level
modules) needs an entry in ``EXAMPLES``: one valid call on tiny data. The generic probe then replaces one argument
at a time with a common bad input and asks for a ``ValueError``/``TypeError`` (or the documented failure) whose
message names that argument, or, where the replacement can be valid, a result without NaN or inf:

* float tensors: a NaN, an inf (must fail), a list instead of the tensor (must fail), a dimension dropped or added,
  an empty batch (fail clearly or return an honest result);
* other tensors: a list (must fail), a dimension dropped or added, an empty batch;
* float arguments: NaN and a string (must fail), inf; integer arguments: 1.5 (must fail), -1;
* tuples of numbers: a NaN inside (must fail), a zero inside, one element missing; choice strings: an unknown name.

A new public function fails ``test_every_public_callable_is_probed`` until it has an example (or a reason to be
exempt), so it is probed without anyone remembering to. Hypothesis property tests at the end check invariants
where a whole space of inputs matters (label ids, NaN in checks, min–max, batching, accuracy).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from oaedu import check, validate  # noqa: E402

SUBPACKAGES = (
    "data",
    "maps",
    "metrics",
    "models",
    "oamixer",
    "spatial_entropy",
    "contrastive",
    "contracam",
    "relevance",
    "slots",
)
MODULES = (
    "check",
    "config",
    "utils",
    "validate",
    "stats",
    "train",
    "leaderboard",
    "reproduce",
    "plotting",
    "notebook",
    "student",
    "exercises",
    "bench",
    "tables",
    "timing",
    "results",
)
NAN, INF = float("nan"), float("inf")
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def public_callables() -> dict[str, Callable]:
    """``{"pkg.name": obj}`` for every callable in a subpackage's ``__all__`` and every public function or class
    defined in a top-level module."""
    out = {}
    for pkg in SUBPACKAGES:
        mod = importlib.import_module(f"oaedu.{pkg}")
        out.update({f"{pkg}.{n}": getattr(mod, n) for n in mod.__all__ if callable(getattr(mod, n))})
    for name in MODULES:
        mod = importlib.import_module(f"oaedu.{name}")
        for n, obj in vars(mod).items():
            if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)):
                if obj.__module__ == mod.__name__:
                    out[f"{name}.{n}"] = obj
    return out


def _slot_softmax(phi: torch.Tensor) -> torch.Tensor:
    """A right answer to the exercise the probe grades."""
    return phi.softmax(dim=1)


# ------------------------------------------------------------------------------------------------ fixtures
@functools.cache
def fx() -> SimpleNamespace:
    from oaedu import contracam as cc
    from oaedu import contrastive as cl
    from oaedu import data as D
    from oaedu import maps, models, slots
    from oaedu import relevance as rv

    torch.manual_seed(0)
    f = SimpleNamespace()
    f.bc = D.background_challenge("original", 8, seed=0)
    f.images, f.labels, f.masks = f.bc.images, f.bc.labels, f.bc.masks
    f.scenes = D.multi_object_scenes(4, seed=0, image_size=32, max_objects=3)
    f.inst = f.scenes.instance_masks
    f.suite = D.background_challenge_suite(2, seed=1)
    f.marker = rv.marker_dataset("train", 4)
    f.mvit = rv.marker_vit().eval()  # relevance maps read the model without changing it
    f.vit = lambda: models.tiny_vit(depth=1, embed_dim=16, num_heads=2)
    f.mixer = lambda: models.tiny_mixer(depth=1, embed_dim=16)
    f.convmixer = lambda: models.tiny_convmixer(depth=1, embed_dim=16)
    f.encoder = lambda: cl.SmallEncoder(widths=(8, 8, 8))
    f.moco = lambda: cl.MoCo(encoder=cl.SmallEncoder(widths=(8, 8, 8)), proj_dim=8, queue_size=16).eval()
    f.objenc = lambda: slots.ObjectEncoder(num_slots=3, embed_dim=16, depth=1, num_heads=2, cross_heads=2).eval()
    f.classifier = lambda: torch.nn.Sequential(
        cl.SmallEncoder(widths=(8, 8, 8)), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 9)
    ).eval()
    f.logits = torch.randn(8, 9)
    f.cams = maps.minmax(torch.rand(8, 32, 32), dims=2)
    f.backgrounds = cc.background_only(f.images, f.cams)
    f.qkv = [torch.randn(2, 2, 5, 4) for _ in range(3)]
    f.mask5 = torch.exp(-torch.rand(2, 5, 5))
    f.patch_labels = torch.rand(2, 64, 1)
    f.slots = torch.randn(4, 3, 8)
    f.perm = slots.match_slots(f.slots, f.slots.flip(1))
    f.attn = torch.rand(4, 3, 4, 4).softmax(1)
    f.seg = slots.otsu_masks(f.attn, (32, 32))
    f.bool_maps = torch.rand(4, 6, 6) > 0.5
    f.rel = torch.rand(4, 16)
    return f


# ------------------------------------------------------------------------------------------------ examples
@dataclass
class Call:
    """One valid call, with the mutations that are valid input for some arguments and other names that a message
    may use for an argument."""

    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    valid: dict[str, set[str]] = field(default_factory=dict)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    name_of: Callable | None = None  # the callable whose signature names the arguments (default: fn)

    def bound(self) -> inspect.BoundArguments:
        sig = inspect.signature(self.name_of or self.fn)
        return sig.bind(*self.args, **self.kwargs)


def C(fn, *args, valid=None, aliases=None, name_of=None, **kwargs) -> Call:
    return Call(fn, args, kwargs, valid or {}, aliases or {}, name_of)


def _D():
    from oaedu import data

    return data


def _m(name):
    return importlib.import_module(f"oaedu.{name}")


def _fake_imagenet9(root: Path) -> Path:
    import numpy as np
    from PIL import Image

    for variant in ("original",):
        folder = root / variant / "val" / "00_dog"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a.png")
    return root


def _fake_clevr(root: Path) -> Path:
    import numpy as np
    from PIL import Image

    for sub in ("images", "masks"):
        (root / "train" / sub).mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "train" / "images" / "a.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "train" / "masks" / "a.png")
    return root


def _ax():
    return plt.subplots()[1]


def _examples(tmp: Path) -> dict[str, Callable[[SimpleNamespace], Call]]:
    from oaedu import check as ck
    from oaedu import config, exercises, leaderboard, notebook, plotting, reproduce, stats, tables, train, utils
    from oaedu import contracam as cc
    from oaedu import contrastive as cl
    from oaedu import maps as mp
    from oaedu import metrics as mt
    from oaedu import models as md
    from oaedu import oamixer as oa
    from oaedu import relevance as rv
    from oaedu import slots as sl
    from oaedu import spatial_entropy as se
    from oaedu import student as stu
    from oaedu.timing import check_size, clock, generator, time_fn, time_together

    D = _D()
    ranks = {"drop_dim", "add_dim"}
    view_names = {
        "p0": ("projections of view 0",),
        "p1": ("projections of view 1",),
        "s0": ("slots of view 0",),
        "s1": ("slots of view 1",),
        "z0": ("projections of view 0",),
        "z1": ("projections of view 1",),
        "x0": ("slots of view 0",),
        "x1": ("slots of view 1",),
    }
    table = {"smoke": {"a": 1.5, "seed": 0}, "cpu": {"a": 2.5, "seed": 0}, "gpu": {"a": 3.5, "seed": 0}}
    entry = leaderboard.Entry({m: 50.0 for m in leaderboard.METRICS}, 1.0)

    def ledger_run(margin: float) -> dict:  # one base of reproduce.pass_rates: one threshold check
        return {"passed": True, "checks": [{"name": "acc", "kind": "greater", "margin": margin, "passed": True}]}

    acc = {v: 50.0 for v in (*D.VARIANTS, "bg_gap")}
    nb = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["solution"]}}]}
    return {
        # check: the documented failure is CheckFailed, and a list or a number is a valid 'tensor'
        "check.true": lambda f: C(ck.true, "c", True, quiet=True),
        "check.close": lambda f: C(
            ck.close, "c", torch.ones(3), torch.ones(3), quiet=True, valid={"actual": {"list"}, "expected": {"list"}}
        ),
        "check.shape": lambda f: C(
            ck.shape, "s", torch.zeros(2, 3), (2, None), quiet=True, valid={"tensor": {"nan", "inf"}}
        ),
        "check.greater": lambda f: C(ck.greater, "g", 2.0, 1.0, quiet=True),
        "check.less": lambda f: C(ck.less, "l", 1.0, 2.0, quiet=True),
        "check.between": lambda f: C(ck.between, "b", 0.5, 0.0, 1.0, quiet=True, valid={"high": {"+inf"}}),
        "check.ratio_at_least": lambda f: C(ck.ratio_at_least, "r", 8.0, 2.0, 2.0, quiet=True),
        "check.finite": lambda f: C(ck.finite, "f", torch.zeros(3), quiet=True, valid={"tensor": {"list"}}),
        "check.effect": lambda f: C(ck.effect, "e", [1.0, 1.2, 0.9], [0.0, 0.1, 0.0], quiet=True),
        "stats.mean_std": lambda f: C(stats.mean_std, [1.0, 2.0]),
        "stats.effect": lambda f: C(stats.effect, [1.0, 2.0], [0.5, 1.0]),
        "config.default_profile": lambda f: C(config.default_profile),
        "config.get_profile": lambda f: C(config.get_profile, "cpu"),
        "config.Config": lambda f: C(config.Config, "cpu", {"a": 1}),
        "config.select": lambda f: C(config.select, table, "cpu"),
        "utils.get_device": lambda f: C(utils.get_device, "cpu"),
        "utils.parse_device": lambda f: C(utils.parse_device, "cpu"),
        "utils.seed_everything": lambda f: C(utils.seed_everything, 3),
        "utils.default_threads": lambda f: C(utils.default_threads),
        "utils.set_threads": lambda f: C(utils.set_threads, torch.get_num_threads()),
        "utils.env_report": lambda f: C(utils.env_report),
        "utils.map_batches": lambda f: C(utils.map_batches, torch.nn.Linear(32, 2), f.images, 3, "cpu"),
        # data
        "data.background_challenge": lambda f: C(
            D.background_challenge, "mixed_rand", 4, seed=1, bg_correlation=0.5, fg_hue_jitter=0.05
        ),
        "data.background_challenge_suite": lambda f: C(D.background_challenge_suite, 2, bg_correlation=0.5),
        "data.background_challenge_data": lambda f: C(
            D.background_challenge_data, 4, 2, bg_correlation=0.5, profile="cpu"
        ),
        "data.multi_object_scenes": lambda f: C(
            D.multi_object_scenes, 2, image_size=32, max_objects=3, min_visible=0.3, cooccurrence=0.5
        ),
        "data.MaskedImageDataset": lambda f: C(
            D.MaskedImageDataset, f.images, f.labels, f.masks, aliases=_shared("images", "labels", "masks")
        ),
        "data.SceneDataset": lambda f: C(
            D.SceneDataset, f.scenes.images, f.inst, aliases=_shared("images", "instance_masks")
        ),
        "data.iterate_batches": lambda f: C(
            lambda *a, **k: list(D.iterate_batches(*a, **k)), (f.images, f.labels), 3, name_of=D.iterate_batches
        ),
        "data.take": lambda f: C(D.take, f.bc, [0, 2]),
        "data.first_of_each_class": lambda f: C(D.first_of_each_class, torch.arange(4), 3),
        "data.data_root": lambda f: C(D.data_root),
        "data.ImageNet9": lambda f: C(D.ImageNet9, _fake_imagenet9(tmp / "in9"), image_size=8),
        "data.CLEVRWithMasks": lambda f: C(D.CLEVRWithMasks, _fake_clevr(tmp / "clevr"), image_size=8),
        "data.paired_resize": lambda f: C(
            D.paired_resize, f.images, f.masks, 16, valid={"images": ranks}, aliases={"masks": ("images",)}
        ),
        "data.paired_hflip": lambda f: C(
            D.paired_hflip, f.images, f.masks, p=0.5, valid={"images": ranks}, aliases={"masks": ("images",)}
        ),
        "data.paired_random_resized_crop": lambda f: C(
            D.paired_random_resized_crop,
            f.images,
            f.masks,
            16,
            scale=(0.5, 1.0),
            ratio=(0.75, 1.33),
            valid={"images": ranks},
            aliases={"masks": ("images",)},
        ),
        "data.crop_boxes": lambda f: C(
            D.crop_boxes,
            f.images,
            f.masks,
            torch.tensor([[0.1, 0.1, 0.9, 0.9]] * 8),
            16,
            valid={"images": ranks, "boxes": {"drop_dim"}},
            aliases={"masks": ("images",)},
        ),
        "data.patch_fractions": lambda f: C(D.patch_fractions, f.masks, (4, 4)),
        # metrics
        "metrics.accuracy": lambda f: C(
            mt.accuracy, f.logits, f.labels, aliases={"logits": ("labels",), "labels": ("logits",)}
        ),
        "metrics.bg_gap": lambda f: C(mt.bg_gap, 80.0, 50.0),
        "metrics.linear_probe": lambda f: C(
            mt.linear_probe,
            torch.randn(12, 3, 4),
            torch.arange(12) % 3,
            False,
            4,
            steps=3,
            weight_decay=1e-3,
            aliases=_shared("features", "targets"),
        ),
        "metrics.LinearProbe": lambda f: C(
            mt.LinearProbe, torch.zeros(4), torch.ones(4), torch.nn.Linear(4, 3), aliases=_shared("mean", "std")
        ),
        "metrics.iou": lambda f: C(
            mt.iou,
            f.masks,
            f.masks.flip(-1),
            empty=1.0,
            aliases={"pred": ("target",), "target": ("pred",)},
            valid={"pred": set()},
        ),
        "metrics.mass_on_object": lambda f: C(
            mt.mass_on_object, torch.rand(8, 4, 4), f.masks, aliases={"masks": ("maps",), "maps": ("masks",)}
        ),
        "metrics.adjusted_rand_index": lambda f: C(
            mt.adjusted_rand_index,
            f.inst.flatten(1),
            f.inst.flatten(1).flip(1),
            valid={"true": ranks, "pred": ranks},
            aliases={"true": ("pred",), "pred": ("true",)},
        ),
        "metrics.adjusted_rand_index_reference": lambda f: C(
            mt.adjusted_rand_index_reference,
            f.inst.flatten(1)[:, :64],
            f.inst.flatten(1)[:, :64].flip(1),
            valid={"true": ranks, "pred": ranks},
            aliases={"true": ("pred",), "pred": ("true",)},
        ),
        # models
        "models.build_model": lambda f: C(md.build_model, "mixer", depth=1, embed_dim=16),
        "models.tiny_vit": lambda f: C(
            md.tiny_vit, depth=1, embed_dim=16, num_heads=2, mlp_ratio=2.0, valid={"num_classes": {"negative"}}
        ),
        "models.tiny_mixer": lambda f: C(md.tiny_mixer, depth=1, embed_dim=16),
        "models.tiny_convmixer": lambda f: C(md.tiny_convmixer, depth=1, embed_dim=16, kernel_size=3),
        "models.count_parameters": lambda f: C(md.count_parameters, f.vit()),
        "models.mlp": lambda f: C(md.mlp, 8, 16, 4, activation="gelu", batch_norm=False, bias_out=False),
        "models.patch_grid": lambda f: C(md.patch_grid, f.vit()),
        "models.num_prefix_tokens": lambda f: C(md.num_prefix_tokens, f.vit()),
        "models.attention_modules": lambda f: C(md.attention_modules, f.vit()),
        "models.capture_attention": lambda f: C(_capture, f.vit()),
        "models.AttentionRecord": lambda f: C(_record, f.vit(), -1),
        # oamixer
        "oamixer.attention": lambda f: C(
            oa.attention,
            *f.qkv,
            log_mask=f.mask5.log(),
            dropout_p=0.0,
            valid={n: {"empty"} for n in "qkv"},
            aliases=_shared("q", "k", "v", "mask"),
        ),
        "oamixer.attention_reference": lambda f: C(
            oa.attention_reference,
            *f.qkv,
            f.mask5,
            valid={n: {"empty"} for n in "qkv"},
            aliases=_shared("q", "k", "v", "mask"),
        ),
        "oamixer.pairwise_distance": lambda f: C(oa.pairwise_distance, f.patch_labels, valid={"labels": {"empty"}}),
        "oamixer.reweight_mask": lambda f: C(oa.reweight_mask, f.patch_labels, 1.5, valid={"labels": {"empty"}}),
        "oamixer.check_labels": lambda f: C(oa.check_labels, f.patch_labels, valid={"labels": {"empty"}}),
        "oamixer.local_distance": lambda f: C(
            oa.local_distance, torch.rand(2, 1, 4, 4), 3, valid={"label_map": {"empty"}}
        ),
        "oamixer.conv_toeplitz": lambda f: C(
            oa.conv_toeplitz, torch.randn(3, 3), 4, 4, aliases={"weight": ("kernel",)}
        ),
        "oamixer.conv_mixing": lambda f: C(
            oa.conv_mixing,
            torch.randn(2, 3, 4, 4),
            torch.randn(3, 3),
            0.5,
            log_mask=-oa.local_distance(torch.rand(2, 1, 4, 4), 3),
            aliases={"weight": ("kernel",), "x": ("log_mask",), "log_mask": ("x",)},
        ),
        "oamixer.conv_mixing_reference": lambda f: C(
            oa.conv_mixing_reference,
            torch.randn(2, 3, 4, 4),
            torch.randn(3, 3),
            0.5,
            mask=torch.exp(-torch.rand(2, 9, 16)),
            aliases={"weight": ("kernel",), "x": ("mask",), "mask": ("x",)},
        ),
        "oamixer.mixer_linearisation": lambda f: C(
            oa.mixer_linearisation,
            torch.randn(8, 16),
            torch.randn(16, 8),
            aliases={"fc1_weight": ("W1",), "fc2_weight": ("W1",)},
        ),
        "oamixer.mixer_mixing": lambda f: C(
            oa.mixer_mixing,
            torch.randn(2, 3, 16),
            torch.randn(2, 3, 16),
            torch.randn(16, 16),
            torch.exp(-torch.rand(2, 16, 16)),
            aliases={"x": ("f_x", "mask", "mixing matrix"), "lin": ("x", "mixing matrix")},
        ),
        "oamixer.mixer_mixing_reference": lambda f: C(
            oa.mixer_mixing_reference,
            torch.randn(2, 3, 16),
            torch.randn(2, 3, 16),
            torch.randn(16, 16),
            torch.exp(-torch.rand(2, 16, 16)),
            aliases={"x": ("f_x", "mask", "mixing matrix"), "lin": ("x", "mixing matrix")},
        ),
        "oamixer.GTLabeller": lambda f: C(
            lambda grid: oa.GTLabeller(grid)(f.images, f.masks), (8, 8), name_of=oa.GTLabeller
        ),
        "oamixer.UniformLabeller": lambda f: C(
            lambda grid: oa.UniformLabeller(grid)(f.images, f.masks), (8, 8), name_of=oa.UniformLabeller
        ),
        "oamixer.DenseCNN": lambda f: C(
            lambda num_classes, width: oa.DenseCNN(num_classes, width).relabel(f.images[:2], (8, 8), temperature=0.5),
            9,
            4,
            name_of=oa.DenseCNN,
        ),
        "oamixer.CamLabeller": lambda f: C(
            lambda cnn, grid, mode: oa.CamLabeller(cnn, grid, mode)(f.images[:2], None),
            oa.DenseCNN(9, 4),
            (8, 8),
            "relabel",
            name_of=oa.CamLabeller,
        ),
        "oamixer.label_separation": lambda f: C(
            oa.label_separation, torch.rand(8, 64, 1), f.masks, (8, 8), aliases={"masks": ("labels",)}
        ),
        "oamixer.RotatedLabeller": lambda f: C(
            lambda labeller, grid: oa.RotatedLabeller(labeller, grid)(f.images, f.masks),
            oa.GTLabeller((8, 8)),
            (8, 8),
            name_of=oa.RotatedLabeller,
        ),
        "oamixer.OAMixerModel": lambda f: C(
            lambda model, distance, kappa_scale: oa.OAMixerModel(model, distance, kappa_scale)(
                f.images[:2], f.patch_labels
            ),
            f.vit(),
            "l1",
            2.0,
            name_of=oa.OAMixerModel,
        ),
        "oamixer.oamixer": lambda f: C(oa.oamixer, f.convmixer(), "cosine", kappa_scale=2.0),
        "oamixer.SharedKernelConv": lambda f: C(
            oa.SharedKernelConv, 3, torch.randn(3, 3), torch.zeros(1), valid={"bias": ranks | {"list"}}
        ),
        "oamixer.share_convmixer_kernels": lambda f: C(oa.share_convmixer_kernels, f.convmixer()),
        "oamixer.oamixer_forward": lambda f: C(oa.oamixer_forward, oa.GTLabeller((8, 8))),
        "oamixer.oamixer_step": lambda f: C(oa.oamixer_step, oa.GTLabeller((8, 8)), label_smoothing=0.1),
        # maps
        "maps.minmax": lambda f: C(
            mp.minmax, torch.rand(2, 4, 4), dims=2, eps=1e-9, valid={"maps": {"add_dim", "empty"}}
        ),
        "maps.connected_components": lambda f: C(
            mp.connected_components, f.bool_maps, max_iterations=40, valid={"mask": ranks}
        ),
        "maps.connected_components_reference": lambda f: C(
            mp.connected_components_reference, f.bool_maps, valid={"mask": ranks}
        ),
        "maps.num_components": lambda f: C(mp.num_components, torch.randint(0, 3, (4, 6, 6)), valid={"labels": ranks}),
        # spatial entropy
        "spatial_entropy.connected_components": lambda f: C(
            se.connected_components, f.bool_maps, max_iterations=40, valid={"mask": ranks}
        ),
        "spatial_entropy.connected_components_reference": lambda f: C(
            se.connected_components_reference, f.bool_maps, valid={"mask": ranks}
        ),
        "spatial_entropy.num_components": lambda f: C(
            se.num_components, torch.randint(0, 3, (4, 6, 6)), valid={"labels": ranks}
        ),
        "spatial_entropy.spatial_entropy": lambda f: C(
            se.spatial_entropy, torch.randn(2, 3, 5, 5), valid={"scores": ranks}
        ),
        "spatial_entropy.spatial_entropy_reference": lambda f: C(
            se.spatial_entropy_reference, torch.randn(2, 5, 5), valid={"scores": ranks}
        ),
        "spatial_entropy.spatial_entropy_and_blobs": lambda f: C(
            se.spatial_entropy_and_blobs, torch.randn(2, 3, 5, 5), valid={"scores": ranks}
        ),
        "spatial_entropy.max_entropy": lambda f: C(se.max_entropy, 3),
        "spatial_entropy.spatial_entropy_loss": lambda f: C(se.spatial_entropy_loss, f.vit(), f.images[:2]),
        "spatial_entropy.remove_last_skip": lambda f: C(se.remove_last_skip, f.vit()),
        "spatial_entropy.sar_step": lambda f: C(se.sar_step, 0.1, label_smoothing=0.1),
        # contrastive
        "contrastive.SmallEncoder": lambda f: C(
            cl.SmallEncoder,
            (4, 4),
            (1, 2),
            valid={"widths": {"short"}, "strides": {"short"}},
            aliases={"widths": ("strides",), "strides": ("widths",)},
        ),
        "contrastive.MoCo": lambda f: C(cl.MoCo, cl.SmallEncoder((4, 4, 4)), 8, 16, momentum=0.9, tau=0.2),
        "contrastive.BYOL": lambda f: C(cl.BYOL, cl.SmallEncoder((4, 4, 4)), 8, momentum=0.9),
        "contrastive.augment": lambda f: C(
            cl.augment,
            f.images,
            torch.Generator().manual_seed(0),
            scale=(0.3, 1.0),
            jitter=0.4,
            p_jitter=0.8,
            p_gray=0.2,
        ),
        "contrastive.info_nce": lambda f: C(
            cl.info_nce, *_unit(4, 8), _unit(6, 8)[0], 0.2, aliases={"q": ("k",), "k": ("q",)}
        ),
        "contrastive.TwoViewData": lambda f: C(
            lambda images: next(cl.TwoViewData(images).batches(2, generator=torch.Generator().manual_seed(0)))[0],
            torch.rand(4, 3, 16, 16),
        ),
        "contrastive.two_view_step": lambda f: C(
            lambda images: cl.two_view_step()(f.moco(), images, None, None).loss, torch.rand(4, 2, 3, 16, 16)
        ),
        "contrastive.train_contrastive": lambda f: C(
            cl.train_contrastive,
            f.moco(),
            f.images,
            1,
            batch_size=4,
            lr=0.01,
            weight_decay=1e-4,
            seed=0,
            progress=False,
        ),
        "contrastive.save_online": lambda f: C(cl.save_online, f.moco(), tmp / "ckpt.pt"),
        "contrastive.load_online": lambda f: C(
            lambda path: cl.load_online(path, f.moco()), _saved(f, tmp), name_of=cl.load_online
        ),
        "contrastive.extract_features": lambda f: C(
            cl.extract_features, f.encoder(), f.images, batch_size=3, valid={"images": {"empty"}}
        ),
        "contrastive.FrozenClassifier": lambda f: C(
            cl.FrozenClassifier, f.encoder(), mt.LinearProbe(torch.zeros(8), torch.ones(8), torch.nn.Linear(8, 9))
        ),
        "contrastive.probe_encoder": lambda f: C(cl.probe_encoder, f.encoder(), f.bc, weight_decay=1e-3, steps=3),
        "contrastive.probe_background_challenge": lambda f: C(
            cl.probe_background_challenge, f.encoder(), f.bc, f.suite
        ),
        # contracam
        "contracam.centre_prior": lambda f: C(cc.centre_prior, 2, (5, 5), sigma=0.3, valid={"n": set()}),
        "contracam.contracam": lambda f: C(cc.contracam, (m := f.moco()), m.encoder.layer, f.images, tau=0.5),
        "contracam.contracam_reference": lambda f: C(
            cc.contracam_reference, (m := f.moco()), m.encoder.layer, f.images[:3], tau=0.5
        ),
        "contracam.iterative_contracam": lambda f: C(
            cc.iterative_contracam, (m := f.moco()), m.encoder.layer, f.images, iterations=2, tau=0.5
        ),
        "contracam.iterative_contracam_history": lambda f: C(
            cc.iterative_contracam_history, (m := f.moco()), m.encoder.layer, f.images, iterations=2, tau=0.5
        ),
        "contracam.dataset_contracam": lambda f: C(cc.dataset_contracam, f.moco(), f.images, batch_size=4),
        "contracam.gradcam": lambda f: C(
            cc.gradcam, (m := f.classifier()), m[0].layer, f.images, f.labels, valid={"targets": {"list"}}
        ),
        "contracam.gradcam_reference": lambda f: C(
            cc.gradcam_reference,
            (m := f.classifier()),
            m[0].layer,
            f.images[:2],
            f.labels[:2],
            valid={"targets": {"list"}},
        ),
        "contracam.ContrastiveScore": lambda f: C(
            lambda encoder, tau: cc.ContrastiveScore(encoder, tau)(f.images[:4], _unit(4, 8)[0]),
            f.moco(),
            0.5,
            name_of=cc.ContrastiveScore,
        ),
        "contracam.boxes_from_cam": lambda f: C(
            cc.boxes_from_cam, f.cams, threshold=0.5, min_area=0.01, margin=0.2, valid={"cam": {"drop_dim"}}
        ),
        "contracam.object_aware_crop": lambda f: C(
            cc.object_aware_crop, f.images[:2], [torch.tensor([[0.1, 0.1, 0.6, 0.6]]), torch.zeros(0, 4)], 16
        ),
        "contracam.largest_empty_rectangle": lambda f: C(
            cc.largest_empty_rectangle, f.bool_maps, valid={"mask": {"drop_dim", "empty"}}
        ),
        "contracam.largest_empty_rectangle_reference": lambda f: C(
            cc.largest_empty_rectangle_reference, f.bool_maps, valid={"mask": {"drop_dim", "empty"}}
        ),
        "contracam.background_only": lambda f: C(
            cc.background_only,
            f.images,
            f.cams,
            threshold=0.3,
            min_area=0.05,
            aliases={"cams": ("images",), "images": ("cams",)},
        ),
        "contracam.background_mixup": lambda f: C(
            cc.background_mixup, f.images, f.cams, f.images.flip(0), aliases=_shared("images", "cams", "backgrounds")
        ),
        "contracam.mix_batch": lambda f: C(
            cc.mix_batch, f.images, f.cams, p=0.5, threshold=0.3, aliases=_shared("images", "cams")
        ),
        "contracam.oa_crop_prepare": lambda f: C(
            cc.oa_crop_prepare, [torch.tensor([[0.1, 0.1, 0.6, 0.7]]), torch.zeros(0, 4)]
        ),
        "contracam.mixup_prepare": lambda f: C(
            cc.mixup_prepare, f.cams, f.backgrounds, p=0.5, aliases={"cams": ("backgrounds",)}
        ),
        "contracam.localisation_scores": lambda f: C(
            cc.localisation_scores,
            torch.rand(4, 32, 32),
            f.inst,
            threshold=0.5,
            aliases=_shared("cams", "instance_masks"),
        ),
        "contracam.instance_boxes": lambda f: C(
            cc.instance_boxes, f.inst, margin=0.2, valid={"instance_masks": {"empty"}}
        ),
        "contracam.cooccurrence_distance": lambda f: C(
            cc.cooccurrence_distance, torch.rand(3, 4), torch.rand(5, 4), aliases=_shared("fx", "fy")
        ),
        # relevance
        "relevance.marker_dataset": lambda f: C(rv.marker_dataset, "conflict", 4, seed=1, p=0.9),
        "relevance.marker_patches": lambda f: C(rv.marker_patches, f.marker),
        "relevance.marker_vit": lambda f: C(rv.marker_vit),
        "relevance.relevance_losses": lambda f: C(
            rv.relevance_losses,
            f.rel,
            torch.rand(4, 16),
            lambda_bg=2.0,
            lambda_fg=0.3,
            valid={"relevance": {"add_dim"}},
            aliases=_shared("relevance", "fg_mask"),
        ),
        "relevance.relevance_at": lambda f: C(
            rv.relevance_at, f.rel.view(4, 4, 4), f.masks[:4], "patch", aliases=_shared("relevance", "masks")
        ),
        "relevance.robustvit_step": lambda f: C(rv.robustvit_step, 0.8, 0.2, 2.0, 0.3),
        "relevance.relevance_map": lambda f: C(
            rv.relevance_map, f.mvit, f.marker.images[:2], f.marker.labels[:2], valid={"target": {"list"}}
        ),
        "relevance.relevance_map_reference": lambda f: C(
            rv.relevance_map_reference, f.mvit, f.marker.images[:2], f.marker.labels[:2], valid={"target": {"list"}}
        ),
        "relevance.normalized_cut_mask": lambda f: C(
            rv.normalized_cut_mask, torch.randn(2, 2, 3, 4), tau=0.2, eps=1e-5, valid={"features": {"empty"}}
        ),
        "relevance.tokencut_masks": lambda f: C(rv.tokencut_masks, f.vit(), torch.rand(2, 3, 32, 32), size=(16, 16)),
        # slots
        "slots.SlotAttention": lambda f: C(
            lambda *a: sl.SlotAttention(*a)(torch.randn(2, 16, 8)),
            8,
            3,
            2,
            1e-8,
            name_of=sl.SlotAttention,
            aliases={"dim": ("tokens",)},
        ),
        "slots.CrossAttentionDecoder": lambda f: C(
            lambda dim, num_slots, layers, num_heads, mlp_ratio: sl.CrossAttentionDecoder(
                dim, num_slots, layers, num_heads, mlp_ratio
            )(torch.randn(2, 16, 8)),
            8,
            3,
            1,
            2,
            2.0,
            name_of=sl.CrossAttentionDecoder,
            aliases={"dim": ("tokens", "num_heads"), "num_heads": ("dim",)},
        ),
        "slots.ObjectEncoder": lambda f: C(
            lambda *a, **kw: sl.ObjectEncoder(*a, **kw)(f.images[:2]),
            name_of=sl.ObjectEncoder,
            attention="cross",
            num_slots=3,
            embed_dim=16,
            depth=1,
            num_heads=2,
            cross_layers=1,
            cross_heads=2,
            aliases={
                "embed_dim": ("num_heads", "dim"),
                "num_heads": ("embed_dim",),
                "cross_heads": ("num_heads",),
                "cross_layers": ("layers",),
                "image_size": ("images",),
            },
        ),
        "slots.hungarian_match": lambda f: C(sl.hungarian_match, torch.rand(3, 4, 4), valid={"cost": {"empty"}}),
        "slots.hungarian_match_reference": lambda f: C(
            sl.hungarian_match_reference, torch.rand(3, 4, 4), valid={"cost": {"empty"}}
        ),
        "slots.simclr_loss": lambda f: C(
            sl.simclr_loss, torch.randn(4, 8), torch.randn(4, 8), tau=0.1, aliases=_shared("z0", "z1", more=view_names)
        ),
        "slots.simclr_loss_reference": lambda f: C(
            sl.simclr_loss_reference,
            torch.randn(3, 8),
            torch.randn(3, 8),
            tau=0.1,
            aliases=_shared("z0", "z1", more=view_names),
        ),
        "slots.identity_pairing": lambda f: C(
            sl.identity_pairing, f.slots, f.slots.flip(1), aliases=_shared("x0", "x1", more=view_names)
        ),
        "slots.shuffle_slots": lambda f: C(
            sl.shuffle_slots, f.objenc()(f.images[:2]), torch.Generator().manual_seed(0)
        ),
        "slots.match_slots": lambda f: C(
            sl.match_slots, f.slots, f.slots.flip(1), aliases=_shared("x0", "x1", more=view_names)
        ),
        **{
            f"slots.{n}": functools.partial(_ctr_example, getattr(sl, n), view_names)
            for n in (
                "ctr_all_loss",
                "ctr_img_loss",
                "ctr_all_loss_reference",
                "ctr_img_loss_reference",
                "object_contrastive_loss_reference",
            )
        },
        **{
            f"slots.{n}": functools.partial(_cossim_example, getattr(sl, n), view_names)
            for n in ("cossim_loss", "cossim_loss_reference")
        },
        "slots.object_loss": lambda f: C(
            sl.object_loss,
            "cossim",
            f.slots,
            f.slots.flip(1),
            f.slots * 2,
            f.slots.flip(1) * 2,
            tau=0.1,
            aliases=_shared("p0", "p1", "s0", "s1", more=view_names),
        ),
        "slots.otsu_threshold": lambda f: C(sl.otsu_threshold, torch.rand(3, 16), valid={"maps": ranks | {"empty"}}),
        "slots.otsu_threshold_reference": lambda f: C(
            sl.otsu_threshold_reference, torch.rand(3, 16), valid={"maps": ranks | {"empty"}}
        ),
        "slots.otsu_masks": lambda f: C(sl.otsu_masks, f.attn, (32, 32), valid={"attn": {"empty"}}),
        "slots.segmentation_iou": lambda f: C(sl.segmentation_iou, f.seg, f.inst, aliases=_shared("masks", "instance")),
        "slots.segmentation_iou_reference": lambda f: C(
            sl.segmentation_iou_reference, f.seg, f.inst, aliases=_shared("masks", "instance")
        ),
        "slots.slot_partition": lambda f: C(sl.slot_partition, f.attn, (32, 32), valid={"attn": {"empty"}}),
        "slots.fg_ari": lambda f: C(
            sl.fg_ari, f.attn, f.inst, valid={"attn": {"empty"}}, aliases=_shared("attn", "instance")
        ),
        "slots.auroc": lambda f: C(
            sl.auroc, torch.randn(20, 3), torch.rand(20, 3) > 0.5, aliases=_shared("scores", "labels")
        ),
        "slots.presence_targets": lambda f: C(sl.presence_targets, f.scenes.attributes, "colour", 4),
        "slots.slot_probe_scores": lambda f: C(
            sl.slot_probe_scores,
            torch.randn(12, 3, 4),
            torch.arange(12) % 3,
            torch.randn(5, 3, 4),
            False,
            steps=3,
            weight_decay=1e-3,
            valid={"test": {"empty"}},
            aliases=_shared("train", "test", "y_train"),
        ),
        "slots.as_training_data": lambda f: C(sl.as_training_data, f.scenes),
        "slots.encode": lambda f: C(sl.encode, f.objenc(), f.images[:3], batch_size=2),
        "slots.ssl_losses": lambda f: C(
            sl.ssl_losses,
            f.objenc(),
            f.images[:2],
            f.images[:2].flip(-1),
            "ctrall",
            tau=0.1,
            aliases=_shared("view0", "view1"),
        ),
        "slots.ssl_step": lambda f: C(sl.ssl_step, "cossim", 1.0, 0.5, tau=0.1, scale=(0.3, 1.0), seed=1),
        "slots.two_views": lambda f: C(
            sl.two_views,
            f.images,
            f.masks,
            scale=(0.3, 1.0),
            brightness=0.1,
            generator=torch.Generator().manual_seed(0),
            valid={"images": ranks},
            aliases={"masks": ("images",)},
        ),
        # training, leaderboard, reproduce
        "train.plain_forward": lambda f: C(
            train.plain_forward,
            f.vit(),
            f.images[:2],
            f.masks[:2],
            valid={"masks": {"list", "drop_dim", "add_dim", "empty"}},
        ),
        "train.cross_entropy_step": lambda f: C(train.cross_entropy_step, 0.1),
        "train.parameter_groups": lambda f: C(train.parameter_groups, f.vit(), 0.05),
        "train.fit": lambda f: C(
            train.fit,
            f.vit(),
            f.bc.subset(slice(0, 4)),
            1,
            batch_size=4,
            lr=1e-3,
            weight_decay=0.05,
            seed=0,
            device="cpu",
            progress=False,
        ),
        "train.predict": lambda f: C(train.predict, f.vit(), f.bc, batch_size=3),
        "train.evaluate": lambda f: C(train.evaluate, f.vit(), f.bc),
        "train.evaluate_background_challenge": lambda f: C(
            train.evaluate_background_challenge, f.vit(), n=2, seed=2, image_size=32, num_classes=9
        ),
        "leaderboard.Budget": lambda f: C(leaderboard.Budget, n_train=10, n_val=5, lr=1e-3, bg_correlation=0.5),
        "leaderboard.summarise": lambda f: C(leaderboard.summarise, {"baseline": [entry, entry], "SAR": [entry]}),
        "leaderboard.format_leaderboard": lambda f: C(
            leaderboard.format_leaderboard, leaderboard.summarise({"baseline": [entry]})
        ),
        "reproduce.available": lambda f: C(reproduce.available),
        "reproduce.flatten": lambda f: C(reproduce.flatten, {"a": {"b": 1.5}, "c": "x"}),
        "reproduce.summarise": lambda f: C(reproduce.summarise, [{"a": 1.5}, {"a": 2.5}]),
        "reproduce.format_pass_rates": lambda f: C(
            reproduce.format_pass_rates, {"toy": {0: {"passed": True, "error": "", "results": {"a": 1.0}}}}
        ),
        "reproduce.claims": lambda f: C(reproduce.claims, {"toy": {0: ledger_run(1.0), 100: ledger_run(3.0)}}),
        "reproduce.format_claims": lambda f: C(reproduce.format_claims, {"toy": {0: ledger_run(1.0)}}),
        "reproduce.format_summary": lambda f: C(
            reproduce.format_summary,
            {"toy": {"profile": "cpu", "seeds": [0], "seconds": 1.0, "summary": {"a": {"mean": 1.0, "std": 0.0}}}},
        ),
        # plotting, notebook, student, bench
        "plotting.use_style": lambda f: C(plotting.use_style),
        "plotting.course_map": lambda f: C(plotting.course_map),
        "plotting.show_images": lambda f: C(
            plotting.show_images,
            f.images[:3],
            f.masks[:3],
            ["a", "b", "c"],
            ncols=2,
            size=1.0,
            valid={"images": {"drop_dim", "nan", "inf"}},
            aliases=_shared("images", "masks", "titles"),
        ),
        "plotting.overlay": lambda f: C(
            plotting.overlay,
            _ax(),
            f.images[0],
            torch.rand(4, 4),
            alpha=0.4,
            valid={"image": {"drop_dim", "nan", "inf"}, "heatmap": {"nan", "inf"}},
        ),
        "plotting.show_heatmaps": lambda f: C(
            plotting.show_heatmaps,
            f.images[:2],
            torch.rand(2, 4, 4),
            ncols=2,
            valid={"images": {"drop_dim", "nan", "inf"}, "heatmaps": {"nan", "inf"}},
            aliases=_shared("images", "heatmaps"),
        ),
        "plotting.heatmap": lambda f: C(
            plotting.heatmap, _ax(), torch.rand(4, 4), f.masks[0], valid={"heatmap": {"nan", "inf"}}
        ),
        "plotting.show_maps": lambda f: C(
            plotting.show_maps,
            f.images[:2],
            f.masks[:2],
            {"r": torch.rand(2, 4, 4)},
            size=1.0,
            aliases=_shared("images", "masks"),
            valid={"images": {"drop_dim", "nan", "inf"}},
        ),
        "plotting.format_table": lambda f: C(plotting.format_table, {"a": {"x": 1.5, "y": 2.5}}, ["x"], digits=2),
        "tables.text_table": lambda f: C(
            tables.text_table,
            {"a": ["1.5", "2.5"], "bb": ["3", "4"]},
            (5, 6),
            header=["x", "y"],
            label_width=4,
            sep=" | ",
            indent="  ",
        ),
        "plotting.plot_background_challenge": lambda f: C(plotting.plot_background_challenge, {"vit": acc}),
        "plotting.show_slot_maps": lambda f: C(
            plotting.show_slot_maps, {"a": (f.images[0], f.masks[0], torch.rand(3, 4, 4))}
        ),
        "plotting.plot_changes": lambda f: C(plotting.plot_changes, {"Δ": {"vit": [1.0, 2.0, 3.0], "mixer": [0.5]}}),
        "plotting.plot_sweep": lambda f: C(
            plotting.plot_sweep, {0.0: [{"a": 1.0}, {"a": 2.0}], 0.1: [{"a": 1.5}]}, ["a"]
        ),
        "plotting.plot_maps": lambda f: C(
            plotting.plot_maps,
            {"S": torch.rand(4, 4), "B": torch.rand(4, 4)},
            vmin=0.0,
            vmax=1.0,
            size=1.0,
            xlabel="j",
            ylabel="i",
        ),
        "plotting.plot_bars": lambda f: C(
            plotting.plot_bars,
            {"a": 1.0, "b": 1.5},
            {"a": 0.1, "b": 0.2},
            title="t",
            label="ratio",
            reference=1.0,
            colors=["C0", "C1"],
            size=(3.0, 2.0),
        ),
        "plotting.plot_curves": lambda f: C(
            plotting.plot_curves,
            {"p": {"a": [1.0, 2.0], "b": [2.0, 1.0]}},
            x=[1, 2],
            references={"p": 1.5},
            markers=True,
            size=(2.0, 2.0),
        ),
        "notebook.colab_url": lambda f: C(notebook.colab_url, "02_oamixer.ipynb"),
        "notebook.binder_url": lambda f: C(notebook.binder_url, "02_oamixer.ipynb"),
        "notebook.badges": lambda f: C(notebook.badges, "02_oamixer.ipynb"),
        "notebook.setup": lambda f: C(notebook.setup, 3, threads=torch.get_num_threads(), verbose=False),
        "notebook.show_source": lambda f: C(notebook.show_source, notebook.badges),
        "notebook.doc_url": lambda f: C(notebook.doc_url, "docs/deviations.md"),
        "notebook.sync_links": lambda f: C(notebook.sync_links, "see [deviations](../docs/deviations.md)"),
        "exercises.check": lambda f: C(exercises.check, "slot_softmax", _slot_softmax),
        "exercises.problems": lambda f: C(exercises.problems, "slot_softmax", _slot_softmax),
        "exercises.use": lambda f: C(exercises.use, "slot_softmax", _slot_softmax),
        "student.fingerprint": lambda f: C(stu.fingerprint, nb),
        "student.recorded_fingerprint": lambda f: C(stu.recorded_fingerprint, nb),
        "student.is_untouched_copy": lambda f: C(stu.is_untouched_copy, nb),
        "notebook.colab_cell": lambda f: C(notebook.colab_cell),
        "notebook.repository": lambda f: C(notebook.repository),
        "notebook.find_notebooks": lambda f: C(notebook.find_notebooks, NOTEBOOKS),
        "notebook.read_notebook": lambda f: C(notebook.read_notebook, NOTEBOOKS / "02_oamixer.ipynb"),
        "notebook.write_notebook": lambda f: C(
            notebook.write_notebook, notebook.read_notebook(NOTEBOOKS / "00_start_here.ipynb"), tmp / "copy.ipynb"
        ),
        "notebook.stored_in_git": lambda f: C(notebook.stored_in_git, NOTEBOOKS / "00_start_here.ipynb"),
        "notebook.sync_header": lambda f: C(
            notebook.sync_header, notebook.read_notebook(NOTEBOOKS / "00_start_here.ipynb"), "00_start_here.ipynb"
        ),
        "reproduce.plan": lambda f: C(reproduce.plan, "oamixer", "smoke", 2, NOTEBOOKS),
        "timing.time_fn": lambda f: C(time_fn, lambda: None, repeats=2, warmup=1, budget_s=1.0),
        "timing.time_together": lambda f: C(
            time_together, [lambda: None, lambda: None], repeats=2, warmup=1, budget_s=1.0
        ),
        "timing.clock": lambda f: C(clock),
        "timing.check_size": lambda f: C(check_size, "test"),
        "timing.generator": lambda f: C(generator, 3),
        "oamixer.conv_mixing_method": lambda f: C(oa.conv_mixing_method, 64, 3),
        "leaderboard.effects": lambda f: C(
            leaderboard.effects, {"OAMixer": [entry] * 3, "baseline": [entry] * 3}, "mixed_rand"
        ),
        "leaderboard.format_effects": lambda f: C(
            leaderboard.format_effects,
            (r := {"OAMixer": [entry] * 3, "baseline": [entry] * 3}),
            leaderboard.summarise(r),
            k=2.0,
            min_seeds=3,
        ),
    }


# Public callables the generic probe does not call, and why.
EXEMPT = {
    "check.CheckFailed": "an exception class",
    "train.History": "a record of losses; fit fills it",
    "train.StepOutput": "a record; every step returns it and fit checks it (test_models_train.py)",
    "train.StepFn": "a typing Protocol, not called",
    "train.TrainingData": "a typing Protocol, not called",
    "leaderboard.Entry": "a record; summarise checks entries",
    "leaderboard.run": "trains six methods; its argument checks: test_leaderboard_run_rejects_bad_requests",
    "reproduce.reproduce": "executes notebooks; its argument checks are tested in test_reproduce.py",
    "reproduce.pass_rates": "executes notebooks; its argument checks are tested in test_reproduce.py",
    "stats.Effect": "a record; stats.effect builds it",
    "slots.ObjectOutput": "a NamedTuple of outputs",
    "slots.SlotQueries": "the base class of SlotAttention and CrossAttentionDecoder, probed through them",
    "spatial_entropy.EntropyAndBlobs": "a NamedTuple of outputs",
    "student.build": "walks the notebooks folder (no numeric argument); tested in test_student.py",
    "student.generate": "runs nbgrader on a folder of notebooks (no numeric argument); tested in test_student.py",
    "student.nbgrader": "runs nbgrader's command line in a course folder; tested in test_grading.py",
    "exercises.Exercise": "a record of one exercise; EXERCISES holds them, test_exercises.py runs each",
    "exercises.ExerciseFailed": "an exception class",
    "notebook.sync_headers": "rewrites (or compares) every notebook's header (no numeric argument); tested in "
    "test_notebooks.py",
    "timing.Case": "a record of zero-argument callables",
    "results.Runs": "a record of runs; its methods' checks are tested in test_results.py",
    "timing.Example": "a record of a twin's inputs",
    "timing.Twin": "a record of a reference/fast pair; tests/test_twins.py checks every one",
    "bench.Row": "a record of timings",
    "bench.check": "re-measures benchmark rows that miss their goal; tested in test_bench.py",
    "leaderboard.Choice": "a record of a knob search",
    "leaderboard.Leaderboard": "a record of entries and choices; run returns it",
    "bench.discover": "imports every bench module (no numeric argument)",
    "bench.run": "times every case; time_fn is probed",
    "bench.table": "formats Rows",
    "bench.main": "the command line; tested in test_bench.py",
    "validate.Kind": "a record declaring an argument kind; tests/test_input_kinds.py probes every declared kind",
    **{
        f"validate.{n}": "the validators themselves; property-tested below"
        for n, obj in vars(validate).items()
        if not n.startswith("_") and inspect.isfunction(obj) and obj.__module__ == validate.__name__
    },
}


def _ctr_example(fn, view_names, f):
    return C(fn, f.slots, f.slots.flip(1), f.perm, tau=0.1, aliases=_shared("p0", "p1", "perm", more=view_names))


def _cossim_example(fn, view_names, f):
    return C(
        fn,
        f.slots,
        f.slots.flip(1),
        f.slots * 2,
        f.slots.flip(1) * 2,
        f.perm,
        aliases=_shared("p0", "p1", "s0", "s1", "perm", more=view_names),
    )


def _shared(*names, more=None):
    """Each argument of a group may be named by any name of the group (an error about two arguments that disagree)."""
    out = {n: tuple(m for m in names if m != n) + tuple((more or {}).get(n, ())) for n in names}
    return out


def _unit(*shape):
    return (
        torch.nn.functional.normalize(torch.randn(*shape), dim=-1),
        torch.nn.functional.normalize(torch.randn(*shape), dim=-1),
    )


def _saved(f, tmp: Path) -> Path:
    from oaedu.contrastive import save_online

    path = tmp / "saved.pt"
    if not path.exists():
        save_online(f.moco(), path)
    return path


def _capture(model):
    from oaedu.models import capture_attention

    with capture_attention(model) as record:
        model(fx().images[:2])
    return record.probs[-1]


def _record(model, block):
    from oaedu.models import capture_attention

    with capture_attention(model) as record:
        model(fx().images[:2])
    return record.cls_scores(block), record.cls_attention(block)


# ------------------------------------------------------------------------------------------------ mutations
MUST_FAIL = {"nan", "inf", "list", "text", "float", "nan_in"}


def _mutations(value) -> dict[str, object]:
    if isinstance(value, torch.Tensor):
        out = {}
        if value.is_floating_point() and value.numel():
            for kind, bad in (("nan", NAN), ("inf", INF)):
                t = value.detach().clone()
                t.view(-1)[0] = bad
                out[kind] = t
        if value.numel() <= 4096:
            out["list"] = value.tolist()
        if value.ndim:
            out["drop_dim"] = value[0]
            out["empty"] = value[:0]
        out["add_dim"] = value[None]
        return out
    if isinstance(value, bool) or value is None:
        return {}
    if isinstance(value, float):
        return {"nan": NAN, "+inf": INF, "text": "0.5"}
    if isinstance(value, int):
        return {"float": 1.5, "negative": -1}
    if (
        isinstance(value, tuple)
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        out = {"short": value[:-1], "zero_in": (0, *value[1:])}
        if any(isinstance(v, float) for v in value):
            out["nan_in"] = (NAN, *value[1:])
        return out
    return {}


def _names(message: str, names) -> bool:
    return any(re.search(r"(?<![A-Za-z0-9_])" + re.escape(n) + r"(?![A-Za-z0-9_])", message, re.I) for n in names)


def _finite(x) -> bool:
    if isinstance(x, torch.Tensor):
        return not (x.is_floating_point() or x.is_complex()) or bool(torch.isfinite(x).all())
    if isinstance(x, float):
        return math.isfinite(x)
    if isinstance(x, (list, tuple)):
        return all(_finite(v) for v in x)
    if isinstance(x, dict):
        return all(_finite(v) for v in x.values())
    return True


def _judge(name: str, call: Call, arg: str, kind: str) -> str | None:
    """``None`` when the call behaves, else what went wrong."""
    documented = (ValueError, TypeError, FileNotFoundError, IndexError, KeyError)
    if name.startswith("check."):
        documented += (check.CheckFailed,)
    try:
        result = call.fn(*call.args, **call.kwargs)
    except documented as e:
        if _names(str(e), (arg, *call.aliases.get(arg, ()))):
            return None
        return f"{kind} {arg}: the {type(e).__name__} does not name {arg}: {e}"
    except Exception as e:  # noqa: BLE001
        return f"{kind} {arg}: {type(e).__name__} from inside: {e}"
    finally:
        plt.close("all")
    if kind in MUST_FAIL and kind not in call.valid.get(arg, set()):
        return f"{kind} {arg}: accepted silently"
    if not _finite(result):
        return f"{kind} {arg}: returned NaN or inf"
    return None


@functools.cache
def _example_table(tmp: str) -> dict:
    return _examples(Path(tmp))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return _example_table(str(tmp_path_factory.mktemp("probe")))


def test_every_public_callable_is_probed():
    names = set(public_callables())
    known = set(_examples(Path("/nonexistent"))) | set(EXEMPT)
    missing = sorted(names - known)
    assert not missing, f"add an example (a valid call) to EXAMPLES or a reason to EXEMPT for: {missing}"
    stale = sorted(n for n in set(_examples(Path("/nonexistent"))) | set(EXEMPT) if n not in names)
    assert not stale, f"EXAMPLES/EXEMPT name callables that are no longer public: {stale}"


@pytest.mark.parametrize("name", sorted(set(public_callables()) - set(EXEMPT)))
def test_bad_input_is_named_never_silent(name, examples):
    """The valid example returns finite values; each mutated argument fails clearly or gives an honest result."""
    make = examples[name]
    threads = torch.get_num_threads()
    try:
        base = make(fx())
        result = base.fn(*base.args, **base.kwargs)
        plt.close("all")
        assert _finite(result), f"{name}: the valid example returned NaN or inf"
        problems = []
        for arg, value in base.bound().arguments.items():
            for kind, bad in _mutations(value).items():
                call = make(fx())
                bound = call.bound()
                bound.arguments[arg] = bad
                call.args, call.kwargs = bound.args, bound.kwargs
                problem = _judge(name, call, arg, kind)
                if problem:
                    problems.append(problem)
    finally:
        torch.set_num_threads(threads)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------------------------------------ the issue's cases
def test_checks_fail_on_nan_and_inf_unless_told():
    for a, e in ((1.0, NAN), (INF, -INF), (INF, INF), (NAN, NAN)):
        with pytest.raises(check.CheckFailed):
            check.close("x", a, e, quiet=True)
    check.close("x", [1.0, INF, NAN], [1.0, INF, NAN], quiet=True, allow_nonfinite=True)
    with pytest.raises(check.CheckFailed):
        check.close("x", [INF], [-INF], quiet=True, allow_nonfinite=True)
    with pytest.raises(check.CheckFailed):
        check.greater("x", INF, 0.0, quiet=True)
    check.greater("x", INF, 0.0, quiet=True, allow_nonfinite=True)
    with pytest.raises(check.CheckFailed):
        check.greater("x", NAN, 0.0, quiet=True, allow_nonfinite=True)
    with pytest.raises(ValueError, match="factor"):
        check.ratio_at_least("x", 2.0, 1.0, NAN, quiet=True)


def test_metrics_do_not_score_nonsense():
    from oaedu.metrics import accuracy, adjusted_rand_index, adjusted_rand_index_reference

    with pytest.raises(ValueError, match="logits"):
        accuracy(torch.full((4, 3), NAN), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        accuracy(torch.randn(4, 3), torch.full((4,), 7))
    ids = torch.tensor([0, 1, 1, 1_000_000])
    assert adjusted_rand_index(ids, ids).item() == adjusted_rand_index_reference(ids, ids).item() == 1.0


def test_empty_collections_never_mean_default():
    from oaedu import leaderboard
    from oaedu.contrastive import SmallEncoder, probe_background_challenge
    from oaedu.train import evaluate_background_challenge

    f = fx()
    with pytest.raises(ValueError, match="suite"):
        evaluate_background_challenge(f.vit(), suite={})
    with pytest.raises(ValueError, match="suite"):
        probe_background_challenge(SmallEncoder((4, 4, 4)), f.bc, {})
    with pytest.raises(ValueError, match="methods"):
        leaderboard.run(leaderboard.Budget(), methods=[])


def test_leaderboard_run_rejects_bad_requests():
    from oaedu import leaderboard

    for kwargs, match in (
        ({"methods": "SAR"}, "methods"),
        ({"methods": ["ViT"]}, "unknown method"),
        ({"seeds": []}, "seeds"),
        ({"seeds": [0.5]}, "seeds"),
        ({"device": "gpu0"}, "device"),
    ):
        with pytest.raises((TypeError, ValueError), match=match):
            leaderboard.run(leaderboard.Budget(), **{"methods": ["SAR"], **kwargs})
    with pytest.raises(TypeError, match="budget"):
        leaderboard.run({"epochs": 1})


def test_iterate_batches_rejects_misaligned_tensors():
    from oaedu.data import iterate_batches

    with pytest.raises(ValueError, match="same length"):
        iterate_batches((torch.zeros(8, 2), torch.zeros(5)), 4)


def test_contracam_needs_a_positive_temperature_and_finite_images():
    from oaedu.contracam import contracam

    f = fx()
    m = f.moco()
    for tau in (0.0, -1.0, NAN, INF):
        with pytest.raises(ValueError, match="tau"):
            contracam(m, m.encoder.layer, f.images, tau=tau)
    bad = f.images.clone()
    bad[0, 0, 0, 0] = NAN
    with pytest.raises(ValueError, match="images"):
        contracam(m, m.encoder.layer, bad)


def test_slot_probe_accepts_features_that_carry_a_graph():
    """A real bug: features taken straight from a model's output made L-BFGS backward through a freed graph."""
    from oaedu.slots import slot_probe_scores

    w = torch.randn(4, 4, requires_grad=True)
    train, test = torch.randn(12, 3, 4) @ w, torch.randn(5, 3, 4) @ w
    scores = slot_probe_scores(train, torch.arange(12) % 3, test, multilabel=False, steps=5)
    assert scores.shape == (5, 3) and torch.isfinite(scores).all() and not scores.requires_grad


def test_siblings_agree_on_bad_input():
    from oaedu.maps import minmax
    from oaedu.oamixer import attention, attention_reference
    from oaedu.slots import CrossAttentionDecoder, SlotAttention

    maps = torch.rand(2, 4, 4)
    maps[0, 0, 0] = NAN
    for fn in (functools.partial(minmax, dims=2), minmax):
        with pytest.raises(ValueError, match="maps"):
            fn(maps)
    q, k, v = (torch.randn(2, 2, 5, 4) for _ in range(3))
    mask = torch.full((2, 5, 5), 2.0)
    for fn in (lambda: attention(q, k, v, mask=mask), lambda: attention_reference(q, k, v, mask)):
        with pytest.raises(ValueError, match="mask"):
            fn()
    for cls in (SlotAttention, CrossAttentionDecoder):
        with pytest.raises(ValueError, match="num_slots"):
            cls(8, 0)


def test_gradcam_checks_its_targets_like_relevance_map():
    from oaedu.contracam import gradcam
    from oaedu.relevance import marker_vit, relevance_map

    f = fx()
    m = f.classifier()
    with pytest.raises(ValueError, match="targets"):
        gradcam(m, m[0].layer, f.images, torch.full((8,), 20))
    with pytest.raises(ValueError, match="target"):
        relevance_map(marker_vit(), f.marker.images, torch.full((4,), 20))


# ------------------------------------------------------------------------------------------------ properties
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
small_ints = st.lists(st.integers(0, 5), min_size=1, max_size=30)


@PROPERTY
@given(small_ints, st.data())
def test_ari_ignores_label_names(labels, data):
    """ARI depends on the partition only: renaming ids (to huge ones too) changes nothing; fast = reference."""
    from oaedu.metrics import adjusted_rand_index, adjusted_rand_index_reference

    pred = data.draw(st.lists(st.integers(0, 5), min_size=len(labels), max_size=len(labels)))
    names = data.draw(st.lists(st.integers(0, 2**40), min_size=6, max_size=6, unique=True))
    t, p = torch.tensor(labels), torch.tensor(pred)
    renamed = torch.tensor([names[i] for i in pred])
    a = adjusted_rand_index(t, p)
    assert torch.isfinite(a)
    assert a.item() == pytest.approx(adjusted_rand_index(t, renamed).item(), abs=1e-12)
    assert a.item() == pytest.approx(adjusted_rand_index_reference(t, renamed).item(), abs=1e-12)


@PROPERTY
@given(st.lists(st.integers(0, 2**50), min_size=1, max_size=40))
def test_label_ids_keep_the_partition_and_the_background(ids):
    x = torch.tensor(ids)
    y = validate.label_ids(x, "ids")
    assert torch.equal(x[:, None] == x[None], y[:, None] == y[None])  # same partition
    assert torch.equal((x == 0), (y == 0)) or not (x == 0).any() and (y > 0).all()  # 0 stays the background
    assert torch.equal(torch.argsort(x, stable=True), torch.argsort(y, stable=True))  # order kept
    assert int(y.max()) <= len(set(ids))


finite_floats = st.floats(-1e6, 1e6, allow_nan=False)


@PROPERTY
@given(finite_floats, finite_floats, st.sampled_from([NAN, INF, -INF]))
def test_close_fails_on_any_nonfinite_value(a, e, odd):
    ok = abs(a - e) <= 1e-6 + 1e-5 * abs(e)
    if ok:
        check.close("x", a, e, quiet=True)
    else:
        with pytest.raises(check.CheckFailed):
            check.close("x", a, e, quiet=True)
    for pair in ((odd, e), (a, odd), ([a, odd], [a, e])):
        with pytest.raises(check.CheckFailed):
            check.close("x", *pair, quiet=True)


@PROPERTY
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=4, max_size=4))
def test_minmax_over_the_last_dims_and_over_a_batch_agree_and_stay_in_range(values):
    from oaedu.maps import minmax

    maps = torch.tensor(values, dtype=torch.float64).view(1, 2, 2)
    a, b = minmax(maps, dims=2), minmax(maps)  # ContraCAM's (..., h, w) maps and RobustViT's (B, ...) maps
    for out in (a, b):
        assert torch.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
    span = float(maps.max() - maps.min())
    assert torch.equal(a, b)  # one rule: a range at most eps (1e-12) is a constant map
    if span > 1e-9:
        torch.testing.assert_close(a, b)
    if span == 0:
        assert (a == 0).all() and (b == 0).all()


def test_minmax_of_a_constant_map_is_zeros_with_a_zero_gradient_in_every_dtype():
    from oaedu.maps import minmax

    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        for eps in (0.0, 1e-12):
            for dims in (None, 2):
                maps = torch.full((2, 3, 3), 3.0, dtype=dtype, requires_grad=True)
                out = minmax(maps, dims=dims, eps=eps)
                out.sum().backward()
                assert torch.equal(out, torch.zeros_like(out)), (dtype, eps, dims)
                assert torch.equal(maps.grad, torch.zeros_like(maps)), (dtype, eps, dims)


def test_minmax_sends_the_gradient_of_tied_extremes_to_one_entry():
    """RobustViT's loss backpropagates through min–max: ties at the minimum (zeros) are common, and the gradient
    of the minimum goes to one of them (torch.min), as it did before the min–max helpers were merged."""
    from oaedu.maps import minmax

    x = torch.tensor([[0.0, 0.0, 1.0, 2.0]], requires_grad=True)
    minmax(x).sum().backward()  # Σ (x − lo)/(hi − lo): 1/2 per entry, −5/4 to lo, −3/4 to hi
    assert sorted(x.grad[0, :2].tolist()) == [-0.75, 0.5] and x.grad[0, 2:].tolist() == [0.5, -0.25]


@PROPERTY
@given(st.integers(1, 20), st.integers(1, 7), st.booleans(), st.integers(0, 3))
def test_iterate_batches_covers_every_item_once(n, batch_size, shuffle, extra):
    from oaedu.data import iterate_batches

    a, b = torch.arange(n), torch.arange(n) * 10
    batches = list(iterate_batches((a, b), batch_size, shuffle, torch.Generator().manual_seed(0)))
    got_a, got_b = torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])
    assert torch.equal(got_a.sort().values, a) and torch.equal(got_b, got_a * 10)  # aligned, each item once
    if extra:
        with pytest.raises(ValueError, match="same length"):
            iterate_batches((a, torch.arange(n + extra)), batch_size)


@PROPERTY
@given(st.lists(st.integers(0, 4), min_size=1, max_size=12), st.data())
def test_accuracy_is_a_percentage_of_hits(labels, data):
    from oaedu.metrics import accuracy

    preds = data.draw(st.lists(st.integers(0, 4), min_size=len(labels), max_size=len(labels)))
    logits = torch.nn.functional.one_hot(torch.tensor(preds), 5).float()
    hits = sum(p == t for p, t in zip(preds, labels, strict=True))
    assert accuracy(logits, torch.tensor(labels)) == pytest.approx(100.0 * hits / len(labels))
    with pytest.raises(ValueError, match="labels"):
        accuracy(logits, torch.tensor(labels) + 5)


@PROPERTY
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-10, 10),
        st.text(max_size=3),
        st.booleans(),
        st.none(),
    )
)
def test_validators_accept_exactly_their_range(x):
    is_number = isinstance(x, (int, float)) and not isinstance(x, bool)
    ok = is_number and math.isfinite(x) and x > 0
    if ok:
        assert validate.positive(x, "tau") == float(x)
    else:
        with pytest.raises((TypeError, ValueError), match="tau"):
            validate.positive(x, "tau")
    ok = isinstance(x, int) and not isinstance(x, bool) and x >= 1
    if ok:
        assert validate.integer(x, "n", low=1) == x
    else:
        with pytest.raises((TypeError, ValueError), match="n"):
            validate.integer(x, "n", low=1)


def test_format_table_prints_nan_for_cells_that_do_not_apply():
    """Notebook 02 marks 'label quality' of the vanilla ViT as NaN (no labeller): a table cell, not a wrong number."""
    from oaedu.plotting import format_table

    assert "nan" in format_table({"vanilla": {"acc": 50.0, "label_quality": NAN}})
    with pytest.raises(TypeError, match="label_quality"):
        format_table({"vanilla": {"label_quality": "n/a"}})
