"""ccvs_core.media and ccvs_core.visualize: frame I/O round trips, grids, flow/mask pictures, errors."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from ccvs_core.errors import InputError
from ccvs_core.media import (
    VideoInfo,
    read_frames,
    read_image,
    read_video_frames,
    video_info,
    video_writer,
    write_frames_dir,
    write_image,
    write_video,
)
from ccvs_core.visualize import flow_to_rgb, make_grid, make_video_grid, mask_to_rgb
from tests.helpers import moving_gradient


def encode(path: Path, frames: np.ndarray, fps: int, codec: str, rotation: int | None = None) -> None:
    """A video written directly with PyAV (not through ccvs), as a user's file would be."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for t, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = t
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())


def no_leftovers(folder: Path) -> bool:
    """No temporary of an atomic write is left in ``folder``."""
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(("height", "width"), [(24, 32), (25, 33)])
def test_mp4_round_trip_keeps_count_size_and_values(tmp_path, height, width):
    frames = moving_gradient(9, height, width)
    path = tmp_path / "clip.mp4"
    write_video(frames, path, fps=12)
    back = read_frames(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < 3  # lossy, but close
    assert video_info(path) == VideoInfo(9, 12.0, height, width, False)
    assert no_leftovers(tmp_path)


@pytest.mark.parametrize(("height", "width"), [(24, 32), (25, 33)])
def test_gif_round_trip_keeps_count_size_and_values(tmp_path, height, width):
    frames = moving_gradient(6, height, width)
    frames[3] = frames[2]  # identical frames must stay two frames
    path = tmp_path / "clip.gif"
    write_video(frames, path, fps=10)
    back = read_frames(path)
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).mean() < 3  # 256 colours per frame
    info = video_info(path)
    assert (info.num_frames, info.height, info.width) == (6, height, width)
    assert info.fps == pytest.approx(10.0)
    with Image.open(path) as image:
        assert image.info["loop"] == 0 and image.info["duration"] == 100


def test_gif_keeps_fractional_frame_rates_on_average(tmp_path):
    write_video(moving_gradient(12, 8, 8), tmp_path / "a.gif", fps=30)
    assert video_info(tmp_path / "a.gif").fps == pytest.approx(30, rel=0.01)


def test_frame_folder_round_trip_is_exact(tmp_path):
    frames = moving_gradient(11, 7, 9)
    write_frames_dir(frames, tmp_path / "frames")
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"{t:06d}.png" for t in range(11)]
    np.testing.assert_array_equal(read_frames(tmp_path / "frames"), frames)
    assert video_info(tmp_path / "frames") == VideoInfo(11, None, 7, 9, False)
    assert no_leftovers(tmp_path)


def test_image_folder_in_natural_order_and_single_images(tmp_path):
    frames = moving_gradient(3, 5, 6)
    for t, name in enumerate(["f2.png", "f10.jpg", "f1.png"]):
        Image.fromarray(frames[t]).save(tmp_path / name, quality=100)
    (tmp_path / "notes.txt").write_text("not a frame")
    back = read_frames(tmp_path)
    np.testing.assert_array_equal(back[0], frames[2])  # f1, f2, f10
    np.testing.assert_array_equal(back[1], frames[0])
    assert read_frames(tmp_path / "f1.png").shape == (1, 5, 6, 3)
    for name in ("².png", "①.png"):  # digits to str.isdigit(), not to int(): sorted as text
        Image.fromarray(frames[0]).save(tmp_path / name)
    assert len(read_frames(tmp_path)) == 5


