"""Does a control variant read its condition? Teacher-forced loss of the frame tokens at the object the
condition steers against the rest of the frame, on the toyworld test videos (CPU, seconds a variant).

    python benchmarks/object_cell_loss.py --work runs/ae-bench                        # none, state: gripper
    python benchmarks/object_cell_loss.py --work runs/ae-bench --object striker       # none, audio
    python benchmarks/object_cell_loss.py --runs runs/ae-bench/control/layout         # any run

A model that reads the state knows where the gripper is in every frame, one that reads the sound
knows when the striker is down, so its loss on the tokens in the object's cells and the cells next
to it should fall below the unconditioned model's, while the rest of the frame stays level. Runs
are folders of `ccvs train transformer` (or of benchmarks/control_toyworld.py); each is given the
conditions it was trained with, taken from the test video itself.
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
def cell_losses(
    pipeline: CCVSPipeline, data: Path, videos: int, thing: str = "gripper"
) -> tuple[float, float]:
    """(mean loss of the frame tokens within one cell of ``thing`` — the gripper's centre, or any
    cell the striker's box overlaps —, mean loss of the others), frames 1 .. N-1 of the first window
    of each test video, real tokens before them."""
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
            if thing == "gripper":
                x0, y0 = x1, y1 = clip.state[t].tolist()
            else:  # the striker's box (x0, y0, x1, y1) in this frame
                x0, y0, x1, y1 = clip.truth["striker"]["boxes"][clip.frame_indices[t]]
            # cells whose centre is within one cell of the point / box (Chebyshev distance)
            dx = np.maximum(np.maximum(x0 - (columns + 0.5) * cell, (columns + 0.5) * cell - x1), 0)
            dy = np.maximum(np.maximum(y0 - (rows + 0.5) * cell, (rows + 0.5) * cell - y1), 0)
            mask = torch.from_numpy(np.maximum(dx, dy) < cell)
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
    parser.add_argument("--object", choices=("gripper", "striker"), default="gripper", help="whose cells")
    parser.add_argument(
        "--runs",
        type=Path,
        nargs="*",
        help="run folders (default: --work/control/none and the variant of the object: state or audio)",
    )
    args = parser.parse_args()
    variant = "state" if args.object == "gripper" else "audio"
    runs = args.runs or [args.work / "control" / name for name in ("none", variant)]
    for run in runs:
        near, far = cell_losses(
            CCVSPipeline.from_pretrained(run / "pipeline"), args.work / DATA, VIDEOS, args.object
        )
        console.print(f"{run}: loss at the {args.object} {near:.3f}, elsewhere {far:.3f}")


if __name__ == "__main__":
    main()

# RESULTS
#
# 2026-11-30, after benchmarks/control_toyworld.py (2 CPU cores, torch 2.9.1, 8 s a run):
#
#   python benchmarks/object_cell_loss.py --work /work/bench/ae
#   /work/bench/ae/control/none: loss at the gripper 2.618, elsewhere 1.478
#   /work/bench/ae/control/state: loss at the gripper 2.460, elsewhere 1.469      (the "cell" encoding)
#   python benchmarks/object_cell_loss.py --work /work/bench/ae --object striker
#   /work/bench/ae/control/none: loss at the striker 1.255, elsewhere 1.577
#   /work/bench/ae/control/audio: loss at the striker 1.241, elsewhere 1.579      (additive audio, 0.3.0)
#
# With --runs: the layout variant, 2.414 at the gripper (1.450 elsewhere). The state is read: its loss
# falls 0.16 at the gripper and 0.01 elsewhere. The audio with the onset slot (plugin 0.4.0) scores
# 1.232 at the striker (benchmarks/RESULTS.md).
