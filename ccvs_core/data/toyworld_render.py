"""Toyworld's pictures: the tileable background texture, hard-edged shapes drawn over it for all
frames at once, and the per-frame COCO layouts of what is visible.

Colours: the texture keeps every channel within [32, 224]; every shape's colour is made of 0 and 255
channel values, one colour per category and per object, so each shape's pixels can be found by colour.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ccvs_core.data import coco_rle
from ccvs_core.data.format import FRAMES_DIR, frame_name
from ccvs_core.data.toyworld_scene import Scene

TEXTURE_RANGE = (32, 224)  # inclusive range of every background channel
GRIPPER_COLOUR = (255, 255, 255)
PAD_COLOUR = (0, 0, 0)
STRIKER_COLOUR = (255, 255, 0)
OBJECT_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 255, 255), (255, 0, 255))
GRIPPER, OBJECT, STRIKER, PAD = 1, 2, 3, 4  # layout.json category ids, also the label map's (0 = background)
CATEGORIES = (
    {"id": GRIPPER, "name": "gripper"},
    {"id": OBJECT, "name": "object"},
    {"id": STRIKER, "name": "striker"},
    {"id": PAD, "name": "pad"},
)


def make_texture(rng: np.random.Generator, period: int) -> np.ndarray:
    """A tileable texture ``[P, P, 3]`` uint8: smooth periodic colour waves plus sharp-edged
    rectangles (wrapping around the edges), every channel within TEXTURE_RANGE."""
    coords = np.arange(period) / period  # [P]
    texture = np.empty((period, period, 3))
    for channel in range(3):
        field = np.zeros((period, period))
        for _ in range(3):  # sin(a + b) = sin a cos b + cos a sin b: outer products, no [P, P] sines
            fx, fy = rng.integers(-2, 3, size=2)
            fx = fx if fx or fy else 1
            phase = rng.uniform(0, 2 * math.pi)
            ax, ay = 2 * math.pi * fx * coords + phase, 2 * math.pi * fy * coords
            wave = np.outer(np.cos(ay), np.sin(ax)) + np.outer(np.sin(ay), np.cos(ax))  # [P, P]
            field += rng.uniform(0.5, 1.0) * wave
        texture[..., channel] = rng.uniform(96, 160) + 64 * field / 3
    rects = 6 + round(30 * (period / 256) ** 2)
    for _ in range(rects):
        height, width = rng.integers(period // 32 + 1, period // 8 + 2, size=2)
        top, left = rng.integers(0, period, size=2)
        rows, cols = (top + np.arange(height)) % period, (left + np.arange(width)) % period
        texture[np.ix_(rows, cols)] = rng.integers(TEXTURE_RANGE[0], TEXTURE_RANGE[1] + 1, size=3)
    return np.clip(np.round(texture), *TEXTURE_RANGE).astype(np.uint8)


def background(texture: np.ndarray, camera: np.ndarray, size: int) -> np.ndarray:
    """The camera's views of the texture ``[T, S, S, 3]``: pixel (i, j) of frame t shows texel
    ``((i + c_y) mod P, (j + c_x) mod P)``."""
    period = texture.shape[0]
    grid = np.arange(size)
    rows = (grid[None, :] + camera[:, 1:2]) % period  # [T, S]
    cols = (grid[None, :] + camera[:, 0:1]) % period  # [T, S]
    return texture[rows[:, :, None], cols[:, None, :]]  # [T, S, S, 3]


def disk_masks(centres: np.ndarray, radius: float, size: int) -> np.ndarray:
    """Pixels whose centre lies strictly inside a disk, per frame: ``[T, S, S]`` bool."""
    grid = np.arange(size) + 0.5
    dx = grid[None, None, :] - centres[:, 0, None, None]  # [T, 1, S]
    dy = grid[None, :, None] - centres[:, 1, None, None]  # [T, S, 1]
    return dx * dx + dy * dy < radius * radius


def square_masks(centres: np.ndarray, half: float, size: int) -> np.ndarray:
    """Pixels whose centre lies strictly inside an axis-aligned square, per frame: ``[T, S, S]`` bool."""
    grid = np.arange(size) + 0.5
    inside_x = np.abs(grid[None, None, :] - centres[:, 0, None, None]) < half  # [T, 1, S]
    inside_y = np.abs(grid[None, :, None] - centres[:, 1, None, None]) < half  # [T, S, 1]
    return inside_x & inside_y


def box_masks(boxes: np.ndarray, size: int) -> np.ndarray:
    """Pixels of integer boxes (x0, y0, x1, y1: columns x0..x1-1, rows y0..y1-1): ``[T, S, S]`` bool."""
    x, y = np.arange(size)[None, None, :], np.arange(size)[None, :, None]  # [1, 1, S], [1, S, 1]
    x0, y0, x1, y1 = (boxes[:, k, None, None] for k in range(4))  # [T, 1, 1] each
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def draw(scene: Scene, texture: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[int, tuple]]]:
    """Render the frames.

    Returns frames ``[T, S, S, 3]`` uint8, the instance map ``[T, S, S]`` uint8 (0 = background,
    then instances in draw order: objects, pad, striker, gripper) and, per instance id - 1, its
    (category id, colour)."""
    geometry = scene.geometry
    size, frames = geometry.size, len(scene.camera)
    layers: list[tuple[np.ndarray, int, tuple]] = []  # bottom to top
    for item in scene.objects:
        screen = item.world - scene.camera  # [T, 2]
        masks = (disk_masks if item.shape == "disk" else square_masks)(screen, item.radius, size)
        layers.append((masks, OBJECT, item.colour))
    pad = np.broadcast_to(np.asarray(geometry.pad), (frames, 4))
    layers.append((box_masks(pad, size), PAD, PAD_COLOUR))
    layers.append((box_masks(scene.striker, size), STRIKER, STRIKER_COLOUR))
    layers.append((disk_masks(scene.gripper, geometry.gripper_radius, size), GRIPPER, GRIPPER_COLOUR))

    instances = np.zeros((frames, size, size), dtype=np.uint8)
    for index, (masks, _, _) in enumerate(layers, start=1):
        instances[masks] = index  # later layers cover earlier ones
    palette = np.array([(0, 0, 0)] + [colour for _, _, colour in layers], dtype=np.uint8)  # [N + 1, 3]
    images = np.where(instances[..., None] > 0, palette[instances], background(texture, scene.camera, size))
    return images, instances, [(category, colour) for _, category, colour in layers]


def semantic_labels(instances: np.ndarray, table: list[tuple[int, tuple]]) -> np.ndarray:
    """Map instance ids to category ids: ``[T, S, S]`` uint8, 0 = background."""
    lookup = np.array([0] + [category for category, _ in table], dtype=np.uint8)
    return lookup[instances]


def coco_layout(instances: np.ndarray, table: list[tuple[int, tuple]]) -> dict[str, Any]:
    """The COCO layout of every frame: one annotation per visible instance, in draw order, its
    segmentation an uncompressed RLE of the visible pixels, with bbox and area."""
    frames, height, width = instances.shape
    boxes, areas = coco_rle.label_boxes(instances, len(table))  # [T, N, 4], [T, N]
    images, annotations = [], []
    for t in range(frames):
        image_id = t + 1
        images.append(
            {"id": image_id, "file_name": f"{FRAMES_DIR}/{frame_name(t)}", "width": width, "height": height}
            | {"frame_index": t}
        )
        for label, rle in coco_rle.encode_labels(instances[t]).items():
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": table[label - 1][0],
                    "segmentation": rle,
                    "area": int(areas[t, label - 1]),
                    "bbox": boxes[t, label - 1].tolist(),
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": annotations, "categories": [dict(c) for c in CATEGORIES]}
