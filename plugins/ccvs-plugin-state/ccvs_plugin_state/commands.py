"""``ccvs train position-estimator`` and ``ccvs data annotate-states`` (entry-point groups
``ccvs.train_commands`` and ``ccvs.data_commands``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ccvs_core.commands.run_arguments import add_run_arguments

TRAIN_DESCRIPTION = """\
Train the position estimator of the state condition (paper Appendix A): a small conv net on the frozen
stage-1 encoder's latents (--autoencoder) that finds the tracked point (state.json's positions) in a
frame, learnt by MSE on the annotated frames of the train videos; scored on the val videos (mean pixel
error, next to that of always answering the mean position). OUT receives run.json, checkpoints/
(resumed by running the same command again), estimator/ and eval.json. Then `ccvs data
annotate-states --estimator OUT/estimator` writes state.json for the videos that lack one.
"""


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "position-estimator", help="train the state condition's position estimator", description=TRAIN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_run_arguments(parser)  # --data, --out, --preset, --device, as every ccvs train command
    parser.add_argument("--autoencoder", type=Path, metavar="DIR", help="exported stage-1 autoencoder folder")
    parser.add_argument("--steps", type=int, help="total optimisation steps")
    parser.add_argument("--batch-size", type=int, help="frames per step")
    parser.add_argument("--lr", type=float, help="AdamW learning rate")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from ccvs_core.commands.run_arguments import pick_device
    from ccvs_core.console import out
    from ccvs_plugin_state.estimator_training import plan_estimator_run, train_estimator

    values = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    run = plan_estimator_run(
        args.out, args.autoencoder, args.preset, {k: v for k, v in values.items() if v is not None}
    )
    scores = train_estimator(args.data, args.out, run, pick_device(args.device))
    out.print(
        f"position estimator at step {scores['step']}: {scores['pixel_error']:.2f} px mean error on "
        f"{scores['frames']} {scores['split']} frames (mean position: {scores['mean_position_error']:.2f} px); "
        f"exported to {args.out / 'estimator'}"
    )
    return 0


def add_data_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotate-states", help="write state.json with a trained position estimator",
        description="Estimate the tracked point in every frame of the videos that have no state.json (all of "
        "them with --overwrite) and write their state.json (positions in the stored frames' pixels).",
    )  # fmt: skip
    parser.add_argument("--data", required=True, type=Path, metavar="DIR", help="dataset folder")
    parser.add_argument(
        "--estimator", required=True, type=Path, metavar="DIR", help="OUT/estimator of the training"
    )
    parser.add_argument("--overwrite", action="store_true", help="also replace existing state.json files")
    parser.set_defaults(func=run_annotate)


def run_annotate(args: argparse.Namespace) -> int:
    from ccvs_core.console import out
    from ccvs_plugin_state.estimator_training import annotate_states

    written = annotate_states(args.data, args.estimator, args.overwrite)
    out.print(f"wrote state.json for {len(written)} videos")
    return 0
