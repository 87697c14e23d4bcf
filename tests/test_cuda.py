"""What only a GPU can check: both stages train on CUDA in bfloat16, attention's kernels and the cached
sampling step agree with their references there, and `ccvs generate` runs the shipped model on it.
Skipped without CUDA; benchmarks/gpu_check.sh runs them on a GPU machine."""

import json

import pytest
import torch

from ccvs_core.cli import main
from tests.helpers import stage2_argv

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_the_autoencoder_trains_on_cuda_in_bfloat16(stage1, tmp_path):
    data, _ = stage1
    argv = ["train", "autoencoder", "--data", str(data), "--out", str(tmp_path / "ae"), "--preset", "tiny"]
    assert (
        main(
            [*argv, "--steps", "3", "--adversarial-start", "0", "--precision", "bfloat16", "--device", "cuda"]
        )
        == 0
    )
    logged = json.loads((tmp_path / "ae" / "log.jsonl").read_text().splitlines()[-1])
    assert (
        logged["step"] == 3 and torch.isfinite(torch.tensor([logged["total"], logged["discriminator"]])).all()
    )


def test_the_transformer_trains_on_cuda_in_bfloat16(stage1, tmp_path):
    argv = [*stage2_argv(stage1), "--out", str(tmp_path / "t"), "--steps", "3", "--device", "cuda"]
    assert main([*argv, "--precision", "bfloat16", "--cond", "class"]) == 0
    logged = json.loads((tmp_path / "t" / "log.jsonl").read_text().splitlines()[-1])
    assert logged["step"] == 3 and torch.isfinite(torch.tensor(logged["loss"]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_attention_backends_agree_on_cuda(dtype):
    from ccvs_core.models.attention import attention, xformers_available

    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 300, 32, device="cuda", dtype=dtype) for _ in range(3))
    reference = attention(q.float(), k.float(), v.float(), "naive")
    tolerance = 2e-2 if dtype == torch.bfloat16 else 1e-4
    for backend in ["sdpa"] + (["xformers"] if xformers_available() else []):
        assert torch.allclose(attention(q, k, v, backend).float(), reference, atol=tolerance), backend


def test_the_cached_step_gives_the_logits_of_the_whole_prefix_on_cuda():
    from ccvs_core.config import TransformerConfig, preset
    from ccvs_core.models.transformer import VideoTransformer
    from ccvs_core.sequence import SequenceLayout

    torch.manual_seed(0)
    config = preset(TransformerConfig, "tiny")
    model = VideoTransformer(config, SequenceLayout((4, 4), config.window), frame_vocab=32).cuda().eval()
    frames = torch.randint(0, 32, (2, config.window, 4, 4))
    tokens = model.layout.join(frames, {}).cuda()
    with torch.no_grad():
        whole = model(tokens)
        cache = model.new_cache(2)
        stepped = torch.cat([model(tokens[:, i : i + 1], i, cache) for i in range(tokens.shape[1])], dim=1)
    assert torch.allclose(whole, stepped, atol=1e-4)


def test_generate_runs_the_shipped_model_on_cuda(tmp_path):
    from ccvs_core.media import read_frames

    out = tmp_path / "video.gif"
    assert main(["generate", "--frames", "6", "--samples", "2", "--device", "cuda", "--out", str(out)]) == 0
    assert len(read_frames(out)) == 6
