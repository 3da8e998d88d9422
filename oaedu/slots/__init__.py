"""Object-centric self-supervised learning (Paper 5, Baldassarre & Azizpour 2022): slot attention vs
cross-attention, the object encoder, Hungarian matching, the global and object losses, and the metrics."""

from oaedu.slots.attention import QUERIES, CrossAttentionDecoder, SlotAttention, SlotQueries
from oaedu.slots.encoder import ObjectEncoder, ObjectOutput
from oaedu.slots.evaluate import (
    auroc,
    fg_ari,
    otsu_masks,
    otsu_threshold,
    otsu_threshold_reference,
    presence_targets,
    segmentation_iou,
    segmentation_iou_reference,
    slot_partition,
    slot_probe_scores,
)
from oaedu.slots.losses import (
    MATCHINGS,
    OBJECT_LOSSES,
    cossim_loss,
    cossim_loss_reference,
    ctr_all_loss,
    ctr_all_loss_reference,
    ctr_img_loss,
    ctr_img_loss_reference,
    identity_pairing,
    match_slots,
    object_loss,
    simclr_loss,
    simclr_loss_reference,
)
from oaedu.slots.matching import hungarian_match, hungarian_match_reference
from oaedu.slots.train import as_training_data, encode, shuffle_slots, ssl_losses, ssl_step, two_views

__all__ = [
    "MATCHINGS",
    "OBJECT_LOSSES",
    "QUERIES",
    "CrossAttentionDecoder",
    "ObjectEncoder",
    "ObjectOutput",
    "SlotAttention",
    "SlotQueries",
    "as_training_data",
    "auroc",
    "cossim_loss",
    "cossim_loss_reference",
    "ctr_all_loss",
    "ctr_all_loss_reference",
    "ctr_img_loss",
    "ctr_img_loss_reference",
    "encode",
    "fg_ari",
    "hungarian_match",
    "hungarian_match_reference",
    "identity_pairing",
    "slot_probe_scores",
    "match_slots",
    "object_loss",
    "otsu_masks",
    "otsu_threshold",
    "otsu_threshold_reference",
    "presence_targets",
    "segmentation_iou",
    "segmentation_iou_reference",
    "simclr_loss",
    "simclr_loss_reference",
    "shuffle_slots",
    "slot_partition",
    "ssl_losses",
    "ssl_step",
    "two_views",
]
