"""Planning a stage-2 run (``ccvs train transformer``): the run config saved as ``OUT/run.json``, from
a preset, the user's flags and conditions, or the saved run when resuming (only some fields may change)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ccvs_core.conditions import get_condition
from ccvs_core.config import TransformerConfig, TransformerTrainingConfig, preset
from ccvs_core.config_base import Config, flag
from ccvs_core.errors import CheckpointError, ConfigError, InputError
from ccvs_core.models.io import autoencoder_frame_size
from ccvs_core.pipeline_format import CONFIG_FILE as PIPELINE_CONFIG
from ccvs_core.weights import load_json

RUN_FILE = "run.json"
RESUMABLE = {"steps", "checkpoint_every", "sample_every", "precision", "parallel", "accumulate", "compile"}


@attrs.frozen(kw_only=True)
class TransformerRunConfig(Config):
    """Everything a stage-2 run depends on, saved as ``OUT/run.json``."""

    autoencoder: str  # folder of the exported stage-1 autoencoder
    frame_size: tuple[int, int]  # (height, width) of the frames it was trained on
    transformer: TransformerConfig = attrs.Factory(TransformerConfig)
    training: TransformerTrainingConfig = attrs.Factory(TransformerTrainingConfig)
    conditions: dict[str, dict[str, Any]] = attrs.Factory(dict)  # name -> its config, as asked for
    # pipeline folder whose transformer weights start the run (transfer_weights): a new condition
    # learns its own embeddings on top of a trained model
    init_from: str | None = None


def condition_configs(requested: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{name: {field: value}}`` (fields left out keep the plugin's defaults) -> full, checked configs."""
    configs = {}
    for name, values in requested.items():
        cls = get_condition(name)
        merged = {**cls.config_class().to_dict(), **values}
        configs[name] = cls.config_class.from_dict(merged, source=f"--cond {name}").to_dict()
    return configs


def plan_transformer_run(
    out: str | os.PathLike,
    autoencoder: str | os.PathLike | None,
    preset_name: str | None,
    overrides: dict,
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
    init_from: str | os.PathLike | None = None,
) -> TransformerRunConfig:
    """The run config for ``out``: the saved one when resuming (only RESUMABLE training fields may
    change), else preset ``preset_name`` (default "toyworld") for the autoencoder in ``autoencoder``.
    ``conditions``: ``{name: config values}`` to train with (None: the saved run's, or none).
    ``init_from``: a pipeline folder whose transformer starts the run (None: the saved run's, or none)."""
    saved_path = Path(out) / RUN_FILE
    saved = TransformerRunConfig.from_json(saved_path) if saved_path.is_file() else None
    if saved is None and autoencoder is None:
        raise InputError("--autoencoder", "is required to start a run (the folder stage 1 exported)")
    if saved is not None and init_from is None:
        init_from = saved.init_from  # its size came from there
    if saved is not None and preset_name is None:
        base = saved
    else:
        name = preset_name or "toyworld"
        folder = str(autoencoder if autoencoder is not None else saved.autoencoder)
        base = TransformerRunConfig(
            autoencoder=folder,
            frame_size=autoencoder_frame_size(folder),
            transformer=preset(TransformerConfig, name)
            if init_from is None
            else _pipeline_transformer(init_from),
            training=preset(TransformerTrainingConfig, name),
        )
    run = attrs.evolve(
        base,
        transformer=base.transformer.replace(**overrides.get("transformer", {})),
        training=base.training.replace(**overrides.get("training", {})),
    )
    if autoencoder is not None:
        run = attrs.evolve(run, autoencoder=str(autoencoder))
    if conditions is not None or saved is None:
        run = attrs.evolve(run, conditions=condition_configs(conditions or {}))
    if init_from is not None:
        run = attrs.evolve(run, init_from=str(init_from))
    if saved is not None:
        if sorted(saved.conditions) != sorted(run.conditions):
            raise ConfigError(
                f"--out {out}",
                f"holds a run trained with conditions {sorted(saved.conditions) or 'none'}, "
                f"not {sorted(run.conditions) or 'none'}",
                "resume with the same --cond flags, or choose another --out",
            )
        old, new = _flat(saved.to_dict()), _flat(run.to_dict())
        changed = [k for k in old if old[k] != new.get(k) and k.removeprefix("training.") not in RESUMABLE]
        if changed:
            raise ConfigError(
                f"--out {out}",
                f"holds a run started with {changed[0]} = {old[changed[0]]!r}, not {new[changed[0]]!r}",
                "resume with the same settings (only "
                + ", ".join(map(flag, sorted(RESUMABLE)))
                + " may change; --init-from only starts a run), or choose another --out",
            )
    return run


def _pipeline_transformer(folder: str | os.PathLike) -> TransformerConfig:
    """The transformer config of the pipeline in ``folder``: a run started from it has its size."""
    path = Path(folder) / PIPELINE_CONFIG
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("transformer"), dict):
        raise CheckpointError(
            path, "has no 'transformer' section (is it a folder ccvs generate --model takes?)"
        )
    return TransformerConfig.from_dict(data["transformer"], source=str(path), prefix="transformer.")


def _flat(config: dict, prefix: str = "") -> dict:
    """{"training": {"lr": 1}} -> {"training.lr": 1}."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out
