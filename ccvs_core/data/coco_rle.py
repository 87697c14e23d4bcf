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


# Limits on COCO geometry, checked before pycocotools sees it: its C code trusts what it is given
# (a polygon at -1e300 or an RLE whose runs overrun its size crash the process).
MAX_IMAGE_SIDE = 16384  # pixels
COORDINATE_MARGIN = 2  # polygon points may lie this many image sizes outside the image
MAX_PERIMETER = 256  # a polygon's outline, in image perimeters (pycocotools rasterises every step of it)


def check_segmentation(segmentation: Any, height: int, width: int, subject: str, where: str) -> None:
    """Refuse (``InputError(subject, "<where> ...")``) a COCO segmentation of an image ``height`` x
    ``width`` that is not polygons with finite points near the image, an uncompressed RLE, or a
    compressed RLE string whose runs cover the image exactly."""
    if not (1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE):
        raise InputError(
            subject, f"{where} is on a {width}x{height} image; sides up to {MAX_IMAGE_SIDE} are read"
        )
    if isinstance(segmentation, list):
        _check_polygons(segmentation, height, width, subject, where)
        return
    if not (isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation):
        raise InputError(subject, f"{where} 'segmentation' must be polygons or an RLE object")
    size = segmentation["size"]
    if not isinstance(size, list) or size != [height, width]:
        raise InputError(subject, f"{where} RLE size {size!r} differs from the image's {[height, width]}")
    counts = segmentation["counts"]
    if isinstance(counts, str):
        counts = compressed_counts(counts, subject, where)
    elif not (isinstance(counts, list) and all(_is_count(c) for c in counts)):
        raise InputError(subject, f"{where} RLE 'counts' must be run lengths or a compressed string")
    if sum(counts) != height * width:
        raise InputError(subject, f"{where} RLE runs cover {sum(counts)} pixels, the image {height * width}")


def compressed_counts(text: str, subject: str = "rle", where: str = "counts") -> list[int]:
    """The run lengths of pycocotools' compressed RLE string (6-bit groups from '0', 5 bits of value
    and a continuation bit each; from the fourth run on, each is stored as a difference to the run two
    before), refusing characters outside the code and negative runs."""
    counts: list[int] = []
    value, shift = 0, 0
    for char in text:
        code = ord(char) - 48
        if not 0 <= code < 64:
            raise InputError(subject, f"{where} compressed RLE has the character {char!r}, outside '0'..'o'")
        value |= (code & 0x1F) << shift
        shift += 5
        if code & 0x20:
            continue
        if code & 0x10:  # the sign of the last group
            value -= 1 << shift
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            raise InputError(subject, f"{where} compressed RLE has a negative run ({value})")
        counts.append(value)
        value, shift = 0, 0
    if shift:
        raise InputError(subject, f"{where} compressed RLE ends in the middle of a run")
    return counts


def _check_polygons(polygons: list, height: int, width: int, subject: str, where: str) -> None:
    low_x, high_x = -COORDINATE_MARGIN * width, (COORDINATE_MARGIN + 1) * width
    low_y, high_y = -COORDINATE_MARGIN * height, (COORDINATE_MARGIN + 1) * height
    perimeter = 0.0
    for polygon in polygons:
        if not (isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0):
            raise InputError(
                subject, f"{where} has a polygon that is not [x1, y1, x2, y2, ...] with 3+ points"
            )
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in polygon):
            raise InputError(subject, f"{where} has a polygon with a value that is not a number")
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        inside = (
            np.isfinite(points).all()
            and (low_x <= points[:, 0]).all() and (points[:, 0] <= high_x).all()
            and (low_y <= points[:, 1]).all() and (points[:, 1] <= high_y).all()
        )  # fmt: skip
        if not inside:
            raise InputError(
                subject,
                f"{where} has a polygon point outside x {low_x}..{high_x}, y {low_y}..{high_y} "
                f"(within {COORDINATE_MARGIN} image sizes of the {width}x{height} image)",
            )
        perimeter += np.abs(np.diff(points, axis=0, append=points[:1])).sum()
    if perimeter > MAX_PERIMETER * 2 * (height + width):
        raise InputError(
            subject,
            f"{where} has polygons {perimeter:.0f} px long; at most {MAX_PERIMETER} times the image's perimeter",
        )
