"""The pipeline folder (DESIGN.md §5): its parts, and how they are saved and loaded. Below both the
pipeline (which adds generation) and the stage-2 trainer (which writes one at every checkpoint).

``config.json``::

    {"format": "ccvs-pipeline", "format_version": 2, "ccvs_core": "0.2.0",
     "frame_size": [H, W], "fps": F, "autoencoder": {...}, "transformer": {...},
     "conditions": {"audio": {"distribution": "ccvs-plugin-audio", "version": "0.5.0",
                              "config": {...}, "slots": [{"level": "frame", ...}, ...]}}}

and ``model.safetensors`` (keys ``autoencoder.*``, ``transformer.*``, ``conditions.<name>.*``). Each
condition's slots are recorded, so the sequence is laid out from the file itself: a plugin whose
slots changed is named instead of failing on tensor shapes, and every condition slot has an absent
token (``sequence.absent_token``) for a condition that is not given. Everything is checked before
anything is built.
"""

from __future__ import annotations

import json
import math
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ccvs_core import conditions as condition_registry
from ccvs_core.atomic import atomic_path
from ccvs_core.conditioning import build_layout, condition_context
from ccvs_core.conditions import Condition, distribution_of, get_condition
from ccvs_core.config import AutoencoderConfig, TransformerConfig
from ccvs_core.console import console
from ccvs_core.errors import CheckpointError, ConfigError, PluginError
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.models.transformer import VideoTransformer
from ccvs_core.slots import Slot
from ccvs_core.weights import (
    StoredTensor,
    check_built,
    checkpoint_config,
    field_explainer,
    load_json,
    load_module,
    load_tensors,
    read_header,
    save_tensors,
)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "ccvs-pipeline"
FORMAT_VERSION = 2  # 2: recorded slots, absent tokens, "target" slots (ccvs-core 0.2)
_RECORD_FIELDS = {"distribution", "version", "config", "slots"}


class PipelineParts(torch.nn.Module):
    """The trained parts of a pipeline: autoencoder, transformer and conditions, at ``frame_size`` and
    ``fps``; each condition gets its ``context`` from them."""

    def __init__(
        self,
        autoencoder: FlowAutoencoder,
        transformer: VideoTransformer,
        frame_size: tuple[int, int],
        conditions: Mapping[str, Condition] | None = None,
        fps: float = 10.0,
        condition_dropout: float = 0.0,
    ):
        super().__init__()
        # > 0: trained with condition dropout, so a condition may be left out (its absent tokens)
        self.condition_dropout = condition_dropout
        # conditions of the model whose plugin is not installed: {name: their recorded slots}, always absent
        self.missing: dict[str, list[Slot]] = {}
        self.autoencoder, self.transformer = autoencoder, transformer
        # what made this pipeline (the default model: its recipe, minutes, data and measured table)
        self.about: dict[str, Any] = {}
        self.conditions = torch.nn.ModuleDict(dict(conditions or {}))
        self.frame_size, self.fps = tuple(frame_size), fps
        context = condition_context(autoencoder, self.frame_size, fps)
        for condition in self.conditions.values():
            condition.context = context

    def save_pretrained(self, folder: str | os.PathLike, half: bool = False) -> Path:
        """Write the pipeline folder (atomically: it appears complete or not at all). ``half``: floating
        weights as float16 (half the file; loading casts them back to the model's float32)."""
        from ccvs_core import __version__

        if self.missing:
            raise PluginError(
                f"condition '{next(iter(self.missing))}'",
                "this pipeline was loaded without its plugin, so it cannot be saved whole",
            )

        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "ccvs_core": __version__,
            "frame_size": list(self.frame_size),
            "fps": self.fps,
            "condition_dropout": self.condition_dropout,
            "autoencoder": self.autoencoder.config.to_dict(),
            "transformer": self.transformer.config.to_dict(),
            "conditions": {name: condition_record(c) for name, c in self.conditions.items()},
            **({"about": self.about} if self.about else {}),
        }
        tensors = self.state_dict()
        if half:
            tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
        folder = Path(folder)
        with atomic_path(folder, directory=True) as tmp:
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            save_tensors(tmp / WEIGHTS_FILE, tensors, metadata={"format": FORMAT})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, device: str | torch.device = "cpu"):
        """Rebuild exactly what ``save_pretrained`` wrote. The config is checked whole, then against the
        weights' header (the parts built on the meta device), before anything is allocated; a malformed
        or mismatched file is a CheckpointError naming it and the field or tensor, a condition whose
        plugin is missing a PluginError naming the package to install."""
        folder = Path(folder)
        path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        data = read_config(path)
        autoencoder_config = checkpoint_config(AutoencoderConfig, data["autoencoder"], path, "autoencoder.")
        transformer_config = checkpoint_config(TransformerConfig, data["transformer"], path, "transformer.")
        frame_size = tuple(data["frame_size"])
        try:
            grid = autoencoder_config.token_grid(frame_size)
        except ConfigError as err:
            raise CheckpointError(path, f"field 'frame_size': {err.problem}") from None
        recorded = {name: record_slots(path, name, record) for name, record in data["conditions"].items()}
        header = read_header(weights)
        check_sizes(path, weights, header, transformer_config, frame_size, grid, recorded)
        layout = build_layout(autoencoder_config, transformer_config, frame_size, recorded)
        dropout = float(data["condition_dropout"])
        conditions, missing = {}, {}
        for name, record in data["conditions"].items():
            registry = condition_registry.registry
            if dropout > 0 and name not in registry.names() and not registry.contested(name):
                # trained with condition dropout: the model knows how to go without it
                missing[name] = recorded[name]
                console.print(
                    f"condition '{name}' ({record['distribution']} {record['version']}) is not installed: "
                    f"{folder} is used without it ({how_to_get(record)} to give it)",
                    highlight=False,
                )
                continue
            conditions[name] = build_condition(path, name, record, recorded[name])
        codebook = autoencoder_config.codebook_size
        sections = {k: data[k] for k in ("frame_size", "autoencoder", "transformer", "conditions")}
        explain = field_explainer(sections, path.name)
        check_built(lambda: FlowAutoencoder(autoencoder_config), header, weights, "autoencoder.", explain)
        check_built(
            lambda: VideoTransformer(transformer_config, layout, codebook),
            header,
            weights,
            "transformer.",
            explain,
        )
        autoencoder = FlowAutoencoder(autoencoder_config)
        transformer = VideoTransformer(transformer_config, layout, codebook)
        parts = cls(autoencoder, transformer, frame_size, conditions, float(data["fps"]), dropout)
        parts.missing = missing
        parts.about = data.get("about", {})
        absent = tuple(f"conditions.{name}." for name in missing)  # their own modules' weights
        tensors = {k: v for k, v in load_tensors(weights).items() if not k.startswith(absent)}
        load_module(parts, tensors, weights)
        return parts.to(device).eval()


