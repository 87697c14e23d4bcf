"""What a target slot's training rows cost next to the frame tokens of the same video, on 2 CPU cores.

    python benchmarks/target_rows_cost.py --videos 3

The core makes a target slot's rows (the end frame's) generically: row e is what the condition's
``tokenize`` makes of the same video ending at frame e, so the end frame encodes each of a video's
frames once more, one at a time, where the frame token cache encodes them in batches. Both are done
once per training video and cached. Toyworld videos of 32 frames at 64 x 64, the `toyworld` preset's
autoencoder (random weights: the cost does not depend on them).

Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ccvs_core import get_condition
from ccvs_core.conditioning import condition_context
from ccvs_core.config import AutoencoderConfig
from ccvs_core.data.clips import ClipDataset
from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.training.conditions import video_tokens
from ccvs_core.training.token_cache import tokenize_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    autoencoder = FlowAutoencoder(AutoencoderConfig()).eval()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "toyworld"
        generate_toyworld(
            ToyworldConfig(videos=args.videos, frames=32, size=64, max_pan_speed=1.5),
            data,
            workers=1,
            progress=False,
        )
        clips = ClipDataset(data, num_frames=32, size=64, split=None, crop="first")
        endframe = get_condition("endframe")()
        context = condition_context(autoencoder, (64, 64), clips[0].fps)
        endframe.context = context
        endframe.prepare(clips.videos, context)
        print("video  frame tokens (s)  end frame rows (s)  ratio")
        for v in range(len(clips.videos)):
            clip = clips.video_clip(v)
            start = time.perf_counter()
            tokenize_video(autoencoder, clip.frames)
            frames = time.perf_counter() - start
            start = time.perf_counter()
            video_tokens(endframe, clip)
            rows = time.perf_counter() - start
            print(f"{v:5d}  {frames:16.3f}  {rows:18.3f}  {rows / frames:5.2f}")


if __name__ == "__main__":
    main()


RESULTS = """
2026-12-02, `python benchmarks/target_rows_cost.py --videos 4` (2 CPU cores, torch 2.9.1, idle machine):

video  frame tokens (s)  end frame rows (s)  ratio
    0             0.107               0.174   1.63
    1             0.106               0.214   2.01
    2             0.105               0.169   1.61
    3             0.103               0.129   1.25

About 0.17 s a video, once: some 7 minutes for the 2,400 videos of the control benchmark's toyworld.
"""
