"""COCO uncompressed run-length encoding (RLE) of binary masks, in pure numpy.

An uncompressed RLE is ``{"size": [height, width], "counts": [n0, n1, n2, ...]}``: the mask is read
column by column (column-major, Fortran order) and ``counts`` alternates runs of 0s and 1s, starting
with a run of 0s (which is 0 when the first pixel is set). This is what pycocotools'
``frPyObjects`` accepts; the compressed string form of pycocotools is not handled here.

Boxes are COCO boxes ``[x, y, width, height]`` in pixels (the tight box of the set pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ccvs_core.errors import InputError


def encode(mask: np.ndarray) -> dict[str, Any]:
    """Encode a 2D mask ``[H, W]`` (bool or 0/1) as ``{"size": [H, W], "counts": [...]}``."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError("mask", f"must be 2D [height, width], got shape {tuple(mask.shape)}")
    height, width = mask.shape
    flat = mask.astype(bool).ravel(order="F")  # [H * W], column by column
    return {"size": [int(height), int(width)], "counts": _runs(flat)}


def _runs(flat: np.ndarray) -> list[int]:
    """Run lengths of a flat bool array, the first being a run of False (possibly empty)."""
    if flat.size == 0:
        return [0]
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1  # where a new run starts
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat[0] else counts


def encode_labels(labels: np.ndarray) -> dict[int, dict[str, Any]]:
    """Encode every non-zero label of a label map ``[H, W]`` in one pass: ``{label: rle}``, by label.

    ``encode_labels(m)[k]`` equals ``encode(m == k)``."""
    labels = np.asarray(labels)
    height, width = labels.shape
    flat = labels.ravel(order="F")  # [H * W]
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], changes))  # the maximal runs of equal labels
    ends = np.concatenate((changes, [flat.size]))
    values = flat[starts]
    out = {}
    for label in np.unique(values[values != 0]).tolist():
        begin, end = starts[values == label], ends[values == label]
        gaps = begin - np.concatenate(([0], end[:-1]))  # zeros before each run of this label
        counts = np.stack([gaps, end - begin], axis=1).ravel().tolist()
        if end[-1] < flat.size:
            counts.append(int(flat.size - end[-1]))
        out[int(label)] = {"size": [int(height), int(width)], "counts": counts}
    return out


def decode(rle: dict[str, Any], subject: str = "rle") -> np.ndarray:
    """Decode an uncompressed RLE to a bool mask ``[H, W]``; ``subject`` names it in errors."""
    height, width, counts = _parse(rle, subject)
    values = np.arange(counts.size) % 2 == 1  # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, counts)  # [H * W]
    return flat.reshape((width, height)).T


def area(rle: dict[str, Any]) -> int:
    """The number of set pixels (the sum of the runs of 1s)."""
    return int(sum(rle["counts"][1::2]))


def bbox(rle: dict[str, Any]) -> list[int]:
    """The tight COCO box ``[x, y, w, h]`` of an RLE's set pixels, without decoding it
    (``[0, 0, 0, 0]`` for an empty mask)."""
    height = int(rle["size"][0])
    counts = np.asarray(rle["counts"], dtype=np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    ones = (np.arange(counts.size) % 2 == 1) & (counts > 0)
    if not ones.any() or height == 0:
        return [0, 0, 0, 0]
    first, last = starts[ones], ends[ones] - 1  # flat (column-major) indices of each run of 1s
    col0, col1 = first // height, last // height
    one_column = col0 == col1  # a run spanning columns covers a column's bottom and the next one's top
    row0 = np.where(one_column, first % height, 0)
    row1 = np.where(one_column, last % height, height - 1)
    x, y = int(col0.min()), int(row0.min())
    return [x, y, int(col1.max()) - x + 1, int(row1.max()) - y + 1]


def label_boxes(labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and areas of labels 1..count in label maps ``[..., H, W]``, all at once.

    Returns boxes ``[..., count, 4]`` (COCO ``[x, y, w, h]``, zeros for an absent label) and areas
    ``[..., count]`` (pixel counts), both int64."""
    height, width = labels.shape[-2:]
    ids = np.arange(1, count + 1).reshape(count, 1, 1)
    onehot = labels[..., None, :, :] == ids  # [..., N, H, W]
    areas = onehot.sum(axis=(-2, -1))
    rows, cols = onehot.any(axis=-1), onehot.any(axis=-2)  # [..., N, H], [..., N, W]
    y0, x0 = rows.argmax(axis=-1), cols.argmax(axis=-1)
    y1, x1 = height - rows[..., ::-1].argmax(axis=-1), width - cols[..., ::-1].argmax(axis=-1)
    boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=-1)
    return np.where(areas[..., None] > 0, boxes, 0).astype(np.int64), areas.astype(np.int64)


def _parse(rle: Any, subject: str) -> tuple[int, int, np.ndarray]:
    """Check an uncompressed RLE's structure; return height, width and the counts as int64."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise InputError(subject, "must be an object with 'size' and 'counts'")
    size, counts = rle["size"], rle["counts"]
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(_is_count(v) for v in size)):
        raise InputError(subject, f"'size' must be [height, width] of non-negative integers, got {size!r}")
    if isinstance(counts, str | bytes):
        raise InputError(subject, "compressed RLE strings are not supported here (use pycocotools)")
    if not (isinstance(counts, list | tuple) and all(_is_count(v) for v in counts)):
        raise InputError(subject, "'counts' must be a list of non-negative integers")
    height, width = int(size[0]), int(size[1])
    total = sum(counts)
    if total != height * width:
        raise InputError(subject, f"'counts' sum to {total}, expected height * width = {height * width}")
    return height, width, np.asarray(counts, dtype=np.int64)


def _is_count(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 0
