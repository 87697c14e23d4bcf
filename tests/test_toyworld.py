"""Toyworld: determinism, and every modality checked against the pixels, the samples and the truth.

The checks read the written files back with plain tools (Pillow, wave, json) and compare them with
truth.json, so they test what a user gets, not the generator's internals.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ccvs_core.cli import main
from ccvs_core.data import coco_rle
from ccvs_core.data.check import check_dataset
from ccvs_core.data.toyworld import (
    ToyworldConfig,
    camera_flow,
    generate_toyworld,
    motion_flow,
    render_video,
    split_of,
)
from ccvs_core.errors import ConfigError, InputError

CONFIG = ToyworldConfig(videos=10, frames=16, size=32, seed=0)
TEXTURE_LOW, TEXTURE_HIGH = 32, 224


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toyworld") / "data"
    generate_toyworld(CONFIG, root, workers=1, progress=False)
    return root


def videos(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def load_frames(folder: Path) -> np.ndarray:
    files = sorted((folder / "frames").glob("*.png"))
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])  # [T, S, S, 3]


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def load_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        return samples.astype(np.float64) / 32767, reader.getframerate()


def is_shape(frames: np.ndarray) -> np.ndarray:
    """Pixels of a shape: some channel outside the texture's range. ``[..., S, S]`` bool."""
    return ((frames < TEXTURE_LOW) | (frames > TEXTURE_HIGH)).any(axis=-1)


def colour_mask(frames: np.ndarray, colour) -> np.ndarray:
    return (frames == np.asarray(colour, dtype=np.uint8)).all(axis=-1)


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_same_bytes_whatever_the_workers(dataset, tmp_path):
    generate_toyworld(CONFIG, tmp_path / "again", workers=2, progress=False)
    first, second = all_files(dataset), all_files(tmp_path / "again")
    assert len(first) == CONFIG.videos * (CONFIG.frames + 5) + 1  # frames, 5 files, toyworld.json
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_another_seed_different_data(dataset, tmp_path):
    other = CONFIG.replace(seed=1, videos=3)
    generate_toyworld(other, tmp_path / "other", workers=1, progress=False)
    for name in ("v00000", "v00001", "v00002"):
        for file in ("frames/000000.png", "audio.wav", "state.json", "layout.json", "truth.json"):
            assert (dataset / name / file).read_bytes() != (tmp_path / "other" / name / file).read_bytes()


def test_a_video_does_not_depend_on_the_number_of_videos():
    small, large = render_video(CONFIG.replace(videos=4), 3), render_video(CONFIG.replace(videos=500), 3)
    np.testing.assert_array_equal(small.frames, large.frames)
    np.testing.assert_array_equal(small.audio, large.audio)
    assert small.truth == large.truth and small.layout == large.layout


# --- the files --------------------------------------------------------------------------------------


def test_dataset_layout_and_splits(dataset):
    assert ToyworldConfig.from_json(dataset / "toyworld.json") == CONFIG
    folders = videos(dataset)
    assert [f.name for f in folders] == [f"v{i:05d}" for i in range(CONFIG.videos)]
    for index, folder in enumerate(folders):
        meta, truth, state = (load_json(folder / n) for n in ("meta.json", "truth.json", "state.json"))
        assert meta == {
            "fps": 10.0,
            "split": split_of(index),
            "class": truth["class"],
            "num_frames": CONFIG.frames,
            "source": f"toyworld seed 0 video {index}",
        }
        assert state == {"fps": 10.0, "positions": truth["gripper"]["positions"]}
        assert truth["end_frame"] == CONFIG.frames - 1 and truth["texture_period"] == 4 * CONFIG.size
        assert load_frames(folder).shape == (CONFIG.frames, CONFIG.size, CONFIG.size, 3)
    assert [split_of(i) for i in range(10)] == ["train"] * 8 + ["val", "test"]


def test_passes_data_check(dataset):
    assert check_dataset(dataset, progress=False).problems == []
    assert main(["data", "check", str(dataset)]) == 0


