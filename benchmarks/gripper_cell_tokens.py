"""What limits the state's control? The transformer's guesses at the gripper's cell (CPU, ~1 minute).

    python benchmarks/gripper_cell_tokens.py --data runs/default/toyworld                # the shipped model
    python benchmarks/gripper_cell_tokens.py --model runs/default/transformer/pipeline --data runs/default/toyworld

On the first VIDEOS test videos, the first window of frame tokens is scored teacher-forced with the
state given (the video's own trajectory) and with it absent, every other condition absent. At the
cell the gripper is in at each frame t >= 1 (the state's cell token) it reports the loss of the true
token, top-1 and top-5 accuracy over all such cells and over the cells whose token changed since
frame t - 1, how often the true token is the previous frame's, and how often the argmax is. A model
that reads the state but cannot name the code the gripper's cell becomes shows a lower loss with the
state, and the same accuracy on changed cells as without it.
Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ccvs_core.conditioning import absent_tokens
from ccvs_core.data.clips import ClipDataset
from ccvs_core.pipeline import CCVSPipeline
from ccvs_core.sensitivity import condition_window_tokens
from ccvs_core.shipped import default_model
from ccvs_core.slots import Timeline


def cell_log_probs(pipeline, frames: torch.Tensor, conditions: dict) -> torch.Tensor:
    """``[N, h * w, V]``: log p of every frame token's value, teacher-forced, for one window."""
    model = pipeline.transformer
    layout = model.layout
    sequence = layout.join(frames[None], conditions)
    n = layout.num_frames
    gaps = {c: torch.full((1,), n - 1) for c in layout.target_conditions()}
    logits = model(sequence, gaps=layout.gap_ids(gaps, 1) if gaps else None)
    return torch.log_softmax(logits[0, layout.positions("frame") - 1].float(), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="pipeline folder (default: the shipped model)")
    parser.add_argument("--data", type=Path, required=True, help="the recipe's toyworld")
    parser.add_argument("--videos", type=int, default=40)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    pipeline = CCVSPipeline.from_pretrained(args.model or default_model())
    n = pipeline.transformer.layout.num_frames
    clips = ClipDataset(args.data, num_frames=n, size=pipeline.frame_size, split="test", crop="first")
    timeline = Timeline(n, pipeline.fps)
    absent = {name: absent_tokens(c.slots(), n, 1, "cpu") for name, c in pipeline.conditions.items()}
    rows: dict[str, list[list[float]]] = {"state": [], "none": []}  # per cell: loss, top1, top5, changed
    copies, argmax_copies = [], {"state": [], "none": []}
    for i in range(min(args.videos, len(clips))):
        clip = clips[i]
        frames = pipeline.context_tokens(clip.frames[:n])
        state = condition_window_tokens(pipeline.conditions["state"], clip, timeline)
        tokens = frames.flatten(1)  # [N, h * w]
        cells = state["cell"][0, :, 0]
        for given in rows:
            lp = cell_log_probs(pipeline, frames, {**absent, "state": state} if given == "state" else absent)
            for t in range(1, n):
                cell, true, before = int(cells[t]), int(tokens[t, cells[t]]), int(tokens[t - 1, cells[t]])
                top = lp[t, cell].topk(5).indices.tolist()
                rows[given].append([-float(lp[t, cell, true]), top[0] == true, true in top, true != before])
                argmax_copies[given].append(top[0] == before)
                if given == "state":
                    copies.append(true == before)
    table = Table(title=f"the gripper's cell, frames 1-{n - 1} of {args.videos} test videos (teacher-forced)")
    for column in ("state", "loss", "top-1", "top-5", "top-1 changed", "top-5 changed", "argmax = prev."):
        table.add_column(column, justify="left" if column == "state" else "right")
    for given, values in rows.items():
        a = np.array(values, dtype=np.float64)
        changed = a[a[:, 3] == 1]
        table.add_row(given, f"{a[:, 0].mean():.3f}", f"{a[:, 1].mean():.3f}", f"{a[:, 2].mean():.3f}",
                      f"{changed[:, 1].mean():.3f}", f"{changed[:, 2].mean():.3f}",
                      f"{np.mean(argmax_copies[given]):.3f}")  # fmt: skip
    console = Console(width=100)
    console.print(table)
    console.print(f"the true token is the previous frame's at {np.mean(copies):.3f} of these cells")


RESULTS = """
2026-12-03 (2 CPU cores, torch 2.9.1), 40 test videos of the recipe's toyworld, 280 gripper cells:

  python benchmarks/gripper_cell_tokens.py --data W/toyworld          # the shipped model (2026-12-02)

state  loss   top-1  top-5  top-1 changed  top-5 changed  argmax = prev.
state  2.414  0.475  0.682          0.054          0.416           0.871
none   2.527  0.471  0.657          0.007          0.356           0.982

The stage 2 with the state added at its cell (--model W/transformer/pipeline, commit b4c6546): loss
2.367 against 2.605, top-1 changed 0.027 against 0.000, top-5 changed 0.450 against 0.356, argmax =
previous 0.900. The true token is the previous frame's at 0.468 of these cells.
"""

if __name__ == "__main__":
    main()
