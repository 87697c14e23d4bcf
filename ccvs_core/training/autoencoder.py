"""The first-stage trainer: E, Q, F, D and the discriminators (``ccvs train autoencoder``).

Adam for both players, an EMA of the autoencoder (the exported weights), a checkpoint every N steps
written atomically, resumption from the latest one, a rich progress bar with the losses, and sample
grids plus flow/mask pictures written next to the checkpoints. Written for torchrun: only rank 0
writes or shows anything, and the data sampler splits draws between ranks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import torch

from ccvs_core import distributed
from ccvs_core.config import AutoencoderConfig, AutoencoderTrainingConfig, DiscriminatorConfig, preset
from ccvs_core.config_base import Config, flag
from ccvs_core.console import console, progress_bar
from ccvs_core.data.clips import ClipDataset, first_clips
from ccvs_core.errors import ConfigError, InputError
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.models.discriminators import ImageDiscriminator, TemporalDiscriminator
from ccvs_core.models.io import export_autoencoder
from ccvs_core.models.quantizer import perplexity
from ccvs_core.training import acceleration
from ccvs_core.training.augment import AugmentConfig
from ccvs_core.training.autoencoder_data import AutoencoderTrainingData
from ccvs_core.training.autoencoder_samples import write_samples
from ccvs_core.training.autoencoder_step import (
    DiscriminatorLoss,
    GeneratorLoss,
    GeneratorOutput,
    draw_choices,
)
from ccvs_core.training.checkpoint import CheckpointManager, load_optimizer, optimizer_tensors
from ccvs_core.training.ema import EMA
from ccvs_core.training.losses import total_loss
from ccvs_core.training.perceptual import VGGFeatures
from ccvs_core.training.run_log import append_log, truncate_log
from ccvs_core.training.sampler import DrawSampler
from ccvs_core.weights import load_module

RUN_FILE = "run.json"
EXPORT_DIR = "autoencoder"
# Training settings a resumed run may change; anything else must match the run it resumes.
RESUMABLE = {"steps", "checkpoint_every", "sample_every", "num_workers", "precision", "compile"}


@attrs.frozen(kw_only=True)
class AutoencoderRunConfig(Config):
    """Everything a stage-1 run depends on, saved as ``OUT/run.json``."""

    autoencoder: AutoencoderConfig = attrs.Factory(AutoencoderConfig)
    discriminator: DiscriminatorConfig = attrs.Factory(DiscriminatorConfig)
    training: AutoencoderTrainingConfig = attrs.Factory(AutoencoderTrainingConfig)
    augment: AugmentConfig = attrs.Factory(AugmentConfig)


def plan_run(
    out: str | os.PathLike, preset_name: str | None, overrides: dict[str, dict[str, Any]]
) -> AutoencoderRunConfig:
    """The run config for ``out``: the saved one when resuming (overrides may only touch RESUMABLE
    training fields), else preset ``preset_name`` (default "toyworld") with the overrides.
    overrides: {"autoencoder" | "discriminator" | "training" | "augment": {field: value or None}}."""
    saved_path = Path(out) / RUN_FILE
    saved = AutoencoderRunConfig.from_json(saved_path) if saved_path.is_file() else None
    base = saved if saved is not None and preset_name is None else _preset_run(preset_name or "toyworld")
    parts = {
        name: getattr(base, name).replace(**overrides.get(name, {})) for name in attrs.fields_dict(type(base))
    }
    run = AutoencoderRunConfig(**parts)
    if saved is not None:
        for name in attrs.fields_dict(type(run)):
            old, new = getattr(saved, name).to_dict(), getattr(run, name).to_dict()
            changed = [k for k in old if old[k] != new[k] and not (name == "training" and k in RESUMABLE)]
            if changed:
                key = changed[0]
                raise ConfigError(
                    f"--out {out}",
                    f"holds a run started with {name}.{key} = {old[key]!r}, not {new[key]!r}",
                    f"resume with the same settings (only {', '.join(map(flag, sorted(RESUMABLE)))} may "
                    "change), or choose another --out",
                )
    return run


def _preset_run(name: str) -> AutoencoderRunConfig:
    return AutoencoderRunConfig(
        autoencoder=preset(AutoencoderConfig, name),
        discriminator=preset(DiscriminatorConfig, name),
        training=preset(AutoencoderTrainingConfig, name),
    )


class AutoencoderTrainer:
    def __init__(
        self, run: AutoencoderRunConfig, data: str | os.PathLike, out: str | os.PathLike, device: str = "cpu",
        progress: bool = True,
    ):  # fmt: skip
        self.run, self.out, self.device = run, Path(out), torch.device(device)
        cfg = run.training
        run.autoencoder.token_grid((cfg.size, cfg.size))  # a frame size the levels cannot halve: ConfigError
        self.main = distributed.is_main()
        self.progress = progress and self.main
        self.batch = distributed.share(cfg.batch_size)  # this process's clips of the global batch
        torch.manual_seed(cfg.seed)
        self.model = FlowAutoencoder(run.autoencoder).to(self.device)
        self.image_disc = ImageDiscriminator(run.discriminator).to(self.device)
        self.temporal_disc = TemporalDiscriminator(run.discriminator).to(self.device)
        self.perceptual = VGGFeatures(cfg.vgg_weights).to(self.device) if cfg.vgg_weights else None
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=cfg.betas)
        disc_params = [*self.image_disc.parameters(), *self.temporal_disc.parameters()]
        self.opt_d = torch.optim.Adam(disc_params, lr=cfg.disc_lr, betas=cfg.betas)
        self.ema = EMA(self.model, cfg.ema_decay)
        self.choices = torch.Generator().manual_seed(cfg.seed + 1)  # per-batch choices (contexts, views)
        self.restarts = torch.Generator().manual_seed(cfg.seed + 2)  # dead-code restarts
        self.step = 0
        self.checkpoints = CheckpointManager(self.out / "checkpoints")
        self.clips = ClipDataset(
            data, num_frames=cfg.clip_frames, size=cfg.size, split="train", seed=cfg.seed
        )
        try:  # 8-frame sample videos, or clips as long as training's when the videos are shorter
            self.sample_clips = first_clips(data, 8, (cfg.size, cfg.size))
        except InputError:
            self.sample_clips = first_clips(data, cfg.clip_frames, (cfg.size, cfg.size))
        self.checkpoints.resume(self._resume)
        if self.main:  # plan_run checked that a resumed run changes only what may change (its steps, ...)
            run.to_json(self.out / RUN_FILE)
        # the two players' losses as modules, under torchrun each in DDP (it averages the gradients);
        # the batch-level statistics then see the whole global batch
        acceleration.use_tf32(self.device)
        if cfg.compile:
            acceleration.compile_each([*self.model.decoder.blocks, *self.model.decoder.flow_levels])
        self.generator = GeneratorLoss(self.model)
        self.critic = DiscriminatorLoss(self.image_disc, self.temporal_disc)
        self.split = distributed.StridedBatch(self.batch)  # alone, its gather and mine change nothing
        if distributed.active():
            for module in (self.model.quantizer, self.image_disc, self.temporal_disc):
                module.split = self.split
            ids = [self.device] if self.device.type == "cuda" else None
            # F sits idle in batches without contexts: DDP must look for the parameters a step used
            self.generator = torch.nn.parallel.DistributedDataParallel(
                self.generator, device_ids=ids, find_unused_parameters=True
            )
            self.critic = torch.nn.parallel.DistributedDataParallel(self.critic, device_ids=ids)

    # the loop -------------------------------------------------------------------------------------

    def fit(self) -> Path:
        """Train up to ``training.steps``; returns the folder of the exported EMA autoencoder."""
        cfg = self.run.training
        if self.perceptual is None and self.main:
            console.print(
                "[bold yellow]WARNING: no VGG16 weights given (--vgg-weights): the perceptual term of "
                "Eq. 4 is OFF; reconstructions train on the L1 in RGB only.[/]",
                soft_wrap=True,
            )
        loader = self._loader()
        if distributed.active() and self.main:
            console.print(distributed.describe(str(self.device), "ddp", cfg.batch_size, "clips"))
        with progress_bar(disable=not self.progress) as bar:
            task = bar.add_task("autoencoder", total=cfg.steps, completed=self.step, status="")
            for batch in loader:
                if self.step >= cfg.steps:
                    break
                stats = self.train_step({k: v.to(self.device) for k, v in batch.items()})
                self.step += 1
                bar.update(task, advance=1, status=_status(stats))
                if self.main and (self.step % 10 == 0 or self.step == cfg.steps):
                    append_log(self.out / "log.jsonl", {"step": self.step, **stats})
                if self.step % cfg.sample_every == 0 and self.main:
                    write_samples(self.ema.model, self.sample_clips, self.out / "samples", self.step)
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.save()
        return self.out / EXPORT_DIR

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.run.training
        choices = draw_choices(self.choices, self.run.autoencoder.max_contexts, cfg)
        adversarial = self.step >= cfg.adversarial_start
        discs = (self.image_disc, self.temporal_disc) if adversarial else None
        self.model.train()
        for disc in (self.image_disc, self.temporal_disc):
            disc.requires_grad_(False)  # the generator's step must not update the discriminators' grads
        with acceleration.autocast(self.device, cfg.precision):
            out = GeneratorOutput(**self.generator(batch, choices, self.perceptual, discs, self.split))
        loss = total_loss(out.losses, cfg)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.ema.update(self.model)
        restarted = 0
        if cfg.dead_code_steps:
            restarted = self.model.quantizer.restart_dead_codes(
                self.split.gather(out.z), cfg.dead_code_steps, self.restarts
            )
        stats = {name: distributed.mean(value) for name, value in out.losses.items()}
        stats["total"] = distributed.mean(loss)
        if adversarial:
            for disc in (self.image_disc, self.temporal_disc):
                disc.requires_grad_(True)
            with acceleration.autocast(self.device, cfg.precision):
                d_loss = self.critic(batch["frames"], out.decoded.detach())
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            stats["discriminator"] = distributed.mean(d_loss)
        codebook, tokens = self.run.autoencoder.codebook_size, self.split.gather(out.tokens)
        stats["usage"] = tokens.unique().numel() / codebook
        stats["perplexity"] = perplexity(tokens, codebook)
        stats["restarted"] = restarted
        stats["contexts"] = choices.contexts
        if out.flow_error is not None:
            stats["view_epe"] = distributed.mean(out.flow_error)
        return stats

    def _loader(self) -> torch.utils.data.DataLoader:
        cfg = self.run.training
        dataset = AutoencoderTrainingData(self.clips, self.run.augment, cfg.seed)
        start = self.step * cfg.batch_size  # the global batch's draws, shared out by the sampler
        sampler = DrawSampler(len(self.clips), cfg.seed, start, distributed.rank(), distributed.world_size())
        return torch.utils.data.DataLoader(
            dataset, batch_size=self.batch, sampler=sampler, num_workers=cfg.num_workers,
            persistent_workers=cfg.num_workers > 0,
        )  # fmt: skip

    # checkpoints ----------------------------------------------------------------------------------

    def save(self) -> None:
        if distributed.active():
            distributed.check_in_step(self.model, "autoencoder")
            distributed.check_in_step(self.critic.module, "discriminators")
        if not self.main:
            return
        g_tensors, g_info = optimizer_tensors(self.opt_g)
        d_tensors, d_info = optimizer_tensors(self.opt_d)
        parts = {
            "model": self.model.state_dict(),
            "ema": self.ema.model.state_dict(),
            "image_disc": self.image_disc.state_dict(),
            "temporal_disc": self.temporal_disc.state_dict(),
            "opt_g": g_tensors,
            "opt_d": d_tensors,
            "rng": {
                "torch": torch.get_rng_state(),
                "choices": self.choices.get_state(),
                "restarts": self.restarts.get_state(),
            },
        }
        state = {"run": self.run.to_dict(), "opt_g": g_info, "opt_d": d_info}
        self.checkpoints.save(self.step, parts, state)
        extra = {"step": self.step, "frame_size": [self.run.training.size] * 2}
        export_autoencoder(self.ema.model, self.out / EXPORT_DIR, extra=extra)

    def _resume(self, path: Path) -> None:
        parts, state = self.checkpoints.load(
            path, required=("model", "ema", "image_disc", "temporal_disc", "opt_g", "opt_d", "rng")
        )
        load_module(self.model, parts["model"], path / "model.safetensors")
        load_module(self.ema.model, parts["ema"], path / "ema.safetensors")
        load_module(self.image_disc, parts["image_disc"], path / "image_disc.safetensors")
        load_module(self.temporal_disc, parts["temporal_disc"], path / "temporal_disc.safetensors")
        load_optimizer(self.opt_g, parts["opt_g"], state["opt_g"], str(path / "opt_g.safetensors"))
        load_optimizer(self.opt_d, parts["opt_d"], state["opt_d"], str(path / "opt_d.safetensors"))
        torch.set_rng_state(parts["rng"]["torch"])
        self.choices.set_state(parts["rng"]["choices"])
        self.restarts.set_state(parts["rng"]["restarts"])
        self.step = state["step"]
        self.ema.updates = self.step  # one EMA update per step
        if self.main:
            truncate_log(self.out / "log.jsonl", self.step)
            console.print(f"resuming from {path} (step {self.step})")


def _status(stats: dict[str, float]) -> str:
    keys = ("total", "reconstruction", "quantization", "contextual", "adversarial", "usage")
    return " ".join(f"{k[:5]}={stats[k]:.3f}" for k in keys if k in stats)
