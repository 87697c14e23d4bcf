"""Semantic layouts as label maps: COCO annotations (polygons, uncompressed or compressed RLE, decoded
with pycocotools) or label PNGs -> ``[T, H, W]`` class maps (0: background, i: the i-th class of the
class list), mapped to the video's frames, and pooled to a coarse token grid.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from ccvs_core import (
    MAX_IMAGE_SIDE,
    FrameGeometry,
    InputError,
    check_png_chunks,
    check_segmentation,
    read_json,
)

MAX_LABELS = 2**30  # class-map pixels of one layout file (1 GiB): its frames are scaled down to the model's


@attrs.frozen(eq=False)
class LayoutMaps:
    """Class maps ``[T, H, W]`` (integers; 0 = background), one per video frame from frame 0."""

    maps: np.ndarray
    source: str = "layout"


def coco_category_names(data: dict[str, Any], source: str) -> dict[int, str]:
    names = {}
    for i, category in enumerate(data.get("categories", [])):
        if not (
            isinstance(category, dict)
            and _integer(category.get("id"))
            and isinstance(category.get("name"), str)
        ):
            raise InputError(source, f"categories[{i}] needs an integer 'id' and a string 'name'")
        names[category["id"]] = category["name"]
    return names


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def segmentation_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """One COCO segmentation (polygons, uncompressed RLE, compressed RLE) -> bool mask ``[H, W]``."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str | bytes):
        counts = segmentation["counts"]
        rle = {"size": segmentation["size"], "counts": counts.encode() if isinstance(counts, str) else counts}
    else:
        raise ValueError("'segmentation' must be polygons or an RLE object")
    with warnings.catch_warnings():  # pycocotools 2.0 warns about numpy 2's copy keyword on every decode
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle).astype(bool)


def coco_maps(
    data: Any, classes: Sequence[str], source: str, frames: dict[int, int] | None = None
) -> LayoutMaps:
    """Class maps from a COCO dict: one per image, in ``frame_index`` order (or the images' order),
    annotations painted in file order (later ones on top, as drawn). ``frames``: image id -> frame
    (overrides ``frame_index``). Categories map to classes by name; a name not in ``classes`` is an error."""
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise InputError(source, "must be a COCO object with 'images', 'annotations' and 'categories' lists")
    names = coco_category_names(data, source)
    index = {name: i + 1 for i, name in enumerate(classes)}
    unknown = sorted({n for n in names.values() if n not in index})
    if unknown:
        raise InputError(
            source, f"has categories {unknown} that are not layout classes ({', '.join(classes) or 'none'})"
        )
    images = data["images"]
    if not images:
        raise InputError(source, "has no images (one per frame)")
    order = {}
    for i, image in enumerate(images):
        if not isinstance(image, dict) or not all(_integer(image.get(k)) for k in ("id", "width", "height")):
            raise InputError(source, f"images[{i}] needs integer 'id', 'width' and 'height'")
        order[image["id"]] = frames[image["id"]] if frames else image.get("frame_index", i)
        if not _integer(order[image["id"]]):
            raise InputError(source, f"images[{i}] 'frame_index' must be an integer")
    if sorted(order.values()) != list(range(len(order))):
        raise InputError(source, "images must cover frames 0, 1, 2, ... once each ('frame_index')")
    height, width = images[0]["height"], images[0]["width"]
    if any((im["height"], im["width"]) != (height, width) for im in images):
        raise InputError(source, "images have different sizes; one layout per frame of one video is expected")
    if not (1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE):
        raise InputError(
            source, f"images are {width}x{height}; sides of 1 to {MAX_IMAGE_SIDE} pixels are read"
        )
    if len(images) * height * width > MAX_LABELS:
        raise InputError(
            source,
            f"{len(images)} images of {width}x{height} need {len(images) * height * width / 2**30:.1f} GiB of "
            f"class maps; at most {MAX_LABELS / 2**30:.0f} GiB are read",
        )
    maps = np.zeros((len(images), height, width), dtype=np.uint8 if len(classes) < 256 else np.int32)
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or _id(ann.get("image_id")) not in order:
            raise InputError(
                source,
                f"annotations[{i}] refers to image {ann.get('image_id') if isinstance(ann, dict) else None!r}, which is not in 'images'",
            )
        if _id(ann.get("category_id")) not in names:
            raise InputError(
                source, f"annotations[{i}] has category {ann.get('category_id')!r}, not in 'categories'"
            )
        check_segmentation(ann.get("segmentation"), height, width, source, f"annotations[{i}]")
        try:
            mask = segmentation_mask(ann.get("segmentation"), height, width)
        except Exception as err:  # pycocotools raises plain Exceptions on malformed input
            raise InputError(
                source, f"annotations[{i}] has a segmentation pycocotools cannot decode ({err})"
            ) from err
        if mask.shape != (height, width):
            raise InputError(
                source,
                f"annotations[{i}] segmentation is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}",
            )
        maps[order[ann["image_id"]]][mask] = index[names[ann["category_id"]]]
    return LayoutMaps(maps, source)