def test_write_image_round_trip_and_greyscale(tmp_path):
    image = moving_gradient(1, 6, 7)[0]
    write_image(tmp_path / "a.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), image)
    write_image(tmp_path / "grey.png", image[..., 0])
    assert read_image(tmp_path / "grey.png").shape == (6, 7, 3)


def test_torch_tensors_are_accepted(tmp_path):
    frames = torch.from_numpy(moving_gradient(3, 8, 8))
    write_frames_dir(frames, tmp_path / "frames")
    assert read_frames(tmp_path / "frames").shape == (3, 8, 8, 3)
    assert make_grid(frames[None]).shape == (12, 32, 3)


def test_streaming_writer_counts_frames(tmp_path):
    with video_writer(tmp_path / "s.mp4", fps=8) as writer:
        for frame in moving_gradient(5, 8, 8):
            writer.write(frame)
    assert writer.num_frames == 5 == video_info(tmp_path / "s.mp4").num_frames


# ------------------------------------------------------------------------ info and random access


@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif", "frames"])
def test_read_video_frames_agrees_with_read_frames(tmp_path, name):
    frames = moving_gradient(8, 16, 16)
    path = tmp_path / name
    write_frames_dir(frames, path) if name == "frames" else write_video(frames, path, fps=8)
    everything = read_frames(path)
    np.testing.assert_array_equal(read_video_frames(path, [5, 0, 5, 7]), everything[[5, 0, 5, 7]])
    with pytest.raises(InputError, match=r"frame index 8 is past the end \(it has 8 frames\)") as err:
        read_video_frames(path, [2, 8])
    assert name in str(err.value)


@pytest.mark.parametrize(("name", "codec"), [("clip.webm", "libvpx-vp9"), ("clip.mkv", "libx264")])
def test_video_info_counts_frames_of_containers_without_a_count(tmp_path, name, codec):
    frames = moving_gradient(7, 16, 24)
    encode(tmp_path / name, frames, fps=14, codec=codec)
    info = video_info(tmp_path / name)
    assert (info.num_frames, info.fps, info.height, info.width) == (7, 14.0, 16, 24)
    assert len(read_frames(tmp_path / name)) == 7


def test_rotated_videos_are_turned_upright(tmp_path):
    frames = np.zeros((2, 16, 24, 3), dtype=np.uint8)
    frames[:, :4] = (255, 0, 0)  # a red band at the top of the stored picture
    encode(tmp_path / "phone.mp4", frames, fps=5, codec="libx264", rotation=90)
    back = read_frames(tmp_path / "phone.mp4")
    assert back.shape == (2, 24, 16, 3)  # shown turned a quarter counter-clockwise
    assert back[0, :, :3, 0].mean() > 200 and back[0, :, -3:, 0].mean() < 60  # the band is on the left
    info = video_info(tmp_path / "phone.mp4")
    assert (info.height, info.width) == (24, 16)


# -------------------------------------------------------------------------- grids and pictures


def test_make_grid_shape_and_padding():
    videos = np.zeros((2, 3, 4, 5, 3), dtype=np.uint8)
    grid = make_grid(videos, pad=2, pad_value=255)
    assert grid.shape == (2 * (4 + 2) + 2, 3 * (5 + 2) + 2, 3)
    assert (grid[:2] == 255).all() and (grid[:, :2] == 255).all() and (grid[-2:] == 255).all()
    assert (grid[2:6, 2:7] == 0).all()  # sample 0, time 0
    assert (grid[6:8, 2:7] == 255).all()  # the padding between rows
    videos[1, 2] = 7
    assert (make_grid(videos, pad=0)[4:8, 10:15] == 7).all()  # sample 1 is row 1, time 2 column 2
    coloured = make_grid(videos, pad=1, pad_value=(255, 0, 0))
    assert tuple(coloured[0, 0]) == (255, 0, 0)


def test_make_video_grid_tiles_samples_per_frame():
    videos = np.zeros((5, 4, 6, 8, 3), dtype=np.uint8)
    grid = make_video_grid(videos, pad=1)
    assert grid.shape == (4, 2 * (6 + 1) + 1, 3 * (8 + 1) + 1, 3)  # 5 samples: 3 columns, 2 rows


def test_flow_to_rgb_colour_coding():
    zero = flow_to_rgb(np.zeros((2, 4, 5)))
    assert zero.shape == (4, 5, 3) and (zero == 255).all()  # no motion is white
    right, left = np.zeros((2, 1, 1)), np.zeros((2, 1, 1))
    right[0], left[0] = 1.0, -1.0
    flow = np.concatenate([right, left, right / 2], axis=2)  # [2, 1, 3]: right, left, half right
    rgb = flow_to_rgb(flow).astype(int)
    assert np.abs(rgb[0, 0] - rgb[0, 1]).sum() > 200  # opposite directions, different hues
    assert rgb[0, 2].min() > rgb[0, 0].min()  # half the motion, half the saturation (paler)
    np.testing.assert_array_equal(flow_to_rgb(np.moveaxis(flow, 0, -1)), flow_to_rgb(flow))  # [H, W, 2]
    np.testing.assert_array_equal(flow_to_rgb(torch.from_numpy(flow)), flow_to_rgb(flow))
    pale = flow_to_rgb(flow, max_magnitude=10.0)
    assert pale[0, 0].min() > rgb[0, 0].min()  # a larger normalising magnitude: less saturated
    with pytest.raises(InputError, match="flow"):
        flow_to_rgb(np.zeros((3, 4, 5)))


def test_mask_to_rgb_is_grey():
    mask = np.array([[0.0, 0.5, 1.0, 2.0]])
    rgb = mask_to_rgb(mask[None])
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255] and (rgb[..., 0] == rgb[..., 2]).all()


