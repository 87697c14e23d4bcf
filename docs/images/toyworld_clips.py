"""Draw docs/images/toyworld-clips.png (shown at 2x): one toyworld video of each motion class, every 3rd frame,
each followed by its semantic layout (gripper white, objects red, striker yellow, pad grey).

    python docs/images/toyworld_clips.py
"""

from pathlib import Path

import numpy as np

from ccvs_core.data.toyworld import ToyworldConfig, render_video
from ccvs_core.media import make_grid, write_image

LAYOUT_COLOURS = np.array(
    [[40, 40, 40], [255, 255, 255], [230, 60, 60], [255, 220, 0], [128, 128, 128]], np.uint8
)
CLASSES = ("circle", "zigzag", "line", "still")


def main() -> None:
    config = ToyworldConfig(videos=64, frames=24, size=64, seed=0)
    rows, found = [], {}
    for index in range(config.videos):
        video = render_video(config, index)
        label = video.meta["class"]
        if label in found:
            continue
        found[label] = index
        frames = video.frames[::3]  # [8, S, S, 3]
        rows += [frames, LAYOUT_COLOURS[video.labels[::3]]]
        if set(found) == set(CLASSES):
            break
    grid = make_grid(np.stack(rows), pad=2).repeat(2, axis=0).repeat(2, axis=1)  # 2x, nearest: crisp pixels
    out = Path(__file__).with_name("toyworld-clips.png")
    write_image(out, grid)
    print(
        f"wrote {out} ({grid.shape[1]}x{grid.shape[0]}): rows: {', '.join(f'{c} (v{i:05d})' for c, i in found.items())}"
    )


if __name__ == "__main__":
    main()