def test_render_video_arrays():
    video = render_video(CONFIG, 0)
    t, s = CONFIG.frames, CONFIG.size
    assert video.frames.shape == (t, s, s, 3) and video.frames.dtype == np.uint8
    assert video.labels.shape == (t, s, s) and video.labels.dtype == np.uint8
    assert video.audio.shape == (1, t * CONFIG.sample_rate // 10) and video.audio.dtype == np.float32
    # the label map is the layout's categories, pixel for pixel
    names = {c["id"]: c["name"] for c in video.layout["categories"]}
    assert names == {1: "gripper", 2: "object", 3: "striker", 4: "pad"}
    for annotation in video.layout["annotations"]:
        frame = annotation["image_id"] - 1
        mask = coco_rle.decode(annotation["segmentation"])
        assert (video.labels[frame][mask] == annotation["category_id"]).all()
    assert set(np.unique(video.labels).tolist()) <= {0, 1, 2, 3, 4}


# --- modalities against the truth -------------------------------------------------------------------


def test_striker_hits_are_the_audio_onsets(dataset):
    checked = 0
    for folder in videos(dataset):
        truth, frames = load_json(folder / "truth.json"), load_frames(folder)
        samples, rate = load_wav(folder / "audio.wav")
        hits = truth["striker"]["hit_frames"]
        assert rate == truth["audio"]["sample_rate"] and len(samples) == truth["audio"]["num_samples"]
        # onsets from the sound alone: a frame window much louder than the one before
        window = len(samples) // CONFIG.frames
        energy = (samples[: window * CONFIG.frames].reshape(CONFIG.frames, window) ** 2).mean(axis=1)
        before = np.concatenate([[0.0], energy[:-1]])
        onsets = np.flatnonzero((energy > 1e-5) & (energy > 10 * before)).tolist()
        # contact from the pixels alone: striker colour in the row just above the pad
        x0, y0, x1, _ = truth["pad"]["box"]
        assert colour_mask(frames[:, y0, x0:x1], truth["pad"]["colour"]).all()
        touching = colour_mask(frames[:, y0 - 1, x0:x1], truth["striker"]["colour"]).any(axis=1)
        contact = np.flatnonzero(touching).tolist()
        assert contact == hits and onsets == hits
        # each hit's sound starts at exactly round(t * rate / fps), after silence
        for t, onset in zip(hits, truth["audio"]["onset_samples"], strict=True):
            assert onset == round(t * rate / CONFIG.fps)
            assert not samples[onset - 100 : onset].any() and abs(samples[onset]) > 0.01
        checked += len(hits)
    assert checked >= CONFIG.videos  # at least one hit per video on average


def test_layouts_are_the_drawn_shapes(dataset):
    for folder in videos(dataset):
        truth, layout, frames = (
            load_json(folder / "truth.json"),
            load_json(folder / "layout.json"),
            load_frames(folder),
        )
        colours = {"gripper": [truth["gripper"]["colour"]], "striker": [truth["striker"]["colour"]]}
        colours["pad"] = [truth["pad"]["colour"]]
        colours["object"] = [o["colour"] for o in truth["objects"]]
        names = {c["id"]: c["name"] for c in layout["categories"]}
        frame_of = {image["id"]: image["frame_index"] for image in layout["images"]}
        assert sorted(frame_of.values()) == list(range(CONFIG.frames))
        covered = np.zeros(frames.shape[:3], dtype=bool)
        for annotation in layout["annotations"]:
            t, name = frame_of[annotation["image_id"]], names[annotation["category_id"]]
            mask = coco_rle.decode(annotation["segmentation"])
            drawn = [colour_mask(frames[t], c) for c in colours[name]]
            assert any((mask == d).all() for d in drawn), f"{folder.name} frame {t}: {name} mask is not drawn"
            assert annotation["area"] == mask.sum() and annotation["bbox"] == coco_rle.bbox(
                annotation["segmentation"]
            )
            assert not covered[t][mask].any()  # visible masks do not overlap
            covered[t] |= mask
        np.testing.assert_array_equal(covered, is_shape(frames))  # everything else is background


def test_background_moves_by_the_camera_flow(dataset):
    moved = 0
    for folder in videos(dataset):
        truth, frames = load_json(folder / "truth.json"), load_frames(folder)
        shapes = is_shape(frames)
        size = CONFIG.size
        for t in range(CONFIG.frames - 1):
            dx, dy = camera_flow(truth, t, t + 1)
            assert dx == int(dx) and dy == int(dy)
            dx, dy = int(dx), int(dy)
            moved += (dx, dy) != (0, 0)
            # frame[t + 1][y, x] == frame[t][y - dy, x - dx] where both show background
            ys, xs = np.mgrid[max(0, dy) : size + min(0, dy), max(0, dx) : size + min(0, dx)]
            background = ~shapes[t + 1][ys, xs] & ~shapes[t][ys - dy, xs - dx]
            assert background.sum() > size * size / 3
            np.testing.assert_array_equal(
                frames[t + 1][ys, xs][background], frames[t][ys - dy, xs - dx][background]
            )
    assert moved > CONFIG.videos  # the camera does pan


def _gap(gripper: np.ndarray, radius: float, obj: dict, centre: np.ndarray) -> float:
    """Distance between the gripper disk's edge and the object (negative: they overlap)."""
    if obj["shape"] == "disk":
        return float(np.hypot(*(centre - gripper))) - obj["radius"] - radius
    outside = np.maximum(np.abs(gripper - centre) - obj["radius"], 0)  # square of half side r
    return float(np.hypot(*outside)) - radius


def test_gripper_pushes_objects_and_never_overlaps_them(dataset):
    pushes = 0
    for folder in videos(dataset):
        truth = load_json(folder / "truth.json")
        camera = np.asarray(truth["camera"])
        gripper = np.asarray(truth["gripper"]["positions"]) + camera  # [T, 2] world
        radius = truth["gripper"]["radius"]
        for obj in truth["objects"]:
            world = np.asarray(obj["world"])
            np.testing.assert_allclose(np.asarray(obj["screen"]), world - camera)
            moved = [t for t in range(1, len(world)) if (world[t] != world[t - 1]).any()]
            assert set(moved) == set(obj["pushed_frames"]) - {0}  # objects move when, and only when, pushed
            for t in range(len(world)):
                gap = _gap(gripper[t], radius, obj, world[t])
                assert gap > 0, f"{folder.name}: object overlaps the gripper at frame {t}"
                if t in obj["pushed_frames"]:
                    assert gap < 0.1  # pushed until they just touch
            pushes += len(moved)
    assert pushes > 0


def test_each_class_moves_as_its_kind():
    config = CONFIG.replace(videos=40)
    seen = set()
    for index in range(config.videos):
        truth = render_video(config, index).truth
        kind, motion = truth["class"], truth["gripper"]["motion"]
        path = np.asarray(truth["gripper"]["positions"])  # [T, 2]
        steps = np.hypot(*np.diff(path, axis=0).T)  # [T - 1]
        centred = path - path.mean(axis=0)
        off_line = np.linalg.svd(centred, compute_uv=False)[-1] / np.sqrt(len(path))  # rms off best line
        if kind == "still":
            assert (path == path[0]).all()
        else:
            assert np.hypot(*(path.max(axis=0) - path.min(axis=0))) > 1
        if kind == "line":
            assert off_line < 0.02 and steps.max() - steps.min() < 0.05
        if kind == "circle":
            distance = np.hypot(*(path - np.asarray(motion["centre"])).T)
            np.testing.assert_allclose(distance, motion["radius"], atol=0.02)
        if kind == "zigzag":
            assert off_line > 0.3
        seen.add(kind)
    assert seen == {"circle", "zigzag", "line", "still"}


def test_motion_flow_moves_every_shape_with_its_truth(dataset):
    for folder in videos(dataset):
        truth, frames = load_json(folder / "truth.json"), load_frames(folder)
        shapes = is_shape(frames)
        gripper = np.asarray(truth["gripper"]["positions"])
        for t in range(CONFIG.frames - 1):
            flow = motion_flow(truth, t, t + 1)
            # the background moves with the camera; only pixels that show a shape move otherwise
            moved_otherwise = (flow != camera_flow(truth, t, t + 1)[:, None, None]).any(0)
            assert not (moved_otherwise & ~shapes[t + 1]).any()
            # the gripper's pixels (white, drawn on top) carry its own motion
            white = (frames[t + 1] == 255).all(-1)
            np.testing.assert_array_equal(
                flow[:, white].T, np.broadcast_to(gripper[t + 1] - gripper[t], (white.sum(), 2))
            )
            # the pad (black) never moves, whatever the camera does
            assert (flow[:, (frames[t + 1] == 0).all(-1)] == 0).all()
    # a flow over more than one frame is the displacement between its two frames
    flow = motion_flow(truth, 0, 3)
    white = (frames[3] == 255).all(-1)
    assert np.allclose(flow[:, white].T, gripper[3] - gripper[0])


def test_camera_flow_refuses_bad_frames():
    truth = render_video(CONFIG, 0).truth
    assert camera_flow(truth, 2, 2).tolist() == [0.0, 0.0]
    with pytest.raises(InputError, match="t1"):
        camera_flow(truth, 0, CONFIG.frames)


# --- configuration and CLI ------------------------------------------------------------------------


def test_config_is_validated():
    with pytest.raises(ConfigError, match="max_objects"):
        ToyworldConfig(min_objects=3, max_objects=2)
    with pytest.raises(ConfigError, match="frames"):
        ToyworldConfig.from_dict({"frames": 1})
    assert ToyworldConfig.from_dict(CONFIG.to_dict()) == CONFIG


def test_cli_writes_a_dataset(tmp_path, capsys):
    out = tmp_path / "toy"
    argv = ["data", "toyworld", "--out", str(out), "--videos", "3", "--frames", "4", "--size", "32"]
    assert main([*argv, "--seed", "5", "--workers", "1"]) == 0
    assert ToyworldConfig.from_json(out / "toyworld.json") == ToyworldConfig(
        videos=3, frames=4, size=32, seed=5
    )
    assert "wrote 3 videos" in capsys.readouterr().err
    assert main([*argv, "--seed", "6", "--workers", "1"]) == 2  # not empty: refused
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv[:5], "2", *argv[6:], "--workers", "1", "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["toyworld.json", "v00000", "v00001"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--videos", "0"], "--videos: must be >= 1, got 0"),
        (["--size", "16"], "--size: must be >= 32, got 16"),
        (["--fps", "0"], "--fps: must be > 0"),
        (["--seed", "-1"], "--seed: must be >= 0"),
        (["--workers", "0"], "--workers: must be >= 1"),
    ],
)
def test_cli_bad_values_write_nothing(tmp_path, capsys, flags, message):
    out = tmp_path / "toy"
    assert main(["data", "toyworld", "--out", str(out), "--frames", "4", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_overwrite_never_deletes_foreign_files(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    argv = ["data", "toyworld", "--out", str(out), "--videos", "2", "--frames", "4", "--size", "32"]
    assert main(argv) == 2
    assert main([*argv, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "notes.txt" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    with pytest.raises(InputError, match="not a folder"):
        generate_toyworld(CONFIG, out / "notes.txt", progress=False)
