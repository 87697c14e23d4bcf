"""What ships inside ccvs-core: the default pipeline (used when --model is not given), its 16-bit
weights, and the sample inputs of ``ccvs examples``."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ccvs_core import CCVSPipeline
from ccvs_core.data.audio import write_wav
from ccvs_core.data.toyworld_audio import drum_track, num_samples, onset_sample
from ccvs_core.data.toyworld_render import STRIKER_COLOUR
from ccvs_core.data.toyworld_scene import Geometry
from ccvs_core.errors import CheckpointError
from ccvs_core.generation import SamplingConfig
from ccvs_core.shipped import DEFAULT_MODEL, SAMPLES, default_model
from ccvs_core.testing import run_cli
from tests.helpers import train_with_conditions_cli


@pytest.fixture(scope="module")
def shipped() -> CCVSPipeline:
    return CCVSPipeline.from_pretrained(default_model())


def test_the_default_model_is_small_and_says_how_it_was_made(shipped):
    size = sum(p.stat().st_size for p in DEFAULT_MODEL.iterdir())
    assert size < 20 * 2**20
    about = shipped.about
    assert about["recipe"].startswith("python benchmarks/default_model.py")
    assert about["toyworld"]["size"] == shipped.frame_size[0] and about["total_minutes"] <= 120
    assert set(shipped.conditions) == {"audio", "state", "layout", "endframe", "class"}


def test_the_default_model_generates_without_model(tmp_path):
    out = tmp_path / "none.gif"
    assert run_cli(["generate", "--frames", "4", "--out", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".png").is_file()


def striker_heights(video: np.ndarray, pad_top: int) -> np.ndarray:
    """Per frame, the lowest row of striker-yellow pixels above the pad (-1: none)."""
    distance = np.abs(video.astype(np.int64) - np.array(STRIKER_COLOUR)).sum(-1)
    yellow = distance < 160  # [T, H, W]
    rows = np.arange(video.shape[1])[None, :, None]
    lowest = np.where(yellow[:, :pad_top], rows[:, :pad_top], -1).max(axis=(1, 2))
    return lowest.astype(np.float64)


def test_loading_the_default_model_does_not_import_the_compiler():
    # checking the weights builds the model on the meta device; torch's meta kernels for initial
    # values import torch._dynamo and sympy, over a second of every command that loads a model
    code = (
        "import sys; from ccvs_core import CCVSPipeline, default_model; "
        "CCVSPipeline.from_pretrained(default_model()); "
        "print(*(name in sys.modules for name in ('torch._dynamo', 'torch.fx.experimental.symbolic_shapes')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-2:] == ["False", "False"]


def test_two_onset_patterns_move_the_striker_at_their_onsets(shipped, tmp_path):
    """Greedy decoding, so the test holds on any CPU: the striker is lower at a pattern's own onsets
    than the other pattern's video is at those frames."""
    fps, rate, frames = shipped.fps, 16000, 12
    patterns = {"a": [2, 8], "b": [5, 11]}
    videos = {}
    for name, onsets in patterns.items():
        track = drum_track(np.random.default_rng(0), [onset_sample(t, fps, rate) for t in onsets],
                           num_samples(frames, fps, rate), rate)  # fmt: skip
        path = tmp_path / f"{name}.wav"
        write_wav(path, track, rate)
        raw = shipped.read_condition("audio", str(path))
        videos[name] = shipped.generate(None, {"audio": raw}, frames, 1, 0, SamplingConfig(greedy=True))[0]
    pad_top = Geometry.for_size(shipped.frame_size[0]).pad[1]
    low = {name: striker_heights(v, pad_top) for name, v in videos.items()}
    margin = 0.5
    for own, other in (("a", "b"), ("b", "a")):
        onsets = patterns[own]
        assert low[own][onsets].mean() > low[other][onsets].mean() + margin, (own, low)


def test_examples_writes_the_sample_inputs(tmp_path):
    out = tmp_path / "inputs"
    assert run_cli(["examples", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"drums.wav", "trajectory.json", "context.png", "last.png", "layout.json"} <= names
    assert sum(p.stat().st_size for p in out.iterdir()) < 1_000_000
    assert run_cli(["examples", "--out", str(out)]) == 0  # the same files again: nothing to refuse
    (out / "drums.wav").write_bytes(b"mine")
    assert run_cli(["examples", "--out", str(out)]) == 2
    assert (out / "drums.wav").read_bytes() == b"mine"
    assert run_cli(["examples", "--out", str(out), "--overwrite"]) == 0
    assert (out / "drums.wav").read_bytes() == (SAMPLES / "drums.wav").read_bytes()


def test_the_sample_inputs_generate_on_the_default_model(tmp_path):
    inputs = tmp_path / "inputs"
    assert run_cli(["examples", "--out", str(inputs)]) == 0
    conds = [f"audio:{inputs}/drums.wav", f"state:{inputs}/trajectory.json", f"endframe:{inputs}/last.png",
             "class:circle", f"layout:{inputs}/layout.json"]  # fmt: skip
    argv = [
        "generate",
        "--frames",
        "3",
        "--context",
        str(inputs / "context.png"),
        "--out",
        str(tmp_path / "all.gif"),
    ]
    for cond in conds:
        argv += ["--cond", cond]
    assert run_cli(argv) == 0


def test_half_weights_load_into_float32_and_keep_about(stage1, tmp_path):
    folder = train_with_conditions_cli(stage1, tmp_path / "run", ["class"], steps=1)
    pipeline = CCVSPipeline.from_pretrained(folder)
    pipeline.about = {"recipe": "test"}
    pipeline.save_pretrained(tmp_path / "half", half=True)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "half" / "model.safetensors"), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    assert torch.float16 in dtypes and torch.float32 not in dtypes
    half = CCVSPipeline.from_pretrained(tmp_path / "half")
    assert half.about == {"recipe": "test"}
    assert all(p.dtype == torch.float32 for p in half.parameters())
    for a, b in zip(pipeline.state_dict().values(), half.state_dict().values(), strict=True):
        if a.is_floating_point():
            assert torch.allclose(a, b, rtol=1e-3, atol=1e-4)


def test_a_malformed_about_is_refused(stage1, tmp_path):
    folder = train_with_conditions_cli(stage1, tmp_path / "run", [], steps=1)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "about": [1]}))
    with pytest.raises(CheckpointError, match="about"):
        CCVSPipeline.from_pretrained(folder)
