"""``ccvs train autoencoder``: stage 1, the flow-linked autoencoder, codebook and discriminators."""

from __future__ import annotations

import argparse
import gc

from ccvs_core.commands.preset_help import show_preset_defaults
from ccvs_core.commands.run_arguments import add_run_arguments, pick_device
from ccvs_core.config import AutoencoderConfig, AutoencoderTrainingConfig
from ccvs_core.console import out
from ccvs_core.errors import InputError

DESCRIPTION = """\
Train the first stage of CCVS (paper Sec. 3.2) on a dataset in the ccvs format: the encoder E and
decoder D linked by the flow module F, the codebook Q, and the image and temporal discriminators.

Clips of --clip-frames frames are decoded one frame at a time from their tokens, each with the
previous frames (the real first frame, then the decoded ones re-encoded) as context, as at
inference. F is self-supervised with augmented views of the frames (rotation, scaling,
translation, elastic deformation, blur, occlusions; target flows by Algorithm C1) and taught to
reject contexts from other videos. Losses: Eq. 2 with (λq, λr, λa, λc) = (1, 10, 1, 1).

OUT receives run.json (all settings), checkpoints/step-NNNNNNNN/ (safetensors + JSON, the last
three kept), samples/ (reconstructions and flow/mask pictures), log.jsonl (losses, codebook
usage), and autoencoder/ (the EMA weights: config.json + model.safetensors), refreshed at every
checkpoint. Run the same command again to resume from the latest checkpoint; only --steps,
--checkpoint-every, --sample-every, --num-workers, --precision and --compile may change between
runs (and the number of processes under torchrun).

Under torchrun (one process per device, LOCAL_RANK; nccl on GPUs, gloo on CPUs) the processes train
as one: --batch-size is the global batch, shared out evenly; DDP averages both players' gradients,
and the batch statistics (minibatch standard deviation, codebook initialisation and restarts, wrong
contexts) see the whole batch. The main process alone logs and writes; checkpoints resume with any
number of processes.

Before anything is built, the run's memory and time are estimated (one step on the meta device):
a run the machine cannot hold is refused, one of more than a day needs --yes.

Without --vgg-weights the perceptual (VGG) term of Eq. 4 is off. No weights are downloaded: give
torchvision's ImageNet VGG16 file (vgg16-397923af.pth) or the same state dict as .safetensors.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "autoencoder",
        help="train the flow-linked autoencoder (stage 1)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(parser)
    train = parser.add_argument_group("training")
    train.add_argument("--steps", type=int, help="total optimisation steps")
    train.add_argument(
        "--batch-size", type=int, help="clips per step, in all processes together under torchrun"
    )
    train.add_argument("--size", type=int, help="frame side in pixels")
    train.add_argument("--clip-frames", type=int, help="frames decoded one by one per clip")
    train.add_argument("--lr", type=float, help="Adam learning rate of the autoencoder")
    train.add_argument("--vgg-weights", help="torchvision VGG16 state dict (.pth or .safetensors)")
    train.add_argument("--adversarial-start", type=int, help="step at which the discriminators join")
    train.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    train.add_argument("--sample-every", type=int, help="steps between sample pictures")
    train.add_argument("--num-workers", type=int, help="data-loading processes")
    train.add_argument("--seed", type=int, help="random seed")
    train.add_argument(
        "--precision", choices=("float32", "bfloat16"), help="autocast precision of the forward passes"
    )
    train.add_argument(
        "--compile", action="store_true", default=None,
        help="torch.compile the decoder's blocks and flow levels (minutes of compiling; for long GPU runs)",
    )  # fmt: skip
    model = parser.add_argument_group("model")
    model.add_argument("--channels", help="channels per level, comma-separated (e.g. 32,64,128)")
    model.add_argument("--codebook-size", type=int, help="codebook entries q")
    model.add_argument("--max-contexts", type=int, help="context frames c fused by F (0: no flow)")
    show_preset_defaults(train, AutoencoderTrainingConfig)
    show_preset_defaults(model, AutoencoderConfig)
    parser.set_defaults(func=run)


def _channels(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InputError("--channels", f"must be integers separated by commas, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from ccvs_core import distributed
    from ccvs_core.resources import check_request
    from ccvs_core.training.autoencoder import AutoencoderTrainer, plan_run
    from ccvs_core.training.cost import autoencoder_cost, steps_left

    overrides = {
        "training": {
            "steps": args.steps, "batch_size": args.batch_size, "size": args.size, "clip_frames": args.clip_frames,
            "lr": args.lr, "vgg_weights": args.vgg_weights, "adversarial_start": args.adversarial_start,
            "checkpoint_every": args.checkpoint_every, "sample_every": args.sample_every,
            "num_workers": args.num_workers, "seed": args.seed, "precision": args.precision,
            "compile": args.compile,
        },
        "autoencoder": {
            "channels": _channels(args.channels), "codebook_size": args.codebook_size,
            "max_contexts": args.max_contexts,
        },
    }  # fmt: skip
    config = plan_run(args.out, args.preset, overrides)
    with distributed.process_group(pick_device(args.device)) as device:
        steps = steps_left(args.out, config.training.steps)
        cost = autoencoder_cost(config, steps, device)
        check_request("ccvs train autoencoder", cost, args.yes, device=device)
        trainer = AutoencoderTrainer(config, args.data, args.out, device=device)
        export, step = trainer.fit(), trainer.step
        del trainer  # DDP's reducers go while the process group lives (see train_transformer)
        gc.collect()
    if distributed.is_main():
        out.print(f"trained to step {step}; EMA autoencoder exported to {export}", soft_wrap=True)
        out.print(
            f"next: ccvs train transformer --autoencoder {export} --data {args.data} --out DIR",
            soft_wrap=True,
        )
    return 0
