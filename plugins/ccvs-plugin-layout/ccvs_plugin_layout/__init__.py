"""ccvs condition 'layout': a semantic layout per frame (Appendix E "Layout-conditioned synthesis",
Table D2, Fig. D1/D2).

Layouts come as COCO annotations (polygons or RLE, decoded with pycocotools) or as a folder of label
PNGs, one per frame. Tokens use a parameterless scheme (documented in README.md, with its measured
fidelity): the class map is fitted to the frame like a context image, then pooled to a coarse grid
(default 8 x 8) where each cell holds its dominant object class — the class list, learnt from the
training layouts' category names, is the vocabulary (0: background). The slot is predicted: a
pipeline trained with it can also be asked for videos without a layout, and samples one (Fig. D2).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ccvs_core import (
    Clip,
    Condition,
    ConditionContext,
    Config,
    InputError,
    Slot,
    Timeline,
    at_least,
    in_range,
    read_json,
)
from ccvs_plugin_layout.maps import (
    LayoutMaps,
    coco_maps,
    fit_to_frame,
    palette,
    pool_to_grid,
    read_coco_file,
    read_label_pngs,
    unpool,
)

__version__ = "0.3.0"


@attrs.frozen(kw_only=True)
class LayoutConfig(Config):
    grid: tuple[int, int] = attrs.field(
        default=(8, 8), validator=at_least(1)
    )  # layout tokens per frame (h, w)
    classes: tuple[str, ...] = ()  # layout classes, token i + 1 (learnt from the training layouts)
    min_cover: float = attrs.field(
        default=0.25, validator=in_range(0, 1)
    )  # of a cell, for an object to own it


class LayoutCondition(Condition):
    """One frame-level slot ``tokens``: gh x gw cells per frame, each a class index (0: background)."""

    config_class = LayoutConfig

    def slots(self) -> list[Slot]:
        gh, gw = self.config.grid
        return [Slot("frame", gh * gw, len(self.config.classes) + 1, predicted=True)]

    def prepare(self, videos: Sequence[Any], context: ConditionContext) -> None:
        """Learn the class list from the training layouts' category names, unless the config gives it."""
        if self.config.classes:
            return
        names = set()
        for record in videos:
            if record.layout_path is not None:
                data = read_json(record.layout_path)
                names |= {str(c.get("name")) for c in data.get("categories", []) if isinstance(c, dict)}
        if not names:
            raise InputError("training videos", "none has a layout.json (the layout condition needs them)")
        self.config = self.config.replace(classes=tuple(sorted(names)))

    def parse(self, spec: str, options: Any) -> LayoutMaps:
        """A COCO annotation file (one image per frame), or a folder of label PNGs."""
        path = Path(spec)
        if path.is_dir():
            return read_label_pngs(path, self.config.classes)
        if not path.is_file():
            raise InputError(
                f"--cond layout:{spec}", "not found (give a COCO JSON file or a folder of label PNGs)"
            )
        return read_coco_file(path, self.config.classes)

    def from_sample(self, clip: Clip) -> LayoutMaps:
        if clip.layout is None:
            raise InputError(
                f"video '{clip.video_id}'", "has no layout.json (the layout condition needs one)"
            )
        layout = clip.layout
        frames = {im["id"]: im["clip_index"] for im in layout["images"]}
        maps = coco_maps(layout, self.config.classes, f"video '{clip.video_id}' layout.json", frames)
        return LayoutMaps(fit_to_frame(maps.maps, tuple(clip.frames.shape[1:3])), maps.source)

    def decode(self, tokens: dict[str, torch.Tensor]) -> np.ndarray:
        """Predicted tokens ``{"tokens": [S, T, gh * gw]}`` -> uint8 colour pictures ``[S, T, H, W, 3]``
        of the class maps at the frame size (background black)."""
        return palette(len(self.config.classes))[self.class_maps(tokens)]

    def class_maps(self, tokens: dict[str, torch.Tensor]) -> np.ndarray:
        """Predicted tokens ``{"tokens": [S, T, gh * gw]}`` -> class maps ``[S, T, H, W]`` at the frame size."""
        grid = tokens["tokens"].cpu().numpy().reshape(*tokens["tokens"].shape[:2], *self.config.grid)
        return np.stack([unpool(video, self.context.frame_size) for video in grid])

    def tokenize(self, raw: LayoutMaps, timeline: Timeline) -> dict[str, torch.Tensor]:
        if not isinstance(raw, LayoutMaps):
            raise InputError("layout", f"expects LayoutMaps, got {type(raw).__name__}")
        end = timeline.start_frame + timeline.num_frames
        if raw.maps.shape[0] < end:
            raise InputError(raw.source, f"has layouts for {raw.maps.shape[0]} frames, the video needs {end}")
        maps = fit_to_frame(raw.maps[timeline.start_frame : end], self.context.frame_size)
        grid = pool_to_grid(maps, self.config.grid, len(self.config.classes), self.config.min_cover)
        return {"tokens": torch.from_numpy(np.ascontiguousarray(grid.reshape(timeline.num_frames, -1)))[None]}
