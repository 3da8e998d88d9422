"""ContraCAM and object-aware augmentations (paper 3: Mo, Kang et al., NeurIPS 2021).

* :func:`contracam` / :func:`contracam_reference`: Eq. (2), §2.2, the Grad-CAM of the contrastive score.
* :func:`iterative_contracam` / :func:`iterative_contracam_history`: Eq. (3), §2.2, T rounds of soft masking with
  extra negatives (the final map / the map after every round).
* :func:`gradcam` / :func:`gradcam_reference`: plain classifier Grad-CAM (Selvaraju et al. 2017).
* :func:`boxes_from_cam`, :func:`object_aware_crop`, :func:`oa_crop_prepare`: OA-Crop, §2.3.
* :func:`largest_empty_rectangle`, :func:`background_only`, :func:`background_mixup`: BG-Mixup, Eq. (4), §2.3.
* :mod:`oaedu.contracam.experiment`: notebook 04's experiments (a MoCo with and without each augmentation) and the
  measurements of each augmentation's premise.
"""

from .augment import (
    background_mixup,
    background_only,
    boxes_from_cam,
    largest_empty_rectangle,
    largest_empty_rectangle_reference,
    mix_batch,
    mixup_prepare,
    oa_crop_prepare,
    object_aware_crop,
)
from .cam import (
    ContrastiveScore,
    centre_prior,
    contracam,
    contracam_reference,
    dataset_contracam,
    gradcam,
    gradcam_reference,
    iterative_contracam,
    iterative_contracam_history,
)
from .evaluate import cooccurrence_distance, instance_boxes, localisation_scores

__all__ = [
    "ContrastiveScore",
    "background_mixup",
    "background_only",
    "boxes_from_cam",
    "centre_prior",
    "contracam",
    "dataset_contracam",
    "cooccurrence_distance",
    "instance_boxes",
    "localisation_scores",
    "contracam_reference",
    "gradcam",
    "gradcam_reference",
    "iterative_contracam",
    "iterative_contracam_history",
    "largest_empty_rectangle",
    "largest_empty_rectangle_reference",
    "mix_batch",
    "mixup_prepare",
    "oa_crop_prepare",
    "object_aware_crop",
]
