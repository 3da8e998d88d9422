"""The real-data loaders on tiny fake trees built here, their errors for missing or misplaced folders, and the
CLEVR-with-masks converter on TFRecords written here (no TensorFlow, no download)."""

import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from oaedu.data import VARIANTS, CLEVRWithMasks, ImageNet9, background_challenge_data
from oaedu.data.clevr_tfrecord import convert, parse_example, read_records, scene_arrays

CLASSES = ("00_dog", "01_bird")


def _write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _imagenet9_tree(root, variants, split, size=16, seed=0):
    rng = np.random.default_rng(seed)
    for variant in variants:
        for c in CLASSES:
            for i in range(2):
                _write_png(root / variant / split / c / f"img{i}.JPEG", rng.integers(0, 255, (size, size, 3), np.uint8))


def test_imagenet9_reads_a_fake_tree_with_masks(tmp_path):
    _imagenet9_tree(tmp_path, ["mixed_rand"], "val", size=20)
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    (tmp_path / "fg_mask" / "val" / "01_bird").mkdir(parents=True)
    np.save(tmp_path / "fg_mask" / "val" / "01_bird" / "img0.npy", mask)
    data = ImageNet9(tmp_path, "mixed_rand", "val", image_size=20)
    assert len(data) == 4 and data.classes == list(CLASSES)
    image, label, m = data[2]
    assert image.shape == (3, 20, 20) and label == 1 and m.sum() == 25 and data.has_mask(2)
    assert not data[0][2].any() and not data.has_mask(0)
    with pytest.raises(ValueError, match="unknown variant"):
        ImageNet9(tmp_path, "mixed")


def test_imagenet9_errors_name_the_right_archive_for_each_split(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the \.tar\.gz attached to the release") as err:
        ImageNet9(tmp_path / "bg_challenge", "mixed_rand", "val")
    assert str(tmp_path / "bg_challenge" / "mixed_rand" / "val") in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"original\.tar\.gz.*Training Data") as err:
        ImageNet9(tmp_path / "bg_challenge_train", "original", "train")
    assert str(tmp_path / "bg_challenge_train" / "original" / "train" / "00_dog") in str(err.value)
    (tmp_path / "empty" / "original" / "val").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no class folders"):
        ImageNet9(tmp_path / "empty", "original", "val")


def test_imagenet9_wrong_layouts_name_the_folder_and_the_fix(tmp_path):
    # The test archive unpacked inside bg_challenge/ (one level too deep).
    root = tmp_path / "bg_challenge"
    _imagenet9_tree(root / "bg_challenge", ["original"], "val")
    with pytest.raises(FileNotFoundError) as err:
        ImageNet9(root, "original", "val")
    found, expected = root / "bg_challenge" / "original" / "val", root / "original" / "val"
    assert f"A folder like it is at {found}: move it to {expected}" in str(err.value)
    # The training archive unpacked into $OAEDU_DATA instead of bg_challenge_train/.
    _imagenet9_tree(tmp_path, ["original"], "train")
    with pytest.raises(FileNotFoundError) as err:
        ImageNet9(tmp_path / "bg_challenge_train", "original", "train")
    found, expected = tmp_path / "original" / "train", tmp_path / "bg_challenge_train" / "original" / "train"
    assert f"mv '{found}' '{expected}'" in str(err.value)


def test_background_challenge_data_reads_training_and_test_archives(tmp_path, monkeypatch):
    monkeypatch.setenv("OAEDU_DATA", str(tmp_path))
    monkeypatch.delenv("OAEDU_REAL_DATA", raising=False)
    train, suite, source = background_challenge_data(64, 32, profile="gpu", num_classes=3)
    assert source.startswith("synthetic") and len(train) == 64 and set(suite) == set(VARIANTS)
    monkeypatch.setenv("OAEDU_REAL_DATA", "require")
    with pytest.raises(FileNotFoundError, match="original.tar.gz"):
        background_challenge_data(64, 32, profile="cpu")
    monkeypatch.setenv("OAEDU_REAL_DATA", "auto")
    _imagenet9_tree(tmp_path / "bg_challenge", VARIANTS, "val")
    # The test sets alone (the release) are not enough: the error names the separate training archive.
    with pytest.raises(FileNotFoundError, match=r"bg_challenge_train.*original\.tar\.gz"):
        background_challenge_data(64, 32, profile="gpu")
    _imagenet9_tree(tmp_path / "bg_challenge_train", ["original"], "train", seed=1)
    train, suite, source = background_challenge_data(64, 32, profile="gpu", image_size=16)
    assert source.startswith("ImageNet-9") and len(train) == 4 and len(suite["mixed_rand"]) == 4
    images, labels, masks = next(train.batches(4, num_workers=0))
    assert images.shape == (4, 3, 16, 16) and labels.tolist() == [0, 0, 1, 1] and masks.dtype == torch.bool
    assert not torch.equal(train[0][0], suite["original"][0][0])  # training images are not the test images
    from oaedu.models import tiny_vit
    from oaedu.train import fit

    history = fit(tiny_vit(image_size=16, patch_size=4, embed_dim=16, depth=1), train, 1, 2, progress=False)
    assert train.num_batches(3) == 2 and len(history.terms) == train.num_batches(2) == 2  # fit reads it from disk
    monkeypatch.setenv("OAEDU_REAL_DATA", "maybe")
    with pytest.raises(ValueError, match="auto, off or require"):
        background_challenge_data(8, 8)


