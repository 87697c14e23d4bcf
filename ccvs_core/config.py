"""The model and training configs of ccvs, and their named presets (DESIGN.md §7).

Every default is written once, here. A preset is a small set of values merged over the defaults;
``preset(Class, name, **overrides)`` ignores overrides that are None, so a CLI flag left unset never
overrides a preset.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar, get_args

import attrs

from ccvs_core.config_base import Config, at_least, greater_than, in_range
from ccvs_core.errors import ConfigError

C = TypeVar("C", bound=Config)
# the transformer's attention backends (models/attention.py): "auto" picks the best one for the device
AttentionBackend = Literal["auto", "sdpa", "xformers", "naive"]
ATTENTION_BACKENDS: tuple[str, ...] = get_args(AttentionBackend)


@attrs.frozen(kw_only=True)
class AutoencoderConfig(Config):
    """E, D, F and Q (Sec. 3.2, Appendix A). The token grid is the frame size / 2**len(channels)."""

    channels: tuple[int, ...] = attrs.field(default=(16, 32, 64), validator=at_least(1))  # per level k
    embed_dim: int = attrs.field(default=32, validator=at_least(1))  # F: size of z and codebook entries
    codebook_size: int = attrs.field(default=512, validator=at_least(2))  # q
    beta: float = attrs.field(default=0.25, validator=at_least(0))  # Eq. 3 commitment weight
    flow_radius: int = attrs.field(default=2, validator=at_least(0))  # match over (2r+1)^2 neighbours
    flow_channels: int = attrs.field(default=16, validator=at_least(1))  # hidden width of match/refine
    max_contexts: int = attrs.field(default=4, validator=at_least(0))  # c of Eq. 9 used by default
    # F estimates flow and mask (match, refine) at levels K-1 .. flow_finest_level; finer levels fuse
    # with the estimate upsampled (full-resolution matching costs the most and adds little).
    flow_finest_level: int = attrs.field(default=1, validator=at_least(0))
    flow_match: bool = True  # False drops F's "match" step (refine only): an ablation, not for use
    fuse_rgb: bool = True  # also fuse the warped context frames in image space (see docs/autoencoder.md)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if not self.channels:
            raise ConfigError("field 'AutoencoderConfig.channels'", "needs at least one level")
        if self.flow_finest_level >= self.levels:
            raise ConfigError(
                "field 'AutoencoderConfig.flow_finest_level'",
                f"must be below the number of levels ({self.levels}), got {self.flow_finest_level}",
            )

    @property
    def levels(self) -> int:
        """K: resolution levels of E and D."""
        return len(self.channels)

    def token_grid(self, frame_size: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the token grid for frames of ``frame_size`` (height, width)."""
        factor = 2**self.levels
        if frame_size[0] % factor or frame_size[1] % factor:
            raise ConfigError(
                "frame size",
                f"{frame_size[1]}x{frame_size[0]} is not divisible by 2**{self.levels} = {factor}",
            )
        return frame_size[0] // factor, frame_size[1] // factor


@attrs.frozen(kw_only=True)
class DiscriminatorConfig(Config):
    """The image discriminator Δi and temporal discriminator Δt (Sec. 3.2, Appendix A)."""

    image_channels: tuple[int, ...] = attrs.field(default=(16, 32, 64, 64), validator=at_least(1))
    temporal_channels: tuple[int, ...] = attrs.field(default=(16, 32, 64), validator=at_least(1))
    mbstd_group: int = attrs.field(default=4, validator=at_least(0))  # minibatch std group; 0: off


@attrs.frozen(kw_only=True)
class TransformerConfig(Config):
    """The GPT-style transformer T over frame and condition tokens (Sec. 3.3, Appendix A)."""

    layers: int = attrs.field(default=8, validator=at_least(1))
    heads: int = attrs.field(default=8, validator=at_least(1))
    width: int = attrs.field(default=256, validator=at_least(1))  # D: embedding size
    mlp_ratio: float = attrs.field(default=4.0, validator=greater_than(0))
    dropout: float = attrs.field(default=0.0, validator=in_range(0, 1))
    window: int = attrs.field(default=16, validator=at_least(1))  # N: frames in the sequence
    attention: AttentionBackend = "auto"
    # largest gap (frames) between a window and a target slot's target (the end frame) told apart
    max_gap: int = attrs.field(default=64, validator=at_least(1))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.width % self.heads:
            raise ConfigError(
                "field 'TransformerConfig.width'", f"{self.width} is not divisible by heads={self.heads}"
            )


