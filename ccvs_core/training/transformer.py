"""The second-stage trainer: the transformer T on the frozen autoencoder's tokens (``ccvs train transformer``).

Every training video is tokenized once by the exported stage-1 autoencoder (E and Q frozen; the tokens
are cached on disk), windows of N frames are cut at random, and T learns Eq. 8. AdamW with a linear
warm-up and a cosine decay, gradient clipping, checkpoints every N steps (atomic, resumable, as in
stage 1), and sample grids of predicted videos: the first real frame as context, the following
frames sampled (top-k) and decoded by the autoencoder with the flow module.

Conditions (``--cond NAME``) are built from their plugins, prepared on the training videos
(``Condition.prepare``), and their tokens of every training video are computed once and cached next
to the frame tokens; a window reads its frames' condition tokens, and a target slot (the end frame)
the tokens of a random later target frame with its gap. The conditions' own modules are frozen here.
The run is planned in ``transformer_run``, its loss is ``transformer_loss``'s.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from ccvs_core import distributed
from ccvs_core.conditioning import build_layout, condition_context, generation_tokens, slots_of
from ccvs_core.console import console, progress_bar
from ccvs_core.data.clips import ClipDataset, first_clips
from ccvs_core.errors import CheckpointError, InputError
from ccvs_core.generation import SamplingConfig, generate_frame_tokens
from ccvs_core.media import labelled_grid, write_image
from ccvs_core.models.autoencoder import frames_to_tensor, tensor_to_frames
from ccvs_core.models.io import WEIGHTS_FILE, export_module, load_autoencoder
from ccvs_core.models.transfer import transfer_weights
from ccvs_core.models.transformer import VideoTransformer
from ccvs_core.pipeline_format import PipelineParts
from ccvs_core.resources import Estimate
from ccvs_core.training import acceleration, sharding
from ccvs_core.training.checkpoint import CheckpointManager, load_optimizer, optimizer_tensors
from ccvs_core.training.conditions import build_conditions
from ccvs_core.training.cost import steps_left, transformer_cost
from ccvs_core.training.run_log import append_log, truncate_log
from ccvs_core.training.sampler import DrawSampler
from ccvs_core.training.token_cache import cache_key, condition_tracks, video_tokens
from ccvs_core.training.transformer_data import TokenClips
from ccvs_core.training.transformer_loss import WindowLoss, batch_loss, held_out_loss
from ccvs_core.training.transformer_run import RUN_FILE, TransformerRunConfig
from ccvs_core.weights import load_module

EXPORT_DIR = "transformer"
PIPELINE_DIR = "pipeline"  # what ccvs generate --model takes
SAMPLE_VIDEOS = 4
# held-out windows (the val split's) scored at every checkpoint: the same ones each time, enough for
# the loss to ~0.01; a training loss that falls while this one rises is memorising the videos
HELD_OUT_WINDOWS = 64


class TransformerTrainer:
    def __init__(
        self, run: TransformerRunConfig, data: str | os.PathLike, out: str | os.PathLike, device: str = "cpu",
        progress: bool = True, guard: Callable[[Estimate], None] | None = None,
    ):  # fmt: skip
        """``guard``: called with the run's estimated memory and time once the sequence layout is known,
        before the model is built (``resources.check_request`` refuses what the machine cannot hold)."""
        self.run, self.out, self.device = run, Path(out), torch.device(device)
        cfg = run.training
        self.main = distributed.is_main()
        self.progress = progress and self.main
        self.batch = distributed.share(cfg.batch_size)  # this process's part of the global batch
        if self.batch % cfg.accumulate:
            raise InputError(
                "--accumulate",
                f"{cfg.accumulate} passes cannot split evenly the {self.batch} windows each process takes a "
                "step (--batch-size over the processes)",
            )
        self.autoencoder = load_autoencoder(run.autoencoder, self.device).requires_grad_(False)
        window = run.transformer.window
        clips = ClipDataset(data, num_frames=window, size=run.frame_size, split="train", crop="first")
        self.fps = clips.videos[0].meta.fps
        context = condition_context(self.autoencoder, run.frame_size, self.fps)
        self.conditions = build_conditions(run.conditions, clips.videos, context, self.device)
        self.layout = build_layout(
            self.autoencoder.config, run.transformer, run.frame_size, slots_of(self.conditions)
        )
        if guard is not None:
            steps = steps_left(self.out, cfg.steps)
            guard(transformer_cost(run, self.layout, self.autoencoder.config.codebook_size, steps, device))
        torch.manual_seed(cfg.seed)
        self.model = VideoTransformer(run.transformer, self.layout, self.autoencoder.config.codebook_size).to(
            self.device
        )
        # the parts put together, saved as OUT/pipeline at every checkpoint
        self.pipeline = PipelineParts(
            self.autoencoder, self.model, run.frame_size, self.conditions, self.fps, cfg.condition_dropout
        )
        self.optimizer = self._new_optimizer()
        self.sampling = torch.Generator().manual_seed(cfg.seed + 1)
        self.step = 0
        self.checkpoints = CheckpointManager(self.out / "checkpoints")
        self.tokens, self.tracks = self._split_tokens(clips, "train")
        held_out = self._held_out_windows(data)  # every process tokenizes its share of the val split
        self.held_out = held_out if self.main else None
        self.sample_clips = first_clips(data, window, run.frame_size)
        if self.checkpoints.resume(self._resume) is None and run.init_from is not None:
            self._initialise(Path(run.init_from))
        if self.main:
            run.to_json(self.out / RUN_FILE)
        # the loss as one module, under torchrun in DDP (it averages the gradients over the processes)
        # or sharded by FSDP2; the main process then keeps a whole copy to sample, score and export
        self.loss, self.whole = WindowLoss(self.model), self.model
        self.sharded = distributed.active() and cfg.parallel == "fsdp"
        self.ddp: torch.nn.parallel.DistributedDataParallel | None = None
        acceleration.use_tf32(self.device)
        if self.sharded:
            if cfg.compile:  # block by block, before FSDP2 wraps them
                acceleration.compile_each(self.model.blocks)
            state = self.optimizer.state_dict()  # as resumed, or fresh
            sharding.shard(self.loss, list(self.model.blocks), self.device)
            self.optimizer = self._new_optimizer()  # over the shards
            sharding.load_optimizer_state(self.loss, self.optimizer, state)
            if self.main:
                self.whole = self._whole_copy()
                self.pipeline = PipelineParts(
                    self.autoencoder, self.whole, run.frame_size, self.conditions, self.fps,
                    cfg.condition_dropout,
                )  # fmt: skip
        elif distributed.active():
            ids = [self.device] if self.device.type == "cuda" else None
            self.loss = self.ddp = torch.nn.parallel.DistributedDataParallel(self.loss, device_ids=ids)
        # the training forward, compiled whole (around DDP, which dynamo splits at its buckets); samples
        # and held-out losses go through the plain model
        compiled = cfg.compile and not self.sharded
        self.forward_loss = acceleration.compiled(self.loss) if compiled else self.loss
        self.whole_step = -1 if self.sharded else self.step  # the step the whole copy holds

    def _new_optimizer(self) -> torch.optim.AdamW:
        cfg = self.run.training
        return torch.optim.AdamW(_param_groups(self.model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.95))

    def _whole_copy(self) -> VideoTransformer:
        model = VideoTransformer(self.run.transformer, self.layout, self.autoencoder.config.codebook_size)
        return model.to(self.device).requires_grad_(False)

    def _whole(self) -> VideoTransformer | None:
        """The whole model as trained so far, on the main process (None elsewhere); under FSDP its
        shards are gathered, which every process must call at the same step."""
        if self.sharded and self.whole_step != self.step:
            state = sharding.full_model_state(self.loss)
            if self.main:
                self.whole.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
            self.whole_step = self.step
        return self.whole if self.main else None

    def _split_tokens(self, clips: ClipDataset, split: str) -> tuple[dict, dict]:
        """The frame tokens and condition tracks of every video of ``clips``, cached as ``tokens/SPLIT*``."""
        weights = Path(self.run.autoencoder) / WEIGHTS_FILE
        folder = self.out / "tokens"
        tokens = video_tokens(
            self.autoencoder, weights, clips, folder / f"{split}.safetensors", self.progress
        )
        if not self.conditions:
            return tokens, {}
        key = cache_key(weights, self.run.frame_size)
        cache = folder / f"{split}-conditions.safetensors"
        return tokens, condition_tracks(self.conditions, clips, key, cache, self.progress)

    def _held_out_windows(self, data: str | os.PathLike) -> TokenClips | None:
        """Windows of the data's val split, or None (said once, training goes on) when it has no video
        long enough or a condition cannot read its videos (e.g. a class the training videos lack)."""
        window = self.run.transformer.window
        try:
            clips = ClipDataset(data, num_frames=window, size=self.run.frame_size, split="val", crop="first")
            tokens, tracks = self._split_tokens(clips, "val")
        except InputError as error:
            console.print(f"no held-out loss: {error}")
            return None
        seed = self.run.training.seed
        return TokenClips(tokens, window, seed, tracks, self._target_slots(), self.run.transformer.max_gap)

    def _target_slots(self) -> dict[str, list[str]]:
        return {
            name: [slot.name for slot in c.slots() if slot.level == "target"]
            for name, c in self.conditions.items()
        }

    def lr_at(self, step: int) -> float:
        """Linear warm-up to ``lr``, then a cosine decay to a tenth of it at the last step."""
        cfg = self.run.training
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def fit(self) -> Path:
        cfg = self.run.training
        dataset = TokenClips(
            self.tokens,
            self.run.transformer.window,
            cfg.seed,
            self.tracks,
            self._target_slots(),
            self.run.transformer.max_gap,
        )
        # rank r takes draws r, r + world, ... of each global batch: together, one process's batch
        start = self.step * cfg.batch_size
        sampler = DrawSampler(len(dataset), cfg.seed, start, distributed.rank(), distributed.world_size())
        loader = torch.utils.data.DataLoader(dataset, batch_size=self.batch, sampler=sampler)
        if distributed.active() and self.main:
            console.print(distributed.describe(str(self.device), cfg.parallel, cfg.batch_size, "windows"))
        with progress_bar(disable=not self.progress) as bar:
            task = bar.add_task("transformer", total=cfg.steps, completed=self.step, status="")
            held_out = ""  # the last held-out loss, shown until the next checkpoint
            for batch in loader:
                if self.step >= cfg.steps:
                    break
                stats = self.train_step(batch["frames"], batch["conditions"], batch["gaps"])
                self.step += 1
                checkpoint = self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps
                if checkpoint or self.step % cfg.sample_every == 0:
                    self._whole()  # gathered once for the samples, the held-out loss and the checkpoint
                if checkpoint and self.held_out is not None:
                    stats["val_loss"] = held_out_loss(
                        self._whole(), self.held_out, HELD_OUT_WINDOWS, cfg.batch_size, cfg.precision
                    )
                    held_out = f" held-out loss={stats['val_loss']:.3f} (step {self.step})"
                bar.update(task, advance=1, status=f"loss={stats['loss']:.3f} lr={stats['lr']:.2e}{held_out}")
                if self.main and (self.step % 10 == 0 or checkpoint):
                    append_log(self.out / "log.jsonl", {"step": self.step, **stats})
                if self.step % cfg.sample_every == 0 and self.main:
                    self.write_samples()
                if checkpoint:
                    self.save()
        return self.out / EXPORT_DIR

    def train_step(
        self,
        frames: torch.Tensor,
        conditions: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
        gaps: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, float]:
        """frames: tokens ``[B, N, h, w]``; conditions: ``{condition: {slot: tokens}}`` of the same
        windows; gaps: ``{condition: [B]}`` of those with a target slot (as ``TokenClips`` makes them)."""
        cfg = self.run.training
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        dropped = self.dropped(len(frames))
        self.optimizer.zero_grad(set_to_none=True)
        passes, size = cfg.accumulate, len(frames) // cfg.accumulate
        loss = frames.new_zeros((), dtype=torch.float32)
        for k in range(passes):
            rows = slice(k * size, (k + 1) * size)
            # DDP averages the gradients once, after the last pass
            quiet = k < passes - 1 and self.ddp is not None
            with self.ddp.no_sync() if quiet else contextlib.nullcontext():
                pass_loss = batch_loss(
                    self.model, _rows(frames, rows), _rows(conditions, rows), _rows(gaps, rows),
                    cfg.precision, _rows(dropped, rows), self.forward_loss,
                ) / passes  # fmt: skip
                pass_loss.backward()
            loss += pass_loss.detach()
        norm = sharding.local(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip))
        self.optimizer.step()
        return {"loss": distributed.mean(loss), "lr": lr, "grad_norm": float(norm)}

    def dropped(self, batch: int) -> dict[str, torch.Tensor]:
        """Condition dropout at this step: ``{condition: [B] bool}`` for this process's ``batch`` windows,
        each leaving each condition out with probability ``condition_dropout``; drawn for the global
        batch from (seed, step) and shared out as the windows are, so that neither a resumed run nor
        the number of processes changes what is dropped."""
        p = self.run.training.condition_dropout
        if not p or not self.conditions:
            return {}
        generator = torch.Generator().manual_seed((self.run.training.seed * 1_000_003 + self.step) * 1009)
        rank, world = distributed.rank(), distributed.world_size()
        return {
            name: (torch.rand(batch * world, generator=generator) < p)[rank::world]
            for name in self.conditions
        }

    @torch.no_grad()
    def write_samples(self) -> Path:
        """Rows alternate real clips and predictions from their first frame (top-k 100, then decoded
        with the flow module over the last ``max_contexts`` frames)."""
        model = self._whole()
        model.eval()
        count = min(SAMPLE_VIDEOS, len(self.sample_clips))
        real = torch.stack([frames_to_tensor(self.sample_clips[i].frames) for i in range(count)]).to(
            self.device
        )
        tokens = self.autoencoder.tokenize(real[:, 0]).unsqueeze(1)  # [S, 1, h, w]
        generators = [
            torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=self.sampling)))
            for _ in range(count)
        ]
        conditions, targets = self._sample_conditions(count)
        frames = generate_frame_tokens(
            model, tokens, conditions, real.shape[1], SamplingConfig(), generators, targets=targets
        )
        video = self.autoencoder.decode_video(frames, real[:, :1])
        rows = torch.stack([real, video], dim=1).flatten(0, 1)
        path = self.out / "samples" / f"step-{self.step:08d}-prediction.png"
        labels = [f"{kind} {i + 1}" for i in range(count) for kind in ("real", "predicted")]
        columns = ["given"] + [f"t={t}" for t in range(1, real.shape[1])]
        write_image(path, labelled_grid(tensor_to_frames(rows).cpu().numpy(), labels, columns))
        return path

    def _sample_conditions(self, count: int) -> tuple[dict, dict]:
        """The conditions of the sample clips, taken the way ``generate`` takes a user's (from_sample,
        then tokenize): ``({condition: {slot: [count, ...]}}, {condition: target frames [count]})``."""
        per_clip = []
        for i in range(count):
            clip = self.sample_clips[i]
            raw = {name: condition.from_sample(clip) for name, condition in self.conditions.items()}
            tokens = generation_tokens(
                self.conditions, raw, len(clip.frame_indices), self.fps, 1, self.device
            )
            per_clip.append(tokens[:2])
        conditions = {
            c: {s: torch.cat([tokens[c][s] for tokens, _ in per_clip]) for s in slots}
            for c, slots in per_clip[0][0].items()
        } if per_clip else {}  # fmt: skip
        targets = {c: torch.cat([t[c] for _, t in per_clip]) for c in per_clip[0][1]} if per_clip else {}
        return conditions, targets

    def save(self) -> None:
        """The checkpoint, the exported transformer and the pipeline, written by the main process (under
        FSDP every process gathers its shards)."""
        if distributed.active() and not self.sharded:
            distributed.check_in_step(self.model, "transformer")
        whole = self._whole()
        optimizer = (
            sharding.full_optimizer_state(self.loss, self.optimizer)
            if self.sharded
            else self.optimizer.state_dict()
        )
        if not self.main:
            return
        tensors, info = optimizer_tensors(optimizer)
        parts = {
            "model": whole.state_dict(),
            "optimizer": tensors,
            "rng": {"torch": torch.get_rng_state(), "sampling": self.sampling.get_state()},
        }
        self.checkpoints.save(self.step, parts, {"run": self.run.to_dict(), "optimizer": info})
        export_module(whole, "transformer", self.run.transformer, self.out / EXPORT_DIR, {"step": self.step})
        self.pipeline.save_pretrained(self.out / PIPELINE_DIR)

    def _initialise(self, folder: Path) -> None:
        """Start from the transformer of the pipeline in ``folder``, made on the same autoencoder."""
        source = PipelineParts.from_pretrained(folder, self.device)
        ours = self.autoencoder.state_dict()
        theirs = source.autoencoder.state_dict()
        if ours.keys() != theirs.keys() or any(not torch.equal(ours[k], theirs[k]) for k in ours):
            raise CheckpointError(
                folder,
                f"its autoencoder is not the one in {self.run.autoencoder}: its frame tokens mean other things",
                "start from a pipeline trained on the same --autoencoder",
            )
        transfer = transfer_weights(source.transformer, self.model, folder)
        if self.main:
            console.print(
                f"starting from the transformer in {folder}: copied {', '.join(transfer.shared)}; "
                f"new: {', '.join(transfer.new) or 'none'}"
                + (
                    f" ({', '.join(transfer.from_frames)} from the frame tokens' rows)"
                    if transfer.from_frames
                    else ""
                )
                + (
                    f" ({', '.join(transfer.from_places)} from the places they point at)"
                    if transfer.from_places
                    else ""
                )
            )

    def _resume(self, path: Path) -> None:
        parts, state = self.checkpoints.load(path, required=("model", "optimizer", "rng"))
        load_module(self.model, parts["model"], path / "model.safetensors")
        load_optimizer(
            self.optimizer, parts["optimizer"], state["optimizer"], str(path / "optimizer.safetensors")
        )
        torch.set_rng_state(parts["rng"]["torch"])
        self.sampling.set_state(parts["rng"]["sampling"])
        self.step = state["step"]
        if self.main:
            truncate_log(self.out / "log.jsonl", self.step)
            console.print(f"resuming from {path} (step {self.step})")


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on the matrices of linear layers only (not on biases, norms or embeddings)."""
    decay = [p for m in model.modules() if isinstance(m, torch.nn.Linear) for p in [m.weight]]
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def _rows(tree, rows: slice):
    """The windows ``rows`` of a batch: a tensor, or nested dicts of tensors (None stays None)."""
    if tree is None:
        return None
    if isinstance(tree, Mapping):
        return {key: _rows(value, rows) for key, value in tree.items()}
    return tree[rows]
