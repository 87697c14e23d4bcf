"""Does a control variant read its state? Teacher-forced loss of the frame tokens at the gripper
against the rest of the frame, on the toyworld test videos (CPU, seconds a variant).

    python benchmarks/gripper_cell_loss.py --work runs/ae-bench                       # none, state
    python benchmarks/gripper_cell_loss.py --runs runs/ae-bench/control-probe/state   # any run

A model that reads the state knows where the gripper is in every frame, so its loss on the tokens in
the gripper's cell and the cells next to it (the worst predicted of a frame) should fall below the
unconditioned model's, while the rest of the frame stays level. Runs are folders of
`ccvs train transformer` (or of benchmarks/control_toyworld.py); each is given the conditions it was
trained with, taken from the test video itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))
from control_toyworld import DATA
from transformer_toyworld import frame_scores

from ccvs_core.data.clips import ClipDataset
from ccvs_core.pipeline import CCVSPipeline

VIDEOS = 40
console = Console()


@torch.no_grad()
def cell_losses(pipeline: CCVSPipeline, data: Path, videos: int) -> tuple[float, float]:
    """(mean loss of the frame tokens within one cell of the true gripper, mean loss of the others),
    frames 1 .. N-1 of the first window of each test video, real tokens before them."""
    layout = pipeline.transformer.layout
    n, (h, w) = layout.num_frames, layout.grid
    clips = ClipDataset(
        data, num_frames=n, size=pipeline.frame_size, split="test", crop="first", with_truth=True
    )
    cell = pipeline.frame_size[0] / h
    rows, columns = np.mgrid[0:h, 0:w]
    near, far = [], []
    for i in range(min(videos, len(clips))):
        clip = clips[i]
        tokens = pipeline.context_tokens(clip.frames)[None]
        raw = {name: c.from_sample(clip) for name, c in pipeline.conditions.items()}
        conditions, targets, _ = pipeline.condition_tokens(raw, n, 1, tokens.device)  # as `generate` does
        logits = pipeline.transformer(layout.join(tokens, conditions), gaps=layout.gap_ids(targets, 1))
        for t in range(1, n):
            loss = torch.nn.functional.cross_entropy(
                frame_scores(layout, logits, t)[0], tokens[0, t].flatten(), reduction="none"
            ).view(h, w)
            x, y = clip.state[t].tolist()
            distance = np.maximum(np.abs((columns + 0.5) * cell - x), np.abs((rows + 0.5) * cell - y))
            mask = torch.from_numpy(distance < cell)
            near.append(loss[mask])
            far.append(loss[~mask])
    return float(torch.cat(near).mean()), float(torch.cat(far).mean())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work", type=Path, default=Path("runs/ae-bench"), help="the stage-1 benchmark's folder"
    )
    parser.add_argument(
        "--runs", type=Path, nargs="*", help="run folders (default: --work/control/{none,state})"
    )
    args = parser.parse_args()
    runs = args.runs or [args.work / "control" / name for name in ("none", "state")]
    for run in runs:
        near, far = cell_losses(CCVSPipeline.from_pretrained(run / "pipeline"), args.work / DATA, VIDEOS)
        console.print(f"{run}: loss at the gripper {near:.3f}, elsewhere {far:.3f}")


if __name__ == "__main__":
    main()

# RESULTS
#
# 2026-11-30 (fifth session), `python benchmarks/gripper_cell_loss.py --work /work/bench/ae` after
# benchmarks/control_toyworld.py (1,500 steps a variant; 2 CPU cores, torch 2.9.1, 8 s):
#
#   /work/bench/ae/control/none: loss at the gripper 2.618, elsewhere 1.478
#   /work/bench/ae/control/state: loss at the gripper 2.620, elsewhere 1.478
#
# The state variant does not read its condition (see control_toyworld.py's RESULTS).
