"""How does steering grow with training? Control fractions of a stage-2 run at each of its checkpoints (CPU).

    python benchmarks/control_curve.py --run runs/default/transformer --data runs/default/toyworld
    python benchmarks/control_curve.py --run W/transformer --data W/toyworld --also 3000=W2c/pipe-3000

Each checkpoint's transformer is put into the run's pipeline (same autoencoder and conditions) and
scored as control_joint.py scores a model, W = 1, with no comparison to copying: VIDEOS test videos
x SAMPLES samples, every condition alone against none and the real tokens. --also STEP=PIPELINE adds
pipelines kept from elsewhere (a continued run). The x axis is the step: the recipe's stage 2 takes
~1.3 s a step on 2 cores. The default model's issue asks for this curve where a condition stays
below a fraction of 0.75.
Writes --out (JSON). Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from control_joint import control
from control_toyworld import motion_classifier

from ccvs_core.atomic import write_text_atomic
from ccvs_core.data.clips import ClipDataset
from ccvs_core.pipeline import CCVSPipeline
from ccvs_core.training.checkpoint import CheckpointManager
from ccvs_core.weights import load_module

FRAMES = 16


def checkpoint_pipelines(run: Path, work: Path) -> dict[int, Path]:
    """{step: pipeline folder} for every checkpoint of stage-2 run ``run``, written under ``work``."""
    manager = CheckpointManager(run / "checkpoints")
    pipeline = CCVSPipeline.from_pretrained(run / "pipeline")
    out = {}
    for step, path in manager.steps():
        parts, _ = manager.load(path, required=("model",))
        load_module(pipeline.transformer, parts["model"], path / "model.safetensors")
        out[step] = pipeline.save_pretrained(work / f"step-{step}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, required=True, help="a `ccvs train transformer` run folder")
    parser.add_argument("--data", type=Path, required=True, help="the run's toyworld")
    parser.add_argument("--also", action="append", default=[], metavar="STEP=PIPELINE")
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("control_curve.json"))
    args = parser.parse_args()
    start = time.monotonic()
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as work:
        pipelines = checkpoint_pipelines(args.run, Path(work))
        for item in args.also:
            step, _, folder = item.partition("=")
            pipelines[int(step)] = Path(folder)
        classify = None
        rows = {}
        for step in sorted(pipelines):
            pipeline = CCVSPipeline.from_pretrained(pipelines[step])
            data = ClipDataset(
                args.data,
                num_frames=FRAMES,
                size=pipeline.frame_size,
                split="test",
                crop="first",
                with_truth=True,
            )
            clips = [data[i] for i in range(min(args.videos, len(data)))]
            classify = classify or motion_classifier(args.data, pipeline.frame_size)
            scored = control(pipeline, clips, classify, args.samples, [1.0])[1.0]
            rows[step] = {
                name: {k: v for k, v in r.items() if k != "per_video"} for name, r in scored.items()
            }
    names = list(next(iter(rows.values())))
    result = {"videos": args.videos, "samples": args.samples, "steps": rows}
    result["minutes"] = round((time.monotonic() - start) / 60, 1)
    write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    table = Table(
        title=f"control fraction by step ({args.videos} test videos x {args.samples} samples, W = 1)"
    )
    table.add_column("step", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for step, scored in rows.items():
        table.add_row(str(step), *(f"{scored[n]['fraction']:.2f}±{2 * scored[n]['se']:.2f}" for n in names))
    Console(width=100).print(table)
    print(f"took {result['minutes']} minutes; every number in {args.out}")


if __name__ == "__main__":
    main()

RESULTS = """
not run yet: see benchmarks/RESULTS.md
"""
