"""One recipe per notebook: what ``python -m oaedu train NAME`` trains and measures, profile by profile.

``smoke`` and ``cpu`` run the notebook's toy (synthetic data, tiny models); ``gpu`` runs the paper's own setting (its
architecture at 224 px, ImageNet-9 or CLEVR when present under ``$OAEDU_DATA``, else the synthetic stand-in at the
same resolution) sized for one T4-class GPU; ``paper`` is the paper's schedule (hours to days, multi-GPU). Every
recipe calls the package's own steps and measurements, the ones the notebook calls.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..contracam import contracam, dataset_contracam
from ..contracam.augment import background_only
from ..contracam.evaluate import localisation_scores
from ..contrastive import FrozenClassifier, MoCo, SmallEncoder, augment, two_view_step
from ..data import CLEVRWithMasks, MaskedImageDataset, background_challenge_data, data_root, multi_object_scenes, take
from ..data.transforms import paired_hflip, paired_random_resized_crop
from ..metrics import linear_probe
from ..models import patch_grid
from ..oamixer import CamLabeller, DenseCNN, UniformLabeller, oamixer, oamixer_step
from ..relevance import marker_dataset, marker_vit
from ..relevance.experiment import object_share
from ..relevance.losses import robustvit_step
from ..slots import ObjectEncoder
from ..slots.evaluate import fg_ari, otsu_masks, segmentation_iou
from ..slots.train import encode, one_view, ssl_views_step
from ..spatial_entropy import remove_last_skip, sar_step
from ..spatial_entropy.experiment import attention_report, fragment_scenes
from ..train import cross_entropy_step
from ..utils import seed_everything
from .data import (
    Augmented,
    BackgroundMixupViews,
    SceneItems,
    accuracy,
    limited,
    resize_maps,
    sharded_outputs,
    suite_accuracy,
)
from .models import TimmEncoder, build
from .run import Run

BC_CLASSES = 9


@dataclass(frozen=True)
class Recipe:
    """A notebook's experiment as a command: its settings per profile, what each profile matches in the paper, and
    ``run(Run) -> results``."""

    name: str
    notebook: str
    profiles: Mapping[str, Mapping[str, Any]]
    matches: Mapping[str, str]
    run: Callable[[Run], dict]


# ---------------------------------------------------------------------------------------------------------------
# Data shared by the recipes


def _crop_flip(scale: tuple[float, float] | None):
    """A per-image augmentation: a random resized crop with area share in ``scale`` (none for ``None``), then a
    paired flip (DeiT's crop and flip; the notebooks' toys flip only)."""

    def augment_one(image, mask, gen):
        if scale is not None:
            image, mask, _ = paired_random_resized_crop(
                image, mask, tuple(image.shape[-2:]), scale=scale, generator=gen
            )
        return paired_hflip(image, mask, generator=gen)

    return augment_one


def _background_challenge(run: Run, whole: bool = False) -> tuple[Augmented, dict[str, torch.utils.data.Dataset]]:
    """ImageNet-9 under ``gpu``/``paper`` when ``$OAEDU_DATA`` holds it, else the synthetic Background Challenge; the
    test sets cut to a dry run's size unless ``whole``."""
    cfg = run.cfg
    train, suite, source = background_challenge_data(
        run.size(cfg.n_train),
        run.size(cfg.n_test),
        seed=run.opts.seed,
        image_size=cfg.image_size,
        num_classes=BC_CLASSES,
        profile=run.data_profile,
    )
    run.data["background_challenge"] = source
    suite = suite if whole else {v: run.evaluation_set(d) for v, d in suite.items()}
    return Augmented(train, _crop_flip(cfg.crop_scale), run.opts.seed), suite


def _masked_subset(dataset: torch.utils.data.Dataset, indices) -> MaskedImageDataset:
    """Items of ``dataset`` in memory (for measurements that take a :class:`MaskedImageDataset`)."""
    images, labels, masks = take(dataset, list(indices))
    return MaskedImageDataset(images, labels, masks, num_classes=BC_CLASSES)


def _spread(dataset: torch.utils.data.Dataset, n: int) -> torch.utils.data.Dataset:
    """``n`` items evenly spaced over ``dataset`` (all of them if it has no more): every class of a folder sorted by
    class is represented in proportion, as in a random subset, and the choice does not depend on a seed."""
    if n >= len(dataset):
        return dataset
    return torch.utils.data.Subset(dataset, _spread_indices(len(dataset), n))


def _spread_indices(total: int, n: int) -> list[int]:
    """``min(n, total)`` indices evenly spaced over ``range(total)``."""
    if n >= total:
        return list(range(total))
    return torch.linspace(0, total - 1, n, device="cpu").round().long().tolist()