@attrs.frozen(kw_only=True)
class AutoencoderTrainingConfig(Config):
    """How ``ccvs train autoencoder`` trains E, D, F, Q and the discriminators."""

    size: int = attrs.field(default=64, validator=at_least(8))  # frame side, pixels
    clip_frames: int = attrs.field(default=4, validator=at_least(2))  # frames decoded one by one per clip
    batch_size: int = attrs.field(default=4, validator=at_least(1))
    steps: int = attrs.field(default=20000, validator=at_least(1))
    lr: float = attrs.field(default=1e-3, validator=greater_than(0))  # Adam (the paper used 0.02)
    disc_lr: float = attrs.field(default=2e-4, validator=greater_than(0))
    betas: tuple[float, float] = attrs.field(default=(0.5, 0.9), validator=in_range(0, 1))
    ema_decay: float = attrs.field(default=0.999, validator=in_range(0, 1))
    # Eq. 2 weights (lambda_q, lambda_r, lambda_a, lambda_c): the paper's (1, 10, 1, 1)
    weight_quantization: float = attrs.field(default=1.0, validator=at_least(0))
    weight_reconstruction: float = attrs.field(default=10.0, validator=at_least(0))
    weight_adversarial: float = attrs.field(default=1.0, validator=at_least(0))
    weight_contextual: float = attrs.field(default=1.0, validator=at_least(0))
    adversarial_start: int = attrs.field(default=2000, validator=at_least(0))  # steps before Δi, Δt join
    vgg_weights: str | None = None  # torchvision VGG16 state dict; None: no perceptual term
    self_context_prob: float = attrs.field(default=0.5, validator=in_range(0, 1))  # augmented-view context
    wrong_context_prob: float = attrs.field(default=0.25, validator=in_range(0, 1))  # another video's frame
    dead_code_steps: int = attrs.field(default=50, validator=at_least(0))  # restart codes unused this long
    checkpoint_every: int = attrs.field(default=1000, validator=at_least(1))
    sample_every: int = attrs.field(default=500, validator=at_least(1))
    num_workers: int = attrs.field(default=2, validator=at_least(0))
    seed: int = attrs.field(default=0, validator=at_least(0))
    # bfloat16: both players' forward passes under torch.autocast (weights and Adam stay float32)
    precision: Literal["float32", "bfloat16"] = "float32"
    # torch.compile the decoder's blocks and flow levels: minutes of compiling, repaid on long GPU runs
    compile: bool = False


@attrs.frozen(kw_only=True)
class TransformerTrainingConfig(Config):
    """How ``ccvs train transformer`` trains T on the frozen autoencoder's tokens (Sec. 3.3)."""

    batch_size: int = attrs.field(default=8, validator=at_least(1))
    steps: int = attrs.field(default=20000, validator=at_least(1))
    lr: float = attrs.field(default=3e-4, validator=greater_than(0))  # AdamW (the paper: 1e-5 at 24 layers)
    weight_decay: float = attrs.field(default=0.01, validator=at_least(0))
    warmup: int = attrs.field(default=500, validator=at_least(0))  # linear warm-up steps, then cosine decay
    grad_clip: float = attrs.field(default=1.0, validator=greater_than(0))
    checkpoint_every: int = attrs.field(default=1000, validator=at_least(1))
    sample_every: int = attrs.field(default=1000, validator=at_least(1))
    seed: int = attrs.field(default=0, validator=at_least(0))
    # bfloat16: forward and loss under torch.autocast (weights, gradients and AdamW stay float32);
    # 1.4x the steps per minute on 2 CPU cores with AVX512-BF16 (benchmarks/training_precision.py)
    precision: Literal["float32", "bfloat16"] = "float32"
    # condition dropout: each condition is left out of each training window with this probability (its
    # slots then hold their absent tokens), so that one model serves any subset of its conditions
    condition_dropout: float = attrs.field(default=0.0, validator=in_range(0, 1))
    # under torchrun: "ddp" keeps a whole model in every process and averages gradients; "fsdp" (FSDP2)
    # shards parameters, gradients and AdamW state over the processes, for models one device cannot hold
    parallel: Literal["ddp", "fsdp"] = "ddp"
    # each process's share of the batch in this many passes, their gradients summed before the update:
    # the same step in less memory (the batch must split evenly into them)
    accumulate: int = attrs.field(default=1, validator=at_least(1))
    # torch.compile the training forward (under FSDP2, each block): minutes of compiling, repaid on long
    # GPU runs
    compile: bool = False


