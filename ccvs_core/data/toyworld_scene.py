"""Toyworld's hidden variables: the camera path, the gripper's trajectory, the pushed objects and the
striker's schedule. Everything here is geometry in pixels; ``toyworld_render`` turns it into images.

Coordinates follow the dataset format: ``x`` to the right, ``y`` down, the centre of pixel (row i,
column j) at ``(j + 0.5, i + 0.5)``. The camera offset ``c_t`` (integers) maps the screen to the world:
``world = screen + c_t``, so background content moves by ``-(c_{t1} - c_{t0})`` between two frames.
Positions are multiples of 1/64 pixel, so that JSON holds them exactly and rendering from
``truth.json`` reproduces every pixel.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

CLASSES = ("circle", "zigzag", "line", "still")
SHAPES = ("disk", "square")
QUANTUM = 64  # positions are multiples of 1 / QUANTUM pixel
PUSH_GAP = 1 / 32  # a pushed object stops this far from the gripper (> the rounding to 1 / QUANTUM)


def quantize(values: np.ndarray | float) -> np.ndarray:
    """Round pixel positions to the nearest multiple of 1 / QUANTUM."""
    return np.round(np.asarray(values, dtype=np.float64) * QUANTUM) / QUANTUM


@attrs.frozen
class Geometry:
    """Sizes and fixed places of a world of ``size`` x ``size`` pixels (scaled from 64 x 64)."""

    size: int
    gripper_radius: float
    object_size: tuple[float, float]  # range of an object's radius (disk) or half side (square)
    pad: tuple[int, int, int, int]  # x0, y0, x1, y1: pixel columns x0..x1-1, rows y0..y1-1
    striker_width: int
    striker_height: int
    striker_lift: int  # gap between striker and pad when raised (half of it next to a hit)
    workspace: tuple[float, float, float, float]  # x0, y0, x1, y1: where the gripper's centre may go

    @classmethod
    def for_size(cls, size: int) -> Geometry:
        unit = size / 64
        gripper = max(2.5, round(10 * unit) / 2)
        margin = max(1, round(2 * unit))
        pad_w, pad_h = max(6, round(14 * unit)), max(2, round(3 * unit))
        x1, y1 = size - margin, size - margin
        pad = (x1 - pad_w, y1 - pad_h, x1, y1)
        # at 32 px a token cell is 8 px: a striker that moves 2 px inside one cell decodes at one height
        # whatever the truth (benchmarks/striker_visibility.py); raised, this one leaves its hit cell
        width, height, lift = max(4, round(4 * unit)), max(5, round(6 * unit)), max(4, round(4 * unit))
        striker_top = pad[1] - lift - height  # the gripper stays above it: it never hides a hit
        return cls(
            size=size,
            gripper_radius=gripper,
            object_size=(max(2.0, 3.5 * unit), max(2.5, 6.5 * unit)),
            pad=pad,
            striker_width=width,
            striker_height=height,
            striker_lift=lift,
            workspace=(gripper + 1, gripper + 1, size - gripper - 1, striker_top - gripper - 1),
        )


@attrs.frozen(eq=False)
class SceneObject:
    """A pushable object: its shape, size and colour, and its world position per frame."""

    shape: str  # "disk" or "square"
    radius: float  # radius of a disk, half side of a square
    colour: tuple[int, int, int]
    world: np.ndarray  # [T, 2] float (x, y), world pixels
    pushed: list[int]  # frames at which the gripper moved it


@attrs.frozen(eq=False)
class Scene:
    """All hidden variables of one video."""

    geometry: Geometry
    camera: np.ndarray  # [T, 2] int (x, y): world position of the screen's top-left corner
    motion_class: str
    motion: dict  # the trajectory's parameters (class-specific, JSON-ready)
    gripper: np.ndarray  # [T, 2] float (x, y), screen pixels
    objects: list[SceneObject]
    striker: np.ndarray  # [T, 4] int: x0, y0, x1, y1 per frame
    hit_frames: list[int]


def camera_path(rng: np.random.Generator, frames: int, period: int, max_speed: float) -> np.ndarray:
    """A smooth pan: constant velocity plus a sideways sine wobble, rounded to whole pixels.

    Returns ``[T, 2]`` int64 offsets (x, y); integer offsets make the background flow exact."""
    start = rng.integers(0, period, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(0.25, 1.0) * max_speed
    wobble, freq, phase = rng.uniform(0, 2), rng.uniform(0.1, 0.3), rng.uniform(0, 2 * math.pi)
    t = np.arange(frames)[:, None]  # [T, 1]
    along = np.array([math.cos(angle), math.sin(angle)])
    across = np.array([-along[1], along[0]])
    path = start + speed * t * along + wobble * np.sin(freq * t + phase) * across  # [T, 2]
    return np.round(path).astype(np.int64)


def gripper_path(rng: np.random.Generator, motion_class: str, frames: int, box) -> tuple[np.ndarray, dict]:
    """The gripper's screen trajectory ``[T, 2]`` of one motion class, inside ``box`` (x0, y0, x1, y1),
    and its parameters (the positions are the trajectory they describe, rounded to 1 / QUANTUM)."""
    t = np.arange(frames, dtype=np.float64)[:, None]  # [T, 1]
    x0, y0, x1, y1 = box
    extent = min(x1 - x0, y1 - y0)
    if motion_class == "still":
        point = quantize(_point_in(rng, box))
        return np.repeat(point[None], frames, axis=0), {"position": point.tolist()}
    if motion_class == "circle":
        radius = rng.uniform(0.5, 0.95) * extent / 2
        centre = _point_in(rng, (x0 + radius, y0 + radius, x1 - radius, y1 - radius))
        speed = rng.uniform(0.15, 0.45) * rng.choice([-1.0, 1.0])  # radians per frame
        phase = rng.uniform(0, 2 * math.pi)
        angle = speed * t + phase
        path = centre + radius * np.concatenate([np.cos(angle), np.sin(angle)], axis=1)
        motion = {"centre": centre.tolist(), "radius": radius, "angular_speed": speed, "phase": phase}
        return quantize(path), motion
    if motion_class == "line":
        start, end = _segment(rng, box)
        path = start + (end - start) * t / max(frames - 1, 1)
        return quantize(path), {"start": start.tolist(), "end": end.tolist()}
    if motion_class == "zigzag":
        amplitude = rng.uniform(0.12, 0.22) * extent
        start, end = _segment(rng, (x0 + amplitude, y0 + amplitude, x1 - amplitude, y1 - amplitude))
        period, phase = rng.uniform(4, 8), rng.uniform(0, 1)  # frames per zig-zag, its phase
        direction = (end - start) / max(np.linalg.norm(end - start), 1e-9)
        normal = np.array([-direction[1], direction[0]])
        s = t / period + phase
        wave = 4 * np.abs(s - np.floor(s + 0.5)) - 1  # triangle wave in [-1, 1]
        path = start + (end - start) * t / max(frames - 1, 1) + amplitude * wave * normal
        motion = {
            "start": start.tolist(),
            "end": end.tolist(),
            "amplitude": amplitude,
            "period": period,
            "phase": phase,
        }
        return quantize(path), motion
    raise ValueError(f"unknown motion class {motion_class!r}")


def _point_in(rng: np.random.Generator, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])


def _segment(rng: np.random.Generator, box, tries: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Two points in ``box`` at least 40 % of its smaller side apart (the farthest of a few tries)."""
    start = _point_in(rng, box)
    need = 0.4 * min(box[2] - box[0], box[3] - box[1])
    best = start
    for _ in range(tries):
        end = _point_in(rng, box)
        if np.linalg.norm(end - start) > np.linalg.norm(best - start):
            best = end
        if np.linalg.norm(best - start) >= need:
            break
    return start, best


