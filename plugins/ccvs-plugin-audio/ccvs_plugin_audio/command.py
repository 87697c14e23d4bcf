"""``ccvs train audio-tokenizer`` (registered through the ``ccvs.train_commands`` entry-point group)."""

from __future__ import annotations

import argparse

from ccvs_core.commands.run_arguments import add_run_arguments

DESCRIPTION = """\
Train the sound tokenizer of the audio condition (paper Appendix A): every frame's sound (rate / fps
samples from the frame's time) becomes a log-magnitude spectrogram, and a small autoencoder with its
own codebook learns to rebuild it (L1 + Eq. 3). The spectrograms come from the audio.wav of the
dataset's train videos; the reconstruction error is measured on its val videos.

OUT receives run.json, checkpoints/ (resumed by running the same command again), tokenizer/
(config.json + model.safetensors: give it to stage 2 as --cond audio:tokenizer=OUT/tokenizer),
eval.json (L1 and relative L1 of the log spectrogram, codebook use, perplexity) and spectrograms.png
(rows: real, rebuilt).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audio-tokenizer", help="train the sound tokenizer of the audio condition", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_run_arguments(parser)  # --data, --out, --preset, --device, as every ccvs train command
    parser.add_argument("--steps", type=int, help="total optimisation steps")
    parser.add_argument("--batch-size", type=int, help="spectrograms per step")
    parser.add_argument("--lr", type=float, help="AdamW learning rate")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ccvs_core.commands.run_arguments import pick_device
    from ccvs_core.console import out
    from ccvs_plugin_audio.training import plan_sound_run, train_sound_tokenizer

    values = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    overrides = {k: v for k, v in values.items() if v is not None}
    config = plan_sound_run(args.out, args.preset, overrides)
    scores = train_sound_tokenizer(args.data, args.out, config, pick_device(args.device))
    table = Table(
        title=f"sound tokenizer at step {scores['step']} ({scores['split']} frames: {scores['frames']})"
    )
    for key in ("l1", "relative_l1", "codebook_usage", "perplexity"):
        table.add_column(key.replace("_", " "), justify="right")
    table.add_row(
        *(
            f"{scores[k]:.4f}" if k != "perplexity" else f"{scores[k]:.1f}"
            for k in ("l1", "relative_l1", "codebook_usage", "perplexity")
        )
    )
    out.print(table)
    out.print(f"tokenizer exported to {args.out / 'tokenizer'}")
    return 0