def _schedule(run: Run, **over):
    cfg = {**run.cfg, **over}
    return run.schedule(
        cfg["epochs"], cfg["global_batch"], cfg["lr"], weight_decay=cfg["weight_decay"], warmup=cfg["warmup"]
    )


def _classifier(run: Run, name: str, num_classes: int = BC_CLASSES, **kw) -> torch.nn.Module:
    cfg = run.cfg
    arch = dict(cfg.arch_kwargs) if name in ("vit", "mixer", "convmixer") else {}
    return build(name, num_classes, cfg.image_size, weights=run.weights, download=run.download, **arch, **kw)


def _plain(model):
    return lambda images, masks: model(images)


# ---------------------------------------------------------------------------------------------------------------
# 01 · Background bias (Xiao et al. 2021) and 07 · the leaderboard's baseline

_TINY = {"patch_size": 4, "embed_dim": 64, "depth": 4}
_IN9 = {"image_size": 224, "crop_scale": (0.08, 1.0), "arch_kwargs": {}, "n_train": 2000, "n_test": 200}


def background_bias(run: Run) -> dict:
    """Train each model of ``cfg.models`` with cross-entropy; accuracy on the eight variants and the BG-Gap."""
    train, suite = _background_challenge(run)
    results = {}
    for arch in run.cfg.models:
        seed_everything(run.opts.seed)
        model = _classifier(run, arch)
        run.stage(arch, model, train, cross_entropy_step(run.cfg.label_smoothing), _schedule(run))
        results[arch] = suite_accuracy(_plain(model), suite, run.ctx)
    return results


BACKGROUND_BIAS = Recipe(
    "background_bias",
    "01_background_bias.ipynb",
    {
        # the notebook's toy: 32 px synthetic images, the three tiny models
        "smoke": {
            "models": ["vit", "mixer", "convmixer"],
            "image_size": 32,
            "crop_scale": None,
            "arch_kwargs": _TINY,
            "n_train": 2000,
            "n_test": 400,
            "epochs": 3,
            "global_batch": 128,
            "lr": 2e-3,
            "weight_decay": 0.05,
            "warmup": 0.15,
            "label_smoothing": 0.0,
        },
        "cpu": {
            "models": ["vit", "mixer", "convmixer"],
            "image_size": 32,
            "crop_scale": None,
            "arch_kwargs": _TINY,
            "n_train": 6000,
            "n_test": 1000,
            "epochs": 8,
            "global_batch": 128,
            "lr": 2e-3,
            "weight_decay": 0.05,
            "warmup": 0.15,
            "label_smoothing": 0.0,
        },
        # DeiT-T from scratch on ImageNet-9 at 224 px, DeiT's recipe at batch 256 (lr 5e-4 × 256/512), 10 epochs
        "gpu": {
            **_IN9,
            "models": ["deit_tiny_patch16_224"],
            "epochs": 10,
            "global_batch": 256,
            "lr": 2.5e-4,
            "weight_decay": 0.05,
            "warmup": 0.05,
            "label_smoothing": 0.1,
        },
        # OAMixer's Table 1 baselines: DeiT-T/S, Mixer-S/16, ConvMixer-S/16, DeiT's 300 epochs at batch 256
        "paper": {
            **_IN9,
            "models": ["deit_tiny_patch16_224", "deit_small_patch16_224", "mixer_s16_224", "convmixer_s16"],
            "epochs": 300,
            "global_batch": 256,
            "lr": 2.5e-4,
            "weight_decay": 0.05,
            "warmup": 5 / 300,
            "label_smoothing": 0.1,
        },
    },  # fmt: skip
    {
        "smoke": "the notebook's toy (synthetic Background Challenge, 32 px, tiny ViT/Mixer/ConvMixer)",
        "cpu": "the notebook's toy, longer",
        "gpu": "ImageNet-9 with DeiT-T at 224 px (Xiao et al.'s test sets; OAMixer Tab. 1's baseline, 10 epochs)",
        "paper": "OAMixer Tab. 1's baselines: DeiT-T/S, Mixer-S/16, ConvMixer-S/16 on ImageNet-9, 300 epochs",
    },
    background_bias,
)


# ---------------------------------------------------------------------------------------------------------------
# 02 · OAMixer (Kang et al. 2022)


