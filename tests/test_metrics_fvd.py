"""I3D (random weights; the weights-file checks) and FVD."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ccvs_core.errors import CheckpointError, InputError
from ccvs_core.metrics.fvd import fvd, fvd_protocol
from ccvs_core.metrics.i3d import I3D, load_i3d, random_i3d, video_tensor


@pytest.fixture(scope="module")
def model():
    return random_i3d(0)


def videos(seed, n=2):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 255, (n, 10, 24, 32, 3), dtype=np.uint8))


def test_input_follows_the_protocol():
    x = video_tensor(videos(0, 1))
    assert x.shape == (1, 3, 10, 224, 224) and x.min() >= -1 and x.max() <= 1
    with pytest.raises(InputError, match="at least 9 frames"):
        video_tensor(videos(0)[:, :4])
    with pytest.raises(InputError, match="must be uint8"):
        video_tensor(videos(0).float())


def test_fvd_is_zero_for_the_same_videos_and_positive_otherwise(model):
    a = videos(1, 3)
    assert fvd(a, a, model) == pytest.approx(0.0, abs=1e-9)
    assert fvd(a, videos(2, 3), model) > 0


def test_the_weights_file_is_checked(tmp_path, model):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "rgb_imagenet.pt")
    loaded = load_i3d(tmp_path / "rgb_imagenet.pt")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    save_file(state, tmp_path / "i3d.safetensors")
    assert torch.equal(
        load_i3d(tmp_path / "i3d.safetensors").logits.conv3d.weight, state["logits.conv3d.weight"]
    )
    del state["Mixed_5c.b0.conv3d.weight"]
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other\.pt.*missing \['Mixed_5c\.b0\.conv3d\.weight'\]"):
        load_i3d(tmp_path / "other.pt")
    torch.save({"model": I3D}, tmp_path / "code.pt")  # a pickle with more than tensors
    with pytest.raises(CheckpointError, match="not a PyTorch state dict of tensors"):
        load_i3d(tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="file not found"):
        load_i3d(tmp_path / "none.pt")
    protocol = fvd_protocol(tmp_path / "rgb_imagenet.pt", 10, 20, 16)
    assert len(protocol["weights_sha256"]) == 64 and protocol["colour_order"] == "RGB"
    assert "random" in fvd_protocol(None, 10, 20, 16)["weights"]
