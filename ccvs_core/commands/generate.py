"""``ccvs generate``: videos from a trained pipeline, a context image or video, and conditions."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from ccvs_core.commands.run_arguments import pick_device
from ccvs_core.conditions import get_condition, list_conditions
from ccvs_core.console import out, progress_bar
from ccvs_core.errors import InputError
from ccvs_core.generation import SamplingConfig
from ccvs_core.media import make_grid, make_video_grid, read_frames, write_image, write_video
from ccvs_core.pipeline import CCVSPipeline

DESCRIPTION = """\
Make videos with a trained pipeline (the OUT/pipeline folder of `ccvs train transformer`): the
first --context-frames frames of --context (an image, a video file, a GIF or a folder of frames;
resized and centre-cropped to the pipeline's frame size) are the real start, the transformer
samples the tokens of the following frames (top-k, as in the paper), and the autoencoder decodes
them one by one, with its flow module over the last frames. Without --context every frame is
sampled, from the conditions alone (e.g. --cond class:walk).

--cond NAME:VALUE gives a condition the pipeline was trained with (repeat for several); VALUE is
read by that condition's plugin (a file, a class name, ...). `ccvs conditions` lists the installed
ones. A condition the model can also predict (layout) may be left out: it is then sampled with the
frames and written as OUT-NAME.png (rows: samples, columns: time).

Writes --out (.mp4 or .gif: the samples side by side in every frame) and, next to it, a PNG grid
(rows: samples, columns: time). --seed N makes sample i with seed N + i: the same seed gives the
same video.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate", help="make videos with a trained pipeline", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--model", required=True, type=Path, metavar="DIR", help="pipeline folder")
    parser.add_argument(
        "--context", type=Path, metavar="PATH", help="image, video or frame folder (default: none)"
    )
    parser.add_argument(
        "--context-frames",
        type=int,
        metavar="M",
        help="real frames to start from (default: 1 with --context)",
    )
    parser.add_argument(
        "--cond", action="append", default=[], metavar="NAME:VALUE", help="a condition (repeatable)"
    )
    parser.add_argument(
        "--frames", type=int, default=16, metavar="T", help="frames per video, context included"
    )
    parser.add_argument(
        "--samples", type=int, default=1, metavar="S", help="videos to make from the same input"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample")
    parser.add_argument("--top-k", type=int, default=100, help="sample among the k most likely tokens")
    parser.add_argument("--top-p", type=float, help="nucleus sampling threshold (off by default)")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely token")
    parser.add_argument("--fps", type=float, help="frame rate of the output (default: the pipeline's)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="output .mp4 or .gif")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    add_condition_flags(parser)
    parser.set_defaults(func=run)


def add_condition_flags(parser: argparse.ArgumentParser) -> None:
    """The on/off flags the installed conditions declare (``Condition.cli_flags``), e.g. --pad-audio."""
    group = None
    for entry in list_conditions():
        for flag, text in entry.cls.cli_flags.items() if entry.ok else ():
            group = group or parser.add_argument_group("condition options")
            with contextlib.suppress(argparse.ArgumentError):  # a flag two conditions share: one switch
                group.add_argument(flag, action="store_true", help=f"{text} (condition '{entry.name}')")


def split_conditions(specs: list[str]) -> dict[str, str]:
    """``["audio:drums.wav", ...]`` -> ``{"audio": "drums.wav"}``; each NAME must be an installed condition."""
    values = {}
    for spec in specs:
        name, sep, value = spec.partition(":")
        if not sep or not name:
            raise InputError(f"--cond {spec}", "must be NAME:VALUE, e.g. --cond audio:drums.wav")
        if name in values:
            raise InputError(f"--cond {spec}", f"condition '{name}' is given twice")
        get_condition(name)  # not installed: a PluginError listing the installed ones
        values[name] = value
    return values


def parse_conditions(pipeline: CCVSPipeline, values: dict[str, str], args: argparse.Namespace) -> dict:
    """``{"audio": "drums.wav"}`` -> ``{"audio": raw input}``, each VALUE read by the pipeline's own
    condition (its config — a class list, a frame size — is the one it was trained with)."""
    unknown = sorted(set(values) - set(pipeline.conditions))
    if unknown:
        known = ", ".join(pipeline.conditions) or "none"
        raise InputError(
            f"--cond {unknown[0]}", f"this pipeline was not trained with it (its conditions: {known})"
        )
    raw = {}
    for name, value in values.items():
        condition = pipeline.conditions[name]
        condition.options = {flag: bool(getattr(args, _dest(flag), False)) for flag in condition.cli_flags}
        raw[name] = condition.parse(value)
    return raw


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def run(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() not in (".mp4", ".gif"):
        raise InputError("--out", f"must end in .mp4 or .gif, got '{args.out.name}'")
    if args.samples < 1:
        raise InputError("--samples", f"must be at least 1, got {args.samples}")
    context_frames = args.context_frames if args.context_frames is not None else int(args.context is not None)
    if context_frames < 0 or (context_frames > 0 and args.context is None):
        raise InputError("--context-frames", f"{context_frames} real frames need --context (0 without it)")
    sampling = SamplingConfig(
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy
    )
    values = split_conditions(args.cond)
    context = read_frames(args.context)[:context_frames] if context_frames else None
    if context is not None and len(context) < context_frames:
        raise InputError(
            args.context, f"has {len(context)} frames, --context-frames asks for {context_frames}"
        )
    pipeline = CCVSPipeline.from_pretrained(args.model, pick_device(args.device))
    conditions = parse_conditions(pipeline, values, args)
    with progress_bar() as bar:
        task = bar.add_task("generating", total=args.frames - context_frames, status="")
        videos, predicted = pipeline.generate(
            context, conditions, args.frames, args.samples, args.seed, sampling,
            on_frame=lambda t: bar.advance(task), return_predicted=True,
        )  # fmt: skip
    fps = args.fps or pipeline.fps
    write_video(make_video_grid(videos), args.out, fps)
    grid = args.out.with_suffix(".png")
    write_image(grid, make_grid(videos))
    out.print(f"wrote {args.out} ({args.samples} samples x {args.frames} frames at {fps:g} fps) and {grid}")
    for name, decoded in predicted.items():  # conditions left out and predicted (layouts, Fig. D2)
        path = args.out.with_name(f"{args.out.stem}-{name}.png")
        write_image(path, make_grid(pipeline.conditions[name].render(decoded)))
        out.print(f"wrote the predicted {name} to {path}")
    return 0
