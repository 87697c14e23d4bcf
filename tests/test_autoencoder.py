"""The flow-linked autoencoder: shapes, contexts, doubly autoregressive decoding, export and loading."""

import json

import pytest
import torch

from ccvs_core.config import AutoencoderConfig, preset
from ccvs_core.errors import CheckpointError, ConfigError
from ccvs_core.models.autoencoder import FlowAutoencoder, frames_to_tensor, tensor_to_frames
from ccvs_core.models.io import export_autoencoder, load_autoencoder


@pytest.fixture
def model():
    torch.manual_seed(0)
    return FlowAutoencoder(preset(AutoencoderConfig, "tiny")).eval()


def test_shapes_for_every_number_of_contexts(model):
    x = torch.randn(3, 3, 16, 16)
    encoded = model.encode(x)
    assert encoded.z.shape == (3, 16, 4, 4)
    assert [f.shape[-1] for f in encoded.features] == [16, 8]
    quantized = model.quantize(encoded.z)
    assert quantized.tokens.shape == (3, 4, 4)
    plain = model.decode(quantized.z_st)
    assert plain.image.shape == (3, 3, 16, 16) and plain.flows == ()
    for c in (1, 2, 4):
        contexts = [model.encode(torch.randn(3, 3, 16, 16)) for _ in range(c)]
        out = model.decode(quantized.z_st, contexts)
        assert out.image.shape == (3, 3, 16, 16)
        assert [f.shape for f in out.flows] == [(3, c, 2, 8, 8), (3, c, 2, 16, 16)]
        assert [m.shape for m in out.masks] == [(3, c, 1, 8, 8), (3, c, 1, 16, 16)]


def test_token_grid_follows_the_levels():
    assert AutoencoderConfig().token_grid((64, 64)) == (8, 8)
    assert AutoencoderConfig(channels=(8, 8, 8, 8)).token_grid((64, 128)) == (4, 8)
    with pytest.raises(ConfigError, match="not divisible"):
        AutoencoderConfig().token_grid((60, 64))


def test_no_context_means_pure_decoding(model):
    z = model.quantize(model.encode(torch.randn(2, 3, 16, 16)).z).z_st
    assert torch.equal(model.decode(z).image, model.decode(z, []).image)


def test_decode_video_is_doubly_autoregressive(model):
    tokens = torch.randint(0, 32, (2, 5, 4, 4))
    first = torch.rand(2, 1, 3, 16, 16) * 2 - 1
    video = model.decode_video(tokens, first, num_contexts=2)
    assert video.shape == (2, 5, 3, 16, 16)
    assert torch.equal(video[:, 0], first[:, 0])
    # the same call again gives the same frames; another first frame changes them (context is used)
    assert torch.equal(model.decode_video(tokens, first, num_contexts=2), video)
    other = model.decode_video(tokens, torch.zeros_like(first), num_contexts=2)
    assert not torch.allclose(other[:, 1:], video[:, 1:])
    pure = model.decode_video(tokens, first, num_contexts=0)
    assert torch.allclose(
        pure[:, 1:], model.decode_video(tokens, torch.zeros_like(first), num_contexts=0)[:, 1:]
    )


def test_frame_conversions_round_trip():
    frames = torch.randint(0, 256, (2, 4, 8, 8, 3), dtype=torch.uint8)
    x = frames_to_tensor(frames)
    assert x.shape == (2, 4, 3, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(tensor_to_frames(x), frames)


def test_export_and_load_round_trip(model, tmp_path):
    export_autoencoder(model, tmp_path / "ae")
    loaded = load_autoencoder(tmp_path / "ae")
    assert loaded.config == model.config
    x = torch.randn(1, 3, 16, 16)
    assert torch.equal(loaded.tokenize(x), model.tokenize(x))


def test_loading_refuses_bad_folders(model, tmp_path):
    folder = tmp_path / "ae"
    with pytest.raises(CheckpointError, match=r"config\.json: file not found"):
        load_autoencoder(folder)
    export_autoencoder(model, folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: is not a readable safetensors file"):
        load_autoencoder(folder)
    export_autoencoder(model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["autoencoder"]["embed_dim"] = 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"model.safetensors: tensor 'autoencoder\..*' has shape"):
        load_autoencoder(folder)
    config["autoencoder"]["embed_dims"] = 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"field 'autoencoder.embed_dims' \(.*config.json\)"):
        load_autoencoder(folder)
    (folder / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match=r"config\.json: is not valid JSON"):
        load_autoencoder(folder)


def test_rgb_fusion_copies_the_warped_context_where_the_mask_says_so(model):
    """With fuse_rgb, where F's mask says "copy" the output pixels are the context's own pixels, warped."""
    context = torch.rand(1, 3, 16, 16) * 2 - 1
    z = model.quantize(model.encode(torch.zeros(1, 3, 16, 16)).z).z_st
    out = model.decode(z, [model.encode(context)])
    keep = torch.sigmoid(out.fused_masks[-1])  # [1, 1, 16, 16]
    from ccvs_core.models.warp import warp

    warped = warp(context, out.flows[-1][:, 0])
    without = FlowAutoencoder(model.config.replace(fuse_rgb=False)).eval()
    without.load_state_dict(model.state_dict())
    decoded = without.decode(z, [without.encode(context)]).image
    assert torch.allclose(out.image, keep * decoded + (1 - keep) * warped, atol=1e-5)
