"""``ccvs train transformer``: stage 2, the transformer over the frozen autoencoder's tokens."""

from __future__ import annotations

import argparse
import functools
import gc
from pathlib import Path
from typing import Any

from ccvs_core.commands.preset_help import show_preset_defaults
from ccvs_core.commands.run_arguments import add_run_arguments, pick_device
from ccvs_core.config import ATTENTION_BACKENDS, TransformerConfig, TransformerTrainingConfig
from ccvs_core.console import out
from ccvs_core.errors import InputError

DESCRIPTION = """\
Train the second stage of CCVS (paper Sec. 3.3): the GPT-style transformer T that predicts the
tokens of future frames. The autoencoder exported by `ccvs train autoencoder` (--autoencoder, the
RUN/autoencoder folder) is frozen: every training video is tokenized once (cached in
OUT/tokens/), windows of --window frames are cut at random, and T learns the next-token
cross-entropy of Eq. 8 on frame tokens (condition tokens are read, not predicted). AdamW with a
linear warm-up and a cosine decay, gradient clipping.

OUT receives run.json, checkpoints/step-NNNNNNNN/ (safetensors + JSON, the last three kept),
samples/ (rows: real clips, then videos predicted from their first frame and decoded by the
autoencoder with its flow module), log.jsonl (loss, learning rate, gradient norm; at every
checkpoint also val_loss, the loss of 64 fixed windows of the data's val split, whose tokens are
cached in OUT/tokens/ too: a training loss that falls while it rises means the model is memorising
the training videos), and transformer/ (config.json + model.safetensors), refreshed at every
checkpoint. Run the same command again to resume from the latest checkpoint;
only --steps, --checkpoint-every, --sample-every, --precision, --parallel, --accumulate and
--compile may change between runs (and the number of processes under torchrun).

--precision bfloat16 runs the forward pass and the loss under torch.autocast in bfloat16 (weights,
gradients and the optimizer stay float32): on CUDA, and on CPUs with AVX512-BF16 or AMX, each step
is faster; elsewhere it can be slower than float32, the default.

--cond NAME trains with a condition (repeatable; `ccvs conditions` lists the installed ones): its
plugin reads its data from each training video (state.json, audio.wav, layout.json, meta.json's
class, the frames), its tokens are cached in OUT/tokens/, and every window reads them before its
frames. --cond NAME:KEY=VALUE,KEY=VALUE sets fields of the condition's config (VALUE is JSON, or a
plain string), e.g. --cond state:offset_bins=8 or --cond state:encoding=xy,bins=128. The pipeline
then needs the same conditions at `ccvs generate` time, unless it was trained with
--condition-dropout P > 0: each condition is then left out of each training window with
probability P (its slots hold their learnt "absent" tokens), and `ccvs generate` may be given any
subset of the conditions, none included.

--init-from DIR starts the run from the transformer of a trained pipeline (a folder `ccvs generate
--model` takes) instead of from scratch: to add a condition to a trained model, or to go on training
it on other videos. The model's size comes from DIR (--layers, --heads, --width must agree with it;
--window may differ), the pipeline must have been trained on the same --autoencoder, and the slots
both models share (frame tokens, and conditions of the same name and size) keep their weights; the
new condition slots start fresh (an end frame's rows as the frame tokens', a state's as the places
it points at). Resuming reads the latest checkpoint, not DIR.

Before the model is built, the run's memory and time are estimated (one step on the meta device):
a run the machine cannot hold is refused, one of more than a day needs --yes.

Under torchrun (one process per device, LOCAL_RANK; nccl on GPUs, gloo on CPUs) the processes train
as one: --batch-size is the global batch, shared out evenly; DDP averages the gradients, or with
--parallel fsdp FSDP2 shards the model, its gradients and AdamW's state. The main process alone logs,
writes samples and checkpoints (whole tensors), which resume with any number of processes.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transformer",
        help="train the transformer on the autoencoder's tokens (stage 2)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(parser)
    parser.add_argument("--autoencoder", type=Path, metavar="DIR", help="exported stage-1 autoencoder folder")
    parser.add_argument(
        "--init-from", type=Path, metavar="DIR",
        help="start from the transformer of this pipeline (same autoencoder); new conditions learn their embeddings",
    )  # fmt: skip
    parser.add_argument(
        "--cond", action="append", metavar="NAME[:KEY=VALUE,...]", help="train with a condition (repeatable)"
    )
    train = parser.add_argument_group("training")
    train.add_argument("--steps", type=int, help="total optimisation steps")
    train.add_argument(
        "--batch-size", type=int, help="windows per step, in all processes together under torchrun"
    )
    train.add_argument("--lr", type=float, help="peak AdamW learning rate")
    train.add_argument("--warmup", type=int, help="steps of linear warm-up to --lr, then cosine decay")
    train.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    train.add_argument("--sample-every", type=int, help="steps between sample pictures")
    train.add_argument("--seed", type=int, help="random seed")
    train.add_argument(
        "--precision", choices=("float32", "bfloat16"), help="autocast precision of the forward pass"
    )
    train.add_argument(
        "--condition-dropout", type=float, metavar="P",
        help="leave each condition out of each training window with probability P",
    )  # fmt: skip
    train.add_argument(
        "--parallel", choices=("ddp", "fsdp"),
        help="under torchrun: a whole model per process (ddp, the default) or sharded (fsdp, FSDP2)",
    )  # fmt: skip
    train.add_argument(
        "--accumulate", type=int, metavar="K",
        help="take each process's share of the batch in K passes, summing their gradients: the same "
        "step in less memory (default 1)",
    )  # fmt: skip
    train.add_argument(
        "--compile", action="store_true", default=None,
        help="torch.compile the training forward (minutes of compiling; for long GPU runs)",
    )  # fmt: skip
    model = parser.add_argument_group("model")
    model.add_argument("--window", type=int, help="frames N in the sequence")
    model.add_argument("--layers", type=int, help="transformer blocks")
    model.add_argument("--heads", type=int, help="attention heads")
    model.add_argument("--width", type=int, help="embedding width D")
    model.add_argument("--attention", choices=ATTENTION_BACKENDS, help="attention backend")
    show_preset_defaults(train, TransformerTrainingConfig)
    show_preset_defaults(model, TransformerConfig)
    parser.set_defaults(func=run)


def parse_condition_flags(flags: list[str]) -> dict[str, dict[str, Any]]:
    """``["state:bins=64", "class"]`` -> ``{"state": {"bins": 64}, "class": {}}``."""
    from ccvs_core.condition_values import split_items, split_spec

    conditions: dict[str, dict[str, Any]] = {}
    for flag in flags:
        name, settings = split_spec(flag)
        if name in conditions:
            raise InputError(f"--cond {flag}", f"condition '{name}' is given twice")
        conditions[name] = split_items(settings, f"--cond {flag}", has_value=False)[1]
    return conditions


def run(args: argparse.Namespace) -> int:
    from ccvs_core import distributed
    from ccvs_core.resources import check_request
    from ccvs_core.training.transformer import PIPELINE_DIR, TransformerTrainer
    from ccvs_core.training.transformer_run import plan_transformer_run

    overrides = {
        "training": {
            "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "warmup": args.warmup,
            "checkpoint_every": args.checkpoint_every, "sample_every": args.sample_every,
            "precision": args.precision, "condition_dropout": args.condition_dropout,
            "parallel": args.parallel, "accumulate": args.accumulate, "compile": args.compile,
        },
        "transformer": {
            "window": args.window, "layers": args.layers, "heads": args.heads, "width": args.width,
            "attention": args.attention,
        },
    }  # fmt: skip
    conditions = parse_condition_flags(args.cond) if args.cond is not None else None
    config = plan_transformer_run(
        args.out, args.autoencoder, args.preset, overrides, conditions, args.init_from
    )
    with distributed.process_group(pick_device(args.device)) as device:
        guard = functools.partial(check_request, "ccvs train transformer", yes=args.yes, device=device)
        trainer = TransformerTrainer(config, args.data, args.out, device=device, guard=guard)
        export, step = trainer.fit(), trainer.step
        # DDP's reducer must go while the process group lives: freed after it, its gloo threads wait
        # for the interpreter lock that the freeing thread holds, and the process never exits
        del trainer
        gc.collect()
    if distributed.is_main():
        pipeline = Path(args.out) / PIPELINE_DIR
        out.print(f"trained to step {step}; transformer exported to {export}", soft_wrap=True)
        out.print(
            f"next: ccvs generate --model {pipeline} ...  or  ccvs evaluate --model {pipeline} ...",
            soft_wrap=True,
        )
    return 0