def check_sizes(
    path: Path,
    weights: Path,
    header: Mapping[str, StoredTensor],
    transformer: TransformerConfig,
    frame_size: tuple[int, int],
    grid: tuple[int, int],
    slots: Mapping[str, list[Slot]],
) -> None:
    """The sizes that set how many modules and how long a sequence the parts have (layers, window, tokens
    per frame, slot lengths), against the weights' header: a config of 10**6 layers or 10**9-pixel frames
    is refused before the sequence layout or the transformer is built."""

    def rows(key: str) -> int:
        if key not in header:
            raise CheckpointError(weights, f"does not match the model: missing '{key}'")
        return header[key].shape[0]

    def refuse(field: str, value: object, problem: str) -> typing.NoReturn:
        raise CheckpointError(path, f"field '{field}' = {value!r} disagrees with {weights.name}: {problem}")

    blocks = {k.split(".")[2] for k in header if k.startswith("transformer.blocks.")}
    if transformer.layers != len(blocks):
        refuse("transformer.layers", transformer.layers, f"it holds {len(blocks)} transformer blocks")
    if transformer.window + 1 != rows("transformer.time.weight"):
        refuse(
            "transformer.window",
            transformer.window,
            f"it holds {rows('transformer.time.weight') - 1} frame times",
        )
    # the transformer's index embedding has a row per place in its longest slot (the frame's tokens or a condition's)
    places = rows("transformer.index.weight")
    if grid[0] * grid[1] > places:
        refuse(
            "frame_size",
            list(frame_size),
            f"its {grid[0] * grid[1]} tokens a frame exceed the {places} places it holds",
        )
    for name, condition_slots in slots.items():
        for i, slot in enumerate(condition_slots):
            if slot.length > places:
                refuse(
                    f"conditions.{name}.slots[{i}].length", slot.length, f"it holds {places} places a slot"
                )
    if max([grid[0] * grid[1], *(s.length for ss in slots.values() for s in ss)]) != places:
        raise CheckpointError(
            path,
            f"the frame size and slot lengths make no slot of the {places} places that {weights.name} holds",
        )


def condition_record(condition: Condition) -> dict[str, Any]:
    """What ``config.json`` says of a condition: the distribution that provided it, its config and slots."""
    distribution, version = distribution_of(type(condition).__module__)
    return {
        "distribution": distribution,
        "version": version,
        "config": condition.config.to_dict(),
        "slots": [slot.to_dict() for slot in condition.slots()],
    }


