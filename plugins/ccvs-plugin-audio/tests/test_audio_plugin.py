"""ccvs-plugin-audio: reading sound files (good and bad), frame alignment, spectrograms, the sound
tokenizer's training command, and the condition end to end through the CLI."""

import json

import numpy as np
import pytest
import torch
from ccvs_plugin_audio import AudioCondition, AudioConfig
from ccvs_plugin_audio.sound import (
    Sound,
    frame_windows,
    log_spectrogram,
    onset_strength,
    onset_tokens,
    read_sound,
)
from ccvs_plugin_audio.tokenizer import PRESETS, SoundTokenizerConfig

from ccvs_core import (
    CCVSPipeline,
    ConfigError,
    InputError,
    Timeline,
    get_condition,
    list_conditions,
    read_frames,
    write_wav,
)
from ccvs_core.testing import ConditionConformance, generate_cli, run_cli, tiny_world, train_pipeline


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


def test_discovered_through_its_entry_point_with_the_paper_sizes():
    entry = next(e for e in list_conditions() if e.name == "audio")
    assert entry.ok, entry.error
    assert entry.package == "ccvs-plugin-audio" and get_condition("audio") is AudioCondition
    # additive: each frame's sound is also added to that frame's tokens; then one onset token a frame
    assert [(s.name, s.level, s.length, s.vocab_size, s.additive) for s in entry.slots] == [
        ("tokens", "frame", 16, 1024, True),
        ("onset", "frame", 1, 8, True),
    ]
    assert [s.name for s in AudioCondition(AudioConfig(onset_bins=0)).slots()] == ["tokens"]  # the paper's
    with pytest.raises(ConfigError, match="onset_bins"):
        AudioConfig(onset_bins=1)


def test_any_rate_and_channel_count_is_read_and_resampled(tmp_path):
    t = np.arange(8000) / 8000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)]).astype(np.float32) * 0.5
    write_wav(tmp_path / "a.wav", stereo, 8000)
    sound = read_sound(tmp_path / "a.wav")
    assert sound.rate == 8000 and sound.samples.shape == (8000,)  # mono: the channels' mean
    assert sound.samples.abs().max() == pytest.approx(0.25, abs=1e-3)
    assert sound.resampled(16000).samples.shape == (16000,)


def test_a_long_track_is_read_up_to_the_limit_and_says_so(tmp_path, monkeypatch):
    from ccvs_plugin_audio import sound as sound_module

    write_wav(tmp_path / "long.wav", np.zeros((1, 8000 * 5), np.float32), 8000)
    monkeypatch.setattr(sound_module, "MAX_SECONDS", 2.0)  # 600 s in use: a test keeps it small
    sound = read_sound(tmp_path / "long.wav")
    assert sound.samples.shape == (16000,) and sound.source.endswith("long.wav (its first 2 s)")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"RIFF not really a wave file", "cannot be decoded as audio"), (None, "audio file not found")],
)
def test_bad_sound_files_name_the_file(tmp_path, content, problem):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=problem) as err:
        read_sound(path)
    assert "bad.wav" in str(err.value)


def test_one_window_per_frame_aligned_to_the_frame_times():
    rate, fps = 1000, 10.0
    samples = torch.arange(1000, dtype=torch.float32)  # sample i holds i: windows show their start
    windows = frame_windows(Sound(samples, rate), Timeline(4, fps, start_frame=3))
    assert windows.shape == (4, 100)
    assert windows[:, 0].tolist() == [300, 400, 500, 600] and windows[0, -1] == 399
    with pytest.raises(InputError, match=r"lasts 1\.00 s, the video needs 1\.20 s"):
        frame_windows(Sound(samples, rate, "drums.wav"), Timeline(12, fps))
    padded = frame_windows(Sound(samples, rate, pad=True), Timeline(12, fps))
    assert padded.shape == (12, 100) and padded[10:].abs().sum() == 0  # silence after the track


def test_a_hit_shows_in_its_own_frame_spectrogram():
    rate, fps = 16000, 10.0
    samples = torch.zeros(rate)
    samples[3 * 1600 : 3 * 1600 + 400] = torch.randn(400, generator=torch.Generator().manual_seed(0))
    spec = log_spectrogram(frame_windows(Sound(samples, rate), Timeline(10, fps)), bins=64, steps=16)
    assert spec.shape == (10, 1, 64, 16)
    energy = spec.sum(dim=(1, 2, 3))
    assert int(energy.argmax()) == 3 and energy[5:].max() == 0


