"""Data for the course: synthetic datasets with exact masks, local loaders for the real ones, and
paired image–mask transforms."""

from .background_challenge import VARIANTS, background_challenge, background_challenge_suite
from .datasets import MaskedImageDataset, SceneDataset, first_of_each_class, iterate_batches, take
from .real import CLEVRWithMasks, ImageNet9, background_challenge_data, data_root
from .scenes import SCENE_COLOURS, SCENE_SHAPES, multi_object_scenes
from .transforms import crop_boxes, paired_hflip, paired_random_resized_crop, paired_resize, patch_fractions

__all__ = [
    "CLEVRWithMasks",
    "ImageNet9",
    "MaskedImageDataset",
    "SCENE_COLOURS",
    "SCENE_SHAPES",
    "SceneDataset",
    "VARIANTS",
    "background_challenge",
    "background_challenge_data",
    "background_challenge_suite",
    "crop_boxes",
    "data_root",
    "first_of_each_class",
    "iterate_batches",
    "multi_object_scenes",
    "paired_hflip",
    "paired_random_resized_crop",
    "paired_resize",
    "patch_fractions",
    "take",
]
