"""CCVSPipeline: the trained parts put together, saved and loaded as one folder, and ``generate``
(DESIGN.md §4-5).

A pipeline folder holds ``config.json`` (the frame size, every part's config, the conditions with
their package, version and config, the ccvs-core version) and ``model.safetensors`` (keys
``autoencoder.*``, ``transformer.*``, ``conditions.<name>.*``). ``generate`` runs the doubly
autoregressive loop of Fig. 1: context frames -> tokens (E, Q); the transformer samples the next
frames' tokens, given the conditions' tokens; the autoencoder decodes them one by one with the flow
module over the last frames in image space.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ccvs_core.atomic import atomic_path
from ccvs_core.conditions import Condition, ConditionContext, Timeline, check_tokens, get_condition
from ccvs_core.config import AutoencoderConfig, TransformerConfig
from ccvs_core.data.clips import FrameGeometry
from ccvs_core.errors import CheckpointError, InputError
from ccvs_core.generation import SamplingConfig, generate_frame_tokens
from ccvs_core.models.autoencoder import FlowAutoencoder, frames_to_tensor, tensor_to_frames
from ccvs_core.models.transformer import VideoTransformer
from ccvs_core.sequence import SequenceLayout
from ccvs_core.weights import load_json, load_module, load_tensors, save_tensors

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "ccvs-pipeline"
DECODE_CHUNK = 8  # samples decoded at once: memory stays bounded for many samples


class CCVSPipeline(torch.nn.Module):
    def __init__(
        self,
        autoencoder: FlowAutoencoder,
        transformer: VideoTransformer,
        frame_size: tuple[int, int],
        conditions: Mapping[str, Condition] | None = None,
        fps: float = 10.0,
    ):
        super().__init__()
        self.autoencoder, self.transformer = autoencoder, transformer
        self.conditions = torch.nn.ModuleDict(dict(conditions or {}))
        self.frame_size, self.fps = tuple(frame_size), fps
        context = condition_context(autoencoder, self.frame_size, fps)
        for condition in self.conditions.values():
            condition.setup(context)

    # saving and loading ---------------------------------------------------------------------------

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write the pipeline folder (atomically: it appears complete or not at all)."""
        from ccvs_core import __version__

        config = {
            "format": FORMAT,
            "ccvs_core": __version__,
            "frame_size": list(self.frame_size),
            "fps": self.fps,
            "autoencoder": self.autoencoder.config.to_dict(),
            "transformer": self.transformer.config.to_dict(),
            "conditions": {name: _condition_record(c) for name, c in self.conditions.items()},
        }
        folder = Path(folder)
        with atomic_path(folder, directory=True) as tmp:
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            save_tensors(tmp / WEIGHTS_FILE, self.state_dict(), metadata={"format": FORMAT})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, device: str | torch.device = "cpu") -> CCVSPipeline:
        """Rebuild exactly what ``save_pretrained`` wrote; anything missing or mismatched is an error
        naming the file (a condition whose plugin is not installed is a PluginError naming it)."""
        folder = Path(folder)
        path = folder / CONFIG_FILE
        data = load_json(path)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CheckpointError(path, f'is not a ccvs pipeline config (no "format": "{FORMAT}")')
        autoencoder = FlowAutoencoder(
            AutoencoderConfig.from_dict(data["autoencoder"], source=str(path), prefix="autoencoder.")
        )
        frame_size = tuple(data["frame_size"])
        conditions = {}
        for name, record in data.get("conditions", {}).items():
            cls_ = get_condition(name)
            conditions[name] = cls_(
                cls_.config_class.from_dict(
                    record["config"], source=str(path), prefix=f"conditions.{name}.config."
                )
            )
        transformer_config = TransformerConfig.from_dict(
            data["transformer"], source=str(path), prefix="transformer."
        )
        layout = build_layout(autoencoder.config, transformer_config, frame_size, conditions)
        transformer = VideoTransformer(transformer_config, layout, autoencoder.config.codebook_size)
        pipeline = cls(autoencoder, transformer, frame_size, conditions, float(data.get("fps", 10.0)))
        try:
            load_module(pipeline, load_tensors(folder / WEIGHTS_FILE), folder / WEIGHTS_FILE)
        except CheckpointError as err:
            changed = _changed_plugins(data.get("conditions", {}), conditions)
            if err.hint or not changed:
                raise
            # a plugin whose slots changed between versions makes other tensors: say which one
            raise CheckpointError(
                err.subject, err.problem, f"made with {changed}: its slots may have changed since"
            ) from err
        return pipeline.to(device).eval()

    def context_tokens(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 frames ``[T, H, W, 3]`` of any size -> their frame tokens ``[T, h, w]`` (E and Q)."""
        return condition_context(self.autoencoder, self.frame_size, self.fps).tokenize_frames(frames)

    # generation -----------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        context: np.ndarray | torch.Tensor | None,
        conditions: Mapping[str, Any] | None = None,
        num_frames: int = 16,
        num_samples: int = 1,
        seed: int = 0,
        sampling: SamplingConfig | None = None,
        num_contexts: int | None = None,
        on_frame: Callable[[int], None] | None = None,
        return_predicted: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
        """Videos continuing ``context`` (uint8 ``[m, H, W, 3]``, m >= 0 real frames, any size: resized
        and cropped to the pipeline's frame size; None or m = 0: every frame is sampled, e.g. from a
        class alone): uint8 ``[num_samples, num_frames, H, W, 3]``, the context frames first.
        ``conditions``: raw inputs by condition name (what ``Condition.parse`` returns); a condition with
        predictable slots (layout) may be left out: its tokens are then sampled too (Fig. D2), and with
        ``return_predicted`` the result is ``(videos, {condition: Condition.decode(tokens)})``. Sample i
        draws with seed ``seed + i``: the same seed gives the same video."""
        videos, tokens, predict = self._generate(
            [context], [conditions or {}], num_frames, num_samples, [seed], sampling, num_contexts, on_frame
        )
        if not return_predicted:
            return videos[0]
        return videos[0], {name: self.conditions[name].decode(tokens[name]) for name in predict}

    @torch.no_grad()
    def generate_batch(
        self,
        contexts: Sequence[np.ndarray | torch.Tensor | None],
        conditions: Sequence[Mapping[str, Any]] | None = None,
        num_frames: int = 16,
        num_samples: int = 1,
        seeds: Sequence[int] | None = None,
        sampling: SamplingConfig | None = None,
        num_contexts: int | None = None,
        on_frame: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """``generate`` for several inputs at once: uint8 ``[V, num_samples, num_frames, H, W, 3]``, video v
        continuing ``contexts[v]`` (all with the same number of frames) under ``conditions[v]`` with seed
        ``seeds[v]`` (default v). Each video is what ``generate`` makes of its input and seed (every
        sample draws from its own generator; bit for bit on the CPU, where the tests check it: GPU
        kernels may round other batch sizes differently); the V x S samples are sampled as one batch, so the
        transformer's weights are read once per token for all of them: the fast way to evaluate many
        videos. Predicted conditions are sampled but not returned (use ``generate`` for those)."""
        seeds = list(range(len(contexts))) if seeds is None else list(seeds)
        conditions = [{} for _ in contexts] if conditions is None else list(conditions)
        return self._generate(
            contexts, conditions, num_frames, num_samples, seeds, sampling, num_contexts, on_frame
        )[0]

    def _generate(
        self,
        contexts: Sequence[np.ndarray | torch.Tensor | None],
        conditions: Sequence[Mapping[str, Any]],
        num_frames: int,
        num_samples: int,
        seeds: Sequence[int],
        sampling: SamplingConfig | None,
        num_contexts: int | None,
        on_frame: Callable[[int], None] | None,
    ) -> tuple[np.ndarray, dict, list[str]]:
        """(videos ``[V, S, T, H, W, 3]``, the condition tokens of all V x S samples, the predicted conditions)."""
        if not contexts:
            raise InputError("contexts", "give at least one context (None for a video from no frame)")
        if len(conditions) != len(contexts) or len(seeds) != len(contexts):
            raise InputError(
                "generate_batch",
                f"needs one conditions mapping and one seed per context ({len(contexts)}), "
                f"got {len(conditions)} and {len(seeds)}",
            )
        device = next(self.parameters()).device
        frames = [self._context_frames(c, num_frames, device) for c in contexts]
        m = frames[0].shape[0]
        if any(f.shape[0] != m for f in frames):
            counts = sorted({f.shape[0] for f in frames})
            raise InputError("contexts", f"must all have the same number of frames, got {counts}")
        grid = self.autoencoder.config.token_grid(self.frame_size)
        tokens = (  # every context frame of every video through E and Q at once
            self.autoencoder.tokenize(torch.cat(frames)).view(len(frames), m, *grid)
            if m
            else torch.zeros(len(frames), 0, *grid, dtype=torch.long, device=device)
        ).repeat_interleave(num_samples, 0)  # [V S, m, h, w]
        per_video = [self.condition_tokens(raw or {}, num_frames, num_samples, device) for raw in conditions]
        predict = per_video[0][2]
        if any(p != predict for _, _, p in per_video):
            raise InputError(
                "conditions", "every video must give the same conditions (the others are predicted)"
            )
        condition_tokens = {
            c: {slot: torch.cat([tokens_v[c][slot] for tokens_v, _, _ in per_video]) for slot in slots}
            for c, slots in per_video[0][0].items()
        }
        targets = {c: torch.cat([targets_v[c] for _, targets_v, _ in per_video]) for c in per_video[0][1]}
        generators = [torch.Generator().manual_seed(seed + i) for seed in seeds for i in range(num_samples)]
        sequence = generate_frame_tokens(
            self.transformer, tokens, condition_tokens, num_frames, sampling or SamplingConfig(), generators,
            on_frame=(lambda t, _: on_frame(t)) if on_frame else None, targets=targets, predict=predict,
        )  # fmt: skip
        firsts = torch.stack(frames).repeat_interleave(num_samples, 0)  # [V S, m, 3, H, W]
        videos = [
            tensor_to_frames(self.autoencoder.decode_video(chunk, first, num_contexts)).cpu()
            for chunk, first in zip(sequence.split(DECODE_CHUNK), firsts.split(DECODE_CHUNK), strict=True)
        ]
        videos = torch.cat(videos).numpy()
        return videos.reshape(len(contexts), num_samples, *videos.shape[1:]), condition_tokens, predict

    def _context_frames(
        self, context: np.ndarray | torch.Tensor | None, num_frames: int, device
    ) -> torch.Tensor:
        """A user's context frames, checked, as float ``[m, 3, H, W]`` at the pipeline's frame size."""
        h, w = self.frame_size
        context = (
            torch.zeros(0, h, w, 3, dtype=torch.uint8)
            if context is None
            else (context if isinstance(context, torch.Tensor) else torch.from_numpy(np.array(context)))
        )
        if context.ndim != 4 or context.shape[-1] != 3 or context.dtype != torch.uint8:
            raise InputError(
                "context", f"must be uint8 frames [m, H, W, 3], got {context.dtype} {tuple(context.shape)}"
            )
        m = context.shape[0]
        if not 0 <= m < num_frames:
            raise InputError("--frames", f"must be larger than the {m} context frames, got {num_frames}")
        return self._resize(context).to(device) if m else torch.zeros(0, 3, h, w, device=device)

    def _resize(self, context: torch.Tensor) -> torch.Tensor:
        return resize_frames(context, self.frame_size)

    def condition_tokens(
        self, raw: Mapping[str, Any], num_frames: int, samples: int, device
    ) -> tuple[dict, dict, list[str]]:
        """(``{condition: {slot: tokens}}`` repeated for every sample, ``{condition: target frame [S]}`` of
        the conditions with a timed slot, the conditions left out to be predicted)."""
        unknown = sorted(set(raw) - set(self.conditions))
        if unknown:
            known = ", ".join(self.conditions) or "none"
            raise InputError(
                f"--cond {unknown[0]}", f"this pipeline was not trained with it (its conditions: {known})"
            )
        predict = [
            n for n, c in self.conditions.items() if n not in raw and all(s.predictable for s in c.slots())
        ]
        missing = sorted(set(self.conditions) - set(raw) - set(predict))
        if missing:
            raise InputError(f"--cond {missing[0]}", "this pipeline needs it: give --cond NAME:VALUE")
        timeline = Timeline(num_frames=num_frames, fps=self.fps)
        out, targets = {}, {}
        for name in predict:  # zero-filled: generation writes the sampled tokens in
            slots = self.conditions[name].slots()
            out[name] = {
                s.name: torch.zeros(samples, num_frames, s.length, dtype=torch.long, device=device)
                for s in slots
            }
        for name, condition in self.conditions.items():
            if name in predict:
                continue
            tokens = check_tokens(condition, condition.tokenize(raw[name], timeline), 1, num_frames)
            out[name] = {
                slot: value.to(device).repeat_interleave(samples, 0) for slot, value in tokens.items()
            }
            if any(slot.timed for slot in condition.slots()):
                target = condition.target_frame(raw[name], timeline)
                if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < num_frames:
                    raise InputError(
                        f"--cond {name}", f"targets frame {target!r}, outside the video's {num_frames} frames"
                    )
                targets[name] = torch.full((samples,), target, device=device)
        return out, targets, predict


def resize_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``[T, H, W, 3]`` of any size -> float ``[T, 3, h, w]`` in [-1, 1] at ``size`` (cover, centre crop)."""
    if tuple(frames.shape[1:3]) == tuple(size):
        return frames_to_tensor(frames)
    geometry = FrameGeometry.cover(tuple(frames.shape[1:3]), tuple(size))
    return frames_to_tensor(torch.stack([torch.from_numpy(geometry.apply(f.numpy()).copy()) for f in frames]))


def condition_context(
    autoencoder: FlowAutoencoder, frame_size: tuple[int, int], fps: float
) -> ConditionContext:
    """What the conditions get from a pipeline made of ``autoencoder`` at ``frame_size``."""

    @torch.no_grad()
    def tokenize_frames(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        frames = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.array(frames))
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise InputError(
                "frames", f"must be uint8 [T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}"
            )
        device = next(autoencoder.parameters()).device
        return autoencoder.tokenize(resize_frames(frames, frame_size).to(device))

    grid = autoencoder.config.token_grid(frame_size)
    return ConditionContext(tokenize_frames, tuple(frame_size), fps, grid, autoencoder.config.codebook_size)


def build_layout(
    autoencoder: AutoencoderConfig,
    transformer: TransformerConfig,
    frame_size: tuple[int, int],
    conditions: Mapping[str, Condition],
) -> SequenceLayout:
    slots = [(name, slot) for name, c in conditions.items() for slot in c.slots()]
    return SequenceLayout(autoencoder.token_grid(frame_size), transformer.window, slots)


def _changed_plugins(records: Mapping[str, Any], conditions: Mapping[str, Condition]) -> str:
    """'pkg 0.2.0 (installed: 0.3.0), ...' for every condition whose package version differs from the
    one the pipeline recorded; '' if none does."""
    changed = []
    for name, condition in conditions.items():
        recorded, installed = records[name].get("version"), _condition_record(condition)["version"]
        if recorded != installed:
            changed.append(f"{records[name].get('package', name)} {recorded} (installed: {installed})")
    return ", ".join(changed)


def _condition_record(condition: Condition) -> dict:
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    top = type(condition).__module__.split(".")[0]
    package = (packages_distributions().get(top) or [top])[0]
    try:
        package_version = version(package)
    except PackageNotFoundError:
        package_version = "-"
    return {"package": package, "version": package_version, "config": condition.config.to_dict()}
