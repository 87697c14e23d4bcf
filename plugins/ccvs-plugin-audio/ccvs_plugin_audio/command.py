"""``ccvs train audio-tokenizer`` (registered through the ``ccvs.train_commands`` entry-point group)."""

from __future__ import annotations

import attrs

from ccvs_core import Config, PluginCommand, RunArguments

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


@attrs.frozen(kw_only=True)
class TokenizerOptions(Config):
    steps: int | None = attrs.field(default=None, metadata={"help": "total optimisation steps"})
    batch_size: int | None = attrs.field(default=None, metadata={"help": "spectrograms per step"})
    lr: float | None = attrs.field(default=None, metadata={"help": "AdamW learning rate"})
    seed: int | None = attrs.field(default=None, metadata={"help": "random seed"})


def run(options: TokenizerOptions, run: RunArguments):
    from rich.table import Table

    from ccvs_plugin_audio.training import plan_sound_run, train_sound_tokenizer

    overrides = {k: v for k, v in options.to_dict().items() if v is not None}
    config = plan_sound_run(run.out, run.preset, overrides)
    scores = train_sound_tokenizer(run.data, run.out, config, run.device)
    table = Table(
        title=f"sound tokenizer at step {scores['step']} ({scores['split']} frames: {scores['frames']})",
        caption=f"tokenizer exported to {run.out / 'tokenizer'}",
    )
    keys = ("l1", "relative_l1", "codebook_usage", "perplexity")
    for key in keys:
        table.add_column(key.replace("_", " "), justify="right")
    table.add_row(*(f"{scores[k]:.4f}" if k != "perplexity" else f"{scores[k]:.1f}" for k in keys))
    return table


audio_tokenizer = PluginCommand(
    help="train the sound tokenizer of the audio condition",
    description=DESCRIPTION,
    options=TokenizerOptions,
    run=run,
)
