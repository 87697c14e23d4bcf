"""``ccvs train position-estimator`` and ``ccvs data annotate-states`` (entry-point groups
``ccvs.train_commands`` and ``ccvs.data_commands``)."""

from __future__ import annotations

from pathlib import Path

import attrs

from ccvs_core import Config, PluginCommand, RunArguments

TRAIN_DESCRIPTION = """\
Train the position estimator of the state condition (paper Appendix A): a small conv net on the frozen
stage-1 encoder's latents (--autoencoder) that finds the tracked point (state.json's positions) in a
frame, learnt by MSE on the annotated frames of the train videos; scored on the val videos (mean pixel
error, next to that of always answering the mean position). OUT receives run.json, checkpoints/
(resumed by running the same command again), estimator/ and eval.json. Then `ccvs data
annotate-states --estimator OUT/estimator` writes state.json for the videos that lack one.
"""


@attrs.frozen(kw_only=True)
class EstimatorOptions(Config):
    autoencoder: str | None = attrs.field(
        default=None, metadata={"help": "exported stage-1 autoencoder folder"}
    )
    steps: int | None = attrs.field(default=None, metadata={"help": "total optimisation steps"})
    batch_size: int | None = attrs.field(default=None, metadata={"help": "frames per step"})
    lr: float | None = attrs.field(default=None, metadata={"help": "AdamW learning rate"})
    seed: int | None = attrs.field(default=None, metadata={"help": "random seed"})


def train(options: EstimatorOptions, run: RunArguments) -> str:
    from ccvs_plugin_state.estimator_training import plan_estimator_run, train_estimator

    values = {
        "steps": options.steps,
        "batch_size": options.batch_size,
        "lr": options.lr,
        "seed": options.seed,
    }
    plan = plan_estimator_run(
        run.out,
        Path(options.autoencoder) if options.autoencoder else None,
        run.preset,
        {k: v for k, v in values.items() if v is not None},
    )
    scores = train_estimator(run.data, run.out, plan, run.device)
    return (
        f"position estimator at step {scores['step']}: {scores['pixel_error']:.2f} px mean error on "
        f"{scores['frames']} {scores['split']} frames (mean position: {scores['mean_position_error']:.2f} px); "
        f"exported to {run.out / 'estimator'}"
    )


@attrs.frozen(kw_only=True)
class AnnotateOptions(Config):
    data: str = attrs.field(metadata={"help": "dataset folder"})
    estimator: str = attrs.field(metadata={"help": "OUT/estimator of ccvs train position-estimator"})
    overwrite: bool = attrs.field(default=False, metadata={"help": "also replace existing state.json files"})


def annotate(options: AnnotateOptions, run: None) -> str:
    from ccvs_plugin_state.estimator_training import annotate_states

    written = annotate_states(Path(options.data), Path(options.estimator), options.overwrite)
    return f"wrote state.json for {len(written)} videos"


position_estimator = PluginCommand(
    help="train the state condition's position estimator",
    description=TRAIN_DESCRIPTION,
    options=EstimatorOptions,
    run=train,
)
annotate_states = PluginCommand(
    help="write state.json with a trained position estimator",
    description="Estimate the tracked point in every frame of the videos that have no state.json\n"
    "(all of them with --overwrite) and write their state.json (positions in the stored\n"
    "frames' pixels), with the estimator of `ccvs train position-estimator`.",
    options=AnnotateOptions,
    run=annotate,
    run_arguments=False,
)