# -------------------------------------------------------------------------------------- errors


def test_missing_empty_and_undecodable_inputs_name_the_file(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    (tmp_path / "junk.png").write_bytes(b"not a png")
    (tmp_path / "clip.xyz").write_bytes(b"?")
    cases = {
        "missing.mp4": "not found",
        "empty": "no PNG or JPEG images",
        "junk.mp4": "cannot be",
        "junk.png": "cannot be read as an image",
        "clip.xyz": "unknown file type",
    }
    for name, problem in cases.items():
        with pytest.raises(InputError, match=problem) as err:
            read_frames(tmp_path / name)
        assert name in str(err.value)
    with pytest.raises(InputError, match=r"junk\.mp4"):
        video_info(tmp_path / "junk.mp4")


def test_mixed_frame_sizes_are_refused(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "0.png")
    Image.new("RGB", (5, 4)).save(tmp_path / "1.png")
    with pytest.raises(InputError, match=r"frame 1 is 5x4, frame 0 is 4x4"):
        read_frames(tmp_path)
    with (
        pytest.raises(InputError, match=r"out.mp4: frame 1 is 5x4, the first was 4x4"),
        video_writer(tmp_path / "out.mp4", fps=5) as writer,
    ):
        writer.write(np.zeros((4, 4, 3), np.uint8))
        writer.write(np.zeros((4, 5, 3), np.uint8))
    assert not (tmp_path / "out.mp4").exists() and no_leftovers(tmp_path)


def test_bad_writes_name_the_file_and_leave_nothing(tmp_path):
    frames = moving_gradient(2, 4, 4)
    with pytest.raises(InputError, match=r"clip.avi: unknown video extension"):
        write_video(frames, tmp_path / "clip.avi", fps=5)
    with pytest.raises(InputError, match=r"clip.mp4: frames must be uint8"):
        write_video(frames.astype(np.float32), tmp_path / "clip.mp4", fps=5)
    with pytest.raises(InputError, match=r"clip.mp4: fps must be a number > 0"):
        write_video(frames, tmp_path / "clip.mp4", fps=0)
    with pytest.raises(InputError, match=r"clip.gif: no frames to write"):
        write_video(frames[:0], tmp_path / "clip.gif", fps=5)
    with pytest.raises(InputError, match=r"a.bmp: unknown image extension"):
        write_image(tmp_path / "a.bmp", frames[0])
    assert list(tmp_path.iterdir()) == []


def test_a_png_chunk_claiming_more_than_the_file_is_refused_before_pil_reads_it(tmp_path, monkeypatch):
    path = tmp_path / "damaged.png"
    write_image(path, np.zeros((4, 4, 3), dtype=np.uint8))
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT") - 4
    data[idat : idat + 4] = (2**31 - 1).to_bytes(4, "big")  # PIL read 2 GiB for it (fuzz.py, frames)
    path.write_bytes(bytes(data))
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("PIL was given the file"))
    for read in (read_image, read_frames):
        with pytest.raises(InputError, match="is a damaged PNG: chunk 'IDAT' claims 2147483647 bytes"):
            read(path)