def read_config(path: Path) -> dict[str, Any]:
    """``config.json`` of a pipeline folder, its format, version and top-level fields checked."""
    data = load_json(
        path, "file not found (is this a pipeline folder, OUT/pipeline of ccvs train transformer?)"
    )
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(path, f'is not a ccvs pipeline config (no "format": "{FORMAT}")')
    version = data.get("format_version", 1)
    if version != FORMAT_VERSION:
        from ccvs_core import __version__

        raise CheckpointError(
            path,
            f"is a pipeline of format version {version} (made by ccvs-core {data.get('ccvs_core', '?')}); "
            f"ccvs-core {__version__} reads version {FORMAT_VERSION}",
            "train it again with this ccvs-core, or load it with the ccvs-core that made it",
        )
    kinds = {
        "frame_size": list,
        "fps": (int, float),
        "condition_dropout": (int, float),
        "autoencoder": dict,
        "transformer": dict,
        "conditions": dict,
    }
    for field, kind in kinds.items():
        if not isinstance(data.get(field), kind) or isinstance(data.get(field), bool):
            raise CheckpointError(path, f"field '{field}' is missing or malformed: {data.get(field)!r}")
    if not isinstance(data.get("about", {}), dict):
        raise CheckpointError(path, f"field 'about' must be an object, got {type(data['about']).__name__}")
    size = data["frame_size"]
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise CheckpointError(path, f"field 'frame_size' must be [height, width], got {size!r}")
    if not (math.isfinite(data["fps"]) and data["fps"] > 0):
        raise CheckpointError(path, f"field 'fps' must be a positive finite number, got {data['fps']!r}")
    if not 0 <= data["condition_dropout"] < 1:
        raise CheckpointError(
            path, f"field 'condition_dropout' must be in [0, 1), got {data['condition_dropout']!r}"
        )
    for name, record in data["conditions"].items():
        if not isinstance(record, dict) or set(record) != _RECORD_FIELDS:
            got = sorted(record) if isinstance(record, dict) else type(record).__name__
            raise CheckpointError(
                path, f"field 'conditions.{name}' must hold {sorted(_RECORD_FIELDS)}, got {got}"
            )
        for field in ("distribution", "version"):
            if not isinstance(record[field], str) or not record[field]:
                raise CheckpointError(
                    path,
                    f"field 'conditions.{name}.{field}' must be a non-empty string, got {record[field]!r}",
                )
    return data


def how_to_get(record: dict[str, Any]) -> str:
    """How to install the plugin a condition's record names (a local module has no distribution)."""
    if record["version"] == "-":
        return "load its module with ccvs --plugin MODULE (or CCVS_PLUGINS)"
    return f"pip install {record['distribution']}"


def record_slots(path: Path, name: str, record: dict[str, Any]) -> list[Slot]:
    """The slots ``config.json`` recorded for condition ``name``, checked."""
    slots = record["slots"]
    if not isinstance(slots, list) or not slots:
        raise CheckpointError(path, f"field 'conditions.{name}.slots' must be a non-empty list")
    out = []
    for i, slot in enumerate(slots):
        try:
            out.append(Slot.from_dict(slot, name))
        except PluginError as err:
            raise CheckpointError(path, f"field 'conditions.{name}.slots[{i}]': {err.problem}") from None
    return out


def build_condition(path: Path, name: str, record: dict[str, Any], slots: list[Slot]) -> Condition:
    """Condition ``name`` from the plugin that provides it now, checked against what the file recorded."""
    made_with = f"{record['distribution']} {record['version']}"
    try:
        cls = get_condition(name)
    except PluginError as err:
        raise PluginError(
            f"condition '{name}'",
            f"{err.problem}; this pipeline was made with {made_with}",
            how_to_get(record),
        ) from None
    entry = next(e for e in condition_registry.registry.entries() if e.name == name and e.ok)
    if record["version"] != "-" and entry.package != record["distribution"]:
        raise PluginError(
            f"condition '{name}'",
            f"this pipeline was made with {made_with}, but here {entry.package} provides it",
        )
    config = checkpoint_config(cls.config_class, record["config"], path, f"conditions.{name}.config.")
    condition = cls(config)
    if condition.slots() != slots:
        raise CheckpointError(
            path,
            f"field 'conditions.{name}.slots': {made_with} declared other slots than the installed "
            f"{entry.package} {entry.version} makes of the same config",
            f"install {made_with}, or train the pipeline again",
        )
    return condition
