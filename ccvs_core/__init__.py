"""ccvs: context-aware controllable video synthesis.

The public API: what user code and plugins import (plugins import only this and ``ccvs_core.testing``).
Every name but the errors and ``__version__`` is loaded on first use, so ``import ccvs_core`` stays
cheap (no torch, no training, no CLI) and a command that needs none of them never loads them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ccvs_core.errors import CCVSError, CheckpointError, ConfigError, InputError, PluginError

__version__ = "0.2.0"

# name -> the module that defines it
_EXPORTS = {
    # the condition plugin spec (CONTRIBUTING.md, "Writing a condition plugin")
    "Condition": "ccvs_core.conditions",
    "ConditionContext": "ccvs_core.conditions",
    "register_condition": "ccvs_core.conditions",
    "get_condition": "ccvs_core.conditions",
    "list_conditions": "ccvs_core.conditions",
    "Slot": "ccvs_core.slots",
    "Timeline": "ccvs_core.slots",
    "SequenceLayout": "ccvs_core.sequence",
    "PluginCommand": "ccvs_core.plugin_command",
    "RunArguments": "ccvs_core.plugin_command",
    # configs and their validators
    "Config": "ccvs_core.config_base",
    "at_least": "ccvs_core.config_base",
    "greater_than": "ccvs_core.config_base",
    "in_range": "ccvs_core.config_base",
    # datasets: clips, video records and the folder format
    "Clip": "ccvs_core.data.clips",
    "ClipDataset": "ccvs_core.data.clips",
    "FrameGeometry": "ccvs_core.data.clips",
    "VideoRecord": "ccvs_core.data.video",
    "index_video": "ccvs_core.data.video",
    "read_record_frames": "ccvs_core.data.video",
    "list_video_folders": "ccvs_core.data.format",
    "read_json": "ccvs_core.data.format",
    "load_state": "ccvs_core.data.format",
    "check_segmentation": "ccvs_core.data.coco_rle",
    "MAX_IMAGE_SIDE": "ccvs_core.data.coco_rle",
    # frames, pictures and sound
    "read_frames": "ccvs_core.media",
    "iter_frames": "ccvs_core.media",
    "read_image": "ccvs_core.media",
    "check_png_chunks": "ccvs_core.media",
    "write_image": "ccvs_core.media",
    "write_video": "ccvs_core.media",
    "make_grid": "ccvs_core.media",
    "read_audio": "ccvs_core.data.audio",
    "write_wav": "ccvs_core.data.audio",
    # weights and files
    "save_tensors": "ccvs_core.weights",
    "load_tensors": "ccvs_core.weights",
    "load_module": "ccvs_core.weights",
    "load_json": "ccvs_core.weights",
    "export_module": "ccvs_core.models.io",
    "load_exported": "ccvs_core.models.io",
    "write_text_atomic": "ccvs_core.atomic",
    # models a plugin may build on
    "load_autoencoder": "ccvs_core.models.io",
    "frames_to_tensor": "ccvs_core.models.autoencoder",
    "VectorQuantizer": "ccvs_core.models.quantizer",
    "Quantized": "ccvs_core.models.quantizer",
    "perplexity": "ccvs_core.models.quantizer",
    "quantization_loss": "ccvs_core.training.losses",
    # training a condition's own module, with a progress bar
    "train_steps": "ccvs_core.training.small_loop",
    "track": "ccvs_core.console",
    # scores
    "ssim": "ccvs_core.metrics.ssim",
    "psnr": "ccvs_core.metrics.psnr",
    # the whole pipeline
    "CCVSPipeline": "ccvs_core.pipeline",
    "default_model": "ccvs_core.shipped",
    "sample_input": "ccvs_core.shipped",
    "SamplingConfig": "ccvs_core.generation",
}

__all__ = [
    "MAX_IMAGE_SIDE",
    "CCVSError",
    "CCVSPipeline",
    "CheckpointError",
    "Clip",
    "ClipDataset",
    "Condition",
    "ConditionContext",
    "Config",
    "ConfigError",
    "FrameGeometry",
    "InputError",
    "PluginCommand",
    "PluginError",
    "Quantized",
    "RunArguments",
    "SamplingConfig",
    "SequenceLayout",
    "Slot",
    "Timeline",
    "VectorQuantizer",
    "VideoRecord",
    "__version__",
    "at_least",
    "check_png_chunks",
    "check_segmentation",
    "default_model",
    "export_module",
    "frames_to_tensor",
    "get_condition",
    "greater_than",
    "in_range",
    "index_video",
    "iter_frames",
    "list_conditions",
    "list_video_folders",
    "load_autoencoder",
    "load_exported",
    "load_json",
    "load_module",
    "load_state",
    "load_tensors",
    "make_grid",
    "perplexity",
    "psnr",
    "quantization_loss",
    "read_audio",
    "read_frames",
    "read_image",
    "read_json",
    "read_record_frames",
    "register_condition",
    "sample_input",
    "save_tensors",
    "ssim",
    "track",
    "train_steps",
    "write_image",
    "write_text_atomic",
    "write_video",
    "write_wav",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ccvs_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from ccvs_core.atomic import write_text_atomic
    from ccvs_core.conditions import (
        Condition,
        ConditionContext,
        get_condition,
        list_conditions,
        register_condition,
    )
    from ccvs_core.config_base import Config, at_least, greater_than, in_range
    from ccvs_core.console import track
    from ccvs_core.data.audio import read_audio, write_wav
    from ccvs_core.data.clips import Clip, ClipDataset, FrameGeometry
    from ccvs_core.data.format import list_video_folders, load_state, read_json
    from ccvs_core.data.video import VideoRecord, index_video, read_record_frames
    from ccvs_core.generation import SamplingConfig
    from ccvs_core.media import make_grid, read_frames, read_image, write_image, write_video
    from ccvs_core.metrics.psnr import psnr
    from ccvs_core.metrics.ssim import ssim
    from ccvs_core.models.autoencoder import frames_to_tensor
    from ccvs_core.models.io import export_module, load_autoencoder, load_exported
    from ccvs_core.models.quantizer import Quantized, VectorQuantizer, perplexity
    from ccvs_core.pipeline import CCVSPipeline
    from ccvs_core.plugin_command import PluginCommand, RunArguments
    from ccvs_core.sequence import SequenceLayout
    from ccvs_core.slots import Slot, Timeline
    from ccvs_core.training.losses import quantization_loss
    from ccvs_core.training.small_loop import train_steps
    from ccvs_core.weights import load_json, load_module, load_tensors, save_tensors
