"""Wrap timm ViT, MLP-Mixer and ConvMixer models with OAMixer in every block (OAMixer §3.2).

Every wrapped mixing layer owns one learnable κ (a ``kappa`` parameter, initialised to 0). The model's
forward takes ``(images, patch_labels)``; the label distance ``D`` is computed once per forward and
shared by all layers, each of which uses its own ``log M = −κ_l·D`` (never materialising ``M``).

κ ≥ 0 is kept by projection, like the official code: before each use, κ's data is clamped to ≥ 0 in
place under ``no_grad``, so the forward sees ``κ ≥ 0`` and the gradient at κ = 0 stays alive (a
functional ``clamp`` would have zero gradient once κ < 0 and could leave κ stuck at 0). An optional
``kappa_scale`` multiplies the parameter, which with Adam is the same as a larger learning rate for κ
(the official ``--mask-lr-scale``): Adam moves each parameter by about ``lr`` per step, so a few hundred
CPU steps at ``lr = 1e-3`` would otherwise leave κ < 0.3.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from timm.models.convmixer import ConvMixer
from timm.models.mlp_mixer import MlpMixer
from timm.models.vision_transformer import VisionTransformer

from .. import validate
from ..models import num_prefix_tokens, patch_grid
from ..train import StepFn, cross_entropy_step
from .mask import check_labels, local_distance, pairwise_distance
from .mixing import conv_mixing, mixer_linearisation, mixer_mixing

Labeller = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _Context:
    """Per-forward state shared by the wrapped layers (not a module, so it holds no parameters)."""

    def __init__(self) -> None:
        self.dist: torch.Tensor | None = None


class _KappaMixin(torch.nn.Module):
    def _init_kappa(self, ctx: _Context, kappa_scale: float) -> None:
        if kappa_scale <= 0:
            raise ValueError(f"kappa_scale must be positive, got {kappa_scale}")
        self.kappa = torch.nn.Parameter(torch.zeros(1))
        self.kappa_scale = float(kappa_scale)
        self._ctx = ctx

    def effective_kappa(self) -> torch.Tensor:
        """``κ_l = kappa_scale · kappa`` after projecting ``kappa`` onto ``[0, ∞)`` in place."""
        with torch.no_grad():
            self.kappa.clamp_(min=0.0)
        return self.kappa_scale * self.kappa[0]


class OAAttention(_KappaMixin):
    """timm ``Attention`` with the object-aware bias ``−κ·D`` (Eq. 5); prefix rows and columns get 0 (M = 1, §3.2).

    The forward is timm's own, given ``attn_mask = log M = −κ·D`` broadcast over heads: by the identity of
    :func:`~oaedu.oamixer.attention`, ``softmax(s + log M)`` is Eq. (5)'s renormalised ``softmax(s) ⊙ M``. timm's
    fused path passes the bias to SDPA (κ gets its gradient through it); its explicit path, which
    :func:`~oaedu.models.capture_attention` switches on, adds it to the scores before the softmax, so the recorded
    probabilities are the masked ones.
    """

    def __init__(self, attn: torch.nn.Module, ctx: _Context, prefix: int, kappa_scale: float = 1.0) -> None:
        super().__init__()
        self.attn = attn
        self.prefix = prefix
        self._init_kappa(ctx, kappa_scale)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        dist = self._ctx.dist
        if dist is None or attn_mask is not None or is_causal:
            return self.attn(x, attn_mask=attn_mask, is_causal=is_causal)
        log_mask = -self.effective_kappa() * F.pad(dist, (self.prefix, 0, self.prefix, 0))  # (B, N, N)
        return self.attn(x, attn_mask=log_mask[:, None].to(x.dtype))


class OATokenMLP(_KappaMixin):
    """MLP-Mixer token MLP ``f`` turned into ``f(x) − ((1−M)⊙L)·x`` with ``L = W2·W1`` (Eqs. 7–8)."""

    def __init__(self, mlp: torch.nn.Module, ctx: _Context, kappa_scale: float = 1.0) -> None:
        super().__init__()
        if not isinstance(getattr(mlp, "norm", torch.nn.Identity()), torch.nn.Identity):
            raise ValueError("the token MLP has a norm layer; Eq. 8's linearisation W2·W1 would not hold")
        self.mlp = mlp
        self._init_kappa(ctx, kappa_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, N), tokens last
        f_x = self.mlp(x)
        dist = self._ctx.dist
        if dist is None:
            return f_x
        lin = mixer_linearisation(self.mlp.fc1.weight, self.mlp.fc2.weight)
        return mixer_mixing(f_x, x, lin, log_mask=-self.effective_kappa() * dist)


class SharedKernelConv(torch.nn.Module):
    """A 'same' convolution with one ``S×S`` kernel and one bias shared by all channels (OAMixer Eq. 9).

    Without ``weight``/``bias`` it starts like a fresh PyTorch convolution kernel: Kaiming-uniform weights and a
    uniform bias, both with bound ``1/S`` (fan-in ``S²``).
    """

    def __init__(self, kernel_size: int, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        validate.integer(kernel_size, "kernel_size", low=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for a 'same' Toeplitz matrix, got {kernel_size}")
        if weight is not None:
            validate.tensor(weight, "weight", shape=(kernel_size, kernel_size), dtype="float", finite_values=True)
        if bias is not None and validate.tensor(bias, "bias", dtype="float", finite_values=True).numel() != 1:
            raise ValueError(f"bias must hold one value (shared by all channels), got shape {tuple(bias.shape)}")
        if weight is None:
            w = torch.empty(1, 1, kernel_size, kernel_size)
            torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            weight = w[0, 0]
        if bias is None:
            bias = torch.empty(1).uniform_(-1 / kernel_size, 1 / kernel_size)
        self.weight = torch.nn.Parameter(weight.detach().clone())
        self.bias = torch.nn.Parameter(bias.detach().reshape(1).clone())  # (...) -> (1,): the one shared bias
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        w = self.weight.expand(c, 1, -1, -1)
        return F.conv2d(x, w, self.bias.expand(c), padding=self.kernel_size // 2, groups=c)


class OAConv(_KappaMixin):
    """Shared-kernel convolution with the object-aware mask, Eq. (11), from the local mask (:func:`conv_mixing`)."""

    def __init__(self, conv: SharedKernelConv, ctx: _Context, kappa_scale: float = 1.0) -> None:
        super().__init__()
        self.conv = conv
        self._init_kappa(ctx, kappa_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dist = self._ctx.dist
        if dist is None:
            return self.conv(x)
        return conv_mixing(x, self.conv.weight, self.conv.bias[0], log_mask=-self.effective_kappa() * dist)


def _convmixer_branches(model: ConvMixer) -> list[torch.nn.Sequential]:
    """Each block's residual branch ``Sequential(depthwise conv, activation, norm)`` in a timm ConvMixer: item 0 is
    the convolution that OAMixer masks."""
    return [block[0].fn for block in model.blocks]


def share_convmixer_kernels(model: ConvMixer) -> ConvMixer:
    """Replace each depthwise ``C×1×S×S`` conv of a timm ConvMixer by one shared ``S×S`` kernel, in place.

    The shared kernel and bias start as channel 0's: one draw of PyTorch's usual initialisation. (The mean of the
    C independently drawn kernels would start about √C times smaller.) This is the paper's "ConvMixer"
    (App. E): the baseline and the OAMixer rows both use it.
    """
    if not isinstance(model, ConvMixer):
        raise ValueError(f"expected a timm ConvMixer, got {type(model).__name__}")
    for branch in _convmixer_branches(model):
        conv = branch[0]
        if isinstance(conv, SharedKernelConv):
            continue
        if conv.groups != conv.in_channels or conv.kernel_size[0] != conv.kernel_size[1]:
            raise ValueError("expected a square depthwise convolution in each ConvMixer block")
        branch[0] = SharedKernelConv(
            conv.kernel_size[0], conv.weight[0, 0], None if conv.bias is None else conv.bias[0]
        ).to(conv.weight.device)
    return model


class OAMixerModel(torch.nn.Module):
    """A timm ViT / MLP-Mixer / shared-kernel ConvMixer with OAMixer in every block.

    ``forward(images, patch_labels)``: ``patch_labels`` are ``(B, N, K)`` over the ``h×w`` patch grid
    (row-major), without prefix tokens. ``distance`` is ``"l1"`` (saliency) or ``"cosine"`` (class maps).
    """

    def __init__(
        self, model: torch.nn.Module, distance: str = "l1", kappa_scale: float = 1.0, copy_model: bool = True
    ) -> None:
        super().__init__()
        if distance not in ("l1", "cosine"):
            raise ValueError(f"distance must be 'l1' or 'cosine', got {distance!r}")
        validate.positive(kappa_scale, "kappa_scale")
        model = copy.deepcopy(model) if copy_model else model
        self.distance = distance
        self._ctx = _Context()
        if isinstance(model, VisionTransformer):
            self.kind = "vit"
            prefix = num_prefix_tokens(model)
            for block in model.blocks:
                block.attn = OAAttention(block.attn, self._ctx, prefix, kappa_scale)
        elif isinstance(model, MlpMixer):
            self.kind = "mixer"
            for block in model.blocks:
                block.mlp_tokens = OATokenMLP(block.mlp_tokens, self._ctx, kappa_scale)
        elif isinstance(model, ConvMixer):
            self.kind = "convmixer"
            share_convmixer_kernels(model)
            for branch in _convmixer_branches(model):
                branch[0] = OAConv(branch[0], self._ctx, kappa_scale)
            self.kernel_size = branch[0].conv.kernel_size
            self.patch_size = model.stem[0].stride[0]
        else:
            raise ValueError(
                f"cannot wrap {type(model).__name__}; expected a timm VisionTransformer, MlpMixer or ConvMixer"
            )
        self.model = model

    def grid(self, images: torch.Tensor) -> tuple[int, int]:
        """The patch grid ``(h, w)`` for these images."""
        if self.kind == "convmixer":
            return images.shape[-2] // self.patch_size, images.shape[-1] // self.patch_size
        return patch_grid(self.model)

    def oa_layers(self) -> list[_KappaMixin]:
        return [m for m in self.model.modules() if isinstance(m, _KappaMixin)]

    def kappas(self) -> torch.Tensor:
        """The effective κ of every wrapped layer, input to output, as a detached 1-D tensor."""
        return torch.stack([m.effective_kappa().detach() for m in self.oa_layers()]).cpu()

    def distance_matrix(self, images: torch.Tensor, patch_labels: torch.Tensor) -> torch.Tensor:
        """``D`` as the layers use it: ``(B, N, N)`` (ViT, Mixer) or ``(B, S², N)`` neighbours (ConvMixer)."""
        check_labels(patch_labels, "patch_labels")
        h, w = self.grid(images)
        if patch_labels.shape[0] != images.shape[0] or patch_labels.shape[1] != h * w:
            raise ValueError(
                f"patch_labels must be (B, N, K) = ({images.shape[0]}, {h * w}, K) for a {h}×{w} grid, "
                f"got {tuple(patch_labels.shape)}"
            )
        labels = patch_labels.to(images.dtype)
        if self.kind == "convmixer":
            # (B, N, K) -> (B, K, N) -> (B, K, h, w)
            label_map = labels.transpose(1, 2).reshape(labels.shape[0], labels.shape[2], h, w)
            return local_distance(label_map, self.kernel_size, self.distance)
        return pairwise_distance(labels, self.distance)

    def forward(self, images: torch.Tensor, patch_labels: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        validate.images(images, model=self.model)
        self._ctx.dist = self.distance_matrix(images, patch_labels)
        try:
            return self.model(images)
        finally:
            self._ctx.dist = None


def oamixer(model: torch.nn.Module, distance: str = "l1", kappa_scale: float = 1.0) -> OAMixerModel:
    """Return an OAMixer copy of ``model`` (timm ViT, MLP-Mixer or ConvMixer); every κ starts at 0."""
    return OAMixerModel(model, distance, kappa_scale)


def oamixer_forward(labeller: Labeller) -> Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """A ``forward(model, images, masks)`` for :mod:`oaedu.train`: labels come from ``labeller(images, masks)``.

    The labeller runs on every batch, so training images (after the paired flip) and every test
    variant get labels computed from the image actually seen.
    """
    validate.is_callable(labeller, "labeller")

    def forward(model: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            labels = labeller(images, masks)
        return model(images, labels)

    return forward


def oamixer_step(labeller: Labeller, label_smoothing: float = 0.0) -> StepFn:
    """A :class:`~oaedu.train.StepFn`: cross-entropy of :func:`oamixer_forward` (the model sees ``labeller``'s
    patch labels)."""
    return cross_entropy_step(label_smoothing, forward=oamixer_forward(labeller))