class SmallInputDenseCNN(DenseCNN):
    """The labeller's :class:`~oaedu.oamixer.DenseCNN` on images resized to ``size`` px: its class maps are pooled to
    the patch grid anyway (ReLabel, too, labels at its own resolution), so a 224 px image need not cost 224 px."""

    def __init__(self, num_classes: int, width: int, size: int) -> None:
        super().__init__(num_classes, width)
        self.size = size

    def class_map(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != self.size or images.shape[-2] != self.size:
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", antialias=True)
        return super().class_map(images)


def oamixer_run(run: Run) -> dict:
    """A ReLabel-style labeller (a dense CNN trained on the images' labels, OAMixer App. B), then the same OAMixer
    model trained with its patch labels and with uniform labels (the control: κ has nothing to act on, §3.1)."""
    cfg = run.cfg
    train, suite = _background_challenge(run)
    seed_everything(run.opts.seed)
    cnn = SmallInputDenseCNN(BC_CLASSES, cfg.labeller_width, cfg.labeller_size)
    run.stage("labeller", cnn, train, cross_entropy_step(), _schedule(run, epochs=cfg.labeller_epochs))
    cnn = run.stages["labeller"].model
    results = {}
    for arm in ("object", "uniform"):
        seed_everything(run.opts.seed)  # both arms start from the same weights
        model = oamixer(_classifier(run, cfg.model), cfg.distance, kappa_scale=cfg.kappa_scale)
        grid = patch_grid(model.model)
        labeller = CamLabeller(cnn.to(run.ctx.device), grid, "relabel") if arm == "object" else UniformLabeller(grid)
        run.stage(f"oamixer_{arm}", model, train, oamixer_step(labeller, cfg.label_smoothing), _schedule(run))
        results[arm] = suite_accuracy(lambda x, m, model=model, lab=labeller: model(x, lab(x, m)), suite, run.ctx)
    results["object_minus_uniform"] = {k: results["object"][k] - results["uniform"][k] for k in results["object"]}
    return results


_OAMIXER_TOY = {"models": None, "model": "vit", "image_size": 32, "crop_scale": None, "distance": "cosine",
                "arch_kwargs": {"patch_size": 4, "embed_dim": 32, "depth": 2}, "labeller_width": 32,
                "labeller_size": 32, "kappa_scale": 100.0, "global_batch": 128, "lr": 2e-3, "weight_decay": 0.05,
                "warmup": 0.15, "label_smoothing": 0.1}  # fmt: skip
OAMIXER = Recipe(
    "oamixer",
    "02_oamixer.ipynb",
    {
        "smoke": {**_OAMIXER_TOY, "n_train": 800, "n_test": 200, "epochs": 6, "labeller_epochs": 2},
        "cpu": {**_OAMIXER_TOY, "n_train": 2000, "n_test": 400, "epochs": 10, "labeller_epochs": 4},
        # DeiT-T at 224 px on ImageNet-9; κ's learning rate ×10 so that κ moves within 10 epochs (the release's
        # --mask-lr-scale); the labeller is a dense CNN trained 2 epochs on the same images at 112 px (ReLabel, App. B)
        "gpu": {
            **_IN9,
            "models": None,
            "model": "deit_tiny_patch16_224",
            "distance": "cosine",
            "labeller_width": 64,
            "labeller_size": 112,
            "labeller_epochs": 2,
            "kappa_scale": 10.0,
            "epochs": 10,
            "global_batch": 256,
            "lr": 2.5e-4,
            "weight_decay": 0.05,
            "warmup": 0.05,
            "label_smoothing": 0.1,
        },
        "paper": {
            **_IN9,
            "models": None,
            "model": "deit_tiny_patch16_224",
            "distance": "cosine",
            "labeller_width": 64,
            "labeller_size": 112,
            "labeller_epochs": 30,
            "kappa_scale": 1.0,
            "epochs": 300,
            "global_batch": 256,
            "lr": 2.5e-4,
            "weight_decay": 0.05,
            "warmup": 5 / 300,
            "label_smoothing": 0.1,
        },
    },  # fmt: skip
    {
        "smoke": "the notebook's toy (synthetic, tiny ViT), ReLabel-style labels against uniform labels",
        "cpu": "the notebook's toy, longer",
        "gpu": "OAMixer Tab. 1 (DeiT-T, ImageNet-9, ReLabel from a labeller trained on IN-9), 10 of 300 epochs",
        "paper": "OAMixer Tab. 1, DeiT-T row with a downstream-trained ReLabel labeller (Tab. 5), DeiT's 300 epochs",
    },
    oamixer_run,
)


# ---------------------------------------------------------------------------------------------------------------
# 03 · Spatial entropy (SAR, Peruzzo et al. 2022)


def spatial_entropy_run(run: Run) -> dict:
    """A ViT trained from scratch twice: Tab. 1b row A (skip kept, cross-entropy) and full SAR (no last skip, no LN,
    ``+ λ·L_SE``); accuracy and the §5.3 attention measurements (Jaccard of Tab. 6) on masked test images."""
    cfg = run.cfg
    if cfg.data == "fragments":
        n = run.size(cfg.per_class * BC_CLASSES)
        train = Augmented(fragment_scenes(n, run.opts.seed, cfg.image_size), _crop_flip(None), run.opts.seed)
        test = fragment_scenes(run.size(cfg.n_test), run.opts.seed + 1, cfg.image_size)
        run.data["fragments"] = "synthetic fragment scenes (the notebook's toy)"
    else:
        train, suite = _background_challenge(run)
        test = suite["original"]
    masked = _masked_subset(test, _spread_indices(len(test), cfg.n_attention))  # every class of a sorted folder
    results = {}
    for arm, entropy in (("A: skip kept", False), ("SAR", True)):
        seed_everything(run.opts.seed)
        model = _classifier(run, cfg.model)
        step = cross_entropy_step()
        if entropy:
            model = remove_last_skip(model)
            step = sar_step(cfg.lambda_entropy)
        run.stage("sar" if entropy else "baseline", model, train, step, _schedule(run))
        results[arm] = {"accuracy": accuracy(_plain(model), run.evaluation_set(test), run.ctx)}
        results[arm].update(attention_report(model, masked, batch_size=cfg.eval_batch))
    return results


_SAR_TOY = {"data": "fragments", "model": "vit", "image_size": 32, "crop_scale": None, "per_class": 30,
            "arch_kwargs": {"patch_size": 4, "embed_dim": 64, "depth": 2, "num_heads": 4},
            "global_batch": 32, "lr": 1e-3, "weight_decay": 0.05, "warmup": 0.15, "lambda_entropy": 0.05,
            "eval_batch": 256}  # fmt: skip
SPATIAL_ENTROPY = Recipe(
    "spatial_entropy",
    "03_spatial_entropy.ipynb",
    {
        "smoke": {**_SAR_TOY, "n_test": 300, "n_attention": 300, "epochs": 12},
        "cpu": {**_SAR_TOY, "n_test": 1000, "n_attention": 1000, "epochs": 30},
        # ViT-S/16 from scratch on a small dataset (ImageNet-9, SAR §5.2's regime), λ = 0.01 (Tab. 1a), DeiT's
        # optimiser at batch 256; Tab. 6's Jaccard on ImageNet-9's foreground masks
        "gpu": {
            **_IN9,
            "data": "imagenet9",
            "model": "deit_small_patch16_224",
            "per_class": 0,
            "n_attention": 500,
            "epochs": 5,
            "global_batch": 256,
            "lr": 2.5e-4,
            "weight_decay": 0.05,
            "warmup": 0.05,
            "lambda_entropy": 0.01,
            "eval_batch": 64,
        },
        # Tab. 1b's schedule: 100 epochs at batch 1024, lr 1e-3 (App. D.1)
        "paper": {
            **_IN9,
            "data": "imagenet9",
            "model": "deit_small_patch16_224",
            "per_class": 0,
            "n_attention": 1000,
            "epochs": 100,
            "global_batch": 1024,
            "lr": 1e-3,
            "weight_decay": 0.05,
            "warmup": 0.05,
            "lambda_entropy": 0.01,
            "eval_batch": 64,
        },
    },  # fmt: skip
    {
        "smoke": "the notebook's toy (fragment scenes, a 2-block ViT)",
        "cpu": "the notebook's toy, three times the epochs",
        "gpu": "SAR Tab. 1b rows A and F with ViT-S/16 from scratch at 224 px on ImageNet-9 (5 epochs), Tab. 6",
        "paper": "SAR Tab. 1b's setting (ViT-S/16, 100 epochs, batch 1024) on ImageNet-9 instead of IN-100",
    },
    spatial_entropy_run,
)


# ---------------------------------------------------------------------------------------------------------------
# 04 · ContraCAM (Mo et al. 2021)


def _moco(run: Run, name: str, views: torch.utils.data.Dataset) -> MoCo:
    """A MoCo-v2 (§3) built from the run's seed (every arm starts from the same weights) and trained on ``views``."""
    cfg = run.cfg
    seed_everything(run.opts.seed)
    encoder = TimmEncoder(cfg.encoder) if cfg.encoder != "small" else SmallEncoder()
    learner = MoCo(encoder, proj_dim=cfg.proj_dim, queue_size=cfg.queue, momentum=cfg.momentum, tau=0.2)
    schedule = run.schedule(cfg.epochs, cfg.global_batch, cfg.lr, weight_decay=cfg.weight_decay, optimizer="sgd",
                            warmup=0.0)  # fmt: skip
    return run.stage(
        name, learner, views, two_view_step(), schedule, after_step=lambda m: m.update_target()
    ).model.eval()


def _training_cams(run: Run, learner: MoCo, dataset: torch.utils.data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """ContraCAM (Eq. 2) of every training image, the other images of its batch as negatives, stored at
    ``cam_size`` px, and whether each map leaves a background to lend (:func:`background_only` of the stored map).
    Fixed during training, as in §3."""
    cfg, size = run.cfg, (run.cfg.cam_size, run.cfg.cam_size)

    def maps(images, masks):
        with torch.enable_grad():
            cams = contracam(learner, learner.encoder.layer, images)
        small = F.interpolate(cams[:, None], size=size, mode="area")[:, 0]
        _, valid = background_only(images, resize_maps(small, tuple(images.shape[-2:])), cfg.mixup_threshold)
        return torch.cat([small.flatten(1), valid[:, None].to(small)], 1)

    out, _ = sharded_outputs(maps, dataset, run.ctx, batch_size=max(2, cfg.eval_batch), min_batch=2)
    return out[:, :-1].reshape(-1, *size), out[:, -1] > 0.5  # (N, s, s) maps, (N,) bool


def _probe_suite(run: Run, learner: MoCo, train: torch.utils.data.Dataset, suite) -> dict[str, float]:
    """A linear probe (:func:`oaedu.metrics.linear_probe`) on the frozen GAP features of ``train``, then the
    probed encoder's accuracy on every variant and its BG-Gap, as notebook 04 scores its MoCo arms."""
    encoder, batch = learner.encoder, run.cfg.eval_batch
    feats, labels = sharded_outputs(lambda x, m: encoder(x).mean((2, 3)), train, run.ctx, batch_size=batch)
    probe = linear_probe(feats, labels, num_classes=BC_CLASSES, steps=100).to(run.ctx.device)  # probe_encoder's
    return suite_accuracy(_plain(FrozenClassifier(encoder, probe).eval()), suite, run.ctx, batch_size=batch)


def contracam_run(run: Run) -> dict:
    """MoCo-v2 (§3) trained on the training images, then ContraCAM (Eq. 2) scored against foreground masks; with
    ``bg_mixup``, a second MoCo from the same initial weights trained with BG-Mixup (Eq. 4) on the first one's
    ContraCAMs, and both probed on every Background Challenge variant (the BG-Gap that BG-Mixup should shrink)."""
    cfg = run.cfg
    train, suite = _background_challenge(run)
    crop = tuple(cfg.crop)
    views = Augmented(train.dataset, lambda x, m, g: (augment(x, g, scale=crop), m), run.opts.seed, 2)
    learner = _moco(run, "moco", views)
    test = suite["original"]
    masked = _masked_subset(test, range(len(test)))
    cams = dataset_contracam(learner, masked.images, batch_size=max(2, cfg.eval_batch))
    results = {"localisation": localisation_scores(cams, masked.masks.long())}
    if not cfg.bg_mixup:
        return results
    images = limited(train.dataset, run.size(len(train.dataset)))  # a dry run maps a few images, not all of IN-9
    train_cams, valid = _training_cams(run, learner, images)
    mixed = BackgroundMixupViews(
        images, train_cams, valid, lambda x, g: augment(x, g, scale=crop), cfg.mixup_p, cfg.mixup_threshold,
        run.opts.seed,
    )  # fmt: skip
    mixup = _moco(run, "moco_bg_mixup", mixed)
    probe_set = run.evaluation_set(_spread(train.dataset, cfg.probe_n))
    arms = {arm: _probe_suite(run, m, probe_set, suite) for arm, m in (("MoCo", learner), ("MoCo + BG-Mixup", mixup))}
    results["background_mixup"] = {
        **arms,
        "bg_gap_change": arms["MoCo + BG-Mixup"]["bg_gap"] - arms["MoCo"]["bg_gap"],
        "donor_share": 100.0 * valid.double().mean().item(),  # training images with a background to lend (%)
    }
    return results


CONTRACAM = Recipe(
    "contracam",
    "04_contracam.ipynb",
    {
        "smoke": {
            "encoder": "small",
            "image_size": 32,
            "crop_scale": None,
            "crop": (0.2, 1.0),
            "n_train": 512,
            "n_test": 128,
            "eval_batch": 128,
            "proj_dim": 64,
            "queue": 512,
            "momentum": 0.99,
            "epochs": 1,
            "global_batch": 128,
            "lr": 0.06,
            "weight_decay": 5e-4,
            "bg_mixup": True,
            "mixup_p": 0.4,
            "mixup_threshold": 0.2,
            "cam_size": 32,
            "probe_n": 512,
        },
        "cpu": {
            "encoder": "small",
            "image_size": 32,
            "crop_scale": None,
            "crop": (0.2, 1.0),
            "n_train": 1024,
            "n_test": 256,
            "eval_batch": 128,
            "proj_dim": 64,
            "queue": 512,
            "momentum": 0.99,
            "epochs": 8,
            "global_batch": 128,
            "lr": 0.06,
            "weight_decay": 5e-4,
            "bg_mixup": True,
            "mixup_p": 0.4,
            "mixup_threshold": 0.2,
            "cam_size": 32,
            "probe_n": 1024,
        },
        # MoCo-v2 with the paper's ResNet-18 at 224 px on ImageNet-9 (§3, App. B: SGD, lr 0.03, crops of 8–100 %
        # of the image, ContraCAM in batches of 64), 20 of its 800 epochs
        "gpu": {
            **_IN9,
            "encoder": "resnet18",
            "eval_batch": 64,
            "crop": (0.08, 1.0),
            "proj_dim": 128,
            "queue": 16384,
            "momentum": 0.999,
            "epochs": 20,
            "global_batch": 256,
            "lr": 0.03,
            "weight_decay": 1e-4,
            "bg_mixup": True,
            "mixup_p": 0.4,
            "mixup_threshold": 0.2,
            "cam_size": 56,
            "probe_n": 2000,
        },
        # the paper's Tab. 1 and Tab. 5 setting: ResNet-18, 800 epochs on ImageNet-9, queue 65,536
        "paper": {
            **_IN9,
            "encoder": "resnet18",
            "eval_batch": 64,
            "crop": (0.08, 1.0),
            "proj_dim": 128,
            "queue": 65536,
            "momentum": 0.999,
            "epochs": 800,
            "global_batch": 256,
            "lr": 0.03,
            "weight_decay": 1e-4,
            "bg_mixup": True,
            "mixup_p": 0.4,
            "mixup_threshold": 0.2,
            "cam_size": 56,
            "probe_n": 10000,
        },
    },  # fmt: skip
    {
        "smoke": "the notebook's live MoCo (synthetic 32 px, the small ResNet), ContraCAM mIoU on its masks, and MoCo "
        "with BG-Mixup on its ContraCAMs, both probed on the eight variants",
        "cpu": "the notebook's live MoCo and its BG-Mixup arm, longer",
        "gpu": "ContraCAM §3: MoCo-v2 ResNet-18 on ImageNet-9 at 224 px (20 of 800 epochs), mIoU on IN-9's masks "
        "(Tab. 1); MoCo + BG-Mixup (Eq. 4) on those ContraCAMs, linear probes on the eight variants (Tab. 5)",
        "paper": "ContraCAM Tab. 1 and Tab. 5: MoCo-v2 ResNet-18, 800 epochs on ImageNet-9, with and without BG-Mixup",
    },
    contracam_run,
)


# ---------------------------------------------------------------------------------------------------------------
# 05 · RobustViT (Chefer et al. 2022)


def robustvit_run(run: Run) -> dict:
    """Finetune a pretrained ViT with RobustViT's loss (Eq. 4–5) and with the confidence-only control on masked
    images; accuracy under shift and the share of relevance on the object, on held-out images."""
    cfg = run.cfg
    if cfg.data == "markers":
        from .. import checkpoints

        pretrained = marker_vit()
        pretrained.load_state_dict(torch.load(checkpoints.path("robustvit_marker_vit.pt"), weights_only=True))
        finetune_set = marker_dataset("train", run.size(cfg.n_finetune), seed=100 + run.opts.seed)
        tests = {s: run.evaluation_set(marker_dataset(s, cfg.n_test, run.opts.seed + 1)) for s in ("id", "conflict")}
        share_set = marker_dataset("id", run.size(cfg.n_test), run.opts.seed + 1)
        run.data["markers"] = "the marker toy and the shipped marker ViT (the notebook's)"
    else:
        train, suite = _background_challenge(run, whole=True)
        seed_everything(run.opts.seed)
        pretrained = _classifier(run, cfg.model, pretrained=True)
        # the new 9-class head (and the backbone, gently) first learn ImageNet-9, as the paper's models know ImageNet
        run.stage("head", pretrained, train, cross_entropy_step(), _schedule(run, epochs=cfg.head_epochs,
                                                                              lr=cfg.head_lr))  # fmt: skip
        original = suite["original"]
        even, odd = range(0, len(original), 2), range(1, len(original), 2)
        # foreground masks of half the test images: the stated stand-in for ImageNet-S; the other half tests
        finetune_set = _masked_subset(original, even[: run.size(len(even))])
        tests = {v: run.evaluation_set(torch.utils.data.Subset(d, odd)) for v, d in suite.items()}
        share_set = _masked_subset(original, odd[: run.size(len(odd))])
    results = {}
    for arm, lambda_rel in (("robustvit", 0.8), ("confidence only", 0.0)):
        seed_everything(run.opts.seed)
        model = copy.deepcopy(pretrained)
        schedule = _schedule(run, epochs=cfg.finetune_epochs, global_batch=cfg.finetune_batch, lr=cfg.finetune_lr)
        run.stage(arm.replace(" ", "_"), model, finetune_set, robustvit_step(lambda_rel=lambda_rel), schedule)
        results[arm] = {k: accuracy(_plain(model), d, run.ctx) for k, d in tests.items()}
        results[arm]["object_share"] = object_share(model, share_set, n=min(len(share_set), cfg.n_share))
    return results


ROBUSTVIT = Recipe(
    "robustvit",
    "05_robustvit.ipynb",
    {
        "smoke": {
            "data": "markers",
            "n_finetune": 64,
            "n_test": 400,
            "n_share": 256,
            "finetune_epochs": 12,
            "finetune_batch": 16,
            "finetune_lr": 3e-4,
            "weight_decay": 1e-4,
            "warmup": 0.0,
            "epochs": 1,
            "global_batch": 16,
            "lr": 3e-4,
        },
        "cpu": {
            "data": "markers",
            "n_finetune": 128,
            "n_test": 1000,
            "n_share": 256,
            "finetune_epochs": 25,
            "finetune_batch": 16,
            "finetune_lr": 3e-4,
            "weight_decay": 1e-4,
            "warmup": 0.0,
            "epochs": 1,
            "global_batch": 16,
            "lr": 3e-4,
        },
        # an ImageNet-pretrained DeiT-S/16 (timm) with a new 9-class head learnt on ImageNet-9 (1 epoch), then
        # RobustViT's finetuning on masked images: batch 8, DeiT-S's lr 1e-6 ×10 for 10 of the paper's 50 epochs
        "gpu": {
            **_IN9,
            "data": "imagenet9",
            "model": "deit_small_patch16_224",
            "head_epochs": 1,
            "head_lr": 1e-4,
            "epochs": 1,
            "global_batch": 128,
            "lr": 1e-4,
            "weight_decay": 1e-4,
            "warmup": 0.05,
            "finetune_epochs": 10,
            "finetune_batch": 8,
            "finetune_lr": 1e-5,
            "n_share": 500,
        },
        # the paper's ViT-B/16 (augreg, ImageNet-1k), 50 epochs at batch 8, lr 3e-6 (§4, code)
        "paper": {
            **_IN9,
            "data": "imagenet9",
            "model": "vit_base_patch16_224",
            "head_epochs": 3,
            "head_lr": 1e-4,
            "epochs": 1,
            "global_batch": 128,
            "lr": 1e-4,
            "weight_decay": 1e-4,
            "warmup": 0.05,
            "finetune_epochs": 50,
            "finetune_batch": 8,
            "finetune_lr": 3e-6,
            "n_share": 1000,
        },
    },  # fmt: skip
    {
        "smoke": "the notebook's marker toy: the shipped marker ViT finetuned on 64 masked images",
        "cpu": "the notebook's marker toy, 128 images, 25 epochs",
        "gpu": "RobustViT §4 with a pretrained DeiT-S/16 on ImageNet-9's foreground masks (stand-in for ImageNet-S), "
        "accuracy under background shift (IN-9 variants)",
        "paper": "RobustViT §4 with ViT-B/16, 50 epochs at batch 8, lr 3e-6, on ImageNet-9's masks",
    },
    robustvit_run,
)


# ---------------------------------------------------------------------------------------------------------------
# 06 · Object-centric SSL (Baldassarre & Azizpour 2022)


def object_centric_run(run: Run) -> dict:
    """The object encoder trained with the global loss alone and with the object loss added (§2.2), on two views per
    image; FG-ARI and the Otsu + Hungarian IoU (App. A.5) of its slot attention on held-out scenes."""
    cfg = run.cfg
    if cfg.data == "clevr" and (data_root() / "clevr").is_dir():
        root = data_root() / "clevr"
        train, test = CLEVRWithMasks(root, "train", cfg.image_size), CLEVRWithMasks(root, "val", cfg.image_size)
        run.data["scenes"] = f"CLEVR with masks from {root}"
    else:
        train = multi_object_scenes(run.size(cfg.n_train), run.opts.seed, cfg.image_size, cfg.max_objects)
        test = multi_object_scenes(run.size(cfg.n_test), run.opts.seed + 1, cfg.image_size, cfg.max_objects)
        run.data["scenes"] = "synthetic multi-object scenes"
    views = Augmented(SceneItems(train), lambda x, m, g: one_view(x, m, (0.3, 1.0), 0.1, g), run.opts.seed, 2)
    scored = SceneItems(run.evaluation_set(test))
    images, _, masks = take(scored, range(len(scored)))
    results = {}
    for arm, lambda_object in (("global only", 0.0), ("global + object", 1.0)):
        seed_everything(run.opts.seed)
        model = ObjectEncoder("slot", image_size=cfg.image_size, **cfg.encoder)
        step = ssl_views_step("ctrimg", 1.0, lambda_object, tau=0.1)
        run.stage(arm.replace(" ", "_").replace("+", "plus"), model, views, step,
                  run.schedule(cfg.epochs, cfg.global_batch, cfg.lr, weight_decay=1e-4, warmup=cfg.warmup))  # fmt: skip
        out = encode(model, images, batch_size=cfg.eval_batch)
        results[arm] = {
            "FG-ARI": 100 * fg_ari(out.attn, masks).mean().item(),
            "IoU": 100 * segmentation_iou(otsu_masks(out.attn, tuple(images.shape[-2:])), masks).mean().item(),
        }
    return results


_SLOTS_TOY = {"data": "synthetic", "image_size": 32, "max_objects": 4, "global_batch": 32, "lr": 2e-3,
              "warmup": 0.15, "eval_batch": 256,
              "encoder": {"num_slots": 5, "patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2}}  # fmt: skip
OBJECT_CENTRIC_SSL = Recipe(
    "object_centric_ssl",
    "06_object_centric_ssl.ipynb",
    {
        "smoke": {**_SLOTS_TOY, "n_train": 256, "n_test": 192, "epochs": 4},
        "cpu": {**_SLOTS_TOY, "n_train": 640, "n_test": 384, "epochs": 10},
        # CLEVR with masks at 128 px (the paper's size) with 8 px patches, the paper's backbone width 256, 11 slots;
        # the paper's learning rate and schedule shape, 10 epochs of batch 64 over 20,000 scenes
        "gpu": {
            "data": "clevr",
            "image_size": 128,
            "max_objects": 10,
            "n_train": 20000,
            "n_test": 1000,
            "epochs": 10,
            "global_batch": 64,
            "lr": 7e-4,
            "warmup": 0.2,
            "eval_batch": 64,
            "encoder": {"num_slots": 11, "patch_size": 8, "embed_dim": 256, "depth": 2, "num_heads": 4},
        },
        # App. A.4: 4 px patches (32×32 tokens), 70,000 training scenes, 10 epochs
        "paper": {
            "data": "clevr",
            "image_size": 128,
            "max_objects": 10,
            "n_train": 70000,
            "n_test": 15000,
            "epochs": 10,
            "global_batch": 64,
            "lr": 7e-4,
            "warmup": 0.2,
            "eval_batch": 64,
            "encoder": {"num_slots": 11, "patch_size": 4, "embed_dim": 256, "depth": 2, "num_heads": 4},
        },
    },  # fmt: skip
    {
        "smoke": "the notebook's toy (32 px synthetic scenes, a 2-block ViT, 5 slots)",
        "cpu": "the notebook's toy, longer",
        "gpu": "Paper 5 §3 on CLEVR with masks at 128 px (8 px patches, D = 256, 11 slots), 10 epochs",
        "paper": "Paper 5 App. A.4: 4 px patches, D = 256, 2 layers, 11 slots, 10 epochs on 70k CLEVR scenes",
    },
    object_centric_run,
)


# ---------------------------------------------------------------------------------------------------------------
# 07 · The leaderboard


def leaderboard_run(run: Run) -> dict:
    """Every method that trains a classifier on the Background Challenge, on the same data: the baseline, OAMixer
    (object labels) and SAR; their accuracy on every variant and BG-Gap."""
    baseline = background_bias(run)
    oa = oamixer_run(run)
    sar = spatial_entropy_run(run)
    return {"baseline": baseline, "OAMixer": oa["object"], "SAR": sar["SAR"]}


LEADERBOARD = Recipe(
    "leaderboard",
    "07_leaderboard.ipynb",
    {
        p: {
            **BACKGROUND_BIAS.profiles[p],
            **OAMIXER.profiles[p],
            **SPATIAL_ENTROPY.profiles[p],
            "models": [SPATIAL_ENTROPY.profiles[p]["model"]],
            "data": "background_challenge",
        }
        for p in BACKGROUND_BIAS.profiles
    },  # fmt: skip
    {p: "the methods of 01–03 on one Background Challenge: " + BACKGROUND_BIAS.matches[p] for p in ("smoke", "cpu")}
    | {"gpu": "DeiT-T baseline, OAMixer and SAR (ViT-S/16) on ImageNet-9 at 224 px", "paper": "the same, paper epochs"},
    leaderboard_run,
)

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (BACKGROUND_BIAS, OAMIXER, SPATIAL_ENTROPY, CONTRACAM, ROBUSTVIT, OBJECT_CENTRIC_SSL, LEADERBOARD)
}