def test_onsets_mark_the_frames_where_a_sound_starts():
    rate, fps = 16000, 10.0
    samples = torch.zeros(rate)
    for frame, gain in ((2, 0.5), (6, 0.02)):  # a loud hit, then a soft one, each decaying over 1.5 frames
        start = frame * 1600
        decay = torch.exp(-torch.arange(2400) / 400.0)
        samples[start : start + 2400] = (
            gain * decay * torch.randn(2400, generator=torch.Generator().manual_seed(frame))
        )
    windows = frame_windows(Sound(samples, rate), Timeline(10, fps))
    rise = onset_strength(windows)
    assert rise.shape == (10,) and (rise >= 0).all()
    assert set(torch.nonzero(rise).flatten().tolist()) == {2, 6}  # louder than the frame before: only there
    assert rise[2] > rise[6] > 12  # dB over silence (floored at -60 dB): the loud hit rises more
    tokens = onset_tokens(windows, bins=8, step_db=6.0)
    assert tokens.tolist() == [0, 0, 7, 0, 0, 0, int(rise[6] // 6), 0, 0, 0]
    assert onset_tokens(torch.zeros(3, 1600), bins=8, step_db=6.0).tolist() == [0, 0, 0]  # silence
    faint = torch.full((2, 1600), 1e-4)  # a hiss at -80 dB after silence is below the -60 dB floor
    assert onset_strength(faint).tolist() == [0.0, 0.0]


def test_tokenizer_sizes_are_checked():
    assert SoundTokenizerConfig().tokens_per_frame == 16  # paper: 64 x 16 spectrogram -> 8 x 2
    assert SoundTokenizerConfig(**PRESETS["tiny"]).tokens_per_frame == 8
    with pytest.raises(ConfigError, match="divisible by 8"):
        SoundTokenizerConfig(bins=20)


class TestAudioConformance(ConditionConformance):
    condition = "audio"
    bad_values = ["no/such/drums.wav", "x.wav,pad=maybe"]  # noqa: RUF012

    def prepare_config(self, world, folder):
        """A sound tokenizer trained 4 steps on the tiny world."""
        out = folder / "sound"
        assert (
            run_cli(["train", "audio-tokenizer", "--data", world.data, "--out", out, "--preset", "tiny"]) == 0
        )
        return {"tokenizer": str(out / "tokenizer")}

    def cli_value(self, world, folder):
        return f"{world.first_frame().parent.parent / 'audio.wav'},pad=true"


@pytest.fixture(scope="module")
def tokenizer_dir(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("sound") / "run"
    assert (
        run_cli(
            ["train", "audio-tokenizer", "--data", str(world.data), "--out", str(out), "--preset", "tiny"]
        )
        == 0
    )
    return out


def test_the_tokenizer_trains_reports_its_error_and_resumes(tokenizer_dir, world, capsys):
    scores = json.loads((tokenizer_dir / "eval.json").read_text())
    assert scores["step"] == 4 and scores["l1"] > 0 and scores["relative_l1"] > 0
    assert (tokenizer_dir / "tokenizer" / "model.safetensors").is_file()
    assert (tokenizer_dir / "spectrograms.png").is_file()
    argv = [
        "train",
        "audio-tokenizer",
        "--data",
        str(world.data),
        "--out",
        str(tokenizer_dir),
        "--steps",
        "6",
    ]
    assert run_cli(argv) == 0
    assert "resuming from" in capsys.readouterr().err
    assert json.loads((tokenizer_dir / "eval.json").read_text())["step"] == 6


def test_training_without_a_tokenizer_says_how_to_make_one(world, tmp_path, capsys):
    assert run_cli([*world.stage2_argv(), "--out", str(tmp_path / "t"), "--cond", "audio"]) == 2
    assert "ccvs train audio-tokenizer" in capsys.readouterr().err


def test_ccvs_trains_and_generates_with_a_sound_track(tokenizer_dir, world, tmp_path, capsys):
    pipeline_dir = train_pipeline(world, tmp_path / "run", [f"audio:tokenizer={tokenizer_dir / 'tokenizer'}"])
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    condition = pipeline.conditions["audio"]
    assert condition.config.sound.tokens_per_frame == 8
    video = sorted(p for p in world.data.iterdir() if p.is_dir())[0]
    # the pipeline holds the tokenizer's weights: same tokens as the tokenizer folder gives
    reference = AudioCondition(AudioConfig(tokenizer=str(tokenizer_dir / "tokenizer")))
    reference.prepare([], None)
    sound = read_sound(video / "audio.wav")
    tokens = condition.tokenize(sound, Timeline(6, 10.0))
    assert torch.equal(tokens["tokens"], reference.tokenize(sound, Timeline(6, 10.0))["tokens"])
    # the onset token is set exactly at the toyworld video's striker hits (its audio onsets)
    hits = json.loads((video / "truth.json").read_text())["striker"]["hit_frames"]
    assert tokens["onset"].shape == (1, 6, 1)
    assert [t for t in range(6) if tokens["onset"][0, t, 0] > 0] == [t for t in hits if t < 6]
    # a timeline starting later (a sliding window) gets the same onsets as the whole video, its first
    # frame compared with the frame before it, not with silence
    for start in range(1, 6):  # some windows start just after a hit
        later = condition.tokenize(sound, Timeline(6 - start, 10.0, start_frame=start))
        assert torch.equal(later["onset"], tokens["onset"][:, start:])
        assert torch.equal(later["tokens"], tokens["tokens"][:, start:])
    context = world.first_frame()
    assert (
        generate_cli(
            pipeline_dir, tmp_path / "a.gif", [f"audio:{video / 'audio.wav'}"], context=context, frames=6
        )
        == 0
    )
    assert read_frames(tmp_path / "a.gif").shape[0] == 6
    capsys.readouterr()
    long = ["--context", str(context), "--frames", "9", "--out", str(tmp_path / "b.gif")]
    base = ["generate", "--model", str(pipeline_dir), "--cond", f"audio:{video / 'audio.wav'}", *long]
    assert run_cli(base) == 2
    assert "pad it with silence: --cond audio:FILE,pad=true" in capsys.readouterr().err
    assert not (tmp_path / "b.gif").exists()
    base[4] += ",pad=true"
    assert run_cli(base) == 0
    assert read_frames(tmp_path / "b.gif").shape[0] == 9


def test_a_tokenizer_folder_is_checked_before_it_is_built(tokenizer_dir, tmp_path):
    import shutil

    from ccvs_core import CheckpointError

    folder = tmp_path / "tokenizer"
    shutil.copytree(tokenizer_dir / "tokenizer", folder)
    config = json.loads((folder / "config.json").read_text())
    config["sound_tokenizer"]["codebook_size"] = 10**9  # would allocate tens of GB if built first
    (folder / "config.json").write_text(json.dumps(config))
    condition = AudioCondition(AudioConfig(tokenizer=str(folder)))
    with pytest.raises(CheckpointError, match=r"codebook_size"):
        condition.prepare([], None)