def read_coco_file(path: str | os.PathLike, classes: Sequence[str]) -> LayoutMaps:
    path = Path(path)
    return coco_maps(read_json(path), classes, str(path))


def read_label_pngs(folder: str | os.PathLike, classes: Sequence[str]) -> LayoutMaps:
    """A folder of single-channel label PNGs, one per frame in name order; pixel value i is class i
    (0: background, i: the i-th class of the class list)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.png"))
    if not files:
        raise InputError(folder, "holds no label PNGs")
    maps = []
    for file in files:
        check_png_chunks(file)  # before PIL allocates what a damaged chunk claims
        try:
            with Image.open(file) as image:
                if image.mode not in ("L", "P", "I", "I;16"):
                    raise InputError(
                        file, f"is a {image.mode} image; label PNGs are single-channel (class per pixel)"
                    )
                maps.append(np.asarray(image, dtype=np.int64))
        except InputError:
            raise
        except Exception as err:
            raise InputError(file, f"cannot be read as an image ({err})") from err
        if maps[-1].shape != maps[0].shape:
            raise InputError(
                file,
                f"is {maps[-1].shape[1]}x{maps[-1].shape[0]}, the first label PNG {maps[0].shape[1]}x{maps[0].shape[0]}",
            )
        if maps[-1].max() > len(classes):
            raise InputError(
                file,
                f"has label {int(maps[-1].max())}; the layout classes are 1..{len(classes)} ({', '.join(classes)})",
            )
    return LayoutMaps(np.stack(maps), str(folder))


def fit_to_frame(maps: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Maps ``[T, h, w]`` -> ``[T, H, W]`` the way context frames are: scaled to cover, centre-cropped
    (nearest neighbour: classes are not blended)."""
    if tuple(maps.shape[1:]) == tuple(frame_size):
        return maps
    geometry = FrameGeometry.cover(tuple(maps.shape[1:]), tuple(frame_size))
    sh, sw = geometry.scaled
    rows = np.minimum(
        (np.arange(frame_size[0]) + geometry.top + 0.5) * maps.shape[1] / sh, maps.shape[1] - 1
    ).astype(int)
    cols = np.minimum(
        (np.arange(frame_size[1]) + geometry.left + 0.5) * maps.shape[2] / sw, maps.shape[2] - 1
    ).astype(int)
    return maps[:, rows][:, :, cols]


def pool_to_grid(maps: np.ndarray, grid: tuple[int, int], num_classes: int, min_cover: float) -> np.ndarray:
    """Class maps ``[T, H, W]`` -> one class per cell of a ``grid`` ``[T, gh, gw]``: the most common
    non-background class of the cell when it covers at least ``min_cover`` of it, else background
    (small objects would never win a plain majority against the background)."""
    t, height, width = maps.shape
    gh, gw = grid
    cell_rows = np.arange(height) * gh // height
    cell_cols = np.arange(width) * gw // width
    cell = (cell_rows[:, None] * gw + cell_cols[None, :]).ravel()  # [H*W] cell of each pixel
    counts = np.zeros((t, gh * gw, num_classes + 1), dtype=np.int64)
    flat = maps.reshape(t, -1)
    for frame in range(t):
        np.add.at(counts[frame], (cell, flat[frame]), 1)
    sizes = counts.sum(-1, keepdims=True)
    foreground = counts[..., 1:]
    best = foreground.argmax(-1) + 1
    cover = np.take_along_axis(counts, best[..., None], -1) / np.maximum(sizes, 1)
    return np.where(cover[..., 0] >= min_cover, best, 0).reshape(t, gh, gw)


def unpool(tokens: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Grid classes ``[T, gh, gw]`` -> class maps ``[T, H, W]`` (each cell painted whole)."""
    _, gh, gw = tokens.shape
    rows = np.arange(frame_size[0]) * gh // frame_size[0]
    cols = np.arange(frame_size[1]) * gw // frame_size[1]
    return tokens[:, rows][:, :, cols]


def mean_iou(predicted: np.ndarray, truth: np.ndarray, num_classes: int) -> float:
    """Mean intersection over union of the classes present in either map (background included)."""
    scores = []
    for c in range(num_classes + 1):
        a, b = predicted == c, truth == c
        union = np.logical_or(a, b).sum()
        if union:
            scores.append(np.logical_and(a, b).sum() / union)
    return float(np.mean(scores))


def palette(num_classes: int) -> np.ndarray:
    """uint8 colours ``[num_classes + 1, 3]``: black background, then evenly spaced bright hues."""
    hues = np.arange(num_classes) / max(1, num_classes)
    k = (np.array([5, 3, 1])[None] + hues[:, None] * 6) % 6  # HSV -> RGB with saturation = value = 1
    rgb = 1 - np.clip(np.minimum(k, 4 - k), 0, 1)
    return np.round(np.concatenate([np.zeros((1, 3)), rgb]) * 255).astype(np.uint8)


def _id(value: Any) -> Any:
    """An annotation's id as a lookup key: a list or an object (unhashable) matches no id."""
    return value if isinstance(value, int | str | float | None) else None
