"""What a training run will need, estimated before anything real is built: one step's arithmetic
(forward and backward) and the activations its forward keeps, measured by running the step on the
meta device (shapes only, nothing allocated), times the steps left. Estimates are rough (within a
few times); they are for ``resources.check_request``, which refuses what is orders too large."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from ccvs_core import distributed
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.models.discriminators import ImageDiscriminator, TemporalDiscriminator
from ccvs_core.models.transformer import VideoTransformer
from ccvs_core.resources import Estimate
from ccvs_core.sequence import SequenceLayout
from ccvs_core.training.autoencoder_step import StepChoices, generator_losses
from ccvs_core.training.checkpoint import CheckpointManager
from ccvs_core.training.perceptual import VGGFeatures

# effective rates of a training step on 2 CPU cores, FLOP/s: the autoencoder preset's step (29 GFLOP
# of small convolutions) takes ~0.7 s; the recipe's transformer step (153 GFLOP) ~1.3 s in bfloat16,
# which takes 0.69 of float32's time (benchmarks/RESULTS.md)
CONV_CPU_RATE, MATMUL_CPU_RATE = 4e10, 8e10
CUDA_RATE = 1e13  # small models keep a GPU far from its peak
# bytes a trained parameter holds: weights, gradient, Adam's two moments; the autoencoder adds its EMA
TRAINED_BYTES, EMA_BYTES = 16, 4
PROCESS_BYTES = 500 * 2**20  # torch, the dataset's index and the loader: the toyworld preset peaks at 1.07 GB


class _ProducedBytes(TorchDispatchMode):
    """Counts the bytes of the new tensors ops produce (views and in-place results share memory): an
    upper bound on what autograd keeps."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.is_view or func._schema.is_mutable or func is torch.ops.aten._unsafe_view.default:
            return out
        self.bytes += sum(
            t.numel() * t.element_size() for t in tree_leaves(out) if isinstance(t, torch.Tensor)
        )
        return out


def meta_cost(forward: Callable[[], torch.Tensor]) -> tuple[float, float]:
    """FLOPs of ``forward()`` and its backward, and the bytes its forward produces; ``forward`` builds
    its modules and inputs on the meta device and returns a scalar loss."""
    flops, produced = FlopCounterMode(display=False), _ProducedBytes()
    with torch.device("meta"), flops:
        with produced:
            loss = forward()
        loss.backward()
    return float(flops.get_total_flops()), float(produced.bytes)


def linear_beyond(
    cost: Callable[[int], tuple[float, float]], n: int, exact_up_to: int
) -> tuple[float, float]:
    """``cost(n)`` for a cost that grows by the same amount with each unit of n past ``exact_up_to``
    (a layer, a frame): measured there and one below, then extrapolated, so a huge n costs no more."""
    if n <= exact_up_to:
        return cost(n)
    below, at = cost(exact_up_to - 1), cost(exact_up_to)
    return tuple(b + (n - exact_up_to) * (b - a) for a, b in zip(below, at, strict=True))


def _rate(device: str, cpu_rate: float) -> float:
    return CUDA_RATE if str(device).startswith("cuda") else cpu_rate


def steps_left(out: str | os.PathLike, steps: int) -> int:
    """Steps a run in folder ``out`` has still to train towards ``steps`` (its checkpoints say how far
    it got)."""
    done = CheckpointManager(Path(out) / "checkpoints").steps()
    return max(0, steps - max((step for step, _ in done), default=0))


def _count(*modules: torch.nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def autoencoder_cost(run, steps: int, device: str = "cpu") -> Estimate:
    """Memory and time of ``steps`` steps of stage 1 (``AutoencoderRunConfig``), each at its costliest
    choices: all contexts, the augmented view, the discriminators and the perceptual term when set."""
    cfg, ae = run.training, run.autoencoder
    size, batch = cfg.size, distributed.share(cfg.batch_size)  # one process's share, under torchrun
    ae.token_grid((size, size))  # a frame size the levels cannot halve: ConfigError, as the trainer says
    choices = StepChoices(ae.max_contexts, cfg.self_context_prob > 0, cfg.wrong_context_prob > 0)

    def step(frames: int) -> tuple[float, float]:
        def forward() -> torch.Tensor:
            model = FlowAutoencoder(ae)
            model.quantizer.eval()  # its first-batch initialisation reads values
            discs = (ImageDiscriminator(run.discriminator), TemporalDiscriminator(run.discriminator))
            perceptual = VGGFeatures() if cfg.vgg_weights else None
            clip = torch.empty(batch, frames, 3, size, size)
            data = {
                "frames": clip, "view": torch.empty_like(clip),
                "view_flow": torch.empty(batch, frames, 2, size, size),
                "view_mask": torch.empty(batch, frames, 1, size, size),
            }  # fmt: skip
            out = generator_losses(model, data, choices, perceptual, discs)
            return sum(out.losses.values())

        return meta_cost(forward)

    flops, activations = linear_beyond(step, cfg.clip_frames, max(3, ae.max_contexts + 2))
    with torch.device("meta"):
        trained = _count(FlowAutoencoder(ae))
        discriminators = _count(
            ImageDiscriminator(run.discriminator), TemporalDiscriminator(run.discriminator)
        )
        fixed = _count(VGGFeatures()) if cfg.vgg_weights else 0
    memory = (
        PROCESS_BYTES
        + trained * (TRAINED_BYTES + EMA_BYTES)
        + discriminators * TRAINED_BYTES
        + fixed * 4
        + activations
    )
    return Estimate(memory=memory, seconds=steps * flops / _rate(device, CONV_CPU_RATE))


def transformer_cost(
    run, layout: SequenceLayout, frame_vocab: int, steps: int, device: str = "cpu"
) -> Estimate:
    """Memory and time of ``steps`` steps of stage 2 (``TransformerRunConfig``) over ``layout``."""
    # one pass of one process's share, under torchrun
    batch = max(1, distributed.share(run.training.batch_size) // run.training.accumulate)

    def step(layers: int) -> tuple[float, float]:
        def forward() -> torch.Tensor:
            # .to: the buffers the layout gives are copied from the CPU
            model = VideoTransformer(run.transformer.replace(layers=layers), layout, frame_vocab).to("meta")
            tokens = torch.zeros(batch, layout.length, dtype=torch.long)
            gaps = tokens if model.gap is not None else None  # any gap costs the same
            return model(tokens, gaps=gaps).float().logsumexp(-1).mean()

        return meta_cost(forward)

    flops, activations = linear_beyond(step, run.transformer.layers, 2)
    with torch.device("meta"):
        small = [
            _count(VideoTransformer(run.transformer.replace(layers=n), layout, frame_vocab)) for n in (1, 2)
        ]
    params = small[0] + (run.transformer.layers - 1) * (small[1] - small[0])
    rate = _rate(device, MATMUL_CPU_RATE) * (1.45 if run.training.precision == "bfloat16" else 1.0)
    memory = PROCESS_BYTES + params * TRAINED_BYTES + activations
    return Estimate(memory=memory, seconds=steps * flops / rate)
