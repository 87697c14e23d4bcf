"""What the control benchmark reads off a toyworld frame: the gripper's centre, the striker's height,
a class map by colour, and a motion class from a gripper track (see docs/toyworld.md for the colours).
Not a script of its own: benchmarks/control_toyworld.py imports it, and runs as

    python benchmarks/control_toyworld.py --work runs/ae-bench

Decoded frames are blurred by the autoencoder, so the colour tests have margins: white is every channel
above 200 (the texture never exceeds 224 and is rarely that bright in all three), yellow is red and
green above 215 and more than 110 above blue (the texture stays at or below 224), the pad is every channel below 50, objects are a channel above 170
with another below 80 (red, green, blue, cyan, magenta) that is not yellow.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("gripper", "object", "pad", "striker")  # the layout plugin's sorted class list (1..4)
MOTIONS = ("circle", "line", "still", "zigzag")


def masks(frame: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks ``[H, W]`` of each kind of shape in a uint8 frame ``[H, W, 3]``."""
    f = frame.astype(np.int16)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    yellow = (np.minimum(r, g) - b > 110) & (np.minimum(r, g) > 215)
    return {
        "gripper": f.min(-1) > 200,
        "striker": yellow,
        "pad": f.max(-1) < 50,
        "object": (f.max(-1) > 170) & (f.min(-1) < 80) & ~yellow,
    }


def class_map(frame: np.ndarray) -> np.ndarray:
    """``[H, W]`` class indices (0 background, then CLASSES) painted in draw order (gripper on top)."""
    m = masks(frame)
    out = np.zeros(frame.shape[:2], dtype=np.int64)
    for name in ("object", "pad", "striker", "gripper"):
        out[m[name]] = CLASSES.index(name) + 1
    return out


def gripper_track(frames: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Gripper centre ``[T, 2]`` (x, y pixel coordinates, centres at +0.5) per frame: the centroid of the
    white pixels, or the previous frame's when none is found (starting from ``start``)."""
    track, last = [], np.asarray(start, dtype=np.float64)
    for frame in frames:
        ys, xs = np.nonzero(masks(frame)["gripper"])
        if len(xs):
            last = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
        track.append(last)
    return np.stack(track)


def striker_tops(frames: np.ndarray, start: float, columns: tuple[int, int], pad_top: int) -> np.ndarray:
    """The striker's top row (``y0`` of its box) per frame: the highest row above the pad where most of
    the striker's ``columns`` are yellow (the top edge survives decoding better than the bottom one,
    which blurs into the black pad; the texture can be yellowish in places), or the previous frame's."""
    x0, x1 = columns
    top = max(0, pad_top - 16)
    out, last = [], float(start)
    for frame in frames:
        region = masks(frame)["striker"][top:pad_top, x0:x1]
        rows = np.nonzero(region.sum(1) > (x1 - x0) // 2)[0]
        if len(rows):
            last = float(rows.min() + top)
        out.append(last)
    return np.array(out)


def track_features(track: np.ndarray) -> np.ndarray:
    """Motion features of a track ``[T, 2]``: path length, straightness (net / path), net turning and
    total absolute turning per frame (a circle turns one way, a zigzag both ways, a line not at all)."""
    steps = np.diff(track, axis=0)
    path = np.linalg.norm(steps, axis=1).sum()
    net = np.linalg.norm(track[-1] - track[0])
    angles = np.arctan2(steps[:, 1], steps[:, 0])
    moving = np.linalg.norm(steps, axis=1) > 0.3
    turns = np.angle(np.exp(1j * np.diff(angles)))[moving[1:] & moving[:-1]]
    turns = turns if len(turns) else np.zeros(1)  # a still track does not turn
    return np.array(
        [path / len(steps), net / max(path, 1e-6), abs(turns.sum()) / len(steps), np.abs(turns).mean()]
    )


def track_speed(track: np.ndarray) -> float:
    """Mean distance (px) a track ``[T, 2]`` moves from one frame to the next."""
    return float(np.linalg.norm(np.diff(track, axis=0), axis=1).mean())


class MotionClassifier:
    """Nearest centroid on standardised ``track_features``, fitted on true tracks."""

    def __init__(self, tracks: list[np.ndarray], labels: list[str]):
        features = np.stack([track_features(t) for t in tracks])
        self.mean, self.scale = features.mean(0), features.std(0) + 1e-6
        normed = (features - self.mean) / self.scale
        self.centroids = {m: normed[[lab == m for lab in labels]].mean(0) for m in sorted(set(labels))}

    def __call__(self, track: np.ndarray) -> str:
        x = (track_features(track) - self.mean) / self.scale
        return min(self.centroids, key=lambda m: np.linalg.norm(x - self.centroids[m]))
