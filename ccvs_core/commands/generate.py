"""``ccvs generate``: videos from a trained pipeline, a context image or video, and conditions."""

from __future__ import annotations

import argparse
from pathlib import Path

from ccvs_core.commands.run_arguments import pick_device
from ccvs_core.console import out, progress_bar
from ccvs_core.errors import InputError
from ccvs_core.shipped import default_model

DESCRIPTION = """\
Make videos with a trained pipeline (the OUT/pipeline folder of `ccvs train transformer`): the
first --context-frames frames of --context (an image, a video file, a GIF or a folder of frames;
resized and centre-cropped to the pipeline's frame size) are the real start, the transformer
samples the tokens of the following frames (top-k, as in the paper), and the autoencoder decodes
them one by one, with its flow module over the last frames. Without --context every frame is
sampled, from the conditions alone (e.g. --cond class:walk).

--cond NAME:VALUE gives a condition the pipeline was trained with (repeat for several); VALUE is
read by that condition's plugin (a file, a class name, ...), and options of the condition follow
it as ,KEY=VALUE (--cond audio:drums.wav,pad=true; `ccvs conditions` lists each one's options). A
comma in VALUE is kept as long as no word and "=" follow it (take,2.wav is one file name). A
condition the model can also predict (layout) may be left out: it is then sampled with the frames
and written as OUT-NAME.png (rows: samples, columns: time). A pipeline trained with
--condition-dropout takes any subset of its conditions (none included): a condition left out, or
whose plugin is not installed, holds its learnt "absent" tokens. Your own @register_condition module:
ccvs --plugin MODULE generate ... (or CCVS_PLUGINS=MODULE).

Writes --out (.mp4 or .gif: the samples side by side in every frame) and, next to it, a PNG grid
(rows: samples, columns: time); an output that exists is replaced only with --overwrite. --seed N
makes sample i with seed N + i: the same seed gives the same video.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate", help="make videos with a trained pipeline", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="pipeline folder (default: the model that ships with ccvs)"
    )
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
    default = _sampling_defaults()
    parser.add_argument(
        "--top-k", type=int, help=f"sample among the k most likely tokens (default {default['top_k']})"
    )
    parser.add_argument("--top-p", type=float, help="nucleus sampling threshold (off by default)")
    parser.add_argument(
        "--temperature", type=float, help=f"softmax temperature (default {default['temperature']})"
    )
    parser.add_argument(
        "--greedy", action="store_true", default=None, help="always take the most likely token"
    )
    parser.add_argument(
        "--guidance", type=float, metavar="W",
        help="classifier-free guidance weight: uncond + W (cond - uncond) (default 1: off; needs a "
        "pipeline trained with --condition-dropout)",
    )  # fmt: skip
    parser.add_argument("--fps", type=float, help="frame rate of the output (default: the pipeline's)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="output .mp4 or .gif")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace outputs that exist (refused by default)"
    )
    parser.add_argument("--yes", action="store_true", help="start even when it would take more than a day")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.set_defaults(func=run)


def _sampling_defaults() -> dict:
    from ccvs_core.generation import SamplingConfig

    return SamplingConfig().to_dict()


def split_conditions(specs: list[str]) -> dict[str, str]:
    """``["audio:drums.wav,pad=true", ...]`` -> ``{"audio": "drums.wav,pad=true"}``."""
    from ccvs_core.condition_values import split_spec

    values = {}
    for spec in specs:
        name, text = split_spec(spec)
        if ":" not in spec:
            raise InputError(f"--cond {spec}", "must be NAME:VALUE, e.g. --cond audio:drums.wav")
        if name in values:
            raise InputError(f"--cond {spec}", f"condition '{name}' is given twice")
        values[name] = text
    return values


def run(args: argparse.Namespace) -> int:
    from ccvs_core import distributed
    from ccvs_core.generation import SamplingConfig
    from ccvs_core.media import read_video_frames
    from ccvs_core.pipeline import CCVSPipeline

    if args.out.suffix.lower() not in (".mp4", ".gif"):
        raise InputError("--out", f"must end in .mp4 or .gif, got '{args.out.name}'")
    if args.samples < 1:
        raise InputError("--samples", f"must be at least 1, got {args.samples}")
    context_frames = args.context_frames if args.context_frames is not None else int(args.context is not None)
    if context_frames < 0 or (context_frames > 0 and args.context is None):
        raise InputError("--context-frames", f"{context_frames} real frames need --context (0 without it)")
    given = {
        "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "greedy": args.greedy,
        "guidance": args.guidance,
    }  # fmt: skip
    sampling = SamplingConfig(**{k: v for k, v in given.items() if v is not None})
    values = split_conditions(args.cond)
    # only the frames used are decoded: a long --context video costs what it gives
    context = read_video_frames(args.context, range(context_frames)) if context_frames else None
    with distributed.process_group(pick_device(args.device)) as device:
        pipeline = CCVSPipeline.from_pretrained(args.model or default_model(), device)
        return _generate(args, pipeline, context, context_frames, sampling, values)


def _generate(args, pipeline, context, context_frames: int, sampling, values: dict[str, str]) -> int:
    """The samples (under torchrun each process makes its share, sample i with seed + i as alone),
    written by the main process."""
    import numpy as np

    from ccvs_core import distributed
    from ccvs_core.conditioning import predicted_conditions
    from ccvs_core.media import labelled_grid, make_video_grid, write_image, write_video
    from ccvs_core.resources import check_request

    conditions = {name: pipeline.read_condition(name, text) for name, text in values.items()}
    names = predicted_conditions(pipeline.conditions, list(conditions))
    outputs = [args.out, args.out.with_suffix(".png")] + [
        args.out.with_name(f"{args.out.stem}-{name}.png") for name in names
    ]
    if not 0 <= args.seed <= 2**63 - args.samples:
        raise InputError(
            "--seed", f"must be 0 to 2**63 - {args.samples} (sample i uses seed + i), got {args.seed}"
        )
    branches = 2 if sampling.guidance != 1.0 else 1
    estimate = pipeline.generation_estimate(args.frames, args.samples, context_frames, branches)
    check_request("ccvs generate", estimate, args.yes)
    taken = [str(path) for path in outputs if path.exists()]
    if taken and not args.overwrite:
        raise InputError("--out", f"{', '.join(taken)} exist(s); give --overwrite to replace them")
    mine = distributed.my_range(args.samples)
    videos, predicted = [], {}
    with progress_bar(disable=not distributed.is_main()) as bar:
        task = bar.add_task("generating", total=args.frames - context_frames, status="")
        if len(mine):
            videos, predicted = pipeline.generate(
                context, conditions, args.frames, len(mine), args.seed + mine.start, sampling,
                on_frame=lambda t: bar.advance(task), return_predicted=True,
            )  # fmt: skip
    videos = np.stack(distributed.gather(list(videos)))
    joined = {
        name: distributed.gather(list(predicted.get(name, []))) for name in names
    }  # same calls everywhere
    predicted = {name: np.stack(decoded) for name, decoded in joined.items() if decoded}
    if not distributed.is_main():
        return 0
    fps = args.fps or pipeline.fps
    write_video(make_video_grid(videos), args.out, fps)
    grid = args.out.with_suffix(".png")
    rows = [f"seed {args.seed + i}" for i in range(len(videos))]
    columns = ["given" if t < context_frames else f"t={t}" for t in range(videos.shape[1])]
    write_image(grid, labelled_grid(videos, rows, columns))
    out.print(f"wrote {args.out} ({args.samples} samples x {args.frames} frames at {fps:g} fps) and {grid}")
    for name, decoded in predicted.items():  # conditions left out and predicted (layouts, Fig. D2)
        path = args.out.with_name(f"{args.out.stem}-{name}.png")
        write_image(path, labelled_grid(decoded, rows, [f"t={t}" for t in range(decoded.shape[1])]))
        out.print(f"wrote the predicted {name} to {path}")
    return 0
