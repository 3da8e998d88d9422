"""The two-layer MLP head that the contrastive learners and the object encoder share."""

from __future__ import annotations

from torch import nn

from .. import validate

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def mlp(
    d_in: int,
    d_hidden: int,
    d_out: int,
    activation: str = "relu",
    batch_norm: bool = True,
    bias_out: bool = True,
) -> nn.Sequential:
    """``Linear(d_in, d_hidden) → BatchNorm1d (or Identity) → activation → Linear(d_hidden, d_out)``.

    The projection and prediction heads of MoCo v2 and BYOL (ContraCAM §2.1: ReLU, BatchNorm) and the object and
    global heads ``g_obj``, ``f_glob``, ``g_glob`` of Paper 5 (§2.1: GELU, BatchNorm only in the global branch).
    Without ``batch_norm`` an ``Identity`` keeps the layer indices (and so the ``state_dict`` keys) the same.
    """
    for value, name in ((d_in, "d_in"), (d_hidden, "d_hidden"), (d_out, "d_out")):
        validate.integer(value, name, low=1)
    validate.fits_memory(d_hidden * (d_in + d_out), "d_in, d_hidden and d_out: the weights")
    activation = validate.choice(activation, "activation", ACTIVATIONS)
    first = nn.Linear(d_in, d_hidden)
    norm = nn.BatchNorm1d(d_hidden) if batch_norm else nn.Identity()
    return nn.Sequential(first, norm, ACTIVATIONS[activation](), nn.Linear(d_hidden, d_out, bias=bias_out))
