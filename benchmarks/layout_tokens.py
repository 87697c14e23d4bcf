"""How much of a layout the layout condition's parameterless tokens keep: toyworld's true class maps
(from layout.json, at 64 x 64) pooled to a token grid and painted back, scored by mean IoU against the
full-resolution map, for several grids and cover thresholds — the measured comparison behind the
plugin's default (8 x 8 cells, min_cover 0.25).

    python benchmarks/layout_tokens.py --data data/toyworld --videos 100

Last printed (toyworld seed 0, 100 videos x 32 frames, 64 x 64): see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from ccvs_plugin_layout.maps import coco_maps, mean_iou, pool_to_grid, unpool
from rich.console import Console
from rich.table import Table

from ccvs_core.data.format import list_video_folders, read_json

GRIDS = ((4, 4), (8, 8), (16, 16))
COVERS = (0.5, 0.25, 0.1)
CLASSES = ("gripper", "object", "pad", "striker")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("data/toyworld"), help="a toyworld dataset")
    parser.add_argument("--videos", type=int, default=100, help="videos to score")
    args = parser.parse_args()
    start = time.monotonic()
    maps = [
        coco_maps(read_json(folder / "layout.json"), CLASSES, str(folder)).maps
        for folder in list_video_folders(args.data)[: args.videos]
    ]
    maps = np.concatenate(maps)  # [frames, H, W]
    size = maps.shape[1:]
    table = Table(
        title=f"layout tokens: mean IoU of the painted-back grid ({len(maps)} frames, {size[1]}x{size[0]})"
    )
    table.add_column("grid")
    table.add_column("tokens / frame", justify="right")
    for cover in COVERS:
        table.add_column(f"mIoU, min_cover {cover}", justify="right")
    for grid in GRIDS:
        row = [f"{grid[0]}x{grid[1]}", str(grid[0] * grid[1])]
        for cover in COVERS:
            painted = unpool(pool_to_grid(maps, grid, len(CLASSES), cover), size)
            scores = [mean_iou(p, t, len(CLASSES)) for p, t in zip(painted, maps, strict=True)]
            row.append(f"{np.mean(scores):.3f}")
        table.add_row(*row)
    Console().print(table)
    Console().print(f"{time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()

RESULTS = """
python benchmarks/layout_tokens.py --data /work/bench/ae/toyworld --videos 100   (2026-11-25, 7.3 s)

     layout tokens: mean IoU of the painted-back grid (3200 frames, 64x64)
 grid   tokens / frame  mIoU, min_cover 0.5  mIoU, min_cover 0.25  mIoU, min_cover 0.1
 4x4                16                0.190                 0.249                0.274
 8x8                64                0.354                 0.459                0.448
 16x16             256                0.631                 0.611                0.565

What it says: at the default 64 tokens per frame (8 x 8), letting an object own a cell from a quarter
of its pixels keeps more of the layout (mIoU 0.459) than a plain majority (~min_cover 0.5: 0.354):
toyworld's gripper and striker are smaller than a cell. 16 x 16 keeps much more (0.61-0.63) but costs 4x
the sequence; a learned layout autoencoder (the authors' unused code path) is not built.
"""