PRESETS: dict[type[Config], dict[str, dict[str, Any]]] = {
    AutoencoderConfig: {
        # seconds on a CPU: 16x16 frames -> 4x4 tokens
        "tiny": {"channels": (8, 16), "embed_dim": 16, "codebook_size": 32, "flow_channels": 8},
        # the default model: 32x32 toyworld frames -> 4x4 tokens (benchmarks/default_model.py)
        "toyworld": {},
        # the authors' released sizes: 256x256 -> 8x8 = 64 tokens, codebook 1024, code dim 512
        "paper": {
            "channels": (64, 128, 256, 512, 512),
            "embed_dim": 512,
            "codebook_size": 1024,
            "flow_channels": 64,
        },
    },
    DiscriminatorConfig: {
        "tiny": {"image_channels": (8, 16), "temporal_channels": (8, 16)},
        "toyworld": {},
        "paper": {"image_channels": (64, 128, 256, 512, 512, 512), "temporal_channels": (64, 128, 256, 512)},
    },
    TransformerConfig: {
        "tiny": {"layers": 2, "heads": 2, "width": 32, "window": 4},
        # the default model: 8 frames of 16 tokens plus the five conditions' (~290 tokens)
        "toyworld": {"layers": 6, "heads": 6, "width": 192, "window": 8},
        # the authors' released settings: 24 layers, 16 heads, width 1024, 16 frames of 64 tokens
        "paper": {"layers": 24, "heads": 16, "width": 1024, "window": 16},
    },
    TransformerTrainingConfig: {
        "tiny": {"batch_size": 2, "steps": 4, "warmup": 1, "checkpoint_every": 2, "sample_every": 2},
        # the default model's stage 2: ~35 minutes on 2 CPU cores in bfloat16 (benchmarks/default_model.py)
        "toyworld": {
            "batch_size": 16,
            "steps": 1800,
            "lr": 1e-3,
            "warmup": 100,
            "checkpoint_every": 200,
            "sample_every": 800,
            "condition_dropout": 0.5,
        },
        "paper": {"lr": 1e-5, "steps": 300000},
    },
    AutoencoderTrainingConfig: {
        "tiny": {
            "size": 16,
            "clip_frames": 3,
            "batch_size": 2,
            "steps": 4,
            "adversarial_start": 2,
            "checkpoint_every": 2,
            "sample_every": 2,
            "num_workers": 0,
        },
        # the default model's stage 1: ~30 minutes on 2 CPU cores (benchmarks/default_model.py)
        "toyworld": {
            "size": 32,
            "batch_size": 8,
            "steps": 2500,
            "adversarial_start": 1500,
            "checkpoint_every": 250,
            "sample_every": 500,
            "num_workers": 1,
        },
        "paper": {"size": 256, "clip_frames": 4, "batch_size": 4, "steps": 300000},
    },
}


PRESET_NAMES = ("tiny", "toyworld", "paper")  # every class's presets, in size order


def preset(cls: type[C], name: str, **overrides: Any) -> C:
    """``cls`` with the values of preset ``name``, then the overrides that are not None."""
    presets = PRESETS.get(cls, {})
    if name not in presets:
        raise ConfigError(
            "preset", f"'{name}' is not a preset of {cls.__name__} (presets: {', '.join(presets)})"
        )
    values = {**presets[name], **{k: v for k, v in overrides.items() if v is not None}}
    return cls.from_dict({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})
