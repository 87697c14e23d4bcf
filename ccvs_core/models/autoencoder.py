"""The flow-linked autoencoder: encoder E, decoder D linked by the flow module F, quantizer Q / U
(paper Sec. 3.2, Fig. 1, Fig. A1).

Resolution level j = 0 is the frame (H x W), level j the frame / 2**j, level K = len(channels) the
token grid. E keeps its features e_j at levels 0..K-1; D decodes from the token grid up, and after its
block at level j (coarse to fine) F warps the context frames' e_j onto the decoded features d_j and
fuses them (Eq. 1, Eq. 9). Frames are float ``[B, 3, H, W]`` in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ccvs_core.config import AutoencoderConfig
from ccvs_core.models.blocks import NEGATIVE_SLOPE, ResBlock, conv3x3
from ccvs_core.models.flow import FlowLevel, aggregate_contexts, fuse, upsample_estimate
from ccvs_core.models.quantizer import Quantized, VectorQuantizer
from ccvs_core.models.warp import warp


def frames_to_tensor(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., H, W, 3]`` -> float ``[..., 3, H, W]`` in [-1, 1]."""
    return rearrange(frames, "... h w c -> ... c h w").float() / 127.5 - 1


def tensor_to_frames(x: torch.Tensor) -> torch.Tensor:
    """float ``[..., 3, H, W]`` in [-1, 1] -> uint8 ``[..., H, W, 3]`` (clamped, rounded)."""
    return rearrange(
        ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8), "... c h w -> ... h w c"
    )


@attrs.frozen
class Encoded:
    """E(x): the latent ``z [B, F, h, w]``, the features ``e_j [B, C_j, H/2**j, W/2**j]`` (j = 0..K-1),
    and the frame x itself ``[B, 3, H, W]`` (a context is also fused in image space)."""

    z: torch.Tensor
    features: tuple[torch.Tensor, ...]
    image: torch.Tensor

    def detach(self) -> Encoded:
        return Encoded(self.z.detach(), tuple(f.detach() for f in self.features), self.image.detach())

    def map(self, fn) -> Encoded:
        """The same encoding with ``fn`` applied to every tensor (slicing, rolling the batch, ...)."""
        return Encoded(fn(self.z), tuple(fn(f) for f in self.features), fn(self.image))


@attrs.frozen
class Decoded:
    """D(z, contexts): the frame, and per fused level (coarse to fine) F's estimates for each context."""

    image: torch.Tensor  # [B, 3, H, W]
    flows: tuple[torch.Tensor, ...] = ()  # [B, c, 2, h_j, w_j] in pixels of level j
    masks: tuple[torch.Tensor, ...] = ()  # [B, c, 1, h_j, w_j] logits, per context
    fused_masks: tuple[torch.Tensor, ...] = ()  # [B, 1, h_j, w_j] logits after Eq. 9


class Encoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        ch, k = config.channels, config.levels
        self.stem = conv3x3(3, ch[0])
        self.blocks = nn.ModuleList(ResBlock(ch[j], ch[min(j + 1, k - 1)], "down") for j in range(k))
        self.to_z = nn.Conv2d(ch[-1], config.embed_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> Encoded:  # [B, 3, H, W]
        h = self.stem(x)
        features = [h]
        for block in self.blocks:
            h = block(h)
            features.append(h)
        z = self.to_z(F.leaky_relu(h, NEGATIVE_SLOPE))  # [B, F, H/2**K, W/2**K]
        return Encoded(z, tuple(features[:-1]), x)


class Decoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        ch, k = config.channels, config.levels
        self.from_z = conv3x3(config.embed_dim, ch[-1])
        # blocks[j] makes level j from level j + 1; the context is fused at every level j
        self.blocks = nn.ModuleList(ResBlock(ch[min(j + 1, k - 1)], ch[j], "up") for j in range(k))
        # flow_levels[j] estimates flow and mask at level j; levels below flow_finest_level only fuse
        self.flow_finest_level = config.flow_finest_level
        self.flow_levels = nn.ModuleList(
            FlowLevel(ch[j], config.flow_channels, config.flow_radius)
            if j >= config.flow_finest_level
            else nn.Identity()
            for j in range(k)
        )
        self.to_rgb = conv3x3(ch[0], 3)
        self.fuse_rgb = config.fuse_rgb

    def forward(self, z: torch.Tensor, contexts: Sequence[Encoded] = ()) -> Decoded:
        """z ``[B, F, h, w]`` (quantized) and c context frames' encodings (c = 0: plain decoding)."""
        b, c = z.shape[0], len(contexts)
        per_context = lambda t: rearrange(t, "(c b) ... -> b c ...", c=c)  # noqa: E731
        d = self.from_z(z)
        flow = mask = None
        flows, masks, fused_masks = [], [], []
        for j in reversed(range(len(self.blocks))):
            d = self.blocks[j](d)  # [B, C_j, h_j, w_j]
            if not c:
                continue
            context = torch.cat([e.features[j] for e in contexts])  # [c*B, C_j, h_j, w_j], context-major
            size = d.shape[-2:]
            if flow is None:
                flow = d.new_zeros(c * b, 2, *size)
                mask = d.new_zeros(c * b, 1, *size)
            else:
                flow, mask = upsample_estimate(flow, mask, size)
            if j >= self.flow_finest_level:
                flow, mask = self.flow_levels[j](d.repeat(c, 1, 1, 1), context, flow, mask)
            warped = warp(context, flow)
            fused_mask, fused_context = aggregate_contexts(per_context(mask), per_context(warped))  # Eq. 9
            d = fuse(d, fused_context, fused_mask)  # Eq. 1
            flows.append(per_context(flow))
            masks.append(per_context(mask))
            fused_masks.append(fused_mask)
        image = self.to_rgb(F.leaky_relu(d, NEGATIVE_SLOPE))
        if c and self.fuse_rgb:
            # Eq. 1 once more on the frames themselves, with the finest flow and masks: copied pixels
            # stay sharp, and F's flow is pinned to image coordinates (features alone leave it free to
            # absorb any shift that the convolutions learn)
            warped = per_context(warp(torch.cat([e.image for e in contexts]), flow))
            fused_mask, fused_context = aggregate_contexts(per_context(mask), warped)
            image = fuse(image, fused_context, fused_mask)
        return Decoded(image, tuple(flows), tuple(masks), tuple(fused_masks))


class FlowAutoencoder(nn.Module):
    """E, Q/U and D with F: frames <-> tokens, with context frames guiding the decoding."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = VectorQuantizer(config.codebook_size, config.embed_dim)
        self.decoder = Decoder(config)

    def encode(self, x: torch.Tensor) -> Encoded:
        return self.encoder(x)

    def quantize(self, z: torch.Tensor) -> Quantized:
        return self.quantizer(z)

    def decode(self, z_q: torch.Tensor, contexts: Sequence[Encoded] = ()) -> Decoded:
        return self.decoder(z_q, contexts)

    @torch.no_grad()
    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        """E then Q: frames ``[B, 3, H, W]`` -> tokens ``[B, h, w]``."""
        return self.quantizer.quantize(self.encoder(x).z)

    @torch.no_grad()
    def decode_video(
        self, tokens: torch.Tensor, first_frames: torch.Tensor, num_contexts: int | None = None
    ) -> torch.Tensor:
        """Doubly autoregressive decoding (Fig. 1): tokens ``[B, T, h, w]`` of every frame and the first
        ``m`` real frames ``[B, m, 3, H, W]`` -> frames ``[B, T, 3, H, W]``. Frame t >= m is decoded from its
        tokens with the last ``num_contexts`` frames (real or decoded, in image space) as context, then
        re-encoded: shift-and-add. The first m frames are returned as given."""
        c = self.config.max_contexts if num_contexts is None else num_contexts
        frames = list(first_frames.unbind(1))
        encoded = [self.encoder(f) for f in frames[-c:]] if c else []
        for t in range(len(frames), tokens.shape[1]):
            z_q = self.quantizer.lookup(tokens[:, t])
            frame = self.decoder(z_q, encoded).image.clamp(-1, 1)
            frames.append(frame)
            if c:
                encoded = [*encoded, self.encoder(frame)][-c:]
        return torch.stack(frames, dim=1)
