"""The sound tokenizer (Appendix A, "audio"): a small autoencoder over each frame's spectrogram with its
own codebook — encoder, quantizer, decoder as for frames, without the flow module. Its tokens are the
audio condition's; its decoder only serves training (the reconstruction error says how much the tokens
keep)."""

from __future__ import annotations

import attrs
import torch
from torch import nn

from ccvs_core import Config, ConfigError, Quantized, VectorQuantizer, at_least, greater_than


@attrs.frozen(kw_only=True)
class SoundTokenizerConfig(Config):
    sample_rate: int = attrs.field(default=16000, validator=at_least(1000))  # sound is resampled to it
    bins: int = attrs.field(default=64, validator=at_least(4))  # spectrogram frequencies (paper: 64)
    steps: int = attrs.field(default=16, validator=at_least(1))  # spectrogram times per frame (paper: 16)
    channels: int = attrs.field(default=64, validator=at_least(1))
    levels: int = attrs.field(default=3, validator=at_least(0))  # each halves frequency and time
    code_dim: int = attrs.field(default=64, validator=at_least(1))
    codebook_size: int = attrs.field(default=1024, validator=at_least(2))  # paper: 1024
    beta: float = attrs.field(default=0.25, validator=greater_than(0))  # commitment weight (Eq. 3)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        factor = 2**self.levels
        if self.bins % factor or self.steps % factor:
            raise ConfigError(
                "field 'SoundTokenizerConfig.levels'",
                f"{self.levels} levels need bins and steps divisible by {factor}, got {self.bins} x {self.steps}",
            )

    @property
    def grid(self) -> tuple[int, int]:
        return self.bins // 2**self.levels, self.steps // 2**self.levels

    @property
    def tokens_per_frame(self) -> int:
        return self.grid[0] * self.grid[1]  # paper sizes: 8 x 2 = 16


PRESETS = {
    "tiny": {"bins": 16, "steps": 8, "channels": 8, "levels": 2, "code_dim": 8, "codebook_size": 32},
    "toyworld": {"channels": 32, "code_dim": 32, "codebook_size": 256},
    "paper": {},
}


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(1, cout), nn.GELU())


class SoundTokenizer(nn.Module):
    def __init__(self, config: SoundTokenizerConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.encoder = nn.Sequential(
            _block(1, c, 1),
            *[_block(c, c, 2) for _ in range(config.levels)],
            nn.Conv2d(c, config.code_dim, 1),
        )
        self.quantizer = VectorQuantizer(config.codebook_size, config.code_dim)
        up = [
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _block(c, c, 1))
            for _ in range(config.levels)
        ]
        self.decoder = nn.Sequential(_block(config.code_dim, c, 1), *up, nn.Conv2d(c, 1, 3, 1, 1))

    def forward(self, spectrogram: torch.Tensor) -> tuple[torch.Tensor, Quantized, torch.Tensor]:
        """Spectrograms ``[B, 1, bins, steps]`` -> (reconstruction, quantized codes, encoder output z)."""
        z = self.encoder(spectrogram)
        quantized = self.quantizer(z)
        return self.decoder(quantized.z_st), quantized, z

    @torch.no_grad()
    def tokenize(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """``[B, 1, bins, steps]`` -> tokens ``[B, tokens_per_frame]``."""
        return self.quantizer.quantize(self.encoder(spectrogram)).flatten(1)

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``[B, tokens_per_frame]`` -> spectrograms ``[B, 1, bins, steps]``."""
        grid = tokens.view(tokens.shape[0], *self.config.grid)
        return self.decoder(self.quantizer.lookup(grid))
