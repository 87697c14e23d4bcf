"""``ccvs data import``: a folder of the user's video files becomes a dataset in the ccvs format."""

from __future__ import annotations

import argparse
import json
import os
import wave
from fractions import Fraction
from pathlib import Path, PurePosixPath

import av
import numpy as np
import pytest

from ccvs_core.cli import main
from ccvs_core.commands import data_import
from ccvs_core.data.check import check_dataset
from ccvs_core.data.importer import (
    assign_splits,
    find_videos,
    import_videos,
    make_video_ids,
    resample_frames,
    resized_shape,
)
from ccvs_core.errors import InputError
from ccvs_core.media import read_frames, video_info
from tests.helpers import moving_gradient

# relative path -> (frames, fps, height, width, class, sound: (channels, rate) or None)
SOURCES = {
    "with_sound.mp4": (12, 12, 24, 32, None, (2, 22050)),
    "silent.mp4": (10, 10, 20, 36, None, None),
    "walk/day 1/clip.webm": (15, 15, 24, 32, "walk", None),
    "run/a.MOV": (20, 20, 24, 32, "run", (1, 16000)),
}
IDS = {
    "with_sound.mp4": "with_sound",
    "silent.mp4": "silent",
    "walk/day 1/clip.webm": "walk__day_1__clip",
    "run/a.MOV": "run__a",
}
CODECS = {
    ".mp4": ("libx264", "aac"),
    ".webm": ("libvpx-vp9", None),
    ".MOV": ("mpeg4", "pcm_s16le"),
    ".mkv": ("libx264", "pcm_s16le"),
}


def make_user_video(path: Path, num_frames, fps, height, width, sound, sound_start_s=0.0) -> None:
    """A video as a user's camera or download would give it, written with PyAV directly.

    sound: (channels, rate) of a 440 Hz tone as long as the video, starting at ``sound_start_s``.
    """
    video_codec, audio_codec = CODECS[path.suffix]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream(video_codec, rate=fps)
        video.height, video.width, video.pix_fmt = height, width, "yuv420p"
        audio = None
        if sound is not None:  # every stream is added before the first packet is written
            channels, rate = sound
            audio = container.add_stream(audio_codec, rate=rate)
            audio.layout = "mono" if channels == 1 else "stereo"
        for t, frame in enumerate(moving_gradient(num_frames, height, width)):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = t
            container.mux(video.encode(video_frame))
        container.mux(video.encode())
        if audio is not None:
            tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate * num_frames // fps) / rate)
            samples = np.repeat(tone[None], channels, axis=0).astype(np.float32)  # [C, S]
            audio_frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=audio.layout.name)
            audio_frame.sample_rate, audio_frame.pts = rate, round(sound_start_s * rate)
            container.mux(audio.encode(audio_frame))
            container.mux(audio.encode())


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """Four good videos (two with sound, two classes), a corrupt one, a hidden one and a text file."""
    root = tmp_path_factory.mktemp("videos")
    for rel, (num_frames, fps, height, width, _, sound) in SOURCES.items():
        make_user_video(root / rel, num_frames, fps, height, width, sound)
    (root / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    (root / "._with_sound.mp4").write_bytes(b"macOS resource fork")
    (root / "notes.txt").write_text("not a video")
    return root


def read_meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text())


def wav_shape(path: Path) -> tuple[int, int, int]:
    """(channels, sample rate, samples per channel)."""
    with wave.open(str(path)) as wav:
        return wav.getnchannels(), wav.getframerate(), wav.getnframes()


# ---------------------------------------------------------------------------------- the import


