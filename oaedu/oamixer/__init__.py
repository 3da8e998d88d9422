"""Paper 1, OAMixer (Kang et al., 2022): object-aware mixing for attention, MLP-Mixer and ConvMixer."""

from .attention import attention, attention_reference
from .labellers import (
    CamLabeller,
    DenseCNN,
    GTLabeller,
    RotatedLabeller,
    UniformLabeller,
    label_separation,
)
from .mask import check_labels, local_distance, pairwise_distance, reweight_mask
from .mixing import (
    conv_mixing,
    conv_mixing_method,
    conv_mixing_reference,
    conv_toeplitz,
    mixer_linearisation,
    mixer_mixing,
    mixer_mixing_reference,
)
from .wrap import (
    OAMixerModel,
    SharedKernelConv,
    oamixer,
    oamixer_forward,
    oamixer_step,
    share_convmixer_kernels,
)

__all__ = [
    "CamLabeller",
    "DenseCNN",
    "GTLabeller",
    "OAMixerModel",
    "RotatedLabeller",
    "SharedKernelConv",
    "UniformLabeller",
    "attention",
    "attention_reference",
    "check_labels",
    "conv_mixing",
    "conv_mixing_method",
    "conv_mixing_reference",
    "conv_toeplitz",
    "label_separation",
    "local_distance",
    "mixer_linearisation",
    "mixer_mixing",
    "mixer_mixing_reference",
    "oamixer",
    "oamixer_forward",
    "oamixer_step",
    "pairwise_distance",
    "reweight_mask",
    "share_convmixer_kernels",
]