def test_clevr_reads_a_fake_tree_and_explains_missing_or_misplaced_folders(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        _write_png(tmp_path / "train" / "images" / f"{i}.png", rng.integers(0, 255, (24, 24, 3), np.uint8))
        _write_png(tmp_path / "train" / "masks" / f"{i}.png", rng.integers(0, 4, (24, 24), np.uint8))
    data = CLEVRWithMasks(tmp_path, "train", image_size=12)
    image, mask, attrs = data[1]
    assert image.shape == (3, 12, 12) and mask.shape == (12, 12) and mask.dtype == torch.int64
    assert mask.max() <= 3 and attrs == {}
    with pytest.raises(FileNotFoundError, match="python -m oaedu convert-clevr"):
        CLEVRWithMasks(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError) as err:  # converted into a folder one level too deep
        CLEVRWithMasks(tmp_path.parent, "train")
    assert f"A folder like it is at {tmp_path / 'train' / 'images'}" in str(err.value)
    (tmp_path / "train" / "masks" / "2.png").unlink()
    with pytest.raises(FileNotFoundError, match="no mask"):
        CLEVRWithMasks(tmp_path, "train")


# --- a tiny protobuf / TFRecord writer, independent of the reader under test ---------------------------------


def _varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _len_field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _feature(name, kind, payload):
    return _len_field(1, _len_field(1, name.encode()) + _len_field(2, _len_field(kind, payload)))


def _bytes_feature(name, values):
    return _feature(name, 1, b"".join(_len_field(1, v) for v in values))


def _one_byte_elements(name, array):
    # Same bytes as _bytes_feature(name, [bytes([b]) for b in array.ravel()]), fast enough for full-size scenes.
    triples = np.stack([np.full(array.size, 0x0A), np.ones(array.size), array.ravel()], axis=1).astype(np.uint8)
    return _feature(name, 1, triples.tobytes())


def _example(image, mask, x, fast=False):
    encode = _one_byte_elements if fast else lambda name, a: _bytes_feature(name, [bytes([b]) for b in a.ravel()])
    features = (
        encode("image", image)
        + encode("mask", mask)
        + _feature("x", 2, _len_field(1, struct.pack(f"<{len(x)}f", *x)))
        + _feature("count", 3, _len_field(1, _varint(7)))
        + _bytes_feature("name", [b"abc", b"d"])
    )
    return _len_field(1, features)


def _tfrecords(path, records):
    with gzip.open(path, "wb", compresslevel=1) as f:
        for r in records:
            f.write(struct.pack("<Q", len(r)) + b"\0" * 4 + r + b"\0" * 4)


def _scene(rng, h, w, entities):
    image = rng.integers(0, 256, (h, w, 3), np.uint8)
    ids = rng.integers(0, entities, (h, w))
    mask = np.stack([(ids == k) * 255 for k in range(entities)]).astype(np.uint8)[..., None]
    return image, ids, mask


def test_parse_example_matches_hand_encoded_bytes():
    # Example{features{feature{key: "x", value{float_list{value: [1.0]}}}}}, written out by hand.
    record = bytes.fromhex("0a0f0a0d0a0178120812060a040000803f")
    parsed = parse_example(record)
    assert list(parsed) == ["x"] and parsed["x"].dtype == np.float32 and parsed["x"].tolist() == [1.0]


def test_parse_example_decodes_every_feature_kind():
    rng = np.random.default_rng(0)
    image, ids, mask = _scene(rng, 4, 6, 3)
    record = _example(image, mask, [0.5, -2.0])
    assert _example(image, mask, [0.5, -2.0], fast=True) == record  # the fast test encoder writes the same bytes
    parsed = parse_example(record)
    assert np.array_equal(parsed["image"], image.ravel()) and np.array_equal(parsed["mask"], mask.ravel())
    assert parsed["x"].tolist() == [0.5, -2.0] and parsed["count"].tolist() == [7]
    assert parsed["name"] == [b"abc", b"d"]
    out_image, out_ids = scene_arrays(parsed, (4, 6), 3)
    assert np.array_equal(out_image, image) and np.array_equal(out_ids, ids)
    with pytest.raises(ValueError, match=r"'image' should hold \(5, 6, 3\)"):
        scene_arrays(parsed, (5, 6), 3)


def test_convert_writes_what_the_loader_reads(tmp_path):
    rng = np.random.default_rng(1)
    scenes = [_scene(rng, 4, 6, 3) for _ in range(3)]
    path = tmp_path / "clevr.tfrecords"
    _tfrecords(path, [_example(image, mask, [0.0]) for image, _, mask in scenes])
    assert len(list(read_records(path))) == 3
    assert convert(path, tmp_path / "clevr", "val", start=1, count=5, image_size=(4, 6), entities=3) == 2
    data = CLEVRWithMasks(tmp_path / "clevr", "val", image_size=None)
    assert len(data) == 2
    for (image, ids, _), (loaded, mask, _) in zip(scenes[1:], (data[0], data[1]), strict=True):
        assert torch.equal(loaded, torch.from_numpy(image).permute(2, 0, 1).float() / 255)
        assert torch.equal(mask, torch.from_numpy(ids))
    with pytest.raises(ValueError, match="no scene at index 3"):
        convert(path, tmp_path / "clevr", start=3, image_size=(4, 6), entities=3)
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-10]))
    with pytest.raises(ValueError, match="ends inside a record"):
        list(read_records(path))


def test_convert_clevr_command_on_a_full_size_scene(tmp_path):
    image, ids, mask = _scene(np.random.default_rng(2), 240, 320, 11)
    _tfrecords(tmp_path / "clevr_with_masks_train.tfrecords", [_example(image, mask, [1.0], fast=True)])
    cmd = [sys.executable, "-m", "oaedu", "convert-clevr", "clevr_with_masks_train.tfrecords", "clevr"]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "clevr" / "train" / "masks" / "000000.png")), ids)
    assert len(CLEVRWithMasks(tmp_path / "clevr", "train")) == 1