def test_import_writes_one_folder_per_video(src, tmp_path, capsys):
    out = tmp_path / "dataset"
    report = import_videos(src, out, progress=False)

    assert sorted(p.name for p in out.iterdir()) == sorted(IDS.values())
    assert [s.source for s in report.skipped] == ["broken.mp4"]
    assert "broken.mp4" in capsys.readouterr().err  # the warning names the file
    for rel, (num_frames, fps, height, width, class_name, sound) in SOURCES.items():
        folder = out / IDS[rel]
        expected = {"meta.json", "video.mp4"} | ({"audio.wav"} if sound else set())
        assert {p.name for p in folder.iterdir()} == expected, rel
        meta = read_meta(folder)
        assert meta == {
            "fps": fps,
            "split": "train",
            "class": class_name,
            "num_frames": num_frames,
            "source": rel,
        }
        info = video_info(folder / "video.mp4")
        assert (info.num_frames, info.fps, info.height, info.width) == (num_frames, fps, height, width)
        if sound:
            channels, rate = sound
            assert wav_shape(folder / "audio.wav") == (channels, rate, rate * num_frames // fps)
    assert report.total_frames == sum(v[0] for v in SOURCES.values())
    assert report.classes == {None: 2, "run": 1, "walk": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_imported_frames_and_sound_match_the_source(src, tmp_path):
    out = tmp_path / "dataset"
    import_videos(src, out, frame_format="png", progress=False)
    frames = read_frames(out / "with_sound" / "frames")
    np.testing.assert_array_equal(frames, read_frames(src / "with_sound.mp4"))  # PNG: no second loss
    with wave.open(str(out / "with_sound" / "audio.wav")) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    middle = pcm[5000:15000] / 32767.0
    assert 0.3 < np.sqrt((middle**2).mean()) < 0.4  # the 0.5-amplitude tone (RMS 0.354) is there


def test_sound_starting_late_is_aligned_to_frame_0(tmp_path):
    make_user_video(tmp_path / "src" / "late.mkv", 10, 10, 16, 16, (1, 8000), sound_start_s=0.25)
    import_videos(tmp_path / "src", tmp_path / "d", progress=False)
    with wave.open(str(tmp_path / "d" / "late" / "audio.wav")) as wav:
        pcm = np.abs(np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")) / 32767.0
    assert len(pcm) == 8000  # 1 s: the video's duration, the late tone's tail cut
    assert pcm[:1900].max() < 0.01 and pcm[2100:4000].max() > 0.4  # silence for 0.25 s, then the tone


def test_size_and_fps_resample_as_documented(src, tmp_path):
    out = tmp_path / "small"
    report = import_videos(src, out, size=16, fps=5, progress=False)
    for rel, (num_frames, fps, height, width, _, sound) in SOURCES.items():
        folder = out / IDS[rel]
        info = video_info(folder / "video.mp4")
        expected_frames = -(-num_frames * 5 // fps)  # ceil(n * new / old)
        assert (info.num_frames, info.fps) == (expected_frames, 5.0), rel
        assert min(info.height, info.width) == 16 and info.height % 2 == 0 and info.width % 2 == 0
        assert (info.height, info.width) == resized_shape(height, width, 16)
        assert read_meta(folder)["num_frames"] == expected_frames
        if sound:
            assert wav_shape(folder / "audio.wav")[2] == sound[1] * expected_frames // 5
    assert {(v.height, v.width) for v in report.imported} == {(16, 22), (16, 28)}


def test_fps_picks_the_source_frame_shown_at_each_new_time(src, tmp_path):
    import_videos(src, tmp_path / "d", fps=4, frame_format="png", progress=False)
    source = read_frames(src / "with_sound.mp4")  # 12 frames at 12 fps
    np.testing.assert_array_equal(read_frames(tmp_path / "d" / "with_sound" / "frames"), source[[0, 3, 6, 9]])


def test_splits_are_deterministic(src, tmp_path):
    def splits(out, seed):
        import_videos(src, out, val_fraction=0.25, test_fraction=0.25, seed=seed, progress=False)
        return {folder.name: read_meta(folder)["split"] for folder in out.iterdir()}

    first = splits(tmp_path / "a", seed=3)
    assert sorted(first.values()) == ["test", "train", "train", "val"]
    assert splits(tmp_path / "b", seed=3) == first
    ids = [f"v{i}" for i in range(20)]
    assert assign_splits(ids, 0.1, 0.2, 7) == assign_splits(ids[::-1], 0.1, 0.2, 7)  # order-free


def test_existing_output_is_refused_unless_overwrite(src, tmp_path):
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="exists and is not empty") as err:
        import_videos(src, out, progress=False)
    assert str(out) in str(err.value)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    import_videos(src, out, overwrite=True, progress=False)
    assert not (out / "keep.txt").exists() and (out / "silent" / "meta.json").is_file()


def test_output_inside_the_source_is_not_imported_again(src, tmp_path):
    root = tmp_path / "videos"
    make_user_video(root / "walk" / "a.webm", 4, 4, 16, 16, None)
    import_videos(root, root / "dataset", progress=False)
    report = import_videos(root, root / "dataset", overwrite=True, progress=False)
    assert [v.video_id for v in report.imported] == ["walk__a"]
    with pytest.raises(InputError, match="holds the source folder"):
        import_videos(root, tmp_path, overwrite=True, progress=False)


def test_a_fifo_among_the_videos_is_skipped(tmp_path):  # av.open on it blocked the import for ever
    root = tmp_path / "videos"
    make_user_video(root / "a.webm", 4, 4, 16, 16, None)
    os.mkfifo(root / "b.mp4")
    assert find_videos(root) == [PurePosixPath("a.webm")]
    assert [v.video_id for v in import_videos(root, tmp_path / "out", progress=False).imported] == ["a"]


def test_nothing_to_import_names_the_source(src, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no videos here")
    with pytest.raises(InputError, match="holds no video files") as err:
        import_videos(empty, tmp_path / "out", progress=False)
    assert str(empty) in str(err.value)
    (empty / "bad.mkv").write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="none of its 1 video files could be imported"):
        import_videos(empty, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="not found"):
        import_videos(tmp_path / "missing", tmp_path / "out", progress=False)


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        ({"size": 15}, "--size"),
        ({"fps": 0}, "--fps"),
        ({"frame_format": "avi"}, "--format"),
        ({"val_fraction": 1.5}, "--val-fraction"),
        ({"val_fraction": 0.6, "test_fraction": 0.6}, "--val-fraction"),
    ],
)
def test_bad_options_name_the_flag(src, tmp_path, options, flag):
    with pytest.raises(InputError) as err:
        import_videos(src, tmp_path / "out", progress=False, **options)
    assert err.value.subject == flag


# ------------------------------------------------------------------------------------- helpers


def test_video_ids_are_sanitised_and_unique():
    paths = ["walk/clip 01.mp4", "walk__clip_01.webm", "Walk__Clip_01.mkv", "ünï.mp4", "a/.b.mov"]
    ids = make_video_ids([PurePosixPath(p) for p in paths])
    assert ids == ["walk__clip_01", "walk__clip_01_2", "Walk__Clip_01_3", "_n_", "a__.b"]
    assert make_video_ids([PurePosixPath(".x.mp4")]) == ["_x"]


def test_resample_frames_picks_the_frame_on_screen():
    assert list(resample_frames(range(31), Fraction(30), Fraction(10))) == list(range(0, 31, 3))
    assert list(resample_frames(range(3), Fraction(10), Fraction(30))) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert list(resample_frames(range(4), Fraction(10), Fraction(25))) == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]


# ----------------------------------------------------------------------------------------- CLI


def test_command_line(src, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    data_import.add_parser(parser.add_subparsers())
    args = parser.parse_args(["import", "--videos", str(src), "--out", str(tmp_path / "d"), "--size", "16"])
    assert args.func(args) == 0
    assert read_meta(tmp_path / "d" / "run__a")["class"] == "run"
    captured = capsys.readouterr()
    assert "broken.mp4" in captured.err  # the warning, on stderr
    assert "frames" in captured.out  # the summary table, on stdout


def test_ccvs_main(src, tmp_path):
    argv = ["data", "import", "--videos", str(src), "--out", str(tmp_path / "d"), "--fps", "5", "--quiet"]
    assert main(argv) == 0
    assert main([*argv[:-1]]) == 2  # the existing output is refused with an error, no traceback


def test_imported_dataset_passes_data_check(src, tmp_path):
    out = tmp_path / "d"
    import_videos(src, out, val_fraction=0.25, progress=False)
    assert check_dataset(out).problems == []
    import_videos(src, tmp_path / "png", size=16, fps=5, frame_format="png", progress=False)
    assert check_dataset(tmp_path / "png").problems == []
