"""The papers' architectures for paper-scale runs, built with timm, with pretrained weights from a local file or, when
the user allows it, timm's hub.

Weights are looked up, in order: the ``weights`` argument (``--weights FILE``); ``$OAEDU_WEIGHTS/<model>.safetensors``
(or ``.pth``/``.bin``; default folder ``./weights``); timm's hub only with ``download=True`` (``--download``).
Without any of them the error names the file, its size and where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path

import timm
import torch
from timm.models.convmixer import ConvMixer

from .. import validate
from ..models.builders import BUILDERS

WEIGHTS_ENV_VAR = "OAEDU_WEIGHTS"
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".bin")
CONVMIXERS = {"convmixer_s16": 16, "convmixer_s32": 32}
"""ConvMixer-S/16 and S/32 of OAMixer §4: MLP-Mixer-S's width 512 and depth 8, kernel 9."""


def weights_root() -> Path:
    """Where local weight files live: ``$OAEDU_WEIGHTS``, else ``./weights``."""
    return Path(os.environ.get(WEIGHTS_ENV_VAR) or "weights")


def _takes_image_size(name: str) -> bool:
    return name.startswith(("vit_", "deit_", "mixer_"))


def _timm(name: str, num_classes: int, image_size: int, **kw) -> torch.nn.Module:
    extra = {"img_size": image_size} if _takes_image_size(name) else {}
    try:
        return timm.create_model(name, num_classes=num_classes, **extra, **kw)
    except RuntimeError as err:
        if "Unknown model" in str(err):
            raise ValueError(
                f"unknown model {name!r}: expected a timm model name or one of {sorted(BUILDERS)}"
            ) from None
        raise


def weight_file_help(name: str) -> str:
    """Which file to fetch for ``name``, its size, and where to put it."""
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    size = sum(p.numel() for p in model.parameters()) * 4 / 2**20
    hub = model.pretrained_cfg.get("hf_hub_id") or f"timm/{name}"
    return (
        f"pretrained weights for {name} (about {size:.0f} MB) are not here. Download model.safetensors from "
        f"https://huggingface.co/{hub} and save it as {weights_root() / (name + '.safetensors')} (or set "
        f"${WEIGHTS_ENV_VAR}, or pass --weights FILE), or pass --download to let timm fetch them"
    )


def find_weights(name: str, weights: str | Path | None = None) -> Path | None:
    """The local weight file for ``name``: ``weights`` if given (it must exist), else one in :func:`weights_root`."""
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} not found (expected the {name} weights from timm's hub)")
        return path
    return next((p for s in WEIGHT_SUFFIXES if (p := weights_root() / f"{name}{s}").is_file()), None)


def build(
    name: str,
    num_classes: int,
    image_size: int,
    pretrained: bool = False,
    weights: str | Path | None = None,
    download: bool = False,
    **kwargs,
) -> torch.nn.Module:
    """``name`` at ``image_size`` with ``num_classes`` outputs: a course builder (``vit``, ``mixer``, ``convmixer``),
    ``convmixer_s16``/``convmixer_s32``, or any timm model (``deit_small_patch16_224``, ``resnet50``, ...).

    With ``pretrained`` the weights come from a local file or, with ``download``, timm's hub; a new head (another
    ``num_classes``) starts from scratch. Raises ``FileNotFoundError`` saying what to download when none is there.
    """
    validate.integer(num_classes, "num_classes", low=0)
    validate.integer(image_size, "image_size", low=1)
    if name in BUILDERS or name in CONVMIXERS:
        if pretrained:
            raise ValueError(f"{name} has no pretrained weights; use a timm model name or pretrained=False")
        if name in CONVMIXERS:
            return ConvMixer(512, 8, kernel_size=9, patch_size=CONVMIXERS[name], num_classes=num_classes, **kwargs)
        return BUILDERS[name](num_classes=num_classes, image_size=image_size, **kwargs)
    if not pretrained:
        return _timm(name, num_classes, image_size, **kwargs)
    path = find_weights(name, weights)
    if path is not None:
        return _timm(
            name, num_classes, image_size, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs
        )
    if not download:
        raise FileNotFoundError(weight_file_help(name))
    return _timm(name, num_classes, image_size, pretrained=True, **kwargs)


class TimmEncoder(torch.nn.Module):
    """A timm CNN as the encoder of :class:`oaedu.contrastive.MoCo`: ``forward`` returns the last stage's map
    ``(B, C, h, w)``, ``layer`` is that stage (the activation ContraCAM explains), ``out_dim`` its width."""

    def __init__(self, name: str = "resnet50", pretrained: bool = False, **kwargs) -> None:
        super().__init__()
        self.net = build(name, 0, 224, pretrained=pretrained, global_pool="", **kwargs)
        stages = [m for m in ("layer4", "stages", "features") if hasattr(self.net, m)]
        if not stages:
            raise ValueError(f"{name} has no last stage (layer4) to explain: use a ResNet-style timm model")
        last = getattr(self.net, stages[0])
        self.layer = last[-1] if isinstance(last, torch.nn.Sequential) else last
        self.out_dim = self.net.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.images(x)
        return self.net.forward_features(x)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).mean((2, 3))
