"""Convert DeepMind's CLEVR-with-masks TFRecords into the PNG folders :class:`oaedu.data.CLEVRWithMasks` reads.

The dataset is one GZIP-compressed TFRecord file, ``clevr_with_masks_train.tfrecords``. Each record is a
``tf.train.Example`` whose ``image`` holds 240·320·3 bytes and whose ``mask`` holds 11·240·320 bytes (one
binary mask per entity, entity 0 the background), every byte stored as its own element of a bytes list.
This module reads that format with the standard library and NumPy, without TensorFlow:

* :func:`read_records` splits a TFRecord file into records (length-prefixed; CRCs are not verified);
* :func:`parse_example` decodes one serialised ``tf.train.Example`` (protobuf wire format);
* :func:`scene_arrays` turns an example into an RGB image and a map of instance ids;
* :func:`convert` writes ``out/<split>/images/<n>.png`` and ``out/<split>/masks/<n>.png``.

Command line: ``python -m oaedu convert-clevr clevr_with_masks_train.tfrecords $OAEDU_DATA/clevr --split train
[--start N] [--count N]`` (the file has one split; carve train/val with ``--start`` and ``--count``).
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

IMAGE_SIZE = (240, 320)
MAX_ENTITIES = 11  # background + up to 10 objects
_LEN, _VARINT, _I64, _I32 = 2, 0, 1, 5
MAX_RECORD = 2**30  # bytes; a CLEVR-with-masks record holds about 1 MB


def read_records(path: str | Path) -> Iterator[bytes]:
    """Yield the records of a TFRecord file, GZIP-compressed or not.

    A length larger than what is left of an uncompressed file, or than :data:`MAX_RECORD` bytes, is refused
    before anything is read: a file of another format would otherwise be read as one huge record.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a TFRecord file, or the file ends inside a record.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TFRecord file {path} not found")
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    size = path.stat().st_size
    with gzip.open(path, "rb") if gzipped else path.open("rb") as f:
        while header := f.read(12):  # uint64 length, uint32 masked CRC of the length
            if len(header) < 12:
                raise ValueError(f"{path} ends inside a record header: is the file complete?")
            (length,) = struct.unpack("<Q", header[:8])
            left = MAX_RECORD if gzipped else size - f.tell()
            if length > min(left, MAX_RECORD):
                raise ValueError(
                    f"{path} is not a TFRecord file (or is corrupt): a record claims {length:,} bytes, more than "
                    f"{'the ' + format(MAX_RECORD, ',') + '-byte limit' if left == MAX_RECORD else 'the file holds'}"
                )
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:  # the data, then the uint32 masked CRC of the data
                raise ValueError(f"{path} ends inside a record: is the file complete?")
            yield data


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint in a tf.train.Example")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return value, pos


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of a protobuf message: ``bytes`` for length-delimited and
    fixed-width fields, ``int`` for varints."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire == _LEN:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated field in a tf.train.Example")
        yield number, wire, value


def _bytes_list(buf: bytes) -> np.ndarray | list[bytes]:
    # CLEVR stores one byte per element: the message is then (tag 0x0A, length 1, byte) repeated.
    if len(buf) % 3 == 0:
        triples = np.frombuffer(buf, np.uint8).reshape(-1, 3)
        if (triples[:, 0] == 0x0A).all() and (triples[:, 1] == 1).all():
            return triples[:, 2].copy()
    values = [v for n, w, v in _fields(buf) if n == 1 and w == _LEN]
    return np.frombuffer(b"".join(values), np.uint8).copy() if all(len(v) == 1 for v in values) else values


def _float_list(buf: bytes) -> np.ndarray:
    chunks = [v for n, w, v in _fields(buf) if n == 1 and w in (_LEN, _I32)]  # packed, or one float per field
    return np.frombuffer(b"".join(chunks), "<f4").astype(np.float32)


def _int64_list(buf: bytes) -> np.ndarray:
    values: list[int] = []
    for number, wire, value in _fields(buf):
        if number != 1:
            continue
        if wire == _VARINT:
            values.append(value)
        else:  # packed varints
            pos = 0
            while pos < len(value):
                v, pos = _varint(value, pos)
                values.append(v)
    return np.array([v - (1 << 64) if v >= 1 << 63 else v for v in values], dtype=np.int64)


def parse_example(record: bytes) -> dict[str, np.ndarray | list[bytes]]:
    """Decode a serialised ``tf.train.Example``: feature name → ``uint8`` array (a bytes list of single bytes),
    list of ``bytes`` (any other bytes list), ``float32`` or ``int64`` array."""
    decoders = {1: _bytes_list, 2: _float_list, 3: _int64_list}
    out = {}
    for number, _, features in _fields(record):
        if number != 1:
            continue
        for entry_number, _, entry in _fields(features):
            if entry_number != 1:
                continue
            parts = {n: v for n, _, v in _fields(entry)}
            if 1 not in parts:
                raise ValueError("a feature without a name in a tf.train.Example")
            kind = [(n, v) for n, _, v in _fields(parts.get(2, b"")) if n in decoders]
            out[bytes(parts[1]).decode()] = decoders[kind[0][0]](kind[0][1]) if kind else np.zeros(0, np.uint8)
    return out


def scene_arrays(
    example: dict, image_size: tuple[int, int] = IMAGE_SIZE, entities: int = MAX_ENTITIES
) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8[H,W,3], instance ids uint8[H,W])`` of a parsed CLEVR example; id ``k`` is the entity whose
    mask covers the pixel (0 = background).

    Raises:
        ValueError: the example lacks ``image`` or ``mask``, or their sizes do not match ``image_size``/``entities``.
    """
    h, w = image_size
    shapes = {"image": (h, w, 3), "mask": (entities, h, w)}
    arrays = {}
    for key, shape in shapes.items():
        value = example.get(key)
        if not isinstance(value, np.ndarray) or value.size != int(np.prod(shape)):
            size = value.size if isinstance(value, np.ndarray) else value
            raise ValueError(f"CLEVR example: {key!r} should hold {shape} bytes, got {size}")
        arrays[key] = value.reshape(shape)
    return arrays["image"], arrays["mask"].argmax(0).astype(np.uint8)


def convert(
    tfrecords: str | Path,
    out: str | Path,
    split: str = "train",
    start: int = 0,
    count: int | None = None,
    image_size: tuple[int, int] = IMAGE_SIZE,
    entities: int = MAX_ENTITIES,
) -> int:
    """Write scenes ``start .. start+count-1`` of ``tfrecords`` as PNG files under ``out/split``; return how many.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a bad ``start``/``count``, a corrupt file, or fewer than ``start + 1`` scenes in it.
    """
    from PIL import Image

    if start < 0 or (count is not None and count < 1):
        raise ValueError(f"start must be ≥ 0 and count ≥ 1, got start={start}, count={count}")
    images, masks = Path(out) / split / "images", Path(out) / split / "masks"
    written = 0
    for index, record in enumerate(read_records(tfrecords)):
        if index < start:
            continue
        if count is not None and written == count:
            break
        image, ids = scene_arrays(parse_example(record), image_size, entities)
        images.mkdir(parents=True, exist_ok=True)
        masks.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(images / f"{index:06d}.png")
        Image.fromarray(ids).save(masks / f"{index:06d}.png")
        written += 1
    if written == 0:
        raise ValueError(f"{tfrecords} holds no scene at index {start} or later")
    return written