def touch_distance(shape: str, radius: float, gripper_radius: float, direction: np.ndarray) -> float:
    """Centre distance along unit ``direction`` (gripper -> object) at which the gripper disk and
    the object just touch."""
    if shape == "disk":
        return radius + gripper_radius
    # Square of half side h: the gripper's centre is at distance r from the square when
    # |max(L|u| - h, 0)| = r; solve for L, the larger component first.
    a, b = sorted(np.abs(direction).tolist(), reverse=True)
    h, r = radius, gripper_radius
    along = (h + r) / a
    if along * b <= h:  # only the larger axis separates them
        return along
    return h * (a + b) + math.sqrt(max(h * h * (a + b) ** 2 - (2 * h * h - r * r), 0.0))


def push(position: np.ndarray, shape: str, radius: float, gripper: np.ndarray, gripper_radius: float):
    """Kinematic push: if the gripper overlaps (or touches) the object, move the object out along
    the centre-to-centre direction until they just touch, PUSH_GAP apart. Returns the new position
    and whether it moved."""
    offset = position - gripper
    distance = float(np.hypot(*offset))
    direction = offset / distance if distance > 0 else np.array([1.0, 0.0])
    touch = touch_distance(shape, radius, gripper_radius, direction)
    if distance >= touch + PUSH_GAP / 4:  # apart (a pushed object stays PUSH_GAP +- rounding away)
        return position, False
    moved = quantize(gripper + (touch + PUSH_GAP) * direction)
    return moved, bool((moved != position).any())


def place_objects(rng, geometry: Geometry, gripper: np.ndarray, camera: np.ndarray, count: int, colours):
    """Choose each object's shape, size, colour and start position (world pixels).

    An object is put beside the gripper's world position at a random later frame, so that most
    objects get pushed; a start overlapping the gripper or another object is re-drawn (after 20
    tries anywhere in the first view)."""
    frames = len(gripper)
    gripper_world = gripper + camera  # [T, 2]
    placed: list[dict] = []
    low, high = geometry.object_size
    for k in range(count):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        radius = float(np.round(rng.uniform(low, high) * 2) / 2)
        for attempt in range(40):
            if attempt < 20:  # in the gripper's way at a later frame
                meet = gripper_world[int(rng.integers(min(1, frames - 1), frames))]
                angle = rng.uniform(0, 2 * math.pi)
                reach = (geometry.gripper_radius + radius) * rng.uniform(0.3, 1.0)
                start = quantize(meet + reach * np.array([math.cos(angle), math.sin(angle)]))
            else:  # anywhere in the first frame's view
                start = quantize(camera[0] + rng.uniform(radius, geometry.size - radius, size=2))
            if _free(start, radius, gripper_world[0], geometry.gripper_radius, placed):
                break
        placed.append({"shape": shape, "radius": radius, "colour": tuple(colours[k]), "start": start})
    return placed


def _free(point, radius, gripper, gripper_radius, placed) -> bool:
    """Whether a shape's bounding circle at ``point`` clears the gripper and the objects placed."""
    bound = radius * math.sqrt(2)
    if np.hypot(*(point - gripper)) < bound + gripper_radius + 1:
        return False
    return all(
        np.hypot(*(point - other["start"])) >= bound + other["radius"] * math.sqrt(2) + 1 for other in placed
    )


def simulate_objects(
    placed: list[dict], gripper_world: np.ndarray, gripper_radius: float
) -> list[SceneObject]:
    """Run the pushes frame by frame (objects only react to the gripper, not to each other)."""
    frames = len(gripper_world)
    positions = [np.asarray(p["start"], dtype=np.float64) for p in placed]
    tracks = [np.zeros((frames, 2)) for _ in placed]  # [T, 2] each
    pushed: list[list[int]] = [[] for _ in placed]
    for t in range(frames):
        for k, spec in enumerate(placed):
            positions[k], moved = push(
                positions[k], spec["shape"], spec["radius"], gripper_world[t], gripper_radius
            )
            tracks[k][t] = positions[k]
            if moved:
                pushed[k].append(t)
    return [
        SceneObject(shape=p["shape"], radius=p["radius"], colour=p["colour"], world=track, pushed=moves)
        for p, track, moves in zip(placed, tracks, pushed, strict=True)
    ]


def striker_boxes(geometry: Geometry, frames: int, hit_frames: list[int]) -> np.ndarray:
    """The striker's box ``[T, 4]`` (x0, y0, x1, y1): on the pad at hit frames, half raised just
    before and after a hit, fully raised otherwise."""
    hits = np.zeros(frames + 2, dtype=bool)  # padded by one frame on each side
    hits[np.asarray(hit_frames, dtype=np.int64) + 1] = True
    near = hits[:-2] | hits[2:]  # [T]: a hit at t - 1 or t + 1
    lift = geometry.striker_lift
    gap = np.where(hits[1:-1], 0, np.where(near, max(1, lift // 2), lift))  # [T]
    pad_x0, pad_y0, pad_x1, _ = geometry.pad
    x0 = pad_x0 + (pad_x1 - pad_x0 - geometry.striker_width) // 2
    y1 = pad_y0 - gap
    boxes = np.stack(
        [np.full(frames, x0), y1 - geometry.striker_height, np.full(frames, x0 + geometry.striker_width), y1],
        axis=1,
    )
    return boxes.astype(np.int64)
